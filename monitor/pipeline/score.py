"""The scoring step: score each new scene against its baseline, zone by zone, and step the alerts.

The writer walks the pending scenes oldest first. The head of the queue gets its baseline exactly as a
one-scene-at-a-time run would (built if needed); the scenes after it whose baseline is already stored
are submitted with it, so that an executor with workers scores them in parallel. Before each result is
committed, in time order, the writer checks that the scene's baseline is still the one it was scored
against (an alert raised by an earlier scene of the batch can keep that scene out of a warm-up
baseline); if not, the result is dropped and the scene is scored again. The outcome is the same as
scoring one scene at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.archive.catalogue import Catalogue
from monitor.archive.records import SceneRecord, SceneStatus
from monitor.errors import ArchiveError
from monitor.pipeline.context import SiteContext
from monitor.pipeline.executors import Executor, Handle, InlineExecutor
from monitor.pipeline.progress import counter
from monitor.pipeline.rows import score_row
from monitor.pipeline.summary import RunSummary
from monitor.pipeline.tasks import Scored, score_scene_task
from monitor.pipeline.writer import Confirmation, commit_scored, draw_confirmations, record_error
from monitor.scene import Scene

if TYPE_CHECKING:
    from monitor.detect.baseline import Baseline
    from monitor.pipeline.baselines import ChoiceMemo

log = logging.getLogger(__name__)

#: Scenes submitted ahead of the one being committed, per worker.
BATCH_PER_WORKER = 4
#: Baseline versions kept loaded (a long history has one or two per sensor and month: memory stays flat).
BASELINE_CACHE = 8


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


@dataclass
class _Planned:
    record: SceneRecord
    scene: Scene
    baseline: Baseline
    handle: Handle


class Scorer:
    """Scores a site's pending scenes through an executor; the caller's process commits every result.

    ``on_scene`` is called once per scene committed (scored, or recorded as unscorable); it drives the
    progress display.
    """

    def __init__(
        self,
        catalogue: Catalogue,
        ctx: SiteContext,
        summary: RunSummary,
        executor: Executor | None = None,
        on_scene: Callable[[], None] | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.ctx = ctx
        self.summary = summary
        self.executor = executor or InlineExecutor()
        self.on_scene = on_scene or (lambda: None)
        self.cache: dict[tuple[str, int], Baseline] = {}
        self.confirmations: dict[str, Confirmation] = {}  # alert id -> its latest confirmation, drawn at the end
        self.ctx_handle = self.executor.scatter(ctx)
        self._baseline_handles: dict[tuple[str, int], object] = {}
        self._memo: ChoiceMemo | None = None  # made with the first scene to score (baselines load late)

    @property
    def memo(self) -> ChoiceMemo:
        """The baseline choices made while the archive has not changed (see :class:`ChoiceMemo`)."""
        if self._memo is None:
            from monitor.pipeline.baselines import ChoiceMemo

            self._memo = ChoiceMemo()
        return self._memo

    def _baseline_handle(self, baseline: Baseline, sensor: str) -> object:
        key = (sensor, baseline.version)
        if key not in self._baseline_handles:
            self._baseline_handles[key] = self.executor.scatter(baseline)
        return self._baseline_handles[key]

    def _trim(self, keep: set[tuple[str, int]]) -> None:
        """Forget loaded baselines beyond the newest few (those of the batch in flight are kept)."""
        for key in sorted(self.cache, key=lambda k: k[1])[: max(0, len(self.cache) - BASELINE_CACHE)]:
            if key not in keep:
                self.cache.pop(key, None)
                self._baseline_handles.pop(key, None)

    def _submit(self, record: SceneRecord, baseline: Baseline) -> _Planned | None:
        from monitor.pipeline.baselines import load_crop

        scene = load_crop(self.catalogue, record)
        if scene is None:
            self.summary.failed_scenes += 1
            self.on_scene()
            return None
        handle = self.executor.submit(
            score_scene_task, self.ctx_handle, scene, self._baseline_handle(baseline, record.sensor)
        )
        return _Planned(record, scene, baseline, handle)

    def score_pending(self, until: datetime | None = None) -> None:
        """Score every pending scene of the site acquired before ``until`` (None: all), oldest first; a
        scene waits while its sensor has too few usable scenes for any baseline."""
        # baselines and detection (SciPy, scikit-image) load only now that there is a scene to score
        from monitor.pipeline.baselines import scene_baseline, stored_baseline

        site = self.ctx.site_id
        waiting: set[str] = set()
        while True:
            todo = [
                r
                for r in self.catalogue.pending_scenes(site)
                if r.scene_id not in waiting and (until is None or (r.acquired_at and r.acquired_at < until))
            ]
            if not todo:
                return
            head = todo[0]
            assert head.acquired_at is not None  # an archived crop always has its time
            baseline, built = scene_baseline(
                self.catalogue, self.ctx, head.sensor, head.acquired_at, self.cache, head.orbit, self.memo
            )
            self.summary.baselines_built += int(built)
            if baseline is None:
                waiting.add(head.scene_id)
                continue
            batch = [(head, baseline)]
            for record in todo[1 : BATCH_PER_WORKER * max(1, self.executor.workers)]:
                assert record.acquired_at is not None
                found = stored_baseline(
                    self.catalogue, self.ctx, record.sensor, record.acquired_at, self.cache, record.orbit, self.memo
                )
                if found is None:
                    break  # it needs a baseline built: it waits to be the head
                batch.append((record, found))
            planned = [p for p in (self._submit(r, b) for r, b in batch) if p is not None]
            self._commit_in_order(planned, waiting)
            self._trim({(p.record.sensor, p.baseline.version) for p in planned})

    def _commit_in_order(self, planned: list[_Planned], waiting: set[str]) -> None:
        for i, item in enumerate(planned):
            record = item.record
            if not self.catalogue.is_pending(self.ctx.site_id, record.scene_id):
                item.handle.cancel()
                continue  # failed while a baseline was being built (its crop was lost)
            if i > 0 and not self._still_chosen(item):
                for rest in planned[i:]:
                    rest.handle.cancel()
                return  # scored again as the head of the next batch
            try:
                scored: Scored = item.handle.result()
            except Exception as exc:  # the task could not run (a lost worker): left pending, retried later
                log.error("scene %s: scoring task failed: %r", record.scene_id, exc)
                self.summary.errors.append(f"scene {record.scene_id}: scoring task failed: {exc!r}")
                waiting.add(record.scene_id)
                continue
            if not self._commit(item, scored):
                waiting.add(record.scene_id)

    def draw_confirmations(self) -> None:
        """Draw each alert's latest confirmation once, after the site's scenes are scored."""
        draw_confirmations(self.catalogue, self.ctx, self.confirmations, self.summary)
        self.confirmations.clear()

    def _still_chosen(self, item: _Planned) -> bool:
        from monitor.pipeline.baselines import stored_choice

        record = item.record
        assert record.acquired_at is not None
        choice = stored_choice(self.catalogue, self.ctx, record.sensor, record.acquired_at, record.orbit, self.memo)
        return choice is not None and choice.version == item.baseline.version

    def _commit(self, item: _Planned, scored: Scored) -> bool:
        """Commit one result; False if our own storage failed (the scene stays pending for the next run)."""
        scene = item.scene
        try:
            commit_scored(self.catalogue, self.ctx, scene, item.baseline, scored, self.summary, self.confirmations)
        except (ArchiveError, OSError) as exc:  # our disk, not the scene: left unscored, retried next run
            log.error("scene %s: scoring could not be stored: %s", scene.scene_id, exc)
            self.summary.errors.append(f"scene {scene.scene_id}: scoring could not be stored: {exc}")
            return False
        except Exception as exc:  # a bug must not stop the run, nor block every later run
            log.error("scene %s: scoring failed: %r", scene.scene_id, exc)
            log.debug("traceback", exc_info=True)
            record_error(self.catalogue, self.ctx, scene, f"error: {exc!r}")
            self.summary.errors.append(f"scene {scene.scene_id}: scoring failed: {exc!r}")
        self.on_scene()
        return True


def score_site(
    catalogue: Catalogue,
    ctx: SiteContext,
    summary: RunSummary,
    progress: bool,
    executor: Executor | None = None,
) -> None:
    """Score every ingested, unscored scene of a site, oldest first, each against its own baseline
    (:func:`scene_baseline`: seasonal, recent or warm-up); a scene waits while its sensor has too few
    usable scenes for any. Oldest first matters: whether a scene is quiet enough to enter a later
    baseline depends on its score.

    A scene whose scoring fails (a bug, a full disk while rendering) is recorded with state
    ``error: ...`` and the run goes on. Each alert's latest confirmation is drawn once, at the end
    (:func:`draw_confirmations`).
    """
    cover_new_zones(catalogue, ctx, summary)
    todo = catalogue.pending_scenes(ctx.site_id)
    if not todo:
        return
    with counter(len(todo), desc=f"score {ctx.site_id}", enabled=progress) as advance:
        scorer = Scorer(catalogue, ctx, summary, executor, on_scene=advance)
        scorer.score_pending()
    scorer.draw_confirmations()
