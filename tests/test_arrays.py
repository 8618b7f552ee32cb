"""The sort-based unique equals np.unique and leaves its input alone unless told otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from newsdedup._arrays import sorted_unique


@pytest.mark.parametrize("dtype", [np.uint64, np.int64, np.int32])
@pytest.mark.parametrize("size", [0, 1, 2, 17, 5_000])
def test_sorted_unique_equals_np_unique(dtype: type, size: int) -> None:
    rng = np.random.default_rng(size)
    values = rng.integers(0, max(2, size // 3), size=size).astype(dtype)
    before = values.copy()
    got = sorted_unique(values)
    assert got.dtype == values.dtype
    assert np.array_equal(got, np.unique(before))
    assert np.array_equal(values, before)  # a copy was sorted
    owned = before.copy()
    assert np.array_equal(sorted_unique(owned, in_place=True), np.unique(before))
    if size > 1:
        assert np.all(np.diff(owned.astype(np.float64)) >= 0)  # sorted where it lies


def test_sorted_unique_of_distinct_values_is_the_sorted_input() -> None:
    values = np.array([9, 3, 7, 1], dtype=np.uint64)
    assert sorted_unique(values).tolist() == [1, 3, 7, 9]


def test_unique_rows_is_numpy_unique_along_rows() -> None:
    """Same rows, same order and same counts as ``np.unique(axis=0, return_counts=True)``,
    on small alphabets (many repeats) and on full-range uint64 values."""
    from newsdedup._arrays import unique_rows

    rng = np.random.default_rng(4)
    for n in (1, 2, 7, 300, 4000):
        for cols in (1, 2, 3):
            for high in (3, 2**64 - 1):
                rows = rng.integers(0, high, (n, cols), dtype=np.uint64, endpoint=True)
                rows = np.concatenate([rows, rows[: n // 2]])  # some rows twice
                expected, counts = np.unique(rows, axis=0, return_counts=True)
                got, got_counts = unique_rows(rows)
                assert np.array_equal(got, expected)
                assert np.array_equal(got_counts, counts)
    empty, none = unique_rows(np.empty((0, 3), dtype=np.uint64))
    assert empty.shape == (0, 3)
    assert len(none) == 0
    with pytest.raises(ValueError, match="2-d"):
        unique_rows(np.arange(3))


def test_unique_inverse_is_numpy_unique_with_its_inverse() -> None:
    """The same distinct values and inverse as ``np.unique(return_inverse=True)``: full-range
    hashes with repeats, small ranges, and values that share their high bits (the packed sort
    cannot tell them apart and must fall back); a small int64 range goes through the table."""
    rng = np.random.default_rng(7)
    cases = [
        np.empty(0, dtype=np.uint64),
        np.array([5], dtype=np.uint64),
        np.array([3, 3, 3], dtype=np.uint64),
    ]
    for n in (2, 9, 300, 5_000):
        vocab = rng.integers(0, 2**64 - 1, size=max(1, n // 4), dtype=np.uint64, endpoint=True)
        cases.append(vocab[rng.integers(0, len(vocab), size=n)])  # token ids: hashes, repeated
        cases.append(rng.integers(0, 7, size=n, dtype=np.uint64))  # every value's high bits are 0
        # distinct values with the same high bits, interleaved with others
        cases.append(
            np.array([1 << 40, (1 << 40) + 1, 9, 1 << 40, (1 << 40) + 1] * (n // 5 + 1), dtype=np.uint64)
        )
    cases.append(np.arange(6, dtype=np.int64))
    fallbacks = 0
    for values in cases:
        before = values.copy()
        fallbacks += _numpy_calls_of_unique_inverse(values)
        assert np.array_equal(values, before)
    # the hashes never needed numpy; the shared high bits did
    assert 0 < fallbacks < len(cases)


def _numpy_calls_of_unique_inverse(values: np.ndarray) -> int:
    """Check ``unique_inverse(values)`` against ``np.unique(values, return_inverse=True)`` (the
    same values, dtype and 1-d inverse) and return how often it called ``np.unique`` itself."""
    from newsdedup import _arrays
    from newsdedup._arrays import unique_inverse

    calls = 0
    real = np.unique

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)  # type: ignore[call-overload]

    expected, inverse = np.unique(values, return_inverse=True)
    _arrays.np.unique = counting  # type: ignore[attr-defined]
    try:
        got, got_inverse = unique_inverse(values)
    finally:
        _arrays.np.unique = real  # type: ignore[attr-defined]
    assert got.dtype == expected.dtype
    assert np.array_equal(got, expected, equal_nan=True)
    assert np.array_equal(got_inverse, inverse.reshape(-1))
    return calls


def test_unique_inverse_of_counts_and_weights_needs_no_numpy_unique() -> None:
    """Small non-negative integers (term and document frequencies) go through a table and
    positive floats (story weights, many repeats) through a sort: the same values, dtype and
    inverse as ``np.unique``, without calling it; negative, huge-range and float arrays with
    a zero or NaN still do."""
    rng = np.random.default_rng(11)
    tf = rng.integers(1, 20, size=4_000)
    fast = [
        tf,
        rng.integers(0, 3, size=50).astype(np.int32),
        np.array([7], dtype=np.int64),
        (1.0 + np.log(tf)) * rng.choice(np.linspace(1.0, 12.0, 300), size=len(tf)),
    ]
    slow = [
        np.array([-3, 5, -3, 2], dtype=np.int64),
        np.array([0, 1 << 40, 3, 0], dtype=np.int64),
        np.array([0.0, 2.5, 2.5, 1.0]),
        np.array([np.nan, 1.0, 1.0]),
    ]
    for group, expect_calls in ((fast, 0), (slow, len(slow))):
        assert sum(map(_numpy_calls_of_unique_inverse, group)) == expect_calls


def test_in_sorted_is_isin() -> None:
    """``np.isin`` against a sorted set, by binary search: values below, between, equal to and
    above every element, and an empty set or empty values."""
    from newsdedup._arrays import in_sorted

    rng = np.random.default_rng(3)
    members = np.sort(rng.choice(np.arange(0, 10_000, 3, dtype=np.uint64), size=500, replace=False))
    values = rng.integers(0, 10_050, size=20_000).astype(np.uint64)
    values[:3] = [members[0], members[-1], 10_049]
    assert np.array_equal(in_sorted(values, members), np.isin(values, members))
    assert not in_sorted(values, members[:0]).any()
    assert len(in_sorted(values[:0], members)) == 0
