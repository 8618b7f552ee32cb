"""Clustering on the verified-pair graph and the canonical choice."""

from __future__ import annotations

import itertools
import pickle
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from newsdedup._cluster import (
    ComponentPart,
    MemberInfo,
    _attach_leaves,
    _component_labels,
    _need,
    _peel,
    choose_canonical,
    components,
    is_wire_own_site,
    partition,
    partition_pairs,
    split_part,
)


def _graph(pairs: list[tuple[str, str]]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for a, b in pairs:
        edges.setdefault(a, set()).add(b)
        edges.setdefault(b, set()).add(a)
    return edges


def _prio(node: str) -> tuple[object, ...]:
    return (node,)


def test_components_cover_every_node_once() -> None:
    edges = _graph([("a", "b"), ("b", "c"), ("x", "y")])
    comps = components(["a", "b", "c", "x", "y", "z"], edges)
    assert comps == [["a", "b", "c"], ["x", "y"], ["z"]]


def test_clique_is_one_cluster_and_singletons_stay() -> None:
    edges = _graph([("a", "b"), ("b", "c"), ("a", "c")])
    assert partition(["a", "b", "c", "d"], edges, _prio) == [["a", "b", "c"], ["d"]]


def test_a_chain_does_not_become_one_cluster() -> None:
    """Two tight groups joined by one bridge edge stay two clusters."""
    group1 = [("a1", "a2"), ("a1", "a3"), ("a1", "a4"), ("a2", "a3"), ("a2", "a4"), ("a3", "a4")]
    group2 = [("c1", "c2"), ("c1", "c3"), ("c1", "c4"), ("c2", "c3"), ("c2", "c4"), ("c3", "c4")]
    edges = _graph([*group1, *group2, ("a4", "c1")])
    nodes = sorted(edges)
    clusters = partition(nodes, edges, _prio)
    assert sorted(map(tuple, clusters)) == [("a1", "a2", "a3", "a4"), ("c1", "c2", "c3", "c4")]


def test_long_path_is_split() -> None:
    nodes = [f"n{i}" for i in range(8)]
    edges = _graph(list(itertools.pairwise(nodes)))
    clusters = partition(nodes, edges, _prio)
    assert max(len(c) for c in clusters) <= 3
    assert sorted(n for c in clusters for n in c) == sorted(nodes)  # nothing lost, nothing capped


def _story_with_hubs(n: int, hubs: int) -> list[tuple[str, str]]:
    """A big story as bounded verification leaves it: every copy verified against a few hubs,
    the hubs against each other."""
    hub_ids = [f"h{i}" for i in range(hubs)]
    pairs = list(itertools.combinations(hub_ids, 2))
    pairs += [(f"c{i}", h) for i in range(n) for h in hub_ids]
    return pairs


def test_a_copy_verified_against_one_hub_joins_its_story() -> None:
    """Its only verified pair is with the story: alone, it would lose that pair and gain none."""
    pairs = _story_with_hubs(12, 4)
    edges = _graph([*pairs, ("leaf", "h2")])
    clusters = partition(sorted(edges), edges, _prio, max_need=2)
    assert len(clusters) == 1
    assert "leaf" in clusters[0]


def test_copies_that_failed_against_the_centre_join_through_other_hubs() -> None:
    """Two junky copies verified with each other and with two hubs, but not with the hub that
    became the centre: they pass the pruning test, so the star grows to take them."""
    pairs = _story_with_hubs(12, 4)
    pairs += [("j1", "j2"), ("j1", "h2"), ("j1", "h3"), ("j2", "h2"), ("j2", "h3")]
    edges = _graph(pairs)
    clusters = partition(sorted(edges), edges, _prio, max_need=2)
    assert len(clusters) == 1
    assert {"j1", "j2"} <= set(clusters[0])


def test_growth_does_not_follow_a_path() -> None:
    """A node with as many pairs outside the cluster as inside does not join it (with ``>=`` it
    would, and the next node of the path would then be a leaf of the cluster)."""
    clique = list(itertools.combinations(["a", "b", "c", "d"], 2))
    edges = _graph([*clique, ("d", "p1"), ("p1", "p2"), ("p2", "p3")])
    clusters = partition(sorted(edges), edges, _prio)
    assert ["p2", "p3"] in clusters  # p1 (one pair each side) stays with the star it touched


def test_a_node_with_pairs_in_two_clusters_stays_alone() -> None:
    """A bridge between two stories is not a leaf: it joins neither."""

    def group(p: str) -> list[tuple[str, str]]:  # a 5-clique plus a sixth copy verified against four
        clique = list(itertools.combinations([f"{p}{i}" for i in range(1, 6)], 2))
        return [*clique, *((f"{p}6", f"{p}{i}") for i in range(1, 5))]

    edges = _graph([*group("a"), *group("c"), ("x", "a5"), ("x", "c5")])
    clusters = partition(sorted(edges), edges, _prio)
    a_group, c_group = tuple(f"a{i}" for i in range(1, 7)), tuple(f"c{i}" for i in range(1, 7))
    assert sorted(map(tuple, clusters)) == [a_group, c_group, ("x",)]


def test_two_leaves_verified_only_with_each_other_stay_a_pair() -> None:
    """Leaves join a cluster of the peel, never another leaf (that would be a new pair)."""
    edges = _graph([("a", "b")])
    assert partition(["a", "b", "c"], edges, _prio) == [["a", "b"], ["c"]]


def test_partition_is_independent_of_iteration_order() -> None:
    rng = random.Random(5)
    pairs = [(f"n{rng.randrange(30)}", f"n{rng.randrange(30)}") for _ in range(45)]
    pairs = [(a, b) for a, b in pairs if a != b]
    nodes = [f"n{i}" for i in range(30)]
    expected = partition(nodes, _graph(pairs), _prio)
    for _ in range(5):
        rng.shuffle(nodes)
        rng.shuffle(pairs)
        assert partition(nodes, _graph(pairs), _prio) == expected


def _pair_arrays(pairs: list[tuple[str, str]], nodes: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    ids = sorted(nodes, key=lambda n: hash(n) % 97)  # node numbers in no particular order
    at = {n: k for k, n in enumerate(ids)}
    return (
        ids,
        np.array([at[a] for a, _ in pairs], dtype=np.int64),
        np.array([at[b] for _, b in pairs], dtype=np.int64),
    )


def test_partition_of_pair_arrays_equals_partition_of_sets() -> None:
    """Random graphs of stories (dense groups), bridges, paths and isolated nodes, some pairs
    listed twice or both ways: the same clusters from the arrays as from the adjacency sets."""
    rng = random.Random(11)
    for trial in range(60):
        n = rng.randrange(1, 120)
        nodes = [f"n{i:03d}" for i in range(n)]
        pairs = []
        for _ in range(rng.randrange(0, 6)):  # dense groups, not quite complete
            group = rng.sample(nodes, min(n, rng.randrange(2, 25)))
            pairs += [(x, y) for x, y in itertools.combinations(group, 2) if rng.random() < 0.7]
        path = rng.sample(nodes, min(n, rng.randrange(0, 12)))
        pairs += list(itertools.pairwise(path))
        pairs += [(rng.choice(nodes), rng.choice(nodes)) for _ in range(rng.randrange(0, 10))]
        pairs = [(x, y) if rng.random() < 0.5 else (y, x) for x, y in pairs if x != y]
        pairs += pairs[: trial % 4]
        need = None if trial % 3 else 2
        expected = partition(nodes, _graph(pairs), _prio, max_need=need)
        got = partition_pairs(nodes, *_pair_arrays(pairs, nodes), _prio, max_need=need)
        assert got == expected
        # split in parts of whole components (as the engine's workers do), pickled on the way
        rows = rng.randrange(1, 40)
        seen: list[ComponentPart] = []

        def elsewhere(
            parts: Iterator[ComponentPart], need: int | None = need, seen: list[ComponentPart] = seen
        ) -> Iterator[list[list[str]]]:
            for part in parts:
                seen.append(part)
                yield split_part(pickle.loads(pickle.dumps(part)), _prio, need)

        got = partition_pairs(
            nodes, *_pair_arrays(pairs, nodes), _prio, max_need=need, split_parts=elsewhere, part_rows=rows
        )
        assert got == expected
        _check_parts(seen, pairs, rows)
    assert partition_pairs(["b", "a"], ["a", "b"], np.array([]), np.array([]), _prio) == [["a"], ["b"]]


def _check_parts(parts: list[ComponentPart], pairs: list[tuple[str, str]], rows: int) -> None:
    """Every linked node in one part, with its neighbours there; a part holds whole components,
    and only one component more once it has ``rows`` neighbour entries."""
    graph = _graph(pairs)
    names = [n for part in parts for n in part.names]
    assert sorted(names) == sorted(graph)
    for part in parts:
        starts = part.starts.tolist()
        assert starts[0] == 0
        assert starts[-1] == len(part.neighbours)
        for i, name in enumerate(part.names):
            assert {part.names[k] for k in part.neighbours[starts[i] : starts[i + 1]].tolist()} == graph[name]
        comps = part.components.tolist()
        assert comps[0] == 0
        assert comps[-1] == len(part.names)
        assert all(starts[c] < rows for c in comps[1:-1])  # a new component only below rows
        for c0, c1 in itertools.pairwise(comps):
            members = set(part.names[c0:c1])
            assert components(members, graph) == [sorted(members)]


@pytest.mark.parametrize("scipy", [False, True])
def test_component_labels_are_the_components(monkeypatch: pytest.MonkeyPatch, scipy: bool) -> None:
    """Each node labelled with its component's smallest node, by the numpy passes and (for big
    graphs) by scipy."""
    import newsdedup._cluster as clustering

    if scipy:
        monkeypatch.setattr(clustering, "_SCIPY_EDGES", 0)
        assert _component_labels(3, np.array([], dtype=np.int64), np.array([], dtype=np.int64)).tolist() == [
            0,
            1,
            2,
        ]
    rng = random.Random(12)
    for _ in range(40):
        n = rng.randrange(1, 200)
        a = np.array([rng.randrange(n) for _ in range(n)], dtype=np.int64)
        b = np.array([rng.randrange(n) for _ in range(n)], dtype=np.int64)
        label = _component_labels(n, a, b)
        names = [str(k) for k in range(n)]
        comps = components(
            names, _graph([(str(x), str(y)) for x, y in zip(a.tolist(), b.tolist(), strict=True)])
        )
        assert all(label[int(k)] == min(int(x) for x in comp) for comp in comps for k in comp)


def _member(mid: str, shingles: range | list[int], **kw: object) -> MemberInfo:
    arr = np.array(sorted(set(shingles)), dtype=np.uint64)
    return MemberInfo(id=mid, shingles=arr, text_len=len(arr) * 6, **kw)  # type: ignore[arg-type]


def test_wire_own_copy_wins() -> None:
    members = [
        _member("copy", range(120), wire="Reuters", site="newsmax.com"),
        _member("wire", range(100), wire="Reuters", url="https://www.reuters.com/world/x"),
    ]
    assert choose_canonical(members) == ("wire", "wire-own-copy")


def test_truncated_copy_is_never_canonical() -> None:
    members = [
        _member("a-trunc", range(40), published=datetime(2024, 1, 1, tzinfo=UTC)),
        _member("b-full", range(120), published=datetime(2024, 1, 2, tzinfo=UTC)),
    ]
    assert choose_canonical(members) == ("b-full", "not-truncated")


def test_copy_with_leftover_junk_loses_to_the_clean_one() -> None:
    story = list(range(100))
    members = [
        _member("a-junky", [*story, *range(1000, 1030)]),  # 30 shingles nobody else has
        _member("b-clean", story),
        _member("c-clean", [*story[:95], *range(2000, 2003)]),
    ]
    assert choose_canonical(members) == ("b-clean", "most-complete-text")


def test_ties_fall_back_to_earliest_then_smallest_id() -> None:
    t1, t2 = datetime(2024, 5, 1, 9, tzinfo=UTC), datetime(2024, 5, 1, 10, tzinfo=UTC)
    members = [_member("b", range(50), published=t1), _member("a", range(50), published=t2)]
    assert choose_canonical(members) == ("b", "earliest-published")
    members = [_member("b", range(50)), _member("a", range(50))]
    assert choose_canonical(members) == ("a", "smallest-id")
    assert choose_canonical(members[:1]) == ("b", "only-member")


def test_naive_and_aware_times_compare() -> None:
    members = [
        _member("a", range(50), published=datetime(2024, 5, 1, 12)),
        _member("b", range(50), published=datetime(2024, 5, 1, 11, tzinfo=UTC)),
    ]
    assert choose_canonical(members)[0] == "b"


def test_wire_own_site() -> None:
    assert is_wire_own_site("Reuters", "reuters.com", None)
    assert is_wire_own_site("Reuters", None, "https://www.reuters.com/markets/abc")
    assert is_wire_own_site("Associated Press", None, "https://apnews.com/article/x")
    assert not is_wire_own_site("Reuters", "newsmax.com", "https://www.newsmax.com/x")
    assert not is_wire_own_site("Reuters", "notreuters.com", None)
    assert not is_wire_own_site(None, "reuters.com", None)


def test_supported_counts_match_unique_and_isin() -> None:
    from newsdedup._cluster import _supported

    rng = np.random.default_rng(3)
    for _ in range(50):
        base = rng.choice(10_000, size=300, replace=False).astype(np.uint64)
        members = []
        for j in range(int(rng.integers(2, 6))):
            size = 0 if rng.random() < 0.15 else int(rng.integers(1, 200))
            sh = np.unique(rng.choice(base, size=size, replace=False)) if size else np.empty(0, np.uint64)
            members.append(MemberInfo(id=f"m{j}", shingles=sh, text_len=size))
        uniq, counts = np.unique(np.concatenate([m.shingles for m in members]), return_counts=True)
        shared = uniq[counts >= 2]
        expected = [int(np.isin(m.shingles, shared).sum()) for m in members]
        assert _supported(members, [len(m.shingles) for m in members]) == expected


def test_truncation_check_by_size_order_matches_every_pair() -> None:
    """Which members count as truncated copies does not depend on how the bigger members are
    found: on random clusters of nested and overlapping shingle sets, the size-ordered search
    marks exactly the members a test of every ordered pair marks."""
    from newsdedup._cluster import _truncated
    from newsdedup._fingerprint import intersection_size

    def reference(members: list[MemberInfo], containment: float, ratio: float) -> list[bool]:
        out = []
        for m in members:
            n = len(m.shingles)
            out.append(
                any(
                    other is not m
                    and n > 0
                    and len(other.shingles) >= ratio * n
                    and intersection_size(m.shingles, other.shingles) / n >= containment
                    for other in members
                )
            )
        return out

    rng = random.Random(5)
    marked = 0
    for trial in range(300):
        base = rng.sample(range(2000), rng.randrange(20, 400))
        members = []
        for n in range(rng.randrange(2, 12)):
            keep = base[: rng.randrange(0, len(base) + 1)]  # a truncated (or whole, or empty) copy
            extra = rng.sample(range(2000, 4000), rng.randrange(0, 60))  # its own junk
            members.append(_member(f"m{trial}-{n}", [*keep, *extra]))
        containment, ratio = rng.choice((0.7, 0.8, 0.95)), rng.choice((1.0, 1.5, 2.0))
        sizes = [len(m.shingles) for m in members]
        expected = reference(members, containment, ratio)
        assert _truncated(members, sizes, containment, ratio) == expected
        marked += sum(expected)
    assert marked > 100


def _plain_peel(
    comp: list[str], edges: dict[str, set[str]], priority: Any, max_need: int | None
) -> list[list[str]]:
    """Star peeling written plainly (every count taken afresh from the sets): the reference
    for the peel's kept-up-to-date degrees."""
    remaining = set(comp)
    clusters: list[list[str]] = []
    while remaining:
        center = min(remaining, key=lambda n: (-len(edges.get(n, set()) & remaining), priority(n)))
        members = {center} | (edges.get(center, set()) & remaining)
        while len(members) > 1:
            need = _need(len(members), max_need)
            # each member's (inside, outside) verified neighbours, taken afresh
            counts = {
                m: (len(edges.get(m, set()) & members), len(edges.get(m, set()) & (remaining - members)))
                for m in members - {center}
            }
            failing = [m for m, (inside, outside) in counts.items() if inside < need or inside < outside]
            if not failing:
                break
            # the smallest inside - outside goes first, ties to the worst (largest) priority
            members.discard(max(failing, key=lambda m: (counts[m][1] - counts[m][0], priority(m))))
        while True:
            pool = remaining - members
            need = max(1, _need(len(members) + 1, max_need))
            joining = [
                x
                for x in {x for m in members for x in edges.get(m, ()) if x in pool}
                if len(edges[x] & members) >= need and len(edges[x] & members) > len(edges[x] & pool)
            ]
            if not joining:
                break
            members.update(joining)
        clusters.append(sorted(members))
        remaining -= members
    return _attach_leaves(clusters, edges)


def test_peel_equals_the_plain_definition_on_random_graphs() -> None:
    """The peel (degrees kept up to date, the centre's priority asked of tied nodes only)
    gives the clusters of the plain definition on random graphs: dense and sparse, with many
    ties, random priorities, with and without ``max_need``."""
    rng = random.Random(3)
    for trial in range(3000):
        nodes = [f"n{i:02d}" for i in range(rng.randint(1, 24))]
        density = rng.choice((0.1, 0.25, 0.5))
        edges = _graph([(a, b) for a, b in itertools.combinations(nodes, 2) if rng.random() < density])
        rank = {n: rng.randint(0, 3) for n in nodes}

        def priority(n: str, rank: dict[str, int] = rank) -> tuple[object, ...]:
            return (rank[n], n)

        comp = sorted(edges) or nodes[:1]
        max_need = rng.choice((None, 2))
        assert _peel(comp, edges, priority, max_need) == _plain_peel(comp, edges, priority, max_need), trial
