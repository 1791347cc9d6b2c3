"""The offline demo: a seeded replay archive of a Mirim-like site, plus its ground truth.

:func:`build_demo_imagery` renders every date of the demo timeline (:mod:`.scenario`) and writes one
GeoTIFF per date and ``truth.csv`` into a folder. The layout constants below are the WGS84 bboxes of the
layout's zone rectangles (:mod:`.layout`), as computed by :func:`layout_zones` (``transform_bounds`` of the
UTM rectangles, rounded outward to 6 decimals); they are literals so importing this module does no
computation, and the tests check they match the layout and ``demo.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from .grid import LonLatBBox, site_grid
from .layout import MIRIM_LAYOUT, SiteLayout, ZoneKind
from .scenario import build_scenario
from .scene import build_site, render_scene
from .writer import prepare_scene_folder, scene_filename, write_scene, write_truth_csv

SIMULATOR_VERSION = "1"
"""Version of the simulator's output; bump when the same seed would render different images."""

DEFAULT_SEED = 20250710
"""Seed of the published demo."""

SITE_ID = "mirim"
SITE_NAME = "Mirim Parade Training Ground (simulated)"
SITE_BBOX: LonLatBBox = (125.825, 39.005, 125.870, 39.035)
"""Site bbox ``(lon_min, lat_min, lon_max, lat_max)``, degrees WGS84."""

TRUTH_FILENAME = "truth.csv"
TRUTH_COLUMNS: tuple[str, ...] = ("date", "zone", "kind", "count", "cloud_fraction", "scene")
"""Columns of ``truth.csv``: one row per date and zone (see :class:`TruthRecord`)."""


@dataclass(frozen=True)
class DemoZone:
    """A zone of the demo config: id, kind (``crowd`` | ``vehicle`` | ``any``) and WGS84 bbox."""

    id: str
    kind: ZoneKind
    bbox: LonLatBBox


DEMO_ZONES: tuple[DemoZone, ...] = (
    DemoZone("replica-square", "crowd", (125.851731, 39.022248, 125.857134, 39.024719)),
    DemoZone("west-parking", "vehicle", (125.828866, 39.016499, 125.834296, 39.019689)),
    DemoZone("assembly-apron", "any", (125.841607, 39.017422, 125.848148, 39.019561)),
)
"""The demo site's zones, in config order."""


@dataclass(frozen=True)
class TruthRecord:
    """What is in one zone on one date.

    Attributes:
        acquired: acquisition time (UTC, timezone-aware).
        zone: zone id.
        kind: ``crowd`` (troop blocks), ``vehicle`` or ``none``.
        count: troop blocks (~300 soldiers each) or vehicles; 0 for ``none``.
        cloud_fraction: fraction (0-1, 3 decimals) of the zone rectangle's pixels whose SCL is cloud shadow,
            cloud or cirrus (3, 8, 9, 10); a formation under clouds is present but may be invisible.
        scene: file name of the scene.
    """

    acquired: datetime
    zone: str
    kind: Literal["crowd", "vehicle", "none"]
    count: int
    cloud_fraction: float
    scene: str

    @property
    def date(self) -> date:
        """Acquisition date (UTC)."""
        return self.acquired.date()


@dataclass(frozen=True)
class DemoTruth:
    """Ground truth of a demo build: the seed and one record per date and zone, in date then zone order."""

    seed: int
    records: tuple[TruthRecord, ...]

    @property
    def scenes(self) -> tuple[str, ...]:
        """Scene file names, in date order."""
        return tuple(dict.fromkeys(record.scene for record in self.records))

    def for_zone(self, zone_id: str) -> tuple[TruthRecord, ...]:
        """The records of one zone, in date order."""
        return tuple(record for record in self.records if record.zone == zone_id)

    def formation_dates(self, zone_id: str) -> tuple[date, ...]:
        """Dates on which the zone holds a formation (whatever the clouds)."""
        return tuple(record.date for record in self.for_zone(zone_id) if record.kind != "none")


def layout_zones(layout: SiteLayout = MIRIM_LAYOUT) -> tuple[DemoZone, ...]:
    """Zones with the WGS84 bboxes of the layout's rectangles (computes what :data:`DEMO_ZONES` holds)."""
    grid = site_grid(layout.bbox)
    return tuple(DemoZone(zone.id, zone.kind, grid.rect_lonlat(zone.rect)) for zone in layout.zones)


def build_demo_imagery(folder: Path, *, seed: int = DEFAULT_SEED) -> DemoTruth:
    """Render the whole demo timeline into ``folder`` and return its ground truth.

    Writes one ``S2_YYYYMMDDTHHMMSS.tif`` per date (31 dates, 1 May - 28 September 2025) and
    ``truth.csv``. The output depends only on ``seed`` (byte-identical files for the same seed).

    Args:
        folder: output folder, created if missing. Scenes of this timeline are overwritten.
        seed: the demo seed.

    Raises:
        FileExistsError: if ``folder`` holds ``S2_*.tif`` files that are not part of this timeline (e.g. from
            another seed), which the monitor would otherwise read as well.
    """
    site = build_site(seed)
    scenario = build_scenario(seed)
    names = [scene_filename(plan.acquired) for plan in scenario.dates]
    prepare_scene_folder(folder, names)
    simulator = f"monitor.simulate {SIMULATOR_VERSION} seed={seed}"
    records: list[TruthRecord] = []
    for plan, name in zip(scenario.dates, names, strict=True):
        scene = render_scene(site, plan)
        write_scene(
            folder / name,
            scene.bands,
            site.grid.transform,
            site.grid.crs,
            plan.acquired,
            {"MONITOR_SIMULATOR": simulator, "MONITOR_SITE": SITE_ID},
        )
        for zone in site.layout.zones:
            formation = plan.formation_in(zone.id)
            records.append(
                TruthRecord(
                    acquired=plan.acquired,
                    zone=zone.id,
                    kind=formation.kind if formation is not None else "none",
                    count=formation.count if formation is not None else 0,
                    cloud_fraction=round(scene.cloud_fraction(zone.rect), 3),
                    scene=name,
                )
            )
    write_truth_csv(
        folder / TRUTH_FILENAME,
        TRUTH_COLUMNS,
        ((r.date.isoformat(), r.zone, r.kind, r.count, f"{r.cloud_fraction:.3f}", r.scene) for r in records),
    )
    return DemoTruth(seed=seed, records=tuple(records))
