"""The per-site context of the pipeline: everything about a site that does not change during a run.

One :class:`SiteContext` replaces the long argument lists (config, site, grid, zone masks, zone kinds,
folders). It holds no connection and no open file, so it pickles: the scene tasks
(:mod:`monitor.pipeline.tasks`) take it to a Dask worker as they take it to a function call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from monitor.config import Config, SiteConfig
from monitor.grid import SiteGrid
from monitor.pipeline.zones import zone_kinds, zone_masks


@dataclass(frozen=True)
class SiteContext:
    """One site as the pipeline sees it: its config entry, analysis grid, zone masks (zone id -> boolean
    (rows, cols) mask on the grid) and zone kinds (zone id -> crowd | vehicle | any)."""

    config: Config
    site: SiteConfig
    grid: SiteGrid
    masks: Mapping[str, np.ndarray]
    kinds: Mapping[str, str]

    @classmethod
    def build(cls, config: Config, site: SiteConfig, grid: SiteGrid) -> SiteContext:
        """The context of ``site`` on ``grid`` (a site without zones is one zone, ``site``)."""
        return cls(config, site, grid, MappingProxyType(zone_masks(site, grid)), MappingProxyType(zone_kinds(site)))

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # MappingProxyType does not pickle: rebuild from plain dicts
        return (SiteContext, (self.config, self.site, self.grid, dict(self.masks), dict(self.kinds)))

    @property
    def site_id(self) -> str:
        """The site's id."""
        return self.site.id

    @property
    def site_mask(self) -> np.ndarray:
        """The site's footprint on its grid."""
        assert self.grid.site_mask is not None
        return self.grid.site_mask

    @property
    def pixel_size_m(self) -> float:
        """Ground size of a grid pixel, metres (the one definition: :attr:`SiteGrid.pixel_size_m`)."""
        return self.grid.pixel_size_m

    @property
    def data_dir(self) -> Path:
        """The archive folder."""
        return self.config.data_dir

    @property
    def crops_dir(self) -> Path:
        """Where the site's scene crops are archived."""
        return self.config.data_dir / "crops" / self.site.id

    @property
    def evidence_dir(self) -> Path:
        """Where the site's alert evidence is written."""
        return self.config.data_dir / "evidence" / self.site.id

    @property
    def baselines_dir(self) -> Path:
        """Where the site's baseline rasters are stored."""
        return self.config.data_dir / "baselines" / self.site.id
