"""The baseline step: choose the scenes a scene is compared with (seasonal, recent or warm-up), and build
that baseline once, or load the stored one with the same scenes (``docs/detection.md``, section 3).

The archive's writer runs this step, in time order: whether a scene is quiet enough to enter a later
baseline depends on its score.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, time
from pathlib import Path
from typing import Any

from monitor.archive.baselines import read_baseline_file, write_baseline_file
from monitor.archive.catalogue import Catalogue, utcnow
from monitor.archive.crops import read_crop_file
from monitor.archive.records import BaselineVersion, SceneRecord, SceneTime
from monitor.detect.baseline import (
    Baseline,
    Candidate,
    Composition,
    baseline_from_scenes,
    choose_composition,
    same_pass,
)
from monitor.errors import ArchiveError
from monitor.pipeline.context import SiteContext
from monitor.scene import Scene
from monitor.sensors import is_radar

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


def _candidates(rows: Sequence[SceneRecord | SceneTime], alerted: set[str]) -> list[Candidate]:
    return [Candidate(r.scene_id, r.acquired_at, r.orbit) for r in rows if r.scene_id not in alerted and r.acquired_at]


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
    rows = catalogue.quiet_scene_times(
        ctx.site_id, sensor, config.detect.min_scene_usable, before, config.alerts.threshold
    )
    return _candidates(rows, catalogue.alerted_scenes(ctx.site_id))


#: What a composition depends on besides the archive: site, sensor, year and month, and for radar the pass
#: (relative orbit and time of day).
ChoiceKey = tuple[str, str, int, int, tuple[int | None, time] | None]


class ChoiceMemo:
    """The compositions chosen while the archive stays as it is (:meth:`Catalogue.state_stamp`).

    A composition depends on the scene's month, not its day (:func:`choose_composition`: the seasonal
    and recent rules read quiet scenes before the month only, the warm-up rule the site's first usable
    scenes), and for radar on its pass. The writer asks for the choice of every scene two or three times
    (head, look-ahead, check before commit) and each asking reads the sensor's whole history: with the
    memo, a batch of one month reads it once until the next commit, which may change which scenes are
    quiet or alerted and so empties the memo.
    """

    def __init__(self) -> None:
        self._stamp: tuple[int, int] | None = None
        self._choices: dict[ChoiceKey, Composition | None] = {}

    def choices(self, catalogue: Catalogue) -> dict[ChoiceKey, Composition | None]:
        """The memo's compositions, emptied first if the archive changed since they were chosen."""
        stamp = catalogue.state_stamp()
        if stamp != self._stamp:
            self._stamp, self._choices = stamp, {}
        return self._choices


def scene_composition(
    catalogue: Catalogue,
    ctx: SiteContext,
    sensor: str,
    acquired: datetime,
    orbit: int | None = None,
    memo: ChoiceMemo | None = None,
) -> Composition | None:
    """Which scenes the baseline of a scene acquired at ``acquired`` is made of (see
    :func:`monitor.detect.baseline.choose_composition`), or None while the site has too few. A radar
    scene (``orbit``: its relative orbit, None if unknown) is compared with scenes of its own pass only
    (:func:`monitor.detect.baseline.same_pass`). With ``memo``, a choice already made for the same month
    and pass while the archive has not changed is reused."""
    radar = is_radar(sensor, ())
    key: ChoiceKey = (
        ctx.site_id,
        sensor,
        acquired.year,
        acquired.month,
        (orbit, acquired.timetz()) if radar else None,
    )
    choices = memo.choices(catalogue) if memo is not None else {}
    if key not in choices:
        choices[key] = _composition(catalogue, ctx, sensor, acquired, orbit)
    return choices[key]


def _composition(
    catalogue: Catalogue, ctx: SiteContext, sensor: str, acquired: datetime, orbit: int | None
) -> Composition | None:
    alerted = catalogue.alerted_scenes(ctx.site_id)
    usable = catalogue.usable_scene_times(ctx.site_id, sensor, ctx.config.detect.min_scene_usable)
    warmup = _candidates(usable, alerted)
    config = ctx.config
    quiet_rows = catalogue.quiet_scene_times(
        ctx.site_id, sensor, config.detect.min_scene_usable, acquired, config.alerts.threshold
    )
    quiet = _candidates(quiet_rows, alerted)
    rule = warmup_rule(ctx)
    if is_radar(sensor, ()):
        warmup = [c for c in warmup if same_pass(c, orbit, acquired)]
        quiet = [c for c in quiet if same_pass(c, orbit, acquired)]
        seen_from = f"relative orbit {orbit}" if orbit is not None else f"{acquired:%H:%M} UTC"
        rule += f" of the same pass ({seen_from})"
    return choose_composition(quiet, warmup, acquired, ctx.config.detect.warmup_scenes, rule)


def scene_baseline(
    catalogue: Catalogue,
    ctx: SiteContext,
    sensor: str,
    acquired: datetime,
    cache: dict[tuple[str, int], Baseline] | None = None,
    orbit: int | None = None,
    memo: ChoiceMemo | None = None,
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
    site = ctx.site_id
    for _ in range(3):
        composition = scene_composition(catalogue, ctx, sensor, acquired, orbit, memo)
        if composition is None:
            return None, False
        stored = catalogue.baseline_made_of(site, sensor, composition.scene_ids)
        if stored is not None:
            version = stored.version
            if (sensor, version) not in cache:
                found = _stored_version(catalogue, ctx, stored)
                if found is None:
                    continue
                cache[(sensor, version)] = found
            return cache[(sensor, version)], False
        scenes = _load_scenes(catalogue, site, composition.scene_ids)
        if scenes is None:
            continue  # a crop was lost: it is failed now, choose again
        version = catalogue.next_baseline_version(site, sensor)
        usable = {r.scene_id for r in catalogue.usable_scene_times(site, sensor, ctx.config.detect.min_scene_usable)}
        kept_out = sorted(catalogue.alerted_scenes(site) & usable)
        baseline = _build(catalogue, ctx, sensor, scenes, version, kept_out, composition)
        cache[(sensor, version)] = baseline
        return baseline, True
    return None, False


def stored_choice(
    catalogue: Catalogue,
    ctx: SiteContext,
    sensor: str,
    acquired: datetime,
    orbit: int | None = None,
    memo: ChoiceMemo | None = None,
) -> BaselineVersion | None:
    """The stored baseline version :func:`scene_baseline` would give a scene acquired at ``acquired``
    (of relative orbit ``orbit``) now, without building anything: None if its composition has no stored
    version yet (or there is no composition). The writer checks a speculative score against it before
    committing."""
    composition = scene_composition(catalogue, ctx, sensor, acquired, orbit, memo)
    if composition is None:
        return None
    return catalogue.baseline_made_of(ctx.site_id, sensor, composition.scene_ids)


def stored_baseline(
    catalogue: Catalogue,
    ctx: SiteContext,
    sensor: str,
    acquired: datetime,
    cache: dict[tuple[str, int], Baseline],
    orbit: int | None = None,
    memo: ChoiceMemo | None = None,
) -> Baseline | None:
    """The baseline of :func:`stored_choice`, loaded (or from ``cache``); None if it needs building."""
    choice = stored_choice(catalogue, ctx, sensor, acquired, orbit, memo)
    if choice is None:
        return None
    key = (sensor, choice.version)
    if key not in cache:
        found = _stored_version(catalogue, ctx, choice)
        if found is None:
            return None
        cache[key] = found
    return cache[key]


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
