"""Text normalisation shared by fingerprinting and verification.

Two copies of one wire story differ in typography long before they differ in words: curly vs
straight quotes, en/em dashes, non-breaking spaces, full-width digits, "1,750" vs "1750". All of
that is folded here so that shingles (and therefore MinHash signatures) only see the words.
The clean-article stage has already removed boilerplate and wire attribution; nothing here
deletes content.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

__all__ = ["Entities", "entities", "normalize_text", "tokenize"]

# Typographic variants folded to one ASCII form before tokenising.
_FOLD = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
        "`": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"', "\u2039": "'", "\u203a": "'",
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
        "\u2212": "-", "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None,
        "\ufeff": None,
    }
)  # fmt: skip

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_INNER_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")
# A token is a run of letters/digits; a decimal point or slash between digits stays inside
# ("2.27", "6-3/16" -> "6", "3/16") so numbers survive as one unit for the entity guard.
_TOKEN = re.compile(r"\d+(?:[./]\d+)*|[^\W\d_]+(?:\d+[^\W\d_]*)*", re.UNICODE)
_WS = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFKC, quotes/dashes folded, case-folded, thousands separators and inner apostrophes
    dropped, whitespace collapsed. Punctuation is kept (the tokenizer ignores it) so the same
    string is usable for rapidfuzz alignment."""
    text = unicodedata.normalize("NFKC", text).translate(_FOLD)
    text = _THOUSANDS.sub("", text)
    text = _INNER_APOSTROPHE.sub("", text)
    return _WS.sub(" ", text.casefold()).strip()


def tokenize(normalized: str) -> list[str]:
    """Word tokens of an already normalised text (punctuation is a separator)."""
    return _TOKEN.findall(normalized)


_NUMBER = re.compile(r"\d+(?:[.,/]\d+)*")
_CAPWORD = re.compile(r"\b[^\W\d_a-z][^\W_]+", re.UNICODE)
# the first word of the text, of a line, or after sentence punctuation (and an opening quote)
_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s+|\n\s*)[\"'(\[]*[^\W\d_][^\W_]*", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Entities:
    """Numbers and capitalised names of a text, as multisets (for the formulaic-story guard)."""

    numbers: Counter[str]
    names: Counter[str]


def entities(text: str) -> Entities:
    """Numeric tokens and mid-sentence capitalised words of the *original* text.

    Template stories (dividend notices, "Fed adds reserves", sports results) share almost every
    word and differ in exactly these tokens, so they are what the guard compares.
    """
    text = unicodedata.normalize("NFKC", text).translate(_FOLD)
    text = _THOUSANDS.sub("", text)
    numbers = Counter(m.group(0).rstrip(".,") for m in _NUMBER.finditer(text))
    # sentence-initial capitals say nothing about names: blank those words out first
    body = _SENTENCE_START.sub(" ", text)
    names = Counter(w.casefold() for w in _CAPWORD.findall(body) if w[0].isupper())
    return Entities(numbers=numbers, names=names)
