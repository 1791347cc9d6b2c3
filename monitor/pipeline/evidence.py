"""The evidence picture of one zone in one scene, drawn from what the scorer saw."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from monitor.config import Config, SiteConfig
from monitor.detect.baseline import Baseline
from monitor.detect.formations import describe
from monitor.detect.scoring import SceneChange
from monitor.detect.values import analysis_values
from monitor.grid import SiteGrid
from monitor.pipeline.rows import safe_name
from monitor.scene import Scene
from monitor.sensors import is_radar, rgb_bands


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


def render_zone(
    config: Config,
    site: SiteConfig,
    grid: SiteGrid,
    scene: Scene,
    baseline: Baseline,
    change: SceneChange,
    masks: dict[str, np.ndarray],
    zone: str,
) -> Path:
    """Write ``data_dir/evidence/<site>/<zone>/<scene>.png`` and return its absolute path."""
    from monitor.render.evidence import credit_line, render_evidence  # matplotlib: only when drawing

    rows, cols = zone_window(masks[zone])
    rgb = rgb_bands(baseline.bands)
    if rgb is not None and not is_radar(scene.sensor, baseline.bands):
        idx = [baseline.bands.index(b) for b in rgb]
        base_rgb = baseline.median[idx][:, rows, cols]
        scene_rgb = scene.data[[scene.bands.index(b) for b in rgb]][:, rows, cols]
    else:  # radar or no true colour: the first band, grey
        base_rgb = np.repeat(baseline.median[:1, rows, cols], 3, axis=0)
        scene_rgb = np.repeat(analysis_values(scene.sensor, scene.bands, scene.data)[:1, rows, cols], 3, axis=0)
    scene_rgb = np.where(scene.valid[rows, cols][None], scene_rgb, np.nan)
    zone_score = next(z for z in change.zones if z.zone == zone)
    detections = [(zone, replace(d, row=d.row - rows.start, col=d.col - cols.start)) for d in zone_score.detections]

    def fmt(score: float | None) -> str:
        return "n/a" if score is None else f"{score:.2f}"

    title = f"{site.name or site.id} / {zone}: {scene.sensor} {scene.acquired:%Y-%m-%d %H:%M} UTC ({scene.scene_id})"
    subtitle = (
        f"crowd {fmt(zone_score.crowd_score)}, vehicle {fmt(zone_score.vehicle_score)}, "
        f"change {100 * (zone_score.change_fraction or 0):.1f}% of compared pixels, usable "
        f"{100 * zone_score.usable_fraction:.0f}%; baseline v{baseline.version} of {len(baseline.scene_ids)} scenes\n"
        f"{describe(zone_score.detections)} (yellow boxes)"
    )
    path = config.data_dir / "evidence" / site.id / zone / f"{safe_name(scene.scene_id)}.png"
    return render_evidence(
        path,
        baseline_rgb=base_rgb,
        scene_rgb=scene_rgb,
        change=change.statistic[rows, cols],
        threshold=change.threshold,
        zone_masks={z: m[rows, cols] for z, m in masks.items()},
        detections=detections,
        title=("SIMULATED - " if scene.simulated else "") + title,
        subtitle=subtitle,
        credit=credit_line(scene.simulated, scene.acquired.year),
        resolution=grid.pixel_size_m,
    )
