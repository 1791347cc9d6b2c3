"""What a pass prints: one summary line by default; with ``-q`` only new alerts and health notices
(errors are log lines on stderr at every verbosity), so a cron pass that found nothing prints nothing."""

from __future__ import annotations

from pathlib import Path

from monitor.archive.records import Alert
from monitor.pipeline.summary import RunSummary

#: Alert changes ``-q`` prints: an alert that is new, or raised to a higher level (the ones a
#: notification calls NEW and RAISED); resolutions and reminders are left to the message.
NEW_ACTIONS = {"opened": "NEW", "raised": "RAISED"}
#: How a pass over simulated imagery (``monitor demo``) starts its summary line.
SIMULATED_WORD = "SIMULATED DATA: "


def summary_line(summary: RunSummary, data_dir: Path) -> str:
    """The counts of one pass (default verbosity, stderr); SIMULATED first when the archive is the simulator's."""
    simulated = SIMULATED_WORD if summary.simulated else ""
    return (
        f"monitor: {simulated}{summary.new_scenes} new scene(s), {summary.failed_scenes} failed, "
        f"{summary.empty_scenes} empty, {summary.scored_scenes} scored, {len(summary.alert_changes)} alert change(s), "
        f"{summary.messages_queued} message(s) queued, {summary.messages_pending} pending; archive {data_dir}"
    )


def error_line(summary: RunSummary) -> str | None:
    """The closing line of a pass with problems (default verbosity; with ``-q`` each was logged already)."""
    if not summary.errors:
        return None
    return f"monitor: error: {len(summary.errors)} problem(s) this run, first: {summary.errors[0]}"


def new_alert_lines(summary: RunSummary) -> list[str]:
    """One line per alert that is new or raised in this pass (its state at the end of the pass)."""
    latest: dict[str, tuple[str, Alert]] = {}
    for change in summary.alert_changes:
        word = NEW_ACTIONS.get(change.action)
        if word is None:
            continue
        if change.alert.id in latest and latest[change.alert.id][0] == "NEW":
            word = "NEW"
        latest[change.alert.id] = (word, change.alert)
    lines = []
    for word, a in latest.values():
        shown = f", evidence {a.evidence[-1]}" if a.evidence else ""
        more = f" (+{len(a.evidence) - 1} more)" if len(a.evidence) > 1 else ""
        lines.append(
            f"monitor: {word} {a.level} {a.kind} alert {a.id} at {a.site}/{a.zone}: score {a.score:.2f}, "
            f"seen {a.first_seen} .. {a.last_seen}{shown}{more}{' [SIMULATED]' if summary.simulated else ''}"
        )
    return lines


def quiet_lines(summary: RunSummary) -> list[str]:
    """Everything ``-q`` prints on stdout: new alerts, then health notices queued in this pass."""
    return [*new_alert_lines(summary), *health_lines(summary)]


def health_lines(summary: RunSummary) -> list[str]:
    """One line per site or source that went blind, or sees again, in this pass."""
    return [
        f"monitor: {'BLIND' if c.blind else 'SEEING AGAIN'} {c.subject} {c.name}: {c.reason}"
        for c in summary.health_changes
    ]
