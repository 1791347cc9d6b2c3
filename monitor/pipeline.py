"""One incremental, idempotent monitor run: discover, fetch, score, alert, render, notify.

The pipeline calls the stages (``sources``, ``archive``, ``detect``, ``alerts``, ``render``, ``notify``)
and owns the order of work and the transactions; the stages never call each other's I/O.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from monitor.alerts import AlertChange, Observation, kinds_for_zone, step
from monitor.archive import Catalogue, read_crop_file, run_lock, write_crop_file
from monitor.archive.catalogue import iso, utcnow
from monitor.archive.crops import write_raster
from monitor.config import Config, SiteConfig, utc_since
from monitor.detect.baseline import Baseline, normalised_stats
from monitor.detect.change import normalise_linear, normalise_offset
from monitor.detect.formations import describe
from monitor.detect.scoring import SceneChange, ZoneScore, score_scene
from monitor.detect.values import analysis_values
from monitor.errors import ArchiveError, EmptySceneError, MonitorError, SceneError, SourceError
from monitor.grid import SiteGrid, site_grid
from monitor.notify import build_message, deliver_pending, enqueue
from monitor.scene import Scene
from monitor.sensors import is_radar, rgb_bands
from monitor.sources import SceneRef, Source, make_source

log = logging.getLogger(__name__)

SITE_ZONE = "site"


@dataclass
class RunSummary:
    """What one run did."""

    new_scenes: int = 0
    failed_scenes: int = 0
    empty_scenes: int = 0
    scored_scenes: int = 0
    baselines_built: int = 0
    alert_changes: list[AlertChange] = field(default_factory=list)
    messages_queued: int = 0
    messages_delivered: int = 0
    messages_pending: int = 0
    source_errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when the run wrote anything to the archive."""
        return bool(
            self.new_scenes
            or self.failed_scenes
            or self.empty_scenes
            or self.scored_scenes
            or self.baselines_built
            or self.alert_changes
            or self.messages_queued
            or self.messages_delivered
        )


def zone_masks(site: SiteConfig, grid: SiteGrid) -> dict[str, np.ndarray]:
    """The site's zone masks; a site without zones is scored as one zone named ``site``."""
    if grid.zone_masks:
        return dict(grid.zone_masks)
    assert grid.site_mask is not None
    return {SITE_ZONE: grid.site_mask}


def zone_kinds(site: SiteConfig) -> dict[str, str]:
    """Zone id -> kind (crowd | vehicle | any)."""
    return {z.id: z.kind for z in site.zones} or {SITE_ZONE: "any"}


def run(config: Config, *, progress: bool = False) -> RunSummary:
    """One pass over every site and source. Raises :class:`LockedError` if another run holds the lock."""
    summary = RunSummary()
    with run_lock(config.data_dir), Catalogue(config.data_dir) as catalogue:
        started = utcnow()
        for site in config.sites:
            grid = site_grid(site)
            for source_config in config.sources:
                source = make_source(source_config)
                _ingest_site(catalogue, config, site, grid, source, summary, progress)
            _score_site(catalogue, config, site, grid, summary, progress)
        _notify(catalogue, config, summary)
        if summary.changed:
            with catalogue.transaction() as db:
                db.execute(
                    "INSERT INTO runs (started_at, finished_at, new_scenes, failed_scenes, alerts_changed) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        started,
                        utcnow(),
                        summary.new_scenes,
                        summary.failed_scenes,
                        len(summary.alert_changes),
                    ),
                )
    return summary


# -- ingest ---------------------------------------------------------------------------------------------
def _needs_ingest(catalogue: Catalogue, site: str, ref: SceneRef, max_attempts: int) -> bool:
    row = catalogue.scene(site, ref.scene_id)
    if row is None:
        return True
    return row["status"] == "failed" and row["attempts"] < max_attempts and ref.problem is None


def _score_row(
    site: str,
    zone: str,
    scene_id: str,
    acquired: str | None,
    sensor: str,
    usable_fraction: float,
    state: str,
    baseline_version: int | None = None,
    score: ZoneScore | None = None,
) -> dict[str, Any]:
    """One row of the score table; the change and formation columns come from ``score`` when given."""

    def rounded(value: float | None, digits: int) -> float | None:
        return None if value is None else round(value, digits)

    return {
        "site": site,
        "zone": zone,
        "scene_id": scene_id,
        "acquired": acquired,
        "sensor": sensor,
        "usable_fraction": round(usable_fraction, 6),
        "change_fraction": rounded(score.change_fraction if score else None, 6),
        "crowd_score": rounded(score.crowd_score if score else None, 4),
        "vehicle_score": rounded(score.vehicle_score if score else None, 4),
        "state": state,
        "baseline_version": baseline_version,
        "detections": [d.to_dict() for d in score.detections] if score else [],
    }


def _empty_score_rows(site: str, ref: SceneRef, zones: Iterable[str], state: str) -> list[dict[str, Any]]:
    return [_score_row(site, z, ref.scene_id, iso(ref.acquired), ref.sensor, 0.0, state) for z in zones]


def _ingest_site(
    catalogue: Catalogue,
    config: Config,
    site: SiteConfig,
    grid: SiteGrid,
    source: Source,
    summary: RunSummary,
    progress: bool,
) -> None:
    try:
        refs = source.search(site, utc_since(config), None)
    except (SourceError, SceneError) as exc:
        log.error("site %s: search of source %s failed: %s", site.id, source.name, exc)
        summary.source_errors.append(f"{site.id}: {source.name}: {exc}")
        return
    todo = [r for r in refs if _needs_ingest(catalogue, site.id, r, config.detect.max_attempts)]
    log.info(
        "site %s, source %s: %d scene(s) found, %d new or to retry",
        site.id,
        source.name,
        len(refs),
        len(todo),
    )
    masks = zone_masks(site, grid)
    crops_dir = config.data_dir / "crops" / site.id
    for ref in tqdm(todo, desc=f"fetch {site.id}", unit="scene", disable=not progress, leave=False):
        _ingest_one(catalogue, site, grid, source, ref, masks, crops_dir, summary)


def _ingest_one(
    catalogue: Catalogue,
    site: SiteConfig,
    grid: SiteGrid,
    source: Source,
    ref: SceneRef,
    masks: dict[str, np.ndarray],
    crops_dir: Path,
    summary: RunSummary,
) -> None:
    base_row = {
        "site": site.id,
        "scene_id": ref.scene_id,
        "source": ref.source,
        "acquired": iso(ref.acquired),
        "sensor": ref.sensor,
        "href": ",".join(sorted({a.href for a in ref.assets})),
    }
    try:
        if ref.problem:
            raise SceneError(ref.problem)
        scene = source.read(ref, grid)
    except EmptySceneError as exc:
        _record_unusable(catalogue, base_row, ref, masks, "empty", str(exc))
        summary.empty_scenes += 1
        log.info("scene %s: empty: %s", ref.scene_id, exc)
        return
    except MonitorError as exc:
        _record_unusable(catalogue, base_row, ref, masks, "failed", str(exc))
        summary.failed_scenes += 1
        log.warning("scene %s: failed: %s", ref.scene_id, exc)
        return
    except Exception as exc:  # a bug or an unforeseen library error must not stop the run
        log.exception("scene %s: unexpected error", ref.scene_id)
        _record_unusable(catalogue, base_row, ref, masks, "failed", f"unexpected error: {exc!r}")
        summary.failed_scenes += 1
        return
    crop = write_crop_file(crops_dir / f"{_safe(ref.scene_id)}.tif", scene)
    rows = [
        _score_row(site.id, z, scene.scene_id, iso(scene.acquired), scene.sensor, scene.usable_fraction(m), "pending")
        for z, m in masks.items()
    ]
    assert grid.site_mask is not None
    with catalogue.transaction() as db:
        catalogue.upsert_scene(
            db,
            {
                **base_row,
                "checksum": scene.provenance.get("checksum"),
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


def _record_unusable(
    catalogue: Catalogue,
    base_row: dict[str, Any],
    ref: SceneRef,
    masks: dict[str, np.ndarray],
    status: str,
    reason: str,
) -> None:
    with catalogue.transaction() as db:
        catalogue.upsert_scene(
            db,
            {
                **base_row,
                "status": status,
                "reason": reason,
                "usable_fraction": 0.0,
                "scored": 1,
                "crop": None,
            },
        )
        catalogue.replace_scores(
            db, base_row["site"], ref.scene_id, _empty_score_rows(base_row["site"], ref, masks, status)
        )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


# -- baseline and scoring -------------------------------------------------------------------------------
def _baseline(catalogue: Catalogue, config: Config, site: SiteConfig, sensor: str) -> Baseline | None:
    """The site's baseline for a sensor, built from the first usable scenes once there are enough."""
    row = catalogue.baseline(site.id, sensor)
    detect = config.detect
    if row is None:
        candidates = catalogue.query(
            "SELECT scene_id, crop FROM scenes WHERE site = ? AND sensor = ? AND status = 'ok' "
            "AND usable_fraction >= ? ORDER BY acquired, scene_id LIMIT ?",
            (site.id, sensor, detect.min_scene_usable, detect.warmup_scenes),
        )
        if len(candidates) < detect.warmup_scenes:
            return None
        loaded = [_load_crop(catalogue, site.id, c["scene_id"], c["crop"]) for c in candidates]
        if any(s is None for s in loaded):
            return _baseline(catalogue, config, site, sensor)  # lost crops are now failed: take the next ones
        scenes = [s for s in loaded if s is not None]
        bands = scenes[0].bands
        scenes = [s for s in scenes if s.bands == bands]
        stack = np.stack([analysis_values(s.sensor, bands, s.data) for s in scenes])
        valid = np.stack([s.valid for s in scenes])
        match = normalise_offset if is_radar(sensor, bands) else normalise_linear
        median, sigma, count = normalised_stats(stack, valid, match)
        path = config.data_dir / "baselines" / site.id / f"{sensor}-v1.tif"
        names = [f"median_{b}" for b in bands] + [f"sigma_{b}" for b in bands] + ["count"]
        write_raster(
            path,
            np.concatenate([median, sigma, count[None].astype(np.float32)]),
            names=names,
            transform=scenes[0].transform,
            crs=scenes[0].crs,
            tags={"BANDS": ",".join(bands), "SCENES": ",".join(s.scene_id for s in scenes)},
        )
        with catalogue.transaction() as db:
            db.execute(
                "INSERT INTO baselines (site, sensor, version, scene_ids, path, created_at) VALUES (?, ?, 1, ?, ?, ?)",
                (site.id, sensor, json.dumps([s.scene_id for s in scenes]), str(path), utcnow()),
            )
        log.info("site %s: %s baseline built from %d scenes", site.id, sensor, len(scenes))
        return Baseline(
            sensor=sensor,
            bands=bands,
            median=median,
            sigma=sigma,
            count=count,
            scene_ids=tuple(s.scene_id for s in scenes),
            version=1,
            min_observations=detect.min_observations,
        )
    import rasterio

    with rasterio.open(row["path"]) as src:
        arr = src.read(out_dtype="float32")
        bands = tuple(src.tags()["BANDS"].split(","))
    n = len(bands)
    return Baseline(
        sensor=sensor,
        bands=bands,
        median=arr[:n],
        sigma=arr[n : 2 * n],
        count=arr[2 * n].astype(np.int16),
        scene_ids=tuple(row["scene_ids"]),
        version=int(row["version"]),
        min_observations=detect.min_observations,
    )


def _load_crop(catalogue: Catalogue, site: str, scene_id: str, crop: str) -> Scene | None:
    """An archived crop, or None after recording the scene as failed (so the next run fetches it again)."""
    try:
        return read_crop_file(Path(crop))
    except (ArchiveError, KeyError, ValueError) as exc:
        reason = f"archived crop {crop} is missing or unreadable ({exc}); it will be fetched again"
        log.warning("scene %s: %s", scene_id, reason)
        with catalogue.transaction() as db:
            db.execute(
                "UPDATE scenes SET status = 'failed', reason = ?, scored = 1 WHERE site = ? AND scene_id = ?",
                (reason, site, scene_id),
            )
            db.execute(
                "UPDATE scores SET state = 'failed', usable_fraction = 0, change_fraction = NULL, crowd_score = NULL,"
                " vehicle_score = NULL WHERE site = ? AND scene_id = ?",
                (site, scene_id),
            )
        return None


def _score_site(
    catalogue: Catalogue,
    config: Config,
    site: SiteConfig,
    grid: SiteGrid,
    summary: RunSummary,
    progress: bool,
) -> None:
    pending = catalogue.query(
        "SELECT scene_id, sensor, crop FROM scenes WHERE site = ? AND status = 'ok' AND scored = 0 "
        "ORDER BY acquired, scene_id",
        (site.id,),
    )
    if not pending:
        return
    baselines: dict[str, Baseline | None] = {}
    for sensor in sorted({p["sensor"] for p in pending}):
        existed = catalogue.baseline(site.id, sensor) is not None
        baselines[sensor] = _baseline(catalogue, config, site, sensor)
        summary.baselines_built += int(baselines[sensor] is not None and not existed)
    masks = zone_masks(site, grid)
    kinds = zone_kinds(site)
    todo = [p for p in pending if baselines.get(p["sensor"]) is not None]
    for row in tqdm(todo, desc=f"score {site.id}", unit="scene", disable=not progress, leave=False):
        baseline = baselines[row["sensor"]]
        assert baseline is not None
        scene = _load_crop(catalogue, site.id, row["scene_id"], row["crop"])
        if scene is None:
            summary.failed_scenes += 1
            continue
        _score_one(catalogue, config, site, grid, scene, baseline, masks, kinds, summary)


def _score_one(
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
    missing = [b for b in baseline.bands if b not in scene.bands]
    if missing:
        state = f"missing bands {','.join(missing)}"
        rows = [
            _score_row(
                site.id,
                z,
                scene.scene_id,
                iso(scene.acquired),
                scene.sensor,
                scene.usable_fraction(m),
                state,
                baseline.version,
            )
            for z, m in masks.items()
        ]
        with catalogue.transaction() as db:
            catalogue.replace_scores(db, site.id, scene.scene_id, rows)
            db.execute("UPDATE scenes SET scored = 1 WHERE site = ? AND scene_id = ?", (site.id, scene.scene_id))
        return
    change = score_scene(scene, baseline, masks, config.detect.false_alarm_rate, config.detect.cloud_margin_m)
    rows = []
    changes: list[tuple[AlertChange, str]] = []
    for zs in change.zones:
        state = "scored" if zs.change_fraction is not None else "unusable"
        rows.append(
            _score_row(
                site.id,
                zs.zone,
                scene.scene_id,
                iso(scene.acquired),
                scene.sensor,
                zs.usable_fraction,
                state,
                baseline.version,
                zs,
            )
        )
        for kind in kinds_for_zone(kinds[zs.zone]):
            score = zs.crowd_score if kind == "crowd" else zs.vehicle_score
            open_alert = catalogue.query(
                "SELECT * FROM alerts WHERE site = ? AND zone = ? AND kind = ? AND status = 'firing'",
                (site.id, zs.zone, kind),
            )
            current = None
            if open_alert:
                current = dict(open_alert[0])
                current["scene_ids"] = json.loads(current["scene_ids"])
                current["evidence"] = json.loads(current["evidence"])
            obs = Observation(site.id, zs.zone, scene.scene_id, scene.acquired, zs.usable_fraction, score)
            result = step(current, kind, obs, config.alerts)
            if result is not None:
                changes.append((result, zs.zone))
    evidence: dict[str, str] = {}
    for result, zone in changes:
        if result.action in {"opened", "raised", "confirmed"} and zone not in evidence:
            evidence[zone] = str(_render(config, site, grid, scene, baseline, change, masks, zone))
        if zone in evidence and result.action in {"opened", "raised", "confirmed"}:
            result.alert["evidence"] = [*result.alert["evidence"], evidence[zone]]
    with catalogue.transaction() as db:
        catalogue.replace_scores(db, site.id, scene.scene_id, rows)
        db.execute("UPDATE scenes SET scored = 1 WHERE site = ? AND scene_id = ?", (site.id, scene.scene_id))
        for result, _ in changes:
            catalogue.save_alert(db, result.alert)
    summary.scored_scenes += 1
    summary.alert_changes += [c for c, _ in changes if c.action in {"opened", "raised", "resolved"}]
    for c, _ in changes:
        if c.action in {"opened", "raised", "resolved"}:
            log.info("alert %s %s (%s, score %.2f)", c.alert["id"], c.action, c.alert["level"], c.alert["score"])


def _window(mask: np.ndarray, pad: int = 20, minimum: int = 64) -> tuple[slice, slice]:
    rows, cols = np.nonzero(mask)
    slices = []
    for idx, size in ((rows, mask.shape[0]), (cols, mask.shape[1])):
        lo, hi = int(idx.min()) - pad, int(idx.max()) + 1 + pad
        if hi - lo < minimum:
            grow = (minimum - (hi - lo)) // 2 + 1
            lo, hi = lo - grow, hi + grow
        slices.append(slice(max(0, lo), min(size, hi)))
    return slices[0], slices[1]


def _render(
    config: Config,
    site: SiteConfig,
    grid: SiteGrid,
    scene: Scene,
    baseline: Baseline,
    change: SceneChange,
    masks: dict[str, np.ndarray],
    zone: str,
) -> Path:
    from monitor.render.evidence import credit_line, render_evidence  # matplotlib: only when drawing

    rows, cols = _window(masks[zone])
    rgb = rgb_bands(baseline.bands)
    if rgb is not None and not is_radar(scene.sensor, baseline.bands):
        idx = [baseline.bands.index(b) for b in rgb]
        base_rgb = baseline.median[idx][:, rows, cols]
        scene_rgb = scene.data[[scene.bands.index(b) for b in rgb]][:, rows, cols]
    else:
        base_rgb = np.repeat(baseline.median[:1, rows, cols], 3, axis=0)
        scene_rgb = np.repeat(analysis_values(scene.sensor, scene.bands, scene.data)[:1, rows, cols], 3, axis=0)
    scene_rgb = np.where(scene.valid[rows, cols][None], scene_rgb, np.nan)
    zone_score = next(z for z in change.zones if z.zone == zone)
    dets = [(zone, _shift(d, rows.start, cols.start)) for d in zone_score.detections]
    path = config.data_dir / "evidence" / site.id / zone / f"{_safe(scene.scene_id)}.png"
    site_name = site.name or site.id
    title = f"{site_name} / {zone}: {scene.sensor} {scene.acquired:%Y-%m-%d %H:%M} UTC ({scene.scene_id})"

    def fmt(score: float | None) -> str:
        return "n/a" if score is None else f"{score:.2f}"

    subtitle = (
        f"crowd {fmt(zone_score.crowd_score)}, vehicle {fmt(zone_score.vehicle_score)}, "
        f"change {100 * (zone_score.change_fraction or 0):.1f}% of usable pixels, usable "
        f"{100 * zone_score.usable_fraction:.0f}%; baseline v{baseline.version} of {len(baseline.scene_ids)} scenes\n"
        f"{describe(zone_score.detections)} (yellow boxes)"
    )
    return render_evidence(
        path,
        baseline_rgb=base_rgb,
        scene_rgb=scene_rgb,
        change=change.statistic[rows, cols],
        threshold=change.threshold,
        zone_masks={z: m[rows, cols] for z, m in masks.items()},
        detections=dets,
        title=("SIMULATED - " if scene.simulated else "") + title,
        subtitle=subtitle,
        credit=credit_line(scene.simulated, scene.acquired.year),
        resolution=grid.resolution,
    )


def _shift(det: Any, row0: int, col0: int) -> Any:
    from dataclasses import replace

    return replace(det, row=det.row - row0, col=det.col - col0)


# -- notification ---------------------------------------------------------------------------------------
def _notify(catalogue: Catalogue, config: Config, summary: RunSummary) -> None:
    changed = catalogue.query(
        "SELECT * FROM alerts WHERE notified_level IS NOT level OR notified_status IS NOT status "
        "ORDER BY first_seen, id"
    )
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for alert in changed:
        alert["scene_ids"] = json.loads(alert["scene_ids"])
        alert["evidence"] = json.loads(alert["evidence"])
        site = config.site(alert["site"]) if any(s.id == alert["site"] for s in config.sites) else None
        recipients = tuple((site.recipients if site and site.recipients else None) or config.email.recipients)
        groups.setdefault(recipients, []).append(alert)
    simulated_sites = {
        r["site"]
        for r in catalogue.query("SELECT DISTINCT site FROM scenes WHERE provenance LIKE ?", ('%"SIMULATED": "yes"%',))
    }
    for recipients, alerts in groups.items():
        msg = build_message(
            alerts,
            sender=config.email.sender,
            recipients=recipients,
            simulated=any(a["site"] in simulated_sites for a in alerts),
        )
        enqueue(catalogue, msg, config.data_dir / "outbox")
        with catalogue.transaction() as db:
            for a in alerts:
                db.execute(
                    "UPDATE alerts SET notified_level = level, notified_status = status WHERE id = ?",
                    (a["id"],),
                )
        summary.messages_queued += 1
    pending = catalogue.query("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'")[0]["n"]
    if pending:
        delivered, still = deliver_pending(catalogue, config)
        summary.messages_delivered += delivered
        summary.messages_pending = still
