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
