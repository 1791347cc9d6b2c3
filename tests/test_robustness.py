"""What goes wrong in real archives: odd files, edited configs, lost files, failures mid-run."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import rasterio

from monitor.alerts import Observation, is_late
from monitor.archive.records import Alert
from monitor.config import load_config
from monitor.pipeline import run
from monitor.sensors import sensor_from_prefix
from tests.conftest import DemoBuild, invoke, run_cli


def test_sentinel_satellite_prefixes_map_to_their_sensor() -> None:
    assert [sensor_from_prefix(p + "_20230101T000000") for p in ("S2A", "S2B", "S1A", "S1C", "PS")] == [
        "S2",
        "S2",
        "S1",
        "S1",
        "PS",
    ]


def test_undeclared_zero_nodata_never_becomes_valid(tmp_path: Path) -> None:
    """An S2 file without a nodata tag whose east half is 0 (outside the swath), warped from EPSG:4326."""
    from monitor.config import parse_config
    from monitor.grid import site_grid
    from monitor.sources.local import LocalSource

    config = parse_config(
        {
            "sources": [{"kind": "local", "path": str(tmp_path)}],
            "sites": [{"id": "s", "bbox": [125.84, 39.01, 125.85, 39.02]}],
        },
        base=tmp_path,
    )
    grid = site_grid(config.sites[0])
    width = height = 200
    transform = rasterio.transform.from_bounds(125.835, 39.005, 125.855, 39.025, width, height)
    refl = np.full((4, height, width), 0.2, np.float32)
    scl = np.full((height, width), 5, np.uint8)
    refl[:, :, width // 2 :] = 0.0
    scl[:, width // 2 :] = 0
    dn = np.concatenate([np.round(refl * 10000).astype(np.uint16), scl[None]], axis=0)
    path = tmp_path / "S2_20230101T020000.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=5,
        dtype="uint16",
        crs="EPSG:4326",
        transform=transform,
    ) as dst:  # no nodata declared
        dst.write(dn)
        for i, name in enumerate(("B02", "B03", "B04", "B08", "SCL"), start=1):
            dst.set_band_description(i, name)
    source = LocalSource(config.sources[0])
    scene = source.read(source.search(config.sites[0], None, None)[0], grid)
    values = scene.data[:, scene.valid]
    assert 0.3 < scene.valid.mean() < 0.7
    assert np.allclose(values, 0.2, atol=1e-4)  # no valid pixel was mixed with the zeros of the edge


def test_odd_file_names_are_recorded_not_fatal(synthetic_site) -> None:  # type: ignore[no-untyped-def]
    config = synthetic_site(quiet=6, formations=())
    imagery = config.parent / "imagery"
    first = sorted(imagery.glob("*.tif"))[0]
    (imagery / "sub").mkdir()
    shutil.copy(first, imagery / "sub" / first.name)  # the same scene id twice
    shutil.copy(first, Path(bytes(imagery / "S2_20250901T020000_").decode() + "\udcff.tif"))  # not UTF-8
    summary = run(load_config(config))
    assert summary.errors == []
    db = sqlite3.connect(config.parent / "data" / "catalogue.sqlite")
    failed = dict(db.execute("SELECT scene_id, reason FROM scenes WHERE status = 'failed'").fetchall())
    assert len(failed) == 2
    assert any("same scene id" in r for r in failed.values())
    assert any("not valid UTF-8" in r for r in failed.values())
    assert db.execute("SELECT COUNT(*) FROM scenes WHERE status = 'ok'").fetchone()[0] == 6


def test_a_changed_site_footprint_is_a_config_error(synthetic_site) -> None:  # type: ignore[no-untyped-def]
    config = synthetic_site(quiet=6, formations=())
    assert invoke("run", "--config", str(config)).returncode == 0
    config.write_text(config.read_text().replace("125.847", "125.8475", 1))
    result = invoke("run", "--config", str(config))
    assert result.returncode == 2, result.stderr
    assert "sites[0 id=test-site].bbox" in result.stderr and "Traceback" not in result.stderr


def test_a_lost_baseline_is_rebuilt(synthetic_site) -> None:  # type: ignore[no-untyped-def]
    config = synthetic_site(quiet=8, formations=("crowd",))
    imagery = config.parent / "imagery"
    last = sorted(imagery.glob("*.tif"))[-1]
    parked = config.parent / last.name
    last.rename(parked)
    run(load_config(config))
    # the newest version: the one the parked scene is scored against (each month may have its own)
    baseline = max((config.parent / "data" / "baselines").rglob("*.tif"), key=lambda p: int(p.stem.split("-v")[-1]))
    before = baseline.read_bytes()
    baseline.unlink()
    parked.rename(last)
    summary = run(load_config(config))
    assert summary.errors == [] and summary.scored_scenes == 1
    assert baseline.read_bytes() == before  # rebuilt from the same scenes, to the same numbers


def test_a_scene_that_fails_to_score_does_not_stop_the_run(synthetic_site, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    config = synthetic_site(quiet=7, formations=())
    import monitor.pipeline.tasks as score

    real = score.score_scene
    calls = {"n": 0}

    def flaky(scene, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("boom")
        return real(scene, *args, **kwargs)

    monkeypatch.setattr(score, "score_scene", flaky)
    summary = run(load_config(config))
    assert summary.scored_scenes == 6 and len(summary.errors) == 1 and "boom" in summary.errors[0]
    db = sqlite3.connect(config.parent / "data" / "catalogue.sqlite")
    states = [r[0] for r in db.execute("SELECT DISTINCT state FROM scores").fetchall()]
    assert sorted(states) == ["error: RuntimeError('boom')", "scored"]
    monkeypatch.setattr(score, "score_scene", real)
    assert run(load_config(config)).errors == []  # the next run is not blocked by it


def test_late_observations_do_not_rewrite_alert_history() -> None:
    t0 = datetime(2025, 7, 1, tzinfo=UTC)
    seen = (t0 + timedelta(days=10)).isoformat()
    firing = Alert("a", "s", "z", "crowd", "low", "firing", t0.isoformat(), seen, ("x",), 0.9)
    gone = (t0 + timedelta(days=20)).isoformat()
    resolved = Alert(
        "b", "s", "z", "crowd", "low", "resolved", t0.isoformat(), t0.isoformat(), ("x",), 0.9, resolved_at=gone
    )

    def obs(days: int) -> Observation:
        return Observation("s", "z", "x", t0 + timedelta(days=days), 1.0, 0.9)

    assert is_late(obs(5), firing) and not is_late(obs(15), firing)
    assert is_late(obs(15), resolved) and not is_late(obs(25), resolved)
    assert not is_late(obs(0), None)


def test_unusable_source_at_run_time_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text('[[sources]]\nkind = "sentinelhub"\n[[sites]]\nid = "a"\nbbox = [0, 0, 0.01, 0.01]\n')
    result = invoke(
        "run", "--config", str(path), env={"SH_CLIENT_ID": "", "SH_CLIENT_SECRET": "", "HOME": str(tmp_path)}
    )
    assert result.returncode == 2 and "sources[0].profile" in result.stderr and str(path) in result.stderr


def test_archive_folder_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "imagery").mkdir()
    (tmp_path / "blocker").write_text("a file, not a folder")
    path = tmp_path / "monitor.toml"
    path.write_text(
        '[monitor]\ndata_dir = "blocker/data"\n[[sources]]\nkind = "local"\npath = "imagery"\n'
        '[[sites]]\nid = "a"\nbbox = [0, 0, 0.01, 0.01]\n'
    )
    result = invoke("run", "--config", str(path))
    assert result.returncode == 1 and "blocker" in result.stderr and "Traceback" not in result.stderr
    assert "unexpected" not in result.stderr


def test_evidence_and_crops_are_readable_by_others(synthetic_site) -> None:  # type: ignore[no-untyped-def]
    import os

    config = synthetic_site(quiet=6, formations=("crowd",))
    old = os.umask(0o022)
    try:
        run(load_config(config))
    finally:
        os.umask(old)
    files = [p for p in (config.parent / "data").rglob("*") if p.is_file() and p.suffix in {".tif", ".png", ".eml"}]
    assert files and all(p.stat().st_mode & 0o044 == 0o044 for p in files)


def test_a_full_archive_disk_fails_the_run_and_loses_no_scene(synthetic_site) -> None:  # type: ignore[no-untyped-def]
    config = synthetic_site(quiet=6, formations=())
    data = config.parent / "data"
    (data / "crops").mkdir(parents=True)
    (data / "crops" / "test-site").write_text("a file where the crop folder should be")
    for _ in range(4):  # more runs than max_attempts
        result = invoke("run", "--config", str(config))
        assert result.returncode == 1 and "Traceback" not in result.stderr
    db = sqlite3.connect(data / "catalogue.sqlite")
    assert db.execute("SELECT COUNT(*) FROM scenes").fetchone()[0] == 0  # nothing blamed on the scenes
    (data / "crops" / "test-site").unlink()
    assert invoke("run", "--config", str(config)).returncode == 0
    assert db.execute("SELECT COUNT(*) FROM scenes WHERE status = 'ok'").fetchone()[0] == 6


def test_a_transient_storage_error_while_scoring_is_retried(synthetic_site, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import monitor.pipeline.writer as score
    from monitor.errors import ArchiveError

    config = synthetic_site(quiet=8, formations=("crowd",))
    real = score.render_zone

    def full_disk(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ArchiveError("No space left on device")

    monkeypatch.setattr(score, "render_zone", full_disk)
    first = run(load_config(config))
    assert first.errors and "No space left" in first.errors[0]
    monkeypatch.setattr(score, "render_zone", real)
    second = run(load_config(config))
    assert second.errors == [] and second.scored_scenes == 1
    assert [c.action for c in second.alert_changes] == ["opened"]  # the alert is not lost


def test_the_demo_never_writes_into_the_archive_named_by_the_environment(demo_archive: DemoBuild) -> None:
    # the session's shared demo is built with MONITOR_DATA_DIR pointing at `elsewhere` (tests/conftest.py)
    assert not demo_archive.elsewhere.exists()
    assert (demo_archive.out / "monitor-data" / "catalogue.sqlite").is_file()


def test_a_duplicate_at_the_top_level_does_not_shadow_the_scene(synthetic_site) -> None:  # type: ignore[no-untyped-def]
    config = synthetic_site(quiet=6, formations=())
    imagery = config.parent / "imagery"
    last = sorted(imagery.glob("*.tif"))[-1]
    (imagery / "0").mkdir()
    shutil.copy(last, imagery / "0" / last.name)  # sorts before the top-level file
    run(load_config(config))
    db = sqlite3.connect(config.parent / "data" / "catalogue.sqlite")
    rows = dict(db.execute("SELECT scene_id, status FROM scenes WHERE scene_id LIKE ?", (last.stem + "%",)).fetchall())
    assert len(rows) == 2 and sorted(rows.values()) == ["failed", "ok"]


def test_an_oversized_site_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "imagery").mkdir()
    path = tmp_path / "monitor.toml"
    path.write_text('[[sources]]\nkind = "local"\npath = "imagery"\n[[sites]]\nid = "a"\nbbox = [0, 0, 5, 5]\n')
    result = invoke("run", "--config", str(path))
    assert result.returncode == 2 and "sites[0 id=a].bbox" in result.stderr
    assert not (tmp_path / "monitor-data").exists()


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    for args in (["scores", "--format", "xml"], ["nosuch"], ["diff", "a.tif", "b.tif", "--out", "c.tif"]):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("monitor: usage error:")


def test_a_zone_added_later_gets_every_scene(synthetic_site) -> None:  # type: ignore[no-untyped-def]
    config = synthetic_site(quiet=6, formations=("crowd", "cloud"))
    first = run(load_config(config))
    assert first.errors == []
    db = sqlite3.connect(config.parent / "data" / "catalogue.sqlite")
    before = db.execute("SELECT * FROM scores ORDER BY scene_id, zone").fetchall()
    alerts = db.execute("SELECT id, level, status, scene_ids FROM alerts").fetchall()
    config.write_text(
        config.read_text().replace(
            "[detect]",
            '  [[sites.zones]]\n  id = "whole"\n  kind = "any"\n'
            "  bbox = [125.8405, 39.0105, 125.8465, 39.015]\n\n[detect]",
        )
    )
    second = run(load_config(config))
    assert second.errors == [] and second.rescored_scenes == 8
    rows = db.execute("SELECT scene_id, state FROM scores WHERE zone = 'whole'").fetchall()
    assert len(rows) == 8 and {s for _, s in rows} == {"scored", "unusable"}
    kept = db.execute("SELECT * FROM scores WHERE zone != 'whole' ORDER BY scene_id, zone").fetchall()
    assert kept == before  # the old zones' rows come out the same
    assert db.execute("SELECT id, level, status, scene_ids FROM alerts WHERE zone != 'whole'").fetchall() == alerts
