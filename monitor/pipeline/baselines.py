"""The baseline step: choose the scenes a scene is compared with (seasonal, recent or warm-up), and build
that baseline once, or load the stored one with the same scenes (``docs/detection.md``, section 3).

The archive's writer runs this step, in time order: whether a scene is quiet enough to enter a later
baseline depends on its score.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.archive.baselines import read_baseline_file, write_baseline_file
from monitor.archive.catalogue import Catalogue, utcnow
from monitor.archive.crops import read_crop_file
from monitor.archive.records import BaselineVersion, SceneRecord
from monitor.detect.baseline import Baseline, Candidate, Composition, baseline_from_scenes, choose_composition
from monitor.errors import ArchiveError
from monitor.pipeline.context import SiteContext
from monitor.scene import Scene

log = logging.getLogger(__name__)


def load_crop(catalogue: Catalogue, scene: SceneRecord) -> Scene | None:
    """An archived crop, or None after recording the scene as failed with its attempts reset, so that the
    next run fetches it again. Scores already computed from the crop are kept."""
    try:
        return read_crop_file(Path(scene.crop or ""))
    except (ArchiveError, KeyError, ValueError) as exc:
        reason = f"archived crop {scene.crop} is missing or unreadable ({exc}); it will be fetched again"
        log.warning("scene %s: %s", scene.scene_id, reason)
        with catalogue.transaction():
            catalogue.crop_lost(scene.site, scene.scene_id, reason)
        return None


def _candidates(rows: Sequence[SceneRecord], alerted: set[str]) -> list[Candidate]:
    return [Candidate(r.scene_id, r.acquired_at) for r in rows if r.scene_id not in alerted and r.acquired_at]


def site_baseline(catalogue: Catalogue, ctx: SiteContext, sensor: str) -> Baseline | None:
    """The site's newest stored baseline for a sensor, else one built from the first
    ``detect.warmup_scenes`` usable scenes once there are that many (None until then). Scoring picks
    each scene's own baseline (:func:`scene_baseline`); this one serves benchmarks and tools.

    A stored baseline whose file is lost or broken is rebuilt from the scenes it was made of, under the
    same version; if those scenes are gone too, a new version is built from the scenes there are now, so
    that a version number always means one set of scenes.
    """
    stored = catalogue.baseline(ctx.site_id, sensor)
    if stored is None:
        return _first_baseline(catalogue, ctx, sensor, version=1)
    found = _stored_version(catalogue, ctx, stored)
    if found is not None:
        return found
    return _first_baseline(catalogue, ctx, sensor, version=stored.version + 1)


def _first_baseline(catalogue: Catalogue, ctx: SiteContext, sensor: str, version: int) -> Baseline | None:
    """A baseline from the first ``warmup_scenes`` usable scenes of the site and sensor, or None."""
    detect = ctx.config.detect
    alerted = catalogue.alerted_scenes(ctx.site_id)
    while True:
        rows = catalogue.usable_scenes(ctx.site_id, sensor, detect.min_scene_usable)
        candidates = [r for r in rows if r.scene_id not in alerted][: detect.warmup_scenes]
        if len(candidates) < detect.warmup_scenes:
            return None
        loaded = [load_crop(catalogue, c) for c in candidates]
        scenes = [s for s in loaded if s is not None]
        if len(scenes) == len(candidates):  # else the lost ones are now failed: take the next ones
            skipped = sorted(alerted & {r.scene_id for r in rows})
            return _build(catalogue, ctx, sensor, scenes, version, skipped)


def warmup_rule(ctx: SiteContext) -> str:
    """The rule of a warm-up baseline, as stored in its ``composition``."""
    detect = ctx.config.detect
    return f"first {detect.warmup_scenes} scenes with usable fraction >= {detect.min_scene_usable}"


def quiet_scenes(catalogue: Catalogue, ctx: SiteContext, sensor: str, before: datetime) -> list[Candidate]:
    """The usable scenes of a site and sensor acquired before ``before`` that are quiet: scored (at least
    one zone compared, none hazy, unregistered or failed), below ``alerts.threshold`` in every zone's
    crowd and vehicle score, and in no alert's scenes (raised, confirmed, or dismissed by an analyst)."""
    config = ctx.config
    rows = catalogue.quiet_scenes(ctx.site_id, sensor, config.detect.min_scene_usable, before, config.alerts.threshold)
    return _candidates(rows, catalogue.alerted_scenes(ctx.site_id))


def scene_composition(catalogue: Catalogue, ctx: SiteContext, sensor: str, acquired: datetime) -> Composition | None:
    """Which scenes the baseline of a scene acquired at ``acquired`` is made of (see
    :func:`monitor.detect.baseline.choose_composition`), or None while the site has too few."""
    alerted = catalogue.alerted_scenes(ctx.site_id)
    warmup = _candidates(catalogue.usable_scenes(ctx.site_id, sensor, ctx.config.detect.min_scene_usable), alerted)
    quiet = quiet_scenes(catalogue, ctx, sensor, acquired)
    return choose_composition(quiet, warmup, acquired, ctx.config.detect.warmup_scenes, warmup_rule(ctx))


def scene_baseline(
    catalogue: Catalogue,
    ctx: SiteContext,
    sensor: str,
    acquired: datetime,
    cache: dict[tuple[str, int], Baseline] | None = None,
) -> tuple[Baseline | None, bool]:
    """The baseline a scene of ``sensor`` acquired at ``acquired`` is scored against, and whether it was
    built just now (False: loaded, or taken from ``cache``, keyed by sensor and version).

    A baseline is stored once per composition: a scene whose rule picks the same scenes as a stored
    baseline reuses it (and its version); otherwise a new version is built. A cron run thus builds at
    most one baseline per sensor and month, and a score row's ``baseline_version`` names the scenes it
    was compared with. A scene whose crop is lost on the way is recorded failed and the choice is made
    again without it.
    """
    cache = {} if cache is None else cache
    site = ctx.site_id
    for _ in range(3):
        composition = scene_composition(catalogue, ctx, sensor, acquired)
        if composition is None:
            return None, False
        stored = [b for b in catalogue.baselines(site, sensor) if b.made_of(composition.scene_ids)]
        if stored:
            version = stored[-1].version
            if (sensor, version) not in cache:
                found = _stored_version(catalogue, ctx, stored[-1])
                if found is None:
                    continue
                cache[(sensor, version)] = found
            return cache[(sensor, version)], False
        scenes = _load_scenes(catalogue, site, composition.scene_ids)
        if scenes is None:
            continue  # a crop was lost: it is failed now, choose again
        version = catalogue.next_baseline_version(site, sensor)
        usable = {r.scene_id for r in catalogue.usable_scenes(site, sensor, ctx.config.detect.min_scene_usable)}
        kept_out = sorted(catalogue.alerted_scenes(site) & usable)
        baseline = _build(catalogue, ctx, sensor, scenes, version, kept_out, composition)
        cache[(sensor, version)] = baseline
        return baseline, True
    return None, False


def _load_scenes(catalogue: Catalogue, site: str, scene_ids: tuple[str, ...]) -> list[Scene] | None:
    """The archived crops of ``scene_ids`` in acquisition order, or None if one is lost (it is then failed)."""
    loaded = [load_crop(catalogue, r) for r in catalogue.archived_crops(site, scene_ids)]
    scenes = [s for s in loaded if s is not None]
    return scenes if len(scenes) == len(scene_ids) else None


def _stored_version(catalogue: Catalogue, ctx: SiteContext, stored: BaselineVersion) -> Baseline | None:
    """A stored baseline version; a lost or broken file is rebuilt from its scenes under the same version
    (None if those scenes are gone too)."""
    try:
        return read_baseline_file(
            Path(stored.path), stored.scene_ids, stored.version, ctx.config.detect.min_observations
        )
    except ArchiveError as exc:
        log.warning("site %s: %s; rebuilding it from its %d scenes", ctx.site_id, exc, len(stored.scene_ids))
    scenes = _load_scenes(catalogue, ctx.site_id, stored.scene_ids)
    if scenes is None:
        return None
    return _build(catalogue, ctx, stored.sensor, scenes, stored.version, previous=stored.composition)


def alerted_scenes(catalogue: Catalogue, site: str) -> set[str]:
    """Every scene that raised or confirmed an alert of the site (the alerts' ``scene_ids``): what a
    formation looked like must never become what the site normally looks like."""
    return catalogue.alerted_scenes(site)


def _build(
    catalogue: Catalogue,
    ctx: SiteContext,
    sensor: str,
    scenes: list[Scene],
    version: int,
    alerted: list[str] | None = None,
    chosen: Composition | None = None,
    previous: Mapping[str, Any] | None = None,
) -> Baseline:
    """Build, store and register baseline ``version`` from ``scenes``. Its ``composition`` records the
    rule that chose them (``chosen``; the warm-up rule by default; a rebuild keeps ``previous``), the
    alerted or marked scenes kept out, and each scene's registration."""
    bands = scenes[0].bands
    given = [s.scene_id for s in scenes]
    scenes = [s for s in scenes if s.bands == bands]
    baseline, regs = baseline_from_scenes(scenes, ctx.config.detect.min_observations, version)
    kind, rule = ("warm-up", warmup_rule(ctx)) if chosen is None else (chosen.kind, chosen.rule)
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
    path = ctx.baselines_dir / f"{sensor}-v{version}.tif"
    write_baseline_file(path, baseline, scenes[0].transform, scenes[0].crs)
    record = BaselineVersion(ctx.site_id, sensor, version, baseline.scene_ids, str(path), utcnow(), composition)
    with catalogue.transaction():
        catalogue.save_baseline(record)
    log.info("site %s: %s baseline v%d built from %d scenes (%s)", ctx.site_id, sensor, version, len(scenes), rule)
    return baseline
