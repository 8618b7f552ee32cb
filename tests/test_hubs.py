"""The local engine's part of the hub relation (:func:`newsdedup._hubs.low_places`)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from newsdedup._hubs import low_places


@pytest.mark.parametrize("seed", range(8))
def test_low_places_are_each_items_lowest_candidates_within_its_bound(seed: int) -> None:
    """Per item of a part's bucket rows: its ``limit`` lowest candidate places (items sharing
    a bucket with it), without those above its current ``kth`` place, as sorted rows
    ``item << 32 | place`` -- against a brute force over the buckets."""
    rng = random.Random(seed)
    limit = rng.choice([1, 2, 4, 8])
    n_items = rng.randint(5, 80)
    place = rng.sample(range(10 * n_items), n_items)  # distinct places, in no item order
    buckets = {
        code: rng.sample(range(n_items), rng.randint(1, min(n_items, 25)))
        for code in range(rng.randint(1, 60))
    }
    kth = {x: rng.choice([2**64 - 1, place[x] + rng.randint(0, 40)]) for x in range(n_items)}
    rows = [(code, x) for code, members in buckets.items() for x in members]
    rng.shuffle(rows)
    if seed % 2:
        rows.sort()  # an index's band rows come sorted by code
    codes = np.array([c for c, _ in rows], dtype=np.uint64)
    pos = np.array([x for _, x in rows], dtype=np.int64)
    got = low_places(
        codes, pos, np.array([place[x] for x in pos], dtype=np.uint64),
        np.array([kth[x] for x in pos], dtype=np.uint64), limit,
    )  # fmt: skip
    want = []
    for x in sorted(set(pos.tolist())):
        found = sorted({place[y] for members in buckets.values() if x in members for y in members if y != x})
        want += [(x << 32) | p for p in found[:limit] if p <= kth[x]]
    assert got.tolist() == want
