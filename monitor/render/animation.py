"""An animated GIF of a zone's last usable scenes: dated frames, one stretch for all of them.

Frames are drawn with Pillow directly (pixels scaled up by a whole factor, zone outlines, a caption bar
and the credit line): eight matplotlib figures per alert would cost about a second more for nothing a
GIF can show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from monitor.archive.files import atomic_path
from monitor.errors import ArchiveError
from monitor.render.evidence import ZONE_COLOUR
from monitor.render.stretch import to_display

#: No-data grey, as on the evidence PNG.
NODATA_GREY = np.array([154, 154, 154], np.uint8)


@dataclass(frozen=True)
class Frame:
    """One frame: (3, rows, cols) true colour (NaN: no data) and its caption (date, sensor)."""

    rgb: np.ndarray
    caption: str
    highlight: bool = False


def _outline(masks: Mapping[str, np.ndarray]) -> np.ndarray:
    """Pixels on the inner edge of any zone."""
    edge = np.zeros(next(iter(masks.values())).shape, bool) if masks else np.zeros((0, 0), bool)
    for mask in masks.values():
        edge |= mask & ~ndimage.binary_erosion(mask)
    return edge


def render_frame(
    frame: Frame,
    limits: tuple[np.ndarray, np.ndarray],
    zone_masks: Mapping[str, np.ndarray],
    credit: str,
    width: int = 480,
) -> Image.Image:
    """One frame as an RGB image about ``width`` pixels wide: caption bar, picture, credit line."""
    rgba = to_display(frame.rgb, limits)
    pixels = np.where(rgba[..., 3:] > 0, np.round(rgba[..., :3] * 255), NODATA_GREY).astype(np.uint8)
    if zone_masks:
        pixels[_outline(zone_masks)] = np.array(Image.new("RGB", (1, 1), ZONE_COLOUR).getpixel((0, 0)), np.uint8)
    scale = max(1, width // pixels.shape[1])
    picture = Image.fromarray(pixels).resize(
        (pixels.shape[1] * scale, pixels.shape[0] * scale), Image.Resampling.NEAREST
    )
    font, small = ImageFont.load_default(size=16), ImageFont.load_default(size=10)
    top, bottom = 26, 16
    canvas = Image.new("RGB", (picture.width, picture.height + top + bottom), "white")
    canvas.paste(picture, (0, top))
    draw = ImageDraw.Draw(canvas)
    caption = frame.caption + ("   ALERT" if frame.highlight else "")
    draw.text((6, 4), caption, fill="#b00020" if frame.highlight else "black", font=font)
    draw.text((6, top + picture.height + 2), credit, fill="#555555", font=small)
    return canvas


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
