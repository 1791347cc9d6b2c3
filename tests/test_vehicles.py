"""Vehicle parks as they really look at 10 m: a mixture of olive vehicles, light roofs and shadows, scored
from their arrangement as well as their area (docs/detection.md, section 6). Small synthetic rasters:
each band's baseline and scene built from the spectra the rules are reasoned from."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.detect.formations import (
    OLIVE_MIN_NIR_CONTRAST,
    Detection,
    PixelContext,
    arrangement,
    classify,
    find_parks,
    olive_pixels,
    vehicle_score,
)
from monitor.detect.scoring import _context

BANDS = ("B02", "B03", "B04", "B08")
ASPHALT = np.array([0.065, 0.075, 0.085, 0.10])
OLIVE = np.array([0.055, 0.070, 0.065, 0.25])
ROOF = np.array([0.42, 0.46, 0.48, 0.52])  # a coach's white roof, a new slab alike
SHADOW = np.array([0.40, 0.33, 0.28, 0.20])  # what a shadow leaves of each band (sky light is blue)
GRASS = np.array([0.04, 0.08, 0.04, 0.40])


def _layers(cover: dict[str, np.ndarray], ground: np.ndarray = ASPHALT) -> tuple[np.ndarray, np.ndarray]:
    """Baseline and scene (bands, rows, cols): ``ground`` everywhere, and in the scene the linear mixture of
    olive / roof cover fractions and a shadow fraction darkening the ground."""
    shape = next(iter(cover.values())).shape
    base = np.broadcast_to(ground[:, None, None], (4, *shape)).astype(np.float32).copy()
    o, r, s = (cover.get(k, np.zeros(shape)) for k in ("olive", "roof", "shadow"))
    g = np.clip(1.0 - o - r - s, 0.0, 1.0)
    scene = (
        g * base + o * OLIVE[:, None, None] + r * ROOF[:, None, None] + s * (ground * SHADOW)[:, None, None]
    ).astype(np.float32)
    return base, scene


def _context_of(base: np.ndarray, scene: np.ndarray, changed: np.ndarray) -> PixelContext:
    stat = np.where(changed, 100.0, 0.0).astype(np.float32)
    return _context(stat, scene, base, BANDS, radar=False)


def test_olive_on_asphalt_and_concrete_is_nir_up_against_the_visible_and_roofs_and_shadows_are_not() -> None:
    shape = (1, 5)
    cover = {
        "olive": np.array([[0.3, 0.0, 0.0, 0.6, 0.0]]),
        "roof": np.array([[0.0, 0.5, 0.0, 0.0, 0.0]]),
        "shadow": np.array([[0.0, 0.0, 0.6, 0.3, 0.0]]),
    }
    base, scene = _layers(cover)
    ctx = _context_of(base, scene, np.ones(shape, bool))
    olive = olive_pixels(ctx)
    assert olive is not None
    # 30 % olive, light roof, shadow, olive with its shadow, nothing
    assert olive[0].tolist() == [True, False, False, True, False]
    assert ctx.nir_contrast is not None and ctx.nir_contrast[0, 0] >= OLIVE_MIN_NIR_CONTRAST
    # on concrete olive darkens every band (NIR far less than the visible): still olive
    concrete = np.array([0.21, 0.23, 0.25, 0.28])
    base, scene = _layers({"olive": np.full((1, 1), 0.5)}, concrete)
    assert scene[3, 0, 0] < base[3, 0, 0] and scene[0, 0, 0] < base[0, 0, 0]
    assert bool(olive_pixels(_context_of(base, scene, np.ones((1, 1), bool)))[0, 0])  # type: ignore[index]


def test_nir_up_is_not_olive_on_vegetated_ground_nor_along_it() -> None:
    olive = np.zeros((6, 6))
    olive[:, :] = 0.5
    base, scene = _layers({"olive": olive})
    base[:, :, 0] = GRASS[:, None]  # a verge along the west edge of the lot
    ctx = _context_of(base, scene, np.ones((6, 6), bool))
    found = olive_pixels(ctx)
    assert found is not None
    assert not found[:, 0].any()  # vegetation: growth, not vehicles
    assert not found[:, 1].any()  # next to it: the PSF carries the verge's NIR over the kerb
    assert found[:, 3:].all()


def _park_layers(rows: int = 12, cols: int = 16, coach_rows: tuple[int, ...] = ()) -> dict[str, np.ndarray]:
    """A dense park at 10 m: rows of olive vehicles (60-80 % of a pixel) with shadows in the gaps, coach rows."""
    rng = np.random.default_rng(3)
    shape = (rows + 8, cols + 8)
    cover = {k: np.zeros(shape) for k in ("olive", "roof", "shadow")}
    for r in range(4, 4 + rows):
        kind = "roof" if r in coach_rows else "olive"
        cover[kind][r, 4 : 4 + cols] = rng.uniform(0.6, 0.8, cols)
        cover["shadow"][r, 4 : 4 + cols] = 0.15
    return cover


def test_a_mixed_park_with_coaches_and_shadows_is_one_park_with_every_sign_of_change() -> None:
    cover = _park_layers(coach_rows=(6, 7, 11))
    base, scene = _layers(cover)
    changed = (cover["olive"] + cover["roof"]) > 0
    ctx = _context_of(base, scene, changed)
    parks, _ = find_parks(changed, ctx, 10.0, 1e7)
    assert len(parks) == 1
    # the coach rows brighten every band and count with the park (they stand among its olive rows)
    assert parks[0].area_m2 == pytest.approx(changed.sum() * 100.0)
    assert parks[0].fill is not None and parks[0].fill > 0.9  # a filled rectangle
    assert vehicle_score(parks) > 0.99


def test_a_new_roof_or_a_shadow_is_no_park_however_large() -> None:
    shape = (20, 24)
    block = np.zeros(shape)
    block[4:16, 4:20] = 1.0
    for kind in ("roof", "shadow"):
        base, scene = _layers({kind: block})
        ctx = _context_of(base, scene, block > 0)
        parks, _ = find_parks(block > 0, ctx, 10.0, 1e7)
        assert parks == [], kind


def test_a_roof_bridged_to_an_olive_strip_counts_only_where_olive_stands() -> None:
    shape = (24, 30)
    roof, olive = np.zeros(shape), np.zeros(shape)
    roof[3:10, 3:12] = 1.0  # a new hall
    olive[12, 3:27] = 0.7  # a row of olive vehicles passing it, 20 m away
    olive[13, 3:27] = 0.5
    base, scene = _layers({"roof": roof, "olive": olive})
    changed = (roof + olive) > 0
    parks, _ = find_parks(changed, _context_of(base, scene, changed), 10.0, 1e7)
    assert len(parks) == 1
    # the olive rows and the roof's edge within 20 m of them, not the whole roof
    assert parks[0].area_m2 < (olive > 0).sum() * 100.0 + 2 * 9 * 100.0


def test_rows_need_olive_and_count_more_in_parallel() -> None:
    # a long thin change that brings no olive (a shadow's edge, a wet strip) is no vehicle row
    assert classify(1200.0, 120.0, 12.0, 0.9, 0.05, -0.02, 1e6, nir_contrast=-0.3) == "other"
    assert classify(1200.0, 120.0, 12.0, 0.9, 0.05, -0.01, 1e6, nir_contrast=0.3) == "vehicle-row"

    def row(r: float) -> Detection:
        return Detection("vehicle-row", 1200.0, 120.0, 10.0, 12.0, 90.0, 0.9, r, 20.0, 40.0, -0.01, 0.1, 0.05)

    lone = [row(10.0)]
    pair = [row(10.0), row(12.0)]  # parallel, 20 m apart across, side by side along
    far = [row(10.0), row(30.0)]  # 200 m apart: two lines, not rows of one park
    assert arrangement(pair[0], pair) == 1.0 and arrangement(lone[0], lone) == 0.5
    assert arrangement(far[0], far) == 0.5
    assert vehicle_score(pair) > vehicle_score(far) > vehicle_score(lone)


def test_a_ragged_field_counts_less_than_a_filled_rectangle_of_the_same_area() -> None:
    rng = np.random.default_rng(4)
    shape = (40, 40)
    dense = np.zeros(shape)
    dense[10:20, 10:22] = 0.7  # 120 px, a filled rectangle
    ragged = np.zeros(shape)
    ragged[5:35, 5:35] = np.where(rng.random((30, 30)) < 0.3, 0.7, 0.0)
    scores = []
    for olive in (dense, ragged):
        base, scene = _layers({"olive": olive})
        changed = olive > 0
        parks, _ = find_parks(changed, _context_of(base, scene, changed), 10.0, 1e7)
        assert len(parks) == 1
        scores.append((parks[0].area_m2, parks[0].fill, vehicle_score(parks)))
    (a_dense, f_dense, s_dense), (a_ragged, f_ragged, s_ragged) = scores
    assert f_dense is not None and f_ragged is not None and f_dense > 0.9 > 0.5 > f_ragged
    assert s_dense / a_dense > s_ragged / a_ragged


def test_a_shadow_lit_by_the_fields_around_it_is_not_olive() -> None:
    # a cloud shadow over asphalt amid fields: the sky lights it blue, the vegetation around NIR-rich, so
    # its NIR falls less than its visible (a positive NIR contrast), but it falls by half: no olive paint
    shadow = np.array([0.40, 0.33, 0.28, 0.50])
    base = np.broadcast_to(ASPHALT[:, None, None], (4, 6, 6)).astype(np.float32).copy()
    scene = (base * shadow[:, None, None]).astype(np.float32)
    ctx = _context_of(base, scene, np.ones((6, 6), bool))
    assert ctx.nir_contrast is not None and float(ctx.nir_contrast.min()) > OLIVE_MIN_NIR_CONTRAST
    found = olive_pixels(ctx)
    assert found is not None and not found.any()
    parks, _ = find_parks(np.ones((6, 6), bool), ctx, 10.0, 1e7)
    assert parks == []


def test_a_cloud_shadow_on_asphalt_keeps_too_little_nir_for_olive_paint() -> None:
    # the visible halved, the NIR at 0.63 of the baseline: a positive NIR contrast (log 1.26), but olive
    # over asphalt raises the NIR (it reflects 0.22 or more against asphalt's 0.10)
    shadow = np.array([0.50, 0.50, 0.50, 0.63])
    base = np.broadcast_to(ASPHALT[:, None, None], (4, 8, 8)).astype(np.float32).copy()
    scene = (base * shadow[:, None, None]).astype(np.float32)
    ctx = _context_of(base, scene, np.ones((8, 8), bool))
    assert ctx.nir_contrast is not None and float(ctx.nir_contrast.min()) > OLIVE_MIN_NIR_CONTRAST
    found = olive_pixels(ctx)
    assert found is not None and not found.any()
    # the same pixels with olive vehicles over 30 % and their shadows over 40 % of them are olive
    base2, scene2 = _layers({"olive": np.full((8, 8), 0.3), "shadow": np.full((8, 8), 0.4)})
    olive = olive_pixels(_context_of(base2, scene2, np.ones((8, 8), bool)))
    assert olive is not None and olive.all()
