"""Unattended running: `monitor schedule --print`, `monitor watch`, and what `monitor -q run` prints."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.config import load_config
from monitor.errors import LockedError, MonitorError
from monitor.pipeline.schedule import calendar, crontab, monitor_command, parse_every, systemd_units
from monitor.pipeline.summary import RunSummary
from monitor.pipeline.watch import PassOutcome, StopRequest, next_start, watch
from tests.conftest import ROOT, write_config


def invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), env={"MONITOR_CONFIG": None, **(env or {})})


# --- --every -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("6h", 21600), ("1d", 86400), (" 2H ", 7200)])
def test_every_parses(text: str, seconds: int) -> None:
    assert parse_every(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["6", "h", "6x", "1.5h", "-1h", "0m", "8d", "6h30m", ""])
def test_every_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"interval|outside"):
        parse_every(text)


@pytest.mark.parametrize("command", ["schedule", "watch"])
def test_bad_every_is_a_usage_error(tmp_path: Path, command: str) -> None:
    (tmp_path / "imagery").mkdir()
    config = write_config(tmp_path)
    extra = ["--print"] if command == "schedule" else []
    result = invoke(command, "--config", str(config), *extra, "--every", "6x")
    assert result.exit_code == 2
    assert "--every" in result.output and "30m, 6h or 1d" in result.output and "Traceback" not in result.output


def test_watch_needs_every(tmp_path: Path) -> None:
    (tmp_path / "imagery").mkdir()
    result = invoke("watch", "--config", str(write_config(tmp_path)))
    assert result.exit_code == 2 and "Missing option '--every'" in result.output


# --- schedule ------------------------------------------------------------------------------------------------


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    (tmp_path / "imagery").mkdir()
    return write_config(tmp_path)


def test_calendar_is_even_and_spread() -> None:
    six = calendar(timedelta(hours=6), "/a/monitor.toml")
    assert six.cron().endswith(" */6 * * *") and 0 <= six.minute < 60
    assert six.on_calendar() == f"*-*-* 00/6:{six.minute:02d}:00"
    assert calendar(timedelta(hours=6), "/a/monitor.toml") == six  # stable for one config
    minutes = {calendar(timedelta(hours=1), f"/site{i}/monitor.toml").minute for i in range(20)}
    assert len(minutes) > 5  # monitors of different configs do not all start on the hour
    daily = calendar(timedelta(days=1), "/a/monitor.toml")
    assert daily.cron() == f"{daily.minute} {daily.hour} * * *"
    half = calendar(timedelta(minutes=30), "/a/monitor.toml")
    assert half.cron().split()[0] in {"*/30", f"{half.minute}-59/30"}
    for uneven in (timedelta(hours=7), timedelta(minutes=45), timedelta(days=2)):
        with pytest.raises(ValueError, match="evenly"):
            calendar(uneven, "/a/monitor.toml")


def test_schedule_prints_cron_and_systemd(config_path: Path, tmp_path: Path) -> None:
    result = invoke("schedule", "--config", str(config_path), "--print", "--every", "6h")
    assert result.exit_code == 0, result.output
    out = result.output
    config = str(config_path.resolve())
    entries = [line for line in out.splitlines() if line and not line.startswith("#") and "*/6" in line]
    assert len(entries) == 1  # one self-contained crontab line
    words = shlex.split(entries[0])
    assert words[1:5] == ["*/6", "*", "*", "*"]
    env = dict(w.split("=", 1) for w in words[5:] if "=" in w and not w.startswith("/"))
    assert env["MONITOR_CONFIG"] == config and "/usr/bin" in env["PATH"].split(os.pathsep)
    command = words[5 + len(env) :]
    assert Path(command[0]).name == "flock" and command[1] == "-n"
    assert command[2] == str(tmp_path / "data" / ".monitor.cron.lock")  # not the monitor's own lock
    assert command[3:] == [*monitor_command(), "-q", "run", "--config", config]
    assert all(Path(w).is_absolute() for w in (command[0], command[2], command[3], config))
    assert "Type=oneshot" in out and "Persistent=true" in out and "RandomizedDelaySec=" in out
    assert "OnCalendar=*-*-* 00/6:" in out and "WantedBy=timers.target" in out
    exec_start = next(line for line in out.splitlines() if line.startswith("ExecStart="))
    assert exec_start.endswith(f"-q run --config {config}")
    assert f"Environment=MONITOR_CONFIG={config}" in out and "SuccessExitStatus=75" in out


def test_schedule_needs_print_and_a_valid_config(tmp_path: Path) -> None:
    assert invoke("schedule", "--config", str(tmp_path / "missing.toml"), "--print").exit_code == 2
    (tmp_path / "imagery").mkdir()
    result = invoke("schedule", "--config", str(write_config(tmp_path)))
    assert result.exit_code == 2 and "--print" in result.output


def test_schedule_rejects_an_uneven_interval(config_path: Path) -> None:
    result = invoke("schedule", "--config", str(config_path), "--print", "--every", "7h")
    assert result.exit_code == 2 and "hours must divide 24" in result.output


def test_schedule_quotes_odd_paths_and_names_secrets(tmp_path: Path) -> None:
    folder = tmp_path / "my 100% sites"
    folder.mkdir()
    (folder / "imagery").mkdir()
    path = write_config(folder, "\n[email]\nenabled = true\n")
    config = load_config(path)
    cron = crontab(config, timedelta(hours=1), ("/opt/monitor env/bin/monitor",))
    entry = cron.splitlines()[-1]
    assert "\\%" in entry and "100% " not in entry  # cron would turn a bare % into a newline
    assert "/opt/monitor env/bin/monitor" in shlex.split(entry.replace("\\%", "%"))
    assert "MONITOR_SMTP_PASSWORD" in cron and "secret" not in cron.lower().replace("secret_", "")
    service, _ = systemd_units(config, timedelta(hours=1), ("/opt/monitor env/bin/monitor",))
    assert 'ExecStart="/opt/monitor env/bin/monitor" -q run --config "' in service
    assert "100%% sites" in service  # systemd specifiers escaped
    assert "EnvironmentFile=" in service


def test_monitor_command_is_the_running_executable(tmp_path: Path) -> None:
    script = tmp_path / "bin" / "monitor"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    assert monitor_command(str(script)) == (str(script),)
    assert monitor_command("/somewhere/pytest", "/usr/bin/python3") == ("/usr/bin/python3", "-m", "monitor")


# --- watch: the loop -----------------------------------------------------------------------------------------


class FakeClock:
    """Monotonic time that moves only when the loop sleeps or a pass takes time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SleepingStop(StopRequest):
    """A stop request whose wait advances the fake clock instead of sleeping, and stops after N waits."""

    def __init__(self, clock: FakeClock, waits: int) -> None:
        super().__init__()
        self.clock, self.waits, self.slept = clock, waits, []  # type: ignore[var-annotated]

    def wait(self, seconds: float) -> bool:
        self.slept.append(seconds)
        self.clock.now += seconds
        if len(self.slept) >= self.waits:
            self.event.set()
        return self.event.is_set()


def test_watch_goes_on_after_failed_and_locked_passes() -> None:
    clock = FakeClock()
    stop = SleepingStop(clock, waits=5)
    results: list[object] = [RunSummary(), MonitorError("disk full"), LockedError("held"), RuntimeError("bug")]
    results.append(RunSummary(errors=["site x: source y: down"]))
    reported: list[RunSummary] = []

    def run_pass() -> RunSummary:
        clock.now += 60  # each pass takes a minute
        result = results.pop(0)
        if isinstance(result, BaseException):
            raise result
        assert isinstance(result, RunSummary)
        return result

    outcomes = watch(run_pass, timedelta(hours=1), stop, report=reported.append, clock=clock)
    assert outcomes == [PassOutcome.OK, PassOutcome.FAILED, PassOutcome.SKIPPED, PassOutcome.FAILED, PassOutcome.FAILED]
    assert stop.slept == [3540.0] * 5  # fixed rate: a pass every hour, whatever it took
    assert len(reported) == 2


def test_a_pass_longer_than_the_interval_waits_for_the_next_start() -> None:
    assert next_start(0.0, 3600.0, 100.0) == 3600.0
    assert next_start(0.0, 3600.0, 7300.0) == 10800.0  # two starts skipped, none run twice in a row


def test_a_signal_during_a_pass_lets_it_finish() -> None:
    stop = StopRequest()
    finished: list[bool] = []

    def run_pass() -> RunSummary:
        stop(signal.SIGTERM, None)  # arrives in the middle of the pass
        finished.append(True)
        return RunSummary()

    assert watch(run_pass, timedelta(hours=6), stop) == [PassOutcome.OK]
    assert finished == [True]
    with pytest.raises(KeyboardInterrupt):
        stop(signal.SIGINT, None)  # a second signal aborts


# --- watch: a real process and a real SIGTERM ----------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MONITOR_CONFIG"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _wait_for(path: Path, text: str, proc: subprocess.Popen[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not seen; stderr so far:\n{path.read_text() if path.exists() else ''}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_watch_stops_cleanly_on_a_signal(synthetic_site, tmp_path: Path, sig: signal.Signals) -> None:  # type: ignore[no-untyped-def]
    config = synthetic_site(quiet=6, formations=())
    stderr = tmp_path / "stderr.txt"
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "watch", "--config", str(config), "--every", "6h"],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=_env(),
        )
        try:
            _wait_for(stderr, "next pass at", proc)  # the first pass is done, the loop sleeps
            proc.send_signal(sig)
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    text = stderr.read_text()
    assert proc.returncode == 0, text
    assert "6 new scene(s)" in text and "watch stopped after 1 pass(es)" in text
    assert "Traceback" not in text and out == ""


def test_watch_skips_a_pass_while_the_lock_is_held(synthetic_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from filelock import FileLock

    config = synthetic_site(quiet=3, formations=())
    data = config.parent / "data"
    data.mkdir()
    stderr = tmp_path / "stderr.txt"
    with FileLock(str(data / ".monitor.lock")), stderr.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "watch", "--config", str(config), "--every", "1h"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
            env=_env(),
        )
        try:
            _wait_for(stderr, "next pass at", proc)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    lines = [line for line in stderr.read_text().splitlines() if "skipped" in line]
    assert proc.returncode == 0
    assert len(lines) == 1 and "another monitor run holds the lock" in lines[0]


# --- what a pass prints --------------------------------------------------------------------------------------


def test_quiet_run_prints_errors_and_new_alerts_only(synthetic_site) -> None:  # type: ignore[no-untyped-def]
    config = synthetic_site()  # quiet dates, then a crowd and a vehicle formation
    first = invoke("-q", "run", "--config", str(config))
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert lines and all(line.startswith("monitor: NEW ") for line in lines), first.output
    assert len(lines) == len({line.split(" alert ")[1].split()[0] for line in lines})  # one line per alert
    assert any(" crowd alert " in line and "/square:" in line and "evidence /" in line for line in lines)
    assert first.stderr == ""  # no log line, no counts, no progress
    second = invoke("-q", "run", "--config", str(config))
    assert second.exit_code == 0 and second.output == ""  # nothing happened: nothing at all


def test_default_run_prints_the_counts(synthetic_site) -> None:  # type: ignore[no-untyped-def]
    config = synthetic_site(quiet=6, formations=())
    result = invoke("run", "--config", str(config))
    assert result.exit_code == 0 and result.stdout == ""
    assert "monitor: 6 new scene(s)" in result.stderr and " INFO " in result.stderr


def test_quiet_run_prints_one_line_per_error(synthetic_site) -> None:  # type: ignore[no-untyped-def]
    config = synthetic_site(quiet=6, formations=())
    text = config.read_text().replace('kind = "local"', 'kind = "local"', 1)
    text += '\n[[sources]]\nkind = "local"\npath = "broken.json"\n'
    (config.parent / "broken.json").write_text("{not json")
    config.write_text(text)
    result = invoke("-q", "run", "--config", str(config))
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert len(errors) == 1 and " ERROR " in errors[0] and "broken.json" in errors[0], result.stderr
    assert result.stdout == ""


def test_quiet_run_says_when_mail_is_not_going_out(synthetic_site) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import free_port

    config = synthetic_site()
    text = f'\n[email]\nenabled = true\nsmtp_host = "127.0.0.1"\nsmtp_port = {free_port()}\nsecurity = "none"\n'
    config.write_text(config.read_text() + text + "timeout = 2\n")
    result = invoke("-q", "run", "--config", str(config))
    assert result.exit_code == 0  # the message waits in the outbox for the next run
    assert result.stdout.startswith("monitor: NEW ")
    errors = result.stderr.splitlines()
    assert len(errors) == 1 and "not sent, kept in the outbox" in errors[0], result.stderr
