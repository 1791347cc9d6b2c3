"""Which scenes a baseline is made of: seasonal, recent quiet, or warm-up; versioned and reused."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

from monitor.archive.catalogue import iso
from monitor.config import load_config
from monitor.detect.baseline import Candidate, choose_composition, seasonal_scenes
from monitor.pipeline.run import run


def _every(start: datetime, days: int, count: int, prefix: str) -> list[Candidate]:
    return [Candidate(f"{prefix}{i}", start + timedelta(days=days * i)) for i in range(count)]


def test_seasonal_when_earlier_years_hold_enough_scenes() -> None:
    when = datetime(2026, 6, 20, 2, 0, tzinfo=UTC)
    last_year = _every(datetime(2025, 4, 1, tzinfo=UTC), 5, 36, "a")  # April .. September 2025
    this_spring = _every(datetime(2026, 4, 1, tzinfo=UTC), 5, 12, "b")
    chosen = choose_composition([*last_year, *this_spring], [], when, 10, "warm-up")
    assert chosen is not None and chosen.kind == "seasonal"
    dates = {c.scene_id: c.acquired for c in last_year}
    assert all(sid in dates for sid in chosen.scene_ids)  # nothing of this year's spring
    centre = datetime(2025, 6, 15, tzinfo=UTC)
    assert all(abs(dates[sid] - centre) <= timedelta(days=45) for sid in chosen.scene_ids)
    assert len(chosen.scene_ids) == 19  # +-45 days (both ends) every 5 days, fewer than the cap of 2 x 10


def test_recent_quiet_scenes_when_history_is_short() -> None:
    when = datetime(2026, 6, 20, tzinfo=UTC)
    quiet = _every(datetime(2026, 3, 1, tzinfo=UTC), 5, 30, "q")  # March .. mid-July
    chosen = choose_composition(quiet, quiet, when, 10, "warm-up")
    assert chosen is not None and chosen.kind == "recent"
    before = [c for c in quiet if c.acquired < datetime(2026, 6, 1, tzinfo=UTC)]
    assert chosen.scene_ids == tuple(c.scene_id for c in before[-10:])  # the month's own scenes stay out


def test_every_scene_of_a_month_gets_the_same_scenes() -> None:
    quiet = _every(datetime(2025, 1, 1, tzinfo=UTC), 5, 80, "q")
    firsts = {choose_composition(quiet, quiet, datetime(2025, 9, d, tzinfo=UTC), 10, "w") for d in (1, 14, 30)}
    assert len(firsts) == 1
    october = choose_composition(quiet, quiet, datetime(2025, 10, 2, tzinfo=UTC), 10, "w")
    assert october not in firsts


def test_warm_up_then_nothing() -> None:
    first = _every(datetime(2025, 5, 1, tzinfo=UTC), 5, 12, "w")
    chosen = choose_composition([], first, datetime(2025, 5, 3, tzinfo=UTC), 10, "first 10")
    assert chosen is not None and chosen.kind == "warm-up" and chosen.rule == "first 10"
    assert chosen.scene_ids == tuple(c.scene_id for c in first[:10])
    assert choose_composition([], first[:9], datetime(2025, 5, 3, tzinfo=UTC), 10, "first 10") is None


def test_a_season_across_new_year() -> None:
    when = datetime(2026, 1, 10, tzinfo=UTC)
    december_two_years = Candidate("d", datetime(2024, 12, 5, tzinfo=UTC))  # 41 days before 15 Jan 2025
    last_december = Candidate("e", datetime(2025, 12, 20, tzinfo=UTC))  # this winter: not an earlier year
    march = Candidate("m", datetime(2025, 3, 5, tzinfo=UTC))  # 49 days after 15 Jan 2025
    chosen = seasonal_scenes([december_two_years, last_december, march], when)
    assert [c.scene_id for c in chosen] == ["d"]


def test_alerted_scenes_stay_out_and_each_month_has_one_version(synthetic_site) -> None:  # type: ignore[no-untyped-def]
    # warm-up 6; scenes every 5 days from 1 May 2025: 12 quiet ones (to 25 June), then formations
    config = synthetic_site(quiet=12, formations=("crowd", "crowd", "none", "none"))
    first = run(load_config(config))
    assert first.errors == [] and first.baselines_built == 3  # warm-up (May), recent (June), recent (July)
    db = sqlite3.connect(config.parent / "data" / "catalogue.sqlite")
    versions = {sid: v for sid, v in db.execute("SELECT scene_id, baseline_version FROM scores WHERE zone = 'square'")}
    by_month: dict[str, set[int]] = {}
    for sid, v in versions.items():
        by_month.setdefault(sid[3:9], set()).add(v)
    assert by_month == {"202505": {1}, "202506": {2}, "202507": {3}}
    baselines = {
        v: (json.loads(ids), json.loads(comp))
        for v, ids, comp in db.execute("SELECT version, scene_ids, composition FROM baselines")
    }
    assert baselines[1][1]["kind"] == "warm-up" and baselines[2][1]["kind"] == "recent"
    crowd_dates = sorted(versions)[12:14]  # 30 June and 5 July: the lattice
    july_ids = baselines[3][0]
    assert crowd_dates[0] not in july_ids  # the 30 June lattice (an alert) is before July but not quiet
    assert july_ids == sorted(versions)[6:12]  # the six most recent quiet scenes before 1 July
    crowd = dict(db.execute("SELECT scene_id, crowd_score FROM scores WHERE zone = 'square'"))
    assert crowd[crowd_dates[1]] > 0.5  # the second lattice date still stands out against July's baseline
    db.close()
    again = run(load_config(config))
    assert again.baselines_built == 0 and again.scored_scenes == 0


def test_radar_scenes_of_one_pass_only() -> None:
    from monitor.detect.baseline import same_pass

    t = datetime(2025, 5, 1, 17, 32, 10, tzinfo=UTC)
    assert same_pass(Candidate("a", t - timedelta(days=12), 37), 37, t)
    assert not same_pass(Candidate("b", t - timedelta(days=12), 110), 37, t)
    # without an orbit: the pass's time of day (a relative orbit crosses a place within seconds of it)
    assert same_pass(Candidate("c", t.replace(minute=33) - timedelta(days=6)), None, t)
    assert not same_pass(Candidate("d", t.replace(minute=40) - timedelta(days=5)), None, t)
    assert same_pass(Candidate("e", t.replace(hour=0, minute=1)), None, t.replace(hour=23, minute=59))


def test_a_radar_baseline_is_made_of_its_own_relative_orbit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from monitor.archive.catalogue import Catalogue
    from monitor.archive.records import SceneRecord, SceneStatus
    from monitor.grid import site_grid
    from monitor.pipeline.baselines import scene_composition
    from monitor.pipeline.context import SiteContext
    from tests.conftest import write_config

    (tmp_path / "imagery").mkdir()
    config = load_config(write_config(tmp_path))
    site = config.sites[0]
    ctx = SiteContext.build(config, site, site_grid(site))
    t0 = datetime(2025, 1, 3, 17, 32, tzinfo=UTC)
    with Catalogue(config.data_dir) as catalogue, catalogue.transaction():
        for i in range(30):  # two ascending orbits, 6 days apart each, the second 8 minutes later
            orbit, late = (37, 0) if i % 2 == 0 else (110, 8)
            when = t0 + timedelta(days=6 * i, minutes=late)
            scene_id = f"S1A_{when:%Y%m%d}_R{orbit:03d}"
            catalogue.upsert_scene(
                SceneRecord(site.id, scene_id, "s", iso(when), "S1", SceneStatus.OK, usable_fraction=1.0, orbit=orbit)
            )
    with Catalogue(config.data_dir) as catalogue:
        when = t0 + timedelta(days=200)
        chosen = scene_composition(catalogue, ctx, "S1", when, 37)
        assert chosen is not None and len(chosen.scene_ids) == config.detect.warmup_scenes
        assert all(sid.endswith("R037") for sid in chosen.scene_ids) and "relative orbit 37" in chosen.rule
        other = scene_composition(catalogue, ctx, "S1", when + timedelta(minutes=8), 110)
        assert other is not None and all(sid.endswith("R110") for sid in other.scene_ids)
