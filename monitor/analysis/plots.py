"""Analysis plots (matplotlib, no pyplot state): the score timeline and baseline / scene / change panels.

Both return a :class:`matplotlib.figure.Figure`, which Jupyter displays; ``fig.savefig(path)`` writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from monitor.detect.baseline import Baseline
from monitor.detect.scoring import SceneChange
from monitor.pipeline.evidence import baseline_rgb, display_rgb, zone_window
from monitor.render.evidence import credit_line
from monitor.render.stretch import percentile_limits, to_display
from monitor.scene import Scene

LEVEL_COLOURS = {"low": "#f2c94c", "medium": "#f2994a", "high": "#eb5757"}
KINDS = ("crowd", "vehicle")
#: Parades this many days after the last observation are still drawn (the one the data may be leading to).
PARADE_HORIZON_DAYS = 120


def timeline(
    scores: pd.DataFrame,
    alerts: pd.DataFrame,
    parades: pd.DataFrame | None = None,
    *,
    title: str = "",
    threshold: float | None = None,
    axes: tuple[Axes, Axes] | None = None,
) -> Figure:
    """Crowd (top) and vehicle (bottom) scores over time, one line per zone.

    Usable observations are filled dots joined by a line; unusable ones (cloudy, unreadable: ``usable``
    False) are grey crosses on the bottom edge, so gaps in the record are visible. Alerts are shaded from
    first seen to resolved (or last seen while firing), coloured by level. Parades from ``parades`` (a
    :meth:`Monitor.parades` table) within the plotted period are red vertical lines, their first publicly
    reported activity a dotted line; hard negatives a grey dash-dot line.
    """
    if axes is None:
        fig = Figure(figsize=(12, 6.5), layout="constrained")
        ax_list = list(fig.subplots(2, 1, sharex=True))
    else:
        ax_list = list(axes)
        fig = ax_list[0].get_figure()
    colours = _zone_colours(scores)
    for ax, kind in zip(ax_list, KINDS, strict=True):
        column = f"{kind}_score"
        for zone, rows in scores.groupby("zone", observed=True):
            if rows[column].isna().all():
                continue
            colour = colours[str(zone)]
            usable = rows[rows["usable"]]
            ax.plot(usable["acquired"], usable[column], "-o", color=colour, markersize=4, label=str(zone))
            cloudy = rows[~rows["usable"]]
            ax.plot(cloudy["acquired"], np.full(len(cloudy), -0.06), "x", color="0.55", markersize=5)
        _shade_alerts(ax, alerts[alerts["kind"].astype(str) == kind] if len(alerts) else alerts)
        if threshold is not None:
            ax.axhline(threshold, color="0.4", linestyle="--", linewidth=0.8)
        ax.set_ylim(-0.1, 1.05)
        ax.set_ylabel(f"{kind} score (0..1)")
        ax.grid(alpha=0.3)
    start, end = _period(scores)
    if parades is not None and start is not None and end is not None:
        end = _mark_parades(ax_list, parades, start, end)
    if start is not None and end is not None:
        pad = max((end - start) * 0.02, pd.Timedelta(days=1))
        ax_list[0].set_xlim(start - pad, end + pad)
    handles, labels = ax_list[0].get_legend_handles_labels()
    h2, l2 = ax_list[1].get_legend_handles_labels()
    for h, label in zip(h2, l2, strict=True):
        if label not in labels:
            handles.append(h)
            labels.append(label)
    extra: list[Any] = [Line2D([], [], color="0.55", marker="x", linestyle="", label="unusable (cloud / no data)")]
    extra += [Patch(color=c, alpha=0.25, label=f"alert: {lvl}") for lvl, c in LEVEL_COLOURS.items()]
    if threshold is not None:
        extra.append(Line2D([], [], color="0.4", linestyle="--", label="alert threshold"))
    if parades is not None:
        extra.append(Line2D([], [], color="red", label="parade"))
        extra.append(Line2D([], [], color="red", linestyle=":", label="first reported activity"))
    ax_list[0].legend(
        handles + extra,
        labels + [str(e.get_label()) for e in extra],
        loc="upper left",
        fontsize=7,
        ncol=2,
        framealpha=0.85,
    )
    ax_list[1].set_xlabel("acquisition date (UTC)")
    if title and axes is None:
        fig.suptitle(title)
    return fig


def _zone_colours(scores: pd.DataFrame) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    zones = sorted({str(z) for z in scores["zone"]})
    return {z: cmap(i % 10) for i, z in enumerate(zones)}


def _period(scores: pd.DataFrame) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    times = scores["acquired"].dropna()
    if times.empty:
        return None, None
    return times.min(), times.max()


def _shade_alerts(ax: Axes, alerts: pd.DataFrame) -> None:
    for _, alert in alerts.iterrows():
        end = alert["resolved_at"] if pd.notna(alert["resolved_at"]) else alert["last_seen"]
        if end <= alert["first_seen"]:
            end = alert["first_seen"] + pd.Timedelta(days=1)
        ax.axvspan(alert["first_seen"], end, color=LEVEL_COLOURS.get(str(alert["level"]), "0.7"), alpha=0.25, lw=0)


def _mark_parades(axes: list[Axes], parades: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Timestamp:
    """Draw the parades and hard negatives that fall in the period (or shortly after it); the new end."""
    horizon = end + pd.Timedelta(days=PARADE_HORIZON_DAYS)
    last = end
    for _, row in parades.iterrows():
        if row["kind"] == "negative":
            when = row["first_reported_activity"]
            if pd.notna(when) and start <= when <= end:
                for ax in axes:
                    ax.axvline(when, color="0.45", linestyle="-.", linewidth=1.0)
                axes[0].annotate(
                    f"no parade: {row['occasion']}",
                    (when, 1.0),
                    rotation=90,
                    fontsize=6,
                    va="top",
                    ha="right",
                    color="0.35",
                )
            continue
        when = row["parade_date"]
        if pd.isna(when) or not (start <= when <= horizon):
            continue
        last = max(last, when)
        for ax in axes:
            ax.axvline(when, color="red", linewidth=1.5)
            reported = row["first_reported_activity"]
            if pd.notna(reported) and reported >= start - pd.Timedelta(days=1):
                ax.axvline(reported, color="red", linestyle=":", linewidth=1.2)
        label = f"{when:%Y-%m-%d} {row['occasion']}"
        axes[0].annotate(
            label if len(label) <= 48 else label[:47] + "…",
            (when, 1.0),
            rotation=90,
            fontsize=7,
            va="top",
            ha="right",
            color="red",
            annotation_clip=False,
        )
    return last


def panels(
    scene: Scene,
    baseline: Baseline,
    change: SceneChange,
    masks: Mapping[str, np.ndarray],
    *,
    zone: str | None = None,
    site: str = "",
) -> Figure:
    """Baseline (per-pixel median) / scene / change statistic, the same stretch for both images, zones in
    cyan, classified detections (troop blocks, vehicle rows and parks) in yellow; the whole site or the
    window around ``zone``. Simulated imagery says so in the title and the credit line."""
    if zone is not None:
        rows, cols = zone_window(masks[zone])
    else:
        rows, cols = slice(0, scene.shape[0]), slice(0, scene.shape[1])
    base = baseline_rgb(baseline, (rows, cols))
    now = display_rgb(scene, baseline.bands, (rows, cols))
    stat = change.statistic[rows, cols]
    limits = percentile_limits(base)
    fig = Figure(figsize=(15, 5.4), layout="constrained")
    axes = fig.subplots(1, 3, sharex=True, sharey=True)
    axes[0].imshow(to_display(base, limits), interpolation="nearest")
    axes[0].set_title(f"baseline v{baseline.version} (median of {len(baseline.scene_ids)} scenes)")
    axes[1].imshow(to_display(now, limits), interpolation="nearest")
    axes[1].set_title(f"scene {scene.scene_id}")
    t = change.threshold
    finite = stat[np.isfinite(stat)]
    if finite.size and np.isfinite(t) and t > 0:
        vmax = max(float(np.nanpercentile(finite, 99.9)), t * 10)
        shown = np.where(np.isfinite(stat), np.maximum(stat, t / 10), np.nan)
        im = axes[2].imshow(shown, cmap="magma", norm=LogNorm(vmin=t / 10, vmax=vmax), interpolation="nearest")
        significant = np.nan_to_num(stat, nan=0.0) > t
        if significant.any():
            axes[2].contour(significant, levels=[0.5], colors="white", linewidths=0.6)
        axes[2].set_title("change statistic (log; white = significant)")
        fig.colorbar(im, ax=axes[2], shrink=0.8).set_label("sum of squared robust z over bands")
    else:
        # a fully clouded (or unreadable) window: nothing was compared, so there is no statistic to stretch
        axes[2].imshow(np.full(stat.shape, np.nan), interpolation="nearest")
        axes[2].set_title("change statistic: nothing compared")
        axes[2].text(
            0.5,
            0.5,
            "no usable pixel here\n(cloud, or outside the image):\nno change can be measured",
            transform=axes[2].transAxes,
            ha="center",
            va="center",
            fontsize=10,
            color="black",
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
        )
    for ax in axes:
        ax.set_facecolor("#9a9a9a")
        for zone_id, mask in masks.items():
            sub = mask[rows, cols]
            if sub.any():
                ax.contour(sub.astype(float), levels=[0.5], colors="cyan", linewidths=0.9)
                r, c = np.nonzero(sub)
                ax.text(c.min(), r.min() - 1, zone_id, color="cyan", fontsize=7, va="bottom")
        ax.set_xticks([])
        ax.set_yticks([])
    res = float(scene.transform.a)
    for zs in change.zones:
        for det in zs.detections:
            if det.cls not in {"crowd-block", "vehicle-row", "vehicle-park"}:
                continue
            r, c = det.row - rows.start, det.col - cols.start
            if not (0 <= r < stat.shape[0] and 0 <= c < stat.shape[1]):
                continue
            half = max(det.length_m / res / 2.0, 1.5)
            for ax in axes[1:]:
                ax.add_patch(
                    Rectangle((c - half, r - half), 2 * half, 2 * half, fill=False, edgecolor="yellow", lw=0.8)
                )
    scores = ", ".join(
        f"{z.zone}: crowd {_fmt(z.crowd_score)} vehicle {_fmt(z.vehicle_score)}"
        for z in change.zones
        if zone is None or z.zone == zone
    )
    label = "SIMULATED - " if scene.simulated else ""
    fig.suptitle(f"{label}{site} {scene.sensor} {scene.acquired:%Y-%m-%d %H:%M} UTC\n{scores}", fontsize=10)
    fig.text(
        0.01,
        0.005,
        credit_line(scene.simulated, scene.acquired.year) + "   grey = no data / masked",
        fontsize=8,
        color="dimgray",
    )
    return fig


def _fmt(score: float | None) -> str:
    return "n/a" if score is None else f"{score:.2f}"
