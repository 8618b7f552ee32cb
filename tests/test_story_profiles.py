"""The fast profile code of ``_story`` against plain definitions of what it computes.

Grouping sums floats in the order of each profile's keys, so every comparison here checks the
keys' order as well as their values: a profile that differs in either could change a story id.
"""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsdedup._normalize import normalize_text, tokenize
from newsdedup._story import (
    _NAME_RUN,
    _NUMBER,
    _OPENERS,
    _SCORE,
    _SCORE_HINT,
    _STOPWORDS,
    _YEAR,
    StoryConfig,
    TermStats,
    _content_counts,
    _max_numbers,
    _mostly_capitals,
    _names,
    _profile,
    _Vocabulary,
    profile_from_text,
)

FIXTURES = Path(__file__).parent / "fixtures"


# -- the definitions ---------------------------------------------------------------------------


def _content_words(normalized: str) -> list[str]:
    return [t for t in tokenize(normalized) if len(t) > 1 and t not in _STOPWORDS and not t[:1].isdigit()]


def _reference_run_words(run: str) -> tuple[tuple[str, ...], bool]:
    raw = run.split()
    words = [(w, normalize_text(w).strip("'-")) for w in raw]
    words = [(w, f) for w, f in words if len(f) > 1 and f not in _STOPWORDS and not f[:1].isdigit()]
    opener = len(words) == 1 and words[0][0] == raw[0] and not (raw[0].isupper() and len(raw[0]) >= 2)
    return tuple(f for _w, f in words), opener


def _reference_names(text: str) -> Counter[str]:
    """Line by line, letters counted one by one, blanks before a run skipped one by one (the
    definition; the counter's key order is the order names are found in)."""
    out: Counter[str] = Counter()
    for line in unicodedata.normalize("NFKC", text).split("\n"):
        letters = [c for c in line if c.isalpha()]
        if not letters or sum(c.isupper() for c in letters) > 0.6 * len(letters):
            continue
        for m in _NAME_RUN.finditer(line):
            words, opener = _reference_run_words(m.group(0))
            j = m.start() - 1
            while j >= 0 and line[j] in " \t":
                j -= 1
            if opener and (j < 0 or line[j] in _OPENERS):
                continue
            out.update(words)
    return out


def _reference_grouping_profile(title: str, text: str, cfg: StoryConfig) -> dict[str, Any]:
    """What a grouping profile holds, computed the plain way (token by token)."""
    body_norm, title_norm = normalize_text(text), normalize_text(title)
    words = _content_words(title_norm) + _content_words(body_norm)
    numbers = frozenset(
        n
        for n in _NUMBER.findall(unicodedata.normalize("NFKC", text))
        if sum(c.isdigit() for c in n) >= 2 and not _YEAR.match(n)
    )
    dense = len(numbers) >= cfg.min_numbers and len(numbers) >= cfg.number_density * len(words)
    return {
        "terms": list(Counter(words).items()),
        "names": list(_reference_names(f"{title}\n{text}" if title else text).items()),
        "numbers": numbers if dense else frozenset(),
        "scores": frozenset(f"{x}-{y}" for x, y in _SCORE.findall(body_norm)),
        "norm": normalize_text(f"{title}\n{text}" if title else text),
    }


def _as_dict(p: Any) -> dict[str, Any]:
    return {
        "terms": list(p.terms.items()),
        "names": list(p.names.items()),
        "numbers": p.numbers,
        "scores": p.scores,
        "norm": p.norm,
    }


# -- real texts --------------------------------------------------------------------------------


# number-dense wire items (the fixtures above are narrative; these are what the veto is for)
_TABLES = [
    ("ACME CORP SETS QUARTERLY", "Qtly div 12 cts vs 12 cts prior\nPay April 15\nRecord March 31\n"),
    (
        "Northfield Bancorp 4th qtr net",
        "Shr 1.12 dlrs vs 98 cts\nNet 14,250,000 vs 12,470,000\nRevs 181.5 mln vs 166.2 mln\n"
        "Year shr 4.05 dlrs vs 3.61 dlrs\nNet 51,880,000 vs 46,210,000\n",
    ),
    ("", "Arsenal 3-1 Chelsea (Saka 12, 58; Odegaard 77 - Palmer 40). Attendance: 60,216."),
]


def _real_texts() -> list[tuple[str, str]]:
    texts = list(_TABLES)
    texts += [("", p.read_text(encoding="utf-8")) for p in sorted((FIXTURES / "seeds").glob("*.txt"))]
    for line in (FIXTURES / "stories" / "hard_cases.jsonl").read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        texts.append((data.get("title") or "", data["text"]))
    with gzip.open(FIXTURES / "stories" / "semeval_en_pairs.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            for text in (row["text_1"], row["text_2"]):
                title, _, body = text.partition("\n")
                texts.append((title, body) if len(title) <= 250 and body.strip() else ("", text))
    return texts


def test_grouping_profiles_of_real_texts_equal_the_definitions() -> None:
    cfg = StoryConfig()
    vocab = _Vocabulary()  # shared, as assign_stories shares it over a batch
    texts = _real_texts()
    assert len(texts) > 20
    with_numbers = 0
    for i, (title, text) in enumerate(texts):
        got = _profile(f"k{i}", title, text, [], cfg, for_grouping=True, vocab=vocab)
        assert _as_dict(got) == _reference_grouping_profile(title, text, cfg), (title, text[:80])
        with_numbers += bool(got.numbers)
    assert with_numbers  # some texts are number-dense: the numbers are compared too


def test_grouping_and_full_profiles_have_the_same_terms_in_the_same_order() -> None:
    cfg = StoryConfig()
    vocab = _Vocabulary()
    for i, (title, text) in enumerate(_real_texts()):
        lean = _profile(f"k{i}", title, text, [], cfg, for_grouping=True, vocab=vocab)
        full = profile_from_text(f"k{i}", title, text)
        assert list(lean.terms.items()) == list(full.terms.items())
        assert list(lean.names.items()) == list(full.names.items())


def test_profiles_come_through_pickle_equal_with_their_words_shared() -> None:
    """Worker processes send the grouping profiles back pickled: equal, keys in the same order,
    every word one shared (interned) string again, and the shared empty values still shared."""
    import pickle
    import sys

    cfg = StoryConfig()
    vocab = _Vocabulary()
    sent = []
    for i, (title, text) in enumerate(_real_texts()[:12]):
        sent.append(_profile(f"k{i}", title, text, [], cfg, for_grouping=True, vocab=vocab))
        sent.append(profile_from_text(f"f{i}", title, text))
    back = pickle.loads(pickle.dumps(sent))
    assert back == sent
    for got, made in zip(back, sent, strict=True):
        for field in ("title_terms", "terms", "lead", "names"):
            assert list(getattr(got, field).items()) == list(getattr(made, field).items())
            assert type(getattr(got, field)) is type(getattr(made, field))
        assert all(word is sys.intern(word) for word in [*got.terms, *got.names])
    lean = back[0]
    assert lean.lead is sent[0].lead  # the shared empty mapping of a grouping profile


# -- generated texts ---------------------------------------------------------------------------

_PIECES = [
    "Bank", "of", "England", "the", "NATO", "Rutte", "said", "Shares", "However", "D-Mich",
    "O'Neill", "O\u2019Neill", "don't", "rock 'n' roll", "a''b", "Ünal", "école", "São", "Paulo",
    "52nd", "3.5bn", "2.27", "3/16ths", "6-3/16", "1,750", "1,000abc", "a1b2", "x1", "b52",
    "\u00b2abc", "\u0663abc", "\uff11\uff12", "2024", "1987", "3-1", "2 - 2", "4-3-3", "10-year",
    '"We will not back down from this fight,"', "\u201cthe talks collapsed at dawn on Friday\u201d",
    "Mr", "A", "I", "b", "IBM", "U.S.", "Qtly", "div", "cts", "vs", "prior", "\u2014", "\u2013",
    "THE", "MARKET", "CLOSED", "HIGHER",
]  # fmt: skip
_GAPS = [
    " ",
    " ",
    " ",
    "  ",
    "\t",
    " \t ",
    "\n",
    "\n\n",
    "\r",
    "\x0b",
    ". ",
    ".  ",
    ":",
    ", ",
    "(",
    ")",
    "-",
    "_",
    "'",
]
_TEXT = st.lists(st.sampled_from(_PIECES + _GAPS), max_size=60).map("".join)
_SHARED = _Vocabulary()  # kept across examples: a batch's vocabulary sees many texts


@settings(max_examples=300, deadline=None)
@given(title=st.lists(st.sampled_from([*_PIECES, " "]), max_size=8).map("".join), text=_TEXT)
def test_grouping_profiles_of_generated_texts_equal_the_definitions(title: str, text: str) -> None:
    cfg = StoryConfig(min_numbers=2, number_density=0.05)
    got = _profile("k", title, text, [], cfg, for_grouping=True, vocab=_SHARED)
    assert _as_dict(got) == _reference_grouping_profile(title, text, cfg)


@settings(max_examples=300, deadline=None)
@given(title=_TEXT, text=_TEXT | st.text(alphabet=list("aB1 .,'-\n\t\u00e9\u0663\u00b2/")))
def test_content_counts_equal_counting_token_by_token(title: str, text: str) -> None:
    t, b = normalize_text(title), normalize_text(text)
    got = _content_counts(t, b, _SHARED)
    want = Counter(_content_words(t) + _content_words(b))
    assert list(got.items()) == list(want.items())


def test_content_counts_merge_a_word_met_after_digits() -> None:
    # "52nd" holds the token "nd" ("52" is a number token); so does "nd" on its own
    vocab = _Vocabulary()
    got = _content_counts("", normalize_text("the nd of 52nd, 7th and 8th: nd 2.5bn bn"), vocab)
    assert list(got.items()) == [("nd", 3), ("th", 2), ("bn", 2)]


@settings(max_examples=300, deadline=None)
@given(text=_TEXT | st.text(alphabet=list("12 -.:/ayz\n\u0663")))
def test_score_hint_finds_what_the_plain_pattern_finds(text: str) -> None:
    norm = normalize_text(text)
    assert bool(_SCORE_HINT.search(norm)) == bool(re.search(r"\d ?- ?\d", norm))
    assert bool(_SCORE_HINT.search(text)) == bool(re.search(r"\d ?- ?\d", text))


@settings(max_examples=300, deadline=None)
@given(text=_TEXT | st.text(alphabet=list("0123456789.,/ a\uff11\u00b2")))
def test_max_numbers_bounds_the_distinct_numbers(text: str) -> None:
    numbers = {
        n
        for n in _NUMBER.findall(unicodedata.normalize("NFKC", text))
        if sum(c.isdigit() for c in n) >= 2 and not _YEAR.match(n)
    }
    assert _max_numbers(text) >= len(numbers)


@settings(max_examples=300, deadline=None)
@given(text=_TEXT)
def test_names_equal_the_definition(text: str) -> None:
    assert list(_names(text).items()) == list(_reference_names(text).items())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dingell spoke. Dingell left.", []),  # a lone capital after an opener: a sentence start
        ("He said  Dingell left.\tDingell\t\tstayed", [("dingell", 1)]),  # blanks before it
        ("said .  \t Dingell", []),
        ("x \u2014 Dingell", []),  # an em dash opens too
        ("in \rDingell", [("dingell", 1)]),  # a carriage return is not a blank here
        ("House Energy and Commerce\tchairman John  Dingell", None),
        ("WIRE HEADLINE IN CAPITALS\nbut here Rutte spoke", [("rutte", 1)]),
    ],
)
def test_names_of_sentence_starts_and_blanks(text: str, expected: list[tuple[str, int]] | None) -> None:
    got = list(_names(text).items())
    assert got == list(_reference_names(text).items())
    if expected is not None:
        assert got == expected


@settings(max_examples=200, deadline=None)
@given(line=st.text(alphabet=list("aBcÉéÜß1 .\u0663\u01c5\u2160")))
def test_mostly_capitals_counts_letters_like_the_definition(line: str) -> None:
    letters = [c for c in line if c.isalpha()]
    want = not letters or sum(c.isupper() for c in letters) > 0.6 * len(letters)
    assert _mostly_capitals(line) == want


def test_term_stats_of_a_batch_equal_adding_profiles_one_by_one() -> None:
    vocab = _Vocabulary()
    profiles = [
        _profile(f"k{i}", title, text, [], StoryConfig(), for_grouping=True, vocab=vocab)
        for i, (title, text) in enumerate(_real_texts())
    ]
    one_by_one = TermStats()
    for p in profiles:
        one_by_one.add(p)
    batch = TermStats.from_profiles(profiles)
    assert (batch.n_docs, batch.df) == (one_by_one.n_docs, one_by_one.df)
    assert any(set(p.names) - set(p.terms) for p in profiles)  # names that are not terms count too
