"""The Flanders scenario: four paved zones laid into the real farmland, rehearsal episodes, confounders.

One function builds the imagery folder of one run; the truth table says, per zone and acquisition,
which formation was on the ground.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from scipy import ndimage

from . import atmosphere, radar, render
from . import materials as mat
from .sun import sun_at

S2_PIXEL = 10
S1_PIXEL = 20
MARGIN_PX = 2  # 20 m of farmland around each paved area on its 1 m canvas (the PSF's reach)


@dataclass(frozen=True)
class Zone:
    """A paved area on the 10 m grid (rows/cols of its top-left pixel, size in pixels) and its zone."""

    id: str
    kind: str  # crowd | vehicle
    material: str  # asphalt | concrete
    row: int
    col: int
    size: int
    heading_deg: float


ZONES = (
    Zone("square-asphalt", "crowd", "asphalt", 4, 4, 22, 0.0),
    Zone("park-asphalt", "vehicle", "asphalt", 4, 38, 22, 20.0),
    Zone("park-concrete", "vehicle", "concrete", 38, 4, 22, 0.0),
    Zone("square-concrete", "crowd", "concrete", 38, 38, 22, 35.0),
)


@dataclass(frozen=True)
class Episode:
    """A rehearsal period: formations in ``zones`` on a share of its days (crowds drill, parks fill)."""

    name: str
    start: date
    end: date
    zones: tuple[str, ...]


EPISODES = (
    Episode("E1", date(2018, 3, 10), date(2018, 4, 15), ("square-asphalt", "park-asphalt")),
    Episode("E2", date(2018, 4, 28), date(2018, 6, 8), ("square-concrete", "park-concrete")),
    Episode("E3", date(2018, 7, 1), date(2018, 8, 10), tuple(z.id for z in ZONES)),
    Episode("E4", date(2018, 9, 5), date(2018, 10, 15), ("square-asphalt", "park-concrete")),
)
#: Share of an episode's days with troops on the square (drill days) / vehicles in the park.
CROWD_DAYS = 0.75
PARK_DAYS = 0.85


@dataclass(frozen=True)
class Options:
    """What one run puts into the real series."""

    paved: bool
    formations: bool
    confounders: bool


@dataclass(frozen=True)
class Grid:
    """The real series' grid: UTM transform of the 10 m S2 raster, its CRS and size."""

    crs: str
    left: float
    top: float
    size: int

    def lonlat(self, row: float, col: float) -> tuple[float, float]:
        tr = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        lon, lat = tr.transform(self.left + col * S2_PIXEL, self.top - row * S2_PIXEL)
        return float(lon), float(lat)


def acquired(path: Path) -> datetime:
    """Acquisition time (UTC) from a ``S2_YYYYMMDDTHHMMSS.tif`` name."""
    return datetime.strptime(path.stem.split("_", 1)[1], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)


def formation_on(zone: Zone, day: date, seed: int) -> tuple[str, float, int] | None:
    """The formation in ``zone`` on ``day``: (kind, scale 0.5..1, layout seed), or None."""
    for i, ep in enumerate(EPISODES):
        if zone.id in ep.zones and ep.start <= day <= ep.end:
            rng = np.random.default_rng([seed, i, ZONES.index(zone), day.toordinal()])
            share = CROWD_DAYS if zone.kind == "crowd" else PARK_DAYS
            if rng.random() < share:
                scale = 0.5 + 0.5 * (day - ep.start).days / max((ep.end - ep.start).days, 1)
                return zone.kind, scale, int(rng.integers(2**31))
    return None


def episode_of(zone: Zone, day: date) -> str | None:
    for ep in EPISODES:
        if zone.id in ep.zones and ep.start <= day <= ep.end:
            return ep.name
    return None


class World:
    """Static pavement textures and per-day confounders of one seed."""

    def __init__(self, seed: int, grid: Grid) -> None:
        self.seed = seed
        self.grid = grid
        canvas_m = lambda z: (z.size + 2 * MARGIN_PX) * S2_PIXEL  # noqa: E731
        self.mask: dict[str, np.ndarray] = {}
        self.ground: dict[str, np.ndarray] = {}
        self._bare: dict[str, np.ndarray] = {}
        for i, z in enumerate(ZONES):
            n = canvas_m(z)
            m = np.zeros((n, n), np.float32)
            a = MARGIN_PX * S2_PIXEL
            m[a : n - a, a : n - a] = 1.0
            rng = np.random.default_rng([seed, 100 + i])
            spec, joints = (mat.ASPHALT, 0) if z.material == "asphalt" else (mat.CONCRETE, 6)
            self.mask[z.id] = m
            self.ground[z.id] = render.pavement(rng, n, n, spec, joints)

    def bare_spectrum(self, zone_id: str) -> np.ndarray:
        """FFT of the bare pavement and its cover (5, ...), computed once per zone."""
        if zone_id not in self._bare:
            m = self.mask[zone_id]
            self._bare[zone_id] = render.spectrum(np.concatenate([self.ground[zone_id] * m[None], m[None]]))
        return self._bare[zone_id]

    def construction(self, zone: Zone, day: date) -> tuple[np.ndarray, tuple[slice, slice], bool] | None:
        """Persistent new surfaces (confounder): a bright slab on the asphalt square from 20 April 2018,
        fresh black asphalt over part of the concrete park from 20 June 2018."""
        a = MARGIN_PX * S2_PIXEL
        if zone.id == "square-asphalt" and day >= date(2018, 4, 20):
            return mat.NEW_CONCRETE, (slice(a + 120, a + 180), slice(a + 30, a + 70)), False
        if zone.id == "park-concrete" and day >= date(2018, 6, 20):
            return mat.FRESH_ASPHALT, (slice(a + 20, a + 80), slice(a + 110, a + 190)), True
        return None

    def wetness(self, day: date) -> float:
        """Share of the wet-pavement effect on ``day`` (confounder): 0 dry, up to 1 soaked; 25 % of days wet."""
        rng = np.random.default_rng([self.seed, 7, day.toordinal()])
        return float(rng.uniform(0.5, 1.0)) if rng.random() < 0.25 else 0.0

    def shift_px(self, when: datetime, confounders: bool) -> tuple[float, float]:
        """Registration error of the date: +-0.7 px uniform with confounders, else +-0.15 px (S2 spec)."""
        rng = np.random.default_rng([self.seed, 9, int(when.timestamp())])
        amp = 0.7 if confounders else 0.15
        return float(rng.uniform(-amp, amp)), float(rng.uniform(-amp, amp))

    def zone_layers(
        self, zone: Zone, day: date, opts: Options, optical: bool = True
    ) -> tuple[np.ndarray, render.Layers, str | None]:
        """The 1 m ground (4, n, n) of ``zone`` on ``day`` and the formation layers drawn on it.

        ``optical=False`` (radar) skips the ground's wet patches and new surfaces (radar models its own).
        """
        g = self.ground[zone.id]  # the same array unless a confounder changes it (see s2_date's cache)
        n = g.shape[-1]
        lay = render.Layers.empty(n, n)
        if opts.confounders and optical:
            c = self.construction(zone, day)
            if c is not None:
                spec, sl, _ = c
                g = g.copy()
                g[(slice(None), *sl)] = spec[:, None, None]
            wet = self.wetness(day)
            if wet > 0:
                rng = np.random.default_rng([self.seed, 8, day.toordinal(), ZONES.index(zone)])
                # puddles and drying patches: a smooth random field with a 20-40 m correlation length
                coarse = ndimage.gaussian_filter(rng.normal(size=(n // 10, n // 10)), 1.5)
                patch = ndimage.zoom(coarse / (coarse.std() + 1e-9), 10, order=1)[:n, :n]
                patch = np.clip(0.5 + 0.5 * patch, 0, 1) * wet
                g = g * (1.0 - patch[None] * (1.0 - mat.WET_RATIO[:, None, None]))
        kind = None
        if opts.formations:
            f = formation_on(zone, day, self.seed)
            if f is not None:
                kind, scale, fseed = f
                rng = np.random.default_rng(fseed)
                form = render.troop_lattice(rng, scale) if kind == "crowd" else render.vehicle_park(rng, scale)
                a = MARGIN_PX * S2_PIXEL
                half = zone.size * S2_PIXEL / 2
                diag = 0.5 * float(np.hypot(*form.cover.shape))
                room = max(half - diag - 10.0, 0.0)
                cr = a + half + rng.uniform(-room, room)
                cc = a + half + rng.uniform(-room, room)
                render.paste(lay, form, (cr, cc), zone.heading_deg + rng.uniform(-3, 3))
        return g, lay, kind


def zone_geojson(grid: Grid, zone: Zone, path: Path) -> None:
    """The zone: its paved area inset by one pixel, as a GeoJSON polygon (corners of the UTM rectangle)."""
    r0, c0 = zone.row + 1, zone.col + 1
    r1, c1 = zone.row + zone.size - 1, zone.col + zone.size - 1
    ring = [grid.lonlat(r, c) for r, c in ((r0, c0), (r0, c1), (r1, c1), (r1, c0), (r0, c0))]
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [ring]}))


def write_config(grid: Grid, folder: Path, imagery: Path | None = None) -> Path:
    """``folder/monitor.toml`` with the site (the patch inset by one pixel) and the four zones.

    The local source reads ``imagery`` (default: ``folder/imagery``).
    """
    (folder / "zones").mkdir(parents=True, exist_ok=True)
    lo0, la0 = grid.lonlat(grid.size - 1, 1)
    lo1, la1 = grid.lonlat(1, grid.size - 1)
    lo2, la2 = grid.lonlat(1, 1)
    lo3, la3 = grid.lonlat(grid.size - 1, grid.size - 1)
    bbox = [max(lo0, lo2), max(la0, la3), min(lo1, lo3), min(la1, la2)]
    lines = [
        "[monitor]",
        'data_dir = "data"',
        "",
        "[[sources]]",
        'kind = "local"',
        f"path = {json.dumps(str(imagery) if imagery else 'imagery')}",
        "",
        "[[sites]]",
        'id = "flanders-paved"',
        'name = "Flanders farmland with injected paved zones (physics injector)"',
        f"bbox = [{', '.join(f'{v:.6f}' for v in bbox)}]",
    ]
    for z in ZONES:
        zone_geojson(grid, z, folder / "zones" / f"{z.id}.geojson")
        lines += [
            "",
            "  [[sites.zones]]",
            f'  id = "{z.id}"',
            f'  kind = "{z.kind}"',
            f'  geometry = "zones/{z.id}.geojson"',
        ]
    path = folder / "monitor.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(frozen=True)
class TruthRow:
    zone: str
    scene_id: str
    acquired: datetime
    sensor: str
    kind: str | None
    episode: str | None


def s2_date(
    world: World,
    when: datetime,
    real: np.ndarray,
    sky: tuple[np.ndarray, np.ndarray, np.ndarray],
    scl: np.ndarray,
    opts: Options,
    lonlat: tuple[float, float],
) -> tuple[np.ndarray, list[tuple[str, str | None]]]:
    """One S2 date's reflectance (4, H, W) with pavement, formations and confounders, and what is where."""
    out = real.copy()
    kinds: list[tuple[str, str | None]] = []
    if not opts.paved:
        return out, [(z.id, None) for z in ZONES]
    sun = sun_at(when, *lonlat)
    before, after, ref = sky
    tr = atmosphere.transfer(real, ref, scl, atmosphere.cloud_reflectance(real, scl), before, after)
    shift = world.shift_px(when, opts.confounders)
    rng = np.random.default_rng([world.seed, 11, int(when.timestamp())])
    gain = rng.normal(1.0, 0.02, size=4)  # view-angle (BRDF) and correction residual, common to the date
    day = when.date()
    for z in ZONES:
        g, lay, kind = world.zone_layers(z, day, opts)
        m = world.mask[z.id]
        sm = (shift[0] * S2_PIXEL, shift[1] * S2_PIXEL)
        if g is world.ground[z.id] and not lay.cover.any():  # the bare, dry pavement: its FFT is cached
            spec = world.bare_spectrum(z.id)
        else:
            spec = render.spectrum(np.concatenate([render.compose(g, lay, sun) * m[None], m[None]]))
        both = render.from_spectrum(spec, m.shape, sm)
        A, P = both[:4] * gain[:, None, None], both[4]
        A = A + P[None] * rng.normal(0.0, 0.004, size=A.shape)  # sensor + correction noise
        r0, c0 = z.row - MARGIN_PX, z.col - MARGIN_PX
        n = z.size + 2 * MARGIN_PX
        win = (slice(None), slice(r0, r0 + n), slice(c0, c0 + n))
        sub = atmosphere.Transfer(tr.k[win], tr.g[win], tr.case[win[1:]], tr.drop[win])
        out[win] = sub.apply(real[win], A, P)
        kinds.append((z.id, kind))
    if opts.confounders:
        hrng = np.random.default_rng([world.seed, 13, int(when.timestamp())])
        if hrng.random() < 0.15:
            out = atmosphere.haze(out, hrng, mat.WAVELENGTH_NM)
    return out, kinds


def s1_date(
    world: World, when: datetime, real: np.ndarray, opts: Options, looks: float, orbit_offset_db: float
) -> tuple[np.ndarray, list[tuple[str, str | None]]]:
    """One S1 date (2, 32, 32 linear sigma0) with pavement and vehicle parks (crowds are not injected)."""
    if not opts.paved:
        return real.copy(), [(z.id, None) for z in ZONES]
    out = real.copy()
    rng = np.random.default_rng([world.seed, 21, int(when.timestamp())])
    day = when.date()
    kinds: list[tuple[str, str | None]] = []
    f = S1_PIXEL
    for z in ZONES:
        _, lay, kind = world.zone_layers(z, day, opts, optical=False)
        if kind == "crowd":  # troops are not injected into radar (docs/physics-injection.md)
            lay, kind = render.Layers.empty(*lay.cover.shape), None
        m = world.mask[z.id]
        n = m.shape[0]
        k = n // f
        P = m.reshape(k, f, k, f).mean(axis=(1, 3))
        vc = (lay.solid > 0).astype(float).reshape(k, f, k, f).mean(axis=(1, 3))
        base = radar.ASPHALT_DB if z.material == "asphalt" else radar.CONCRETE_DB
        ground_db = np.broadcast_to(base[:, None, None], (2, k, k)).copy()
        if opts.confounders:
            c = world.construction(z, day)
            if c is not None:
                _, sl, dark = c
                cm = np.zeros((n, n))
                cm[sl] = 1
                share = cm.reshape(k, f, k, f).mean(axis=(1, 3))
                new = radar.ASPHALT_DB if dark else radar.CONCRETE_DB
                lin = (1 - share)[None] * 10 ** (ground_db / 10) + share[None] * 10 ** (new[:, None, None] / 10)
                ground_db = 10 * np.log10(lin)
            if world.wetness(day) > 0:
                ground_db = ground_db + radar.WET_DB * world.wetness(day)
        pts = [(v.row / f, v.col / f, v.coach) for v in lay.vehicles]
        r0, c0 = (z.row - MARGIN_PX) // 2, (z.col - MARGIN_PX) // 2
        win = (slice(None), slice(r0, r0 + k), slice(c0, c0 + k))
        out[win] = radar.inject(real[win], P, ground_db, vc, pts, f, orbit_offset_db, looks, rng)
        kinds.append((z.id, kind))
    return out, kinds


def write_like(src: Path, dst: Path, data: np.ndarray, dtype: str) -> None:
    """Write ``data`` into a GeoTIFF with ``src``'s georeference, band descriptions and tags."""
    with rasterio.open(src) as ds:
        prof = ds.profile.copy()
        desc = ds.descriptions
        tags = ds.tags()
    prof.update(dtype=dtype)
    with rasterio.open(dst, "w", **prof) as out:
        out.write(data.astype(dtype))
        out.descriptions = desc
        out.update_tags(**tags)
