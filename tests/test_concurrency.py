"""Concurrency (issue 13): analyst feedback during a run, a run during a backfill, SQLite's write lock.

The rule (docs/reliability.md, "Concurrency"): one process at a time holds the run lock (``monitor run``,
``monitor backfill``); a second exits 75 naming the holder and, for a backfill, its progress. ``monitor
alerts ack|dismiss`` take no run lock: each writes in one short SQLite transaction, and the run reads
each alert again when it commits, so an action recorded mid-run is kept and honoured. Every fault here
is a real second process (``python -m monitor``) acting at a chosen point of a run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.archive.catalogue import Catalogue
from monitor.archive.lock import HOLDER_NAME, LockHolder, current_holder, run_lock
from monitor.config import load_config
from monitor.pipeline import run
from monitor.pipeline.backfill import backfill as backfill_alone
from monitor.pipeline.summary import RunSummary
from tests.conftest import ROOT, invoke, run_cli

#: One Dask worker: the backfill takes long enough for a run to meet it.
WORKERS = ("--workers", "1")


def _env() -> dict[str, str]:
    """A child's environment as :func:`tests.conftest.run_cli` makes it (this checkout, no internet)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MONITOR_CONFIG", None)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[name] = "http://127.0.0.1:9"
    for name in ("no_proxy", "NO_PROXY"):
        env[name] = "127.0.0.1,localhost,::1"
    return env


def _monitor(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m monitor ARGS`` in another process, timed."""
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], env=_env(), capture_output=True, text=True, timeout=300, check=False
    )


def _alerts(config_path: Path) -> list[Any]:
    with Catalogue(load_config(config_path, env={}).data_dir, readonly=True) as cat:
        return cat.alerts()


# --- feedback is not refused while a run holds the lock -----------------------------------------------


@pytest.fixture
def firing(synthetic_site: Callable[..., Path], tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """An archive with a firing crowd alert (one crowd scene scored) and one more crowd scene held back
    (``held``), which confirms it and raises it to ``high`` when put back."""
    config_path = synthetic_site(formations=("crowd", "crowd"))
    imagery = config_path.parent / "imagery"
    last = sorted(imagery.glob("S2_*.tif"))[-1]
    held = tmp_path / "held"
    held.mkdir()
    last.rename(held / last.name)
    assert run(load_config(config_path, env={})).errors == []
    (crowd,) = [a for a in _alerts(config_path) if a.kind == "crowd"]
    assert crowd.firing and crowd.level == "medium"  # one observation: capped at medium
    yield config_path, held / last.name
    if (held / last.name).exists():
        (held / last.name).rename(last)


def test_ack_and_dismiss_are_not_refused_while_a_run_holds_the_lock(firing: tuple[Path, Path]) -> None:
    config_path, _ = firing
    data = load_config(config_path, env={}).data_dir
    (crowd,) = [a for a in _alerts(config_path) if a.kind == "crowd"]
    with run_lock(data, LockHolder("run", os.getpid(), "2026-12-04T03:00:00+00:00")):
        refused = _monitor("run", "--config", str(config_path))
        started = time.monotonic()
        ack = _monitor("alerts", "ack", crowd.id, "--config", str(config_path))
        dismiss = _monitor("alerts", "dismiss", crowd.id, "--reason", "market stalls", "--config", str(config_path))
        took = time.monotonic() - started
    assert refused.returncode == 75 and f"a run (pid {os.getpid()}" in refused.stderr  # the lock is held
    assert ack.returncode == 0, ack.stderr
    assert dismiss.returncode == 0, dismiss.stderr
    assert took < 60  # two interpreter start-ups; before, both exited 75 at once
    (after,) = [a for a in _alerts(config_path) if a.id == crowd.id]
    assert after.acked_at and after.dismissed_at and after.dismiss_reason == "market stalls"


def test_feedback_waits_for_a_write_transaction_then_lands(firing: tuple[Path, Path]) -> None:
    """SQLite's busy timeout: an ack arriving while a run commits waits for that commit, then lands."""
    config_path, _ = firing
    data = load_config(config_path, env={}).data_dir
    (crowd,) = [a for a in _alerts(config_path) if a.kind == "crowd"]
    with Catalogue(data) as cat, cat.transaction():
        child = subprocess.Popen(
            [sys.executable, "-m", "monitor", "alerts", "ack", crowd.id, "--config", str(config_path)],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(8)  # the child starts, opens the catalogue (WAL: reading never waits) and waits to write
        assert child.poll() is None, child.communicate()  # still waiting, not refused
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    (after,) = [a for a in _alerts(config_path) if a.id == crowd.id]
    assert after.acked_at


def test_feedback_refused_after_the_busy_timeout_says_why(
    firing: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.archive.catalogue as catalogue_module

    config_path, _ = firing
    data = load_config(config_path, env={}).data_dir
    (crowd,) = [a for a in _alerts(config_path) if a.kind == "crowd"]
    monkeypatch.setattr(catalogue_module, "BUSY_TIMEOUT_S", 0.5)
    other = Catalogue(data)
    try:
        with other.transaction():
            result = invoke("alerts", "ack", crowd.id, "--config", str(config_path))
    finally:
        other.close()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"the catalogue {data / 'catalogue.sqlite'} stayed locked by another monitor process" in result.stderr
    assert "try again" in result.stderr
    (after,) = [a for a in _alerts(config_path) if a.id == crowd.id]
    assert after.acked_at is None  # nothing half-done


# --- the races: feedback landing between a run's read and its commit -----------------------------------


@contextmanager
def _feedback_during(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, *args: str) -> Iterator[list[Any]]:
    """Make the first call of ``target.name`` first run ``python -m monitor ARGS`` to the end (a real other
    process, with its own SQLite connection), then go on. Yields the children's results."""
    real = getattr(target, name)
    done: list[Any] = []

    def wrapped(*a: Any, **k: Any) -> Any:
        if not done:
            done.append(_monitor(*args))
        return real(*a, **k)

    monkeypatch.setattr(target, name, wrapped)
    yield done


def test_a_dismissal_while_the_run_scores_is_kept_and_suppresses_the_raise(
    firing: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run steps the alert (``raised`` to high) and draws its evidence; the analyst dismisses it before
    the commit. The dismissal stands, the scene is recorded on it as suppressed, and no message goes out."""
    import monitor.pipeline.evidence as evidence

    config_path, held = firing
    (crowd,) = [a for a in _alerts(config_path) if a.kind == "crowd"]
    held.rename(config_path.parent / "imagery" / held.name)
    dismiss = ("alerts", "dismiss", crowd.id, "--reason", "parking lot painting", "--config", str(config_path))
    with _feedback_during(monkeypatch, evidence, "render_zone", *dismiss) as children:
        summary = run(load_config(config_path, env={}))
    assert [c.returncode for c in children] == [0], children[0].stderr  # it ran mid-scoring, and landed
    assert summary.errors == [] and summary.scored_scenes == 1
    (after,) = [a for a in _alerts(config_path) if a.kind == "crowd"]
    assert after.id == crowd.id and after.dismissed_at and after.dismiss_reason == "parking lot painting"
    assert after.status == "resolved" and after.level == "medium"  # not raised over the dismissal
    assert after.scene_ids == (*crowd.scene_ids, held.stem)  # suppressed: kept out of the baseline
    assert not [c for c in summary.alert_changes if c.alert.id == crowd.id]
    assert summary.messages_queued == 0
    drawn = list((config_path.parent / "data" / "evidence").rglob(f"{held.stem}*"))
    assert drawn == []  # the raise's pictures, drawn before the dismissal, are not left behind


def test_an_ack_while_the_run_scores_is_kept_by_the_raise(
    firing: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.pipeline.evidence as evidence

    config_path, held = firing
    (crowd,) = [a for a in _alerts(config_path) if a.kind == "crowd"]
    held.rename(config_path.parent / "imagery" / held.name)
    ack = ("alerts", "ack", crowd.id, "--config", str(config_path))
    with _feedback_during(monkeypatch, evidence, "render_zone", *ack) as children:
        summary = run(load_config(config_path, env={}))
    assert [c.returncode for c in children] == [0], children[0].stderr
    (after,) = [a for a in _alerts(config_path) if a.kind == "crowd"]
    assert after.level == "high" and after.firing  # the raise happened
    assert after.acked_at is not None  # and the ack recorded meanwhile was not overwritten by it
    assert [c.action for c in summary.alert_changes if c.alert.id == crowd.id] == ["raised"]
    assert summary.messages_queued == 1  # a raise is announced, acked or not


def test_an_ack_while_the_reminder_is_built_sends_no_reminder(
    firing: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reminder is built (the alert is due: firing, unacknowledged, notified long ago); the analyst
    acknowledges it before it is queued. Nothing is queued and the built message's file is removed."""
    import monitor.pipeline.notify as notify_module

    config_path, _ = firing
    config = load_config(config_path, env={})
    (crowd,) = [a for a in _alerts(config_path) if a.kind == "crowd"]
    outbox = config.data_dir / "outbox"
    before = sorted(p.name for p in outbox.iterdir())
    later = datetime.now(UTC) + timedelta(hours=config.alerts.repeat_interval_hours + 1)
    ack = ("alerts", "ack", crowd.id, "--config", str(config_path))
    with (
        _feedback_during(monkeypatch, notify_module, "build_message", *ack) as children,
        Catalogue(config.data_dir) as cat,
    ):
        summary = RunSummary()
        notify_module.notify(cat, config, summary, now=later)
        assert [c.returncode for c in children] == [0], children[0].stderr
        assert summary.messages_queued == 0
        assert [n for n in cat.notifications(crowd.id) if n.action == "STILL FIRING"] == []
    assert sorted(p.name for p in outbox.iterdir()) == before  # no reminder file left
    (after,) = [a for a in _alerts(config_path) if a.id == crowd.id]
    assert after.acked_at


def test_without_feedback_the_reminder_is_sent(firing: tuple[Path, Path]) -> None:
    """The same reminder as above, with no ack in between: queued (the check above is not vacuous)."""
    import monitor.pipeline.notify as notify_module

    config_path, _ = firing
    config = load_config(config_path, env={})
    later = datetime.now(UTC) + timedelta(hours=config.alerts.repeat_interval_hours + 1)
    with Catalogue(config.data_dir) as cat:
        summary = RunSummary()
        notify_module.notify(cat, config, summary, now=later)
        assert summary.messages_queued == 1
        assert [n.action for n in cat.notifications() if n.action == "STILL FIRING"] == ["STILL FIRING"]


# --- a run while a backfill holds the archive: real processes -------------------------------------------


def _tables(config_path: Path) -> tuple[list[Any], list[Any], list[Any]]:
    config = load_config(config_path, env={})
    with Catalogue(config.data_dir, readonly=True) as cat:
        scenes = [(s.scene_id, s.status.value, s.attempts, s.scored) for s in cat.scenes()]
        scores = [(r.scene_id, r.zone, r.state, r.crowd_score, r.vehicle_score) for r in cat.scores()]
        alerts = [(a.id, a.level, a.status, a.scene_ids, a.notified_level) for a in cat.alerts()]
    return scenes, scores, alerts


def test_a_run_during_a_backfill_exits_75_naming_it_and_nothing_is_done_twice(
    synthetic_site: Callable[..., Path], tmp_path: Path
) -> None:
    config_path = synthetic_site(quiet=24, formations=("crowd", "crowd", "none", "vehicle"))
    clean = tmp_path / "clean"
    clean.mkdir()
    shutil.copytree(config_path.parent / "imagery", clean / "imagery")
    shutil.copy(config_path, clean / config_path.name)
    data = load_config(config_path, env={}).data_dir
    backfill = subprocess.Popen(
        [sys.executable, "-m", "monitor", "backfill", "--config", str(config_path), "--since", "2025-01-01", *WORKERS],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        holder = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and backfill.poll() is None:
            holder = current_holder(data)
            if holder is not None and holder.progress:
                break
            time.sleep(0.2)
        assert holder is not None and holder.kind == "backfill" and holder.pid == backfill.pid, backfill.poll()
        refused = run_cli("run", "--config", str(config_path))
        overlapped = backfill.poll() is None
    finally:
        _, err = backfill.communicate(timeout=600)
    assert overlapped, "the backfill ended before the run tried: no overlap was tested"
    assert backfill.returncode == 0, err
    assert refused.returncode == 75
    line = refused.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert f"a backfill (pid {backfill.pid}, running since " in line and "scoring 2025-01-01 to now" in line
    assert " scenes, " in line and "ETA" in line  # its progress: done/planned scenes, rate, ETA
    assert "this pass is skipped" in line
    assert not (data / HOLDER_NAME).exists()  # the backfill took its record away with the lock
    after = run_cli("run", "--config", str(config_path))
    assert after.returncode == 0, after.stderr
    scenes, scores, alerts = _tables(config_path)
    assert all(attempts == 1 and scored for _, _, attempts, scored in scenes)  # each fetched and scored once
    assert len(scores) == 2 * len(scenes) == 2 * 28
    assert len({a[0] for a in alerts}) == len(alerts) and {a[2] for a in alerts} <= {"firing", "resolved"}
    # what a backfill alone gives: the refused run changed nothing
    alone = backfill_alone(load_config(clean / config_path.name, env={}), since=date(2025, 1, 1), processes=False)
    assert alone.errors == []
    assert _tables(clean / config_path.name) == (scenes, scores, alerts)


def test_a_holder_record_left_by_a_crashed_process_is_not_shown(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    data = tmp_path / "data"
    data.mkdir()
    record = {"kind": "backfill", "pid": pid, "started_at": "2026-12-01T00:00:00+00:00", "progress": "1/9 scenes"}
    (data / HOLDER_NAME).write_text(json.dumps(record))
    assert current_holder(data) is None  # that process is gone
    (data / HOLDER_NAME).write_text("{not json")
    assert current_holder(data) is None
    with run_lock(data, LockHolder("run", os.getpid(), "now")) as held:
        held.update("3/9 scenes")
        assert json.loads((data / HOLDER_NAME).read_text())["progress"] == "3/9 scenes"
    assert not (data / HOLDER_NAME).exists()
