"""Ingest: search each source, fetch the crops of new scenes onto the site grid, record every outcome."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from monitor.archive.catalogue import Catalogue, iso
from monitor.archive.crops import write_crop_file
from monitor.config import Config, SiteConfig, utc_since
from monitor.errors import EmptySceneError, MonitorError, SceneError, SourceError
from monitor.grid import SiteGrid
from monitor.pipeline.deadline import Deadline
from monitor.pipeline.rows import safe_name, score_row
from monitor.pipeline.summary import RunSummary
from monitor.pipeline.zones import zone_masks
from monitor.redact import redact
from monitor.sources import IncrementalSource, SceneRef, Source
from monitor.sources.base import printable
from monitor.sources.reach import UnreachableError

log = logging.getLogger(__name__)


def needs_ingest(catalogue: Catalogue, site: str, ref: SceneRef, max_attempts: int) -> bool:
    """New scenes, and failed ones with attempts left (never those whose problem is in the name itself)."""
    row = catalogue.scene(site, ref.scene_id)
    if row is None:
        return True
    return row["status"] == "failed" and row["attempts"] < max_attempts and ref.problem is None


def search_start(
    catalogue: Catalogue, config: Config, site: SiteConfig, source: Source, now: datetime | None = None
) -> datetime | None:
    """Where a search of ``source`` for ``site`` starts.

    A local source lists everything since ``[monitor] since``. A remote source searches from the last
    acquisition it returned minus its look-back window (providers publish late and reprocess), or from
    ``first_run_history`` before now on its first run; never before ``since`` and never after the oldest
    failed scene that still has attempts left (so it is found, and retried, again).
    """
    since = utc_since(config)
    if not isinstance(source, IncrementalSource):
        return since
    now = now or datetime.now(UTC)
    last = catalogue.last_acquired(source.name, site.id)
    start = since or now - source.first_run_history if last is None else last - source.look_back
    retry = catalogue.oldest_retryable(site.id, source.name, config.detect.max_attempts)
    if retry is not None:
        start = min(start, retry)
    return max(start, since) if since is not None else start


def ingest_site(
    catalogue: Catalogue,
    config: Config,
    site: SiteConfig,
    grid: SiteGrid,
    source: Source,
    summary: RunSummary,
    progress: bool,
    deadline: Deadline | None = None,
) -> None:
    """Search one source for one site and ingest what is new; a failed search is logged and counted.

    Past ``deadline`` no further scene is fetched; those left are counted in ``summary.deferred_scenes``
    and the source's search watermark stays put, so the next run finds them again.
    """
    if deadline is not None and deadline.passed():
        summary.deadline_reached = True
        return
    start = search_start(catalogue, config, site, source)
    try:
        refs = source.search(site, start, None)
    except UnreachableError:
        raise  # the network is down or blocked: the caller says so once per source
    except (SourceError, SceneError) as exc:
        log.error("site %s: search of source %s failed: %s", site.id, source.name, exc)
        summary.errors.append(f"site {site.id}: source {source.name}: {exc}")
        return
    todo = [r for r in refs if needs_ingest(catalogue, site.id, r, config.detect.max_attempts)]
    log.info("site %s, source %s: %d scene(s) found, %d new or to retry", site.id, source.name, len(refs), len(todo))
    masks = zone_masks(site, grid)
    crops_dir = config.data_dir / "crops" / site.id
    for done, ref in enumerate(tqdm(todo, desc=f"fetch {site.id}", unit="scene", disable=not progress, leave=False)):
        if deadline is not None and deadline.passed():
            left = len(todo) - done
            summary.deadline_reached = True
            summary.deferred_scenes += left
            log.warning(
                "site %s, source %s: the run's deadline (%.0f s) has passed; %d scene(s) left for the next run",
                site.id,
                source.name,
                deadline.seconds,
                left,
            )
            return
        ingest_one(catalogue, site, grid, source, ref, masks, crops_dir, summary)
    # only once every scene found is recorded: a run that stops half-way searches the same range again
    newest = max((r.acquired for r in refs if r.acquired is not None), default=None)
    if isinstance(source, IncrementalSource) and newest is not None:
        with catalogue.transaction() as db:
            catalogue.set_last_acquired(db, source.name, site.id, newest)


def ingest_one(
    catalogue: Catalogue,
    site: SiteConfig,
    grid: SiteGrid,
    source: Source,
    ref: SceneRef,
    masks: dict[str, np.ndarray],
    crops_dir: Path,
    summary: RunSummary,
) -> None:
    """Fetch one scene's crop and record it (ok, empty or failed with its reason) in one transaction."""
    base_row = {
        "site": site.id,
        "scene_id": ref.scene_id,
        "source": ref.source,
        "acquired": iso(ref.acquired),
        "sensor": ref.sensor,
        "href": ",".join(sorted({printable(a.href) for a in ref.assets})),
        "platform": ref.properties.get("platform"),
        "orbit": ref.properties.get("orbit"),
    }
    try:
        if ref.problem:
            raise SceneError(ref.problem)
        scene = source.read(ref, grid)
    except EmptySceneError as exc:
        record_unusable(catalogue, base_row, ref, masks, "empty", str(exc))
        summary.empty_scenes += 1
        log.info("scene %s: empty: %s", ref.scene_id, exc)
        return
    except MonitorError as exc:
        record_unusable(catalogue, base_row, ref, masks, "failed", str(exc))
        summary.failed_scenes += 1
        log.warning("scene %s: failed: %s", ref.scene_id, exc)
        return
    except Exception as exc:  # a bug or an unforeseen library error must not stop the run
        log.error("scene %s: unexpected error: %r", ref.scene_id, exc)
        log.debug("traceback", exc_info=True)
        record_unusable(catalogue, base_row, ref, masks, "failed", f"unexpected error: {exc!r}")
        summary.failed_scenes += 1
        return
    # Our own archive failing (disk full, permissions) is the run's failure, not the scene's: nothing is
    # recorded, the run exits 1, and the next run fetches the scene again.
    crop = write_crop_file(crops_dir / f"{safe_name(ref.scene_id)}.tif", scene)
    rows = [
        score_row(site.id, z, scene.scene_id, iso(scene.acquired), scene.sensor, scene.usable_fraction(m), "pending")
        for z, m in masks.items()
    ]
    assert grid.site_mask is not None
    with catalogue.transaction() as db:
        catalogue.upsert_scene(
            db,
            {
                **base_row,
                "checksum": scene.provenance.get("checksum"),
                "harmonisation": scene.provenance.get("harmonisation") or None,
                "processing_units": scene.provenance.get("processing_units"),
                "status": "ok",
                "reason": None,
                "crop": str(crop),
                "usable_fraction": round(scene.usable_fraction(grid.site_mask), 6),
                "provenance": dict(scene.provenance),
                "scored": 0,
            },
        )
        catalogue.replace_scores(db, site.id, scene.scene_id, rows)
    summary.new_scenes += 1


def record_unusable(
    catalogue: Catalogue,
    base_row: dict[str, Any],
    ref: SceneRef,
    masks: dict[str, np.ndarray],
    status: str,
    reason: str,
) -> None:
    """Record a scene that could not be used: it still appears in the scene and score tables."""
    site = base_row["site"]
    reason = redact(reason)  # a reader's error may quote a signed URL
    rows = [score_row(site, z, ref.scene_id, iso(ref.acquired), ref.sensor, 0.0, status) for z in masks]
    with catalogue.transaction() as db:
        catalogue.upsert_scene(
            db, {**base_row, "status": status, "reason": reason, "usable_fraction": 0.0, "scored": 1, "crop": None}
        )
        catalogue.replace_scores(db, site, ref.scene_id, rows)
