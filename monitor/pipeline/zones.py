"""The zones a site is scored in."""

from __future__ import annotations

import numpy as np

from monitor.config import SiteConfig
from monitor.grid import SiteGrid

#: The zone id of a site configured without zones: the whole site is scored as one zone.
SITE_ZONE = "site"


def zone_masks(site: SiteConfig, grid: SiteGrid) -> dict[str, np.ndarray]:
    """The site's zone masks; a site without zones is scored as one zone named ``site``."""
    if grid.zone_masks:
        return dict(grid.zone_masks)
    assert grid.site_mask is not None
    return {SITE_ZONE: grid.site_mask}


def zone_kinds(site: SiteConfig) -> dict[str, str]:
    """Zone id -> kind (crowd | vehicle | any)."""
    return {z.id: z.kind for z in site.zones} or {SITE_ZONE: "any"}
