"""`monitor sites`: the configured sites and zones as text, JSON and RFC 7946 GeoJSON, and the --map picture."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from tests.conftest import ROOT

PYONGYANG = ROOT / "configs" / "pyongyang.toml"


def _config(tmp_path: Path) -> Path:
    (tmp_path / "imagery").mkdir(exist_ok=True)
    (tmp_path / "zone.geojson").write_text(
        json.dumps(
            {
                "type": "Feature",
                "properties": {},
                # clockwise on purpose: RFC 7946 output must be counter-clockwise
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [125.844, 39.011],
                            [125.844, 39.0135],
                            [125.8465, 39.0135],
                            [125.8465, 39.011],
                            [125.844, 39.011],
                        ]
                    ],
                },
            }
        )
    )
    path = tmp_path / "monitor.toml"
    path.write_text(
        '[monitor]\ndata_dir = "data"\n[[sources]]\nkind = "local"\npath = "imagery"\n'
        '[[sites]]\nid = "a"\nname = "Site A"\nbbox = [125.840, 39.010, 125.847, 39.0155]\n'
        '  [[sites.zones]]\n  id = "square"\n  kind = "crowd"\n  bbox = [125.8410, 39.0110, 125.8435, 39.0135]\n'
        '  [[sites.zones]]\n  id = "park"\n  kind = "vehicle"\n  geometry = "zone.geojson"\n'
        '[[sites]]\nid = "b"\nbbox = [125.740, 39.010, 125.745, 39.014]\n'
    )
    return path


def test_text_lists_kind_area_and_grid(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["sites", "--config", str(_config(tmp_path))])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "a  Site A" and "grid 64 x 64 px at 10 m in EPSG:32651" in lines[1]
    square = next(x for x in lines if x.strip().startswith("square"))
    # 0.0025 deg lon x 0.0025 deg lat at 39 N: 216 m x 278 m = about 60,000 m2, on about 600 pixels of 100 m2
    assert "crowd" in square and "60,0" in square.replace("59,9", "60,0")
    assert "no zones: the whole site is scored as one zone, 'site'" in result.output
    only_b = CliRunner().invoke(cli, ["sites", "--config", str(_config(tmp_path)), "--site", "b"])
    assert only_b.output.startswith("b\n")
    bad = CliRunner().invoke(cli, ["sites", "--config", str(_config(tmp_path)), "--site", "c"])
    assert bad.exit_code == 2 and "no site 'c' (known: a, b)" in bad.output


def test_json_and_geojson_agree(tmp_path: Path) -> None:
    config = _config(tmp_path)
    doc = json.loads(CliRunner().invoke(cli, ["sites", "--config", str(config), "--format", "json"]).output)
    (square,) = [z for z in doc[0]["zones"] if z["id"] == "square"]
    assert 59_000 < square["area_m2"] < 61_000 and 560 < square["pixels"] < 640
    assert doc[0]["grid"]["crs"] == "EPSG:32651" and doc[0]["grid"]["resolution_m"] == 10.0
    geo = json.loads(CliRunner().invoke(cli, ["sites", "--config", str(config), "--format", "geojson"]).output)
    assert geo["type"] == "FeatureCollection"
    by_id = {f["id"]: f for f in geo["features"]}
    assert set(by_id) == {"a", "a/square", "a/park", "b"}
    assert by_id["a/park"]["properties"] == {
        "role": "zone",
        "site": "a",
        "zone": "park",
        "kind": "vehicle",
        "name": None,
        "area_m2": doc[0]["zones"][1]["area_m2"],
    }
    for feature in geo["features"]:
        ring = feature["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1]
        # RFC 7946: exterior rings counter-clockwise (positive shoelace area in lon/lat)
        area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))
        assert area > 0, feature["id"]
        assert all(125 < x < 126 and 39 < y < 40 for x, y in ring)


def test_the_pyongyang_zones_export_for_qgis() -> None:
    result = CliRunner().invoke(cli, ["sites", "--config", str(PYONGYANG), "--format", "geojson"])
    assert result.exit_code == 0, result.output
    zones = [f for f in json.loads(result.output)["features"] if f["properties"]["role"] == "zone"]
    assert {f["properties"]["site"] for f in zones} == {"kim-il-sung-square", "mirim", "sunan"}
    assert all(f["properties"]["kind"] in {"crowd", "vehicle", "any"} for f in zones)


def test_map_without_an_archive_draws_the_zones_on_an_empty_grid(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from PIL import Image

    out = tmp_path / "mirim.png"
    result = CliRunner().invoke(cli, ["sites", "--config", str(PYONGYANG), "--site", "mirim", "--map", str(out)])
    assert result.exit_code == 0, result.output
    assert "on an empty grid (no scene in the archive)" in result.stderr
    with Image.open(out) as image:
        assert image.width > 600 and image.height > 500
    missing = CliRunner().invoke(cli, ["sites", "--config", str(PYONGYANG), "--map", str(tmp_path / "no" / "x.png")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
