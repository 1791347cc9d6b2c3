"""Co-registration: known synthetic shifts, the real misregistered AROSICS pair, and its effect on scoring."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from scipy.ndimage import gaussian_filter
from scipy.ndimage import shift as nd_shift

from monitor.detect.baseline import Baseline, register_stack
from monitor.detect.registration import apply_shift, estimate_shift
from monitor.detect.scoring import score_scene
from monitor.scene import Scene
from tests.conftest import shared_data


def _texture(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A field-and-road-like reflectance texture: smoothed noise plus patches with edges as sharp as the
    sensor's PSF and pixel integration leave them (Gaussian, 0.8 px), 0.05..0.35."""
    rng = np.random.default_rng(seed)
    base = gaussian_filter(rng.normal(size=shape), 3.0)
    patches = gaussian_filter((gaussian_filter(rng.normal(size=shape), 6.0) > 0).astype(float), 0.8)
    img = 0.15 + 0.05 * base / base.std() + 0.1 * patches
    return np.clip(img, 0.05, 0.35)


@pytest.mark.parametrize("shift", [(0.7, -0.7), (-0.3, 0.45), (1.6, 0.2), (0.0, 0.0)])
def test_known_subpixel_shifts_are_recovered(shift: tuple[float, float]) -> None:
    ref = _texture((120, 140))
    moved = nd_shift(ref, (-shift[0], -shift[1]), order=3, mode="nearest")
    noisy = moved + np.random.default_rng(1).normal(0, 0.004, moved.shape)
    reg = estimate_shift(ref, noisy, np.ones(ref.shape, dtype=bool))
    assert reg.ok and reg.status == "ok"
    assert reg.shift == pytest.approx(shift, abs=0.15)


def test_clouds_do_not_pull_the_shift_to_zero() -> None:
    ref = _texture((120, 140), seed=3)
    moved = nd_shift(ref, (-0.6, 0.5), order=3, mode="nearest")
    clear = np.ones(ref.shape, dtype=bool)
    clear[20:60, 30:90] = False  # a cloud, masked in the scene only
    moved[~clear] = 0.6
    reg = estimate_shift(ref, moved, clear)
    assert reg.shift == pytest.approx((0.6, -0.5), abs=0.1)


def test_unrelated_or_cloudy_images_are_not_registered() -> None:
    ref = _texture((100, 100), seed=4)
    other = _texture((100, 100), seed=5)
    assert not estimate_shift(ref, other, np.ones(ref.shape, dtype=bool)).ok
    clear = np.zeros(ref.shape, dtype=bool)
    clear[:10] = True
    reg = estimate_shift(ref, ref, clear)
    assert not reg.ok and "clear" in reg.status


def test_apply_shift_undoes_a_shift_and_invalidates_the_edge() -> None:
    ref = _texture((60, 60), seed=6)
    moved = nd_shift(ref, (-0.5, 0.4), order=1, mode="nearest")
    data, valid, aux = apply_shift(moved[None].astype(np.float32), np.ones(ref.shape, bool), (0.5, -0.4))
    inner = (slice(3, -3), slice(3, -3))
    error = np.abs(data[0][inner] - ref[inner])
    assert error.mean() < 0.004 and error.max() < 0.06  # two bilinear passes blur sharp edges a little
    assert not valid[0].any() and not valid[:, -1].any() and valid[inner].all()
    assert aux == {}


def test_real_misregistered_pair_is_recovered() -> None:
    """The AROSICS pair: ~(+1.85, -0.60) px measured over 44 blocks (see shared/data/README.md)."""
    folder = shared_data("arosics-pair")
    with rasterio.open(folder / "ref_S2A_20160608_T33UUU_B03.tif") as src:
        ref = src.read(1).astype(np.float64)
    with rasterio.open(folder / "tgt_S2A_20160529_T33UUU_B03.tif") as src:
        tgt = src.read(1).astype(np.float64)
    found = []
    for r0, c0 in [(990, 543), (1320, 933), (1650, 1323), (1980, 543)]:  # 330 x 390 px sites
        window = (slice(r0, r0 + 330), slice(c0, c0 + 390))
        reg = estimate_shift(ref[window], tgt[window], (tgt[window] > 0) & (tgt[window] < 3000), ref[window] > 0)
        assert reg.ok, reg.status
        found.append(reg.shift)
    assert np.median(found, axis=0) == pytest.approx((1.85, -0.60), abs=0.2)


def _scene(data: np.ndarray, sid: str) -> Scene:
    return Scene(
        scene_id=sid,
        sensor="S2",
        acquired=datetime(2025, 7, 1, 2, 0, tzinfo=UTC),
        bands=("B02", "B03", "B04", "B08"),
        data=data.astype(np.float32),
        valid=np.ones(data.shape[1:], dtype=bool),
        transform=Affine(10, 0, 500000, 0, -10, 4300000),
        crs=CRS.from_epsg(32652),
    )


def _stack(shape: tuple[int, int], n: int, shifts: list[tuple[float, float]] | None = None) -> np.ndarray:
    rng = np.random.default_rng(7)
    ground = np.stack([_texture(shape, seed=10 + b) for b in range(4)])
    out = []
    for i in range(n):
        s = shifts[i] if shifts else (0.0, 0.0)
        img = np.stack([nd_shift(g, s, order=3, mode="nearest") for g in ground])
        out.append(img + rng.normal(0, 0.005, img.shape))
    return np.stack(out)


def test_a_shifted_scene_raises_no_change_after_registration() -> None:
    """A quiet scene shifted by 0.7 px: without registration its edges read as change, with it they do not."""
    shape = (80, 90)
    stack = _stack(shape, 11, [(0.0, 0.0)] * 10 + [(0.7, -0.7)])
    valid = np.ones((10, *shape), dtype=bool)
    registered, rvalid, regs = register_stack(stack[:10], valid, 10.0)
    assert all(r.ok and max(map(abs, r.shift)) < 0.2 for r in regs)
    from monitor.detect.baseline import normalised_stats
    from monitor.detect.change import normalise_linear

    median, sigma, count = normalised_stats(registered, rvalid, normalise_linear)
    baseline = Baseline("S2", ("B02", "B03", "B04", "B08"), median, sigma, count, tuple(f"s{i}" for i in range(10)))
    masks = {"all": np.ones(shape, dtype=bool)}
    change = score_scene(_scene(stack[10], "shifted"), baseline, masks)
    assert change.registration is not None and change.registration.ok
    assert change.registration.shift == pytest.approx((-0.7, 0.7), abs=0.15)
    assert change.zones[0].change_fraction is not None and change.zones[0].change_fraction < 0.002


def test_an_unregistrable_scene_is_flagged_not_scored() -> None:
    shape = (80, 90)
    stack = _stack(shape, 10)
    valid = np.ones((10, *shape), dtype=bool)
    from monitor.detect.baseline import normalised_stats
    from monitor.detect.change import normalise_linear

    median, sigma, count = normalised_stats(stack, valid, normalise_linear)
    baseline = Baseline("S2", ("B02", "B03", "B04", "B08"), median, sigma, count, tuple(f"s{i}" for i in range(10)))
    elsewhere = np.stack([_texture(shape, seed=99 + b) for b in range(4)])
    change = score_scene(_scene(elsewhere, "elsewhere"), baseline, {"all": np.ones(shape, dtype=bool)})
    assert change.state == "unregistered"
    assert change.registration is not None and not change.registration.ok
    assert change.zones[0].crowd_score is None and change.zones[0].change_fraction is None


def test_a_large_shift_is_applied_only_when_the_sub_windows_confirm_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import monitor.detect.registration as registration

    ref = _texture((128, 128), seed=8)
    # a real 2.2 px misregistration moves every part of the site alike: confirmed and applied
    moved = nd_shift(ref, (-2.2, 0.0), order=3, mode="nearest")
    reg = estimate_shift(ref, moved, np.ones(ref.shape, dtype=bool))
    assert reg.ok and reg.shift == pytest.approx((2.2, 0.0), abs=0.15)
    # only one quarter of the site matches at that shift, the rest is new ground (a changed scene with one
    # strong feature): the whole-site peak alone would be trusted, the sub-windows do not confirm it
    spurious = _texture((128, 128), seed=9)
    spurious[:64, :64] = moved[:64, :64]
    monkeypatch.setattr(registration, "CONFIRM_BEYOND_M", 1e9)
    unguarded = estimate_shift(ref, spurious, np.ones(ref.shape, dtype=bool))
    assert unguarded.ok and unguarded.shift == pytest.approx((2.2, 0.0), abs=0.3)
    monkeypatch.undo()
    guarded = estimate_shift(ref, spurious, np.ones(ref.shape, dtype=bool))
    assert not guarded.ok and "sub-windows" in guarded.status and guarded.shift == (0.0, 0.0)


def test_small_shifts_need_no_confirmation() -> None:
    # within Sentinel-2's expected geolocation error, the whole-site peak is enough
    ref = _texture((128, 128), seed=10)
    spurious = _texture((128, 128), seed=11)
    spurious[:64, :64] = nd_shift(ref, (-0.7, 0.7), order=3, mode="nearest")[:64, :64]
    reg = estimate_shift(ref, spurious, np.ones(ref.shape, dtype=bool))
    assert reg.ok and reg.shift == pytest.approx((0.7, -0.7), abs=0.2)


def test_the_real_input_phase_correlation_is_scikit_images() -> None:
    from scipy.fft import fft2, rfft2
    from scipy.ndimage import gaussian_filter
    from skimage.registration import phase_cross_correlation

    from monitor.detect.registration import UPSAMPLE, _fast_shape, _full_spectrum, _pcc, _spectrum, _taper

    rng = np.random.default_rng(12)
    for shape in ((64, 70), (61, 75)):  # even and odd padded widths
        x = rng.random(shape)
        assert np.allclose(_full_spectrum(rfft2(x), shape[1]), fft2(x))
        assert np.array_equal(
            _full_spectrum(rfft2(x), shape[1], conjugate=True), np.conj(_full_spectrum(rfft2(x), shape[1]))
        )
        ref = gaussian_filter(rng.random(shape), 2.0)
        moving = np.roll(ref, (2, -1), axis=(0, 1)) + 0.01 * rng.random(shape)
        ref, moving = ref - ref.mean(), moving - moving.mean()
        fast = _fast_shape(shape)
        spectra = [fft2(im * _taper(shape), s=fast) for im in (ref, moving)]
        expected, _, _ = phase_cross_correlation(
            *spectra, upsample_factor=UPSAMPLE, normalization="phase", space="fourier"
        )
        shift, peak = _pcc(ref, moving)
        assert np.allclose(shift, expected) and peak > 10
        assert _spectrum(ref).shape == (fast[0], fast[1] // 2 + 1)
        assert np.array_equal(_spectrum(ref), rfft2(ref * _taper(shape), s=fast))  # padded in place, same values
