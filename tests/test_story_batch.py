"""The batch helpers of ``_story`` grouping against the plain computations they replace.

Grouping must give the same stories bit for bit, so each helper is compared with the simple
code it stands for: the batch statistics with :meth:`TermStats.from_profiles`, the one-sort
ordering with ``np.lexsort``, and names found with a batch's shared run table with names found
text by text.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsdedup._story import (
    StoryConfig,
    TermStats,
    _names,
    _profile,
    _RunWords,
    _strongest_first,
    _Vocabulary,
    _Words,
)

FIXTURES = Path(__file__).parent / "fixtures"


def _texts() -> list[str]:
    out = [p.read_text(encoding="utf-8") for p in sorted((FIXTURES / "seeds").glob("*.txt"))]
    for line in (FIXTURES / "stories" / "hard_cases.jsonl").read_text(encoding="utf-8").splitlines():
        out.append(json.loads(line)["text"])
    with gzip.open(FIXTURES / "stories" / "semeval_en_pairs.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            out += [row["text_1"], row["text_2"]]
    return out


def test_batch_statistics_equal_from_profiles() -> None:
    vocab = _Vocabulary()
    cfg = StoryConfig()
    profiles = [
        _profile(f"k{i}", "", text, [], cfg, for_grouping=True, vocab=vocab)
        for i, text in enumerate(_texts())
    ]
    words = _Words.of(profiles)
    got, want = words.stats(), TermStats.from_profiles(profiles)
    assert (got.n_docs, got.df) == (want.n_docs, want.df)
    assert any(set(p.names) - set(p.terms) for p in profiles)  # names that are not terms count too
    # each row keeps its keys' order
    for r, p in enumerate(profiles):
        lo, hi = words.term_offsets[r], words.term_offsets[r + 1]
        assert [words.words[i] for i in words.term_ids[lo:hi]] == list(p.terms)
        lo, hi = words.name_offsets[r], words.name_offsets[r + 1]
        assert [words.words[i] for i in words.name_ids[lo:hi]] == list(p.names)


def test_batch_statistics_of_nothing() -> None:
    stats = _Words.of([]).stats()
    assert (stats.n_docs, stats.df) == (0, {})


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.lists(
            st.tuples(st.integers(0, 30), st.sampled_from([0.0, -0.0, 0.5, 1.0, 1.5, 2.0, 1e-300])),
            max_size=12,
        ),
        max_size=8,
    )
)
def test_strongest_first_equals_lexsort(rows: list[list[tuple[int, float]]]) -> None:
    # a word at most once per row, as in a profile's keys
    rows = [list(dict(r).items()) for r in rows]
    row_of = np.array([r for r, row in enumerate(rows) for _ in row], dtype=np.int64)
    rank = np.array([w for row in rows for w, _ in row], dtype=np.int64)
    weight = np.array([x for row in rows for _, x in row], dtype=np.float64)
    want = np.lexsort((rank, -weight, row_of))
    assert np.array_equal(_strongest_first(row_of, weight, rank), want)


def test_strongest_first_falls_back_before_the_key_overflows() -> None:
    row_of = np.array([0, 0, 1], dtype=np.int64)
    rank = np.array([1 << 61, 3, 5], dtype=np.int64)
    weight = np.array([1.0, 1.0, 2.0])
    assert np.array_equal(_strongest_first(row_of, weight, rank), np.lexsort((rank, -weight, row_of)))


@pytest.mark.parametrize("limit", [1, 3, 1 << 16])
def test_names_with_a_shared_run_table_equal_names_alone(limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("newsdedup._story._MAX_RUNS", limit)
    runs = _RunWords()
    for text in _texts():
        assert list(_names(text, runs).items()) == list(_names(text).items())
    assert len(runs) <= limit
