"""The local engine's part of the hub relation (:func:`newsdedup._hubs.low_places`) and the
anchors its verification units are cut by (:func:`newsdedup._hubs.unit_anchors`)."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from newsdedup._hubs import (
    _MAX_RANK,
    hub_kth,
    hub_settle,
    kept_pairs,
    low_places,
    mode_anchors,
    settled,
    unit_anchors,
)


@pytest.mark.parametrize("seed", range(8))
def test_low_places_are_each_items_lowest_candidates_within_its_bound(seed: int) -> None:
    """Per item of a part's bucket rows: its ``limit`` lowest candidate places (items sharing
    a bucket with it), without those at or above its current ``kth`` place, as sorted rows
    ``item << 32 | place`` -- against a brute force over the buckets."""
    rng = random.Random(seed)
    limit = rng.choice([1, 2, 4, 8])
    n_items = rng.randint(5, 80)
    place = rng.sample(range(10 * n_items), n_items)  # distinct places, in no item order
    buckets = {
        code: rng.sample(range(n_items), rng.randint(1, min(n_items, 25)))
        for code in range(rng.randint(1, 60))
    }
    # an item's kth is often some item's place, as the merge's is (the known candidate at it
    # is not listed again)
    kth = {
        x: rng.choice([2**64 - 1, place[x] + rng.randint(0, 40), rng.choice(place)]) for x in range(n_items)
    }
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
        want += [(x << 32) | p for p in found[:limit] if p < kth[x]]
    assert got.tolist() == want


@pytest.mark.parametrize("seed", range(6))
def test_low_places_leave_out_the_candidates_the_main_process_knows(seed: int) -> None:
    """With ``known`` (per row a few of its item's places found so far, padded), a part sends
    back only candidates that are not known, and enough of them: merged with the known ones
    they give each item's ``limit`` lowest candidates."""
    rng = np.random.default_rng(seed)
    limit = int(rng.choice([4, 8]))
    n_items = 60
    place = rng.permutation(1000)[:n_items].astype(np.uint64)
    rows = [
        (code, x) for code in range(40) for x in rng.choice(n_items, int(rng.integers(1, 15)), replace=False)
    ]
    codes = np.array([c for c, _ in rows], dtype=np.uint64)
    pos = np.array([x for _, x in rows], dtype=np.int64)
    members: dict[int, set[int]] = {}
    for code, x in rows:
        members.setdefault(code, set()).add(int(x))
    candidates = {
        x: sorted({int(place[y]) for m in members.values() if x in m for y in m if y != x})
        for x in range(n_items)
    }
    known = {x: sorted(rng.choice(found, min(len(found), 3), replace=False).tolist()) if found else []
             for x, found in candidates.items()}  # fmt: skip
    width = 4
    table = np.full((len(pos), width), 0xFFFFFFFF, dtype=np.uint32)
    for row, x in enumerate(pos.tolist()):
        table[row, : len(known[x])] = known[x]
    kth = np.full(len(pos), 2**64 - 1, dtype=np.uint64)
    got = low_places(codes, pos, place[pos], kth, limit, table)
    assert got.tolist() == sorted(set(got.tolist()))
    sent: dict[int, set[int]] = {}
    for row in got.tolist():
        sent.setdefault(row >> 32, set()).add(row & 0xFFFFFFFF)
    for x in range(n_items):
        assert sent.get(x, set()) <= set(candidates[x]) - set(known[x])
        assert sorted({*known[x], *sent.get(x, ())})[:limit] == candidates[x][:limit]
    assert sum(map(len, sent.values())) < sum(min(limit, len(c)) for c in candidates.values())
    # without known places: the plain lowest candidates
    plain = low_places(codes, pos, place[pos], kth, limit)
    assert plain.tolist() == [(x << 32) | p for x in sorted(set(pos.tolist())) for p in candidates[x][:limit]]


def test_merging_new_candidates_keeps_each_items_lowest_places() -> None:
    """The main process's table of each item's ``K`` lowest places, merged part by part
    (``_merge_lows``, places sent twice by stale parts included), holds what one sort of all
    the parts' rows gives."""
    from newsdedup._hubs import _NO_PLACE, _merge_lows

    rng = np.random.default_rng(7)
    limit, n_items = 5, 40
    lows = np.full((n_items, limit), _NO_PLACE, dtype=np.uint32)
    seen: dict[int, set[int]] = {x: set() for x in range(n_items)}
    for _ in range(30):
        items = rng.choice(n_items, int(rng.integers(1, 12)), replace=False)
        rows = []
        for x in sorted(items.tolist()):
            places = sorted({*rng.choice(200, int(rng.integers(1, limit + 1)), replace=False).tolist()})
            places = [p for p in places if p != x][:limit]
            seen[x].update(places)
            rows += [(x << 32) | p for p in places]
        _merge_lows(lows, np.array(rows, dtype=np.uint64))
        for x in range(n_items):
            want = sorted(seen[x])[:limit]
            assert lows[x].tolist() == want + [int(_NO_PLACE)] * (limit - len(want))


def test_pair_lists_give_each_later_item_its_pairs_in_id_order() -> None:
    """``_pair_lists``: per later item (in their order) the other sides of its pairs, sorted
    by id as strings (so "it10" before "it9"), and an empty list for an item without pairs."""
    from newsdedup._hubs import _pair_lists

    ids = ["it9", "it10", "b", "a", "it11", "z"]
    later = ["z", "it11", "it10"]
    slots = np.array([ids.index(k) for k in later], dtype=np.int64)
    pairs = [(4, 0), (4, 1), (4, 3), (5, 2), (5, 0), (5, 3)]  # (later slot, earlier slot)
    hi = np.array([a for a, _ in pairs], dtype=np.int64)
    lo = np.array([b for _, b in pairs], dtype=np.int64)
    assert _pair_lists(ids, later, slots, hi, lo) == [
        ("z", ["a", "b", "it9"]),
        ("it11", ["a", "it10", "it9"]),
        ("it10", []),
    ]


def _random_graph(rng: random.Random) -> tuple[int, np.ndarray, np.ndarray]:
    n = rng.randint(1, 60)
    edges = [(rng.randrange(n), rng.randrange(n)) for _ in range(rng.randint(0, 4 * n))]
    edges = [(a, b) for a, b in edges if a != b]
    a = np.array([e[0] for e in edges], dtype=np.int64)
    b = np.array([e[1] for e in edges], dtype=np.int64)
    return n, a, b


@pytest.mark.parametrize("seed", range(20))
def test_mode_anchors_are_the_most_common_anchor_around_each_node(seed: int) -> None:
    """Against a Counter per node over itself and its neighbours (an edge listed twice counts
    twice), ties to the lowest value."""
    rng = random.Random(seed)
    n, a, b = _random_graph(rng)
    anchor = np.array([rng.randrange(8) * 1_000_003 for _ in range(n)], dtype=np.int64)  # many ties
    seen: list[Counter[int]] = [Counter({int(anchor[x]): 1}) for x in range(n)]
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        seen[x][int(anchor[y])] += 1
        seen[y][int(anchor[x])] += 1
    expected = [min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for c in seen]
    assert mode_anchors(anchor, a, b).tolist() == expected
    none = np.empty(0, dtype=np.int64)
    assert mode_anchors(none, none, none).tolist() == []
    assert mode_anchors(anchor, none, none).tolist() == anchor.tolist()


@pytest.mark.parametrize("seed", range(10))
def test_unit_anchors_take_the_lowest_place_then_the_commonest(seed: int) -> None:
    """First each node's lowest place among it and its earlier sides (``lo`` of its rows as
    ``hi``), then the commonest of those around it."""
    rng = random.Random(seed)
    n, a, b = _random_graph(rng)
    hi, lo = np.maximum(a, b), np.minimum(a, b)
    place = np.array(rng.sample(range(10 * n), n), dtype=np.uint32)
    low = [int(place[x]) for x in range(n)]
    for x, y in zip(hi.tolist(), lo.tolist(), strict=True):
        low[x] = min(low[x], int(place[y]))
    assert unit_anchors(place, hi, lo).tolist() == mode_anchors(np.array(low), hi, lo).tolist()


def test_a_look_alike_candidate_does_not_move_a_copy_to_another_story() -> None:
    """Story A's copy 6 is also paired with story B's hub, ranked below A's hubs: its lowest
    place is B's, but most of what it is paired with is anchored at A's first hub, so it
    stays with A's copies."""
    # places: B's hub 0; A's hubs 1, 2, 3 (paired among themselves); A's copies 4..9, each
    # paired with A's three hubs; copy 6 with B's hub as well
    rows = [(2, 1), (3, 1), (3, 2)] + [(c, h) for c in range(4, 10) for h in (1, 2, 3)] + [(6, 0)]
    hi = np.array([r[0] for r in rows], dtype=np.int64)
    lo = np.array([r[1] for r in rows], dtype=np.int64)
    place = np.arange(10, dtype=np.uint32)
    lowest = place.astype(np.int64)
    np.minimum.at(lowest, hi, place[lo].astype(np.int64))
    assert lowest[6] == 0  # the first step alone moves it to B
    assert unit_anchors(place, hi, lo).tolist() == [0] + [1] * 9


def _hub_lists(rank: list[int], cands: dict[int, list[int]], limit: int) -> dict[str, list[int]]:
    """Per node (named by its number) the ranks of its ``limit`` lowest-ranked candidates."""
    return {str(n): sorted(rank[c] for c in cs)[:limit] for n, cs in cands.items()}


def test_settled_needs_an_accepted_pair_with_each_first_hub() -> None:
    """A node is settled when each of its ``settle_after`` lowest-ranked hubs has an accepted
    pair with it, and it has more hubs than that; a rejected (absent) first-hub pair, or too
    few hubs, leaves it unsettled."""
    rank = [50, 10, 20, 30, 40, 60]  # node 1 ranks lowest, then 2, 3, 4, 0, 5
    cands = {0: [1, 2, 3, 4], 5: [1, 2, 3], 3: [1, 2], 4: [1, 2, 3]}
    hubs = _hub_lists(rank, cands, 4)
    ids = [str(n) for n in range(6)]
    settle = hub_settle(ids, hubs, 2)
    assert settle.tolist() == [20, _MAX_RANK, _MAX_RANK, _MAX_RANK, 20, 20]  # 3 has only 2 hubs
    ranks = np.array(rank, dtype=np.uint64)
    # accepted: 0-1, 0-2 (0 settled); 5-1 only (5 is not: 5-2 was rejected); 3-1, 3-2
    # (3 has no hub beyond its first two); 4-2, 4-1 given the other way round
    a = np.array([0, 0, 5, 3, 3, 2, 1], dtype=np.int64)
    b = np.array([1, 2, 1, 1, 2, 4, 4], dtype=np.int64)
    assert settled(a, b, ranks, settle, 2).tolist() == [True, False, False, False, True, False]
    assert not settled(a[1:], b[1:], ranks, settle, 2)[0]  # 0-1 missing


@pytest.mark.parametrize("seed", range(6))
def test_kept_pairs_with_settle_follow_their_definition(seed: int) -> None:
    """:func:`kept_pairs` with ``settle`` against the rule written out per node on random
    graphs: a node with more than ``m`` hubs whose ``m`` lowest-ranked hubs all have an
    accepted pair with it keeps, from its side, only those; a pair is kept when either side
    keeps it."""
    rng = random.Random(seed)
    n, limit, m = 60, 6, 2
    rank = rng.sample(range(1, 10**6), n)
    cands: dict[int, set[int]] = {k: set() for k in range(n)}
    for _ in range(400):
        x, y = rng.sample(range(n), 2)
        cands[x].add(y)
        cands[y].add(x)
    hubs = {k: sorted(rank[c] for c in cs)[:limit] for k, cs in cands.items()}
    relation = {
        (x, y) for x in range(n) for y in cands[x] if x < y and (rank[y] in hubs[x] or rank[x] in hubs[y])
    }
    accepted = {p for p in relation if rng.random() < 0.8}
    of_rank = {r: k for k, r in enumerate(rank)}

    def done(x: int) -> bool:
        return len(hubs[x]) > m and all(tuple(sorted((x, of_rank[r]))) in accepted for r in hubs[x][:m])

    def keeps(x: int, y: int) -> bool:
        return rank[y] in hubs[x] and (not done(x) or rank[y] in hubs[x][:m])

    want = {(x, y) for x, y in accepted if keeps(x, y) or keeps(y, x)}
    ids = [str(k) for k in range(n)]
    named = {str(k): v for k, v in hubs.items()}
    a = np.array([p[0] for p in sorted(accepted)], dtype=np.int64)
    b = np.array([p[1] for p in sorted(accepted)], dtype=np.int64)
    ranks = np.array(rank, dtype=np.uint64)
    ka, kb = kept_pairs(a, b, ranks, hub_kth(ids, named, limit), hub_settle(ids, named, m), m)
    assert set(zip(ka.tolist(), kb.tolist(), strict=True)) == want
    assert settled(a, b, ranks, hub_settle(ids, named, m), m).tolist() == [done(k) for k in range(n)]
    assert 0 < sum(map(done, range(n))) < n  # both kinds occur
    assert len(want) < len(accepted)
