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

__all__ = ["Entities", "entities", "names", "normalize_text", "tokenize"]

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
_FOLD_PAIRS = tuple((chr(k), v or "") for k, v in _FOLD.items())

# The literal comes first and the look-behind after it (``,(?<=\d,)`` is ``(?<=\d),``): the regex
# engine then jumps between commas/apostrophes instead of trying a look-behind at every character.
_THOUSANDS = re.compile(r",(?<=\d,)(?=\d{3}\b)")
_INNER_APOSTROPHE = re.compile(r"'(?<=\w')(?=\w)")
# Scripts written without spaces between words: Han, kana, Thai, Lao, Khmer, Myanmar. Each of
# their characters is a token of its own (shingles are then character k-grams, the usual unit
# for near-duplicate detection in these scripts); as runs of letters, a whole clause was one
# token and a Chinese article had too few of them to be fingerprinted at all.
_UNSPACED = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029"
    "\u3031-\u3035\u3038-\u303c\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\U00020000-\U0003134f"
)
# A token is a run of letters/digits; a decimal point or slash between digits stays inside
# ("2.27", "6-3/16" -> "6", "3/16") so numbers survive as one unit for the entity guard. A token
# that starts with a letter takes every letter and digit after it ("b52", "covid19"); a letter
# of an unspaced script is a token alone (its digits, such as Thai ones, are digits as before).
_TOKEN = re.compile(
    rf"[{_UNSPACED}](?<=[^\W\d_])|\d+(?:[./]\d+)*|[^\W\d_{_UNSPACED}](?:[^\W_{_UNSPACED}]|[{_UNSPACED}](?<=\d))*"
)
# The pattern for a text without any such character (every Latin, Greek, Cyrillic, Arabic or
# Devanagari text): the same tokens, found about 40 % faster than with the unspaced alternatives.
_TOKEN_SPACED = re.compile(r"\d+(?:[./]\d+)*|[^\W\d_][^\W_]*")
_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")
# The same pattern for ASCII text, and for ASCII text without capitals (what normalize_text
# returns for almost every page): narrower classes the regex engine checks faster.
_TOKEN_ASCII = re.compile(r"[0-9]+(?:[./][0-9]+)*|[A-Za-z][A-Za-z0-9]*")
_TOKEN_ASCII_LOWER = re.compile(r"[0-9]+(?:[./][0-9]+)*|[a-z][a-z0-9]*")


def _fold(text: str) -> str:
    """NFKC plus the typographic folds. ASCII text is already NFKC and only its backtick is in
    the fold table, so the common case skips both passes."""
    if text.isascii():
        return text.replace("`", "'") if "`" in text else text
    text = unicodedata.normalize("NFKC", text)
    # str.translate looks every character up in a dict; a scan per folded character (a fast
    # memchr-like search) and a replace for those present is several times cheaper. No
    # replacement is itself a key, so the order of the replaces does not matter.
    for char, repl in _FOLD_PAIRS:
        if char in text:
            text = text.replace(char, repl)
    return text


def normalize_text(text: str) -> str:
    """NFKC, quotes/dashes folded, case-folded, thousands separators and inner apostrophes
    dropped, whitespace collapsed. Punctuation is kept (the tokenizer ignores it) so the same
    string is usable for rapidfuzz alignment."""
    text = _fold(text)
    if "," in text:
        text = _THOUSANDS.sub("", text)
    if "'" in text:
        text = _INNER_APOSTROPHE.sub("", text)
    # str.split() and the regex ``\s`` agree on what whitespace is (both use Py_UNICODE_ISSPACE)
    return " ".join(text.casefold().split())


def tokenize(normalized: str) -> list[str]:
    """Word tokens of an already normalised text (punctuation is a separator)."""
    if normalized.isascii():
        # islower(): at least one letter and no capital, so [a-z] is every letter there is
        return (_TOKEN_ASCII_LOWER if normalized.islower() else _TOKEN_ASCII).findall(normalized)
    return (_TOKEN if _has_unspaced(normalized) else _TOKEN_SPACED).findall(normalized)


def _has_unspaced(text: str) -> bool:
    """Whether ``text`` holds a character of a script written without spaces. A text that
    encodes as Latin-1 cannot (0.1 µs a page, where the search costs about 9)."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return _UNSPACED_CHAR.search(text) is not None
    return False


_NUMBER = re.compile(r"\d+(?:[.,/]\d+)*")
_CAPWORD = re.compile(r"\b[^\W\d_a-z][^\W_]+", re.UNICODE)
# the first word of the text, of a line, or after sentence punctuation (and an opening quote)
_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s+|\n\s*)[\"'(\[]*[^\W\d_][^\W_]*", re.UNICODE)
# The same two patterns for ASCII text (almost all text once folded), where "letter" is [A-Za-z]
# and "capitalised" is [A-Z], each written to start with a character class so the regex engine
# can skip ahead to candidate positions: the word boundary becomes a look-behind after the
# capital, and the sentence start is split into the text's first word (``^``) and the words
# after sentence punctuation or a newline (the lookbehind picks ``\n\s*`` or ``[.!?:]\s+``).
_CAPWORD_ASCII = re.compile(r"[A-Z](?<![A-Za-z0-9_][A-Z])[A-Za-z0-9]+")
_FIRST_WORD_ASCII = re.compile(r"[\"'(\[]*[A-Za-z][A-Za-z0-9]*")
_SENTENCE_START_ASCII = re.compile(r"[.!?:\n](?:(?<=\n)\s*|\s+)[\"'(\[]*[A-Za-z][A-Za-z0-9]*")


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
    text = _names_input(text)
    numbers = Counter(m.group(0).rstrip(".,") for m in _NUMBER.finditer(text))
    return Entities(numbers=numbers, names=Counter(_names(text)))


def names(text: str) -> set[str]:
    """The distinct names :func:`entities` finds (what verification keeps), without counting
    the numbers."""
    return set(_names(_names_input(text)))


def _names_input(text: str) -> str:
    """The text as :func:`names` reads it: folded, thousands separators dropped."""
    text = _fold(text)
    if "," in text:
        text = _THOUSANDS.sub("", text)
    return text


def _names(folded: str) -> list[str]:
    # sentence-initial capitals say nothing about names: blank those words out first
    if folded.isascii():
        first = _FIRST_WORD_ASCII.match(folded)
        if first is None:
            body = _SENTENCE_START_ASCII.sub(" ", folded)
        else:
            body = " " + _SENTENCE_START_ASCII.sub(" ", folded[first.end() :])
        return [w.lower() for w in _CAPWORD_ASCII.findall(body)]
    body = _SENTENCE_START.sub(" ", folded)
    return [w.casefold() for w in _CAPWORD.findall(body) if w[0].isupper()]
