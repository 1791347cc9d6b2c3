"""The evidence of one zone in one scene, drawn from what the scorer saw.

For an alert's opening, each raise and its latest confirmation: the four-panel PNG (baseline, scene, band
difference, change statistic; see ``docs/alerts.md``) and the same stacked for a phone, an animated GIF of
the zone's last usable scenes, the site's change map as a Cloud-Optimized GeoTIFF and the zone's
detections (their traced outlines) as GeoJSON, all under ``data_dir/evidence/<site>/``.

Drawing touches no database: the writer reads what the pictures need from the archive first
(:func:`evidence_history`: the baseline's time span, the zone's earlier usable scenes) and hands it to
:func:`render_zone` as a plain record.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from affine import Affine
from pyproj import Transformer

from monitor.archive.catalogue import Catalogue, iso
from monitor.archive.crops import read_crop_file
from monitor.detect.baseline import Baseline
from monitor.detect.classes import FORMATION_CLASSES
from monitor.detect.scoring import SceneChange
from monitor.detect.values import analysis_values
from monitor.errors import ArchiveError
from monitor.grid import SiteGrid
from monitor.pipeline.context import SiteContext
from monitor.pipeline.rows import safe_name
from monitor.render.names import CONFIRMED, SUFFIXES
from monitor.render.outlines import Outline, mask_geometry, summary_line, trace
from monitor.render.stretch import BAND_NAMES, Composite, Difference, changed_band, choose_composite, difference_limit
from monitor.scene import Scene
from monitor.sensors import is_radar, rgb_bands

if TYPE_CHECKING:
    from monitor.render.animation import Frame

log = logging.getLogger(__name__)

#: Scenes in the animation: the alerting one and up to this many usable ones before it.
ANIMATION_HISTORY = 7


def zone_window(mask: np.ndarray, pad: int = 20, minimum: int = 64) -> tuple[slice, slice]:
    """Rows and columns around a zone, ``pad`` pixels of context, at least ``minimum`` pixels a side."""
    rows, cols = np.nonzero(mask)
    slices = []
    for idx, size in ((rows, mask.shape[0]), (cols, mask.shape[1])):
        lo, hi = int(idx.min()) - pad, int(idx.max()) + 1 + pad
        if hi - lo < minimum:
            grow = (minimum - (hi - lo)) // 2 + 1
            lo, hi = lo - grow, hi + grow
        slices.append(slice(max(0, lo), min(size, hi)))
    return slices[0], slices[1]


def _triple(bands: tuple[str, ...], composite: Composite | None) -> tuple[str, ...] | None:
    if composite is not None and all(b in bands for b in composite.value):
        return composite.value
    return rgb_bands(bands)


def display_rgb(
    scene: Scene, bands: tuple[str, ...], window: tuple[slice, slice], composite: Composite | None = None
) -> np.ndarray:
    """(3, rows, cols) of a scene in a window: the ``composite``'s bands (default true colour) for optical
    scenes, the first analysis band in grey for radar or when the bands hold neither; NaN where the scene
    is not clear."""
    rows, cols = window
    rgb = _triple(bands, composite)
    if rgb is not None and not is_radar(scene.sensor, bands) and all(b in scene.bands for b in rgb):
        out = scene.data[[scene.bands.index(b) for b in rgb]][:, rows, cols]
    else:
        out = np.repeat(analysis_values(scene.sensor, scene.bands, scene.data)[:1, rows, cols], 3, axis=0)
    return np.where(scene.valid[rows, cols][None], out, np.nan)


def baseline_rgb(baseline: Baseline, window: tuple[slice, slice], composite: Composite | None = None) -> np.ndarray:
    """(3, rows, cols) of a baseline median in a window: the ``composite``'s bands (default true colour)
    for optical, the first band in grey."""
    rows, cols = window
    rgb = _triple(baseline.bands, composite)
    if rgb is not None and not is_radar(baseline.sensor, baseline.bands):
        return baseline.median[[baseline.bands.index(b) for b in rgb]][:, rows, cols]
    return np.repeat(baseline.median[:1, rows, cols], 3, axis=0)


def band_difference(scene: Scene, baseline: Baseline, window: tuple[slice, slice], where: np.ndarray) -> Difference:
    """Scene minus baseline in the window, in the band that changed most over ``where`` (window
    booleans: the outlined formations, else the significant pixels), in analysis units (reflectance,
    or dB for radar), with the window's median difference removed (the scene-wide illumination offset)."""
    rows, cols = window
    values = analysis_values(scene.sensor, scene.bands, scene.data)
    idx = [scene.bands.index(b) for b in baseline.bands if b in scene.bands]
    diff = (
        values[idx][:, rows, cols] - baseline.median[[baseline.bands.index(scene.bands[i]) for i in idx]][:, rows, cols]
    )
    diff = np.where(scene.valid[rows, cols][None], diff, np.nan)
    band = changed_band(diff, where)
    layer = diff[band]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        offset = float(np.nanmedian(layer)) if np.isfinite(layer).any() else 0.0
    layer = layer - offset
    name = scene.bands[idx[band]]
    unit = "dB" if is_radar(scene.sensor, scene.bands) else "reflectance"
    return Difference(layer, name, BAND_NAMES.get(name, name), unit, difference_limit(layer, where))


def corner_text(grid: SiteGrid, window: tuple[slice, slice]) -> str:
    """The WGS84 coordinates of the picture's top-left and bottom-right corners, for the key."""
    rows, cols = window
    to_wgs84 = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    out = []
    for r, c in ((rows.start, cols.start), (rows.stop, cols.stop)):
        x, y = grid.transform * (c, r)
        lon, lat = to_wgs84.transform(x, y)
        out.append(f"{abs(lat):.4f}{'N' if lat >= 0 else 'S'} {abs(lon):.4f}{'E' if lon >= 0 else 'W'}")
    return f"corners: top left {out[0]}, bottom right {out[1]} (WGS84)"


def _pixels(outlines: list[Outline], window: tuple[slice, slice]) -> np.ndarray:
    """Window booleans: the pixels inside the outlines (their traced pixels)."""
    rows, cols = window
    out = np.zeros((rows.stop - rows.start, cols.stop - cols.start), bool)
    for o in outlines:
        out |= _rasterised(o, window, out.shape)
    return out


def _rasterised(outline: Outline, window: tuple[slice, slice], shape: tuple[int, int]) -> np.ndarray:
    from rasterio.features import geometry_mask

    if outline.geometry.is_empty:
        return np.zeros(shape, bool)
    transform = Affine.translation(window[1].start, window[0].start)
    return ~geometry_mask([outline.geometry], out_shape=shape, transform=transform)


@dataclass(frozen=True)
class PastFrame:
    """An earlier usable scene of the zone, for the animation: its archived crop and acquisition time."""

    scene_id: str
    acquired: str
    crop: str


@dataclass(frozen=True)
class EvidenceHistory:
    """What the evidence of one zone in one scene needs from the archive: the baseline's label (how many
    scenes, which dates) and the zone's earlier usable scenes of the same sensor, oldest first."""

    baseline_label: str
    frames: tuple[PastFrame, ...] = ()


def evidence_history(
    catalogue: Catalogue, ctx: SiteContext, scene: Scene, baseline: Baseline, zone: str
) -> EvidenceHistory:
    """Read from the archive what :func:`render_zone` draws besides the scene itself."""
    first, last = catalogue.acquisition_span(ctx.site_id, baseline.scene_ids)
    dates = f"\n{first[:10]} to {last[:10]}" if first and last else ""
    label = f"Baseline: median of {len(baseline.scene_ids)} {baseline.sensor} scenes{dates}"
    earlier = catalogue.recent_observations(
        ctx.site_id, zone, scene.sensor, ctx.config.alerts.min_usable_fraction, scene.acquired, ANIMATION_HISTORY
    )
    frames = tuple(PastFrame(r.scene_id, r.acquired or "", crop) for r, crop in reversed(earlier))
    return EvidenceHistory(label, frames)


def render_zone(
    ctx: SiteContext,
    scene: Scene,
    baseline: Baseline,
    change: SceneChange,
    zone: str,
    history: EvidenceHistory,
    *,
    confirmation: bool = False,
) -> list[Path]:
    """Write the zone's evidence for this scene and return the absolute paths: the PNG
    (``evidence/<site>/<zone>/<scene>.png``) first, then the same stacked for a phone (``.phone.png``),
    the GIF, the change COG and the GeoJSON. A ``confirmation``'s files go under ``confirmed/``
    (``evidence/<site>/<zone>/confirmed/``, the COG under ``evidence/<site>/confirmed/``): the next
    confirmation replaces them (:func:`monitor.render.names.is_confirmation`). Reads no database (see
    :func:`evidence_history`)."""
    from monitor.render.animation import write_animation  # matplotlib: only when drawing
    from monitor.render.evidence import credit_line, render_evidence
    from monitor.render.geo import detections_geojson, write_change_cog, write_geojson
    from monitor.render.stretch import percentile_limits

    site, grid, masks = ctx.site, ctx.grid, ctx.masks
    window = zone_window(masks[zone])
    rows, cols = window
    zone_score = next(z for z in change.zones if z.zone == zone)
    resolution = ctx.pixel_size_m
    zone_shape = mask_geometry(masks[zone])
    outlines = [
        trace(zone, d, masks[zone], zone_score.footprints, zone_score.footprint_origin, resolution, zone_shape)
        for d in zone_score.detections
    ]
    formations = [o for o in outlines if o.detection.cls in FORMATION_CLASSES]
    composite = choose_composite((o.detection.cls for o in formations), baseline.bands)
    base_rgb = baseline_rgb(baseline, window, composite)
    where = _pixels(formations, window) if formations else change.significant[rows, cols] & masks[zone][rows, cols]

    def fmt(score: float | None) -> str:
        return "n/a" if score is None else f"{score:.2f}"

    simulated = "SIMULATED - " if scene.simulated else ""
    title = f"{simulated}{site.name or site.id} / {zone}: {scene.sensor} {scene.acquired:%Y-%m-%d %H:%M} UTC"
    subtitle = (
        f"crowd score {fmt(zone_score.crowd_score)}, vehicle score {fmt(zone_score.vehicle_score)}; "
        f"changed area: {100 * (zone_score.change_fraction or 0):.1f}% of the compared pixels, "
        f"{100 * zone_score.usable_fraction:.0f}% of the zone usable\n"
        f"{summary_line(formations, resolution)}"
    )
    credit = credit_line(scene.simulated, scene.acquired.year)
    folder = ctx.evidence_dir
    sub = CONFIRMED if confirmation else ""
    name = safe_name(scene.scene_id)
    zone_masks = {z: m[rows, cols] for z, m in masks.items()}
    look = composite.label if composite is not None else ""
    picture: dict[str, Any] = dict(
        baseline_rgb=base_rgb,
        scene_rgb=display_rgb(scene, baseline.bands, window, composite),
        difference=band_difference(scene, baseline, window, where),
        change=change.statistic[rows, cols],
        threshold=change.threshold,
        zone_masks=zone_masks,
        outlines=outlines,
        window_origin=(rows.start, cols.start),
        title=title,
        subtitle=subtitle,
        credit=credit,
        corners=corner_text(grid, window),
        resolution=resolution,
        baseline_label=history.baseline_label + (f"\n{look}" if look else ""),
        scene_label=f"Scene: {scene.sensor} {scene.acquired:%Y-%m-%d %H:%M} UTC\n{scene.scene_id}"
        + (f"\n{look}" if look else ""),
    )

    def target(kind: str) -> Path:
        return folder / zone / sub / f"{name}{SUFFIXES[kind]}"

    png = render_evidence(target("png"), **picture)
    phone = render_evidence(target("phone"), tall=True, **picture)
    frames = _frames(site.id, zone, scene, baseline.bands, window, history.frames, composite)
    gif = write_animation(
        target("gif"),
        frames,
        percentile_limits(base_rgb),
        zone_masks,
        credit,
        resolution=resolution,
        look=look,
    )
    tags = {
        "SCENE_ID": scene.scene_id,
        "SENSOR": scene.sensor,
        "ACQUIRED": scene.acquired.isoformat(),
        "BASELINE_VERSION": str(baseline.version),
        "SIGNIFICANCE_THRESHOLD": f"{change.threshold:.6g}",
        "CREDIT": credit,
    }
    cog = write_change_cog(folder / sub / f"{name}{SUFFIXES['cog']}", change.statistic, grid.transform, grid.crs, tags)
    properties = {
        "site": site.id,
        "zone": zone,
        "scene_id": scene.scene_id,
        "acquired": iso(scene.acquired),
        "sensor": scene.sensor,
        "crowd_score": zone_score.crowd_score,
        "vehicle_score": zone_score.vehicle_score,
        "simulated": scene.simulated,
        "credit": credit,
    }
    collection = detections_geojson(outlines, transform=grid.transform, crs=grid.crs, properties=properties)
    geojson = write_geojson(target("geojson"), collection)
    return [png, phone, gif, cog, geojson]


def _frames(
    site: str,
    zone: str,
    scene: Scene,
    bands: tuple[str, ...],
    window: tuple[slice, slice],
    earlier: tuple[PastFrame, ...],
    composite: Composite | None,
) -> list[Frame]:
    """The zone's earlier usable scenes (oldest first; a lost crop is left out), then ``scene``, in the
    evidence's ``composite``."""
    from monitor.render.animation import Frame

    frames = []
    for past in earlier:
        try:
            old = read_crop_file(Path(past.crop))
        except (ArchiveError, KeyError, ValueError) as exc:
            log.warning("animation of %s/%s: scene %s left out: %s", site, zone, past.scene_id, exc)
            continue
        caption = f"{past.acquired[:16].replace('T', ' ')} UTC {old.sensor}"
        frames.append(Frame(display_rgb(old, bands, window, composite), caption))
    frames.append(
        Frame(display_rgb(scene, bands, window, composite), f"{scene.acquired:%Y-%m-%d %H:%M} UTC {scene.sensor}", True)
    )
    return frames
