"""Banded LSH: parameters derived from the threshold, and bucket bookkeeping."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from datasketch.lsh import _optimal_param
from hypothesis import given, settings
from hypothesis import strategies as st

from newsdedup._exceptions import ConfigError
from newsdedup._fingerprint import MinHashSigner, WordShingler
from newsdedup._index import ArrayLSH, BandedLSH, collision_probability, optimal_bands


@pytest.mark.parametrize("threshold", [0.2, 0.35, 0.5, 0.7, 0.9])
@pytest.mark.parametrize("weights", [(0.5, 0.5), (0.2, 0.8)])
def test_bands_match_datasketch_criterion(threshold: float, weights: tuple[float, float]) -> None:
    """Same weighted FP/FN-area criterion as datasketch's MinHashLSH, so the same (b, r)."""
    assert optimal_bands(threshold, 128, *weights) == _optimal_param(threshold, 128, *weights)


def test_bands_fit_the_signature_and_follow_the_threshold() -> None:
    low_b, low_r = optimal_bands(0.3, 128)
    high_b, high_r = optimal_bands(0.9, 128)
    assert low_b * low_r <= 128
    assert high_b * high_r <= 128
    assert low_r < high_r  # a higher threshold needs longer bands
    # the S-curve passes near the threshold it was tuned for
    assert collision_probability(0.3, low_b, low_r) > 0.5
    assert collision_probability(0.1, high_b, high_r) < 1e-6


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5])
def test_bad_threshold_is_a_config_error(bad: float) -> None:
    with pytest.raises(ConfigError, match="threshold"):
        optimal_bands(bad, 128)


def test_bad_bands_rows() -> None:
    with pytest.raises(ConfigError):
        BandedLSH(bands=0, rows=4)


def _sig(words: list[str], signer: MinHashSigner) -> np.ndarray:
    return signer.sign(WordShingler(3).shingles(words))


def test_insert_query_remove_and_idempotent_reinsert() -> None:
    signer = MinHashSigner(64)
    lsh = BandedLSH.for_threshold(0.5, 64)
    story = [
        "the",
        "central",
        "bank",
        "left",
        "its",
        "key",
        "interest",
        "rate",
        "unchanged",
        "on",
        "thursday",
        "as",
        "expected",
    ]
    copy = [*story, "analysts", "said"]
    other = [
        "heavy",
        "rain",
        "flooded",
        "roads",
        "across",
        "the",
        "region",
        "and",
        "closed",
        "several",
        "schools",
        "for",
        "the",
        "day",
    ]
    lsh.insert("a", _sig(story, signer))
    lsh.insert("b", _sig(other, signer))
    assert "a" in lsh
    assert len(lsh) == 2
    assert "a" in lsh.query(_sig(copy, signer))
    assert "b" not in lsh.query(_sig(copy, signer))
    lsh.insert("a", _sig(story, signer))  # re-inserting a key never raises and never duplicates
    assert len(lsh) == 2
    lsh.remove("a")
    lsh.remove("a")  # removing twice is harmless
    assert "a" not in lsh
    assert lsh.query(_sig(copy, signer)) == set()
    # no empty buckets are left behind
    assert all(bucket for table in lsh._tables for bucket in table.values())


def test_signature_too_short_for_the_index() -> None:
    lsh = BandedLSH(bands=20, rows=8)
    with pytest.raises(ValueError, match="slots"):
        lsh.insert("x", np.zeros(64, dtype=np.uint64))


def test_band_keys_are_the_wrapping_multiply_sum() -> None:
    lsh = BandedLSH(bands=6, rows=4)
    rng = np.random.default_rng(9)
    sig = rng.integers(0, 2**63, size=30, dtype=np.uint64) | np.uint64(1 << 63)  # products wrap
    expected = []
    for band in range(6):
        acc = 0
        for r in range(4):
            acc = (acc + int(sig[band * 4 + r]) * int(lsh._mult[r])) % 2**64
        expected.append(acc ^ (acc >> 29))
    assert lsh.band_keys(sig) == expected


# -- ArrayLSH: the engine's index, against BandedLSH as the reference ------------------------


_ops = st.lists(
    st.tuples(
        st.sampled_from(["insert", "remove", "query"]),
        st.integers(0, 30),  # item key
        st.lists(st.integers(0, 5), min_size=3, max_size=3),  # bucket keys (few: many collisions)
    ),
    max_size=80,
)


@settings(max_examples=80, deadline=None)
@given(_ops)
def test_array_lsh_answers_like_the_dict_index(ops: list[tuple[str, int, list[int]]]) -> None:
    ref, arr = BandedLSH(bands=3, rows=1), ArrayLSH(bands=3, rows=1)
    for op, key, bkeys in ops:
        if op == "insert":
            ref.insert_keys(key, bkeys)
            arr.insert_keys(key, bkeys)
        elif op == "remove":
            ref.remove(key)
            arr.remove(key)
        else:
            assert arr.query_keys(bkeys) == ref.query_keys(bkeys)
        assert len(arr) == len(ref)
        assert (key in arr) == (key in ref)
    queries = np.array([[b, b, b] for b in range(6)], dtype=np.uint64)
    assert arr.query_many(queries) == [ref.query_keys(q.tolist()) for q in queries]


def test_array_lsh_merges_runs_and_compacts_removed_items() -> None:
    rng = np.random.default_rng(3)
    arr = ArrayLSH(bands=4, rows=1)
    keys = rng.integers(0, 1 << 32, size=(20_000, 4), dtype=np.uint64)
    for start in range(0, len(keys), 500):  # one run per "batch", merged as they come
        for i in range(start, start + 500):
            arr.insert_keys(i, keys[i].tolist())
        arr.query_many(keys[start : start + 1])
    assert len(arr._runs) < 10  # log-structured: few runs, not one per batch
    assert arr.query_keys(keys[123].tolist()) == {123}
    for i in range(15_000):
        arr.remove(i)
    arr.query_many(keys[:1])
    # compacted when the removed items became the majority (at 10,001 of 20,000)
    assert sum(len(k) for k, _ in arr._runs) <= 4 * 10_000
    assert arr.query_keys(keys[123].tolist()) == set()
    assert arr.query_keys(keys[19_999].tolist()) == {19_999}
    arr.insert_keys(123, keys[123].tolist())  # re-insert after removal
    assert arr.query_keys(keys[123].tolist()) == {123}
    with pytest.raises(ValueError, match="band keys"):
        arr.insert_keys(1, [1, 2])


def test_array_lsh_bounds_its_insert_buffer_without_queries() -> None:
    """A stream that only inserts (the engine's postponed verification) becomes sorted runs as
    it goes, not a buffer of Python lists; band_rows() then gives every row, sorted."""
    from newsdedup._index import _MAX_PENDING

    rng = np.random.default_rng(4)
    arr = ArrayLSH(bands=3, rows=1)
    keys = rng.integers(0, 1 << 32, size=(3 * _MAX_PENDING + 5, 3), dtype=np.uint64)
    for i, row in enumerate(keys.tolist()):
        arr.insert_keys(i, row)
        assert len(arr._pending_slots) < _MAX_PENDING
    assert arr._runs  # sorted runs made without a query
    # every row once, about ``rows`` at a time, sorted, no bucket split between parts
    parts = list(arr.band_rows(rows=len(keys) + 1))  # the second band is cut between buckets
    assert [len(c) for c, _ in parts] == [len(keys) + 1, len(keys) + 1, len(keys) - 2]
    assert all(a[-1] != b[0] for (a, _), (b, _) in itertools.pairwise(parts))
    codes = np.concatenate([c for c, _ in parts])
    slots = np.concatenate([s for _, s in parts])
    assert len(codes) == len(slots) == keys.size
    assert np.all(codes[1:] >= codes[:-1])
    expected = sorted(
        zip(arr._combined(keys).ravel().tolist(), np.repeat(np.arange(len(keys)), 3).tolist(), strict=True)
    )
    assert sorted(zip(codes.tolist(), slots.tolist(), strict=True)) == expected
    arr.remove(5)
    assert 5 not in np.concatenate([s for _, s in arr.band_rows()]).tolist()
    assert arr.slot_keys()[:3] == [0, 1, 2]
    assert arr.query_keys(keys[17].tolist()) == {17}


def test_deferred_merges_keep_a_run_per_flush_and_answer_the_same() -> None:
    """With merges deferred (an insert-only stream) every flush is a sorted run of its own;
    band rows and queries are those of an index that merged as it went, and once deferring
    ends the next query merges every run at once."""
    from newsdedup._index import _MAX_PENDING

    rng = np.random.default_rng(6)
    keys = rng.integers(0, 50, size=(5 * _MAX_PENDING + 3, 3), dtype=np.uint64)  # many collisions
    merged, deferred = ArrayLSH(bands=3, rows=1), ArrayLSH(bands=3, rows=1)
    deferred.defer_merges()
    for arr in (merged, deferred):
        for i, row in enumerate(keys.tolist()):
            arr.insert_keys(i, row)
        arr.remove(7)
    assert len(deferred._runs) == 5 > len(merged._runs)  # one run per flush of _MAX_PENDING

    def rows(arr: ArrayLSH) -> list[tuple[list[int], list[int]]]:
        return [(c.tolist(), s.tolist()) for c, s in arr.band_rows(rows=4000)]

    assert rows(deferred) == rows(merged)
    assert len(deferred._runs) == 6  # the buffered rest became a run too
    assert deferred.query_many(keys[:50]) == merged.query_many(keys[:50])  # every run searched
    assert len(deferred._runs) == 6
    deferred.defer_merges(False)
    assert deferred.query_many(keys[50:99]) == merged.query_many(keys[50:99])
    assert len(deferred._runs) == 1
    deferred.insert_keys(7, keys[7].tolist())
    merged.insert_keys(7, keys[7].tolist())
    assert deferred.query_keys(keys[7].tolist()) == merged.query_keys(keys[7].tolist())
    assert rows(deferred) == rows(merged)


def test_band_rows_cut_bands_between_buckets() -> None:
    """Parts of about ``rows`` rows: a band is cut where a bucket starts, and a bucket bigger
    than a part is a part alone; the parts together hold every row once, in order."""
    rng = np.random.default_rng(9)
    arr = ArrayLSH(bands=4, rows=1)
    buckets = np.r_[np.zeros(30, dtype=np.uint64), rng.integers(1, 40, size=170, dtype=np.uint64)]
    for i in range(len(buckets)):
        arr.insert_keys(i, [int(buckets[i]) + b for b in range(4)])
    whole = list(arr.band_rows(rows=10**6))
    assert len(whole) == 1
    for rows in (1, 7, 25, 64, 200, 333):
        parts = list(arr.band_rows(rows=rows))
        assert np.array_equal(np.concatenate([c for c, _ in parts]), whole[0][0])
        assert np.array_equal(np.concatenate([s for _, s in parts]), whole[0][1])
        for (a, _), (b, _) in itertools.pairwise(parts):
            assert a[-1] != b[0]  # no bucket spans two parts
        for codes, _ in parts:
            # over ``rows`` only when the part is one bucket (the 30 zeros of a band)
            assert len(codes) <= rows or len(np.unique(codes)) == 1


@pytest.mark.parametrize("then", ["query", "band_rows", "insert", "remove"])
def test_array_lsh_parked_in_a_file_answers_as_before(tmp_path: Path, then: str) -> None:
    """Parked, the bucket arrays leave memory for the file; whatever needs them next loads
    them back, and the index answers exactly as an index that never left memory."""
    rng = np.random.default_rng(5)
    keys = rng.integers(0, 64, size=(3000, 3), dtype=np.uint64)  # few buckets: many collisions
    kept, parked = ArrayLSH(bands=3, rows=1), ArrayLSH(bands=3, rows=1)
    for arr in (kept, parked):
        for i, row in enumerate(keys[:2500].tolist()):
            arr.insert_keys(i, row)
    fh = (tmp_path / "parked").open("w+b")
    handles: list[tuple[int, int]] = []

    def write(data: bytes) -> int:
        fh.seek(0, 2)
        handles.append((fh.tell(), len(data)))
        fh.write(data)
        return len(handles) - 1

    def read(handle: int) -> bytes:
        fh.seek(handles[handle][0])
        return fh.read(handles[handle][1])

    parked._flush()  # the inserts as sorted runs, as park() makes them
    held = parked.nbytes()
    parked.park(write, read)
    assert parked.parked
    assert parked.nbytes() < held / 10
    assert handles
    assert len(parked) == 2500
    assert 7 in parked
    for arr in (kept, parked):
        if then == "insert":
            for i, row in enumerate(keys[2500:].tolist(), start=2500):
                arr.insert_keys(i, row)
        elif then == "remove":
            for i in range(0, 2500, 3):
                arr.remove(i)
    if then == "band_rows":
        assert [(c.tolist(), s.tolist()) for c, s in parked.band_rows(rows=100)] == [
            (c.tolist(), s.tolist()) for c, s in kept.band_rows(rows=100)
        ]
    assert parked.query_many(keys[::7]) == kept.query_many(keys[::7])
    assert not parked.parked
    fh.close()


def test_band_keys_many_equals_one_at_a_time() -> None:
    rng = np.random.default_rng(5)
    sigs = rng.integers(0, 1 << 32, size=(50, 128), dtype=np.uint64)
    lsh = BandedLSH(bands=20, rows=6)
    many = lsh.band_keys_many(sigs)
    assert many.shape == (50, 20)
    assert [row.tolist() for row in many] == [lsh.band_keys(s) for s in sigs]


def test_array_index_after_every_item_was_removed() -> None:
    """Compaction can leave empty runs; queries skip them and new items are found."""
    index = ArrayLSH(bands=2, rows=1)
    for i in range(5000):
        index.insert_keys(f"old{i}", [i, i + 1])
    for i in range(5000):
        index.remove(f"old{i}")
    assert len(index) == 0
    assert index.query_many(np.array([[3, 4], [7, 99]], dtype=np.uint64)) == [set(), set()]
    index.insert_keys("new", [7, 8])
    assert index.query_many(np.array([[3, 4], [7, 99]], dtype=np.uint64)) == [set(), {"new"}]
    assert index.query_keys([1, 8]) == {"new"}  # a bucket is one band's: key 8 in band 2


def test_sorted_run_is_a_stable_argsort() -> None:
    """A flush's run: keys sorted with their slots, equal keys (two items in one bucket) in
    insertion order, as a stable argsort orders them; also for keys too wide for the packed
    sort (the argsort itself then), one item, and an empty buffer."""
    from newsdedup._index import _sorted_run

    rng = np.random.default_rng(5)
    for n, bands, wide in ((4096, 73, False), (700, 16, False), (300, 8, True), (1, 5, False), (0, 4, False)):
        keys = rng.integers(0, 2**32, (n, bands), dtype=np.uint64)
        if n > 2:
            keys[n // 2] = keys[0]
            keys[n - 1, 1:] = keys[1, 1:]
        high = np.arange(bands, dtype=np.uint64) << np.uint64(60 if wide else 32)
        flat = ((keys & np.uint64(0xFFFFFFFF)) | high).ravel()
        slots = rng.permutation(10 * n + 1)[:n].astype(np.int32)
        order = np.argsort(flat, kind="stable")
        got_keys, got_slots = _sorted_run(flat, slots, bands)
        assert np.array_equal(got_keys, flat[order])
        assert np.array_equal(got_slots, np.repeat(slots, bands)[order])
        assert got_slots.dtype == np.int32
