"""The scoring step: score each new scene against its baseline, zone by zone, and step the alerts."""

from __future__ import annotations

import logging

from tqdm import tqdm

from monitor.archive.catalogue import Catalogue
from monitor.archive.records import SceneStatus
from monitor.detect.baseline import Baseline
from monitor.errors import ArchiveError
from monitor.pipeline.baselines import load_crop, scene_baseline
from monitor.pipeline.context import SiteContext
from monitor.pipeline.rows import score_row
from monitor.pipeline.summary import RunSummary
from monitor.pipeline.tasks import score_scene_task
from monitor.pipeline.writer import Confirmation, commit_scored, draw_confirmations, record_error

log = logging.getLogger(__name__)


def cover_new_zones(catalogue: Catalogue, ctx: SiteContext, summary: RunSummary) -> None:
    """Zones added to the config after scenes were scored: every scene must appear in every zone, so
    usable scenes are scored again (their existing rows come out the same) and unusable ones get rows."""
    site, zones = ctx.site_id, list(ctx.masks)
    stale = catalogue.scenes_missing_zones(site, zones)
    if not stale:
        return
    log.info("site %s: %d scene(s) lack rows for a newly configured zone; scoring them again", site, len(stale))
    with catalogue.transaction():
        for scene in stale:
            if scene.status is SceneStatus.OK:
                catalogue.set_scored(site, scene.scene_id, False)
                continue
            have = catalogue.scored_zones(site, scene.scene_id)
            catalogue.add_scores(
                [
                    score_row(site, z, scene.scene_id, scene.acquired, scene.sensor, 0.0, scene.status)
                    for z in zones
                    if z not in have
                ]
            )
    summary.rescored_scenes += sum(1 for s in stale if s.status is SceneStatus.OK)


def score_site(catalogue: Catalogue, ctx: SiteContext, summary: RunSummary, progress: bool) -> None:
    """Score every ingested, unscored scene of a site, oldest first, each against its own baseline
    (:func:`scene_baseline`: seasonal, recent or warm-up); a scene waits while its sensor has too few
    usable scenes for any. Oldest first matters: whether a scene is quiet enough to enter a later
    baseline depends on its score.

    A scene whose scoring fails (a bug, a full disk while rendering) is recorded with state
    ``error: ...`` and the run goes on. Each alert's latest confirmation is drawn once, at the end
    (:func:`draw_confirmations`).
    """
    cover_new_zones(catalogue, ctx, summary)
    baselines: dict[tuple[str, int], Baseline] = {}  # one run loads or builds each version once
    confirmations: dict[str, Confirmation] = {}  # alert id -> its latest confirmation in this run
    todo = catalogue.pending_scenes(ctx.site_id)
    for record in tqdm(todo, desc=f"score {ctx.site_id}", unit="scene", disable=not progress, leave=False):
        if not catalogue.is_pending(ctx.site_id, record.scene_id):
            continue  # failed while a baseline was being built (its crop was lost)
        assert record.acquired_at is not None  # an archived crop always has its time
        baseline, built = scene_baseline(catalogue, ctx, record.sensor, record.acquired_at, baselines)
        summary.baselines_built += int(built)
        if baseline is None:
            continue
        scene = load_crop(catalogue, record)
        if scene is None:
            summary.failed_scenes += 1
            continue
        try:
            scored = score_scene_task(ctx, scene, baseline)
            commit_scored(catalogue, ctx, scene, baseline, scored, summary, confirmations)
        except (ArchiveError, OSError) as exc:  # our disk, not the scene: left unscored, retried next run
            log.error("scene %s: scoring could not be stored: %s", scene.scene_id, exc)
            summary.errors.append(f"scene {scene.scene_id}: scoring could not be stored: {exc}")
        except Exception as exc:  # a bug must not stop the run, nor block every later run
            log.error("scene %s: scoring failed: %r", scene.scene_id, exc)
            log.debug("traceback", exc_info=True)
            record_error(catalogue, ctx, scene, f"error: {exc!r}")
            summary.errors.append(f"scene {scene.scene_id}: scoring failed: {exc!r}")
    draw_confirmations(catalogue, ctx, confirmations, summary)
