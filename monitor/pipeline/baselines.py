"""The baseline step: build a site's baseline from its first usable scenes, or load the stored one."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from monitor.archive.baselines import read_baseline_file, write_baseline_file
from monitor.archive.catalogue import Catalogue, utcnow
from monitor.archive.crops import read_crop_file
from monitor.config import Config, SiteConfig
from monitor.detect.baseline import Baseline, baseline_from_scenes
from monitor.errors import ArchiveError
from monitor.scene import Scene

log = logging.getLogger(__name__)


def load_crop(catalogue: Catalogue, site: str, scene_id: str, crop: str) -> Scene | None:
    """An archived crop, or None after recording the scene as failed with its attempts reset, so that the
    next run fetches it again. Scores already computed from the crop are kept."""
    try:
        return read_crop_file(Path(crop))
    except (ArchiveError, KeyError, ValueError) as exc:
        reason = f"archived crop {crop} is missing or unreadable ({exc}); it will be fetched again"
        log.warning("scene %s: %s", scene_id, reason)
        with catalogue.transaction() as db:
            unscored = db.execute(
                "SELECT scored = 0 FROM scenes WHERE site = ? AND scene_id = ?", (site, scene_id)
            ).fetchone()
            db.execute(
                "UPDATE scenes SET status = 'failed', reason = ?, scored = 1, attempts = 0 "
                "WHERE site = ? AND scene_id = ?",
                (reason, site, scene_id),
            )
            if unscored and unscored[0]:
                db.execute(
                    "UPDATE scores SET state = 'failed', usable_fraction = 0, change_fraction = NULL, "
                    "crowd_score = NULL, vehicle_score = NULL, detections = '[]' WHERE site = ? AND scene_id = ?",
                    (site, scene_id),
                )
        return None


def site_baseline(catalogue: Catalogue, config: Config, site: SiteConfig, sensor: str) -> Baseline | None:
    """The site's baseline for a sensor: the stored one, else one built from the first
    ``detect.warmup_scenes`` usable scenes once there are that many (None until then).

    A stored baseline whose file is lost or broken is rebuilt from the scenes it was made of, under the
    same version; if those scenes are gone too, a new version is built from the scenes there are now, so
    that a version number always means one set of scenes.
    """
    detect = config.detect
    row = catalogue.baseline(site.id, sensor)
    if row is None:
        return _first_baseline(catalogue, config, site, sensor, version=1)
    try:
        return read_baseline_file(
            Path(row["path"]), tuple(row["scene_ids"]), int(row["version"]), detect.min_observations
        )
    except ArchiveError as exc:
        log.warning("site %s: %s; rebuilding it from its %d scenes", site.id, exc, len(row["scene_ids"]))
    marks = ",".join("?" for _ in row["scene_ids"])
    stored = catalogue.query(
        f"SELECT scene_id, crop FROM scenes WHERE site = ? AND scene_id IN ({marks}) AND crop IS NOT NULL "
        "ORDER BY acquired",
        (site.id, *row["scene_ids"]),
    )
    loaded = [load_crop(catalogue, site.id, c["scene_id"], c["crop"]) for c in stored]
    scenes = [s for s in loaded if s is not None]
    if len(scenes) == len(row["scene_ids"]):
        return _build(catalogue, config, site, sensor, scenes, int(row["version"]))
    return _first_baseline(catalogue, config, site, sensor, version=int(row["version"]) + 1)


def _first_baseline(
    catalogue: Catalogue, config: Config, site: SiteConfig, sensor: str, version: int
) -> Baseline | None:
    """A baseline from the first ``warmup_scenes`` usable scenes of the site and sensor, or None."""
    detect = config.detect
    alerted = alerted_scenes(catalogue, site.id)
    while True:
        rows = catalogue.query(
            "SELECT scene_id, crop FROM scenes WHERE site = ? AND sensor = ? AND status = 'ok' "
            "AND usable_fraction >= ? AND (registration IS NULL OR registration NOT LIKE 'unregistered%') "
            "ORDER BY acquired, scene_id",
            (site.id, sensor, detect.min_scene_usable),
        )
        candidates = [r for r in rows if r["scene_id"] not in alerted][: detect.warmup_scenes]
        if len(candidates) < detect.warmup_scenes:
            return None
        loaded = [load_crop(catalogue, site.id, c["scene_id"], c["crop"]) for c in candidates]
        scenes = [s for s in loaded if s is not None]
        if len(scenes) == len(candidates):  # else the lost ones are now failed: take the next ones
            skipped = sorted(alerted & {r["scene_id"] for r in rows})
            return _build(catalogue, config, site, sensor, scenes, version, skipped)


def alerted_scenes(catalogue: Catalogue, site: str) -> set[str]:
    """Every scene that raised or confirmed an alert of the site (the alerts' ``scene_ids``): what a
    formation looked like must never become what the site normally looks like."""
    return {scene_id for alert in catalogue.alerts(site) for scene_id in alert["scene_ids"]}


def _build(
    catalogue: Catalogue,
    config: Config,
    site: SiteConfig,
    sensor: str,
    scenes: list[Scene],
    version: int,
    alerted: list[str] | None = None,
) -> Baseline:
    bands = scenes[0].bands
    scenes = [s for s in scenes if s.bands == bands]
    baseline, regs = baseline_from_scenes(scenes, config.detect.min_observations, version)
    composition: dict[str, object] = {
        "rule": f"first {config.detect.warmup_scenes} scenes with usable fraction >= {config.detect.min_scene_usable}",
        "kept_out_alerted": alerted or [],
        "shifts_px": {
            s.scene_id: [round(r.dx_px, 3), round(r.dy_px, 3)] for s, r in zip(scenes, regs, strict=True) if r and r.ok
        },
        "unregistered": [s.scene_id for s, r in zip(scenes, regs, strict=True) if r is not None and not r.ok],
    }
    path = config.data_dir / "baselines" / site.id / f"{sensor}-v{version}.tif"
    write_baseline_file(path, baseline, scenes[0].transform, scenes[0].crs)
    with catalogue.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO baselines (site, sensor, version, scene_ids, path, created_at, composition) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                site.id,
                sensor,
                version,
                json.dumps(list(baseline.scene_ids)),
                str(path),
                utcnow(),
                json.dumps(composition, sort_keys=True),
            ),
        )
    log.info("site %s: %s baseline v%d built from %d scenes", site.id, sensor, version, len(scenes))
    return baseline
