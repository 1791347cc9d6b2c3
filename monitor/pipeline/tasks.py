"""The work of one scene, as functions of plain, picklable inputs that touch no database.

``fetch_scene`` reads a scene's crop from its source; ``score_scene_task`` compares it with a given
baseline version; ``render_zone_task`` (:mod:`monitor.pipeline.evidence`) draws a zone's evidence. Each
returns a frozen record. The coordinating process (``monitor run``, ``monitor backfill``) calls them in
process or sends them to Dask workers, and is the only writer: it commits each result in one
transaction (:mod:`monitor.pipeline.writer`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from monitor.archive.records import SceneStatus
from monitor.detect.baseline import Baseline
from monitor.detect.scoring import SceneChange, score_scene
from monitor.errors import EmptySceneError, MonitorError, SceneError
from monitor.pipeline.context import SiteContext
from monitor.redact import redact
from monitor.scene import Scene
from monitor.sources import SceneRef, Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fetched:
    """What reading one scene gave: its crop (``status`` ok), or why there is none (``empty``: nothing
    of the site in it; ``failed``: could not be read, ``reason`` says why)."""

    ref: SceneRef
    status: SceneStatus
    scene: Scene | None = None
    reason: str | None = None


def fetch_scene(source: Source, ref: SceneRef, ctx: SiteContext) -> Fetched:
    """Read ``ref``'s crop on the site grid. Never raises for the scene's own problems: a scene that
    cannot be read is a ``failed`` result with its reason (a bug or an unforeseen library error too)."""
    try:
        if ref.problem:
            raise SceneError(ref.problem)
        return Fetched(ref, SceneStatus.OK, source.read(ref, ctx.grid))
    except EmptySceneError as exc:
        log.info("scene %s: empty: %s", ref.scene_id, exc)
        return Fetched(ref, SceneStatus.EMPTY, reason=redact(str(exc)))
    except MonitorError as exc:
        log.warning("scene %s: failed: %s", ref.scene_id, exc)
        return Fetched(ref, SceneStatus.FAILED, reason=redact(str(exc)))  # a reader's error may quote a signed URL
    except Exception as exc:  # a bug or an unforeseen library error must not stop the run
        log.error("scene %s: unexpected error: %r", ref.scene_id, exc)
        log.debug("traceback", exc_info=True)
        return Fetched(ref, SceneStatus.FAILED, reason=redact(f"unexpected error: {exc!r}"))


@dataclass(frozen=True)
class Scored:
    """One scene compared with baseline ``baseline_version``: the change and zone scores before the
    tracking (which needs the archive's history, so the writer applies it), or ``missing`` bands the
    baseline has and the scene lacks (then it cannot be compared)."""

    scene_id: str
    baseline_version: int
    change: SceneChange | None
    missing: tuple[str, ...] = ()


def score_scene_task(ctx: SiteContext, scene: Scene, baseline: Baseline) -> Scored:
    """Register ``scene`` onto ``baseline`` and score it zone by zone (``detect.scoring.score_scene``)."""
    missing = tuple(b for b in baseline.bands if b not in scene.bands)
    if missing:
        return Scored(scene.scene_id, baseline.version, None, missing)
    detect = ctx.config.detect
    change = score_scene(
        scene, baseline, dict(ctx.masks), detect.false_alarm_rate, detect.cloud_margin_m, ctx.config.alerts.threshold
    )
    return Scored(scene.scene_id, baseline.version, change)
