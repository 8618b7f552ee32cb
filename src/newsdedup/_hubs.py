"""Hub lists from LSH buckets, as arrays: each item's ``max_verify`` lowest-ranked candidates
(items sharing a bucket with it) and the pairs of the hub relation, computed from all the
bucket rows at once rather than one arriving item at a time. The Dask engine runs these per
bucket group; the local engine runs them over its own index when it verifies a stream's pairs
once the stream is read (:meth:`newsdedup.Deduplicator.add_stream`). Also the ranks, the
kept pairs and the adjacency clustering reads from that relation (:func:`hub_edges`)."""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import xxhash

from ._arrays import sorted_unique


def _runs(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and size of every bucket (run of equal codes) of sorted codes."""
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.empty(0, np.int64)
    return starts, np.diff(np.r_[starts, len(codes)])


def _within(starts: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of rows ``(i, j)``, ``i < j``, within each bucket (``starts``, ``sizes``) of
    sorted rows: ``m(m-1)/2`` per bucket of ``m``."""
    firsts: list[np.ndarray] = [np.empty(0, dtype=np.int64)]
    seconds: list[np.ndarray] = [np.empty(0, dtype=np.int64)]
    for k in np.unique(sizes[sizes >= 2]).tolist():
        at = starts[sizes == k]
        i, j = np.triu_indices(k, 1)
        firsts.append((at[:, None] + i[None, :]).ravel())
        seconds.append((at[:, None] + j[None, :]).ravel())
    return np.concatenate(firsts), np.concatenate(seconds)


_LOW32 = np.uint64(0xFFFFFFFF)


class _Numbers(NamedTuple):
    """The items of one bucket group numbered twice: by position (``items`` sorted, ``inverse``
    per row) and by (rank, position) (``num`` per row; per such number the item's position
    ``by_num``, its rank ``ranks`` and its position number ``pnum``). A row
    ``item << 32 | candidate`` of numbers then sorts by item and candidate rank as one
    uint64 (far faster than sorting rows)."""

    num: np.ndarray
    by_num: np.ndarray
    ranks: np.ndarray
    pnum: np.ndarray
    items: np.ndarray
    inverse: np.ndarray


def _numbers(pos: np.ndarray, rank: np.ndarray) -> _Numbers:
    items, inverse = np.unique(pos, return_inverse=True)
    ranks = np.zeros(len(items), dtype=np.uint64)
    ranks[inverse] = rank
    by_rank = np.lexsort((items, ranks))
    number = np.empty(len(items), dtype=np.uint64)
    number[by_rank] = np.arange(len(items), dtype=np.uint64)
    return _Numbers(
        number[inverse], items[by_rank], ranks[by_rank], by_rank.astype(np.uint64), items, inverse
    )


def _bucket_lows(
    codes: np.ndarray, num: np.ndarray, rank_of: np.ndarray, limit: int
) -> tuple[np.ndarray, int, int]:
    """Rows ``member << 32 | low member`` (item numbers of :func:`_numbers`; ``rank_of``: rank
    per number) of every bucket of two or more: each member with every other member whose
    rank is among the ``limit + 1`` lowest distinct ranks of the bucket, and how many rows
    were listed: at most ``m * (limit + 1)`` for a bucket of ``m`` (without rank ties), never
    more than its ``m(m-1)/2`` pairs, whose sum over the buckets comes third.

    Enough for hub lists: a candidate among an item's ``limit`` lowest (distinct) candidate
    ranks has fewer than ``limit`` lower ranks in any bucket they share, so it is among that
    bucket's ``limit + 1`` lowest with the item itself counted. A bucket whose members are
    all low (most buckets: two or three copies) lists its pairs once, made unique over the
    group's buckets (copies share most of their bands) before both directions are taken."""
    if len(codes) > 1 and bool((codes[1:] >= codes[:-1]).all()):
        # codes already sorted (an index's merged run): one sort of (bucket number, member)
        # as a single uint64, about ten times faster than a two-key lexsort
        bucket_no = np.cumsum(np.r_[False, codes[1:] != codes[:-1]]).astype(np.uint64)
        order = np.argsort((bucket_no << np.uint64(32)) | num.astype(np.uint64), kind="stable")
    else:
        order = np.lexsort((num, codes))  # a bucket's members in rank order
    codes, num = codes[order], num[order]
    rank = rank_of[num.astype(np.int64)]
    starts, sizes = _runs(codes)
    first = np.repeat(starts, sizes)  # per row: where its bucket starts
    new = np.r_[True, rank[1:] != rank[:-1]] if len(rank) else np.empty(0, dtype=bool)
    new[starts] = True
    dense = np.cumsum(new)
    dense -= dense[first]  # per row: how many distinct lower ranks its bucket has
    bucket = np.repeat(np.arange(len(starts)), sizes)
    low = np.bincount(bucket, weights=dense <= limit, minlength=len(starts)).astype(np.int64)
    whole = low == sizes  # every member low: all its pairs are needed, each once
    i, j = _within(starts[whole], sizes[whole])
    pairs = sorted_unique((num[i] << np.uint64(32)) | num[j], in_place=True)  # num[i] < num[j]
    a, b = pairs >> np.uint64(32), pairs & _LOW32
    # the other buckets: every member with each low member of its bucket (a prefix)
    fan = np.repeat(np.where(whole, 0, low), sizes)
    member = np.repeat(np.arange(len(codes)), fan)
    # each row's bucket start less where its fan begins, spread once (two spreads took 2.5 times
    # as long on 16M listed rows, *ad hoc*)
    other = np.repeat(first - (np.cumsum(fan) - fan), fan) + np.arange(len(member))
    keep = other != member
    member, other = member[keep], other[keep]
    rows = np.concatenate([pairs, (b << np.uint64(32)) | a, (num[member] << np.uint64(32)) | num[other]])
    return rows, len(i) + len(member), int((sizes * (sizes - 1) // 2).sum())


def _ranked(item: np.ndarray, rank: np.ndarray, limit: int) -> np.ndarray:
    """Over rows sorted by item then rank: which rows hold one of their item's ``limit``
    lowest distinct ranks (a rank shared by several candidates counts once)."""
    if not len(item):
        return np.zeros(0, dtype=bool)
    start = np.r_[True, item[1:] != item[:-1]]
    dense = np.cumsum(start | np.r_[True, rank[1:] != rank[:-1]])
    dense -= np.repeat(dense[start], np.diff(np.r_[np.flatnonzero(start), len(item)]))
    return dense < limit


def _lowest(rows: np.ndarray, limit: int) -> np.ndarray:
    """Rows ``(item, rank)`` or ``(item, rank, candidate)`` (a ``(2, n)`` or ``(3, n)`` uint64
    array) made unique and sorted, then per item only the rows of its ``limit`` lowest
    distinct ranks (candidates that share a rank all stay): the merge of the groups' hub
    lists."""
    rows = rows[:, np.lexsort(rows[::-1])]
    if rows.shape[1]:
        rows = rows[:, np.r_[True, (np.diff(rows, axis=1) != 0).any(axis=0)]]
    return rows[:, _ranked(rows[0], rows[1], limit)]


def _hub_lists(
    codes: np.ndarray, pos: np.ndarray, rank: np.ndarray, limit: int
) -> tuple[_Numbers, np.ndarray, np.ndarray, dict[str, int]]:
    """:func:`hub_rows` as the items' numbers: the numbering, and per hub row its item's
    position number and its candidate's (rank, position) number, sorted by item position
    and candidate rank."""
    n = _numbers(pos, rank)
    lows, listed, bucket_pairs = _bucket_lows(codes, n.num, n.ranks, limit)
    # the item by position number: rows sort by item position, then candidate rank
    lows = (n.pnum[(lows >> np.uint64(32)).astype(np.int64)] << np.uint64(32)) | (lows & _LOW32)
    lows = sorted_unique(lows, in_place=True)  # a candidate met in several buckets once
    item, cand = (lows >> np.uint64(32)).astype(np.int64), (lows & _LOW32).astype(np.int64)
    keep = _ranked(item, n.ranks[cand], limit)
    counts = {"bucket_rows": len(codes), "bucket_pairs": bucket_pairs, "listed_rows": listed}
    return n, item[keep], cand[keep], counts


def hub_rows(
    codes: np.ndarray, pos: np.ndarray, rank: np.ndarray, limit: int
) -> tuple[np.ndarray, dict[str, int]]:
    """With ``max_verify = limit``: per item of these bucket rows (bucket code, item position,
    item rank; every bucket whole), its ``limit`` lowest-ranked candidates there (with ties,
    every candidate holding one of those ranks), as rows ``(item, candidate rank, candidate)``
    (a ``(3, n)`` uint64 array) sorted by item and rank, and row counts."""
    n, item, cand, counts = _hub_lists(codes, pos, rank, limit)
    rows = np.stack([n.items[item].astype(np.uint64), n.ranks[cand], n.by_num[cand].astype(np.uint64)])
    return rows, {**counts, "hub_rows": rows.shape[1]}


def low_places(
    codes: np.ndarray,
    pos: np.ndarray,
    place: np.ndarray,
    kth: np.ndarray,
    limit: int,
    known: np.ndarray | None = None,
) -> np.ndarray:
    """One part of the local engine's hub relation (``Deduplicator._hub_relation``): per item
    of these bucket rows (``codes``, item position ``pos``, and per row its item's ``place``
    in rank order and current ``limit``-th place ``kth``) its ``limit`` lowest candidates
    here, as sorted rows ``item << 32 | candidate's place``, without those at or above the
    item's ``kth`` (the one at it is already known, the ones above cannot be among its
    ``limit`` lowest) and without those in ``known`` (per row, a few of its item's lowest
    places found so far, padded with ``0xFFFFFFFF``): the main process keeps those already.
    A plain function of a part's arrays, so an idle worker process can run it. The rows come
    sorted (the main process merges sorted runs): by item position, then place.

    Places are distinct (they rank the items as their ranks do, ties broken by slot), so
    unlike :func:`hub_rows` this needs no numbering of the items: a bucket's rows sorted by
    place give each member the bucket's ``limit + 1`` lowest as its candidates, cut further
    to those below its ``kth`` by one ``searchsorted``, so no row is listed only to be
    dropped. On the parts of the 1M run's index this was 2.6 times faster than listing every
    member's lows through :func:`_hub_lists` and filtering them after the sort, and leaving
    out the known candidates returns about one row in eighteen."""
    n = len(codes)
    if n < 2:
        return np.empty(0, dtype=np.uint64)
    if bool((codes[1:] >= codes[:-1]).all()):  # an index's band rows: sorted by code
        bucket = np.cumsum(np.r_[False, codes[1:] != codes[:-1]]).astype(np.uint64)
    else:
        bucket = np.unique(codes, return_inverse=True)[1].astype(np.uint64)
    key = (bucket << np.uint64(32)) | place.astype(np.uint64)  # places < 2**32
    order = np.argsort(key)  # keys are distinct: an item has one row per bucket
    key, bucket = key[order], bucket[order]
    starts, sizes = _runs(bucket)
    first = np.repeat(starts, sizes)  # per row: where its bucket starts
    # per member: its bucket's low rows (the first limit + 1) with a place below its kth
    bound = np.minimum(kth[order], _LOW32).astype(np.uint64)
    below = np.searchsorted(key, (bucket << np.uint64(32)) | bound) - first
    fan = np.minimum(np.repeat(np.minimum(sizes, limit + 1), sizes), below)
    # the listed rows (about seven per input row) as 32-bit row numbers and places: with
    # 64-bit ones a part of 262,144 rows peaked 43 MB higher than the numbered listing before
    member = np.repeat(np.arange(n, dtype=np.int32), fan)
    other = np.repeat((first - np.cumsum(fan) + fan).astype(np.int32), fan)
    other += np.arange(len(member), dtype=np.int32)
    keep = other != member
    member = order.astype(np.int32)[member[keep]]  # as input rows
    found = (key & _LOW32).astype(np.uint32)[other[keep]]  # their places
    del other, keep
    if known is not None and known.shape[1] and len(member):
        # a column at a time: a (listed rows x width) gather took about 40 MB more per worker
        new = np.ones(len(member), dtype=bool)
        for column in np.ascontiguousarray(known.T, dtype=np.uint32):
            new &= column[member] != found
        member, found = member[new], found[new]
    rows = (pos[member].astype(np.uint64) << np.uint64(32)) | found
    rows = sorted_unique(rows, in_place=True)
    if not len(rows):
        return rows
    item = rows >> np.uint64(32)
    start = np.flatnonzero(np.r_[True, item[1:] != item[:-1]])
    within = np.arange(len(rows)) - np.repeat(start, np.diff(np.r_[start, len(rows)]))
    return rows[within < limit]


def hub_edges(
    ids: Sequence[str],
    a: np.ndarray,
    b: np.ndarray,
    rank: np.ndarray | None = None,
    kth: np.ndarray | None = None,
) -> dict[str, set[str]]:
    """The verified edges clustering uses, as an adjacency (both directions) of the pairs
    ``ids[a[i]] - ids[b[i]]``: all of them, or given each node's :func:`item_rank` and
    :func:`hub_kth` (``max_verify``), only the pairs where one side is among the other's
    lowest-ranked candidates (see :meth:`newsdedup.Deduplicator._hub_pairs`) -- the same set in any
    input order. The filter runs on the arrays; sets are built only for the kept pairs."""
    if rank is not None and kth is not None:
        a, b = kept_pairs(a, b, rank, kth)
    src, dst = np.concatenate((a, b)), np.concatenate((b, a))
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    out: dict[str, set[str]] = {}
    if not len(src):
        return out
    start = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
    bounds = np.r_[start, len(src)].tolist()
    targets = [ids[k] for k in dst.tolist()]
    for k, lo, hi in zip(src[start].tolist(), bounds[:-1], bounds[1:], strict=True):
        out[ids[k]] = set(targets[lo:hi])
    return out


def kept_pairs(
    a: np.ndarray,
    b: np.ndarray,
    rank: np.ndarray,
    kth: np.ndarray,
    settle: np.ndarray | None = None,
    settle_after: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The accepted pairs ``a[i] - b[i]`` where one side is among the other's lowest-ranked
    candidates (:func:`item_rank` of each node, :func:`hub_kth` of its hub list).

    With ``settle`` (:func:`hub_kth` of each hub list at ``settle_after``, see
    :func:`settled`): a settled node keeps from its own side only the pairs with its
    ``settle_after`` lowest hubs; what the other side keeps stays."""
    if settle is None:
        keep = (rank[b] <= kth[a]) | (rank[a] <= kth[b])
    else:
        done = settled(a, b, rank, settle, settle_after)
        keep = ((rank[b] <= kth[a]) & (~done[a] | (rank[b] <= settle[a]))) | (
            (rank[a] <= kth[b]) & (~done[b] | (rank[a] <= settle[b]))
        )
    return a[keep], b[keep]


def settled(
    a: np.ndarray, b: np.ndarray, rank: np.ndarray, settle: np.ndarray, settle_after: int
) -> np.ndarray:
    """Per node, whether it is *settled*: it has more hubs than ``settle_after`` and an
    accepted pair (``a[i] - b[i]``, each pair once) with each of its ``settle_after``
    lowest-ranked ones. ``settle`` holds each node's ``settle_after``-th hub rank when it has
    more hubs than that, else the highest uint64 (such a node is never settled: all its hubs
    are among its first ones anyway).

    A settled copy is placed in its story by those pairs, and its pairs with the rest of its
    hubs are neither verified (postponed verification) nor clustered on: in a big story they
    are most of the pairs. A copy with a rejected pair among its first hubs keeps all of them:
    a junky or truncated copy, or one of a look-alike story, is what the other hubs are for."""
    bounded = settle != _MAX_RANK
    count = np.bincount(a[rank[b] <= settle[a]], minlength=len(rank)) + np.bincount(
        b[rank[a] <= settle[b]], minlength=len(rank)
    )
    out: np.ndarray = bounded & (count >= settle_after)
    return out


def hub_bounds(
    ids: Sequence[str], hubs: Mapping[str, Sequence[int]], limit: int, settle_after: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`hub_kth` at ``limit`` and, with ``settle_after``, :func:`hub_settle`, from one
    look-up of each id's hub list (at a million ids, the two passes took about 1.5 s on one
    core after verification, this one about 0.6 s)."""
    lists = list(map(hubs.get, ids, itertools.repeat(())))
    kth = np.fromiter(
        (h[-1] if len(h) == limit else _MAX_RANK for h in lists), dtype=np.uint64, count=len(lists)
    )
    if settle_after is None:
        return kth, None
    return kth, _settle_of(lists, settle_after)


def _settle_of(lists: Sequence[Sequence[int]], settle_after: int) -> np.ndarray:
    return np.fromiter(
        (h[settle_after - 1] if len(h) > settle_after else _MAX_RANK for h in lists),
        dtype=np.uint64,
        count=len(lists),
    )


def hub_settle(ids: Sequence[str], hubs: Mapping[str, Sequence[int]], settle_after: int) -> np.ndarray:
    """Per id, the ``settle_after``-th lowest rank of its hub list when the list is longer,
    else the highest uint64 (the ``settle`` of :func:`settled`)."""
    return _settle_of(list(map(hubs.get, ids, itertools.repeat(()))), settle_after)


def hub_kth(ids: Sequence[str], hubs: Mapping[str, Sequence[int]], limit: int) -> np.ndarray:
    """Per id, :func:`_kth` of its hub list as a uint64 array. A list that is not full gives the
    highest uint64 instead of :data:`_NO_RANK` (which does not fit): no rank is above it
    either, so :func:`hub_edges` keeps the same pairs."""
    return hub_bounds(ids, hubs, limit)[0]


def _merge_lows(lows: np.ndarray, rows: np.ndarray) -> None:
    """Merge rows ``item << 32 | place`` (sorted; new candidates from :func:`low_places`) into
    ``lows``, per item its ``K`` lowest places (ascending, padded with ``_NO_PLACE``), in place:
    the touched items' old and new places sorted together, made unique (a stale part may send
    a place merged already), the lowest ``K`` kept."""
    if not len(rows):
        return
    limit = lows.shape[1]
    item = (rows >> np.uint64(32)).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, item[1:] != item[:-1]])
    items = item[starts]
    group = np.repeat(np.arange(len(items), dtype=np.uint64), np.diff(np.r_[starts, len(item)]))
    old = np.take(lows, items, axis=0).ravel()
    held = old != _NO_PLACE
    old_group = np.repeat(np.arange(len(items), dtype=np.uint64), limit)[held]
    merged = sorted_unique(
        np.concatenate([(old_group << np.uint64(32)) | old[held], (group << np.uint64(32)) | (rows & _LOW32)])
    )
    group = (merged >> np.uint64(32)).astype(np.int64)
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    within = np.arange(len(merged)) - np.repeat(first, np.diff(np.r_[first, len(merged)]))
    keep = within < limit
    lows[items] = _NO_PLACE
    lows[items[group[keep]], within[keep]] = merged[keep] & _LOW32


def id_order(ids: Sequence[Hashable]) -> np.ndarray:
    """The slots of ``ids`` sorted by id (what :func:`_pair_lists` orders pairs by; about 0.5 s
    at 1M items, so a caller listing pairs twice computes it once)."""
    return np.array(sorted(range(len(ids)), key=ids.__getitem__), dtype=np.int64)  # type: ignore[arg-type]


def _pair_lists(
    ids: Sequence[Hashable],
    later: list[str],
    later_slots: np.ndarray,
    hi: np.ndarray,
    lo: np.ndarray,
    by_id: np.ndarray | None = None,
) -> list[tuple[str, list[str]]]:
    """Per item of ``later`` (slots ``later_slots``) the ids of its pairs' other sides
    (``hi[i]`` paired with ``lo[i]``, slots of ``ids``) in id order: one sort of the pair
    rows by item and the other side's place in id order, not a list per item built and sorted
    in Python (about 9 s at 1M items, 7.6M pairs). ``by_id``: :func:`id_order` of ``ids``."""
    if by_id is None:
        by_id = id_order(ids)
    place = np.empty(len(ids), dtype=np.int64)
    place[by_id] = np.arange(len(ids), dtype=np.int64)
    rows = sorted_unique((hi << np.int64(32)) | place[lo], in_place=True)
    others = np.array(ids, dtype=object)[by_id[rows & np.int64(0xFFFFFFFF)]].tolist()
    item = rows >> np.int64(32)
    ends = np.searchsorted(item, later_slots, side="right").tolist()
    starts = np.searchsorted(item, later_slots, side="left").tolist()
    return [(key, others[s:e]) for key, s, e in zip(later, starts, ends, strict=True)]


def unit_anchors(place: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Per item (slot of ``place``, its place in rank order) the anchor the verification units
    are cut by (:func:`newsdedup._dedup._units`): first each item's lowest place among it and
    its pairs' earlier sides (``hi[i]`` paired with ``lo[i]``), mostly its story's first hub;
    then the anchor most common among the item and its pairs' other sides (ties: the lowest).

    The second step is for look-alike stories: a copy that is also a candidate of another
    story's lower-ranked hub took that story's anchor, was cut into that story's units, and
    its own story's hubs were rebuilt there as well. On the 1M run's pairs (*ad hoc*
    replay), docs needed per item fell from 1.84 to 1.48 with units of 2,048 pairs, and to
    1.21 with units of 8,192."""
    anchor = place.astype(np.int64)
    np.minimum.at(anchor, hi, place[lo].astype(np.int64))
    return mode_anchors(anchor, hi, lo)


def mode_anchors(anchor: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per node ``0..len(anchor)-1``, the value of ``anchor`` most common among the node and
    its neighbours under the edges ``a[i] - b[i]`` (each edge counted once per side; ties: the
    lowest value). Values must fit 32 bits. One sort of (node, value) rows, then run lengths:
    no per-node Python work."""
    n = len(anchor)
    anchor = anchor.astype(np.int64, copy=False)
    rows = np.concatenate([np.arange(n, dtype=np.int64), a, b]) << np.int64(32)
    rows |= np.concatenate([anchor, anchor[b], anchor[a]])
    rows.sort()
    starts = np.flatnonzero(np.diff(rows, prepend=-1))  # one run per (node, value)
    counts = np.diff(starts, append=len(rows))
    runs = rows[starts]
    del rows, starts
    node = runs >> np.int64(32)
    firsts = np.flatnonzero(np.diff(node, prepend=-1))  # every node has its own row
    most = np.repeat(np.maximum.reduceat(counts, firsts), np.diff(firsts, append=len(runs)))
    best = np.flatnonzero(counts == most)
    best = best[np.diff(node[best], prepend=-1) != 0]  # the first (lowest value) per node
    return runs[best] & np.int64(0xFFFFFFFF)


_NO_RANK = 1 << 64
"""Above every rank: a hub list that is not full yet accepts any candidate."""


_MAX_RANK = (1 << 64) - 1


_NO_PLACE = np.uint32(0xFFFFFFFF)  # an empty slot of a hub relation row of places


def _kth(ranks: Sequence[int], limit: int) -> int:
    """The highest rank a full hub list holds; above every rank while it is not full."""
    return ranks[-1] if len(ranks) == limit else _NO_RANK


def item_rank(item_id: str) -> int:
    """A fixed pseudo-random rank per id: big stories' hubs are their lowest-ranked copies."""
    return xxhash.xxh3_64_intdigest(item_id.encode("utf-8"), seed=0x6875_6273)


def ranks_of(ids: Sequence[Hashable]) -> np.ndarray:
    """:func:`item_rank` of each id (as a string), as a uint64 array."""
    return np.fromiter((item_rank(str(k)) for k in ids), dtype=np.uint64, count=len(ids))
