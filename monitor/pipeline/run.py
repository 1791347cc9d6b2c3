"""The order of one run: lock, then for every site: check its grid, ingest, score; then notify."""

from __future__ import annotations

import logging
import os

from monitor.archive.catalogue import Catalogue, utcnow
from monitor.archive.lock import LockHolder, run_lock
from monitor.archive.records import RunRecord
from monitor.config import Config, SiteConfig
from monitor.errors import ConfigError, MonitorError
from monitor.grid import SiteGrid, site_grid
from monitor.pipeline.context import SiteContext
from monitor.pipeline.deadline import Deadline
from monitor.pipeline.health import check_health
from monitor.pipeline.ingest import ingest_site
from monitor.pipeline.notify import notify
from monitor.pipeline.score import score_site
from monitor.pipeline.summary import RunSummary
from monitor.sources import make_source
from monitor.sources.reach import UnreachableError

log = logging.getLogger(__name__)


def _site_key(index: int, site: SiteConfig, what: str = "footprint") -> str:
    field = "resolution" if what == "resolution" else ("geometry" if site.geometry else "bbox")
    return f"sites[{index} id={site.id}].{field}"


def site_grids(config: Config) -> dict[str, SiteGrid]:
    """Every site's grid, before any work: an oversized site is a config error naming its key."""
    grids = {}
    for index, site in enumerate(config.sites):
        try:
            grids[site.id] = site_grid(site)
        except ConfigError as exc:
            raise ConfigError(str(exc), path=str(config.path or ""), key=_site_key(index, site)) from None
    return grids


def check_grids(catalogue: Catalogue, config: Config, grids: dict[str, SiteGrid]) -> None:
    """Each site's grid must be the one its archive was built on."""
    for index, site in enumerate(config.sites):
        grid = grids[site.id]
        t = grid.transform
        mismatch = catalogue.check_site_grid(
            site.id, grid.crs.to_string(), (t.a, t.b, t.c, t.d, t.e, t.f), grid.width, grid.height
        )
        if mismatch:
            stored = catalogue.site_grid(site.id)
            what = "resolution" if stored is not None and stored.transform[0] != round(t.a, 6) else "footprint"
            raise ConfigError(
                f"{mismatch}. Changing a site's {what} would mix grids in one archive: keep the old one, or give "
                "the new one its own site id or data_dir",
                path=str(config.path or ""),
                key=_site_key(index, site, what),
            )


def run(config: Config, *, progress: bool = False) -> RunSummary:
    """One incremental, idempotent pass over every site and source.

    Raises :class:`LockedError` if another run holds the lock and :class:`ConfigError` if a site is too
    large or its grid no longer matches the archive (checked for every site before any work). A site
    that fails is logged and listed in ``summary.errors`` (the CLI then exits 1) while the others go on.
    """
    summary = RunSummary()
    deadline = Deadline(config.monitor.deadline)
    origin = str(config.path or "")
    sources = [make_source(s, origin=origin, index=i) for i, s in enumerate(config.sources)]
    grids = site_grids(config)
    holder = LockHolder("run", os.getpid(), utcnow())
    with run_lock(config.data_dir, holder), Catalogue(config.data_dir) as catalogue:
        started = utcnow()
        check_grids(catalogue, config, grids)
        unreachable: set[str] = set()  # sources whose host could not be reached: not tried for the other sites
        for site in config.sites:
            ctx = SiteContext.build(config, site, grids[site.id])
            try:
                for source in sources:
                    if source.name in unreachable:
                        continue
                    try:
                        ingest_site(catalogue, ctx, source, summary, progress, deadline)
                    except UnreachableError as exc:
                        unreachable.add(source.name)
                        log.debug("source %s: %s", source.name, exc)
                        summary.errors.append(str(exc))
                        summary.unlogged.append(str(exc))
                score_site(catalogue, ctx, summary, progress)
            except MonitorError as exc:
                log.error("site %s failed: %s", site.id, exc)
                summary.errors.append(f"site {site.id}: {exc}")
        summary.simulated = bool(catalogue.simulated_sites() & {site.id for site in config.sites})
        check_health(catalogue, config, summary)
        notify(catalogue, config, summary)
        if summary.changed:
            catalogue.record_run(
                RunRecord(started, utcnow(), summary.new_scenes, summary.failed_scenes, len(summary.alert_changes))
            )
    return summary
