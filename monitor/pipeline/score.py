"""The scoring step: score each new scene against its baseline, zone by zone, and step the alerts."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from tqdm import tqdm

from monitor.alerts import AlertChange, Observation, advance, kinds_for_zone
from monitor.archive.catalogue import Catalogue, iso
from monitor.config import Config, SiteConfig
from monitor.detect.baseline import Baseline
from monitor.detect.scoring import ZoneScore, rescored, score_scene
from monitor.detect.tracking import TRACKED, Past, track
from monitor.errors import ArchiveError
from monitor.grid import SiteGrid
from monitor.pipeline.baselines import load_crop, scene_baseline
from monitor.pipeline.evidence import render_zone
from monitor.pipeline.rows import score_row
from monitor.pipeline.summary import RunSummary
from monitor.pipeline.zones import zone_kinds, zone_masks
from monitor.scene import Scene

log = logging.getLogger(__name__)

RAISING = {"opened", "raised", "confirmed"}
#: How far back the tracking looks: longer than PERSISTENT_AFTER, shorter than a year of history.
HISTORY = timedelta(days=200)
TRACKED_CENTRES = (*TRACKED, "persistent-change")
NOTEWORTHY = {"opened", "raised", "resolved"}


def _pending(catalogue: Catalogue, site: str) -> list[dict[str, Any]]:
    return catalogue.query(
        "SELECT scene_id, sensor, crop, acquired, orbit FROM scenes WHERE site = ? AND status = 'ok' AND scored = 0 "
        "ORDER BY acquired, scene_id",
        (site,),
    )


def _cover_new_zones(catalogue: Catalogue, site: str, zones: list[str], summary: RunSummary) -> None:
    """Zones added to the config after scenes were scored: every scene must appear in every zone, so
    usable scenes are scored again (their existing rows come out the same) and unusable ones get rows."""
    marks = ",".join("?" for _ in zones)
    stale = catalogue.query(
        f"SELECT s.scene_id, s.acquired, s.sensor, s.status FROM scenes s WHERE s.site = ? AND s.scored = 1 AND "
        f"(SELECT COUNT(*) FROM scores c WHERE c.site = s.site AND c.scene_id = s.scene_id AND c.zone IN ({marks})) "
        "< ?",
        (site, *zones, len(zones)),
    )
    if not stale:
        return
    log.info("site %s: %d scene(s) lack rows for a newly configured zone; scoring them again", site, len(stale))
    with catalogue.transaction() as db:
        for row in stale:
            if row["status"] == "ok":
                db.execute("UPDATE scenes SET scored = 0 WHERE site = ? AND scene_id = ?", (site, row["scene_id"]))
                continue
            have = {
                r[0]
                for r in db.execute("SELECT zone FROM scores WHERE site = ? AND scene_id = ?", (site, row["scene_id"]))
            }
            rows = [
                score_row(site, z, row["scene_id"], row["acquired"], row["sensor"], 0.0, row["status"])
                for z in zones
                if z not in have
            ]
            for r in rows:
                db.execute(
                    "INSERT INTO scores (site, zone, scene_id, acquired, sensor, usable_fraction, state) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (r["site"], r["zone"], r["scene_id"], r["acquired"], r["sensor"], r["usable_fraction"], r["state"]),
                )
    summary.rescored_scenes += sum(1 for r in stale if r["status"] == "ok")


def score_site(
    catalogue: Catalogue, config: Config, site: SiteConfig, grid: SiteGrid, summary: RunSummary, progress: bool
) -> None:
    """Score every ingested, unscored scene of a site, oldest first, each against its own baseline
    (:func:`scene_baseline`: seasonal, recent or warm-up); a scene waits while its sensor has too few
    usable scenes for any. Oldest first matters: whether a scene is quiet enough to enter a later
    baseline depends on its score.

    A scene whose scoring fails (a bug, a full disk while rendering) is recorded with state
    ``error: ...`` and the run goes on.
    """
    masks, kinds = zone_masks(site, grid), zone_kinds(site)
    _cover_new_zones(catalogue, site.id, list(masks), summary)
    baselines: dict[tuple[str, int], Baseline] = {}  # one run loads or builds each version once
    todo = _pending(catalogue, site.id)
    for row in tqdm(todo, desc=f"score {site.id}", unit="scene", disable=not progress, leave=False):
        if not _still_pending(catalogue, site.id, row["scene_id"]):
            continue  # failed while a baseline was being built (its crop was lost)
        acquired = datetime.fromisoformat(row["acquired"])
        baseline, built = scene_baseline(catalogue, config, site, row["sensor"], acquired, baselines, row["orbit"])
        summary.baselines_built += int(built)
        if baseline is None:
            continue
        scene = load_crop(catalogue, site.id, row["scene_id"], row["crop"])
        if scene is None:
            summary.failed_scenes += 1
            continue
        try:
            score_one(catalogue, config, site, grid, scene, baseline, masks, kinds, summary)
        except (ArchiveError, OSError) as exc:  # our disk, not the scene: left unscored, retried next run
            log.error("scene %s: scoring could not be stored: %s", scene.scene_id, exc)
            summary.errors.append(f"scene {scene.scene_id}: scoring could not be stored: {exc}")
        except Exception as exc:  # a bug must not stop the run, nor block every later run
            log.error("scene %s: scoring failed: %r", scene.scene_id, exc)
            log.debug("traceback", exc_info=True)
            _record_error(catalogue, site.id, scene, masks, f"error: {exc!r}")
            summary.errors.append(f"scene {scene.scene_id}: scoring failed: {exc!r}")


def _still_pending(catalogue: Catalogue, site: str, scene_id: str) -> bool:
    rows = catalogue.query(
        "SELECT 1 FROM scenes WHERE site = ? AND scene_id = ? AND status = 'ok' AND scored = 0", (site, scene_id)
    )
    return bool(rows)


def _record_error(catalogue: Catalogue, site: str, scene: Scene, masks: dict[str, np.ndarray], state: str) -> None:
    rows = [
        score_row(site, z, scene.scene_id, iso(scene.acquired), scene.sensor, scene.usable_fraction(m), state)
        for z, m in masks.items()
    ]
    with catalogue.transaction() as db:
        catalogue.replace_scores(db, site, scene.scene_id, rows)
        db.execute("UPDATE scenes SET scored = 1 WHERE site = ? AND scene_id = ?", (site, scene.scene_id))


def _tracked(catalogue: Catalogue, config: Config, site: str, scene: Scene, zs: ZoneScore) -> ZoneScore:
    """The zone's detections tracked against its earlier usable observations (``detect.tracking``):
    persistent change no longer counts towards the scores."""
    if zs.change_fraction is None or not zs.detections:
        return zs
    since = iso(scene.acquired - HISTORY)
    rows = catalogue.query(
        "SELECT acquired, detections FROM scores WHERE site = ? AND zone = ? AND sensor = ? AND state = 'scored' "
        "AND usable_fraction >= ? AND acquired < ? AND acquired >= ? ORDER BY acquired",
        (site, zs.zone, scene.sensor, config.alerts.min_usable_fraction, iso(scene.acquired), since),
    )
    history = [
        Past(
            datetime.fromisoformat(r["acquired"]),
            tuple((d["row"], d["col"]) for d in json.loads(r["detections"]) if d["cls"] in TRACKED_CENTRES),
        )
        for r in rows
    ]
    res = float(scene.transform.a)
    return rescored(zs, track(zs.detections, history, scene.acquired, res), res, config.alerts.threshold)


def score_one(
    catalogue: Catalogue,
    config: Config,
    site: SiteConfig,
    grid: SiteGrid,
    scene: Scene,
    baseline: Baseline,
    masks: dict[str, np.ndarray],
    kinds: dict[str, str],
    summary: RunSummary,
) -> None:
    """Score one scene, step its zones' alerts, render evidence, and commit it all in one transaction."""
    missing = [b for b in baseline.bands if b not in scene.bands]
    if missing:
        _record_error(catalogue, site.id, scene, masks, f"missing bands {','.join(missing)}")
        return
    detect = config.detect
    change = score_scene(
        scene, baseline, masks, detect.false_alarm_rate, detect.cloud_margin_m, config.alerts.threshold
    )
    change = replace(change, zones=[_tracked(catalogue, config, site.id, scene, zs) for zs in change.zones])
    rows = []
    changes: list[tuple[AlertChange, str]] = []
    for zs in change.zones:
        state = change.state if change.state != "scored" else "scored" if zs.change_fraction is not None else "unusable"
        acquired = iso(scene.acquired)
        rows.append(
            score_row(
                site.id,
                zs.zone,
                scene.scene_id,
                acquired,
                scene.sensor,
                zs.usable_fraction,
                state,
                baseline.version,
                zs,
            )
        )
        for kind in kinds_for_zone(kinds[zs.zone]):
            score = zs.crowd_score if kind == "crowd" else zs.vehicle_score
            obs = Observation(site.id, zs.zone, scene.scene_id, scene.acquired, zs.usable_fraction, score, scene.sensor)
            result = advance(catalogue.latest_alert(site.id, zs.zone, kind), kind, obs, config.alerts)
            if result is not None:
                changes.append((result, zs.zone))
    evidence: dict[str, list[str]] = {}
    for result, zone in changes:
        if result.action in RAISING:
            if zone not in evidence:
                paths = render_zone(catalogue, config, site, grid, scene, baseline, change, masks, zone)
                evidence[zone] = [str(p) for p in paths]
            result.alert["evidence"] = [*result.alert["evidence"], *evidence[zone]]
    with catalogue.transaction() as db:
        catalogue.replace_scores(db, site.id, scene.scene_id, rows)
        db.execute("UPDATE scenes SET scored = 1 WHERE site = ? AND scene_id = ?", (site.id, scene.scene_id))
        reg = change.registration
        db.execute(
            "UPDATE scenes SET shift_dx = ?, shift_dy = ?, registration = ? WHERE site = ? AND scene_id = ?",
            (
                None if reg is None else round(reg.dx_px, 3),
                None if reg is None else round(reg.dy_px, 3),
                "skipped: radar" if reg is None else reg.status,
                site.id,
                scene.scene_id,
            ),
        )
        for result, _ in changes:
            catalogue.save_alert(db, result.alert)
    summary.scored_scenes += 1
    for result, _ in changes:
        if result.action in NOTEWORTHY:
            summary.alert_changes.append(result)
            alert = result.alert
            log.info("alert %s %s (%s, score %.2f)", alert["id"], result.action, alert["level"], alert["score"])
