"""The fast order statistics of ``monitor.detect.quantiles`` return numpy's values, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.detect.quantiles import median_rows, median_value, sorted_percentile, sorted_percentiles


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 3, 8, 51, 1000, 10_001])
def test_median_rows_is_numpys(dtype: type, n: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.standard_normal((4, n)).astype(dtype)
    ties = np.round(x, 1)  # many equal values
    for a in (x, ties, np.abs(x) * 1e-3 + 0.07):
        assert np.array_equal(median_rows(a), np.median(a, axis=1))
        assert median_rows(a).dtype == np.median(a, axis=1).dtype
    assert median_value(x[0]) == float(np.median(x[0]))


def test_median_rows_nan_rows_are_nan() -> None:
    x = np.arange(12, dtype=np.float64).reshape(3, 4)
    x[1, 0] = np.nan
    with np.errstate(invalid="ignore"):
        got = median_rows(x)
    assert np.isnan(got[1]) and np.array_equal(got[[0, 2]], np.median(x[[0, 2]], axis=1))


def test_median_rows_rejects_empty() -> None:
    with pytest.raises(ValueError, match="median_rows"):
        median_rows(np.zeros((2, 0)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 19, 50, 20_000, 20_001])
def test_sorted_percentiles_are_numpys(dtype: type, n: int) -> None:
    rng = np.random.default_rng(n)
    qs = np.linspace(5.0, 95.0, 19)
    for q in (qs, np.array([0.0, 1.0, 50.0, 99.5, 100.0]), rng.uniform(0, 100, 37)):
        for values in (rng.random(n), np.round(rng.standard_normal(n), 2)):
            ordered = np.sort(values.astype(dtype))
            want = np.percentile(ordered, q)
            got = sorted_percentiles(ordered, q)
            assert got.dtype == want.dtype and np.array_equal(got, want)


@pytest.mark.parametrize("n", [5, 599, 600, 1300])
def test_median_of_the_non_nan_values_is_nanmedian(n: int) -> None:
    """What the zone match takes for ``np.nanmedian(ratio, axis=1)`` (numpy's small-array path below 600
    values per row, its one-dimensional path above)."""
    rng = np.random.default_rng(n)
    ratio = rng.lognormal(0.0, 0.2, (4, n))
    ratio[rng.random((4, n)) < 0.1] = np.nan
    mine = np.array([median_value(row[~np.isnan(row)]) for row in ratio])
    assert np.array_equal(mine, np.nanmedian(ratio, axis=1))
    assert median_value(ratio[0][~np.isnan(ratio[0])]) == float(np.nanmedian(ratio[0]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 51, 20_000, 20_001])
def test_one_sorted_percentile_is_numpys_in_the_arrays_dtype(dtype: type, n: int) -> None:
    """One percentile as a Python number: numpy interpolates in float32 for a float32 array (the haze
    test's 5th percentile of B02)."""
    rng = np.random.default_rng(n)
    for q in (0, 5, 5.0, 37.3, 50, 99.9, 100):
        for values in (rng.random(n), np.round(rng.random(n), 2)):
            a = values.astype(dtype)
            want, got = np.percentile(a, q), sorted_percentile(np.sort(a), q)
            assert got == want and np.asarray(got).dtype == np.asarray(want).dtype
    with pytest.raises(ValueError, match="outside"):
        sorted_percentile(np.sort(rng.random(5)), 101)
