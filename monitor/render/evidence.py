"""The evidence picture of an alert: baseline, scene and change side by side, zones and detections drawn."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle
from matplotlib.patheffects import withStroke

from monitor.archive.files import atomic_path
from monitor.detect.classes import FORMATION_CLASSES
from monitor.detect.formations import Detection, describe
from monitor.render.outlines import detection_label, detection_outline
from monitor.render.stretch import percentile_limits, to_display

#: Formation classes (``detect.classes.FORMATION_CLASSES``) are outlined and labelled; the others only counted.
#: Outline colour per formation class, distinguishable on grass, concrete and the magma colour map.
CLASS_COLOURS = {"crowd-block": "#ffd400", "vehicle-row": "#00e5ff", "vehicle-park": "#ff4dd2"}
ZONE_COLOUR = "#7CFC00"
HALO = [withStroke(linewidth=2.2, foreground="black")]
#: The colour map of change: perceptually uniform, readable in grey print, no red-green pair.
CHANGE_CMAP = "magma"
#: Up to this many formations are numbered on the scene panel and listed one by one.
MAX_NUMBERED = 12


def credit_line(simulated: bool, year: int) -> str:
    """The credit to print on every picture made from the imagery (``year`` 0: unknown)."""
    if simulated:
        return "Simulated imagery (monitor.simulate), not Copernicus Sentinel data"
    return (
        f"Contains modified Copernicus Sentinel data {year}" if year else "Contains modified Copernicus Sentinel data"
    )


def save_figure(fig: Figure, path: Path, dpi: int = 110) -> Path:
    """Write a figure as PNG atomically (never a half-written PNG)."""
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return path


def draw_zones(ax: Any, zone_masks: Mapping[str, np.ndarray], labels: bool = True) -> None:
    """Zone outlines (and their ids) on an image axis in pixel coordinates."""
    for zone_id, mask in zone_masks.items():
        if not mask.any():
            continue
        ax.contour(mask.astype(float), levels=[0.5], colors=ZONE_COLOUR, linewidths=1.2)
        if labels:
            rows, cols = np.nonzero(mask)
            ax.text(
                cols.min(), rows.min() - 1.5, zone_id, color=ZONE_COLOUR, fontsize=8, va="bottom", path_effects=HALO
            )


def render_evidence(
    path: Path,
    *,
    baseline_rgb: np.ndarray,
    scene_rgb: np.ndarray,
    change: np.ndarray,
    threshold: float,
    zone_masks: Mapping[str, np.ndarray],
    detections: Sequence[tuple[str, Detection]],
    title: str,
    subtitle: str,
    credit: str,
    resolution: float,
    baseline_label: str = "Baseline",
    scene_label: str = "Scene",
    tall: bool = False,
) -> Path:
    """Write the three-panel evidence PNG: side by side, or stacked (``tall``, for a phone screen).

    ``baseline_rgb`` and ``scene_rgb`` are (3, rows, cols) true colour (or one band repeated) shown with
    the same stretch (percentiles of the baseline); ``change`` is the per-pixel change statistic, drawn on
    a log scale from a tenth of the significance ``threshold``; ``detections`` are (zone, detection) pairs
    whose formations are outlined in every panel, numbered on the scene (up to :data:`MAX_NUMBERED`) and
    listed with their class and estimate under the panels. ``resolution`` is the pixel size in metres
    (for the scale bar).
    """
    limits = percentile_limits(baseline_rgb)
    formations = [(z, d) for z, d in detections if d.cls in FORMATION_CLASSES]
    targets = sum(1 for _, d in detections if d.cls == "bright-target")
    others = len(detections) - len(formations) - targets
    entries, numbered = _key_entries(formations, others, targets, resolution)
    columns = 1 if tall or not numbered else 3
    rows, cols = change.shape
    if tall:
        width = 6.4
        panel_h = width * 0.86 * rows / cols
        key_h = 0.45 + 0.16 * len(entries)
        fig = Figure(figsize=(width, 3 * panel_h + 1.8 + key_h), layout="constrained")
        panels: Any = fig.subfigures(2, 1, height_ratios=[3 * panel_h + 1.8, key_h])
        axes = panels[0].subplots(3, 1, sharex=True, sharey=True)
    else:
        fig = Figure(figsize=(15, 6.9), layout="constrained")
        panels = fig.subfigures(2, 1, height_ratios=[5.9, 1.0])
        axes = panels[0].subplots(1, 3, sharex=True, sharey=True)
    top, bottom = panels[0], panels[1]
    axes[0].imshow(to_display(baseline_rgb, limits), interpolation="nearest")
    axes[0].set_title(baseline_label, fontsize=10)
    axes[1].imshow(to_display(scene_rgb, limits), interpolation="nearest")
    axes[1].set_title(scene_label, fontsize=10)
    finite = change[np.isfinite(change)]
    vmax = max(float(np.nanpercentile(finite, 99.9)) if finite.size else threshold * 10, threshold * 10)
    shown = np.where(np.isfinite(change), np.maximum(change, threshold / 10), np.nan)
    im = axes[2].imshow(shown, cmap=CHANGE_CMAP, norm=LogNorm(vmin=threshold / 10, vmax=vmax), interpolation="nearest")
    axes[2].set_title("Change against the baseline (white line: significant)", fontsize=10)
    axes[2].contour(np.nan_to_num(change, nan=0.0) > threshold, levels=[0.5], colors="white", linewidths=0.6)
    if tall:
        cbar = top.colorbar(im, ax=axes[2], orientation="horizontal", shrink=0.9, pad=0.02, aspect=30)
        cbar.ax.axvline(threshold, color="white", linewidth=2.0)
    else:
        cbar = top.colorbar(im, ax=axes[2], shrink=0.9, pad=0.01)
        cbar.ax.axhline(threshold, color="white", linewidth=2.0)
    cbar.set_label("change statistic, log scale (white bar: significance threshold)", fontsize=8)
    for ax in axes:
        ax.set_facecolor("#9a9a9a")  # no data: neutral grey, never mistaken for cloud white
        draw_zones(ax, zone_masks)
        ax.set_xticks([])
        ax.set_yticks([])
    for number, (_zone, det) in enumerate(formations, start=1):
        ring = detection_outline(det, resolution)
        colour = CLASS_COLOURS[det.cls]
        for ax in axes:
            ax.add_patch(Polygon(ring, closed=True, fill=False, edgecolor=colour, linewidth=1.0))
        if numbered:
            right = float(ring[:, 0].max())
            axes[1].text(right + 0.6, det.row, str(number), color=colour, fontsize=7, va="center", path_effects=HALO)
    _scale_bar(axes[0], change.shape, resolution)
    _north_arrow(axes[0])
    heading = f"{title}\n{subtitle}"
    if tall:
        heading = "\n".join(textwrap.fill(line, 62) for line in heading.splitlines())
    top.suptitle(heading, fontsize=10 if tall else 11)
    _key(bottom, entries, credit, columns)
    return save_figure(fig, path)


def _key_entries(
    formations: Sequence[tuple[str, Detection]], others: int, targets: int = 0, resolution: float = 10.0
) -> tuple[list[str], bool]:
    """The lines under the picture: the formations numbered (class, area, estimate) when there are at most
    :data:`MAX_NUMBERED`, else one summary line per class (troop blocks counted at ``resolution`` metres);
    the count of new bright radar targets (``targets``); and whether the formations are numbered."""
    numbered = len(formations) <= MAX_NUMBERED
    if numbered:
        entries = [f"{i}  {zone}: {detection_label(det)}" for i, (zone, det) in enumerate(formations, start=1)]
    else:
        entries = [f"{len(formations)} formations outlined (each one in the GeoJSON):"]
        entries += [f"  {part}" for part in describe([d for _, d in formations], resolution).split("; ")]
    if not entries:
        entries = ["no formation-like change outlined"]
    if targets:
        entries.append(f"+ {targets} new bright radar target(s) (metal; listed in the GeoJSON, not outlined)")
    if others:
        entries.append(f"+ {others} other changed region(s) (vegetation, other; not outlined)")
    return entries, numbered


def _key(fig: Any, entries: Sequence[str], credit: str, columns: int) -> None:
    """The key lines in ``columns`` columns, then the credit line."""
    per_column = max(1, -(-len(entries) // columns))
    for column in range(columns):
        lines = entries[column * per_column : (column + 1) * per_column]
        fig.text(0.01 + column * 0.33, 0.95, "\n".join(lines), fontsize=8, va="top", family="monospace")
    fig.text(0.01, 0.02, credit + "   |   grey: no data, cloud or masked", fontsize=8, color="dimgray")


def _north_arrow(ax: Any) -> None:
    """North is up on every site grid (north-up transforms): an arrow in the top-right corner."""
    ax.annotate(
        "N",
        xy=(0.94, 0.95),
        xytext=(0.94, 0.80),
        xycoords="axes fraction",
        ha="center",
        va="top",
        color="white",
        fontsize=10,
        fontweight="bold",
        arrowprops={"arrowstyle": "-|>", "color": "white", "linewidth": 2},
        path_effects=HALO,
    )


def _scale_bar(ax: Any, shape: tuple[int, ...], resolution: float) -> None:
    """A white scale bar of a round length (about a quarter of the width) in the bottom-left corner."""
    width_m = shape[1] * resolution
    nice = next((v for v in (10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10) if v <= width_m / 4), 10)
    px = nice / resolution
    x0, y0 = shape[1] * 0.05, shape[0] * 0.93
    ax.add_patch(Rectangle((x0, y0), px, max(shape[0] * 0.012, 0.6), facecolor="white", edgecolor="black", lw=0.5))
    label = f"{nice / 1000:g} km" if nice >= 1000 else f"{nice} m"
    ax.text(x0, y0 - shape[0] * 0.015, label, color="white", fontsize=8, path_effects=HALO)
