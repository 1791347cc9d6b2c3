"""``monitor backfill``: the same tables as a series of runs, on Dask (local cluster, real scheduler and
worker processes) or in process; resumable; one summary message."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from monitor.archive import Catalogue
from monitor.config import load_config
from monitor.pipeline import run
from monitor.pipeline.backfill import backfill
from monitor.report.tables import alert_rows, score_rows
from tests.conftest import ROOT, free_port, run_cli

SINCE = date(2025, 1, 1)


def _tables(config_path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    config = load_config(config_path, env={})
    with Catalogue(config.data_dir, readonly=True) as cat:
        scores = score_rows(cat)
        alerts = [
            {**a, "evidence": sorted(Path(p).name for p in a["evidence"])}  # the same files, in another folder
            for a in alert_rows(cat)
        ]
    return scores, alerts


def _assert_same(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> None:
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], float) or isinstance(b[key], float):
                assert a[key] == pytest.approx(b[key], abs=1e-6), key
            else:
                assert a[key] == b[key], key


def _copy_site(config_path: Path, dest: Path) -> Path:
    """The same imagery and config in another folder, with an empty archive of its own."""
    shutil.copytree(config_path.parent / "imagery", dest / "imagery")
    shutil.copy(config_path, dest / config_path.name)
    return dest / config_path.name


def _series_of_runs(config_path: Path, per_run: int = 3) -> None:
    """``monitor run`` as cron would see the history arrive: a few new scenes per run, oldest first."""
    imagery = config_path.parent / "imagery"
    held = config_path.parent / "held"
    held.mkdir()
    files = sorted(imagery.glob("*.tif"))
    for f in files:
        f.rename(held / f.name)
    for i in range(0, len(files), per_run):
        for f in files[i : i + per_run]:
            (held / f.name).rename(imagery / f.name)
        summary = run(load_config(config_path, env={}))
        assert summary.errors == []


def test_a_backfill_gives_what_a_series_of_runs_gives(synthetic_site: Callable[..., Path], tmp_path: Path) -> None:
    config_path = synthetic_site(quiet=8, formations=("crowd", "vehicle", "none", "cloud", "crowd"))
    runs = _copy_site(config_path, tmp_path / "runs")
    _series_of_runs(runs)
    summary = backfill(load_config(config_path, env={}), since=SINCE, workers=2, processes=False)
    assert summary.errors == [] and summary.done == summary.planned == 13 and summary.waiting == 0
    scores, alerts = _tables(config_path)
    want_scores, want_alerts = _tables(runs)
    _assert_same(scores, want_scores)
    _assert_same(alerts, want_alerts)
    assert {a["kind"] for a in alerts} == {"crowd", "vehicle"}
    # one summary message for the history, not one per alert; the alerts count as announced
    assert summary.messages_queued == 1
    (message,) = (config_path.parent / "data" / "outbox").glob("*.eml")
    text = message.read_text()
    assert "backfill 2025-01-01 to now" in text and all(a["id"] in text for a in alerts)
    again = run(load_config(config_path, env={}))
    assert again.scored_scenes == 0 and again.messages_queued == 0


def test_an_interrupted_backfill_goes_on_where_it_stopped(
    synthetic_site: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.pipeline.backfill as module
    import monitor.pipeline.tasks as tasks
    from monitor.pipeline.executors import InlineExecutor

    config_path = synthetic_site(quiet=8, formations=("crowd", "none"))
    clean = _copy_site(config_path, tmp_path / "clean")
    monkeypatch.setattr(module, "open_executor", lambda *a, **k: InlineExecutor())  # in process: countable
    fetched: list[str] = []
    real_fetch, real_record = tasks.fetch_scene, module.record_fetched

    def counting_fetch(source, ref, ctx):  # type: ignore[no-untyped-def]
        fetched.append(ref.scene_id)
        return real_fetch(source, ref, ctx)

    def interrupting_record(catalogue, ctx, result, summary):  # type: ignore[no-untyped-def]
        if len(fetched) == 6:
            raise KeyboardInterrupt  # Ctrl-C between two scenes
        real_record(catalogue, ctx, result, summary)

    monkeypatch.setattr(tasks, "fetch_scene", counting_fetch)
    monkeypatch.setattr(module, "record_fetched", interrupting_record)
    config = load_config(config_path, env={})
    with pytest.raises(KeyboardInterrupt):
        backfill(config, since=SINCE)
    first = list(fetched)
    monkeypatch.setattr(module, "record_fetched", real_record)
    fetched.clear()
    summary = backfill(config, since=SINCE)
    assert summary.errors == [] and summary.waiting == 0
    assert set(fetched).isdisjoint(first[:5]) and len(first[:5]) + len(fetched) == 10  # nothing fetched twice
    backfill(load_config(clean, env={}), since=SINCE)
    _assert_same(_tables(config_path)[0], _tables(clean)[0])
    _assert_same(_tables(config_path)[1], _tables(clean)[1])


def test_a_lost_task_is_a_failed_scene_and_is_retried(
    synthetic_site: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.pipeline.backfill as module
    from monitor.pipeline.executors import InlineExecutor

    config_path = synthetic_site(quiet=7, formations=())
    monkeypatch.setattr(module, "open_executor", lambda *a, **k: InlineExecutor())
    real = module.fetch_task

    def lost(spec, ref, ctx):  # type: ignore[no-untyped-def]
        if ref.scene_id == "S2_20250511T021530":
            raise OSError("worker tcp://127.0.0.1:1 lost")
        return real(spec, ref, ctx)

    monkeypatch.setattr(module, "fetch_task", lost)
    config = load_config(config_path, env={})
    first = backfill(config, since=SINCE)
    assert first.failed_scenes == 1
    with Catalogue(config.data_dir, readonly=True) as cat:
        row = cat.scene("test-site", "S2_20250511T021530")
        assert row is not None and row.status == "failed" and "fetch task failed" in (row.reason or "")
    monkeypatch.setattr(module, "fetch_task", real)
    second = backfill(config, since=SINCE)
    assert second.new_scenes == 1 and second.scored_scenes == 1
    with Catalogue(config.data_dir, readonly=True) as cat:
        row = cat.scene("test-site", "S2_20250511T021530")
        assert row is not None and row.status == "ok" and row.attempts == 2 and row.scored


def _assert_scored(config_path: Path, scenes: int) -> list[dict[str, Any]]:
    """Every scene scored in both zones; the crowd on the square found (the first test shows the
    numbers are a run's)."""
    scores, alerts = _tables(config_path)
    assert len(scores) == 2 * scenes and {r["state"] for r in scores} == {"scored"}
    assert [(a["zone"], a["kind"]) for a in alerts] == [("square", "crowd")]
    return alerts


def test_local_cluster_of_worker_processes(synthetic_site: Callable[..., Path]) -> None:
    config_path = synthetic_site(quiet=6, formations=("crowd",))
    result = run_cli("backfill", "--config", str(config_path), "--since", "2025-01-01", "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "7/7 scene(s)" in result.stderr and "on 2 worker(s)" in result.stderr
    _assert_scored(config_path, 7)


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """A real ``dask scheduler`` and ``dask worker`` as separate processes on 127.0.0.1 (random ports),
    importing the monitor from this checkout; stopped after the test."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    log = (tmp_path / "dask.log").open("w")
    scheduler = subprocess.Popen(
        [*dask, "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0", "--no-show"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            address,
            "--host",
            "127.0.0.1",
            "--nworkers",
            "2",
            "--nthreads",
            "1",
            "--no-dashboard",
            "--local-directory",
            str(tmp_path / "dask-worker"),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        from distributed import Client

        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="5s") as client:
                    client.wait_for_workers(2, timeout=max(1.0, deadline - time.monotonic()))
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        for proc in (worker, scheduler):
            proc.terminate()
        for proc in (worker, scheduler):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def test_backfill_on_a_dask_scheduler_and_workers(synthetic_site: Callable[..., Path], dask_cluster: str) -> None:
    config_path = synthetic_site(quiet=6, formations=("crowd",))
    result = run_cli(
        "backfill", "--config", str(config_path), "--since", "2025-01-01", "--scheduler", dask_cluster, "--notify"
    )
    assert result.returncode == 0, result.stderr
    assert "7/7 scene(s)" in result.stderr
    _assert_scored(config_path, 7)
    # --notify: the message a run would have sent, with its pictures
    (message,) = (config_path.parent / "data" / "outbox").glob("*.eml")
    assert "[NEW]" in message.read_text() and "image/jpeg" in message.read_text()


def test_backfill_usage_errors(synthetic_site: Callable[..., Path]) -> None:
    from click.testing import CliRunner

    from monitor.cli.main import cli

    config = str(synthetic_site(quiet=1, formations=()))

    def call(*args: str) -> Any:
        return CliRunner().invoke(cli, ["backfill", "--config", config, *args])

    both = call("--since", "2025-01-01", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1")
    assert both.exit_code == 2 and "exclude each other" in both.output
    backwards = call("--since", "2025-06-01", "--until", "2025-01-01")
    assert backwards.exit_code == 2 and "--until" in backwards.output
    missing = call()
    assert missing.exit_code == 2 and "--since" in missing.output
    nowhere = call("--since", "2025-01-01", "--scheduler", f"tcp://127.0.0.1:{free_port()}")
    assert nowhere.exit_code == 2 and "cannot reach the Dask scheduler" in nowhere.output


def test_without_dask_backfill_runs_in_process(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import monitor.pipeline.executors as executors
    from monitor.errors import ConfigError

    monkeypatch.setattr(executors, "dask_available", lambda: False)
    with caplog.at_level("WARNING", logger="monitor"):
        executor = executors.open_executor(4, None)
    assert isinstance(executor, executors.InlineExecutor) and executor.workers == 1
    assert "dask is not installed" in caplog.text and "monitor[dask]" in caplog.text
    with pytest.raises(ConfigError, match="--scheduler needs Dask"):
        executors.open_executor(None, "tcp://127.0.0.1:8786")
