"""The engine's accepted pairs as columns (``_dedup._Edges``): lookups, repeated pairs, iteration,
growth, and the hub filter against a plain reimplementation of the dict-of-sets one it replaced."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import pytest

from newsdedup._dedup import _Edges
from newsdedup._hubs import _kth, item_rank
from newsdedup._verify import Verdict


def _v(kind: str = "near-duplicate", j: float = 0.9, c: float = 0.95, align: float = 99.0) -> Verdict:
    return Verdict(True, kind, j, c, align)


def test_lookup_in_both_orders_and_unknown_pairs() -> None:
    e = _Edges()
    near, cut = _v(j=0.1 + 0.2), _v("truncated", 0.31, 0.9, 0.0)  # 0.1 + 0.2: not a float32
    e.add("b", "a", near)
    e.add("a", "c", cut)
    assert e.verdict("a", "b") == e.verdict("b", "a") == near
    assert e.verdict("a", "b").jaccard == 0.1 + 0.2  # type: ignore[union-attr]
    assert e.verdict("c", "a") == cut
    assert e.verdict("b", "c") is None  # both known, never paired
    assert e.verdict("a", "x") is None
    assert e.verdict("x", "y") is None
    assert e.verdict("a", "a") is None
    assert len(e) == 2
    assert list(e.items()) == [("a", "b", near), ("a", "c", cut)]  # a < b, in the order added


def test_empty() -> None:
    e = _Edges()
    assert len(e) == 0
    assert list(e.items()) == []
    assert e.verdict("a", "b") is None
    assert e.hub_edges({}, None) == {}
    assert e.hub_edges({}, 4) == {}


def test_adding_a_pair_again_replaces_its_verdict_like_a_dict() -> None:
    """The dict it replaced: the last verdict wins, the pair keeps its first place."""
    e = _Edges()
    reference: dict[tuple[str, str], Verdict] = {}
    steps = [("a", "b", _v(j=0.6)), ("c", "a", _v(j=0.7)), ("b", "a", _v("truncated", 0.3, 0.8, 85.0))]
    steps += [("d", "c", _v(j=0.8)), ("a", "b", _v(j=0.65)), ("a", "c", _v(j=0.75))]
    for i, (a, b, v) in enumerate(steps):
        e.add(a, b, v)
        reference[(a, b) if a < b else (b, a)] = v
        if i % 2:  # an index built in between must not hide later adds
            assert e.verdict(a, b) == v
    assert len(e) == len(reference)
    assert [((a, b), v) for a, b, v in e.items()] == list(reference.items())
    for (a, b), v in reference.items():
        assert e.verdict(b, a) == v
    assert e.hub_edges({}, None) == {"a": {"b", "c"}, "b": {"a"}, "c": {"a", "d"}, "d": {"c"}}


def test_any_kind_string_round_trips() -> None:
    e = _Edges()
    verdicts = [Verdict(i % 3 != 0, f"kind-{i}", i / 7, i / 9, i / 11) for i in range(40)]
    for i, v in enumerate(verdicts):
        e.add(f"x{i}", f"y{i}", v)
    assert [v for _, _, v in e.items()] == verdicts
    full = _Edges()
    for i in range(256):
        full.add("a", f"b{i}", _v(f"k{i}"))
    with pytest.raises(ValueError, match="256"):
        full.add("a", "c", _v("one-too-many"))


def test_growth_with_lookups_in_between() -> None:
    """Many pairs added in rounds with lookups between them: the columns grow while the index
    built from them is dropped and rebuilt, and every verdict stays exact."""
    rng = random.Random(5)
    e = _Edges()
    reference: dict[tuple[str, str], Verdict] = {}
    ids = [f"it{i}" for i in range(3000)]
    for _ in range(6):
        for _ in range(5000):
            a, b = rng.sample(ids, 2)
            v = _v(
                rng.choice(["near-duplicate", "truncated"]), rng.random(), rng.random(), rng.random() * 100
            )
            e.add(a, b, v)
            reference[(a, b) if a < b else (b, a)] = v
        for a, b in rng.sample(sorted(reference), 200):
            assert e.verdict(b, a) == reference[(a, b)]
    assert len(e) == len(reference) > 25_000
    assert {(a, b): v for a, b, v in e.items()} == reference
    assert e.verdict("it1", "nope") is None


def _reference_hub_edges(
    pairs: Sequence[tuple[str, str]], hubs: Mapping[str, Sequence[int]], limit: int | None
) -> dict[str, set[str]]:
    """The dict-of-sets version the engine used before: adjacency of every pair, then per node
    the neighbours where one side is among the other's ``limit`` lowest-ranked candidates."""
    edges: dict[str, set[str]] = {}
    for a, b in pairs:
        edges.setdefault(a, set()).add(b)
        edges.setdefault(b, set()).add(a)
    if limit is None:
        return edges
    out: dict[str, set[str]] = {}
    for a, nbs in edges.items():
        ka = _kth(hubs.get(a, ()), limit)
        kept = {b for b in nbs if item_rank(b) <= ka or item_rank(a) <= _kth(hubs.get(b, ()), limit)}
        if kept:
            out[a] = kept
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hub_filter_equals_the_dict_of_sets_version(seed: int) -> None:
    rng = random.Random(seed)
    limit = 4
    ids = [f"n{i}" for i in range(300)]
    pairs = [tuple(rng.sample(ids, 2)) for _ in range(1500)]
    e = _Edges()
    for a, b in pairs:
        e.add(a, b, _v())
    # hub lists: full ones (the kth decides), short ones (accept anything), none at all
    hubs: dict[str, list[int]] = {}
    for k in ids:
        size = rng.choice([0, limit, limit, limit, 2])
        if size:
            hubs[k] = sorted(item_rank(x) for x in rng.sample(ids, 12))[:size]
    want = _reference_hub_edges(pairs, hubs, limit)  # type: ignore[arg-type]
    got = e.hub_edges(hubs, limit)
    assert got == want
    everything = _reference_hub_edges(pairs, hubs, None)  # type: ignore[arg-type]
    kept = sum(map(len, want.values()))
    assert 0 < kept < sum(map(len, everything.values()))  # the filter did keep and drop pairs
    assert e.hub_edges(hubs, None) == everything


def test_add_many_equals_adding_one_by_one() -> None:
    rng = random.Random(5)
    steps = []
    for _ in range(300):
        a, b = rng.sample("abcdefghij", 2)
        kind = rng.choice(["near-duplicate", "truncated"])
        steps.append((a, b, _v(kind, rng.random(), rng.random(), rng.uniform(80, 100))))
    one, many = _Edges(), _Edges()
    for a, b, v in steps:
        one.add(a, b, v)
    for at in range(0, len(steps), 37):  # in runs, repeats across and inside runs
        run = steps[at : at + 37]
        table = sorted({(v.accepted, v.kind) for *_, v in run})  # a run's own table of tags
        many.add_many(
            [(a, b) for a, b, _ in run], table, [table.index((v.accepted, v.kind)) for *_, v in run],
            [v.jaccard for *_, v in run], [v.containment for *_, v in run], [v.align for *_, v in run],
        )  # fmt: skip
    assert list(many.items()) == list(one.items())
    assert len(many) == len(one)


def test_verdict_columns_round_trip_through_pickle() -> None:
    import pickle

    from newsdedup._dedup import _Verdicts

    verdicts = [
        Verdict(True, "near-duplicate", 0.1 + 0.2, 0.95, 0.0),
        Verdict(False, "low-similarity", 0.05, 0.2),
        Verdict(True, "truncated", 0.4, 0.93, 87.5),
        Verdict(False, "names-differ", 0.7, 0.8, 91.0),
        Verdict(True, "near-duplicate", 0.61, 0.7, 100.0),
    ]
    cols = pickle.loads(pickle.dumps(_Verdicts.of(verdicts)))
    assert len(cols) == 5
    assert [cols[i] for i in range(5)] == verdicts
    assert cols.tags == ((True, "near-duplicate"), (False, "low-similarity"), (True, "truncated"),
                         (False, "names-differ"))  # fmt: skip
    assert len(_Verdicts.of([])) == 0


def test_deciding_a_run_of_items_equals_deciding_them_one_by_one() -> None:
    """The columnar path (a unit's verdicts from a worker) gives the per-item decisions, edges
    and counts: the first of equal best scores wins, rejected pairs never count."""
    from newsdedup._dedup import Deduplicator, _Verdicts

    rng = random.Random(11)
    kinds = [(True, "near-duplicate"), (True, "truncated"), (False, "low-similarity"), (False, "misaligned")]
    items: list[tuple[str, list[str]]] = []
    verdicts: list[Verdict] = []
    for n in range(200):
        others = [f"o{rng.randrange(60)}" for _ in range(rng.randrange(0, 6))]
        items.append((f"i{n}", others))
        for _ in others:
            accepted, kind = rng.choice(kinds)
            j = rng.choice([0.5, 0.75, 0.9])  # repeated scores: ties
            verdicts.append(Verdict(accepted, kind, j, rng.choice([0.6, 0.9, 0.75]), rng.uniform(0, 100)))
    one, many = Deduplicator(), Deduplicator()
    expected, at = [], 0
    for key, others in items:
        expected.append(one._decide(key, others, verdicts[at : at + len(others)]))
        at += len(others)
    assert many._decide_many(items, _Verdicts.of(verdicts)) == expected
    assert many.decisions == one.decisions
    assert dict(many.stats) == dict(one.stats)
    assert list(many._state.edges.items()) == list(one._state.edges.items())
    # against the rule written out: the first accepted pair with the highest max(j, c)
    at = 0
    for (_key, others), decision in zip(items, expected, strict=True):
        mine = verdicts[at : at + len(others)]
        at += len(others)
        scored = [(max(v.jaccard, v.containment), -i) for i, v in enumerate(mine) if v.accepted]
        if not scored:
            assert decision.status == "new"
            continue
        best = -max(scored)[1]
        assert (decision.duplicate_of, decision.kind) == (others[best], mine[best].kind)
        assert decision.jaccard == round(mine[best].jaccard, 4)
    with pytest.raises(ValueError, match="verdicts"):
        many._decide_many(items[:3], _Verdicts.of(verdicts[:1]))
