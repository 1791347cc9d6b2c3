"""The score timeline of one site: crowd and vehicle scores of every zone over time, alerts shaded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import matplotlib.dates as mdates
from matplotlib.figure import Figure

from monitor.archive.records import Alert, ScoreRecord
from monitor.config import AlertsConfig
from monitor.render.evidence import save_figure

KIND_STYLE = {"crowd": ("#1f77b4", "o"), "vehicle": ("#d62728", "s")}
LEVEL_SHADE = {"low": "#fde7a9", "medium": "#fbc276", "high": "#f4877a"}


def render_timeline(
    path: Path,
    title: str,
    scores: Sequence[ScoreRecord],
    alerts: Sequence[Alert],
    thresholds: AlertsConfig,
    credit: str,
) -> Path:
    """One panel per zone: crowd (blue circles) and vehicle (red squares) scores 0..1 by acquisition
    time, unusable observations as grey ticks at the bottom, the level thresholds as dashed lines and
    each alert's span shaded by its level (hatched when dismissed), its observations ringed in black."""
    zones = sorted({r.zone for r in scores}) or ["(no scores)"]
    fig = Figure(figsize=(10, 1.9 * len(zones) + 0.9), layout="constrained")
    axes = fig.subplots(len(zones), 1, sharex=True, squeeze=False)[:, 0]
    for ax, zone in zip(axes, zones, strict=True):
        rows = [r for r in scores if r.zone == zone and r.acquired]
        for kind, (colour, marker) in KIND_STYLE.items():
            values = [(r, _score(r, kind)) for r in rows]
            points = [(_t(r.acquired), v) for r, v in values if v is not None]
            if points:
                ax.plot(*zip(*points, strict=True), marker=marker, ms=4, lw=0.6, alpha=0.8, color=colour, label=kind)
        unusable = [_t(r.acquired) for r in rows if r.crowd_score is None and r.vehicle_score is None]
        if unusable:
            ax.plot(unusable, [0.02] * len(unusable), "|", color="grey", ms=8, label="no score (clouds)")
        for value, name in ((thresholds.threshold, "low"), (thresholds.medium, "medium"), (thresholds.high, "high")):
            ax.axhline(value, color="grey", lw=0.6, ls="--")
            ax.text(1.002, value, name, transform=ax.get_yaxis_transform(), fontsize=7, va="center", color="grey")
        for alert in (a for a in alerts if a.zone == zone):
            support = set(alert.scene_ids)
            marked = [(r, _score(r, alert.kind)) for r in rows if r.scene_id in support]
            ringed = [(_t(r.acquired), v) for r, v in marked if v is not None]
            if ringed:
                ax.plot(*zip(*ringed, strict=True), "o", ms=9, mfc="none", mec="black", mew=0.8)
            end = alert.resolved_at or alert.last_seen
            ax.axvspan(
                _t(alert.first_seen),
                _t(end),
                color=LEVEL_SHADE[alert.level],
                alpha=0.6,
                hatch="//" if alert.dismissed_at else None,
                lw=0,
            )
        ax.set_ylim(-0.02, 1.05)
        ax.set_ylabel("score")
        ax.set_title(zone, fontsize=9, loc="left")
        ax.grid(axis="x", color="#eeeeee")
        ax.set_axisbelow(True)
    axes[0].legend(fontsize=7, loc="upper left", ncols=3)
    axes[-1].xaxis.set_major_formatter(mdates.ConciseDateFormatter(axes[-1].xaxis.get_major_locator()))
    fig.suptitle(title, fontsize=11)
    fig.text(0.01, 0.002, credit, fontsize=7, color="dimgray")
    return save_figure(fig, path, dpi=100)


def _score(row: ScoreRecord, kind: str) -> float | None:
    return row.crowd_score if kind == "crowd" else row.vehicle_score


def _t(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)
