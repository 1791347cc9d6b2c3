"""The physics injector's physics (benchmarks/physics), on synthetic arrays: no shared data, no monitor run."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from benchmarks.physics import atmosphere, metrics, radar, render
from benchmarks.physics import materials as mat
from benchmarks.physics.sun import Sun, sun_at

HIGH_SUN = Sun(azimuth_deg=170.0, elevation_deg=55.0)
LOW_SUN = Sun(azimuth_deg=160.0, elevation_deg=15.0)


def _asphalt_canvas(n: int = 200) -> tuple[np.ndarray, render.Layers]:
    ground = np.broadcast_to(mat.ASPHALT[:, None, None], (4, n, n)).astype(np.float32).copy()
    return ground, render.Layers.empty(n, n)


def _park_and_bare(coaches: bool, sun: Sun) -> tuple[np.ndarray, np.ndarray]:
    """10 m reflectance of a dense park on asphalt, and of the bare asphalt, over the park's middle."""
    rng = np.random.default_rng(3)
    park = render.vehicle_park(rng, 1.0)
    if coaches:  # every vehicle a coach
        for v in park.vehicles:
            sl = (
                slice(round(v.row - v.length_m / 2), round(v.row + v.length_m / 2)),
                slice(round(v.col - v.width_m / 2), round(v.col + v.width_m / 2)),
            )
            park.top[(slice(None), *sl)] = mat.COACH_ROOF[:, None, None]
    ground, lay = _asphalt_canvas()
    render.paste(lay, park, (100.0, 100.0), 0.0)
    with_park = render.to_10m(render.compose(ground, lay, sun), (0.0, 0.0))
    bare = render.to_10m(render.compose(ground, render.Layers.empty(200, 200), sun), (0.0, 0.0))
    return with_park[:, 8:12, 8:12].mean(axis=(1, 2)), bare[:, 8:12, 8:12].mean(axis=(1, 2))


def test_dense_olive_park_raises_nir_and_lowers_red() -> None:
    park, bare = _park_and_bare(coaches=False, sun=HIGH_SUN)
    # vehicles cover about a third of a dense park (2.5-3 m wide, 2-3 m gaps, aisles): +0.26 x 1/3 in B08
    assert park[3] > bare[3] + 0.05, "olive paint is NIR-bright: a dense park lifts B08 strongly"
    assert park[2] < bare[2], "olive paint and shadows are darker than asphalt in the red"
    assert park[0] < bare[0]


def test_coach_roofs_brighten_every_band() -> None:
    park, bare = _park_and_bare(coaches=True, sun=HIGH_SUN)
    assert np.all(park > bare + 0.05)


def test_shadows_fall_on_the_anti_sun_side_with_the_right_length() -> None:
    n = 80
    solid = np.zeros((n, n), np.float32)
    solid[38:42, 38:42] = 3.0
    for azimuth in (90.0, 160.0, 225.0):
        sun = Sun(azimuth_deg=azimuth, elevation_deg=20.0)
        ground, _ = render.shadows(solid, np.zeros_like(solid), sun)
        ground[38:42, 38:42] = 0
        rr, cc = np.nonzero(ground > 0)
        centroid = np.array([rr.mean() - 39.5, cc.mean() - 39.5])
        sunward = np.array(sun.sunward_rc())
        assert centroid @ sunward < -2.0, f"shadow must point away from the sun (azimuth {azimuth})"
        reach = np.hypot(rr - 39.5, cc - 39.5).max()
        assert reach == pytest.approx(sun.shadow_length(3.0) + 2.0, abs=3.0)


def test_low_sun_casts_longer_shadows_that_darken_the_park() -> None:
    high, _ = _park_and_bare(coaches=False, sun=HIGH_SUN)
    low, _ = _park_and_bare(coaches=False, sun=LOW_SUN)
    assert low[2] < high[2]


def test_sun_position_at_the_flanders_patch() -> None:
    noon = sun_at(datetime(2018, 6, 21, 11, 50, tzinfo=UTC), 3.024, 50.816)
    assert noon.elevation_deg == pytest.approx(90 - 50.816 + 23.44, abs=0.5)
    assert noon.azimuth_deg == pytest.approx(180.0, abs=3.0)
    winter = sun_at(datetime(2017, 12, 20, 10, 55, tzinfo=UTC), 3.024, 50.816)
    assert 13.0 < winter.elevation_deg < 16.5 and 160.0 < winter.azimuth_deg < 180.0


def test_psf_keeps_the_mean_and_shifts_by_subpixels() -> None:
    img = np.zeros((100, 100))
    img[40:60, 40:60] = 1.0
    still = render.to_10m(img, (0.0, 0.0))
    moved = render.to_10m(img, (0.0, 7.0))
    assert still.sum() == pytest.approx(moved.sum(), rel=1e-6) == pytest.approx(4.0, rel=1e-6)
    cols = np.arange(10) + 0.5
    shift_px = (moved.sum(axis=0) @ cols - still.sum(axis=0) @ cols) / 4.0
    assert shift_px == pytest.approx(0.7, abs=0.02)


def test_dense_metal_park_lifts_asphalt_by_6_to_10_db_in_vv_and_less_when_sparse() -> None:
    rng = np.random.default_rng(0)
    pixel = 20.0

    def mean_gain(occupancy: float) -> float:
        # a 100 x 100 m patch of park at the dense pitch (5.5 m across, 10.5 m along per vehicle)
        pts = [
            (r / pixel, c / pixel, False)
            for r in np.arange(2.0, 100.0, 10.5)
            for c in np.arange(1.5, 100.0, 5.5)
            if rng.random() < occupancy
        ]
        cover = np.ones((5, 5))
        vc = np.full((5, 5), len(pts) * 7.5 * 2.5 / 100.0**2)
        gains = []
        for _ in range(40):
            out = radar.inject(np.zeros((2, 5, 5)), cover, np.broadcast_to(radar.ASPHALT_DB[:, None, None], (2, 5, 5)),
                               vc, pts, pixel, 0.0, 12.0, rng)  # fmt: skip
            gains.append(10 * np.log10(out[0, 1:4, 1:4].mean() / 10 ** (radar.ASPHALT_DB[0] / 10)))
        return float(np.mean(gains))

    dense = mean_gain(0.95)
    assert 6.0 <= dense <= 10.0
    assert mean_gain(0.4) < dense - 2.0


def test_speckle_has_the_number_of_looks_it_was_asked_for_and_estimate_recovers_it() -> None:
    rng = np.random.default_rng(1)
    looks = 9.0
    s = radar.speckle(rng, (60, 32, 32), looks)
    assert s.mean() == pytest.approx(1.0, abs=0.01)
    assert s.mean() ** 2 / s.var() == pytest.approx(looks, rel=0.05)
    sigma0 = 10 ** (rng.normal(-12, 3, size=(32, 32)) / 10)
    series = sigma0[None] * s
    orbit = np.arange(60) % 2
    assert radar.estimate_looks(series, orbit) == pytest.approx(looks, rel=0.15)


def _flat(values: np.ndarray | list[float], n: int = 9) -> np.ndarray:
    return np.broadcast_to(np.asarray(values, float)[:, None, None], (4, n, n)).copy()


def test_real_cloud_veil_and_shadow_act_on_the_pavement_as_on_the_field() -> None:
    field = _flat([0.04, 0.07, 0.05, 0.40])
    pave = _flat(mat.CONCRETE)
    cloud = np.array([0.45, 0.44, 0.43, 0.46])
    a = 0.4
    veiled = (1 - a) * field + a * cloud[:, None, None]
    scl = np.full((9, 9), 9, np.uint8)
    tr = atmosphere.transfer(veiled, field, scl, cloud, field, field)
    out = tr.apply(veiled, pave, np.ones((9, 9)))
    np.testing.assert_allclose(out, (1 - a) * pave + a * cloud[:, None, None], atol=1e-9)

    grown = field.copy()
    grown[3] += 0.05  # the crop grew since its last clear date: under a thin veil that is not the veil
    thin = 0.1
    veiled = (1 - thin) * grown + thin * cloud[:, None, None]
    tr = atmosphere.transfer(veiled, field, np.full((9, 9), 10, np.uint8), cloud, field, field)
    out = tr.apply(veiled, pave, np.ones((9, 9)))
    clean = (1 - thin) * pave + thin * cloud[:, None, None]
    assert abs(out[3] - clean[3]).max() < 0.1 * 0.05, "the field's NIR growth must not show on the pavement"

    f = np.array([0.35, 0.3, 0.25, 0.2])
    shaded = field * f[:, None, None]
    tr = atmosphere.transfer(shaded, field, np.full((9, 9), 3, np.uint8), cloud, field, field)
    np.testing.assert_allclose(tr.apply(shaded, pave, np.ones((9, 9))), pave * f[:, None, None], atol=1e-9)

    clear = field * 1.1  # a field that greened up since: ground change, not atmosphere
    tr = atmosphere.transfer(clear, field, np.full((9, 9), 4, np.uint8), cloud, field, field)
    np.testing.assert_allclose(tr.apply(clear, pave, np.ones((9, 9))), pave, atol=1e-9)


def test_unmasked_shadow_is_found_but_a_ploughed_field_is_not() -> None:
    before = _flat([0.05, 0.08, 0.07, 0.35], 15)
    dark = before.copy()
    dark[:, 4:11, 4:11] *= 0.5  # a local patch at half brightness in every band
    scl = np.full((15, 15), 4, np.uint8)
    cloud = atmosphere.DEFAULT_CLOUD
    passing = atmosphere.transfer(dark, before, scl, cloud, before, before)
    assert (passing.case[5:10, 5:10] == 2).all(), "darker than the clear dates before and after: a cloud shadow"
    assert (passing.case[:3] == 0).all()
    ploughed = atmosphere.transfer(dark, before, scl, cloud, before, dark)
    assert (ploughed.case == 0).all(), "still dark on the next clear date: the ground changed"
    everywhere = atmosphere.transfer(before * 0.7, before, scl, cloud, before, before)
    assert (everywhere.case == 0).all(), "a whole scene darker (low winter sun on furrows) is not a shadow"


def test_clear_reference_interpolates_between_the_neighbouring_clear_dates() -> None:
    days = np.array([0.0, 10.0, 20.0, 30.0])
    refl = np.zeros((4, 4, 2, 2))
    refl[:, :] = np.array([0.02, 0.5, 0.06, 0.04])[:, None, None, None]
    scl = np.array([4, 9, 4, 4])[:, None, None] * np.ones((1, 2, 2), np.uint8)
    sky = atmosphere.clear_reference(refl, scl, days)
    assert sky.ref[1, 0, 0, 0] == pytest.approx(0.04)  # halfway between 0.02 and 0.06
    assert sky.ref[2, 0, 0, 0] == pytest.approx(0.02 + (0.04 - 0.02) * 20 / 30)  # leave-one-out
    assert sky.before[1, 0, 0, 0] == pytest.approx(0.02) and sky.after[1, 0, 0, 0] == pytest.approx(0.06)


def test_roc_auc() -> None:
    assert metrics.roc_auc(np.array([0.9, 0.8]), np.array([0.1, 0.2, 0.3])) == 1.0
    assert metrics.roc_auc(np.array([0.5]), np.array([0.5])) == 0.5
    assert metrics.roc_auc(np.array([0.1]), np.array([0.9])) == 0.0
