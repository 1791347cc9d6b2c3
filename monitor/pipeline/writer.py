"""The archive's one writer: it commits each scene's result in one transaction, in time order.

Tasks (:mod:`monitor.pipeline.tasks`) compute without touching the database; the functions here take
their results and write them: the crop file and the scene's rows (:func:`record_fetched`), then, once
the scene is scored against its baseline, the tracking against the zone's history, the alert steps,
the evidence of raising alerts and the score rows (:func:`commit_scored`). Only the coordinating
process calls them (``monitor run``, ``monitor backfill``), so SQLite always has a single writer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.alerts import AlertChange, Observation, advance, kinds_for_zone
from monitor.archive.catalogue import Catalogue, iso
from monitor.archive.crops import write_crop_file
from monitor.archive.records import Alert, AlertKind, SceneRecord, SceneStatus, ScoreState
from monitor.detect.classes import DetectionClass
from monitor.errors import ArchiveError
from monitor.pipeline.context import SiteContext
from monitor.pipeline.rows import safe_name, score_row
from monitor.pipeline.summary import RunSummary
from monitor.pipeline.tasks import Fetched, Scored
from monitor.render.names import is_confirmation
from monitor.scene import Scene
from monitor.sources.base import printable
from monitor.sources.harmonise import level_corrected

if TYPE_CHECKING:  # detection, tracking and drawing load when a scene is scored, not on a run with none
    from monitor.detect.baseline import Baseline
    from monitor.detect.scoring import SceneChange, ZoneScore
    from monitor.pipeline.evidence import EvidenceHistory

log = logging.getLogger(__name__)

#: Alert changes whose evidence is drawn at once and kept. A confirmation's is drawn once per alert and
#: run, for its latest confirming scene, into ``confirmed/``, and replaces the previous confirmation's
#: files (``render.names``): an alert holds at most MAX_GROUPS groups of evidence however long it fires.
KEPT = {"opened", "raised"}
#: Alert changes a message reports.
NOTEWORTHY = {"opened", "raised", "resolved"}
#: How far back the tracking looks: longer than PERSISTENT_AFTER, shorter than a year of history.
HISTORY = timedelta(days=200)
#: Centres the tracking follows besides ``detect.tracking.TRACKED``.
PERSISTENT = DetectionClass.PERSISTENT_CHANGE


def _scene_record(ctx: SiteContext, fetched: Fetched) -> SceneRecord:
    ref = fetched.ref
    return SceneRecord(
        site=ctx.site_id,
        scene_id=ref.scene_id,
        source=ref.source,
        acquired=iso(ref.acquired),
        sensor=ref.sensor,
        status=fetched.status,
        reason=fetched.reason,
        href=",".join(sorted({printable(a.href) for a in ref.assets})),
        platform=ref.properties.get("platform"),
        orbit=ref.properties.get("orbit"),
    )


def record_fetched(catalogue: Catalogue, ctx: SiteContext, fetched: Fetched, summary: RunSummary) -> None:
    """Record one fetch: an ok scene's crop is archived and its rows wait for a baseline (``pending``);
    an empty or failed one appears in the scene and score tables at once, with its reason.

    Our own archive failing (disk full, permissions) is the run's failure, not the scene's: nothing is
    recorded, the error propagates, and the next run fetches the scene again.
    """
    base = _scene_record(ctx, fetched)
    scene = fetched.scene
    if scene is None:
        rows = [
            score_row(ctx.site_id, z, base.scene_id, base.acquired, base.sensor, 0.0, fetched.status) for z in ctx.masks
        ]
        with catalogue.transaction():
            catalogue.upsert_scene(replace(base, usable_fraction=0.0, scored=True, crop=None))
            catalogue.replace_scores(ctx.site_id, base.scene_id, rows)
        if fetched.status is SceneStatus.EMPTY:
            summary.empty_scenes += 1
        else:
            summary.failed_scenes += 1
        return
    crop = write_crop_file(ctx.crops_dir / f"{safe_name(scene.scene_id)}.tif", scene)
    acquired = iso(scene.acquired)
    rows = [
        score_row(ctx.site_id, z, scene.scene_id, acquired, scene.sensor, scene.usable_fraction(m), ScoreState.PENDING)
        for z, m in ctx.masks.items()
    ]
    record = replace(
        base,
        checksum=scene.provenance.get("checksum"),
        harmonisation=scene.provenance.get("harmonisation") or None,
        processing_units=scene.provenance.get("processing_units"),
        crop=str(crop),
        usable_fraction=round(scene.usable_fraction(ctx.site_mask), 6),
        provenance=dict(scene.provenance),
        scored=False,
    )
    with catalogue.transaction():
        catalogue.upsert_scene(record)
        catalogue.replace_scores(ctx.site_id, scene.scene_id, rows)
    summary.new_scenes += 1


def record_error(catalogue: Catalogue, ctx: SiteContext, scene: Scene, state: str) -> None:
    """A scene that could not be scored (``missing bands ...``, ``error: ...``): its rows say why and it
    is not scored again."""
    acquired = iso(scene.acquired)
    rows = [
        score_row(ctx.site_id, z, scene.scene_id, acquired, scene.sensor, scene.usable_fraction(m), state)
        for z, m in ctx.masks.items()
    ]
    with catalogue.transaction():
        catalogue.replace_scores(ctx.site_id, scene.scene_id, rows)
        catalogue.set_scored(ctx.site_id, scene.scene_id, True)


def tracked(catalogue: Catalogue, ctx: SiteContext, scene: Scene, zs: ZoneScore) -> ZoneScore:
    """The zone's detections tracked against its earlier usable observations (``detect.tracking``):
    persistent change no longer counts towards the scores."""
    from monitor.detect.scoring import rescored
    from monitor.detect.tracking import TRACKED, Past, track

    if zs.change_fraction is None or not zs.detections:
        return zs
    config = ctx.config
    rows = catalogue.zone_history(
        ctx.site_id, zs.zone, scene.sensor, config.alerts.min_usable_fraction, scene.acquired - HISTORY, scene.acquired
    )
    history = [
        Past(
            r.acquired_at,  # type: ignore[arg-type]  # scored rows always have a time
            tuple((d["row"], d["col"]) for d in r.detections if d["cls"] in (*TRACKED, PERSISTENT)),
        )
        for r in rows
    ]
    res = ctx.pixel_size_m
    return rescored(zs, track(zs.detections, history, scene.acquired, res), res, config.alerts.threshold)


def previous_observation(
    catalogue: Catalogue, ctx: SiteContext, scene: Scene, zone: str, kind: AlertKind
) -> Observation | None:
    """The zone's latest usable observation of the scene's sensor before it with a ``kind`` score (within
    the tracking's history), or None: what an observation without a clear view must agree with before an
    alert opens (``alerts.engine.step``)."""
    rows = catalogue.zone_history(
        ctx.site_id, zone, scene.sensor, ctx.config.alerts.min_usable_fraction, scene.acquired - HISTORY, scene.acquired
    )
    for r in reversed(rows):
        score = r.crowd_score if kind is AlertKind.CROWD else r.vehicle_score
        if score is not None and r.acquired_at is not None:
            return Observation(r.site, zone, r.scene_id, r.acquired_at, r.usable_fraction, score, r.sensor)
    return None


@dataclass(frozen=True)
class Confirmation:
    """What a confirming observation's evidence is drawn from, kept until the site's scenes are scored."""

    scene: Scene
    baseline: Baseline
    change: SceneChange
    zone: str
    history: EvidenceHistory


@dataclass(frozen=True)
class _Step:
    """One alert step of a scored scene: the zone and kind, the observation, and the stored alert it was
    taken from (the latest of its site, zone and kind; None if there never was one)."""

    zone: str
    kind: AlertKind
    obs: Observation
    latest: Alert | None
    # the zone's previous usable observation (:func:`previous_observation`), for one that may open an alert
    previous: Observation | None = None


@dataclass
class _Plan:
    """What a scene's alert steps commit: each change with its evidence, the confirmations to draw later,
    and the confirmation files the raises replace."""

    changes: list[tuple[AlertChange, str]]
    later: dict[str, Confirmation]
    dropped: list[str]


def _plan(
    catalogue: Catalogue,
    ctx: SiteContext,
    scene: Scene,
    baseline: Baseline,
    change: SceneChange,
    steps: list[_Step],
    drawn: dict[str, tuple[str, ...]],
) -> _Plan:
    """Advance each step's alert and give openings and raises their evidence: drawn for the zone once
    (``drawn``, zone -> its files, is reused and filled in), kept by the alert in place of its previous
    confirmation's files."""
    from monitor.pipeline.evidence import evidence_history, render_zone

    changes: list[tuple[AlertChange, str]] = []
    for st in steps:
        result = advance(st.latest, st.kind, st.obs, ctx.config.alerts, st.previous)
        if result is not None:
            changes.append((result, st.zone))
    later: dict[str, Confirmation] = {}
    dropped: list[str] = []
    for i, (result, zone) in enumerate(changes):
        if result.action in KEPT:
            if zone not in drawn:
                history = evidence_history(catalogue, ctx, scene, baseline, zone)
                drawn[zone] = tuple(str(p) for p in render_zone(ctx, scene, baseline, change, zone, history))
            kept = tuple(p for p in result.alert.evidence if not is_confirmation(p))
            dropped += [p for p in result.alert.evidence if is_confirmation(p)]
            changes[i] = (replace(result, alert=replace(result.alert, evidence=(*kept, *drawn[zone]))), zone)
        elif result.action == "confirmed":
            history = evidence_history(catalogue, ctx, scene, baseline, zone)
            later[result.alert.id] = Confirmation(scene, baseline, change, zone, history)
    return _Plan(changes, later, dropped)


def commit_scored(
    catalogue: Catalogue,
    ctx: SiteContext,
    scene: Scene,
    baseline: Baseline,
    scored: Scored,
    summary: RunSummary,
    confirmations: dict[str, Confirmation] | None = None,
) -> None:
    """Commit one scored scene: track its detections, step its zones' alerts, render the evidence of
    raising alerts, and write scores, registration and alerts in one transaction. Must be called in
    time order per site (the tracking and the alerts read what earlier scenes left).

    Openings and raises are drawn now and kept (a raise drops the previous confirmation's files from the
    alert). A confirmation is noted in ``confirmations`` (alert id -> its latest one) for the caller to
    draw with :func:`draw_confirmations` once the site's scenes are scored; without ``confirmations``
    it is drawn now, replacing the previous one.

    The alerts are stepped from what is stored, and drawn, outside the write transaction (so that an
    analyst's ack or dismissal is not kept waiting while pictures are drawn). Inside it each alert is
    read again: if an ack or dismissal was recorded in between (``monitor alerts``, which does not take
    the run lock), the steps are taken again from the stored alerts, so the analyst's action is kept
    and honoured (a dismissed alert is not raised again, its pattern is suppressed)."""
    from monitor.detect.registration import RegistrationState

    if scored.error is not None:
        record_error(catalogue, ctx, scene, f"error: {scored.error}")
        summary.errors.append(f"scene {scene.scene_id}: scoring failed: {scored.error}")
        return
    if scored.change is None:
        record_error(catalogue, ctx, scene, f"missing bands {','.join(scored.missing)}")
        return
    change = replace(scored.change, zones=[tracked(catalogue, ctx, scene, zs) for zs in scored.change.zones])
    site = ctx.site_id
    acquired = iso(scene.acquired)
    rows = []
    steps: list[_Step] = []
    for zs in change.zones:
        state = change.state if change.state != "scored" else "scored" if zs.change_fraction is not None else "unusable"
        rows.append(
            score_row(
                site, zs.zone, scene.scene_id, acquired, scene.sensor, zs.usable_fraction, state, baseline.version, zs
            )
        )
        for kind in kinds_for_zone(ctx.kinds[zs.zone]):
            score = zs.crowd_score if kind is AlertKind.CROWD else zs.vehicle_score
            obs = Observation(
                site,
                zs.zone,
                scene.scene_id,
                scene.acquired,
                zs.usable_fraction,
                score,
                scene.sensor,
                clear_view=zs.clear_view is not False,
            )
            # the zone's previous observation matters only to one that could open an alert: it confirms one
            # without a clear view, and an alert opened after one that waited starts at it
            opens = score is not None and score >= ctx.config.alerts.threshold
            before = previous_observation(catalogue, ctx, scene, zs.zone, kind) if opens else None
            steps.append(_Step(zs.zone, kind, obs, catalogue.latest_alert(site, zs.zone, kind), before))
    drawn: dict[str, tuple[str, ...]] = {}
    plan = _plan(catalogue, ctx, scene, baseline, change, steps, drawn)
    reg = change.registration
    with catalogue.transaction():
        fresh = [replace(st, latest=catalogue.latest_alert(site, st.zone, st.kind)) for st in steps]
        if fresh != steps:  # feedback landed since the steps were taken: take them from what is stored now
            log.info(
                "scene %s: an alert of site %s changed during scoring (analyst feedback); stepped again",
                scene.scene_id,
                site,
            )
            plan = _plan(catalogue, ctx, scene, baseline, change, fresh, drawn)
        catalogue.replace_scores(site, scene.scene_id, rows)
        catalogue.set_scored(site, scene.scene_id, True)
        catalogue.set_registration(
            site,
            scene.scene_id,
            f"{RegistrationState.SKIPPED}: radar" if reg is None else reg.status,
            None if reg is None else round(reg.dx_px, 3),
            None if reg is None else round(reg.dy_px, 3),
        )
        if change.offset_jump is not None:
            catalogue.set_harmonisation(site, scene.scene_id, level_corrected(change.offset_jump))
            log.warning(
                "scene %s: %+.1f reflectance off its baseline in every band, dark and bright ground alike: "
                "the provider's BOA offset flag is wrong; harmonised",
                scene.scene_id,
                change.offset_jump,
            )
        for result, _ in plan.changes:
            catalogue.save_alert(result.alert)
    summary.scored_scenes += 1
    used = {p for result, _ in plan.changes for p in result.alert.evidence}
    _delete_unlisted(catalogue, site, plan.dropped + [p for ps in drawn.values() for p in ps if p not in used])
    if confirmations is not None:
        for result, _ in plan.changes:
            if result.action in KEPT:
                confirmations.pop(result.alert.id, None)  # older than this raise
        confirmations.update(plan.later)
    else:
        draw_confirmations(catalogue, ctx, plan.later, summary)
    for result, _ in plan.changes:
        if result.action in NOTEWORTHY:
            summary.alert_changes.append(result)
            alert = result.alert
            log.info("alert %s %s (%s, score %.2f)", alert.id, result.action, alert.level, alert.score)


def draw_confirmations(
    catalogue: Catalogue, ctx: SiteContext, confirmations: dict[str, Confirmation], summary: RunSummary
) -> None:
    """Draw each alert's latest confirmation into ``confirmed/``, put its files in place of the previous
    confirmation's in the alert's ``evidence``, and delete the files no alert lists any more. A picture
    that cannot be written leaves the alert with its earlier evidence (the error is in ``summary``)."""
    from monitor.pipeline.evidence import render_zone

    for alert_id, c in confirmations.items():
        try:
            paths = render_zone(ctx, c.scene, c.baseline, c.change, c.zone, c.history, confirmation=True)
        except (ArchiveError, OSError) as exc:
            log.error("alert %s: the evidence of its latest confirmation could not be written: %s", alert_id, exc)
            summary.errors.append(f"alert {alert_id}: confirmation evidence could not be written: {exc}")
            continue
        new = tuple(str(p) for p in paths)
        with catalogue.transaction():  # read and write together: an ack recorded meanwhile is kept
            alert = catalogue.alert(alert_id)
            if alert is None:
                continue
            dropped = [p for p in alert.evidence if is_confirmation(p) and p not in new]
            kept = tuple(p for p in alert.evidence if not is_confirmation(p))
            catalogue.save_alert(replace(alert, evidence=(*kept, *new)))
        _delete_unlisted(catalogue, ctx.site_id, dropped)


def _delete_unlisted(catalogue: Catalogue, site: str, paths: list[str]) -> None:
    """Delete replaced confirmation files that no alert of the site lists (a zone watched for both kinds
    shares a scene's files between its two alerts)."""
    if not paths:
        return
    listed = {p for a in catalogue.alerts(site=site) for p in a.evidence}
    for path in paths:
        if path not in listed:
            Path(path).unlink(missing_ok=True)
