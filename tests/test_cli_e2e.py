"""End-to-end: the real CLI as a subprocess on a synthetic scenario, as cron would run it."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
import rasterio

from tests.conftest import invoke, run_cli, write_s2

CONTRACT_SCORE_COLUMNS = [
    "site",
    "zone",
    "scene_id",
    "acquired",
    "sensor",
    "usable_fraction",
    "change_fraction",
    "crowd_score",
    "vehicle_score",
]
CONTRACT_ALERT_FIELDS = {
    "id",
    "site",
    "zone",
    "kind",
    "level",
    "status",
    "first_seen",
    "last_seen",
    "scene_ids",
    "score",
    "evidence",
}


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def scenario(synthetic_site) -> Path:  # type: ignore[no-untyped-def]
    return synthetic_site()


def test_run_scores_and_alerts(scenario: Path) -> None:
    result = run_cli("run", "--config", str(scenario))
    assert result.returncode == 0, result.stderr
    scores = run_cli("scores", "--config", str(scenario))
    assert scores.returncode == 0, scores.stderr
    header = scores.stdout.splitlines()[0].split(",")
    assert header[: len(CONTRACT_SCORE_COLUMNS)] == CONTRACT_SCORE_COLUMNS
    rows = _csv(scores.stdout)
    assert len(rows) == 12 * 2  # every scene appears once per zone
    by_scene = {(r["scene_id"], r["zone"]): r for r in rows}
    crowd_day = sorted({r["scene_id"] for r in rows})[8]
    vehicle_day = sorted({r["scene_id"] for r in rows})[9]
    cloud_day = sorted({r["scene_id"] for r in rows})[11]
    assert float(by_scene[(crowd_day, "square")]["crowd_score"]) > 0.8
    assert float(by_scene[(vehicle_day, "parking")]["vehicle_score"]) > 0.5
    quiet = [r for r in rows if r["scene_id"] < crowd_day]
    assert all(float(r["crowd_score"]) < 0.5 and float(r["vehicle_score"]) < 0.5 for r in quiet)
    cloudy = by_scene[(cloud_day, "square")]
    assert float(cloudy["usable_fraction"]) == 0.0 and cloudy["crowd_score"] == ""

    alerts = json.loads(run_cli("alerts", "--config", str(scenario), "--format", "json").stdout)
    kinds = {(a["zone"], a["kind"]) for a in alerts}
    assert kinds == {("square", "crowd"), ("parking", "vehicle")}
    for alert in alerts:
        assert set(alert) >= CONTRACT_ALERT_FIELDS
        assert alert["evidence"] and all(Path(p).is_absolute() and Path(p).is_file() for p in alert["evidence"])
        assert alert["level"] in {"low", "medium", "high"} and alert["status"] in {"firing", "resolved"}
    crowd = next(a for a in alerts if a["kind"] == "crowd")
    assert crowd["scene_ids"] == [crowd_day]
    assert crowd["first_seen"].startswith("2025-")
    outbox = list((scenario.parent / "data" / "outbox").glob("*.eml"))
    assert len(outbox) == 1


def test_second_run_is_a_noop(scenario: Path) -> None:
    assert invoke("run", "--config", str(scenario)).returncode == 0
    data = scenario.parent / "data"
    before = {p: p.stat().st_mtime_ns for p in data.rglob("*") if p.is_file() and "catalogue" not in p.name}
    tables = [invoke(cmd, "--config", str(scenario), "--format", "json").stdout for cmd in ("scores", "alerts")]
    second = invoke("run", "--config", str(scenario))
    assert second.returncode == 0, second.stderr
    assert "0 new scene(s)" in second.stderr and "0 alert change(s)" in second.stderr
    after = {p: p.stat().st_mtime_ns for p in data.rglob("*") if p.is_file() and "catalogue" not in p.name}
    assert before == after  # no crop, render, baseline or message rewritten
    assert tables == [invoke(cmd, "--config", str(scenario), "--format", "json").stdout for cmd in ("scores", "alerts")]
    assert len(list((data / "outbox").glob("*.eml"))) == 1


def test_bad_files_are_recorded_and_the_run_goes_on(synthetic_site) -> None:  # type: ignore[no-untyped-def]
    config = synthetic_site(quiet=6, formations=())
    imagery = config.parent / "imagery"
    good = sorted(imagery.glob("*.tif"))[0]
    (imagery / "S2_20250801T021530.tif").write_bytes(good.read_bytes()[:2000])  # truncated
    (imagery / "S2_20250802T021530.tif").write_bytes(b"")  # empty
    (imagery / "S2_notime.tif").write_bytes(good.read_bytes())  # no time in the name
    import numpy as np
    from affine import Affine

    far = np.full((4, 20, 20), 0.2, np.float32)  # 10 km east of the site: does not overlap it
    with rasterio.open(good) as src:
        t = src.transform
    write_s2(
        imagery / "S2_20250803T021530.tif",
        far,
        Affine(10, 0, t.c + 10000, 0, -10, t.f),
        "EPSG:32651",
        np.full((20, 20), 5, np.uint8),
    )
    result = invoke("run", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    failed = _csv(invoke("scenes", "--config", str(config), "--status", "failed").stdout)
    assert {r["id"] for r in failed} == {"S2_20250801T021530", "S2_20250802T021530", "S2_notime"}
    assert all(r["reason"] for r in failed)
    empty = _csv(invoke("scenes", "--config", str(config), "--status", "empty").stdout)
    assert [r["id"] for r in empty] == ["S2_20250803T021530"] and "overlap" in empty[0]["reason"]
    scores = _csv(invoke("scores", "--config", str(config)).stdout)
    broken = [r for r in scores if r["scene_id"] == "S2_20250801T021530"]
    assert len(broken) == 2 and all(r["usable_fraction"] == "0" and r["crowd_score"] == "" for r in broken)
    # retried on the next run (up to max_attempts), still recorded once
    invoke("run", "--config", str(config))
    db = sqlite3.connect(config.parent / "data" / "catalogue.sqlite")
    attempts = db.execute("SELECT attempts FROM scenes WHERE scene_id = 'S2_20250801T021530'").fetchone()[0]
    assert attempts == 2
    assert db.execute("SELECT COUNT(*) FROM scenes WHERE scene_id = 'S2_20250801T021530'").fetchone()[0] == 1


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ('[[sources]]\nkind = "ftp"\n[[sites]]\nid = "a"\nbbox = [0, 0, 1, 1]\n', ["sources[0].kind"]),
        ('[[sites]]\nid = "a"\nbbox = [1, 0, 0, 1]\n', ["sites[0 id=a].bbox", "min < max"]),
        ('[[sites]]\nid = "a"\nbbox = [0, 0, 200, 1]\n', ["sites[0 id=a].bbox", "-180..180"]),
        (
            '[[sites]]\nid = "a"\nbbox = [0, 0, 1, 1]\n[[sites.zones]]\nid = "z"\nbbox = [0.5, 0.5, 2, 0.9]\n',
            ["zones[0 id=z].bbox", "outside its site"],
        ),
        ('[[sites]]\nid = "a"\ngeometry = "missing.geojson"\n', ["sites[0 id=a].geometry", "does not exist"]),
        (
            '[[sites]]\nid = "a"\nbbox = [0, 0, 1, 1]\n[[sites]]\nid = "a"\nbbox = [0, 0, 1, 1]\n',
            ["duplicate site id"],
        ),
        ('[[sites]]\nid = "a"\nbbox = [0, 0, 1, 1]\nname = \n', ["invalid TOML", "line 4"]),
        ('[[sites]]\nid = "A B"\nbbox = [0, 0, 1, 1]\n', ["sites[0 id=A B].id", "must use only a-z"]),
        (
            '[monitor]\ncolour = 1\n[[sites]]\nid = "a"\nbbox = [0, 0, 1, 1]\n',
            ["monitor.colour", "unknown key"],
        ),
    ],
)
def test_config_errors_exit_2_without_traceback(tmp_path: Path, toml: str, words: list[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    result = invoke("run", "--config", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(path) in result.stderr
    for word in words:
        assert word in result.stderr
    assert not (tmp_path / "monitor-data").exists()


def test_missing_config_exits_2(tmp_path: Path) -> None:
    result = invoke("scores", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2 and "config file not found" in result.stderr


def test_lock_held_exits_75(scenario: Path) -> None:
    from filelock import FileLock

    data = scenario.parent / "data"
    data.mkdir()
    with FileLock(str(data / ".monitor.lock")):
        result = run_cli("run", "--config", str(scenario))
    assert result.returncode == 75
    assert len(result.stderr.strip().splitlines()) == 1 and "lock" in result.stderr


def test_monitor_config_env(scenario: Path, tmp_path: Path) -> None:
    result = run_cli("run", cwd=tmp_path, env={"MONITOR_CONFIG": str(scenario)})
    assert result.returncode == 0, result.stderr
    assert (scenario.parent / "data" / "catalogue.sqlite").is_file()


def test_diff_command(scenario: Path, tmp_path: Path) -> None:
    import numpy as np
    import rasterio

    scenes = sorted((scenario.parent / "imagery").glob("*.tif"))
    out = tmp_path / "change.tif"
    png = tmp_path / "change.png"
    result = invoke("diff", str(scenes[0]), str(scenes[8]), "--out", str(out), "--png", str(png))
    assert result.returncode == 0, result.stderr
    with rasterio.open(out) as src, rasterio.open(scenes[0]) as before:
        assert src.count == 1 and src.dtypes[0] == "float32"
        assert src.transform == before.transform and src.crs == before.crs
        change = src.read(1)
    assert png.stat().st_size > 1000
    # the lattice of dark blocks stands out far above the rest
    assert np.nanpercentile(change, 99.9) > 5 * np.nanmedian(change)


def test_a_lost_crop_is_refetched(synthetic_site) -> None:  # type: ignore[no-untyped-def]
    config = synthetic_site(quiet=8, formations=())
    imagery = config.parent / "imagery"
    later = sorted(imagery.glob("*.tif"))[4:]
    parked = config.parent / "parked"
    parked.mkdir()
    for path in later:  # first run sees 4 scenes: fewer than the warm-up, nothing is scored yet
        path.rename(parked / path.name)
    assert invoke("run", "--config", str(config)).returncode == 0
    crops = sorted((config.parent / "data" / "crops" / "test-site").glob("*.tif"))
    crops[0].unlink()
    for path in later:
        (parked / path.name).rename(imagery / path.name)
    second = invoke("run", "--config", str(config))
    assert second.returncode == 0, second.stderr
    assert "Traceback" not in second.stderr
    failed = _csv(invoke("scenes", "--config", str(config), "--status", "failed").stdout)
    assert [r["id"] for r in failed] == [crops[0].stem] and "fetched again" in failed[0]["reason"]
    assert invoke("run", "--config", str(config)).returncode == 0
    scenes = _csv(invoke("scenes", "--config", str(config)).stdout)
    assert {r["status"] for r in scenes} == {"ok"} and len(scenes) == 8
    scores = _csv(invoke("scores", "--config", str(config)).stdout)
    assert all(r["state"] == "scored" for r in scores)
