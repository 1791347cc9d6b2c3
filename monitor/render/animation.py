"""An animated GIF of a zone's last usable scenes: dated frames, one stretch for all of them."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from monitor.errors import ArchiveError
from monitor.files import atomic_path
from monitor.render.evidence import HALO, draw_zones
from monitor.render.stretch import to_display


@dataclass(frozen=True)
class Frame:
    """One frame: (3, rows, cols) true colour (NaN: no data) and its caption (date, sensor)."""

    rgb: np.ndarray
    caption: str
    highlight: bool = False


def render_frame(
    frame: Frame, limits: tuple[np.ndarray, np.ndarray], zone_masks: Mapping[str, np.ndarray], credit: str
) -> Image.Image:
    """One frame as an RGB Pillow image (about 480 px wide), caption on top, credit at the bottom."""
    rows, cols = frame.rgb.shape[1:]
    width = 4.8
    fig = Figure(figsize=(width, width * rows / cols + 0.7), dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.set_facecolor("#9a9a9a")
    ax.imshow(to_display(frame.rgb, limits), interpolation="nearest")
    draw_zones(ax, zone_masks, labels=False)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(frame.caption, fontsize=10, fontweight="bold" if frame.highlight else "normal")
    if frame.highlight:
        ax.text(0.02, 0.97, "ALERT", transform=ax.transAxes, color="#ffd400", fontsize=9, va="top", path_effects=HALO)
    fig.text(0.01, 0.005, credit, fontsize=6, color="dimgray")
    canvas = FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def write_animation(
    path: Path,
    frames: Sequence[Frame],
    limits: tuple[np.ndarray, np.ndarray],
    zone_masks: Mapping[str, np.ndarray],
    credit: str,
    *,
    frame_ms: int = 900,
) -> Path:
    """Write an animated GIF (Pillow; loops forever, the last frame held three times as long).

    All frames use ``limits`` (one stretch), so brightness differences between frames are real.
    """
    if not frames:
        raise ValueError("an animation needs at least one frame")
    images = [render_frame(f, limits, zone_masks, credit) for f in frames]
    size = images[0].size
    images = [im if im.size == size else im.resize(size) for im in images]
    durations = [frame_ms] * (len(images) - 1) + [frame_ms * 3]
    palette = [im.quantize(colors=256, method=Image.Quantize.MEDIANCUT) for im in images]
    try:
        with atomic_path(path) as tmp:
            palette[0].save(
                tmp, format="GIF", save_all=True, append_images=palette[1:], duration=durations, loop=0, disposal=1
            )
    except OSError as exc:
        raise ArchiveError(f"cannot write {path}: {exc}") from exc
    return path
