"""Render one date: ground -> formations -> PSF -> registration -> illumination -> clouds -> noise.

Pure numpy; nothing here touches the file system. Each step draws from its own per-date random stream
(:mod:`.seeding`), so rendering a date with ``formations=False`` gives exactly the same clouds, haze and
noise: the two renderings differ only within the PSF reach (2 px) of the formation zones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from numpy.typing import NDArray

from . import seeding
from .clouds import CloudLayer, apply_clouds, make_clouds, no_clouds
from .formations import (
    TROOP_FILL,
    UNIFORM_REFLECTANCE,
    VEHICLE_FILL,
    VEHICLE_REFLECTANCE,
    Footprint,
    cover_fraction,
    mix,
    troop_lattice,
    vehicle_column,
    vehicle_park,
)
from .grid import PIXEL_SIZE_M, Rect, SiteGrid, site_grid
from .ground import Ground, ground_reflectance, make_ground
from .layout import MIRIM_LAYOUT, SiteLayout
from .scenario import DatePlan, FormationPlan
from .sensor import (
    SCL_CLOUD_HIGH,
    SCL_CLOUD_MEDIUM,
    SCL_CLOUD_SHADOW,
    SCL_THIN_CIRRUS,
    add_noise,
    apply_psf,
    draw_illumination,
    illuminate,
    misregister,
    scene_classification,
    to_dn,
)

CLEAR_MARGIN_PX = 6
"""Pixels around each zone kept free of cloud and shadow on partly cloudy dates that avoid the zones."""

UNUSABLE_SCL: frozenset[int] = frozenset({SCL_CLOUD_SHADOW, SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_THIN_CIRRUS})
"""SCL classes counted as cloud in :meth:`RenderedScene.cloud_fraction` (3, 8, 9, 10)."""


@dataclass(frozen=True)
class SiteModel:
    """Everything static about a simulated site: seed, layout, grid and ground."""

    seed: int
    layout: SiteLayout
    grid: SiteGrid
    ground: Ground


@dataclass(frozen=True)
class RenderedScene:
    """One rendered date.

    Attributes:
        plan: the date's plan.
        bands: ``(5, H, W)`` uint16: B02 B03 B04 B08 as L2A DN (1-65535) and SCL (3-10).
        clouds: the cloud layer drawn (opacity and shadow truth).
        covers: zone id -> ``(h, w)`` float32 10 m cover fraction of the formation in the zone rectangle.
        footprints: zone id -> objects drawn (window metres of the zone rectangle).
    """

    plan: DatePlan
    bands: NDArray[np.uint16]
    clouds: CloudLayer
    covers: Mapping[str, NDArray[np.float32]]
    footprints: Mapping[str, tuple[Footprint, ...]]

    def cloud_fraction(self, rect: Rect | None = None) -> float:
        """Fraction (0-1) of pixels whose SCL is cloud, cirrus or cloud shadow, in ``rect`` or the scene."""
        scl = self.bands[4] if rect is None else self.bands[4][rect.slices]
        return float(np.isin(scl, list(UNUSABLE_SCL)).mean())


def build_site(seed: int, layout: SiteLayout = MIRIM_LAYOUT) -> SiteModel:
    """The static site for a seed: grid from the layout bbox, procedural ground."""
    grid = site_grid(layout.bbox)
    return SiteModel(seed=seed, layout=layout, grid=grid, ground=make_ground(layout, grid.shape, seed))


def formation_footprints(site: SiteModel, formation: FormationPlan) -> tuple[Footprint, ...]:
    """The objects of a formation, in metres of its zone rectangle (the first ``count`` of ``capacity``)."""
    zone_index = [zone.id for zone in site.layout.zones].index(formation.zone)
    rect = site.layout.zone(formation.zone).rect
    rng = seeding.rng_for(site.seed, (seeding.DATE, formation.layout_index, seeding.FORMATION, zone_index))
    area_m = (float(rect.height * PIXEL_SIZE_M), float(rect.width * PIXEL_SIZE_M))
    if formation.arrangement == "lattice":
        objects = troop_lattice(rng, area_m, formation.capacity)
    elif formation.arrangement == "park":
        objects = vehicle_park(rng, area_m, formation.capacity)
    else:
        objects = vehicle_column(rng, area_m, formation.capacity)
    return objects[: formation.count]


def render_scene(site: SiteModel, plan: DatePlan, *, formations: bool = True) -> RenderedScene:
    """Render a date of the scenario.

    Args:
        site: the static site.
        plan: the date's plan.
        formations: draw the plan's formations (False renders the same date without them).
    """
    seed, index = site.seed, plan.index
    day_of_year = plan.acquired.timetuple().tm_yday
    reflectance = ground_reflectance(site.ground, day_of_year).copy()
    covers: dict[str, NDArray[np.float32]] = {}
    objects: dict[str, tuple[Footprint, ...]] = {}
    for formation in plan.formations if formations else ():
        rect = site.layout.zone(formation.zone).rect
        footprints = formation_footprints(site, formation)
        cover = cover_fraction(footprints, rect.shape, pixel_m=PIXEL_SIZE_M)
        if formation.kind == "crowd":
            target, fill = UNIFORM_REFLECTANCE, TROOP_FILL
        else:
            target, fill = VEHICLE_REFLECTANCE, VEHICLE_FILL
        window = (slice(None), *rect.slices)
        reflectance[window] = mix(reflectance[window], cover, target, fill)
        covers[formation.zone] = cover
        objects[formation.zone] = footprints

    reflectance = apply_psf(reflectance)
    reflectance = misregister(reflectance, plan.misregistration_px)
    illumination = draw_illumination(seeding.date_rng(seed, index, seeding.ILLUMINATION), day_of_year)
    reflectance = illuminate(reflectance, illumination)
    clouds = _draw_clouds(site, plan)
    reflectance = apply_clouds(reflectance, clouds)
    reflectance = add_noise(reflectance, seeding.date_rng(seed, index, seeding.NOISE))

    bands = np.empty((5, *site.grid.shape), dtype=np.uint16)
    bands[:4] = to_dn(reflectance)
    bands[4] = scene_classification(site.ground.classes, clouds)
    return RenderedScene(
        plan=plan,
        bands=bands,
        clouds=clouds,
        covers=MappingProxyType(covers),
        footprints=MappingProxyType(objects),
    )


def _draw_clouds(site: SiteModel, plan: DatePlan) -> CloudLayer:
    shape = site.grid.shape
    spec = plan.clouds
    if spec.mode == "clear" or spec.fraction <= 0:
        return no_clouds(shape)
    rng = seeding.date_rng(site.seed, plan.index, seeding.CLOUDS)
    if spec.mode == "partial":
        keep_clear = np.zeros(shape, dtype=bool)
        for zone in site.layout.zones:
            keep_clear[zone.rect.grow(CLEAR_MARGIN_PX).clipped(*shape).slices] = True
        return make_clouds(rng, shape, spec.fraction, keep_clear=keep_clear)
    if spec.mode == "over_zone" and spec.zone is not None:
        rect = site.layout.zone(spec.zone).rect
        # Centre the deck on a random point of the zone's border so the zone is partly, not fully, covered.
        row = float(rng.uniform(rect.row0, rect.row1))
        col = float(rect.col0 if rng.random() < 0.5 else rect.col1)
        return make_clouds(rng, shape, spec.fraction, centre=(row, col))
    return make_clouds(rng, shape, spec.fraction)
