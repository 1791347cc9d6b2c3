"""Unattended running: the pass interval, and the crontab line and systemd units that run ``monitor run``.

``monitor schedule --print`` writes what :func:`crontab` and :func:`systemd_units` return; nothing is
installed. Both run ``monitor -q run --config /abs/config.toml`` with absolute paths only, because neither
cron nor systemd starts in the user's shell: cron's ``PATH`` is ``/usr/bin:/bin`` and it sets no
``MONITOR_CONFIG``; a ``%`` in a crontab command is a newline; a systemd ``ExecStart`` expands ``%``
specifiers. Credentials are never written into these files: they are named, for an environment file.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from monitor.config import Config

_UNITS = {"m": 60, "h": 3600, "d": 86400}
_EVERY = re.compile(r"^\s*(\d+)\s*([mhd])\s*$", re.IGNORECASE)

#: The shortest pass interval: a pass searches every source, and providers rate-limit.
MIN_EVERY = timedelta(minutes=1)
#: The longest: a site is "blind" after ``health.blind_days`` (30), so a pass at least weekly.
MAX_EVERY = timedelta(days=7)


def parse_every(text: str) -> timedelta:
    """``30m``, ``6h``, ``1d`` (a whole number and one unit: m, h or d) as a timedelta, 1 min to 7 days.

    Raises ValueError with the accepted forms otherwise.
    """
    match = _EVERY.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not an interval: write a whole number and a unit, e.g. 30m, 6h or 1d")
    every = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2).lower()])
    if not MIN_EVERY <= every <= MAX_EVERY:
        raise ValueError(f"{text!r} is outside 1m..7d")
    return every


def format_every(every: timedelta) -> str:
    """The interval in its largest whole unit (``6h``, ``90m``, ``1d``)."""
    seconds = int(every.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class Calendar:
    """When passes start, as both cron and systemd can say it: every ``step`` minutes, hours or days
    at ``minute`` past the hour (and ``hour`` for daily passes), in the machine's time zone (cron's and
    systemd's default)."""

    unit: str  # "m" | "h" | "d"
    step: int
    minute: int
    hour: int

    def cron(self) -> str:
        """The five crontab time fields."""
        if self.unit == "m":
            return f"{self.minute}-59/{self.step} * * * *" if self.minute else f"*/{self.step} * * * *"
        if self.unit == "h":
            hours = "*" if self.step == 1 else f"*/{self.step}"
            return f"{self.minute} {hours} * * *"
        return f"{self.minute} {self.hour} * * *"

    def on_calendar(self) -> str:
        """The systemd ``OnCalendar=`` expression (``systemd.time(7)``) for the same times."""
        if self.unit == "m":
            return f"*-*-* *:{self.minute:02d}/{self.step}:00"
        if self.unit == "h":
            return f"*-*-* 00/{self.step}:{self.minute:02d}:00"
        return f"*-*-* {self.hour:02d}:{self.minute:02d}:00"


def calendar(every: timedelta, seed: str) -> Calendar:
    """The calendar of ``every``; its minute (and hour) are spread by ``seed`` (the config path), so that
    many monitors do not all search a provider on the hour.

    Raises ValueError for an interval a calendar cannot repeat evenly (cron restarts its steps at each
    hour and day): minutes must divide 60, hours 24, and days must be 1.
    """
    minutes = int(every.total_seconds()) // 60
    spread = int(hashlib.sha256(seed.encode()).hexdigest(), 16)
    if minutes < 60:
        if 60 % minutes:
            raise ValueError(f"every {format_every(every)} cannot be scheduled evenly: minutes must divide 60")
        return Calendar("m", minutes, spread % minutes, 0)
    if minutes % 60 == 0 and minutes < 24 * 60:
        hours = minutes // 60
        if 24 % hours:
            raise ValueError(f"every {format_every(every)} cannot be scheduled evenly: hours must divide 24")
        return Calendar("h", hours, spread % 60, 0)
    if minutes == 24 * 60:
        return Calendar("d", 1, spread % 60, (spread // 60) % 24)
    raise ValueError(
        f"every {format_every(every)} cannot be scheduled evenly by cron: use minutes dividing 60, hours dividing "
        "24, or 1d (or `monitor watch --every` for any interval)"
    )


def monitor_command(argv0: str | None = None, executable: str | None = None) -> tuple[str, ...]:
    """The command that starts this monitor: the ``monitor`` script actually running, else
    ``python -m monitor`` with this interpreter; absolute either way."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    script = Path(argv0)
    if script.name == "monitor" and script.is_file():
        return (os.path.abspath(script),)
    return (os.path.abspath(executable or sys.executable), "-m", "monitor")


def environment(config: Config, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a pass needs in its environment that cron and systemd do not give: ``MONITOR_CONFIG``, and
    ``PYTHONPATH`` (absolute) when this monitor was started with one, so the same code runs."""
    env = os.environ if env is None else env
    out = {"MONITOR_CONFIG": str(config_file(config))}
    if env.get("PYTHONPATH"):
        out["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep) if p)
    return out


def run_command(config: Config, command: Sequence[str]) -> tuple[str, ...]:
    """``monitor -q run --config /abs/config.toml``: quiet (prints only errors and new alerts)."""
    return (*command, "-q", "run", "--config", str(config_file(config)))


def config_file(config: Config) -> Path:
    """The config's absolute path."""
    if config.path is None:
        raise ValueError("the config was not read from a file; `monitor schedule` needs one")
    return config.path.resolve()


def needed_secrets(config: Config) -> list[str]:
    """The environment variables this config's sources and email use (names only, never values)."""
    names = []
    if any(s.kind == "sentinelhub" and s.profile is None for s in config.sources):
        names += ["SH_CLIENT_ID", "SH_CLIENT_SECRET"]
    if config.email.enabled:
        names += ["MONITOR_SMTP_USER", "MONITOR_SMTP_PASSWORD"]
    return names


def unit_name(config: Config) -> str:
    """``monitor`` for ``monitor.toml``, else ``monitor-<config stem>`` ([a-z0-9-] only)."""
    stem = re.sub(r"[^a-z0-9-]+", "-", config_file(config).stem.lower()).strip("-")
    return "monitor" if stem in {"", "monitor"} else f"monitor-{stem}"


def _cron_quote(word: str) -> str:
    """A shell word for a crontab command line, whose ``%`` cron would otherwise turn into a newline."""
    return shlex.quote(word).replace("%", "\\%")


def _systemd_quote(word: str) -> str:
    """A word for ``ExecStart=`` (``systemd.service(5)`` quoting; ``%`` specifiers escaped)."""
    word = word.replace("%", "%%")
    if re.search(r"[\s\"'\\;$]", word):
        return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return word


def crontab(config: Config, every: timedelta, command: Sequence[str]) -> str:
    """Comments, then one self-contained crontab line: the environment cron lacks (``PATH``,
    ``MONITOR_CONFIG``) set for this command only, and the pass under ``flock -n``.

    ``flock -n`` on ``data_dir/.monitor.cron.lock`` skips a start while the previous pass still runs,
    without output (so cron mails nothing); the monitor's own lock (``data_dir/.monitor.lock``, exit 75)
    still guards against a ``monitor run`` started by hand. They are two files on purpose: ``flock``
    holding the monitor's own lock would make every run find it taken.
    """
    cal = calendar(every, str(config_file(config)))
    path = os.pathsep.join(dict.fromkeys([str(Path(command[0]).parent), "/usr/local/bin", "/usr/bin", "/bin"]))
    env = {"PATH": path, **environment(config)}
    flock = shutil.which("flock") or "/usr/bin/flock"
    words = (flock, "-n", str(config.data_dir / ".monitor.cron.lock"), *run_command(config, command))
    assignments = " ".join(f"{k}={_cron_quote(v)}" for k, v in env.items())
    secrets = needed_secrets(config)
    lines = [
        f"# monitor: a pass every {format_every(every)} for {config_file(config)} (add with `crontab -e`).",
        "# cron mails whatever a pass prints; with -q that is only errors and new alerts.",
        f"# flock needs {config.data_dir} to exist: run `monitor run` once by hand first.",
    ]
    if secrets:
        lines.append(f"# This config needs {', '.join(secrets)} in the environment: add NAME=value lines above")
        lines.append("# this one (a crontab only your account can read), never in the config file.")
    lines.append(f"{cal.cron()} {assignments} {' '.join(_cron_quote(w) for w in words)}")
    return "\n".join(lines) + "\n"


def systemd_units(config: Config, every: timedelta, command: Sequence[str]) -> tuple[str, str]:
    """A ``.service`` (Type=oneshot: systemd never starts it again while a pass runs, so it needs no
    ``flock``) and a ``.timer`` (``Persistent=true``: a pass missed while the machine was off runs at
    boot; ``RandomizedDelaySec``: monitors started together do not search a provider at the same second).
    """
    cal = calendar(every, str(config_file(config)))
    name = unit_name(config)
    exec_start = " ".join(_systemd_quote(w) for w in run_command(config, command))
    secrets = needed_secrets(config)
    env_file = (
        [
            f"# {', '.join(secrets)}: put them in this file (NAME=value lines, chmod 600)",
            f"EnvironmentFile=%h/.config/monitor/{name}.env",
        ]
        if secrets
        else []
    )
    delay = min(every / 10, timedelta(minutes=15))
    service = "\n".join(
        [
            f"# ~/.config/systemd/user/{name}.service",
            "[Unit]",
            f"Description=monitor: one pass for {config_file(config)}",
            "Wants=network-online.target",
            "After=network-online.target",
            "",
            "[Service]",
            "Type=oneshot",
            *(f"Environment={_systemd_quote(f'{k}={v}')}" for k, v in environment(config).items()),
            *env_file,
            f"WorkingDirectory={_systemd_quote(str(config_file(config).parent))}",
            f"ExecStart={exec_start}",
            "# 75: another run held the lock (a pass started by hand); this pass is skipped, not failed",
            "SuccessExitStatus=75",
            "Nice=10",
            f"# its output: journalctl --user -u {name}",
            "",
        ]
    )
    timer = "\n".join(
        [
            f"# ~/.config/systemd/user/{name}.timer",
            "# then: systemctl --user daemon-reload && systemctl --user enable --now " + f"{name}.timer",
            "#       loginctl enable-linger $USER   (so passes run while you are logged out)",
            "[Unit]",
            f"Description=monitor: a pass every {format_every(every)} for {config_file(config)}",
            "",
            "[Timer]",
            f"OnCalendar={cal.on_calendar()}",
            "Persistent=true",
            f"RandomizedDelaySec={int(delay.total_seconds())}",
            "AccuracySec=1min",
            "",
            "[Install]",
            "WantedBy=timers.target",
            "",
        ]
    )
    return service, timer
