"""The order of one run: lock, then for every site: check its grid, ingest, score; then notify."""

from __future__ import annotations

import logging

from monitor.archive import Catalogue, run_lock
from monitor.archive.catalogue import utcnow
from monitor.config import Config
from monitor.errors import ConfigError, MonitorError
from monitor.grid import site_grid
from monitor.pipeline.ingest import ingest_site
from monitor.pipeline.notify import notify
from monitor.pipeline.score import score_site
from monitor.pipeline.summary import RunSummary
from monitor.sources import make_source

log = logging.getLogger(__name__)


def run(config: Config, *, progress: bool = False) -> RunSummary:
    """One incremental, idempotent pass over every site and source.

    Raises :class:`LockedError` if another run holds the lock and :class:`ConfigError` if a site's grid
    no longer matches the archive. A site that fails is logged and listed in ``summary.errors`` (the CLI
    then exits 1) while the other sites go on.
    """
    summary = RunSummary()
    origin = str(config.path or "")
    sources = [make_source(s, origin=origin, index=i) for i, s in enumerate(config.sources)]
    with run_lock(config.data_dir), Catalogue(config.data_dir) as catalogue:
        started = utcnow()
        for index, site in enumerate(config.sites):
            grid = site_grid(site)
            t = grid.transform
            mismatch = catalogue.check_site_grid(
                site.id, grid.crs.to_string(), (t.a, t.b, t.c, t.d, t.e, t.f), grid.width, grid.height
            )
            if mismatch:
                key = f"sites[{index} id={site.id}]." + ("geometry" if site.geometry else "bbox")
                raise ConfigError(
                    f"{mismatch}. Changing a site's footprint or resolution would mix grids in one archive: keep the "
                    "old footprint, or give the new one its own site id or data_dir",
                    path=origin,
                    key=key,
                )
            try:
                for source in sources:
                    ingest_site(catalogue, config, site, grid, source, summary, progress)
                score_site(catalogue, config, site, grid, summary, progress)
            except MonitorError as exc:
                log.error("site %s failed: %s", site.id, exc)
                summary.errors.append(f"site {site.id}: {exc}")
        notify(catalogue, config, summary)
        if summary.changed:
            with catalogue.transaction() as db:
                db.execute(
                    "INSERT INTO runs (started_at, finished_at, new_scenes, failed_scenes, alerts_changed) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (started, utcnow(), summary.new_scenes, summary.failed_scenes, len(summary.alert_changes)),
                )
    return summary
