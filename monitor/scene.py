"""The :class:`Scene` container: one acquisition's crop on a site grid, validated when built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from monitor.errors import SceneError
from monitor.provenance import is_simulated

OPTICAL_RGB = ("B04", "B03", "B02")


@dataclass(frozen=True)
class Scene:
    """One acquisition over one site.

    ``data`` is float32 (bands, rows, cols) in physical units (surface reflectance 0..1 for optical
    sensors, linear sigma0 for radar), NaN where the sensor gave no value. ``valid`` (rows, cols) is True
    where every band holds a value and the pixel is clear (for Sentinel-2: SCL in 4, 5, 6). ``aux`` holds
    auxiliary per-pixel layers, e.g. ``SCL``. ``acquired`` is timezone-aware UTC.
    """

    scene_id: str
    sensor: str
    acquired: datetime
    bands: tuple[str, ...]
    data: np.ndarray
    valid: np.ndarray
    transform: Affine
    crs: CRS
    source: str = ""
    aux: Mapping[str, np.ndarray] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.scene_id:
            raise SceneError("a scene needs an id")
        if self.acquired.tzinfo is None or self.acquired.utcoffset() is None:
            raise SceneError(f"{self.scene_id}: acquisition time must be timezone-aware (UTC)")
        if self.data.ndim != 3:
            raise SceneError(f"{self.scene_id}: data must be (bands, rows, cols), got shape {self.data.shape}")
        if self.data.shape[0] != len(self.bands):
            raise SceneError(f"{self.scene_id}: {self.data.shape[0]} bands of data but {len(self.bands)} band names")
        if len(set(self.bands)) != len(self.bands):
            raise SceneError(f"{self.scene_id}: duplicate band names {self.bands}")
        if self.data.dtype != np.float32:
            raise SceneError(f"{self.scene_id}: data must be float32, got {self.data.dtype}")
        if self.valid.shape != self.data.shape[1:] or self.valid.dtype != bool:
            raise SceneError(f"{self.scene_id}: valid must be a boolean (rows, cols) mask")
        for name, layer in self.aux.items():
            if layer.shape != self.data.shape[1:]:
                raise SceneError(f"{self.scene_id}: aux layer {name} has shape {layer.shape}")
        object.__setattr__(self, "aux", MappingProxyType(dict(self.aux)))
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return (int(self.data.shape[1]), int(self.data.shape[2]))

    @property
    def simulated(self) -> bool:
        """True when the imagery came from the simulator (it must be labelled as such wherever shown)."""
        return is_simulated(self.provenance)

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # the mapping proxies do not pickle (Dask sends scenes between processes): rebuild from dicts
        return (
            Scene,
            (
                self.scene_id,
                self.sensor,
                self.acquired,
                self.bands,
                self.data,
                self.valid,
                self.transform,
                self.crs,
                self.source,
                dict(self.aux),
                dict(self.provenance),
            ),
        )

    def band(self, name: str) -> np.ndarray:
        """One band as a (rows, cols) view."""
        try:
            return self.data[self.bands.index(name)]
        except ValueError:
            raise SceneError(f"{self.scene_id}: no band {name!r} (has {', '.join(self.bands)})") from None

    def usable_fraction(self, mask: np.ndarray) -> float:
        """Share 0..1 of the pixels in ``mask`` that are valid; 0 for an empty mask."""
        n = int(mask.sum())
        return float((self.valid & mask).sum()) / n if n else 0.0
