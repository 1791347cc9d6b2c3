"""Clouds and cloud shadows: smooth random fields thresholded to a target cover fraction.

A cloud deck is a two-scale smooth random field (180 m and 50 m correlation lengths) thresholded at the
quantile giving the wanted fraction of the scene; the opacity ``alpha`` ramps from 0 at the threshold to 1
over 0.8 field standard deviations, so decks have thick cores and thin (cirrus-like) edges. Cloud
reflectance is bright and nearly flat: 0.40-0.65 in every band (+0.03 in blue), with 8 % texture.

Shadows are the opacity displaced by :data:`SHADOW_OFFSET_PX`: at ~11:00 local time in summer the sun is
~55-70 degrees high in the south-south-east, so a cloud at ~2 km casts its shadow ~0.9 km to the
north-north-west. A full shadow keeps 45 % of the surface reflectance (diffuse sky light). Clouds are drawn
on a padded canvas so clouds just outside the scene still cast their shadows into it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from .fields import smooth_field

SHADOW_OFFSET_PX = (-8, -4)
"""``(rows, cols)`` from a cloud to its shadow: 80 m north and 40 m west per unit, i.e. ~0.9 km NNW."""

SHADOW_DARKENING = 0.55
"""Fraction of the surface reflectance removed under a full cloud shadow (0-1)."""

ALPHA_RAMP = 0.8
"""Field standard deviations over which cloud opacity rises from 0 to 1."""

KEEP_CLEAR_TAPER_PX = 15.0
"""Distance in pixels over which decks thin out before an area that must stay clear."""

_BANNED = np.float32(-1e6)
"""Field value of pixels where no cloud may form."""


@dataclass(frozen=True)
class CloudLayer:
    """The clouds of one date.

    Attributes:
        alpha: ``(H, W)`` float32 cloud opacity, 0 (clear) to 1 (opaque); > 0 exactly where clouds are drawn.
        shadow: ``(H, W)`` float32 shadow strength, 0 to 1.
        reflectance: ``(4, H, W)`` float32 cloud-top reflectance (used where ``alpha`` > 0).
    """

    alpha: NDArray[np.float32]
    shadow: NDArray[np.float32]
    reflectance: NDArray[np.float32]

    @property
    def fraction(self) -> float:
        """Fraction of the scene with any cloud (``alpha > 0``)."""
        return float(np.count_nonzero(self.alpha > 0) / self.alpha.size)


def no_clouds(shape: tuple[int, int]) -> CloudLayer:
    """A clear sky."""
    zeros = np.zeros(shape, dtype=np.float32)
    return CloudLayer(alpha=zeros, shadow=zeros, reflectance=np.zeros((4, *shape), dtype=np.float32))


def make_clouds(
    rng: np.random.Generator,
    shape: tuple[int, int],
    fraction: float,
    *,
    keep_clear: NDArray[np.bool_] | None = None,
    centre: tuple[float, float] | None = None,
) -> CloudLayer:
    """Draw a cloud deck covering about ``fraction`` of the scene.

    Args:
        rng: random generator (the date's cloud stream).
        shape: ``(H, W)`` of the scene.
        fraction: wanted fraction of scene pixels with cloud, 0-1; >= 0.999 gives a fully overcast scene.
        keep_clear: ``(H, W)`` mask of pixels that must get neither cloud nor cloud shadow.
        centre: ``(row, col)`` to pull the deck towards (a 400 m-scale bump is added to the field).

    Returns:
        The cloud layer; its actual fraction is close to ``fraction`` (exactly 1 when overcast).
    """
    if fraction <= 0:
        return no_clouds(shape)
    height, width = shape
    dr, dc = SHADOW_OFFSET_PX
    pad = max(abs(dr), abs(dc)) + 2
    canvas = (height + 2 * pad, width + 2 * pad)
    field = smooth_field(rng, canvas, 18.0) + 0.35 * smooth_field(rng, canvas, 5.0)
    if centre is not None:
        rows, cols = np.ogrid[0 : canvas[0], 0 : canvas[1]]
        dist2 = (rows - (centre[0] + pad)) ** 2 + (cols - (centre[1] + pad)) ** 2
        field = field + 2.5 * np.exp(-dist2 / (2.0 * 40.0**2)).astype(np.float32)
    if keep_clear is not None:
        banned = np.zeros(canvas, dtype=bool)
        banned[pad : pad + height, pad : pad + width] |= keep_clear
        # A cloud at p shadows p + offset: ban the pixels whose shadow would land on keep_clear.
        banned[pad - dr : pad - dr + height, pad - dc : pad - dc + width] |= keep_clear
        # Taper the field down towards the banned pixels so decks thin out instead of being cut off.
        distance = ndimage.distance_transform_edt(~banned)
        taper = np.clip(1.0 - distance / KEEP_CLEAR_TAPER_PX, 0.0, 1.0) ** 2
        field = np.where(banned, _BANNED, field - 6.0 * taper).astype(np.float32)
    inner = field[pad : pad + height, pad : pad + width]
    allowed = inner[inner > _BANNED]
    if allowed.size == 0:
        return no_clouds(shape)
    if fraction >= 0.999:
        threshold = float(allowed.min()) - ALPHA_RAMP
    else:
        quantile = 1.0 - min(fraction * inner.size / allowed.size, 1.0)
        threshold = float(np.quantile(allowed, quantile))
    alpha_canvas = np.clip((field - threshold) / ALPHA_RAMP, 0.0, 1.0).astype(np.float32)
    alpha = np.ascontiguousarray(alpha_canvas[pad : pad + height, pad : pad + width])
    source = alpha_canvas[pad - dr : pad - dr + height, pad - dc : pad - dc + width]
    shadow = np.clip((source - 0.2) / 0.6, 0.0, 1.0).astype(np.float32)
    level = float(rng.uniform(0.40, 0.65))
    spectrum = np.array([level + 0.03, level + 0.02, level, level - 0.01], dtype=np.float32)
    texture = 1.0 + 0.08 * smooth_field(rng, shape, 2.0)
    reflectance = (spectrum[:, None, None] * texture[None]).astype(np.float32)
    return CloudLayer(alpha=alpha, shadow=shadow, reflectance=reflectance)


def apply_clouds(reflectance: NDArray[np.float32], clouds: CloudLayer) -> NDArray[np.float32]:
    """Darken shadows, then blend the clouds over the surface: ``(1 - a) s (1 - d h) + a cloud``.

    Args:
        reflectance: ``(4, H, W)`` surface reflectance seen through a clear atmosphere.
        clouds: the date's cloud layer.

    Returns:
        ``(4, H, W)`` float32 top-of-canopy-equivalent reflectance with clouds.
    """
    if not clouds.alpha.any() and not clouds.shadow.any():
        return reflectance
    shaded = reflectance * (1.0 - SHADOW_DARKENING * clouds.shadow)[None]
    alpha = clouds.alpha[None]
    return ((1.0 - alpha) * shaded + alpha * clouds.reflectance).astype(np.float32, copy=False)
