"""Evidence files of a real run (PNG, GIF, COG, GeoJSON), analyst feedback and the report, via the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import rasterio
from PIL import Image
from shapely.geometry import shape

from monitor.config import load_config
from monitor.pipeline import run
from tests.conftest import SITE_BBOX, invoke, run_cli


@pytest.fixture
def archive(synthetic_site: Any) -> Path:
    config_path = synthetic_site()
    assert run(load_config(config_path, env={})).errors == []
    return config_path


def _alerts(config_path: Path) -> list[dict[str, Any]]:
    result = invoke("alerts", "--config", str(config_path), "--format", "json")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def test_every_alert_has_png_gif_cog_and_geojson(archive: Path) -> None:
    alerts = _alerts(archive)
    assert alerts
    for alert in alerts:
        kinds = {Path(p).name.split(".", 1)[-1] if "-change" not in p else "cog" for p in alert["evidence"]}
        assert kinds == {"png", "phone.png", "gif", "cog", "geojson"}, alert["evidence"]
        png, phone, gif, cog, geojson = (Path(p) for p in alert["evidence"][:5])
        with Image.open(png) as im:
            assert im.format == "PNG" and im.width > 1200 and im.width > im.height
        with Image.open(phone) as im:
            assert im.height > im.width  # stacked panels for a phone screen
        with Image.open(gif) as im:
            assert im.format == "GIF" and im.n_frames == 8 and im.info["loop"] == 0  # 7 earlier + the alert
        with rasterio.open(cog) as src:
            assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and src.dtypes == ("float32",)
            assert src.tags()["SCENE_ID"] == alert["scene_ids"][0] and src.crs.is_projected
        doc = json.loads(geojson.read_text())
        assert doc["type"] == "FeatureCollection" and "crs" not in doc and doc["features"]
        lon0, lat0, lon1, lat1 = SITE_BBOX
        for feature in doc["features"]:
            ring = feature["geometry"]["coordinates"][0]
            assert ring[0] == ring[-1] and all(lon0 <= x <= lon1 and lat0 <= y <= lat1 for x, y in ring)
            assert shape(feature["geometry"]).exterior.is_ccw  # RFC 7946 right-hand rule
            props = feature["properties"]
            assert props["scene_id"] == alert["scene_ids"][0] and props["zone"] == alert["zone"]
            assert props["class"] in {"crowd-block", "vehicle-row", "vehicle-park", "vegetation", "other"}
        classes = {f["properties"]["class"] for f in doc["features"]}
        assert ("crowd-block" in classes) == (alert["kind"] == "crowd")


def test_dismiss_then_report(archive: Path, tmp_path: Path) -> None:
    alerts = _alerts(archive)
    crowd = next(a for a in alerts if a["kind"] == "crowd")
    vehicle = next(a for a in alerts if a["kind"] == "vehicle")
    reason = '<script>x</script> a market & "stalls"'
    assert invoke("alerts", "ack", vehicle["id"], "--config", str(archive)).returncode == 0
    result = invoke("alerts", "dismiss", crowd["id"], "--reason", reason, "--config", str(archive))
    assert result.returncode == 0, result.stderr
    missing = invoke("alerts", "--config", str(archive), "dismiss", "no/such/alert", "--reason", "x")
    assert missing.returncode == 2 and "no alert 'no/such/alert'" in missing.stderr
    empty = invoke("alerts", "dismiss", crowd["id"], "--reason", " ", "--config", str(archive))
    assert empty.returncode == 2 and "--reason" in empty.stderr
    after = {a["id"]: a for a in _alerts(archive)}
    assert after[crowd["id"]]["status"] == "resolved" and after[crowd["id"]]["dismiss_reason"] == reason
    assert after[crowd["id"]]["scene_ids"] == crowd["scene_ids"]  # kept: those scenes stay out of baselines
    assert after[vehicle["id"]]["acked_at"] and after[vehicle["id"]]["status"] == vehicle["status"]
    second = run(load_config(archive, env={}))
    assert second.messages_queued == 0  # a dismissal sends nothing

    out = tmp_path / "report"
    result = invoke("report", "--config", str(archive), "--out", str(out), "--since", "2025-05-01")
    assert result.returncode == 0, result.stderr
    page = (out / "index.html").read_text()
    assert "&lt;script&gt;x&lt;/script&gt; a market &amp; &#34;stalls&#34;" in page and "<script>" not in page
    assert crowd["id"] in page and vehicle["id"] in page and "acknowledged" in page
    links = re.findall(r'(?:src|href)="([^"#]+)"', page)
    assert links and not [u for u in links if re.match(r"^[a-z]+:", u)]  # no external or absolute assets
    assert all((out / u).is_file() for u in links)
    assert any(u.endswith(".gif") for u in links) and any("timeline" in u for u in links)
    assert "S2_20250501T021530" in page  # the scenes used are listed
    summary = (out / "summary.txt").read_text()
    assert crowd["id"] in summary and reason in summary

    early = tmp_path / "early"
    assert invoke("report", "--config", str(archive), "--out", str(early), "--until", "2025-05-10").returncode == 0
    assert "No alert in this period" in (early / "index.html").read_text()
    bad = invoke(
        "report", "--config", str(archive), "--out", str(early), "--since", "2025-06-01", "--until", "2025-05-01"
    )
    assert bad.returncode == 2 and "--until" in bad.stderr


def test_a_dismissed_pattern_does_not_realert_at_once(synthetic_site: Any, tmp_path: Path) -> None:
    from monitor.pipeline.feedback import dismiss_alert

    config_path = synthetic_site(formations=("crowd", "none", "crowd"))
    imagery = config_path.parent / "imagery"
    later = sorted(imagery.glob("S2_*.tif"))[-2:]
    held = tmp_path / "held"
    held.mkdir()
    for path in later:
        path.rename(held / path.name)
    config = load_config(config_path, env={})
    run(config)
    (crowd,) = [a for a in _alerts(config_path) if a["kind"] == "crowd"]
    dismiss_alert(config, crowd["id"], "parking lot painting")
    for path in later:
        (held / path.name).rename(path)
    second = run(config)  # the same pattern ten days later: recorded on the dismissed alert, no new alert
    assert second.scored_scenes == 2 and second.messages_queued == 0
    (after,) = [a for a in _alerts(config_path) if a["kind"] == "crowd"]
    assert after["id"] == crowd["id"] and after["status"] == "resolved"
    assert after["scene_ids"] == [*crowd["scene_ids"], later[-1].stem]


def test_read_only_commands_on_an_archive_a_run_has_not_migrated_yet(tmp_path: Path) -> None:
    import sqlite3

    from monitor.archive.catalogue import MIGRATIONS

    (tmp_path / "imagery").mkdir()
    config = tmp_path / "monitor.toml"
    config.write_text(
        '[monitor]\ndata_dir = "data"\n[[sources]]\nkind = "local"\npath = "imagery"\n'
        '[[sites]]\nid = "a"\nbbox = [125.84, 39.01, 125.847, 39.0155]\n'
    )
    (tmp_path / "data").mkdir()
    db = sqlite3.connect(tmp_path / "data" / "catalogue.sqlite")
    for version, script in enumerate(MIGRATIONS[:3], start=1):
        db.executescript(script)
        db.execute(f"PRAGMA user_version = {version}")
    db.execute(
        "INSERT INTO alerts (id, site, zone, kind, level, status, first_seen, last_seen, scene_ids, score) "
        "VALUES ('a/site/crowd/x', 'a', 'site', 'crowd', 'low', 'firing', '2025-01-01T00:00:00+00:00', "
        "'2025-01-01T00:00:00+00:00', '[]', 0.6)"
    )
    db.commit()
    db.close()
    listed = invoke("alerts", "--config", str(config), "--format", "json")
    assert listed.returncode == 0, listed.stderr
    (alert,) = json.loads(listed.stdout)
    assert alert["id"] == "a/site/crowd/x" and alert["acked_at"] is None
    report = invoke("report", "--config", str(config), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    assert "a/site/crowd/x" in (tmp_path / "report" / "index.html").read_text()


def test_report_after_runs_that_saw_nothing_says_so(tmp_path: Path) -> None:
    """Every search failed (the STAC catalog is unreadable): no 1970 timeline, no data credit, each source's
    last successful search and each site's last usable scene, and one plain sentence."""
    config = tmp_path / "monitor.toml"
    (tmp_path / "catalog.json").write_text("{ half a catalog")
    config.write_text(
        '[monitor]\ndata_dir = "data"\n[[sources]]\nkind = "local"\npath = "catalog.json"\n'
        '[[sites]]\nid = "a"\nbbox = [125.84, 39.01, 125.847, 39.0155]\n'
    )
    for _ in range(2):
        failed = run_cli("run", "--config", str(config))
        assert failed.returncode == 1 and "cannot read STAC catalog" in failed.stderr
    report = run_cli("report", "--config", str(config), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "report" / "summary.txt").read_text()
    assert "THE MONITOR SAW NOTHING in this period" in text
    assert f"local:{tmp_path / 'catalog.json'}: last successful search none recorded" in text
    assert "last usable scene: none ever" in text and "nothing seen of this site in this period" in text
    assert "Copernicus" not in text
    html = (tmp_path / "report" / "index.html").read_text()
    assert "The monitor saw nothing in this period" in html and "Copernicus" not in html
    assert "<td>not recorded</td>" in html  # failures the archive cannot know are not shown as 0
    assert "timeline" not in html.lower().replace("no timeline", "")
    assert not (tmp_path / "report" / "img").exists()
