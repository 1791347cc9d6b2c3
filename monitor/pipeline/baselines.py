"""The baseline step: choose the scenes a scene is compared with (seasonal, recent or warm-up), and build
that baseline once, or load the stored one with the same scenes (``docs/detection.md``, section 3)."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.archive.baselines import read_baseline_file, write_baseline_file
from monitor.archive.catalogue import Catalogue, iso, utcnow
from monitor.archive.crops import read_crop_file
from monitor.config import Config, SiteConfig
from monitor.detect.baseline import (
    Baseline,
    Candidate,
    Composition,
    baseline_from_scenes,
    choose_composition,
    same_pass,
)
from monitor.errors import ArchiveError
from monitor.scene import Scene
from monitor.sensors import is_radar

log = logging.getLogger(__name__)


def load_crop(catalogue: Catalogue, site: str, scene_id: str, crop: str) -> Scene | None:
    """An archived crop, or None after recording the scene as failed with its attempts reset, so that the
    next run fetches it again. Scores already computed from the crop are kept."""
    try:
        return read_crop_file(Path(crop))
    except (ArchiveError, KeyError, ValueError) as exc:
        reason = f"archived crop {crop} is missing or unreadable ({exc}); it will be fetched again"
        log.warning("scene %s: %s", scene_id, reason)
        with catalogue.transaction() as db:
            unscored = db.execute(
                "SELECT scored = 0 FROM scenes WHERE site = ? AND scene_id = ?", (site, scene_id)
            ).fetchone()
            db.execute(
                "UPDATE scenes SET status = 'failed', reason = ?, scored = 1, attempts = 0 "
                "WHERE site = ? AND scene_id = ?",
                (reason, site, scene_id),
            )
            if unscored and unscored[0]:
                db.execute(
                    "UPDATE scores SET state = 'failed', usable_fraction = 0, change_fraction = NULL, "
                    "crowd_score = NULL, vehicle_score = NULL, detections = '[]' WHERE site = ? AND scene_id = ?",
                    (site, scene_id),
                )
        return None


def site_baseline(catalogue: Catalogue, config: Config, site: SiteConfig, sensor: str) -> Baseline | None:
    """The site's newest stored baseline for a sensor, else one built from the first
    ``detect.warmup_scenes`` usable scenes once there are that many (None until then). Scoring picks
    each scene's own baseline (:func:`scene_baseline`); this one serves benchmarks and tools.

    A stored baseline whose file is lost or broken is rebuilt from the scenes it was made of, under the
    same version; if those scenes are gone too, a new version is built from the scenes there are now, so
    that a version number always means one set of scenes.
    """
    detect = config.detect
    row = catalogue.baseline(site.id, sensor)
    if row is None:
        return _first_baseline(catalogue, config, site, sensor, version=1)
    try:
        return read_baseline_file(
            Path(row["path"]), tuple(row["scene_ids"]), int(row["version"]), detect.min_observations
        )
    except ArchiveError as exc:
        log.warning("site %s: %s; rebuilding it from its %d scenes", site.id, exc, len(row["scene_ids"]))
    marks = ",".join("?" for _ in row["scene_ids"])
    stored = catalogue.query(
        f"SELECT scene_id, crop FROM scenes WHERE site = ? AND scene_id IN ({marks}) AND crop IS NOT NULL "
        "ORDER BY acquired",
        (site.id, *row["scene_ids"]),
    )
    loaded = [load_crop(catalogue, site.id, c["scene_id"], c["crop"]) for c in stored]
    scenes = [s for s in loaded if s is not None]
    if len(scenes) == len(row["scene_ids"]):
        previous = json.loads(row.get("composition") or "{}")
        return _build(catalogue, config, site, sensor, scenes, int(row["version"]), previous=previous)
    return _first_baseline(catalogue, config, site, sensor, version=int(row["version"]) + 1)


def _first_baseline(
    catalogue: Catalogue, config: Config, site: SiteConfig, sensor: str, version: int
) -> Baseline | None:
    """A baseline from the first ``warmup_scenes`` usable scenes of the site and sensor, or None."""
    detect = config.detect
    alerted = alerted_scenes(catalogue, site.id)
    while True:
        rows = catalogue.query(
            "SELECT scene_id, crop FROM scenes WHERE site = ? AND sensor = ? AND status = 'ok' "
            "AND usable_fraction >= ? AND (registration IS NULL OR registration NOT LIKE 'unregistered%') "
            "ORDER BY acquired, scene_id",
            (site.id, sensor, detect.min_scene_usable),
        )
        candidates = [r for r in rows if r["scene_id"] not in alerted][: detect.warmup_scenes]
        if len(candidates) < detect.warmup_scenes:
            return None
        loaded = [load_crop(catalogue, site.id, c["scene_id"], c["crop"]) for c in candidates]
        scenes = [s for s in loaded if s is not None]
        if len(scenes) == len(candidates):  # else the lost ones are now failed: take the next ones
            skipped = sorted(alerted & {r["scene_id"] for r in rows})
            return _build(catalogue, config, site, sensor, scenes, version, skipped)


def warmup_rule(config: Config) -> str:
    """The rule of a warm-up baseline, as stored in its ``composition``."""
    detect = config.detect
    return f"first {detect.warmup_scenes} scenes with usable fraction >= {detect.min_scene_usable}"


def _usable(catalogue: Catalogue, config: Config, site: str, sensor: str) -> list[dict[str, Any]]:
    return catalogue.query(
        "SELECT scene_id, acquired, orbit FROM scenes WHERE site = ? AND sensor = ? AND status = 'ok' "
        "AND usable_fraction >= ? AND (registration IS NULL OR registration NOT LIKE 'unregistered%') "
        "ORDER BY acquired, scene_id",
        (site, sensor, config.detect.min_scene_usable),
    )


def quiet_scenes(catalogue: Catalogue, config: Config, site: str, sensor: str, before: datetime) -> list[Candidate]:
    """The usable scenes of a site and sensor acquired before ``before`` that are quiet: scored (at least
    one zone compared, none hazy, unregistered or failed), below ``alerts.threshold`` in every zone's
    crowd and vehicle score, and in no alert's scenes (raised, confirmed, or dismissed by an analyst)."""
    rows = catalogue.query(
        "SELECT s.scene_id, s.acquired, s.orbit FROM scenes s WHERE s.site = ? AND s.sensor = ? AND s.status = 'ok' "
        "AND s.scored = 1 AND s.usable_fraction >= ? AND s.acquired < ? "
        "AND (s.registration IS NULL OR s.registration NOT LIKE 'unregistered%') "
        "AND EXISTS (SELECT 1 FROM scores c WHERE c.site = s.site AND c.scene_id = s.scene_id AND c.state = 'scored') "
        "AND NOT EXISTS (SELECT 1 FROM scores c WHERE c.site = s.site AND c.scene_id = s.scene_id AND "
        "(c.state NOT IN ('scored', 'unusable') OR COALESCE(c.crowd_score, 0) >= ? "
        "OR COALESCE(c.vehicle_score, 0) >= ?)) "
        "ORDER BY s.acquired, s.scene_id",
        (site, sensor, config.detect.min_scene_usable, iso(before), config.alerts.threshold, config.alerts.threshold),
    )
    alerted = alerted_scenes(catalogue, site)
    return [_candidate(r) for r in rows if r["scene_id"] not in alerted]


def _candidate(row: dict[str, Any]) -> Candidate:
    return Candidate(row["scene_id"], datetime.fromisoformat(row["acquired"]), row.get("orbit"))


def scene_composition(
    catalogue: Catalogue,
    config: Config,
    site: SiteConfig,
    sensor: str,
    acquired: datetime,
    orbit: int | None = None,
) -> Composition | None:
    """Which scenes the baseline of a scene acquired at ``acquired`` is made of (see
    :func:`monitor.detect.baseline.choose_composition`), or None while the site has too few. A radar
    scene (``orbit``: its relative orbit, None if unknown) is compared with scenes of its own pass only
    (:func:`monitor.detect.baseline.same_pass`)."""
    alerted = alerted_scenes(catalogue, site.id)
    warmup = [_candidate(r) for r in _usable(catalogue, config, site.id, sensor) if r["scene_id"] not in alerted]
    quiet = quiet_scenes(catalogue, config, site.id, sensor, acquired)
    rule = warmup_rule(config)
    if is_radar(sensor, ()):
        warmup = [c for c in warmup if same_pass(c, orbit, acquired)]
        quiet = [c for c in quiet if same_pass(c, orbit, acquired)]
        rule += (
            f" of the same pass ({'relative orbit ' + str(orbit) if orbit is not None else f'{acquired:%H:%M} UTC'})"
        )
    return choose_composition(quiet, warmup, acquired, config.detect.warmup_scenes, rule)


def scene_baseline(
    catalogue: Catalogue,
    config: Config,
    site: SiteConfig,
    sensor: str,
    acquired: datetime,
    cache: dict[tuple[str, int], Baseline] | None = None,
    orbit: int | None = None,
) -> tuple[Baseline | None, bool]:
    """The baseline a scene of ``sensor`` acquired at ``acquired`` is scored against, and whether it was
    built just now (False: loaded, or taken from ``cache``, keyed by sensor and version).

    A baseline is stored once per composition: a scene whose rule picks the same scenes as a stored
    baseline reuses it (and its version); otherwise a new version is built. A cron run thus builds at
    most one baseline per sensor and month, and a score row's ``baseline_version`` names the scenes it
    was compared with. A scene whose crop is lost on the way is recorded failed and the choice is made
    again without it. A radar scene's baseline is of its own pass (``orbit``, see :func:`scene_composition`).
    """
    cache = {} if cache is None else cache
    for _ in range(3):
        composition = scene_composition(catalogue, config, site, sensor, acquired, orbit)
        if composition is None:
            return None, False
        stored = [
            r
            for r in catalogue.query(
                "SELECT version, scene_ids, composition FROM baselines WHERE site = ? AND sensor = ? ORDER BY version",
                (site.id, sensor),
            )
            if composition.scene_ids
            in (tuple(json.loads(r["scene_ids"])), tuple(json.loads(r["composition"] or "{}").get("chosen", ())))
        ]
        if stored:
            version = int(stored[-1]["version"])
            if (sensor, version) not in cache:
                found = _stored_version(catalogue, config, site, sensor, version)
                if found is None:
                    continue
                cache[(sensor, version)] = found
            return cache[(sensor, version)], False
        scenes = _load_scenes(catalogue, site.id, composition.scene_ids)
        if scenes is None:
            continue  # a crop was lost: it is failed now, choose again
        versions = catalogue.query(
            "SELECT MAX(version) AS v FROM baselines WHERE site = ? AND sensor = ?", (site.id, sensor)
        )
        version = 1 + int(versions[0]["v"] or 0)
        usable = {r["scene_id"] for r in _usable(catalogue, config, site.id, sensor)}
        kept_out = sorted(alerted_scenes(catalogue, site.id) & usable)
        baseline = _build(catalogue, config, site, sensor, scenes, version, kept_out, composition)
        cache[(sensor, version)] = baseline
        return baseline, True
    return None, False


def _load_scenes(catalogue: Catalogue, site: str, scene_ids: tuple[str, ...]) -> list[Scene] | None:
    """The archived crops of ``scene_ids`` in acquisition order, or None if one is lost (it is then failed)."""
    marks = ",".join("?" for _ in scene_ids)
    rows = catalogue.query(
        f"SELECT scene_id, crop FROM scenes WHERE site = ? AND scene_id IN ({marks}) AND crop IS NOT NULL "
        "ORDER BY acquired, scene_id",
        (site, *scene_ids),
    )
    loaded = [load_crop(catalogue, site, r["scene_id"], r["crop"]) for r in rows]
    scenes = [s for s in loaded if s is not None]
    return scenes if len(scenes) == len(scene_ids) else None


def _stored_version(
    catalogue: Catalogue, config: Config, site: SiteConfig, sensor: str, version: int
) -> Baseline | None:
    """A stored baseline version; a lost or broken file is rebuilt from its scenes under the same version
    (None if those scenes are gone too)."""
    row = catalogue.query(
        "SELECT * FROM baselines WHERE site = ? AND sensor = ? AND version = ?", (site.id, sensor, version)
    )[0]
    scene_ids = tuple(json.loads(row["scene_ids"]))
    try:
        return read_baseline_file(Path(row["path"]), scene_ids, version, config.detect.min_observations)
    except ArchiveError as exc:
        log.warning("site %s: %s; rebuilding it from its %d scenes", site.id, exc, len(scene_ids))
    scenes = _load_scenes(catalogue, site.id, scene_ids)
    if scenes is None:
        return None
    previous = json.loads(row["composition"] or "{}")
    return _build(catalogue, config, site, sensor, scenes, version, previous=previous)


def alerted_scenes(catalogue: Catalogue, site: str) -> set[str]:
    """Every scene that raised or confirmed an alert of the site (the alerts' ``scene_ids``): what a
    formation looked like must never become what the site normally looks like."""
    return {scene_id for alert in catalogue.alerts(site) for scene_id in alert["scene_ids"]}


def _build(
    catalogue: Catalogue,
    config: Config,
    site: SiteConfig,
    sensor: str,
    scenes: list[Scene],
    version: int,
    alerted: list[str] | None = None,
    chosen: Composition | None = None,
    previous: dict[str, Any] | None = None,
) -> Baseline:
    """Build, store and register baseline ``version`` from ``scenes``. Its ``composition`` records the
    rule that chose them (``chosen``; the warm-up rule by default; a rebuild keeps ``previous``), the
    alerted or marked scenes kept out, and each scene's registration."""
    bands = scenes[0].bands
    given = [s.scene_id for s in scenes]
    scenes = [s for s in scenes if s.bands == bands]
    baseline, regs = baseline_from_scenes(scenes, config.detect.min_observations, version)
    kind, rule = ("warm-up", warmup_rule(config)) if chosen is None else (chosen.kind, chosen.rule)
    composition: dict[str, object] = {
        "kind": kind,
        "rule": rule,
        # what the rule chose, before scenes with another band set were left out: a later scene whose
        # rule chooses the same reuses this version
        "chosen": list(chosen.scene_ids) if chosen is not None else given,
        "kept_out_alerted": alerted or [],
        **(previous or {}),
        "shifts_px": {
            s.scene_id: [round(r.dx_px, 3), round(r.dy_px, 3)] for s, r in zip(scenes, regs, strict=True) if r and r.ok
        },
        "unregistered": [s.scene_id for s, r in zip(scenes, regs, strict=True) if r is not None and not r.ok],
    }
    path = config.data_dir / "baselines" / site.id / f"{sensor}-v{version}.tif"
    write_baseline_file(path, baseline, scenes[0].transform, scenes[0].crs)
    with catalogue.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO baselines (site, sensor, version, scene_ids, path, created_at, composition) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                site.id,
                sensor,
                version,
                json.dumps(list(baseline.scene_ids)),
                str(path),
                utcnow(),
                json.dumps(composition, sort_keys=True),
            ),
        )
    log.info("site %s: %s baseline v%d built from %d scenes (%s)", site.id, sensor, version, len(scenes), rule)
    return baseline
