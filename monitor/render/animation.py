"""An animated GIF of a zone's last usable scenes: dated frames, one stretch for all of them, with a scale
bar and a north arrow.

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
    *,
    resolution: float = 10.0,
    look: str = "",
) -> Image.Image:
    """One frame as an RGB image about ``width`` pixels wide: caption bar, picture with a scale bar
    (bottom left) and a north arrow (top right; site grids are north-up), the credit line. ``resolution``:
    pixel size, m; ``look``: the composite's name, printed under the credit with the zone colour."""
    rgba = to_display(frame.rgb, limits)
    pixels = np.where(rgba[..., 3:] > 0, np.round(rgba[..., :3] * 255), NODATA_GREY).astype(np.uint8)
    if zone_masks:
        pixels[_outline(zone_masks)] = np.array(Image.new("RGB", (1, 1), ZONE_COLOUR).getpixel((0, 0)), np.uint8)
    scale = max(1, width // pixels.shape[1])
    picture = Image.fromarray(pixels).resize(
        (pixels.shape[1] * scale, pixels.shape[0] * scale), Image.Resampling.NEAREST
    )
    font, small = ImageFont.load_default(size=16), ImageFont.load_default(size=10)
    top, bottom = 26, 30 if look else 16
    canvas = Image.new("RGB", (picture.width, picture.height + top + bottom), "white")
    canvas.paste(picture, (0, top))
    draw = ImageDraw.Draw(canvas)
    caption = frame.caption + ("   ALERT" if frame.highlight else "")
    draw.text((6, 4), caption, fill="#b00020" if frame.highlight else "black", font=font)
    _scale_bar(draw, (0, top), picture.size, scale, resolution, small)
    _north_arrow(draw, (0, top), picture.size, small)
    draw.text((6, top + picture.height + 2), credit, fill="#555555", font=small)
    if look:
        draw.text((6, top + picture.height + 16), f"{look}; green: zone outline", fill="#333333", font=small)
    return canvas


def _scale_bar(
    draw: ImageDraw.ImageDraw,
    origin: tuple[int, int],
    size: tuple[int, int],
    scale: int,
    resolution: float,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
) -> None:
    """A white bar of a round length (about a quarter of the width), black-edged, bottom left."""
    width_m = size[0] / scale * resolution
    nice = next((v for v in (10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10) if v <= width_m / 4), 10)
    length = round(nice / resolution * scale)
    x0, y1 = origin[0] + 10, origin[1] + size[1] - 10
    draw.rectangle((x0, y1 - 5, x0 + length, y1), fill="white", outline="black")
    label = f"{nice / 1000:g} km" if nice >= 1000 else f"{nice} m"
    draw.text((x0, y1 - 8), label, fill="white", font=font, anchor="ld", stroke_width=2, stroke_fill="black")


def _north_arrow(
    draw: ImageDraw.ImageDraw,
    origin: tuple[int, int],
    size: tuple[int, int],
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
) -> None:
    """An arrow pointing up with an N under it, top right."""
    x, y0 = origin[0] + size[0] - 18, origin[1] + 8
    draw.line((x, y0 + 6, x, y0 + 26), fill="black", width=5)
    draw.line((x, y0 + 6, x, y0 + 26), fill="white", width=3)
    draw.polygon(((x, y0), (x - 6, y0 + 10), (x + 6, y0 + 10)), fill="white", outline="black")
    draw.text((x, y0 + 28), "N", fill="white", font=font, anchor="ma", stroke_width=2, stroke_fill="black")


def write_animation(
    path: Path,
    frames: Sequence[Frame],
    limits: tuple[np.ndarray, np.ndarray],
    zone_masks: Mapping[str, np.ndarray],
    credit: str,
    *,
    frame_ms: int = 900,
    resolution: float = 10.0,
    look: str = "",
) -> Path:
    """Write an animated GIF (Pillow; loops forever, the last frame held three times as long).

    All frames use ``limits`` (one stretch), so brightness differences between frames are real.
    """
    if not frames:
        raise ValueError("an animation needs at least one frame")
    images = [render_frame(f, limits, zone_masks, credit, resolution=resolution, look=look) for f in frames]
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
