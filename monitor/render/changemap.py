"""A preview PNG of a change map (``monitor diff --png``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from monitor.render.evidence import save_figure


def render_change_map(path: Path, change: np.ndarray, title: str, credit: str = "") -> Path:
    """Change map with a perceptually uniform colour map (magma) and a labelled colour bar; NaN grey."""
    fig = Figure(figsize=(8, 7), layout="constrained")
    ax = fig.subplots()
    ax.set_facecolor("#808080")
    finite = change[np.isfinite(change)]
    vmax = float(np.percentile(finite, 99.5)) if finite.size else 1.0
    im = ax.imshow(change, cmap="magma", vmin=0.0, vmax=max(vmax, 1e-6), interpolation="nearest")
    cbar = fig.colorbar(im, ax=ax, shrink=0.85)
    cbar.set_label("change (RMS robust z over bands; NaN = no data, grey)")
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    if credit:
        fig.text(0.01, 0.005, credit, fontsize=8, color="dimgray")
    return save_figure(fig, path)
