"""One acquisition, one scene: group the tiles (MGRS tiles, providers' collections) of one overpass.

The same overpass appears in several MGRS tiles (51SYD and 52SBJ overlap Pyongyang) and, when several
sources are configured, from several providers. A scene is identified by platform, relative orbit and
acquisition day (a satellite passes over a place on one relative orbit at most once a day), which gives
every provider the same scene id for the same overpass, so the archive never scores it twice.

Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from monitor.sources.base import BandAsset


@dataclass(frozen=True)
class Tile:
    """One provider item (one MGRS tile or one Sentinel-1 slice) of an overpass."""

    item_id: str
    collection: str
    acquired: datetime
    platform: str  # S2A, S2B, S1A ...
    orbit: int | None  # relative orbit
    grid_code: str  # MGRS tile (51SYD) or the item id when there is none
    assets: tuple[BandAsset, ...]
    harmonisation: str = ""  # see monitor.sources.harmonise (Sentinel-2 only)
    properties: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def sensor(self) -> str:
        """``S2`` or ``S1`` (the first two characters of the platform code)."""
        return self.platform[:2]


def platform_code(properties: Mapping[str, Any], item_id: str = "") -> str | None:
    """``sentinel-2a`` -> ``S2A``; falls back to a leading ``S2A_``/``S1B_`` in the item id."""
    value = str(properties.get("platform") or "").lower()
    match = re.fullmatch(r"sentinel-?([12])([a-d])", value)
    if match:
        return f"S{match.group(1)}{match.group(2).upper()}"
    match = re.match(r"^(S[12][A-D])_", item_id)
    return match.group(1) if match else None


def relative_orbit(properties: Mapping[str, Any], item_id: str = "") -> int | None:
    """The relative orbit (``sat:relative_orbit``), else an ``_R089_`` in the item id, else None."""
    for key in ("sat:relative_orbit", "s2:relative_orbit", "sentinel:relative_orbit"):
        value = properties.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
    match = re.search(r"_R(\d{3})_", item_id)
    return int(match.group(1)) if match else None


def mgrs_code(properties: Mapping[str, Any], item_id: str) -> str:
    """The MGRS tile of a Sentinel-2 item (``51SYD``) from the mgrs/grid extensions; the item id if none."""
    zone, band, square = (properties.get(k) for k in ("mgrs:utm_zone", "mgrs:latitude_band", "mgrs:grid_square"))
    if zone is not None and band and square:
        return f"{int(zone):02d}{band}{square}"
    for key in ("s2:mgrs_tile", "grid:code"):
        value = properties.get(key)
        if isinstance(value, str) and value:
            return value.removeprefix("MGRS-")
    return item_id


def scene_id(platform: str, orbit: int | None, acquired: datetime) -> str:
    """The stable id of an overpass: ``S2B_20230115_R089`` (orbit unknown: the time to the minute)."""
    day = acquired.astimezone(UTC)
    if orbit is None:
        return f"{platform}_{day:%Y%m%dT%H%M}"
    return f"{platform}_{day:%Y%m%d}_R{orbit:03d}"


def group_overpasses(tiles: Iterable[Tile], collections: Sequence[str] = ()) -> list[list[Tile]]:
    """Tiles grouped by overpass (same scene id), oldest overpass first.

    Within an overpass each grid tile appears once: the copy from the collection listed first in
    ``collections`` (e.g. the reprocessed ``sentinel-2-c1-l2a`` before ``sentinel-2-l2a``), else the
    most recently listed one.
    """
    rank = {c: i for i, c in enumerate(collections)}
    groups: dict[str, dict[str, Tile]] = {}
    for tile in tiles:
        key = scene_id(tile.platform, tile.orbit, tile.acquired)
        chosen = groups.setdefault(key, {})
        old = chosen.get(tile.grid_code)
        if old is None or rank.get(tile.collection, len(rank)) < rank.get(old.collection, len(rank)):
            chosen[tile.grid_code] = tile
    ordered = [sorted(g.values(), key=lambda t: t.grid_code) for g in groups.values()]
    return sorted(ordered, key=lambda g: (min(t.acquired for t in g), g[0].platform))


def mosaic(layers: Sequence[np.ndarray]) -> np.ndarray:
    """First-valid mosaic of (bands, rows, cols) float32 arrays on one grid (NaN = no data).

    A pixel is taken whole (every band, from one tile) from the first layer where all its bands hold
    data, so bands of one pixel never mix two tiles; pixels no layer fully covers keep the first
    layer's partial values.
    """
    if not layers:
        raise ValueError("nothing to mosaic")
    out = layers[0].copy()
    filled = np.all(np.isfinite(out), axis=0)
    for layer in layers[1:]:
        take = ~filled & np.all(np.isfinite(layer), axis=0)
        out[:, take] = layer[:, take]
        filled |= take
    return out
