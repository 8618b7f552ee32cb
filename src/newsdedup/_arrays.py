"""Array helpers shared by the engine's stages."""

from __future__ import annotations

import numpy as np


def sorted_unique(values: np.ndarray, *, in_place: bool = False, runs: bool = False) -> np.ndarray:
    """The sorted distinct values of a 1-d numeric array, found by sorting.

    numpy 2.x's ``np.unique`` hashes 1-d numeric arrays first (a node-based hash set), which is
    far slower on large arrays of many distinct values (numpy issue #31969): on this machine,
    3M packed ``uint64`` pairs took 5.2 s that way and 0.05 s sorted. ``in_place`` sorts
    ``values`` itself (an array the caller owns) instead of a copy. ``runs``: ``values`` is a
    few sorted runs one after the other, which numpy's stable sort (timsort) merges: 16M
    values in nine runs took 0.27 s instead of 1.27 s with the default sort."""
    out = values if in_place else np.array(values)
    out.sort(kind="stable" if runs else "quicksort")
    if len(out) < 2:
        return out
    keep = np.empty(len(out), dtype=bool)
    keep[0] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    return out if keep.all() else out[keep]


def in_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Per value, whether it occurs in the sorted array ``sorted_set``: ``np.isin(values,
    sorted_set)`` by binary search. ``np.isin`` sorts both arrays together unless the set is
    tiny: 7M values against 50k took 2.7 s that way and 0.76 s this way."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(sorted_set, values)
    np.minimum(at, len(sorted_set) - 1, out=at)
    found: np.ndarray = sorted_set[at] == values
    return found


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a 2-d array in lexicographic order, and how often each occurs: as
    ``np.unique(rows, axis=0, return_counts=True)``, by one ``np.lexsort`` over the columns.

    ``np.unique`` with an axis sorts a structured view of the rows, about 2.4 times slower on
    two million ``(site, paragraph, cluster)`` rows here (4.1 s against 1.7 s)."""
    if rows.ndim != 2:
        raise ValueError(f"rows must be 2-d, got shape {rows.shape}")
    if not len(rows):
        return rows.copy(), np.zeros(0, dtype=np.int64)
    ordered = rows[np.lexsort(rows.T[::-1])]
    starts = np.empty(len(ordered), dtype=bool)
    starts[0] = True
    np.any(ordered[1:] != ordered[:-1], axis=1, out=starts[1:])
    at = np.flatnonzero(starts)
    return ordered[at], np.diff(np.r_[at, len(ordered)])


def unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` of a 1-d array (a 1-d inverse).

    ``np.unique`` finds the inverse with a stable argsort, about ten times slower than a plain
    sort here (11.5 against 0.9 ms for 206,000 token ids). So a ``uint64`` value's high bits
    and its position are packed into one ``uint64`` and sorted (:func:`_packed_unique_inverse`),
    positive floats are sorted and then found among the distinct ones by binary search, and
    non-negative integers of a small range (counts) are looked up in a table of the range,
    with no sort; other arrays, and the rare ones where two distinct values share their high
    bits, go to ``np.unique`` after all."""
    found: tuple[np.ndarray, np.ndarray] | None = None
    if values.ndim == 1 and len(values) and values.dtype.kind in "iu" and values.dtype != np.uint64:
        found = _table_unique_inverse(values)
    elif values.ndim == 1 and len(values) > 1 and values.dtype == np.float64 and bool((values > 0).all()):
        levels = sorted_unique(values)  # few levels: a binary search each is cheaper than an argsort
        found = levels, np.searchsorted(levels, values)
    else:
        found = _packed_unique_inverse(values)
    if found is None:
        vocab, inverse = np.unique(values, return_inverse=True)
        return vocab, inverse.reshape(-1)
    return found


def _table_unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`unique_inverse` of integers in ``[0, 4 n + 1024)`` through a table of that range
    (None for other values)."""
    low, high = int(values.min()), int(values.max())
    if low < 0 or high >= 4 * len(values) + 1024:
        return None
    present = np.zeros(high + 1, dtype=bool)
    present[values] = True
    code = np.cumsum(present, dtype=np.intp) - 1
    return np.flatnonzero(present).astype(values.dtype), code[values]


def _packed_unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`unique_inverse` by one sort of high bits packed with positions: the positions
    come out grouped by value, since values are ordered by their high bits -- unless two
    distinct values share them, which the full values of the groups show (None then, and for
    anything but a 1-d ``uint64`` array of at least two values and at most ``2**40``)."""
    n = len(values)
    bits = max(1, (n - 1).bit_length())
    if values.dtype != np.uint64 or values.ndim != 1 or n < 2 or bits > 40:
        return None
    shift = np.uint64(bits)
    keys = (values >> shift) << shift
    keys |= np.arange(n, dtype=np.uint64)
    keys.sort()
    pos = (keys & np.uint64((1 << bits) - 1)).astype(np.intp)
    ordered = values[pos]
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    keys >>= shift
    if np.count_nonzero(keys[1:] != keys[:-1]) + 1 != np.count_nonzero(starts):
        return None  # high bits shared by two values
    inverse = np.empty(n, dtype=np.intp)
    inverse[pos] = np.cumsum(starts) - 1
    return ordered[starts], inverse
