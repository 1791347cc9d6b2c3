"""``monitor backfill``: score a site's history in parallel, with the archive's one writer in this process.

History is walked in calendar months (the unit of a baseline: every scene of a month is compared with
one baseline chosen from earlier months, ``docs/detection.md``). Fetch tasks run ahead on the workers,
a bounded number at a time; this process records each fetched scene (in time order), and once a month
is recorded it scores the month's scenes on the workers against baselines it builds itself from the
months already committed, committing results in time order (:class:`monitor.pipeline.score.Scorer`).
Workers get plain inputs only (the site context, a scene reference, a crop, a baseline) and never open
the archive. See ``docs/backfill.md``.

Interrupted at any point, a backfill loses at most the scenes in flight: every fetched scene is
committed with its crop, every scored one with its scores and alerts; the next backfill (or run) fetches
only what is not archived and scores what is archived but not scored.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from monitor.archive.catalogue import Catalogue, utcnow
from monitor.archive.lock import HeldLock, LockHolder, run_lock
from monitor.archive.records import RunRecord, SceneStatus
from monitor.config import Config, SiteConfig
from monitor.detect.baseline import month_start
from monitor.errors import MonitorError, SceneError, SourceError
from monitor.pipeline.context import SiteContext
from monitor.pipeline.executors import Executor, Handle, open_executor
from monitor.pipeline.ingest import needs_ingest, searched
from monitor.pipeline.run import check_grids, site_grids
from monitor.pipeline.score import Scorer, cover_new_zones
from monitor.pipeline.summary import RunSummary
from monitor.pipeline.tasks import Fetched, SourceSpec, fetch_task
from monitor.pipeline.writer import record_fetched
from monitor.sources import SceneRef, Source, make_source

log = logging.getLogger(__name__)

#: Fetches in flight per worker: enough to hide a slow server, few enough that memory stays flat.
FETCH_AHEAD_PER_WORKER = 4
#: Seconds between progress lines when stderr is not a terminal.
LOG_EVERY_S = 30.0
#: Seconds between updates of the lock holder's progress (what a ``monitor run`` refused meanwhile shows).
HOLDER_EVERY_S = 5.0


@dataclass
class BackfillSummary(RunSummary):
    """A run's counts, plus the backfill's own: scenes planned and done, how long it took."""

    planned: int = 0
    done: int = 0
    waiting: int = 0
    seconds: float = 0.0
    workers: int = 1
    alerts_recorded: list[str] = field(default_factory=list)


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def next_month(when: datetime) -> datetime:
    """The first instant of the month after ``when``'s."""
    start = month_start(when)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


class Progress:
    """Scenes done / total, failures, rate and ETA: a tqdm bar on a terminal, else a log line every
    :data:`LOG_EVERY_S` seconds (and at the end)."""

    def __init__(self, summary: BackfillSummary, bar: bool, held: HeldLock | None = None) -> None:
        self.summary = summary
        self.started = time.monotonic()
        self.last_line = self.started
        self.held = held
        self.last_held = self.started
        self.bar = None
        if bar:
            from tqdm import tqdm

            self.bar = tqdm(total=0, desc="backfill", unit="scene", file=sys.stderr, dynamic_ncols=True)

    def plan(self, n: int) -> None:
        self.summary.planned += n
        if self.held is not None:
            self.held.update(self.line())
        if self.bar is not None:
            self.bar.total = self.summary.planned
            self.bar.refresh()

    def tick(self) -> None:
        self.summary.done += 1
        now = time.monotonic()
        if self.held is not None and now - self.last_held >= HOLDER_EVERY_S:
            self.last_held = now
            self.held.update(self.line())
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(failed=self.summary.failed_scenes, refresh=False)
            return
        now = time.monotonic()
        if now - self.last_line >= LOG_EVERY_S:
            self.last_line = now
            log.info("backfill: %s", self.line())

    def line(self) -> str:
        s = self.summary
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = s.done / elapsed * 60.0
        left = s.planned - s.done
        eta = f"{left / rate:.0f} min" if rate > 0 and left > 0 else "-"
        return f"{s.done}/{s.planned} scenes, {s.failed_scenes} failed, {rate:.1f} scenes/min, ETA {eta}"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@dataclass
class _InFlight:
    ref: SceneRef
    handle: Handle


class _SiteBackfill:
    """The backfill of one site: fetch ahead, record in time order, score month by month."""

    def __init__(
        self,
        catalogue: Catalogue,
        ctx: SiteContext,
        executor: Executor,
        summary: BackfillSummary,
        progress: Progress,
    ) -> None:
        self.catalogue = catalogue
        self.ctx = ctx
        self.executor = executor
        self.summary = summary
        self.progress = progress
        self.scorer = Scorer(catalogue, ctx, summary, executor, on_scene=progress.tick)
        self.ctx_handle = self.scorer.ctx_handle  # sent to the workers once, for fetches and scores
        self.queue: deque[_InFlight] = deque()

    def _found(
        self, sources: list[tuple[SourceSpec, Source]], since: datetime, until: datetime | None
    ) -> list[tuple[SceneRef, SourceSpec]]:
        """Every scene of the period that is new or to retry, from every source, oldest first."""
        site, max_attempts = self.ctx.site, self.ctx.config.detect.max_attempts
        found: list[tuple[SceneRef, SourceSpec]] = []
        for spec, source in sources:
            try:
                refs = source.search(site, since, until)
            except (SourceError, SceneError) as exc:
                log.error("site %s: search of source %s failed: %s", site.id, source.name, exc)
                self.summary.errors.append(f"site {site.id}: source {source.name}: {exc}")
                continue
            todo = [r for r in refs if needs_ingest(self.catalogue, site.id, r, max_attempts)]
            log.info(
                "site %s, source %s: %d scene(s) in the period, %d to fetch", site.id, source.name, len(refs), len(todo)
            )
            found.extend((r, spec) for r in todo)
            self._searched.append((source, refs))
        return sorted(found, key=lambda f: (f[0].acquired or since, f[0].scene_id))

    def run(self, sources: list[tuple[SourceSpec, Source]], since: datetime, until: datetime | None) -> None:
        self._searched: list[tuple[Source, list[SceneRef]]] = []
        cover_new_zones(self.catalogue, self.ctx, self.summary)
        todo = self._found(sources, since, until)
        pending = [
            r
            for r in self.catalogue.pending_scenes(self.ctx.site_id)
            if r.acquired_at is not None and since <= r.acquired_at and (until is None or r.acquired_at < until)
        ]
        self.progress.plan(len(todo) + len(pending))
        months = sorted(
            {month_start(r.acquired or since) for r, _ in todo}
            | {month_start(r.acquired_at) for r in pending if r.acquired_at}
        )
        refs = iter(todo)
        ahead = FETCH_AHEAD_PER_WORKER * max(1, self.executor.workers)
        for month in months:
            end = next_month(month)
            self._top_up(refs, ahead)
            while self.queue and (self.queue[0].ref.acquired or since) < end:
                self._record(self.queue.popleft())
                self._top_up(refs, ahead)
            self.scorer.score_pending(until=end)
        self.scorer.draw_confirmations()
        self.summary.waiting += sum(
            1 for r in self.catalogue.pending_scenes(self.ctx.site_id) if r.acquired_at and r.acquired_at >= since
        )
        # the search cursors move only when every scene found is recorded
        for source, found in self._searched:
            searched(self.catalogue, self.ctx.site_id, source, found)

    def _top_up(self, refs: Iterator[tuple[SceneRef, SourceSpec]], ahead: int) -> None:
        while len(self.queue) < ahead:
            try:
                ref, spec = next(refs)
            except StopIteration:
                return
            self.queue.append(_InFlight(ref, self.executor.submit(fetch_task, spec, ref, self.ctx_handle)))

    def _record(self, item: _InFlight) -> None:
        try:
            fetched: Fetched = item.handle.result()
        except Exception as exc:  # the task itself was lost (a worker died): a failed scene, retried later
            log.warning("scene %s: fetch task failed: %r", item.ref.scene_id, exc)
            fetched = Fetched(item.ref, SceneStatus.FAILED, reason=f"fetch task failed: {exc!r}")
        record_fetched(self.catalogue, self.ctx, fetched, self.summary)
        if fetched.status is not SceneStatus.OK:
            self.progress.tick()

    def cancel(self) -> None:
        while self.queue:
            self.queue.popleft().handle.cancel()


@contextmanager
def _executor(workers: int | None, scheduler: str | None, processes: bool) -> Iterator[Executor]:
    executor = open_executor(workers, scheduler, processes=processes)
    try:
        yield executor
    finally:
        executor.close()


def backfill(
    config: Config,
    *,
    since: date,
    until: date | None = None,
    site: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    notify: bool = False,
    progress: bool = False,
    processes: bool = True,
) -> BackfillSummary:
    """Fetch and score every scene acquired from ``since`` to ``until`` (inclusive, UTC days; None: up to
    now) for one site or all, on ``workers`` local Dask workers or the cluster at ``scheduler``.

    Writes the same tables as ``monitor run`` would (same scores and alerts). Alerts found are recorded
    and announced in one summary message per recipient list, unless ``notify`` asks for the messages a
    run would send. Holds the run lock throughout; raises what ``run`` raises.
    """
    from monitor.pipeline.notify import notify as notify_alerts
    from monitor.pipeline.notify import notify_backfill

    start, end = day_start(since), None if until is None else day_start(until) + timedelta(days=1)
    sites: list[SiteConfig] = [config.site(site)] if site is not None else list(config.sites)
    origin = str(config.path or "")
    sources = [(SourceSpec(s, origin, i), make_source(s, origin=origin, index=i)) for i, s in enumerate(config.sources)]
    grids = site_grids(config)
    summary = BackfillSummary()
    t0 = time.monotonic()
    period = f"scoring {since.isoformat()} to {until.isoformat() if until else 'now'}"
    holder = LockHolder("backfill", os.getpid(), utcnow(), detail=period)
    with run_lock(config.data_dir, holder) as held, Catalogue(config.data_dir) as catalogue:
        started = utcnow()
        check_grids(catalogue, config, grids)
        with _executor(workers, scheduler, processes) as executor:
            summary.workers = executor.workers
            meter = Progress(summary, progress, held)
            try:
                for s in sites:
                    job = _SiteBackfill(catalogue, SiteContext.build(config, s, grids[s.id]), executor, summary, meter)
                    try:
                        job.run(sources, start, end)
                    except MonitorError as exc:
                        log.error("site %s failed: %s", s.id, exc)
                        summary.errors.append(f"site {s.id}: {exc}")
                    finally:
                        job.cancel()
            finally:
                meter.close()
                log.info("backfill: %s", meter.line())
        summary.alerts_recorded = sorted({c.alert.id for c in summary.alert_changes})
        if notify:
            notify_alerts(catalogue, config, summary)
        else:
            notify_backfill(catalogue, config, summary, since, until)
        if summary.changed:
            catalogue.record_run(
                RunRecord(started, utcnow(), summary.new_scenes, summary.failed_scenes, len(summary.alert_changes))
            )
    summary.seconds = time.monotonic() - t0
    return summary
