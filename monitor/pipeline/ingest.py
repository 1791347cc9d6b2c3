"""Ingest: search each source, fetch the crops of new scenes onto the site grid, record every outcome."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from tqdm import tqdm

from monitor.archive.catalogue import Catalogue
from monitor.archive.records import SceneStatus
from monitor.config import Config, utc_since
from monitor.errors import SceneError, SourceError
from monitor.pipeline.context import SiteContext
from monitor.pipeline.deadline import Deadline
from monitor.pipeline.summary import RunSummary
from monitor.pipeline.tasks import fetch_scene
from monitor.pipeline.writer import record_fetched
from monitor.sources import IncrementalSource, SceneRef, Source
from monitor.sources.reach import UnreachableError

log = logging.getLogger(__name__)


def needs_ingest(catalogue: Catalogue, site: str, ref: SceneRef, max_attempts: int) -> bool:
    """New scenes, and failed ones with attempts left (never those whose problem is in the name itself)."""
    row = catalogue.scene(site, ref.scene_id)
    if row is None:
        return True
    return row.status is SceneStatus.FAILED and row.attempts < max_attempts and ref.problem is None


def search_start(
    catalogue: Catalogue, config: Config, site_id: str, source: Source, now: datetime | None = None
) -> datetime | None:
    """Where a search of ``source`` for site ``site_id`` starts.

    A local source lists everything since ``[monitor] since``. A remote source searches from the last
    acquisition it returned minus its look-back window (providers publish late and reprocess), or from
    ``first_run_history`` before now on its first run; never before ``since`` and never after the oldest
    failed scene that still has attempts left (so it is found, and retried, again).
    """
    since = utc_since(config)
    if not isinstance(source, IncrementalSource):
        return since
    now = now or datetime.now(UTC)
    last = catalogue.last_acquired(source.name, site_id)
    start = since or now - source.first_run_history if last is None else last - source.look_back
    retry = catalogue.oldest_retryable(site_id, source.name, config.detect.max_attempts)
    if retry is not None:
        start = min(start, retry)
    return max(start, since) if since is not None else start


def search_site(
    catalogue: Catalogue, ctx: SiteContext, source: Source, summary: RunSummary
) -> tuple[list[SceneRef], list[SceneRef]] | None:
    """Search one source for one site: (everything found, what is new or to retry), or None when the
    search failed (logged and listed in ``summary.errors``)."""
    site = ctx.site
    start = search_start(catalogue, ctx.config, site.id, source)
    try:
        refs = source.search(site, start, None)
    except UnreachableError:
        raise  # the network is down or blocked: the caller says so once per source
    except (SourceError, SceneError) as exc:
        log.error("site %s: search of source %s failed: %s", site.id, source.name, exc)
        summary.errors.append(f"site {site.id}: source {source.name}: {exc}")
        return None
    todo = [r for r in refs if needs_ingest(catalogue, site.id, r, ctx.config.detect.max_attempts)]
    log.info("site %s, source %s: %d scene(s) found, %d new or to retry", site.id, source.name, len(refs), len(todo))
    return refs, todo


def searched(catalogue: Catalogue, site_id: str, source: Source, refs: list[SceneRef]) -> None:
    """Move the source's search cursor once every scene found is recorded (a run that stops half-way
    searches the same range again)."""
    newest = max((r.acquired for r in refs if r.acquired is not None), default=None)
    if isinstance(source, IncrementalSource) and newest is not None:
        catalogue.set_last_acquired(source.name, site_id, newest)


def ingest_site(
    catalogue: Catalogue,
    ctx: SiteContext,
    source: Source,
    summary: RunSummary,
    progress: bool,
    deadline: Deadline | None = None,
) -> None:
    """Search one source for one site and ingest what is new; a failed search is logged and counted.

    Past ``deadline`` no further scene is fetched; those left are counted in ``summary.deferred_scenes``
    and the source's search cursor stays put, so the next run finds them again. Raises
    :class:`UnreachableError` when the source's host cannot be reached at all.
    """
    if deadline is not None and deadline.passed():
        summary.deadline_reached = True
        return
    found = search_site(catalogue, ctx, source, summary)
    if found is None:
        return
    refs, todo = found
    for done, ref in enumerate(
        tqdm(todo, desc=f"fetch {ctx.site_id}", unit="scene", disable=not progress, leave=False)
    ):
        if deadline is not None and deadline.passed():
            left = len(todo) - done
            summary.deadline_reached = True
            summary.deferred_scenes += left
            log.warning(
                "site %s, source %s: the run's deadline (%.0f s) has passed; %d scene(s) left for the next run",
                ctx.site_id,
                source.name,
                deadline.seconds,
                left,
            )
            return
        record_fetched(catalogue, ctx, fetch_scene(source, ref, ctx), summary)
    searched(catalogue, ctx.site_id, source, refs)
