"""The physics pieces of the held-out injector (benchmarks/holdout): PSF, shadows, radar units, occupancy."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from benchmarks.holdout import background, physics, spectra
from benchmarks.holdout.formations import TRUCK, vehicle_park
from benchmarks.holdout.layout import ZONES


def test_psf_kernel_sums_to_one_and_aggregation_conserves_energy() -> None:
    assert physics.gaussian_psf(0.45 * 20).sum() == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    fine = np.zeros((2, 200, 200))
    # objects well inside the canvas: the blur moves nothing across the edge
    fine[:, 60:140, 60:140] = rng.uniform(0, 1, (2, 80, 80))
    coarse = physics.aggregate(fine, 20, 0.45, shift_coarse_px=(0.3, -0.4))
    assert coarse.shape == (2, 10, 10)
    # total signal per band (mean x area) is conserved
    np.testing.assert_allclose(coarse.sum(axis=(1, 2)) * 400, fine.sum(axis=(1, 2)), rtol=1e-3)
    # a uniform field stays uniform
    flat = physics.aggregate(np.full((1, 100, 100), 0.2), 10, 0.45, (0.5, 0.5))
    np.testing.assert_allclose(flat, 0.2)


def test_psf_spreads_a_point_like_a_gaussian_of_the_given_sigma() -> None:
    fine = np.zeros((400, 400))
    fine[200, 200] = 1.0
    blurred = physics.aggregate(fine[None], 1, 20.0)[0]
    ys = np.arange(400)
    profile = blurred.sum(axis=1)
    mean = (profile * ys).sum() / profile.sum()
    sigma = math.sqrt((profile * (ys - mean) ** 2).sum() / profile.sum())
    assert sigma == pytest.approx(20.0, rel=0.02)


@pytest.mark.parametrize("elevation", [15.0, 30.0, 60.0])
def test_shadow_length_is_height_over_tan_elevation(elevation: float) -> None:
    height_m = 3.0
    assert physics.shadow_length_m(height_m, elevation) == pytest.approx(height_m / math.tan(math.radians(elevation)))
    # the raster shadow of a 1 m wide, 3 m tall column, sun due south: it falls north, that long
    px = 0.25
    h = np.zeros((400, 40))
    h[300:304, 18:22] = height_m
    mask = physics.cast_shadows(h, px, physics.Sun(elevation, 180.0))
    rows = np.nonzero(mask[:, 20])[0]
    assert rows.max() == 299  # adjacent to the column, on its north side
    assert (rows.max() - rows.min() + 1) * px == pytest.approx(physics.shadow_length_m(height_m, elevation), abs=2 * px)
    assert not mask[304:, :].any()  # nothing on the sun's side


def test_shadow_direction_follows_the_sun_azimuth() -> None:
    h = np.zeros((81, 81))
    h[40, 40] = 5.0
    morning = physics.cast_shadows(h, 1.0, physics.Sun(45.0, 90.0))  # sun in the east: shadow to the west
    assert morning[40, 35:40].all() and not morning[40, 41:].any() and not morning[40, :34].any()  # 5 m long
    dr, dc = physics.anti_sun_unit(135.0)  # sun south-east: shadow to the north-west (row up, col left)
    assert dr < 0 and dc < 0


def test_sun_position_at_the_patch_matches_the_season() -> None:
    lon, lat = 3.02, 50.82
    summer = physics.sun_position(datetime(2018, 6, 21, 10, 55, tzinfo=UTC), lat, lon)
    winter = physics.sun_position(datetime(2017, 12, 21, 10, 55, tzinfo=UTC), lat, lon)
    # solar noon elevation is 90 - lat + declination; at 10:55 UTC (about 11:07 solar time) a little lower
    assert 58 < summer.elevation_deg < 62.7
    assert 13 < winter.elevation_deg < 15.8
    assert 150 < summer.azimuth_deg < 180 and 160 < winter.azimuth_deg < 180


def test_db_conversions_round_trip() -> None:
    assert physics.db_to_linear(10.0) == pytest.approx(10.0)
    assert physics.db_to_linear(-3.0) == pytest.approx(0.501, abs=1e-3)
    x = np.array([1e-4, 0.02, 1.0, 3.0])
    np.testing.assert_allclose(physics.db_to_linear(physics.linear_to_db(x)), x)
    with pytest.raises(ValueError):
        physics.linear_to_db(0.0)


def test_speckle_has_unit_mean_and_the_looks_it_was_given() -> None:
    rng = np.random.default_rng(1)
    s = physics.speckle((200, 200), 18.0, rng)
    assert s.mean() == pytest.approx(1.0, abs=0.01)
    assert 1.0 / s.var() == pytest.approx(18.0, rel=0.05)
    assert physics.equivalent_looks(5.0 * s) == pytest.approx(18.0, rel=0.25)


def test_occupancy_is_exact_and_parks_fill_the_share_asked() -> None:
    rng = np.random.default_rng(2)
    slots = physics.fill_slots(40, 0.75, rng)
    assert physics.occupancy(slots) == pytest.approx(0.75)
    boxes, n, k = vehicle_park(
        (0.0, 0.0, 60.0, 60.0), rng, {TRUCK: 1.0}, 0.5, gap_range=(2.0, 2.0), aisle_range=(6.0, 6.0)
    )
    assert k == round(0.5 * n) and len(boxes) == k
    # rows of 8 m trucks and 6 m aisles: 4 rows in 60 m; 4.5 m pitch: 13 per row
    assert n == 4 * 13
    with pytest.raises(ValueError):
        physics.fill_slots(10, 1.5, rng)


def test_olive_paint_is_nir_bright_and_wet_surfaces_darker() -> None:
    olive = spectra.OLIVE_PAINT.array()
    asphalt = spectra.ASPHALT_AGED.array()
    assert olive[3] > 3 * olive[2] and olive[3] > 2 * asphalt[3] and olive[:3].max() < asphalt[:3].max()
    assert (spectra.WET_FACTOR < 1).all()
    path, trans = spectra.haze_path(0.5)
    assert path[0] > path[3] and (trans < 1).all()


def test_zones_do_not_overlap_and_measure_60_to_400_m() -> None:
    cover = np.zeros((64, 64), dtype=int)
    for z in ZONES:
        cover += z.mask()
        b = z.bounds
        # the longest side 60-400 m; the road strip is the narrowest at 50 m
        assert 60 <= 10 * max(b.r1 - b.r0, b.c1 - b.c0) <= 400 and 10 * min(b.r1 - b.r0, b.c1 - b.c0) >= 50
    assert cover.max() == 1


def test_carrying_the_atmosphere_keeps_clouds_and_shows_new_ground_when_clear() -> None:
    ground = np.full((4, 8, 8), 0.05)
    real = ground.copy()
    scl = np.full((8, 8), 4)
    real[:, :, :4] = 0.6  # an opaque cloud over the left half
    scl[:, :4] = 9
    cover = np.ones((8, 8))
    paint = np.full((4, 8, 8), 0.25)
    out = background.carry_atmosphere(real, ground, paint, cover, scl, np.zeros((8, 8)))
    np.testing.assert_allclose(out[:, :, :3], 0.6)  # under the opaque cloud: the real cloud
    np.testing.assert_allclose(out[:, :, 6:], 0.25)  # clear: the painted ground
    # where nothing is painted the real pixel comes back, whatever the atmosphere
    nothing = background.carry_atmosphere(real, ground, 0 * paint, 0 * cover, scl, np.zeros((8, 8)))
    np.testing.assert_allclose(nothing, real)


def test_troop_blocks_stand_half_a_metre_apart_inside_their_region() -> None:
    from benchmarks.holdout.formations import PERSON_M, troop_blocks

    rng = np.random.default_rng(3)
    region = (10.0, 20.0, 90.0, 150.0)
    people = troop_blocks(region, rng, spectra.UNIFORM_DARK, 6)
    assert people
    rows = sorted({p.r for p in people})
    cols = sorted({round(p.c, 6) for p in people})
    assert min(np.diff(cols)) == pytest.approx(PERSON_M + 0.5)  # shoulder to shoulder, 0.5 m gaps
    assert min(np.diff(rows)) == pytest.approx(1.1)
    assert all(region[0] <= p.r and p.r + p.size_r <= region[2] for p in people)
    assert all(region[1] <= p.c and p.c + p.size_c <= region[3] for p in people)


def test_a_cloud_shadow_darkens_a_zone_evenly_whatever_each_pixels_clear_history() -> None:
    rng = np.random.default_rng(4)
    ground = np.full((4, 24, 24), 0.1)
    real = ground * 0.4  # a cloud shadow over everything
    scl = np.full((24, 24), 2)
    scl[0, 0] = 9  # its cloud, in a corner
    gap = np.where(rng.random((24, 24)) < 0.4, 90.0, 5.0)  # 40 % of the pixels had no recent clear date
    out = background.carry_atmosphere(real, ground, np.full((4, 24, 24), 0.25), np.ones((24, 24)), scl, gap)
    inner = out[:, 4:20, 4:20]
    np.testing.assert_allclose(inner, 0.25 * 0.4, rtol=1e-6)
