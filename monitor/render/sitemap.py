"""A site's zones drawn over a scene (``monitor sites --map``), to check by eye that each zone sits on
what it is meant to watch (``configs/pyongyang.toml`` places several from written descriptions).

The zones are drawn as their configured polygons (not the rasterised masks), in the grid's pixel
coordinates, labelled with id and kind; axes carry longitude and latitude ticks so a misplaced corner
can be read off and corrected in the config; a scale bar gives distances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.patheffects as pe
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Polygon as PolygonPatch
from matplotlib.patches import Rectangle

from monitor.render.evidence import save_figure
from monitor.render.stretch import percentile_limits, to_display

#: Outline colour per zone kind; the legend says which is which.
KIND_COLOUR = {"crowd": "#00e5ff", "vehicle": "#ffb300", "any": "#e040fb"}
_HALO = [pe.withStroke(linewidth=2.5, foreground="black")]


@dataclass(frozen=True)
class ZoneOutline:
    """A zone's exterior rings in grid pixel coordinates (column, row), with what to label it."""

    zone: str
    kind: str
    rings: tuple[np.ndarray, ...]  # each (n, 2): x = column, y = row, pixel edges at integers


@dataclass(frozen=True)
class AxisTicks:
    """Where to put longitude / latitude ticks: pixel positions and their labels."""

    x: tuple[tuple[float, str], ...]
    y: tuple[tuple[float, str], ...]


def render_site_map(
    path: Path,
    rgb: np.ndarray | None,
    shape: tuple[int, int],
    outlines: Sequence[ZoneOutline],
    ticks: AxisTicks,
    resolution_m: float,
    title: str,
    credit: str,
) -> Path:
    """Write the map: ``rgb`` (3, rows, cols) reflectance with NaN where not clear, or None for no scene
    (a grey grid, said in the title); zones outlined by kind; lon/lat ticks; scale bar; credit line."""
    rows, cols = shape
    aspect = rows / max(cols, 1)
    fig = Figure(figsize=(9, max(4.0, 9 * aspect) + 1.0), layout="constrained")
    ax = fig.subplots()
    ax.set_facecolor("#9a9a9a")
    if rgb is not None:
        limits = percentile_limits(rgb)
        ax.imshow(to_display(rgb, limits), interpolation="nearest", extent=(0, cols, rows, 0))
    else:
        ax.imshow(np.full(shape, np.nan), extent=(0, cols, rows, 0))
    for outline in outlines:
        colour = KIND_COLOUR.get(outline.kind, "white")
        for ring in outline.rings:
            ax.add_patch(PolygonPatch(ring, closed=True, fill=False, edgecolor=colour, lw=1.6))
        top = min(outline.rings, key=lambda r: float(r[:, 1].min()))
        x, y = float(top[:, 0].min()), float(top[:, 1].min())
        ax.text(x, y - 1, outline.zone, color=colour, fontsize=8, va="bottom", path_effects=_HALO)
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.set_xticks([p for p, _ in ticks.x], [label for _, label in ticks.x], fontsize=7)
    ax.set_yticks([p for p, _ in ticks.y], [label for _, label in ticks.y], fontsize=7)
    ax.set_xlabel("longitude (WGS84)", fontsize=8)
    ax.set_ylabel("latitude (WGS84)", fontsize=8)
    _scale_bar(ax, shape, resolution_m)
    handles = [
        PolygonPatch(np.zeros((3, 2)), fill=False, edgecolor=c, lw=1.6, label=f"{k} zone")
        for k, c in KIND_COLOUR.items()
        if any(o.kind == k for o in outlines)
    ]
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.8)
    ax.set_title(title, fontsize=10)
    fig.text(0.01, 0.003, credit, fontsize=7, color="dimgray")
    return save_figure(fig, path, dpi=110)


def _scale_bar(ax: Any, shape: tuple[int, int], resolution_m: float) -> None:
    """A round length, about a fifth of the width, bottom left."""
    width_m = shape[1] * resolution_m
    nice = next((v for v in (5000, 2000, 1000, 500, 200, 100, 50) if v <= width_m / 5), 50)
    px = nice / resolution_m
    x0, y0 = shape[1] * 0.04, shape[0] * 0.95
    ax.add_patch(Rectangle((x0, y0), px, max(shape[0] * 0.012, 0.6), facecolor="white", edgecolor="black", lw=0.5))
    label = f"{nice / 1000:g} km" if nice >= 1000 else f"{nice} m"
    ax.text(x0, y0 - shape[0] * 0.015, label, color="white", fontsize=8, path_effects=_HALO)
