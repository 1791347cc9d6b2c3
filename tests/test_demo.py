"""`monitor demo`: offline, deterministic, and it finds what the simulator put there."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.conftest import DemoBuild, invoke


@pytest.fixture(scope="module")
def demo(demo_archive: DemoBuild) -> tuple[Path, str]:
    """The session's shared demo build (tests/conftest.py)."""
    return demo_archive.out, demo_archive.stdout


def test_demo_reports_where_things_are(demo: tuple[Path, str]) -> None:
    out, stdout = demo
    assert stdout.startswith("SIMULATED DATA")
    assert (out / "config.toml").is_file() and str(out / "config.toml") in stdout
    assert len(list((out / "imagery").glob("S2_*.tif"))) == 31


def test_demo_alerts_on_the_rehearsals_and_nothing_before(demo: tuple[Path, str]) -> None:
    out, _ = demo
    config = str(out / "config.toml")
    alerts = json.loads(invoke("alerts", "--config", config, "--format", "json").stdout)
    truth = list(csv.DictReader((out / "imagery" / "truth.csv").open()))
    first = {
        kind: min(r["date"] for r in truth if r["kind"] == kind and r["zone"] == zone)
        for kind, zone in (("crowd", "replica-square"), ("vehicle", "west-parking"))
    }
    crowd = [a for a in alerts if a["kind"] == "crowd" and a["zone"] == "replica-square"]
    vehicle = [a for a in alerts if a["kind"] == "vehicle" and a["zone"] == "west-parking"]
    assert crowd and crowd[0]["first_seen"][:10] == first["crowd"]  # the first rehearsal date, not later
    assert vehicle and vehicle[0]["first_seen"][:10] >= first["vehicle"]
    assert all(a["first_seen"][:10] >= first["crowd"] for a in alerts)  # nothing in the quiet weeks
    for alert in alerts:
        assert all(Path(p).is_file() for p in alert["evidence"])
    scores = list(csv.DictReader(io.StringIO(invoke("scores", "--config", config).stdout)))
    quiet = [r for r in scores if r["acquired"][:10] < first["crowd"] and r["crowd_score"]]
    assert quiet and max(float(r["crowd_score"]) for r in quiet) < 0.5
    messages = list((out / "monitor-data" / "outbox").glob("*.eml"))
    assert len(messages) == 1 and b"[SIMULATED]" in messages[0].read_bytes()


def test_a_run_on_the_demo_archive_says_simulated(demo: tuple[Path, str]) -> None:
    out, _ = demo
    result = invoke("run", "--config", str(out / "config.toml"))
    assert result.returncode == 0, result.stderr
    assert "monitor: SIMULATED DATA: 0 new scene(s)" in result.stderr


def test_demo_again_is_a_noop(demo: tuple[Path, str]) -> None:
    out, _ = demo
    before = invoke("scores", "--config", str(out / "config.toml"), "--format", "json").stdout
    again = invoke("demo", "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert "this run: 0 new scene(s), 0 scored, 0 alert change(s)" in again.stdout
    assert invoke("scores", "--config", str(out / "config.toml"), "--format", "json").stdout == before
    assert len(list((out / "monitor-data" / "outbox").glob("*.eml"))) == 1


def test_demo_stores_each_scenes_registration_and_the_baseline_composition(demo: tuple[Path, str]) -> None:
    import sqlite3

    out, _ = demo
    db = sqlite3.connect(out / "monitor-data" / "catalogue.sqlite")
    rows = db.execute("SELECT scene_id, shift_dx, shift_dy, registration FROM scenes").fetchall()
    assert rows and all(r[3] is not None for r in rows)
    registered = [r for r in rows if r[3] == "ok"]
    assert len(registered) >= 20  # the cloudy dates may not be registrable, the clear ones are
    assert all(abs(r[1]) < 1.0 and abs(r[2]) < 1.0 for r in registered)  # the simulator shifts < 1 px
    (composition,) = db.execute("SELECT composition FROM baselines").fetchone()
    parsed = json.loads(composition)
    assert parsed["rule"].startswith("first 10 scenes") and parsed["kept_out_alerted"] == []
    assert len(parsed["shifts_px"]) + len(parsed["unregistered"]) == 10


def test_demo_evidence_is_bounded_per_alert_and_confirmations_are_replaced(demo: tuple[Path, str]) -> None:
    from monitor.render.names import MAX_GROUPS, SUFFIXES, is_confirmation

    out, _ = demo
    alerts = json.loads(invoke("alerts", "--config", str(out / "config.toml"), "--format", "json").stdout)
    long_lived = [a for a in alerts if len(a["scene_ids"]) >= 4]
    assert long_lived  # the crowd alert fires over eight scenes
    for alert in alerts:
        assert len(alert["evidence"]) <= MAX_GROUPS * len(SUFFIXES), alert["id"]
        assert all(Path(p).is_file() for p in alert["evidence"])
        confirmed = [p for p in alert["evidence"] if is_confirmation(p)]
        assert len(confirmed) in (0, len(SUFFIXES))  # one confirmation's files at most
        assert Path(alert["evidence"][0]).stem == alert["scene_ids"][0]  # the onset comes first
    for alert in long_lived:
        last = max(alert["scene_ids"])  # S2_YYYYMMDD... names sort by time
        assert any(is_confirmation(p) and Path(p).name.startswith(last) for p in alert["evidence"])
    listed = {p for a in alerts for p in a["evidence"]}
    on_disk = {str(p) for p in (out / "monitor-data" / "evidence").rglob("*") if p.is_file()}
    assert {p for p in on_disk if is_confirmation(p)} <= listed  # a replaced confirmation leaves no files


def test_demo_report_shows_each_alerts_onset_beside_the_latest(demo: tuple[Path, str]) -> None:
    out, _ = demo
    report = out / "report-onset"
    result = invoke("report", "--config", str(out / "config.toml"), "--out", str(report))
    assert result.returncode == 0, result.stderr
    alerts = json.loads(invoke("alerts", "--config", str(out / "config.toml"), "--format", "json").stdout)
    text = (report / "summary.txt").read_text()
    html = (report / "index.html").read_text()
    for alert in alerts:
        assert f"onset:  {alert['scene_ids'][0]} {alert['first_seen'][:10]}" in text
        assert "(opened the alert)" in text
    long_lived = next(a for a in alerts if len(a["scene_ids"]) >= 4)
    assert f"latest: {max(long_lived['scene_ids'])}" in text
    assert html.count("Onset: the observation that opened the alert") >= 1
    onset_png = f"onset/{long_lived['scene_ids'][0]}.png"
    assert onset_png in html and any(report.rglob(onset_png.split("/")[-1]))
