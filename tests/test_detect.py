"""Detection stages on synthetic rasters: baseline statistics, calibrated change, formations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from monitor.detect.baseline import MAD_TO_SIGMA, normalised_stats, robust_stats
from monitor.detect.change import (
    bitemporal_change,
    change_statistic,
    chi2_threshold,
    normalise_gain,
    normalise_linear,
    robust_z,
)
from monitor.detect.formations import (
    Detection,
    PixelContext,
    block_equivalent_m2,
    block_equivalents,
    crowd_score,
    find_parks,
    find_regions,
    lattice_regularity,
    split_blobs,
    vehicle_score,
)
from monitor.detect.validity import cloud_margin


def test_robust_stats_ignore_invalid_and_outliers() -> None:
    rng = np.random.default_rng(0)
    stack = rng.normal(0.2, 0.01, (15, 2, 20, 20)).astype(np.float32)
    stack[3] = 5.0  # a wild outlier date
    valid = np.ones((15, 20, 20), bool)
    valid[:, 0, 0] = False  # never observed
    median, sigma, count = robust_stats(stack, valid)
    assert np.isnan(median[:, 0, 0]).all() and count[0, 0] == 0
    assert count[5, 5] == 15
    assert abs(float(np.nanmedian(median)) - 0.2) < 0.002
    assert 0.007 < float(np.nanmedian(sigma)) < 0.014  # ~0.01, robust to the outlier date
    assert pytest.approx(1.4826) == MAD_TO_SIGMA


def test_normalised_stats_remove_illumination_from_the_spread() -> None:
    rng = np.random.default_rng(1)
    ground = rng.uniform(0.05, 0.4, (1, 30, 30)).astype(np.float32)
    gains = rng.uniform(0.8, 1.2, 12).astype(np.float32)
    stack = np.stack([ground * g + rng.normal(0, 0.002, ground.shape).astype(np.float32) for g in gains])
    valid = np.ones((12, 30, 30), bool)
    _, raw_sigma, _ = robust_stats(stack, valid)
    _, sigma, _ = normalised_stats(stack, valid, normalise_linear)
    assert float(np.median(sigma)) < 0.25 * float(np.median(raw_sigma))


def test_linear_normalisation_removes_gain_and_haze() -> None:
    rng = np.random.default_rng(2)
    ref = rng.uniform(0.03, 0.4, (4, 40, 40)).astype(np.float32)
    hazy = ref * 1.1 + np.array([0.03, 0.02, 0.015, 0.005], np.float32)[:, None, None]
    usable = np.ones((40, 40), bool)
    matched = normalise_linear(hazy, ref, usable)
    assert np.abs(matched - ref).max() < 2e-3
    gain_only = normalise_gain(hazy, ref, usable)
    dark = ref[0] < 0.08
    assert np.abs(gain_only[0][dark] - ref[0][dark]).mean() > 0.01  # a gain alone cannot fix dark pixels


def test_chi2_threshold_holds_the_false_alarm_rate_on_noise() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(0, 1, (4, 500, 500)).astype(np.float32)
    stat = change_statistic(z)
    for rate in (1e-2, 1e-3):
        observed = float((stat > chi2_threshold(4, rate)).mean())
        assert rate * 0.8 < observed < rate * 1.2


def test_robust_z_uses_the_noise_floor() -> None:
    x = np.full((1, 2, 2), 0.21, np.float32)
    z = robust_z(x, np.full_like(x, 0.2), np.zeros_like(x), np.full_like(x, 0.005))
    assert np.allclose(z, 2.0)


def test_bitemporal_change_ranks_changed_pixels_first() -> None:
    rng = np.random.default_rng(4)
    before = rng.uniform(0.05, 0.3, (4, 60, 60)).astype(np.float32)
    after = before * 0.9 + rng.normal(0, 0.003, before.shape).astype(np.float32)
    after[:, 20:26, 30:36] = 0.5  # new bright roof
    after[:, 0, :] = np.nan
    change = bitemporal_change(before, after)
    assert np.isnan(change[0]).all()
    assert float(change[20:26, 30:36].min()) > float(np.nanpercentile(change, 98))


def test_bitemporal_change_judges_a_pixel_against_ground_like_its_own() -> None:
    """Fields (NDVI ~0.6) change between two dates by 15 % with phenology, pavement (NDVI ~0) by 1 %;
    a new roof on the pavement changes it by 6 %: less than the fields' noise, far more than the
    pavement's. Per NDVI stratum it ranks first; against one covariance for the whole image it does not."""
    rng = np.random.default_rng(7)
    bands = ("B02", "B03", "B04", "B08")
    shape = (80, 80)
    pavement = np.array([0.12, 0.12, 0.12, 0.13])[:, None, None] * np.ones((4, *shape))
    field = np.array([0.04, 0.07, 0.05, 0.35])[:, None, None] * np.ones((4, *shape))
    paved = np.zeros(shape, bool)
    paved[:, :40] = True
    before = np.where(paved, pavement, field) * rng.uniform(0.9, 1.1, shape)
    noise = np.where(paved, rng.normal(0, 0.01, (4, *shape)), rng.normal(0, 0.15, (4, *shape)))
    after = before * (1 + noise)
    roof = (slice(None), slice(30, 36), slice(10, 16))
    after[roof] = before[roof] * 1.06
    truth = np.zeros(shape, bool)
    truth[30:36, 10:16] = True

    def separation(change: np.ndarray) -> float:
        return float(np.mean(change[truth][:, None] > change[~truth][None, ::37]))

    stratified = bitemporal_change(before.astype(np.float32), after.astype(np.float32), bands=bands)
    pooled = bitemporal_change(before.astype(np.float32), after.astype(np.float32))
    assert separation(stratified) > 0.99
    assert separation(pooled) < 0.9


def test_cloud_margin_removes_cloud_edges_only() -> None:
    valid = np.ones((20, 20), bool)
    scl = np.full((20, 20), 4, np.uint8)
    scl[8:12, 8:12] = 9
    valid[8:12, 8:12] = False
    out = cloud_margin(valid, scl, 2)
    assert not out[6, 10] and not out[13, 10] and out[2, 2] and out[18, 18]
    assert cloud_margin(valid, None, 2) is valid


def _lattice(shape: tuple[int, int], n_rows: int, n_cols: int, pitch: int, value: float = 50.0) -> np.ndarray:
    change = np.zeros(shape, np.float32)
    for r in range(n_rows):
        for c in range(n_cols):
            change[5 + r * pitch : 7 + r * pitch, 5 + c * pitch : 7 + c * pitch] = value
    return change


def test_a_lattice_of_blocks_scores_high_for_crowd() -> None:
    change = _lattice((40, 40), 2, 4, 4)
    # blurred blocks touch each other: the watershed must still count them one by one
    significant = change > 0
    significant[5:15, 5:19] |= np.ones((10, 14), bool) & (np.add.outer(range(10), range(14)) % 4 == 2)
    stat = change + 0.1
    regions, blobs = find_regions(significant, PixelContext(stat, np.full((40, 40), -0.05)), 10.0, 1e6)
    assert len([d for d in regions if d.cls == "crowd-block"]) >= 6
    assert crowd_score(regions, 10.0) > 0.9
    assert blobs.max() >= 8


def _peaked(blobs: np.ndarray) -> np.ndarray:
    """A change statistic over ``blobs`` peaking once in the middle of each, as the PSF leaves it."""
    return np.where(blobs, 20.0 + 30.0 * gaussian_filter(blobs.astype(float), 1.5), 0.0).astype(np.float32)


def test_blocks_merged_by_the_psf_are_counted_by_area() -> None:
    # 8 blocks of 20 m in two ranks, merged pairwise along each rank by the PSF: four blobs of 3 x 5 px.
    # Counted as blobs, four alike would score ~0.6; counted by area they are ~10 blocks in a lattice.
    blobs = np.zeros((40, 40), bool)
    for r in (5, 11):
        for c in (5, 14):
            blobs[r : r + 3, c : c + 5] = True
    change = _peaked(blobs)
    regions, _ = find_regions(blobs, PixelContext(change, np.full((40, 40), -0.05)), 10.0, 1e6)
    blocks = [d for d in regions if d.cls == "crowd-block"]
    assert len(blocks) == 4
    assert sum(block_equivalents(b, 10.0) for b in blocks) == pytest.approx(4 * 1500 / 625)
    assert crowd_score(regions, 10.0) > 0.9


def test_block_equivalents_follow_the_pixel_size() -> None:
    assert block_equivalent_m2(10.0) == pytest.approx(625.0)
    assert block_equivalent_m2(3.0) == pytest.approx(21.5**2)
    one = Detection("crowd-block", 400.0, 20.0, 20.0, 1.0, 0.0, 1.0, 5.0, 5.0, 40.0, -0.05, 0.0, 0.1)
    assert block_equivalents(one, 10.0) == 1.0  # a block on the pixel grid changes only its own 4 px
    assert block_equivalents(replace(one, area_m2=1250.0), 10.0) == pytest.approx(2.0)
    assert block_equivalents(replace(one, area_m2=4800.0), 10.0) == 4.0  # one blob holds at most a 2 x 2 group


def test_one_dark_surface_is_not_a_formation_however_large() -> None:
    # a new dark roof of 50 x 60 m holds the area of four blocks, but a lattice needs separate blobs
    blobs = np.zeros((40, 40), bool)
    blobs[5:10, 5:11] = True
    blobs[6:8, 12:14] = True  # and one block-sized dark patch in line with it
    change = _peaked(blobs)
    regions, _ = find_regions(blobs, PixelContext(change, np.full((40, 40), -0.1)), 10.0, 1e6)
    assert [d.cls for d in regions].count("crowd-block") == 2
    assert crowd_score(regions, 10.0) == 0.0


def test_one_pixel_lines_along_a_kerb_are_not_a_formation() -> None:
    # a residual misregistration leaves one-pixel lines of change along a kerb, evenly spaced like blocks
    lines = np.zeros((40, 40), bool)
    for c in (5, 10, 15, 20, 25):
        lines[8, c : c + 2] = True
    regions, _ = find_regions(lines, PixelContext(_peaked(lines), np.full((40, 40), -0.05)), 10.0, 1e6)
    assert [d.cls for d in regions].count("crowd-block") == 5  # each could be a fragment of a block
    assert crowd_score(regions, 10.0) == 0.0
    # the same row as whole blocks (two pixels wide) is a formation
    blocks = lines | np.roll(lines, 1, axis=0)
    regions, _ = find_regions(blocks, PixelContext(_peaked(blocks), np.full((40, 40), -0.05)), 10.0, 1e6)
    assert crowd_score(regions, 10.0) > 0.5


def test_scattered_or_brightening_blobs_are_not_a_formation() -> None:
    change = np.zeros((100, 100), np.float32)
    for r, c in [(5, 5), (80, 20), (30, 90), (60, 60), (90, 90)]:  # far apart, irregular
        change[r : r + 2, c : c + 2] = 50.0
    regions, _ = find_regions(change > 0, PixelContext(change, np.full((100, 100), -0.05)), 10.0, 1e6)
    assert crowd_score(regions, 10.0) < 0.5
    lattice = _lattice((40, 40), 2, 4, 4)
    regions, _ = find_regions(lattice > 0, PixelContext(lattice, np.full((40, 40), +0.03)), 10.0, 1e6)
    assert crowd_score(regions, 10.0) == 0.0  # brightening: not troops on pavement


def test_vegetated_ground_never_holds_formations() -> None:
    lattice = _lattice((40, 40), 2, 4, 4)
    context = PixelContext(lattice, visible_diff=np.full((40, 40), -0.05), baseline_ndvi=np.full((40, 40), 0.7))
    regions, _ = find_regions(lattice > 0, context, 10.0, 1e6)
    assert {d.cls for d in regions} == {"vegetation"}
    assert crowd_score(regions, 10.0) == 0.0


def test_patchy_park_is_found_and_scored_by_changed_area() -> None:
    rng = np.random.default_rng(5)
    significant = np.zeros((60, 60), bool)
    significant[10:40, 10:40] = rng.random((30, 30)) < 0.45  # rows of vehicles, patchy at 10 m
    stat = significant.astype(np.float32) * 40
    parks, mask = find_parks(significant, PixelContext(stat), 10.0, 60 * 60 * 100.0)
    assert len(parks) == 1 and parks[0].cls == "vehicle-park"
    assert mask[25, 25]
    assert 0.3 * 900 * 100 < parks[0].area_m2 < 0.6 * 900 * 100
    assert vehicle_score(parks) > 0.9
    assert parks[0].estimate and "vehicles" in parks[0].estimate


def test_sparse_noise_is_not_a_park() -> None:
    rng = np.random.default_rng(6)
    significant = rng.random((60, 60)) < 0.01
    parks, _ = find_parks(significant, PixelContext(significant * 40.0), 10.0, 60 * 60 * 100.0)
    assert parks == []


def test_lattice_regularity() -> None:
    rows, cols = np.meshgrid(np.arange(4) * 4.0, np.arange(3) * 4.0)
    assert lattice_regularity(rows.ravel(), cols.ravel()) == pytest.approx(1.0)
    rng = np.random.default_rng(7)
    assert lattice_regularity(rng.uniform(0, 100, 40), rng.uniform(0, 100, 40)) < 0.5
    # weights: one odd point weighing little barely disturbs the lattice, weighing much it does
    r, c = np.append(rows.ravel(), 13.0), np.append(cols.ravel(), 9.5)
    light = lattice_regularity(r, c, np.append(np.ones(12), 0.05))
    heavy = lattice_regularity(r, c, np.append(np.ones(12), 6.0))
    assert light > 0.9 > heavy
    assert lattice_regularity(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0


def test_split_blobs_separates_touching_peaks() -> None:
    stat = np.zeros((10, 20), np.float32)
    stat[4:6, 3:5] = 50
    stat[4:6, 9:11] = 50
    stat[4:6, 5:9] = 20  # a ridge of blur joins them
    labels = split_blobs(stat > 10, stat, 10.0)
    assert labels.max() == 2


def test_region_table_matches_scikit_image() -> None:
    from skimage.measure import label, regionprops

    from monitor.detect.regions import region_table

    rng = np.random.default_rng(8)
    labels = label(rng.random((80, 80)) < 0.3, connectivity=2)
    table = region_table(labels)
    for region in regionprops(labels):
        lab = region.label
        assert table.area[lab] == region.area
        assert table.row[lab] == pytest.approx(region.centroid[0])
        assert table.col[lab] == pytest.approx(region.centroid[1])
        assert table.major[lab] == pytest.approx(region.axis_major_length, abs=1e-9)
        assert table.minor[lab] == pytest.approx(region.axis_minor_length, abs=1e-9)
        assert table.extent[lab] == pytest.approx(region.extent)
        if region.axis_major_length > region.axis_minor_length + 1e-6:
            diff = abs(table.orientation[lab] - region.orientation)
            assert min(diff, abs(diff - np.pi)) < 1e-9


def test_nanmedian_first_axis_equals_numpys() -> None:
    from monitor.detect.baseline import nanmedian_first_axis

    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 10):
        values = rng.normal(0.2, 0.05, (n, 3, 20, 30)).astype(np.float32)
        values[rng.random(values.shape) < 0.3] = np.nan
        values[:, :, :2, :2] = np.nan  # never observed
        with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
            expected = np.nanmedian(values, axis=0)
        got = nanmedian_first_axis(values)
        assert got.dtype == np.float32 and np.array_equal(got, expected, equal_nan=True)
