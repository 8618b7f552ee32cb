"""Normalisation: typography folded so shingles only see words."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from newsdedup._normalize import _FOLD, entities, names, normalize_text, tokenize

# The definitions, written the slow obvious way: the fast paths (ASCII shortcuts, literal-first
# regexes, str.split for whitespace) must agree with them on every input.
_REF_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_REF_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")
_REF_TOKEN = re.compile(r"\d+(?:[./]\d+)*|[^\W\d_]+(?:\d+[^\W\d_]*)*")


def _ref_tokenize(text: str) -> list[str]:
    """The tokenizer's definition written out: each letter of an unspaced script (Han, kana,
    Thai, ...) is a token; the text between them is tokenised by :data:`_REF_TOKEN`."""
    from newsdedup._normalize import _UNSPACED

    unspaced = re.compile(f"[{_UNSPACED}]")
    out: list[str] = []
    start = 0
    for i, c in enumerate(text):
        if unspaced.fullmatch(c) and c.isalnum() and not c.isdecimal():  # a letter: \w, not \d
            out += _REF_TOKEN.findall(text[start:i])
            out.append(c)
            start = i + 1
    return out + _REF_TOKEN.findall(text[start:])


_REF_NUMBER = re.compile(r"\d+(?:[.,/]\d+)*")
_REF_CAPWORD = re.compile(r"\b[^\W\d_a-z][^\W_]+")
_REF_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s+|\n\s*)[\"'(\[]*[^\W\d_][^\W_]*")


def _ref_names(text: str) -> list[str]:
    text = _REF_THOUSANDS.sub("", unicodedata.normalize("NFKC", text).translate(_FOLD))
    body = _REF_SENTENCE_START.sub(" ", text)
    return [w.casefold() for w in _REF_CAPWORD.findall(body) if w[0].isupper()]


def _ref_normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_FOLD)
    text = _REF_APOSTROPHE.sub("", _REF_THOUSANDS.sub("", text))
    return re.sub(r"\s+", " ", text.casefold()).strip()


# text built from pieces that exercise every branch: digits with separators, apostrophes,
# backticks, capitals after sentence ends, odd whitespace (NBSP, U+001C, U+2028), non-ASCII
_PIECES = [
    "Acme", "the", "B52", "iPhone", "US", "x", "1,000", "12,34", "9", "2.27", "3/16", "_Q", "a_B",
    "don't", "O'Neil", "`quoted`", " ", "  ", ". ", "! ", "? ", ": ", "\n", "\t", "(", '"', "'",
    "\u00a0", "\x1c", "\u2028", "\u2019", "\u2014", "\u00e9t\u00e9", "\u00c9mile", "\uff11\uff12",
    "\u0661\u0662", "\u00b2", "\ufb01", "\u0130", "Stra\u00dfe", "\u00ad", "-",
    "\u5317\u7ea6", "\u3072\u3089", "\u30ab\u30fc", "\u0e1b\u0e23\u0e30", "\u0e35", "\u0e51\u0e52",
    "\u3007", "\u3005", "\u17b4", "\u1780\u17b6", "\ud55c\uad6d", "\U00020000",
]  # fmt: skip
_texts = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_texts, st.text(max_size=60)))
def test_fast_paths_match_the_reference(text: str) -> None:
    norm = normalize_text(text)
    assert norm == _ref_normalize(text)
    for s in (text, norm):  # tokenize is exact on any string, normalised or not
        assert tokenize(s) == _ref_tokenize(s)
    expected = _ref_names(text)
    assert names(text) == set(expected)
    assert entities(text).names == Counter(expected)


def test_names_of_ascii_and_unicode_text_agree() -> None:
    text = "Talks began. Acme Corp and \u00c9mile Zola met Pfizer in B52 hangar, said IG Metall."
    assert names(text) == {"corp", "\u00e9mile", "zola", "pfizer", "b52", "ig", "metall"}
    assert names(text.replace("\u00c9", "E")) == {"corp", "emile", "zola", "pfizer", "b52", "ig", "metall"}


def test_quotes_dashes_case_and_space_are_folded() -> None:
    fancy = "\u201cWe know,\u201d Zelenskyy\u2019s aide said \u2014 NATO\u00a0chief  Rutte\u2026"
    plain = '"we know," zelenskyys aide said - nato chief rutte...'
    assert normalize_text(fancy) == normalize_text(plain)
    assert tokenize(normalize_text(fancy)) == [
        "we",
        "know",
        "zelenskyys",
        "aide",
        "said",
        "nato",
        "chief",
        "rutte",
    ]


def test_nfkc_and_thousands_separators() -> None:
    # full-width digits and the ligature fold under NFKC; 1,750 and 1750 are one token
    assert tokenize(normalize_text("\uff11\uff12 \ufb01nance 1,750 dlrs")) == [
        "12",
        "finance",
        "1750",
        "dlrs",
    ]
    assert tokenize(normalize_text("at 2.27 times, 6-3/16 pct")) == [
        "at",
        "2.27",
        "times",
        "6",
        "3/16",
        "pct",
    ]


def test_soft_hyphen_and_zero_width_are_dropped() -> None:
    assert normalize_text("Pyong\u00adyang\u200b said") == "pyongyang said"


def test_punctuation_is_a_separator_not_a_token() -> None:
    assert tokenize(normalize_text("U.S.-based firm (Reuters) - said: yes!")) == [
        "u", "s", "based", "firm", "reuters", "said", "yes",
    ]  # fmt: skip


def test_entities_collect_numbers_and_mid_sentence_names() -> None:
    ents = entities("Shares of Acme Corp rose 5 pct to 1,250 dlrs. The company said Tuesday.")
    assert ents.numbers == {"5": 1, "1250": 1}
    assert {"acme", "corp", "tuesday"} <= set(ents.names)
    assert "shares" not in ents.names  # sentence-initial capital
    assert "the" not in ents.names


def test_empty_text() -> None:
    assert normalize_text("  \n\t ") == ""
    assert tokenize("") == []
