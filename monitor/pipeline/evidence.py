"""The evidence of one zone in one scene, drawn from what the scorer saw.

For every raising observation: the three-panel PNG, an animated GIF of the zone's last usable scenes,
the site's change map as a Cloud-Optimized GeoTIFF and the zone's detections as GeoJSON, all under
``data_dir/evidence/<site>/``.

Drawing touches no database: the writer reads what the pictures need from the archive first
(:func:`evidence_history`: the baseline's time span, the zone's earlier usable scenes) and hands it to
:func:`render_zone` as a plain record.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from monitor.archive.catalogue import Catalogue, iso
from monitor.archive.crops import read_crop_file
from monitor.detect.baseline import Baseline
from monitor.detect.formations import describe
from monitor.detect.scoring import SceneChange
from monitor.detect.values import analysis_values
from monitor.errors import ArchiveError
from monitor.pipeline.context import SiteContext
from monitor.pipeline.rows import safe_name
from monitor.render.names import SUFFIXES
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


def display_rgb(scene: Scene, bands: tuple[str, ...], window: tuple[slice, slice]) -> np.ndarray:
    """(3, rows, cols) of a scene in a window: true colour for optical scenes, the first analysis band
    in grey for radar or when the bands hold no true colour; NaN where the scene is not clear."""
    rows, cols = window
    rgb = rgb_bands(bands)
    if rgb is not None and not is_radar(scene.sensor, bands) and all(b in scene.bands for b in rgb):
        out = scene.data[[scene.bands.index(b) for b in rgb]][:, rows, cols]
    else:
        out = np.repeat(analysis_values(scene.sensor, scene.bands, scene.data)[:1, rows, cols], 3, axis=0)
    return np.where(scene.valid[rows, cols][None], out, np.nan)


def baseline_rgb(baseline: Baseline, window: tuple[slice, slice]) -> np.ndarray:
    """(3, rows, cols) of a baseline median in a window: true colour for optical, the first band in grey."""
    rows, cols = window
    rgb = rgb_bands(baseline.bands)
    if rgb is not None and not is_radar(baseline.sensor, baseline.bands):
        return baseline.median[[baseline.bands.index(b) for b in rgb]][:, rows, cols]
    return np.repeat(baseline.median[:1, rows, cols], 3, axis=0)


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
) -> list[Path]:
    """Write the zone's evidence for this scene and return the absolute paths: the PNG
    (``evidence/<site>/<zone>/<scene>.png``) first, then the same stacked for a phone (``.phone.png``),
    the GIF, the change COG and the GeoJSON. Reads no database (see :func:`evidence_history`)."""
    from monitor.render.animation import write_animation  # matplotlib: only when drawing
    from monitor.render.evidence import credit_line, render_evidence
    from monitor.render.geo import detections_geojson, write_change_cog, write_geojson
    from monitor.render.stretch import percentile_limits

    site, grid, masks = ctx.site, ctx.grid, ctx.masks
    window = zone_window(masks[zone])
    rows, cols = window
    base_rgb = baseline_rgb(baseline, window)
    zone_score = next(z for z in change.zones if z.zone == zone)
    detections = [(zone, replace(d, row=d.row - rows.start, col=d.col - cols.start)) for d in zone_score.detections]

    def fmt(score: float | None) -> str:
        return "n/a" if score is None else f"{score:.2f}"

    simulated = "SIMULATED - " if scene.simulated else ""
    title = f"{simulated}{site.name or site.id} / {zone}: {scene.sensor} {scene.acquired:%Y-%m-%d %H:%M} UTC"
    subtitle = (
        f"crowd score {fmt(zone_score.crowd_score)}, vehicle score {fmt(zone_score.vehicle_score)}; "
        f"{100 * (zone_score.change_fraction or 0):.1f}% of compared pixels changed, "
        f"{100 * zone_score.usable_fraction:.0f}% of the zone usable\n"
        f"{describe(zone_score.detections, ctx.pixel_size_m)}"
    )
    credit = credit_line(scene.simulated, scene.acquired.year)
    folder = ctx.evidence_dir
    name = safe_name(scene.scene_id)
    zone_masks = {z: m[rows, cols] for z, m in masks.items()}
    picture: dict[str, Any] = dict(
        baseline_rgb=base_rgb,
        scene_rgb=display_rgb(scene, baseline.bands, window),
        change=change.statistic[rows, cols],
        threshold=change.threshold,
        zone_masks=zone_masks,
        detections=detections,
        title=title,
        subtitle=subtitle,
        credit=credit,
        resolution=grid.pixel_size_m,
        baseline_label=history.baseline_label,
        scene_label=f"Scene: {scene.sensor} {scene.acquired:%Y-%m-%d %H:%M} UTC\n{scene.scene_id}",
    )

    def target(kind: str) -> Path:
        return folder / zone / f"{name}{SUFFIXES[kind]}"

    png = render_evidence(target("png"), **picture)
    phone = render_evidence(target("phone"), tall=True, **picture)
    frames = _frames(site.id, zone, scene, baseline.bands, window, history.frames)
    gif = write_animation(target("gif"), frames, percentile_limits(base_rgb), zone_masks, credit)
    tags = {
        "SCENE_ID": scene.scene_id,
        "SENSOR": scene.sensor,
        "ACQUIRED": scene.acquired.isoformat(),
        "BASELINE_VERSION": str(baseline.version),
        "SIGNIFICANCE_THRESHOLD": f"{change.threshold:.6g}",
        "CREDIT": credit,
    }
    cog = write_change_cog(folder / f"{name}{SUFFIXES['cog']}", change.statistic, grid.transform, grid.crs, tags)
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
    collection = detections_geojson(
        zone_score.detections,
        transform=grid.transform,
        crs=grid.crs,
        resolution=grid.pixel_size_m,
        properties=properties,
    )
    geojson = write_geojson(target("geojson"), collection)
    return [png, phone, gif, cog, geojson]


def _frames(
    site: str,
    zone: str,
    scene: Scene,
    bands: tuple[str, ...],
    window: tuple[slice, slice],
    earlier: tuple[PastFrame, ...],
) -> list[Frame]:
    """The zone's earlier usable scenes (oldest first; a lost crop is left out), then ``scene``."""
    from monitor.render.animation import Frame

    frames = []
    for past in earlier:
        try:
            old = read_crop_file(Path(past.crop))
        except (ArchiveError, KeyError, ValueError) as exc:
            log.warning("animation of %s/%s: scene %s left out: %s", site, zone, past.scene_id, exc)
            continue
        caption = f"{past.acquired[:16].replace('T', ' ')} UTC {old.sensor}"
        frames.append(Frame(display_rgb(old, bands, window), caption))
    frames.append(Frame(display_rgb(scene, bands, window), f"{scene.acquired:%Y-%m-%d %H:%M} UTC {scene.sensor}", True))
    return frames
