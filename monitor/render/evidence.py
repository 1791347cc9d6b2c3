"""The evidence picture of an alert: baseline, scene, band difference and change, zones and formations drawn."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.patheffects import withStroke

from monitor.archive.files import atomic_path
from monitor.detect.classes import FORMATION_CLASSES, VEHICLE_CLASSES
from monitor.render.outlines import (
    PERSONNEL_BASIS,
    VEHICLE_BASIS,
    Outline,
    detection_label,
    mask_geometry,
    rings_in_window,
    summary_line,
)
from monitor.render.stretch import Difference, percentile_limits, to_display

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


def draw_zones(
    ax: Any, zone_masks: Mapping[str, np.ndarray], labels: bool = True, avoid: Sequence[Box] = ()
) -> list[Box]:
    """Zone outlines (and their ids) on an image axis in pixel coordinates; returns the boxes the labels
    took. A label sits inside the picture (never over the panel title or outside the axes), clear of the
    boxes in ``avoid`` (north arrow, scale bar) and of the other zones' labels (:func:`label_position`)."""
    taken: list[Box] = list(avoid)
    placed: list[Box] = []
    for zone_id, mask in zone_masks.items():
        if not mask.any():
            continue
        # along the pixel edges: the boundary the formations' outlines are clipped to
        for ring in rings_in_window(mask_geometry(mask), (0, 0)):
            ax.plot(ring[:, 0], ring[:, 1], color=ZONE_COLOUR, linewidth=1.2)
        if labels:
            x, y, va, box = label_position(mask, zone_id, taken)
            ax.text(x, y, zone_id, color=ZONE_COLOUR, fontsize=8, va=va, path_effects=HALO, clip_on=True)
            taken.append(box)
            placed.append(box)
    return placed


#: A box in pixel coordinates of a panel: (col0, row0, col1, row1).
Box = tuple[float, float, float, float]


def label_position(mask: np.ndarray, text: str, taken: Sequence[Box]) -> tuple[float, float, str, Box]:
    """Where a zone's label goes: (x, y, vertical alignment, its box) in pixel coordinates.

    Tried in order: just above the zone's top-left corner, just below its bottom-left corner, inside its
    top-left corner; the first whose box lies inside the picture and overlaps none of ``taken``. The
    label's size is estimated from 8-point text on a panel about 400 points wide (one character ~1.6 % of
    the width, one line ~4 % of the height).
    """
    rows, cols = mask.shape
    r_idx, c_idx = np.nonzero(mask)
    top, bottom, left = float(r_idx.min()) - 0.5, float(r_idx.max()) + 0.5, float(c_idx.min()) - 0.5
    width, height = 0.016 * cols * max(len(text), 1), 0.045 * rows
    left = min(max(left, 0.0), max(cols - width, 0.0))
    candidates = (
        (left, top - 1.0, "bottom", (left, top - 1.0 - height, left + width, top - 1.0)),
        (left, bottom + 1.0, "top", (left, bottom + 1.0, left + width, bottom + 1.0 + height)),
        (left + 1.0, top + 1.0, "top", (left + 1.0, top + 1.0, left + 1.0 + width, top + 1.0 + height)),
    )
    for x, y, va, box in candidates:
        inside = box[0] >= -0.5 and box[1] >= -0.5 and box[2] <= cols - 0.5 and box[3] <= rows - 0.5
        if inside and not any(_overlap(box, other) for other in taken):
            return x, y, va, box
    return candidates[2]


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def corner_boxes(shape: tuple[int, ...]) -> list[Box]:
    """The boxes the north arrow (top right) and the scale bar (bottom left) take, pixel coordinates."""
    rows, cols = shape[0], shape[1]
    return [(cols * 0.86, -0.5, cols - 0.5, rows * 0.24), (-0.5, rows * 0.86, cols * 0.45, rows - 0.5)]


def legend_handles(classes: Sequence[str], numbered: bool) -> list[Any]:
    """One legend entry for every colour and mark the picture draws (``classes``: the formation classes
    outlined)."""
    handles: list[Any] = [Line2D([], [], color=ZONE_COLOUR, lw=1.6, label="zone outline and id")]
    for cls in FORMATION_CLASSES:
        if cls in classes:
            handles.append(Line2D([], [], color=CLASS_COLOURS[cls], lw=1.6, label=CLASS_LEGEND[cls]))
    if numbered and classes:
        handles.append(
            Line2D([], [], ls="", marker="$1$", color="black", markersize=7, label="number: formation in the list")
        )
    handles.append(
        Line2D([], [], color="white", lw=1.2, label="white rings (change panel): significant change", path_effects=HALO)
    )
    handles.append(Patch(facecolor=NODATA, edgecolor="0.3", lw=0.5, label="grey: no data (cloud, its margin, masked)"))
    return handles


#: What each formation colour outlines, for the legend.
CLASS_LEGEND = {
    "crowd-block": "troop-block blob (changed pixels, traced)",
    "vehicle-row": "vehicle row (changed pixels, traced)",
    "vehicle-park": "vehicle park (footprint: changed pixels and the gaps between them)",
}
NODATA = "#9a9a9a"


def evidence_figure(
    *,
    baseline_rgb: np.ndarray,
    scene_rgb: np.ndarray,
    difference: Difference,
    change: np.ndarray,
    threshold: float,
    zone_masks: Mapping[str, np.ndarray],
    outlines: Sequence[Outline],
    window_origin: tuple[int, int],
    title: str,
    subtitle: str,
    credit: str,
    corners: str,
    resolution: float,
    baseline_label: str = "Baseline",
    scene_label: str = "Scene",
    tall: bool = False,
) -> Figure:
    """The four-panel evidence figure: side by side, or stacked (``tall``, for a phone screen).

    Panels: the baseline and the scene (``baseline_rgb`` / ``scene_rgb``: (3, rows, cols) in the
    composite chosen by what changed, one stretch from the baseline's percentiles), the band that changed
    most (``difference``, diverging, zero white) and the change statistic (log scale from a tenth of the
    significance ``threshold``, white rings around the significant pixels). The formations among
    ``outlines`` are outlined in every panel, numbered on the scene (up to :data:`MAX_NUMBERED`) and listed
    under the panels with their areas and estimates, then the basis of the estimates, the definitions, the
    ``corners`` and the ``credit``; a legend names every colour and mark. ``resolution``: pixel size, m.
    """
    limits = percentile_limits(baseline_rgb)
    formations = [o for o in outlines if o.detection.cls in FORMATION_CLASSES]
    targets = sum(1 for o in outlines if o.detection.cls == "bright-target")
    others = len(outlines) - len(formations) - targets
    entries, numbered = _key_entries(formations, others, targets, resolution)
    rows, cols = change.shape
    if tall:
        width = 6.4
        panel_h = width * 0.86 * rows / cols
        key_h = 1.9 + 0.16 * len(entries)
        fig = Figure(figsize=(width, 4 * panel_h + 2.0 + key_h), layout="constrained")
        panels: Any = fig.subfigures(2, 1, height_ratios=[4 * panel_h + 2.0, key_h])
        axes = panels[0].subplots(4, 1, sharex=True, sharey=True)
    else:
        fig = Figure(figsize=(19, 6.9), layout="constrained")
        panels = fig.subfigures(2, 1, height_ratios=[5.3, 1.6])
        axes = panels[0].subplots(1, 4, sharex=True, sharey=True)
    top, bottom = panels[0], panels[1]
    axes[0].imshow(to_display(baseline_rgb, limits), interpolation="nearest")
    axes[0].set_title(baseline_label, fontsize=9)
    axes[1].imshow(to_display(scene_rgb, limits), interpolation="nearest")
    axes[1].set_title(scene_label, fontsize=9)
    diff = axes[2].imshow(
        difference.layer, cmap=DIFFERENCE_CMAP, vmin=-difference.limit, vmax=difference.limit, interpolation="nearest"
    )
    axes[2].set_title(
        f"Scene minus baseline, {difference.band} ({difference.name}):\nthe band that changed most here", fontsize=9
    )
    finite = change[np.isfinite(change)]
    vmax = max(float(np.nanpercentile(finite, 99.9)) if finite.size else threshold * 10, threshold * 10)
    shown = np.where(np.isfinite(change), np.maximum(change, threshold / 10), np.nan)
    im = axes[3].imshow(shown, cmap=CHANGE_CMAP, norm=LogNorm(vmin=threshold / 10, vmax=vmax), interpolation="nearest")
    axes[3].set_title("Change statistic against the baseline\n(white rings: significant)", fontsize=9)
    axes[3].contour(np.nan_to_num(change, nan=0.0) > threshold, levels=[0.5], colors="white", linewidths=0.6)
    bar: dict[str, Any] = (
        {"orientation": "horizontal", "shrink": 0.9, "pad": 0.02, "aspect": 30}
        if tall
        else {"shrink": 0.8, "pad": 0.01}
    )
    dbar = top.colorbar(diff, ax=axes[2], **bar)
    dbar.set_label(f"{difference.unit}, scene-wide offset removed (red: brighter)", fontsize=7)
    cbar = top.colorbar(im, ax=axes[3], **bar)
    (cbar.ax.axvline if tall else cbar.ax.axhline)(threshold, color="white", linewidth=2.0)
    cbar.set_label("change statistic, log scale (white bar: significance threshold)", fontsize=7)
    reserved = corner_boxes(change.shape)
    for ax in axes:
        ax.set_facecolor(NODATA)  # no data: neutral grey, never mistaken for cloud white
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes:
        draw_zones(ax, zone_masks, avoid=reserved)
    for number, outline in enumerate(formations, start=1):
        colour = CLASS_COLOURS[outline.detection.cls]
        rings = rings_in_window(outline.geometry, window_origin)
        for ax in axes:
            for ring in rings:
                ax.plot(ring[:, 0], ring[:, 1], color=colour, linewidth=1.0, solid_joinstyle="miter")
        if numbered and rings:
            ring = max(rings, key=len)
            right = int(np.argmax(ring[:, 0]))
            axes[1].text(
                ring[right, 0] + 0.6,
                ring[right, 1],
                str(number),
                color=colour,
                fontsize=7,
                va="center",
                path_effects=HALO,
                clip_on=True,
            )
    _scale_bar(axes[0], change.shape, resolution)
    _north_arrow(axes[0])
    heading = f"{title}\n{subtitle}"
    if tall:
        heading = "\n".join(textwrap.fill(line, 62) for line in heading.splitlines())
    top.suptitle(heading, fontsize=10 if tall else 11)
    classes = sorted({o.detection.cls for o in formations})
    _key(bottom, entries, _notes(classes, corners), credit, legend_handles(classes, numbered), tall)
    return fig


def render_evidence(path: Path, **picture: Any) -> Path:
    """Write :func:`evidence_figure` as a PNG, atomically."""
    return save_figure(evidence_figure(**picture), path)


def _notes(classes: Sequence[str], corners: str) -> list[str]:
    """The definitions behind the numbers, the estimates' basis, and the corner coordinates."""
    notes = ["changed area: pixels flagged as significant change."]
    if "crowd-block" in classes:
        notes.append(
            "blob: connected changed pixels; block: one ~20 m troop block, counted by area (merged blocks count "
            f"several). Estimate: {PERSONNEL_BASIS}."
        )
    if set(VEHICLE_CLASSES) & set(classes):
        notes.append(f"footprint: a park's changed pixels and the gaps between them. Estimate: {VEHICLE_BASIS}.")
    notes.append(corners)
    return notes


def _key_entries(
    formations: Sequence[Outline], others: int, targets: int = 0, resolution: float = 10.0
) -> tuple[list[str], bool]:
    """The lines under the picture: the formations numbered (class, areas, estimate) when there are at
    most :data:`MAX_NUMBERED`, else one summary line; the count of new bright radar targets
    (``targets``); and whether the formations are numbered."""
    numbered = len(formations) <= MAX_NUMBERED
    if numbered:
        entries = [
            f"{i:>2}  {o.zone}: {detection_label(o.detection, resolution)}" for i, o in enumerate(formations, start=1)
        ]
    else:
        entries = [f"{len(formations)} formations outlined (each one in the GeoJSON):"]
        entries += [f"  {part}" for part in summary_line(formations, resolution).split("; ")]
    if not entries:
        entries = ["no formation-like change outlined"]
    if targets:
        entries.append(f"+ {targets} new bright radar target(s) (metal; listed in the GeoJSON, not outlined)")
    if others:
        entries.append(f"+ {others} other changed region(s) (vegetation, other; not outlined)")
    return entries, numbered


def _key(
    fig: Any, entries: Sequence[str], notes: Sequence[str], credit: str, handles: Sequence[Any], tall: bool
) -> None:
    """The key: the formation list, the notes and the credit on the left, the legend on the right (below
    the text when ``tall``)."""
    if tall:
        text = "\n".join([*entries, "", *(textwrap.fill(n, 70) for n in notes)])
        fig.text(0.02, 0.98, text, fontsize=7, va="top", family="monospace")
        fig.legend(
            handles=handles,
            loc="lower left",
            bbox_to_anchor=(0.0, 0.06),
            fontsize=7,
            ncols=1,
            facecolor=LEGEND_FACE,
            framealpha=1.0,
        )
        fig.text(0.02, 0.01, credit, fontsize=7, color="dimgray")
        return
    half = max(1, -(-len(entries) // 2)) if len(entries) > 6 else len(entries)
    for column, start in enumerate(range(0, len(entries), half)):
        lines = entries[start : start + half]
        fig.text(0.01 + column * 0.3, 0.97, "\n".join(lines), fontsize=8, va="top", family="monospace")
    fig.text(0.01, 0.09, "\n".join(notes), fontsize=7.5, va="bottom", color="0.2")
    fig.text(0.01, 0.01, credit, fontsize=8, color="dimgray")
    fig.legend(
        handles=handles,
        loc="upper right",
        bbox_to_anchor=(0.995, 0.99),
        fontsize=8,
        ncols=2,
        facecolor=LEGEND_FACE,
        framealpha=1.0,
    )


#: The legend's background: light grey, so the white ring of the change panel shows.
LEGEND_FACE = "#c8c8c8"
#: Diverging colour map of a band difference: blue darker, red brighter, white unchanged (no red-green pair).
DIFFERENCE_CMAP = "RdBu_r"


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
