"""The evidence picture of an alert: baseline, scene and change side by side, zones and detections drawn."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.patheffects import withStroke

from monitor.detect.formations import Detection
from monitor.files import atomic_path
from monitor.render.stretch import percentile_limits, to_display


def credit_line(simulated: bool, year: int) -> str:
    """The credit to print on every picture made from the imagery (``year`` 0: unknown)."""
    if simulated:
        return "SIMULATED imagery (monitor.simulate), not Copernicus data"
    return (
        f"Contains modified Copernicus Sentinel data {year}" if year else "Contains modified Copernicus Sentinel data"
    )


def save_figure(fig: Figure, path: Path, dpi: int = 110) -> Path:
    """Write a figure as PNG atomically (never a half-written PNG)."""
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return path


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
) -> Path:
    """Write the three-panel evidence PNG.

    ``baseline_rgb`` and ``scene_rgb`` are (3, rows, cols) true colour (or one band repeated) shown with
    the same stretch; ``change`` is the per-pixel change statistic, drawn on a log scale from the
    significance ``threshold``; ``detections`` are (zone, detection) pairs outlined and labelled.
    """
    limits = percentile_limits(baseline_rgb)
    fig = Figure(figsize=(15, 5.6), layout="constrained")
    axes = fig.subplots(1, 3, sharex=True, sharey=True)
    axes[0].imshow(to_display(baseline_rgb, limits), interpolation="nearest")
    axes[0].set_title("Baseline (per-pixel median)")
    axes[1].imshow(to_display(scene_rgb, limits), interpolation="nearest")
    axes[1].set_title("Scene")
    finite = change[np.isfinite(change)]
    vmax = max(float(np.nanpercentile(finite, 99.9)) if finite.size else threshold * 10, threshold * 10)
    shown = np.where(np.isfinite(change), np.maximum(change, threshold / 10), np.nan)
    im = axes[2].imshow(shown, cmap="magma", norm=LogNorm(vmin=threshold / 10, vmax=vmax), interpolation="nearest")
    axes[2].set_title("Change statistic (log; white contour = significant)")
    axes[2].contour(np.nan_to_num(change, nan=0.0) > threshold, levels=[0.5], colors="white", linewidths=0.6)
    cbar = fig.colorbar(im, ax=axes[2], shrink=0.8)
    cbar.set_label("sum of squared robust z over bands")
    for ax in axes:
        ax.set_facecolor("#9a9a9a")  # no data: neutral grey, never mistaken for cloud white
        for zone_id, mask in zone_masks.items():
            ax.contour(mask.astype(float), levels=[0.5], colors="cyan", linewidths=1.0)
            rows, cols = np.nonzero(mask)
            if rows.size:
                ax.text(cols.min(), rows.min() - 2, zone_id, color="cyan", fontsize=8, va="bottom")
        ax.set_xticks([])
        ax.set_yticks([])
    for _zone, det in detections:
        if det.cls not in {"crowd-block", "vehicle-row", "vehicle-park"}:
            continue
        half = max(det.length_m / resolution / 2.0, 1.5)
        for ax in axes[1:]:
            ax.add_patch(
                Rectangle(
                    (det.col - half, det.row - half),
                    2 * half,
                    2 * half,
                    fill=False,
                    edgecolor="yellow",
                    linewidth=0.9,
                )
            )
        if len(detections) <= 6:
            axes[1].text(det.col + half + 1, det.row, det.cls, color="yellow", fontsize=6, va="center")
    _scale_bar(axes[0], change.shape, resolution)
    axes[0].annotate(
        "N",
        xy=(0.95, 0.95),
        xytext=(0.95, 0.80),
        xycoords="axes fraction",
        ha="center",
        color="white",
        fontsize=10,
        fontweight="bold",
        arrowprops={"arrowstyle": "-|>", "color": "white", "linewidth": 2},
        path_effects=[withStroke(linewidth=2.5, foreground="black")],
    )
    fig.suptitle(f"{title}\n{subtitle}", fontsize=11)
    fig.text(0.01, 0.005, credit + "   grey = no data / masked", fontsize=8, color="dimgray")
    return save_figure(fig, path)


def _scale_bar(ax: object, shape: tuple[int, ...], resolution: float) -> None:
    width_m = shape[1] * resolution
    nice = next((v for v in (10000, 5000, 2000, 1000, 500, 200, 100, 50) if v <= width_m / 4), 50)
    px = nice / resolution
    x0, y0 = shape[1] * 0.05, shape[0] * 0.93
    ax.add_patch(Rectangle((x0, y0), px, max(shape[0] * 0.01, 0.5), color="white"))  # type: ignore[attr-defined]
    label = f"{nice / 1000:g} km" if nice >= 1000 else f"{nice} m"
    ax.text(x0, y0 - shape[0] * 0.015, label, color="white", fontsize=8)  # type: ignore[attr-defined]
