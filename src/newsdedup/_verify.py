"""Verification of every LSH candidate pair on the clean text (always on).

LSH only proposes pairs; this module decides. A pair is accepted when

* the exact shingle-set Jaccard reaches ``threshold`` (near-duplicate), **or** the shingle
  containment ``|A ∩ B| / |smaller|`` reaches ``containment_threshold`` and the smaller text
  aligns with the *start* of the larger one (a truncated copy keeps the top of the story; a
  short item quoted in the middle of a longer page is not a copy of it);
* rapidfuzz confirms the alignment: the head of the smaller text is found in the larger one
  with ``fuzz.partial_ratio`` of at least ``min_align``;
* the formulaic-story guard passes: template stories (dividend notices, "Fed adds reserves",
  sports results) share nearly all words and differ in numbers and names. The two token
  sequences are aligned and every short replaced block holding a number (or a name) on both
  sides is a *substitution*; more than ``max_number_mismatch`` of the smaller text's numbers
  substituted (default 5 %: one in twenty) -- unless the text is long enough to hold
  ``tokens_per_substitution`` (100) tokens per substitution, so one stray "5 comments" /
  "12 comments" line left on two long copies does not split them -- or at least two name
  substitutions and more than ``max_name_mismatch`` of its names, rejects the pair. Text only one side has (a longer copy,
  leftover page junk, a teaser) is an insertion and never counts against the pair.

The decision is symmetric in its two arguments, which keeps clustering independent of input
order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import LCSseq, Levenshtein

from ._arrays import sorted_unique, unique_inverse
from ._fingerprint import (
    Shingler,
    any_in_sorted,
    head_and_prefix,
    intersection_size,
    number_hashes_of,
    token_ids,
)
from ._normalize import _names_input, names, normalize_text, tokenize

__all__ = [
    "Alphabet",
    "Doc",
    "PairVerifier",
    "Sketch",
    "Verdict",
    "Verifier",
    "is_number",
    "numbers_within",
    "substitutions",
]


class Doc:
    """What verification needs of one eligible item.

    The shingle set is always there (every candidate pair compares it first); the word tokens,
    names and number count are computed on first use, because most candidate pairs are decided
    on the shingles alone and the engine never makes a Python object per token otherwise.
    """

    __slots__ = (
        "_alphabet", "_codes", "_folded", "_ids", "_names", "_number_hashes", "_numbers", "_packed",
        "_spans", "_tokens", "head", "key", "norm", "prefix", "shingles", "text",
    )  # fmt: skip

    def __init__(
        self,
        key: str,
        norm: str,
        shingles: np.ndarray,
        *,
        text: str | None = None,
        tokens: list[str] | None = None,
        names: frozenset[str] | None = None,
        numbers: int | None = None,
        number_hashes: np.ndarray | None = None,
        head: np.ndarray | None = None,
        prefix: np.ndarray | None = None,
        ids: np.ndarray | None = None,
        spans: np.ndarray | None = None,
    ) -> None:
        self.key = key
        self.norm = norm
        """Normalised text (see :func:`newsdedup._normalize.normalize_text`)."""
        self.shingles = shingles
        """Sorted unique shingle hashes."""
        self.text = text
        """The clean text the names are read from (None: ``names`` was given)."""
        self._tokens = tokens
        self._names = names
        self._numbers = numbers
        self._number_hashes = number_hashes
        self.head = head
        """The first shingles in text order (None: unknown, no truncated-copy shortcut)."""
        self.prefix = prefix
        """Sorted shingles of the first fifth of the text (see ``head_and_prefix``)."""
        self._folded: tuple[str, str] | tuple[()] | None = None
        self._ids = ids
        self._alphabet: Alphabet | None = None
        self._codes: str | None = None
        self._spans = spans
        self._packed: bytes | None = None
        """The buffer this doc was unpickled from, while its arrays are all still the views of
        it: pickled again as it is (a doc a worker made goes on to the verification workers
        without being packed again, about 11 µs of 15)."""

    @property
    def tokens(self) -> list[str]:
        """Word tokens of ``norm``."""
        if self._tokens is None:
            self._tokens = tokenize(self.norm)
        return self._tokens

    @property
    def token_ids(self) -> list[int]:
        """The tokens as fixed-seed hashes (:func:`newsdedup._fingerprint.token_ids`): what
        the token alignment compares. A batch-built doc has them without any token strings.
        Kept as an array (8 bytes a token) and listed on each call (a few microseconds; the
        alignment is twice as fast on a list): a cached list would double a cached doc's size."""
        return self.id_array().tolist()

    def id_array(self) -> np.ndarray:
        """:attr:`token_ids` as the array it is kept as."""
        if self._ids is None:
            self._ids = token_ids(self.tokens)
            self._packed = None
        return self._ids

    def share_alphabet(self, alphabet: Alphabet | None) -> None:
        """Align this doc by :meth:`token_codes` in ``alphabet`` (None: by its token ids)."""
        if alphabet is not self._alphabet:
            self._alphabet, self._codes = alphabet, None

    def token_codes(self) -> str | None:
        """The tokens as one character each in the shared alphabet (None: no alphabet, or it
        is full): what the alignment compares when both docs share one. An ASCII text's number
        tokens are marked in the alphabet as it is coded (see :meth:`Alphabet.numbers`)."""
        if self._codes is None and self._alphabet is not None:
            self._codes = self._alphabet.code(self.token_ids)
            if self._codes is not None and self.norm.isascii():
                self._alphabet.add_numbers(self.number_hashes.tolist())
        return self._codes

    def token_slice(self, start: int, end: int) -> list[str]:
        """``tokens[start:end]``, cut from ``norm`` by the batch's token offsets when the full
        token list was never made (only the few replaced tokens of an alignment are needed)."""
        if self._tokens is None and self._spans is not None:
            end = min(end, len(self._spans))
            if start >= end:
                return []
            # tokens start and end on token boundaries: the slice of text between the first
            # one's start and the last one's end tokenises to exactly these tokens
            return tokenize(self.norm[int(self._spans[start, 0]) : int(self._spans[end - 1, 1])])
        return self.tokens[start:end]

    def n_tokens(self) -> int:
        """How many word tokens the text has."""
        if self._ids is not None:
            return len(self._ids)
        return len(self.tokens)

    @property
    def names(self) -> frozenset[str]:
        """Case-folded mid-sentence capitalised words of the original text (likely names)."""
        if self._names is None:
            self._names = frozenset(names(self.text if self.text is not None else self.norm))
        return self._names

    @property
    def numbers(self) -> int:
        """How many number tokens the text has."""
        if self._numbers is None:
            if self._tokens is None and self._spans is not None and self._number_hashes is not None:
                # an ASCII batch doc: its number multiset is already known
                self._numbers = len(self._number_hashes)
            else:
                self._numbers = count_numbers(self.tokens)
        return self._numbers

    @property
    def number_hashes(self) -> np.ndarray:
        """The multiset of the text's number tokens (:func:`is_number`) as sorted hashes."""
        if self._number_hashes is None:
            self._number_hashes = number_hashes(self.tokens)
            self._packed = None
        return self._number_hashes

    def has_name(self, tokens: Iterable[str]) -> bool:
        """Whether any of ``tokens`` (word tokens of :attr:`norm`) is one of :attr:`names`.

        When the text folds to ASCII (almost every text) this is found where the tokens occur,
        without extracting the names (a regex pass over the whole text, about 40 µs, made again
        each time a doc is rebuilt): :func:`_ascii_name` applies the name rule to each
        occurrence, with the same outcome as looking the token up in :attr:`names`."""
        folded = self._folded
        if folded is None:
            text = self.text if self.text is not None else self.norm
            text = _names_input(text)
            folded = self._folded = (text, text.lower()) if text.isascii() else ()
        if not folded:
            names = self.names
            return any(t in names for t in tokens)
        text, low = folded
        return any(_ascii_name(t, text, low) for t in tokens)

    def __repr__(self) -> str:
        return f"Doc({self.key!r}, {len(self.shingles)} shingles)"

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Sent to worker processes, pair by pair: the arrays travel as one buffer (pickling
        # six numpy arrays one by one cost more than verifying the pair), and the caches
        # derived from the rest stay behind.
        packed = self._packed
        if packed is None:  # (a doc that came from another process goes on as it came)
            spans = self._spans.view(np.uint64).ravel() if self._spans is not None else None
            packed = _pack((self.shingles, self._number_hashes, self.head, self.prefix, self._ids, spans))
        return (
            _unpack_doc,
            (self.key, self.norm, self.text, packed, self._tokens, self._names, self._numbers),
        )

    @classmethod
    def from_text(
        cls,
        key: str,
        text: str,
        shingler: Shingler,
        *,
        norm: str | None = None,
        tokens: list[str] | None = None,
    ) -> Doc:
        """Everything verification needs, from a clean text (``norm``/``tokens`` if already known)."""
        norm = normalize_text(text) if norm is None else norm
        tokens = tokenize(norm) if tokens is None else tokens
        sequence = getattr(shingler, "sequence", None)
        if sequence is None:
            return cls(key, norm, shingler.shingles(tokens), text=text, tokens=tokens)
        seq = sequence(tokens)
        head, prefix = head_and_prefix(seq)
        return cls(key, norm, sorted_unique(seq), text=text, tokens=tokens, head=head, prefix=prefix)


class Sketch:
    """The part of a :class:`Doc` the shingle-only verdicts need (a few KB, no text): kept for
    many more items than full docs, so a candidate whose doc left the cache is rejected, or
    decisively accepted, without re-reading and re-parsing its stored text."""

    __slots__ = ("_packed", "_parts", "head", "key", "number_hashes", "prefix", "shingles")
    shingles: np.ndarray
    number_hashes: np.ndarray
    head: np.ndarray | None
    prefix: np.ndarray | None

    def __init__(self, doc: Doc) -> None:
        self.key = doc.key
        # copied into one buffer of its own: a doc that came from a worker holds views of one
        # buffer with its token ids and spans as well, and a cached sketch holding those views
        # kept that whole buffer (2.6 times the sketch) alive long after the doc left its cache
        self._set(_pack((doc.shingles, doc.number_hashes, doc.head, doc.prefix)))

    def _set(self, packed: bytes) -> None:
        # the arrays are views of ``packed``, which they keep alive anyway: holding it costs
        # nothing and makes to_bytes free (packing again cost about 1.6 s of the 2.5 s the
        # sketches' spill took once a million items were read, on one core)
        self._packed = packed
        shingles, number_hashes, self.head, self.prefix = _unpack(packed, 4)
        assert shingles is not None
        assert number_hashes is not None
        self.shingles, self.number_hashes = shingles, number_hashes
        self._parts = (shingles, number_hashes, self.head, self.prefix)

    def __repr__(self) -> str:
        return f"Sketch({self.key!r}, {len(self.shingles)} shingles)"

    def __reduce__(self) -> tuple[object, tuple[str, bytes]]:
        return (Sketch.from_bytes, (self.key, self.to_bytes()))

    def to_bytes(self) -> bytes:
        """The four uint64 arrays as one buffer (their lengths first; a missing head or prefix
        is the length ``2**64 - 1``): what the engine spills when the sketch leaves its cache,
        read back by :meth:`from_bytes` without pickling."""
        current = (self.shingles, self.number_hashes, self.head, self.prefix)
        if all(a is b for a, b in zip(current, self._parts, strict=True)):
            return self._packed
        return _pack(current)  # an array was replaced since

    @classmethod
    def from_bytes(cls, key: str, data: bytes) -> Sketch:
        """The sketch :meth:`to_bytes` wrote (the arrays are read-only views of ``data``)."""
        sketch = cls.__new__(cls)
        sketch.key = key
        sketch._set(data if isinstance(data, bytes) else bytes(data))
        return sketch


_NO_PART = (1 << 64) - 1


def _pack(parts: tuple[np.ndarray | None, ...]) -> bytes:
    """Arrays of 64-bit values as one buffer: their lengths (``_NO_PART``: None), then the data."""
    lengths = np.array([_NO_PART if p is None else len(p) for p in parts], dtype=np.uint64)
    return np.concatenate(
        [lengths, *(p for p in parts if p is not None)], dtype=np.uint64, casting="unsafe"
    ).tobytes()


def _unpack(data: bytes, count: int) -> list[np.ndarray | None]:
    """The ``count`` arrays :func:`_pack` wrote, as read-only uint64 views of ``data``."""
    values = np.frombuffer(data, dtype=np.uint64)
    parts: list[np.ndarray | None] = []
    at = count
    for n in values[:count].tolist():
        if n == _NO_PART:
            parts.append(None)
        else:
            parts.append(values[at : at + n])
            at += n
    return parts


def _unpack_doc(
    key: str,
    norm: str,
    text: str | None,
    packed: bytes,
    tokens: list[str] | None,
    names: frozenset[str] | None,
    numbers: int | None,
) -> Doc:
    shingles, number_hashes, head, prefix, ids, spans = _unpack(packed, 6)
    assert shingles is not None
    doc = Doc(
        key, norm, shingles, text=text, tokens=tokens, names=names, numbers=numbers,
        number_hashes=number_hashes, head=head, prefix=prefix, ids=ids,
        spans=spans.view(np.int32).reshape(-1, 2) if spans is not None else None,
    )  # fmt: skip
    doc._packed = packed
    return doc


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of comparing two documents, with the scores behind it."""

    accepted: bool
    kind: str
    """``near-duplicate`` / ``truncated`` when accepted; else the rejection reason."""
    jaccard: float
    containment: float
    align: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The verdict as JSON-ready fields (scores rounded as a decision's are)."""
        return {
            "accepted": self.accepted,
            "kind": self.kind,
            "jaccard": round(self.jaccard, 4),
            "containment": round(self.containment, 4),
            "align": round(self.align, 2),
        }

    def __reduce__(self) -> tuple[type[Verdict], tuple[bool, str, float, float, float]]:
        # Workers send back millions of verdicts in a long run: unpickled through the
        # constructor, a verdict costs less than half of what the default state functions of
        # a slots dataclass cost (they look the fields up again for every object).
        return (Verdict, (self.accepted, self.kind, self.jaccard, self.containment, self.align))


class Verifier(Protocol):
    def verify(self, a: Doc, b: Doc) -> Verdict: ...


_NUMBER_WORDS = frozenset(
    {
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
        "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
        "hundred", "thousand", "million", "billion", "trillion", "half", "quarter", "third", "nil",
    }
)  # fmt: skip


def is_number(token: str) -> bool:
    """Digits, or a number word ("two billion" and "2 billion" fill the same slot)."""
    return token[:1].isdigit() or token in _NUMBER_WORDS


def count_numbers(tokens: list[str]) -> int:
    """How many tokens are numbers (exactly as :func:`is_number` counts them)."""
    # is_number inlined: a Python call per token was most of the cost
    return len([t for t in tokens if t in _NUMBER_WORDS or t[:1].isdigit()])


def number_hashes(tokens: list[str]) -> np.ndarray:
    """Sorted hashes of the number tokens (:func:`is_number`) -- what
    :meth:`newsdedup._fingerprint.BatchShingler.tokens` computes for a whole batch."""
    return number_hashes_of([t for t in tokens if t in _NUMBER_WORDS or t[:1] in _DIGITS])


def numbers_within(small: np.ndarray, large: np.ndarray) -> bool:
    """Whether every number of ``small`` is also in ``large`` (as multisets of sorted hashes):
    then no number of the smaller text was replaced by another one."""
    if len(small) > len(large):
        return False
    if not len(small):
        return True
    if len(small) == len(large):  # sorted multisets of one size: within means equal
        return bool(np.array_equal(small, large))
    if len(large) <= 64:
        # a merge walk over short lists beats three numpy calls (most texts hold few numbers)
        big = large.tolist()
        j, end = 0, len(big)
        for x in small.tolist():
            while j < end and big[j] < x:
                j += 1
            if j == end or big[j] != x:
                return False
            j += 1
        return True
    lo = np.searchsorted(large, small, side="left")
    hi = np.searchsorted(large, small, side="right")
    # the k-th copy of a value in small needs a k-th copy in large
    first = np.searchsorted(small, small, side="left")
    rank = np.arange(len(small)) - first
    return bool(np.all(hi - lo > rank))


_DIGITS = frozenset("0123456789")


_SENTENCE_QUOTES = frozenset("\"'([")
"""What may open a sentence before its first word (see ``_SENTENCE_START_ASCII``)."""


def _ascii_name(token: str, text: str, low: str) -> bool:
    """Whether ``token`` is one of the names :func:`newsdedup._normalize.names` finds in the
    ASCII ``text`` (as folded for it by :func:`newsdedup._normalize._names_input`; ``low`` its
    lower-case copy): some occurrence of the token is a whole capitalised word of two or more
    characters that does not start a sentence. The rule's regular expressions, read per
    occurrence: ``_CAPWORD_ASCII`` (a capital, not after a word character, then the rest of
    the letter-or-digit run) over the text with ``_FIRST_WORD_ASCII`` and
    ``_SENTENCE_START_ASCII`` blanked (the first word, opening quotes allowed, and a word after
    ``.!?:`` and whitespace or after a newline)."""
    n = len(token)
    if n < 2 or not "a" <= token[0] <= "z":
        return False
    size = len(text)
    at = low.find(token)
    while at >= 0:
        end = at + n
        if (
            "A" <= text[at] <= "Z"
            and (end == size or not text[end].isalnum())
            and (at == 0 or not (text[at - 1].isalnum() or text[at - 1] == "_"))
            and not _starts_sentence(text, at)
        ):
            return True
        at = low.find(token, at + 1)
    return False


def _starts_sentence(text: str, at: int) -> bool:
    """Whether the word at ``at`` is blanked as a sentence's first word (see
    :func:`_ascii_name`): after any opening quotes, it is the text's first word, or comes after
    whitespace that holds a newline or follows one of ``.!?:``."""
    k = at
    while k > 0 and text[k - 1] in _SENTENCE_QUOTES:
        k -= 1
    if k == 0:
        return True
    if not text[k - 1].isspace():
        return False
    m = k - 1
    while m > 0 and text[m - 1].isspace():
        m -= 1
    return "\n" in text[m:k] or (m > 0 and text[m - 1] in ".!?:")


class Alphabet:
    """One character per distinct token id, for the docs of one unit of pairs.

    rapidfuzz aligns two ``str`` in about half the time of two lists of ints, and a list of
    token ids had to be made for each alignment (about a tenth of its cost); a doc is coded
    once and aligned in several pairs. Any one-to-one coding gives the alignment of the ids:
    only which tokens are equal matters. A unit's docs are coded together
    (:meth:`code_docs`); a doc that joins later is coded when first aligned (:meth:`code`).
    Codes skip the surrogate range; an alphabet that runs out of characters codes nothing
    more (the docs are then aligned by their ids)."""

    __slots__ = ("_codes", "_vocab", "numbers")
    _LIMIT = 0x10FFFF + 1 - 0x800

    def __init__(self) -> None:
        self._codes: dict[int, str] = {}
        self._vocab: np.ndarray | None = None
        """The sorted ids :meth:`code_docs` coded (code ``k`` for ``_vocab[k]``), until
        :meth:`code` needs them as ``_codes``."""
        self.numbers: set[str] = set()
        """Codes of number tokens (:func:`is_number`), from the ASCII texts coded so far: whether
        a token is a number depends only on the token, and in an ASCII text the batch's number
        tokens are exactly :func:`is_number`'s (a non-ASCII one may start with another digit)."""

    def add_numbers(self, ids: list[int]) -> None:
        """Mark ``ids`` (already coded) as number tokens."""
        self.numbers.update(map(self._codes.__getitem__, ids))

    def code_docs(self, docs: Sequence[Doc]) -> None:
        """Share this alphabet with ``docs`` (a unit's) and code them all at once: the unit's
        distinct ids sorted once (:func:`newsdedup._arrays.unique_inverse`) and every doc's
        codes cut from one decoded string. Coding them one by one as the alignment asked took
        about a fifth of a unit's verification (listing each doc's ids as Python ints, then a
        dict look-up per token); most of a unit's docs are asked. Only a fresh alphabet codes in bulk, and one whose
        unit has more distinct tokens than codes codes them one by one as before."""
        for doc in docs:
            doc.share_alphabet(self)
        if self._codes or self._vocab is not None or not docs:
            return
        ids = [doc.id_array() for doc in docs]
        vocab, inverse = unique_inverse(np.concatenate(ids))
        if len(vocab) > self._LIMIT:
            return
        text = _code_text(inverse)
        at = 0
        for doc, part in zip(docs, ids, strict=True):
            doc._codes = text[at : at + len(part)]
            at += len(part)
        self._vocab = vocab
        numbers = [doc.number_hashes for doc in docs if doc.norm.isascii()]
        if numbers:  # see numbers: an ASCII text's number tokens, as Doc.token_codes marks them
            wanted = np.unique(np.concatenate(numbers))
            at_vocab = np.minimum(np.searchsorted(vocab, wanted), len(vocab) - 1)
            self.numbers.update(_code_text(at_vocab[vocab[at_vocab] == wanted]))

    def code(self, ids: list[int]) -> str | None:
        if self._vocab is not None:  # coded in bulk: the same codes go on for the ids of later docs
            count = len(self._vocab)
            self._codes = dict(zip(self._vocab.tolist(), _code_text(np.arange(count)), strict=True))
            self._vocab = None
        codes = self._codes
        out = list(map(codes.get, ids))
        if None in out:
            for i, (x, c) in enumerate(zip(ids, out, strict=True)):
                if c is None:
                    c = codes.get(x)
                    if c is None:
                        n = len(codes)
                        if n >= self._LIMIT:
                            return None
                        c = codes[x] = chr(n if n < 0xD800 else n + 0x800)
                    out[i] = c
        return "".join(out)  # type: ignore[arg-type]


def _code_text(codes: np.ndarray) -> str:
    """:class:`Alphabet` codes (non-negative integers below ``Alphabet._LIMIT``) as their
    characters, in one string: the surrogate range (0xD800-0xDFFF) is skipped, as
    :meth:`Alphabet.code` skips it."""
    points = codes.astype(np.uint32)
    points[points >= 0xD800] += np.uint32(0x800)
    return points.tobytes().decode("utf-32-le")


def substitutions(a: Doc, b: Doc, *, max_block: int = 3, min_names: int = 0) -> tuple[int, int]:
    """(numbers substituted, names substituted) between two texts.

    The token sequences are aligned (rapidfuzz Levenshtein opcodes over word tokens); a
    substitution is a short ``replace`` block (at most ``max_block`` tokens on each side) with
    a number -- or a capitalised name -- on *both* sides: the same slot of a template filled
    with a different value. Insertions and deletions (a longer copy, leftover page junk, a
    teaser) never count, and neither do long rewritten blocks.

    ``min_names``: a names count below it is given as 0, and the blocks' names are looked up
    only while it can still be reached (the guard only asks whether there are two or more:
    most aligned pairs have fewer than two short blocks without a number, and a block's names
    cost about 7 µs, as much as the alignment).
    """
    if b.key < a.key:  # the alignment's tie-breaks depend on argument order: fix it
        a, b = b, a
    # aligned as token codes in the docs' shared alphabet, else as integer ids (about twice as
    # fast as token strings)
    alphabet = a._alphabet
    left = a.token_codes() if alphabet is not None and alphabet is b._alphabet else None
    right = b.token_codes() if left is not None else None
    if alphabet is not None and left is not None and right is not None:
        ops = Levenshtein.opcodes(left, right)
        # a replaced block's numbers are read from its codes where the alphabet marks them (an
        # ASCII text's: see Alphabet.numbers), else from its tokens cut from the text
        numbers = alphabet.numbers
        coded_a, coded_b = a.norm.isascii(), b.norm.isascii()
    else:
        ops = Levenshtein.opcodes(a.token_ids, b.token_ids)
        left = right = ""
        numbers = set()
        coded_a = coded_b = False
    nums = 0
    named: list[tuple[int, int, int, int]] = []  # short blocks without a number substituted
    # a replaced block's tokens are read back as strings only when it is short enough to count
    for op in ops:
        if op.tag != "replace":
            continue
        i, j, k, m = op.src_start, op.src_end, op.dest_start, op.dest_end
        if j - i > max_block or m - k > max_block:
            continue
        if (not numbers.isdisjoint(left[i:j]) if coded_a else any(map(is_number, a.token_slice(i, j)))) and (
            not numbers.isdisjoint(right[k:m]) if coded_b else any(map(is_number, b.token_slice(k, m)))
        ):
            nums += 1
        else:
            named.append((i, j, k, m))
    names = 0
    for done, (i, j, k, m) in enumerate(named):
        if names + len(named) - done < min_names:
            return nums, 0  # the blocks left cannot bring the count to min_names
        if a.has_name(a.token_slice(i, j)) and b.has_name(b.token_slice(k, m)):
            names += 1
    return nums, names if names >= min_names else 0


_MIN_NAME_SUBSTITUTIONS = 2
"""The fewest name substitutions the guard rejects a pair on (with more than
``max_name_mismatch`` of its names); the guard has :func:`substitutions` count no fewer."""


def may_align(head: str, text: str, min_align: float) -> bool:
    """False only when no window of ``text`` can reach ``min_align`` against ``head`` in
    rapidfuzz's ``partial_ratio``: proven with a few bit-parallel LCS lengths, where the
    partial ratio scores every window (about 0.1 ms for a 300-char head on a 700-char text).

    The partial ratio scores windows of ``text`` as ``200 * LCS / (n + w)`` (``n = len(head)``,
    ``w`` the window's length): windows of ``n`` chars anywhere, which pass only with
    ``LCS >= min_align * n / 100``, and shorter ones at either end of the text, bounded by
    :func:`_ends_may_align`. The full-length windows are walked with jumps: sliding a window
    by ``d`` chars adds ``d`` chars to it, so its LCS grows by at most ``d``, and a window
    short of the bound by ``d`` rules out the ``d - 1`` windows after it. A walk that needs
    more than about twice the steps of a fixed stride gives up (True: the scan decides)."""
    n = len(head)
    if not n or len(text) <= n or not 0 < min_align < 100:
        return True
    if _ends_may_align(head, text, min_align):
        return True
    need = min_align * n / 100.0 - 1.0  # a char of slack for the float rounding of the cutoff
    last = len(text) - n  # where the last full-length window starts
    budget = 8 + 2 * (last // max(1, n // 4))
    start = 0
    while start <= last:
        if budget == 0:
            return True
        budget -= 1
        lcs = LCSseq.similarity(head, text[start : start + n])
        if lcs >= need:
            return True
        start += max(1, math.ceil(need - lcs))
    return False


def _ends_may_align(head: str, text: str, min_align: float, steps: int = 24) -> bool:
    """Whether a window shorter than the head at either end of ``text`` (``text[:w]`` or
    ``text[-w:]``, ``w < n``) might reach ``min_align``; it scores ``200 * L(w) / (n + w)``
    with ``L(w)`` its LCS with the head.

    One LCS per end rules most ends out: ``L(w)`` is at most ``m = L(n)`` and at most ``w``,
    so no window scores above ``200 * m / (n + m)``. Otherwise the lengths are walked up from
    the shortest that could pass even wholly matched, with jumps: ``d`` more characters add at
    most ``d`` to the LCS, so a length whose score falls short rules out the next lengths up
    to where ``200 * (L + d) / (n + w + d)`` reaches the cutoff. More than ``steps`` lengths
    at an end give up (True: the scan decides)."""
    n = len(head)
    cutoff = min_align - 0.01  # float slack
    first = max(1, math.floor(cutoff * n / (200.0 - cutoff)))  # shorter ones score below cutoff
    for prefix in (True, False):
        m = LCSseq.similarity(head, text[:n] if prefix else text[-n:])
        if 200.0 * m / (n + max(m, 1)) < cutoff:
            continue  # no window at this end can pass
        w, left = first, steps
        while w < n:
            if left == 0:
                return True
            left -= 1
            lcs = LCSseq.similarity(head, text[:w] if prefix else text[-w:])
            if 200.0 * lcs / (n + w) >= cutoff:
                return True
            w += max(1, math.ceil((cutoff * (n + w) - 200.0 * lcs) / (200.0 - cutoff)))
    return False


class PairVerifier:
    """The default verifier; every knob is a keyword with a documented default."""

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        containment_threshold: float = 0.7,
        min_align: float = 80.0,
        head_chars: int = 300,
        max_start_offset: float = 0.2,
        max_number_mismatch: float = 0.05,
        max_name_mismatch: float = 0.1,
        tokens_per_substitution: int = 100,
        decisive_jaccard: float = 0.8,
        decisive_containment: float = 0.9,
    ) -> None:
        self.threshold = threshold
        self.decisive_jaccard = decisive_jaccard
        self.decisive_containment = decisive_containment
        self.containment_threshold = containment_threshold
        self.min_align = min_align
        self.head_chars = head_chars
        self.max_start_offset = max_start_offset
        self.max_number_mismatch = max_number_mismatch
        self.max_name_mismatch = max_name_mismatch
        self.tokens_per_substitution = tokens_per_substitution

    def verify(self, a: Doc, b: Doc) -> Verdict:
        first = self._on_shingles(a, b)
        if isinstance(first, Verdict):
            return first
        kind, jac, cont, small, large = first
        assert isinstance(small, Doc)
        assert isinstance(large, Doc)

        head = small.norm[: self.head_chars]
        found = large.norm.find(head) if head else -1
        if found >= 0:
            # the head occurs verbatim: partial_ratio is 100 there, found by a substring search
            # (C speed) instead of rapidfuzz's window scan
            score, start = 100.0, found
        else:
            score, start = self._anchored(kind, head, large.norm) or (0.0, 0)
            if score < self.min_align and kind == "near-duplicate":
                # a near-duplicate has no start to check, so a pass of the halves is as good as
                # one of the whole head: tried before the whole head's window-by-window scan
                score, start = self._align_halves(kind, head, large.norm)
            if score < self.min_align:
                score, start = self._scan(kind, head, large.norm)
            if score < self.min_align and kind != "near-duplicate":
                score, start = self._align_halves(kind, head, large.norm)
        if score < self.min_align:
            return Verdict(False, "misaligned", jac, cont, score)
        if kind == "truncated":
            limit = max(self.head_chars, self.max_start_offset * len(large.norm))
            if start > limit:
                return Verdict(False, "not-a-prefix", jac, cont, score)

        # names-differ needs _MIN_NAME_SUBSTITUTIONS or more: fewer are not counted
        num_subs, name_subs = substitutions(a, b, min_names=_MIN_NAME_SUBSTITUTIONS)
        size = min(a.n_tokens(), b.n_tokens())
        if (
            num_subs
            and num_subs > self.max_number_mismatch * min(a.numbers, b.numbers)
            and num_subs * self.tokens_per_substitution > size
        ):
            return Verdict(False, "numbers-differ", jac, cont, score)
        if name_subs >= _MIN_NAME_SUBSTITUTIONS and name_subs > self.max_name_mismatch * min(
            len(a.names), len(b.names)
        ):
            return Verdict(False, "names-differ", jac, cont, score)
        return Verdict(True, kind, jac, cont, score)

    def decide_on_shingles(self, a: Sketch | Doc, b: Sketch | Doc) -> Verdict | None:
        """The verdict when the shingle sets and number hashes alone decide it (a rejection
        below both thresholds, or a decisive near-duplicate / truncated copy), exactly as
        :meth:`verify` would give it; None when the text must be aligned. Needs only a
        :class:`Sketch` of each side, so a candidate whose full doc left the cache is often
        decided without re-reading its text."""
        first = self._on_shingles(a, b)
        return first if isinstance(first, Verdict) else None

    def _on_shingles(
        self, a: Sketch | Doc, b: Sketch | Doc
    ) -> Verdict | tuple[str, float, float, Sketch | Doc, Sketch | Doc]:
        """The shingle-only first step: a verdict, or (kind, jaccard, containment, smaller,
        larger) for the alignment and the guard."""
        sa, sb = a.shingles, b.shingles
        if len(sa) == 0 or len(sb) == 0:
            return Verdict(False, "empty", 0.0, 0.0)
        inter = intersection_size(sa, sb)
        jac = inter / (len(sa) + len(sb) - inter)
        cont = inter / min(len(sa), len(sb))
        small, large = (a, b) if (len(sa), a.key) < (len(sb), b.key) else (b, a)
        if (
            self.decisive_jaccard < 1.0
            and jac >= max(self.decisive_jaccard, self.threshold)
            and numbers_within(small.number_hashes, large.number_hashes)
        ):
            # nearly all shingles shared and every number of the smaller text is in the larger
            # (the smaller text is the one with fewer shingles, ties by key: symmetric):
            # decided on the shingles.
            # The alignment and the guard are skipped; they could only still reject a long
            # text whose few differences are two or more swapped names (see docs/dedup.md)
            return Verdict(True, "near-duplicate", jac, cont, 0.0)
        if jac >= self.threshold:
            return "near-duplicate", jac, cont, small, large
        if cont < self.containment_threshold:
            return Verdict(False, "low-similarity", jac, cont)
        if (
            self.decisive_containment < 1.0
            and cont >= self.decisive_containment
            and small.head is not None
            and large.prefix is not None
            and any_in_sorted(small.head, large.prefix)
            and numbers_within(small.number_hashes, large.number_hashes)
        ):
            # the smaller text is (nearly) all inside the larger, starts where the larger
            # one starts and adds no number: a truncated copy, decided on the shingles
            return Verdict(True, "truncated", jac, cont, 0.0)
        return "truncated", jac, cont, small, large

    def _align_halves(self, kind: str, head: str, large: str) -> tuple[float, int]:
        """A head whose two halves each align, the second after the first, is aligned too: one
        sentence inserted or dropped inside the head (a newsletter line, a dateline, a dropped
        second sentence) breaks the whole head's score but not its halves'. Scored by the
        weaker half; the match starts where the first half does."""
        half = len(head) // 2
        if half < 60:
            return 0.0, 0
        first, start = self._align(kind, head[:half], large)
        if first < self.min_align:
            return 0.0, 0
        rest = large[start + half // 2 :]
        second, _ = self._align("near-duplicate", head[half:], rest)
        if second < self.min_align:
            return 0.0, 0
        return min(first, second), start

    def _align(self, kind: str, head: str, large: str) -> tuple[float, int]:
        """(rapidfuzz partial_ratio of ``head`` inside ``large``, where the best match starts):
        first a few windows placed by verbatim pieces of the head (:meth:`_anchored`), then
        the window-by-window search (:meth:`_scan`). (0, 0) when it is below ``min_align``."""
        return self._anchored(kind, head, large) or self._scan(kind, head, large)

    def _scan(self, kind: str, head: str, large: str) -> tuple[float, int]:
        """rapidfuzz's window-by-window search, skipped where the LCS bound rules it out."""
        al = None
        if kind == "near-duplicate":
            # a copy's head is usually near the other's start: a pass in that window is a
            # pass anywhere (the full search can only score higher), so search it first
            window = large[: 3 * len(head) + 200]
            if len(window) < len(large) and may_align(head, window, self.min_align):
                al = fuzz.partial_ratio_alignment(head, window, score_cutoff=self.min_align)
        if al is None and may_align(head, large, self.min_align):
            al = fuzz.partial_ratio_alignment(head, large, score_cutoff=self.min_align)
        if al is None:  # below the cutoff: the pair is misaligned; its exact score is not needed
            return 0.0, 0
        return float(al.score), al.dest_start

    def _anchored(
        self, kind: str, head: str, large: str, step: int = 12, piece: int = 24
    ) -> tuple[float, int] | None:
        """A passing window of partial_ratio found without scanning, or None.

        partial_ratio is the best :func:`fuzz.ratio` of the head against the windows of
        ``large`` as long as the head, and the shorter ones at its start and end; so any
        window scoring ``min_align`` is a pass (the recorded score is that window's, a lower
        bound). Where a verbatim ``piece`` of the head (one every ``step`` characters)
        occurs, the window that lines the head up with it is scored. When that window would
        begin before the text does, the text's prefix ending where the head ends is scored
        too: a sentence only the head has (a newsletter line, a longer lead) shifts the rest
        of it, and that shorter window is the one that passes. For a truncated copy the
        window must start within the prefix limit; a better-scoring window further down the
        page (a repeated lead) no longer turns it into "not-a-prefix"."""
        n = len(head)
        exact = len(large) > n  # shorter windows are only the prefix ones when the text is longer
        limit = max(self.head_chars, self.max_start_offset * len(large)) if kind == "truncated" else None
        tried: set[tuple[int, int]] = set()
        for off in range(0, n - piece + 1, step):
            k = large.find(head[off : off + piece])
            if k < 0:
                continue
            start = max(0, k - off)
            if limit is not None and start > limit:
                continue
            spans = [(start, start + n)]
            if exact and k < off:
                spans.append((0, k + n - off))
            for span in spans:
                if span in tried:
                    continue
                tried.add(span)
                score = fuzz.ratio(head, large[span[0] : span[1]], score_cutoff=self.min_align)
                if score:
                    return float(score), span[0]
        return None
