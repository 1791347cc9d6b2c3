"""Scoring stages added for the detection issue: haze check, zone match, band covariance, hysteresis,
the vehicle direction rule, the bi-temporal statistic, and the injection simulator."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS
from scipy.ndimage import gaussian_filter
from scipy.special import chdtri

from monitor.detect.baseline import Baseline
from monitor.detect.change import bitemporal_change, robust_covariance
from monitor.detect.formations import classify
from monitor.detect.scoring import (
    ZoneScore,
    covariance_statistic,
    grow_significant,
    normalise_zones,
    score_scene,
    zone_box,
)
from monitor.grid import SiteGrid
from monitor.pipeline.diff import ground_pixel_size
from monitor.scene import Scene
from monitor.simulate.formations import Footprint
from monitor.simulate.inject import (
    ASPHALT,
    CONCRETE,
    Atmosphere,
    add_haze,
    date_atmosphere,
    pave,
    pavement_texture,
    render_zone,
)

BANDS = ("B02", "B03", "B04", "B08")


def _ground(shape: tuple[int, int] = (60, 70)) -> np.ndarray:
    rng = np.random.default_rng(0)
    texture = gaussian_filter(rng.normal(size=(4, *shape)), (0, 2.0, 2.0))
    base = np.array([0.12, 0.14, 0.16, 0.25])[:, None, None]
    return (base * (1 + 0.3 * texture / texture.std())).astype(np.float32)


def _baseline(ground: np.ndarray) -> Baseline:
    shape = ground.shape[1:]
    return Baseline(
        "S2",
        BANDS,
        ground,
        np.full_like(ground, 0.004),
        np.full(shape, 10, dtype=np.int16),
        tuple(f"b{i}" for i in range(10)),
    )


def _scene(data: np.ndarray, scl: np.ndarray | None = None) -> Scene:
    """A Sentinel-2 scene of ``data``; with ``scl``, valid where SCL is clear (4-6) and SCL in ``aux``."""
    from monitor.sensors import clear_mask

    return Scene(
        scene_id="S2_20250701T020000",
        sensor="S2",
        acquired=datetime(2025, 7, 1, 2, tzinfo=UTC),
        bands=BANDS,
        data=data.astype(np.float32),
        valid=np.ones(data.shape[1:], dtype=bool) if scl is None else clear_mask(data, scl),
        transform=Affine(10, 0, 500000, 0, -10, 4300000),
        crs=CRS.from_epsg(32652),
        aux={} if scl is None else {"SCL": scl},
    )


def test_a_hazy_scene_is_flagged_not_scored() -> None:
    ground = _ground()
    noisy = ground + np.random.default_rng(1).normal(0, 0.003, ground.shape)
    masks = {"zone": np.ones(ground.shape[1:], dtype=bool)}
    clear = score_scene(_scene(noisy), _baseline(ground), masks)
    assert clear.state == "scored" and clear.haze_offset is not None and abs(clear.haze_offset) < 0.01
    hazy = score_scene(_scene(add_haze(noisy.astype(np.float32), 0.09)), _baseline(ground), masks)
    assert hazy.state == "hazy" and hazy.haze_offset == pytest.approx(0.09, abs=0.01)
    assert hazy.zones[0].crowd_score is None and hazy.zones[0].change_fraction is None


def test_a_wet_zone_is_rescaled_but_a_formation_is_not_absorbed() -> None:
    ground = _ground()
    scale = _baseline(ground).z_scale
    mask = np.zeros(ground.shape[1:], dtype=bool)
    mask[10:50, 10:40] = True
    compared = np.ones_like(mask)
    wet = ground.copy()
    wet[:, mask] *= 0.75  # grey: every band alike
    out = normalise_zones(wet, ground, compared, {"z": mask}, scale)
    assert np.allclose(out[:, mask], ground[:, mask], rtol=1e-4)
    assert np.array_equal(out[:, ~mask], wet[:, ~mask])
    # vehicles over 20 % of the zone brighten only the NIR: the unchanged rest of the zone sets the gain
    parked = ground.copy()
    block = np.zeros_like(mask)
    block[10:18, 10:40] = True
    parked[3, block] += 0.1
    out = normalise_zones(parked, ground, compared, {"z": mask}, scale)
    assert np.allclose(out[3, block], parked[3, block], rtol=1e-4)
    assert np.allclose(out[:, mask & ~block], ground[:, mask & ~block], rtol=1e-4)
    # the same vehicles on a wet day: the gain comes from the wet pavement around them, not from them
    both = parked.copy()
    both[:, mask] *= 0.75
    out = normalise_zones(both, ground, compared, {"z": mask}, scale)
    assert np.allclose(out[:, mask & ~block], ground[:, mask & ~block], rtol=1e-4)
    assert np.all(out[3, block] - ground[3, block] > 0.09)
    # a zone whose every band changed by its own factor (a whole new surface) is matched band by band:
    # more than half a zone is never a formation (MAX_ZONE_SHARE), so nothing of it is left to score
    tinted = ground.copy()
    tinted[0, mask] *= 0.6
    out = normalise_zones(tinted, ground, compared, {"z": mask}, scale)
    assert np.allclose(out[:, mask], ground[:, mask], rtol=1e-4)


def test_covariance_statistic_keeps_the_false_alarm_rate_of_correlated_bands() -> None:
    rng = np.random.default_rng(2)
    corr = np.array([[1.0, 0.9, 0.8, 0.3], [0.9, 1.0, 0.85, 0.3], [0.8, 0.85, 1.0, 0.3], [0.3, 0.3, 0.3, 1.0]])
    z = rng.multivariate_normal(np.zeros(4), 2.0 * corr, size=200 * 200).T.reshape(4, 200, 200)
    stat = covariance_statistic(z.astype(np.float32), np.ones((200, 200), dtype=bool))
    for rate in (1e-2, 1e-3):
        assert np.mean(stat > chdtri(4, rate)) == pytest.approx(rate, rel=0.3)
    # of two changes of the same size, the one against the usual correlation (NIR alone) stands out more
    # than the one along it (every band alike, like residual illumination)
    z[:, :10, :10] = 0.0
    z[3, :10, :10] = 4.0
    z[:, 20:30, 20:30] = 2.0
    stat = covariance_statistic(z.astype(np.float32), np.ones((200, 200), dtype=bool))
    assert np.median(stat[:10, :10]) > 2 * np.median(stat[20:30, 20:30])


def test_robust_covariance_ignores_the_changed_minority() -> None:
    rng = np.random.default_rng(3)
    d = rng.normal(0, 1.0, size=(20000, 3))
    d[:1000] += 8.0  # 5 % changed
    centre, cov = robust_covariance(d)
    assert np.allclose(centre, 0.0, atol=0.05) and np.allclose(np.diag(cov), 1.0, atol=0.1)


def test_hysteresis_grows_sure_pixels_into_their_edges_only() -> None:
    stat = np.zeros((20, 20), dtype=np.float32)
    stat[5, 5] = 50.0
    stat[5, 6] = stat[6, 5] = 15.0  # edge of a block: weak alone
    stat[15, 15] = 15.0  # weak and alone
    sig = grow_significant(stat, np.ones_like(stat, dtype=bool), threshold=23.5, low=13.3)
    assert sig[5, 5] and sig[5, 6] and sig[6, 5] and not sig[15, 15]


def test_zone_box_is_the_masks_bounding_box_with_a_margin() -> None:
    mask = np.zeros((50, 60), dtype=bool)
    mask[10:20, 30:40] = True
    assert zone_box(mask, 3) == (slice(7, 23), slice(27, 43))
    assert zone_box(mask, 100) == (slice(0, 50), slice(0, 60))


def test_brightening_rows_are_not_vehicles() -> None:
    assert classify(1200.0, 80.0, 5.0, 0.5, 0.1, -0.01, 1e5) == "vehicle-row"
    assert classify(1200.0, 80.0, 5.0, 0.5, 0.1, +0.08, 1e5) == "other"  # a new bright roof


def test_bitemporal_change_finds_a_block_and_ignores_a_gain() -> None:
    before = _ground((80, 80))
    after = before * np.array([1.1, 1.08, 1.05, 0.95], dtype=np.float32)[:, None, None]
    after = after + np.random.default_rng(4).normal(0, 0.004, after.shape).astype(np.float32)
    after[:, 40:44, 40:44] = np.array([0.3, 0.3, 0.3, 0.3])[:, None, None]
    change = bitemporal_change(before, after, pixel_size_m=10.0)
    inside = change[40:44, 40:44].min()
    assert inside > np.percentile(change, 99)


def test_ground_pixel_size_of_geographic_and_projected_grids() -> None:
    paris = SiteGrid(
        crs=CRS.from_epsg(4326), transform=Affine(1.1642e-4, 0, 2.3, 0, -1.1635e-4, 48.9), width=390, height=408
    )
    assert ground_pixel_size(paris) == pytest.approx((8.5 + 12.9) / 2, abs=0.3)
    utm = SiteGrid(crs=CRS.from_epsg(32652), transform=Affine(10, 0, 0, 0, -10, 0), width=10, height=10)
    assert ground_pixel_size(utm) == 10.0


def test_pave_keeps_real_clouds_and_carries_the_dates_atmosphere() -> None:
    rng = np.random.default_rng(5)
    reference = _ground((40, 40))
    atmosphere = Atmosphere((1.1, 1.05, 1.0, 0.9), (0.02, 0.015, 0.01, 0.004))
    scene = atmosphere.apply(reference) + rng.normal(0, 0.002, reference.shape).astype(np.float32)
    clear = np.ones((40, 40), dtype=bool)
    found = date_atmosphere(scene, reference, clear)
    assert found.gain == pytest.approx(atmosphere.gain, abs=0.05)
    assert found.offset == pytest.approx(atmosphere.offset, abs=0.01)
    scl = np.full((40, 40), 4, dtype=np.int16)
    scl[:5] = 9  # a real cloud over the zone's first rows
    window = (slice(0, 20), slice(0, 20))
    zone = render_zone(CONCRETE, pavement_texture(rng, (20, 20)), found, rng)
    paved, paved_scl = pave(scene, scl, window, zone)
    assert np.array_equal(paved[:, :5, :20], scene[:, :5, :20]) and (paved_scl[:5, :20] == 9).all()
    assert (paved_scl[5:20, :20] == 5).all()
    assert np.median(paved[2, 5:20, :20]) == pytest.approx(0.25 * 1.0 + 0.01, abs=0.02)


def test_troops_darken_the_paved_zone_where_they_stand() -> None:
    rng = np.random.default_rng(6)
    texture = pavement_texture(rng, (30, 30))
    identity = Atmosphere((1.0,) * 4, (0.0,) * 4)
    block = (Footprint(150.0, 150.0, 20.0, 20.0),)
    empty = render_zone(ASPHALT, texture, identity, np.random.default_rng(7))
    troops = render_zone(ASPHALT, texture, identity, np.random.default_rng(7), [(block, (0.2, 0.2, 0.2, 0.2), 1.0)])
    assert (troops - empty)[:, 14:16, 14:16].mean() > 0.05
    assert np.abs(troops - empty)[:, :8, :8].max() < 1e-6


def test_the_cached_and_sampled_shortcuts_give_the_same_numbers() -> None:
    """The cost shortcuts (per-baseline z scale, samples picked before copying, band-row Mahalanobis)
    must not change a single score: they are checked against the plain formulas."""
    from monitor.detect.baseline import Baseline
    from monitor.detect.change import (
        COVARIANCE_SAMPLES,
        QUANTILE_SAMPLES,
        covariance_sample,
        mahalanobis,
        mahalanobis_columns,
        robust_z,
        sample_index,
        scaled_z,
    )
    from monitor.detect.values import noise_floor

    rng = np.random.default_rng(3)
    median = rng.uniform(0.02, 0.4, (4, 120, 140)).astype(np.float32)
    sigma = rng.uniform(0.0, 0.02, (4, 120, 140)).astype(np.float32)
    base = Baseline("S2", ("B02", "B03", "B04", "B08"), median, sigma, np.full((120, 140), 5, np.int16), ("a",))
    x = (median + rng.normal(0, 0.01, median.shape)).astype(np.float32)
    plain = robust_z(x, median, sigma, noise_floor("S2", base.bands, median))
    assert np.array_equal(scaled_z(x, median, base.z_scale), plain)
    mask = rng.random((120, 140)) < 0.7
    big, layer = rng.random((300, 300)) < 0.7, rng.random((300, 300))
    stride = max(1, int(big.sum()) // QUANTILE_SAMPLES)
    assert stride > 1 and np.array_equal(layer.ravel()[sample_index(big)], layer[big][::stride])
    step = -(-int(mask.sum()) // COVARIANCE_SAMPLES)
    assert np.array_equal(x.reshape(4, -1)[:, covariance_sample(mask)], x[:, mask][:, ::step])
    d = rng.normal(0, 1, (500, 4))
    cov = np.cov(d.T) + 0.3
    assert np.allclose(mahalanobis_columns(d.T, d.mean(axis=0), cov), mahalanobis(d, d.mean(axis=0), cov), rtol=1e-12)
    # a whole site's z at once, in float32, chunk by chunk: the values of the plain float64 product
    from monitor.detect.change import MAHALANOBIS_CHUNK, covariance_rows

    z = rng.normal(0, 1.5, (4, 3 * MAHALANOBIS_CHUNK + 17)).astype(np.float32)
    centre = np.array([0.1, -0.2, 0.0, 0.3])
    inv_t = np.linalg.inv(cov + np.eye(4) * (1e-9 * float(np.trace(cov)))).T
    x64 = z.astype(np.float64) - centre[:, None]
    assert np.array_equal(mahalanobis_columns(z, centre, cov), np.sum((inv_t @ x64) * x64, axis=0))
    for n in (2, 7, 1276, 10_000):
        rows = rng.normal(0, 1, (4, n)) * rng.uniform(0.1, 5, (4, 1))
        assert np.array_equal(covariance_rows(rows.copy()), np.cov(rows))


def test_dark_area_and_unclassified_pixels_are_compared_but_not_counted_usable() -> None:
    """Sen2Cor calls pavement darkened by troops "dark area" (SCL 2) and leaves scattered pixels
    "unclassified" (7): neither is a cloud, both are compared, neither counts as clear."""
    from monitor.simulate.formations import TROOP_FILL, UNIFORM_REFLECTANCE, cover_fraction, troop_lattice

    shape = (40, 40)
    texture = pavement_texture(np.random.default_rng(8), shape)
    identity = Atmosphere((1.0,) * 4, (0.0,) * 4)
    empty = render_zone(CONCRETE, texture, identity, np.random.default_rng(9))
    lattice = troop_lattice(np.random.default_rng(10), (400.0, 400.0), 8)
    troops = render_zone(
        CONCRETE, texture, identity, np.random.default_rng(11), [(lattice, UNIFORM_REFLECTANCE, TROOP_FILL)]
    )
    scl = np.full(shape, 5.0, dtype=np.float32)
    scl[cover_fraction(lattice, shape) > 0.3] = 2
    scl[::6, ::6] = 7
    masks = {"square": np.ones(shape, dtype=bool)}

    def scored(layer: np.ndarray) -> tuple[float, float | None]:
        zone = score_scene(_scene(troops, layer), _baseline(empty), masks).zones[0]
        return zone.usable_fraction, zone.crowd_score

    usable, crowd = scored(scl)
    assert usable == pytest.approx(float(np.isin(scl, (4, 5, 6)).mean()))
    assert crowd is not None and crowd > 0.9
    # the same pixels flagged defective (SCL 1) are not compared, and the lattice is lost with them
    _, hidden = scored(np.where(scl == 2, 1.0, scl).astype(np.float32))
    assert hidden is not None and hidden < 0.5


def test_a_mostly_hidden_zone_scores_what_it_finds_and_is_empty_otherwise() -> None:
    """A zone seen in less than half gets no score rather than a low one, unless it found a formation."""
    from monitor.detect.scoring import MIN_VIEW_FOR_ABSENCE, reported
    from monitor.simulate.formations import TROOP_FILL, UNIFORM_REFLECTANCE, troop_lattice

    assert reported(0.1, 0.9) == 0.1 and reported(0.1, 0.3) is None and reported(0.8, 0.3) == 0.8
    assert reported(None, 0.9) is None and reported(0.2, None) == 0.2
    shape = (60, 40)
    texture = pavement_texture(np.random.default_rng(8), shape)
    identity = Atmosphere((1.0,) * 4, (0.0,) * 4)
    empty = render_zone(CONCRETE, texture, identity, np.random.default_rng(9))
    lattice = troop_lattice(np.random.default_rng(10), (200.0, 400.0), 8)  # in the northern 200 m
    troops = render_zone(
        CONCRETE, texture, identity, np.random.default_rng(11), [(lattice, UNIFORM_REFLECTANCE, TROOP_FILL)]
    )
    quiet = render_zone(CONCRETE, texture, identity, np.random.default_rng(12))
    scl = np.full(shape, 5.0, dtype=np.float32)
    scl[30:, :] = 9  # a cloud over the southern 300 m; with its 30 m margin, 55 % of the zone unseen
    masks = {"square": np.ones(shape, dtype=bool)}

    def zone(data: np.ndarray) -> ZoneScore:
        return score_scene(_scene(data, scl), _baseline(empty), masks).zones[0]

    found, nothing = zone(troops), zone(quiet)
    assert found.compared_fraction is not None and found.compared_fraction < MIN_VIEW_FOR_ABSENCE
    assert found.crowd_score is not None and found.crowd_score > 0.9
    assert nothing.change_fraction is not None
    assert nothing.crowd_score is None and nothing.vehicle_score is None


def test_zone_gains_ignore_pixels_without_a_ratio_and_the_cut_follows_a_lower_alert_threshold() -> None:
    from monitor.detect.scoring import reported, zone_gains

    ground = _ground()
    mask = np.ones(ground.shape[1:], dtype=bool)
    reference = ground.copy()
    reference[3, :, : 2 * ground.shape[2] // 3] = -0.01  # water below 0 in the NIR over two thirds
    scene = ground / np.float32(1.25)
    gains = zone_gains(scene, reference, mask, mask, _baseline(ground).z_scale)
    assert gains is not None and np.allclose(gains, 1.25, rtol=1e-3)
    assert reported(0.45, 0.4) is None and reported(0.45, 0.4, evidence=0.3) == 0.45
    assert reported(0.45, 0.4, evidence=0.9) is None  # a higher threshold never hides more than 0.5


def test_a_tent_camp_renders_its_area_and_shows_on_pavement() -> None:
    """Tents: rows of 8-11 x 4.5-6 m canvas. On concrete the camp is found as a grid of dark blocks; at 10 m
    it reads as a troop lattice (docs/detection.md, section 8: a known confounder)."""
    from monitor.simulate.formations import TENT_REFLECTANCE, cover_fraction, tent_camp

    tents = tent_camp(np.random.default_rng(21), (300.0, 300.0), 60)
    assert len(tents) == 60
    assert all(8.0 <= t.length <= 11.0 and 4.5 <= t.width <= 6.0 for t in tents)
    assert cover_fraction(tents, (30, 30)).sum() * 100.0 == pytest.approx(sum(t.area for t in tents), rel=0.01)
    with pytest.raises(ValueError, match="do not fit"):
        tent_camp(np.random.default_rng(21), (60.0, 60.0), 60)
    shape = (30, 30)
    texture = pavement_texture(np.random.default_rng(8), shape)
    identity = Atmosphere((1.0,) * 4, (0.0,) * 4)
    empty = render_zone(CONCRETE, texture, identity, np.random.default_rng(9))
    camp = render_zone(CONCRETE, texture, identity, np.random.default_rng(11), [(tents, TENT_REFLECTANCE, 1.0)])
    zone = score_scene(_scene(camp), _baseline(empty), {"square": np.ones(shape, dtype=bool)}).zones[0]
    assert zone.change_fraction is not None and zone.change_fraction > 0.03
    near = [d for d in zone.detections if any(math.hypot(d.col * 10 - t.x, d.row * 10 - t.y) < 15 for t in tents)]
    assert len(near) >= 5
