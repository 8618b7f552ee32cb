"""Word shingles and MinHash signatures, batched on numpy arrays.

Tokens are hashed with xxhash (seeded, identical in every process; Python's ``hash()`` is
salted per process and never used). Shingle hashes are combined from token hashes with
vectorised integer arithmetic, so no Python object is created per shingle. The MinHash
permutations are ``(a * x + b) mod p`` with the Mersenne prime ``p = 2**31 - 1`` over uint64
arrays: shingle hashes are reduced into the field, ``a`` and ``b`` span the whole field, the
product fits in 64 bits and the arithmetic is exact. A batch of documents is signed in
one pass and reduced per document with ``np.minimum.reduceat`` over document offsets.

Both steps sit behind small Protocols (:class:`Shingler`, :class:`Signer`) so a faster
implementation (SIMD, GPU, b-bit signatures) can replace them without touching the index or
the verifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ._arrays import in_sorted, sorted_unique

__all__ = [
    "PRIME",
    "BatchShingler",
    "MinHashSigner",
    "OnePermSigner",
    "ShingleBatch",
    "Shingler",
    "Signer",
    "TokenBatch",
    "WordShingler",
    "estimate_jaccard",
    "exact_jaccard",
    "head_and_prefix",
    "intersection_size",
]

PRIME = np.uint64((1 << 31) - 1)
"""The Mersenne prime 2**31 - 1: the field of the MinHash permutations."""
_MASK32 = np.uint64(0xFFFFFFFF)
_EMPTY_SLOT = np.uint64((1 << 64) - 1)
"""Signature value of a document without shingles; such documents are never indexed."""
_EMPTY32 = np.uint64(0xFFFFFFFF)
"""Empty bin of a one-permutation signature (values are 32-bit)."""


class Shingler(Protocol):
    """Turns tokens into the set of shingle hashes (sorted, unique, uint64)."""

    shingle_size: int

    def shingles(self, tokens: Sequence[str]) -> np.ndarray: ...


class Signer(Protocol):
    """Turns shingle-hash sets into MinHash signatures, one row per document."""

    num_perm: int

    def sign_many(self, shingle_sets: Sequence[np.ndarray]) -> np.ndarray: ...


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, vectorised (uint64 arithmetic wraps modulo 2**64), as a new
    array."""
    out = np.array(x, dtype=np.uint64)
    _splitmix64_into(out, np.empty_like(out))
    return out


def _splitmix64_into(x: np.ndarray, tmp: np.ndarray) -> None:
    """:func:`_splitmix64` of the uint64 array ``x`` written over ``x``, with ``tmp`` (same
    shape) as scratch: no array is allocated."""
    x += np.uint64(0x9E3779B97F4A7C15)
    np.right_shift(x, np.uint64(30), out=tmp)
    x ^= tmp
    x *= np.uint64(0xBF58476D1CE4E5B9)
    np.right_shift(x, np.uint64(27), out=tmp)
    x ^= tmp
    x *= np.uint64(0x94D049BB133111EB)
    np.right_shift(x, np.uint64(31), out=tmp)
    x ^= tmp


class WordShingler:
    """Contiguous word ``k``-shingles hashed to uint64, for one already tokenised text.

    A text shorter than ``k`` tokens yields one shingle over all its tokens, and no tokens yield
    an empty set. The engine itself uses :class:`BatchShingler`, which gives the same hashes for
    a whole batch without a Python object per token.
    """

    def __init__(self, shingle_size: int = 5, *, seed: int = 1) -> None:
        self.shingle_size = shingle_size
        self.seed = seed
        self.batch = BatchShingler(shingle_size, seed=seed)
        """The batch hasher behind this one (same seed and hashes)."""
        self._mult = self.batch._mult

    def token_hashes(self, tokens: Sequence[str]) -> np.ndarray:
        """uint64 hash per token: the same values :class:`BatchShingler` gives a whole batch."""
        return self.batch.token_hashes(tokens)

    def shingles(self, tokens: Sequence[str]) -> np.ndarray:
        return sorted_unique(self.sequence(tokens), in_place=True)

    def sequence(self, tokens: Sequence[str]) -> np.ndarray:
        """Shingle hashes in text order, repeats kept."""
        th = self.token_hashes(tokens)
        n, k = len(th), self.shingle_size
        if n == 0:
            return np.empty(0, dtype=np.uint64)
        if n < k:
            combined = (th * self._mult[:n]).sum(dtype=np.uint64)
            return _splitmix64(np.array([combined], dtype=np.uint64))
        m = n - k + 1
        acc = np.multiply(th[:m], self._mult[0])
        tmp = np.empty(m, dtype=np.uint64)
        for j in range(1, k):
            np.multiply(th[j : j + m], self._mult[j], out=tmp)
            acc += tmp
        return _splitmix64(acc)


def head_and_prefix(
    sequence: np.ndarray, *, head: int = 3, share: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """A text's first ``head`` shingles (in order) and the sorted set of the shingles in its
    first ``share`` (at least 8 shingles): what the truncated-copy shortcut compares."""
    cut = max(8, int(np.ceil(share * len(sequence))))
    return sequence[:head].copy(), sorted_unique(sequence[:cut])


class MinHashSigner:
    """``num_perm`` universal-hash permutations ``(a*x + b) mod p``, ``p = 2**31 - 1``, seed-fixed.

    Shingle hashes are reduced into the field (``x < p``) and ``a, b`` are drawn from the whole
    field (``a`` in ``[1, p)``), so ``a*x + b < 2**62`` is exact in uint64 and the reduction is
    two Mersenne folds -- about seven vector operations per (shingle, permutation). The whole
    field matters: an earlier variant with ``p = 2**61 - 1`` but ``a < 2**32`` (to avoid the
    overflow) left ``a*x mod p`` nearly linear in ``x`` and biased the estimate low by 0.2.
    """

    def __init__(self, num_perm: int = 128, *, seed: int = 1, chunk_rows: int = 512) -> None:
        self.num_perm = num_perm
        self.seed = seed
        rng = np.random.default_rng([seed, 0x5EED])
        p = int(PRIME)
        self._a = rng.integers(1, p, size=num_perm, dtype=np.uint64)
        self._b = rng.integers(0, p, size=num_perm, dtype=np.uint64)
        self._chunk = chunk_rows

    @staticmethod
    def to_field(x: np.ndarray) -> np.ndarray:
        """64-bit shingle hashes -> values in ``[0, p)`` (fold to 32 bits, then reduce)."""
        x32 = (x >> np.uint64(32)) ^ (x & _MASK32)
        x31 = (x32 & PRIME) + (x32 >> np.uint64(31))
        return np.where(x31 >= PRIME, x31 - PRIME, x31)

    def permute(self, x: np.ndarray) -> np.ndarray:
        """``(a*x + b) mod p`` for every (value, permutation); ``x`` must already be ``< p``."""
        v = np.empty((len(x), self.num_perm), dtype=np.uint64)
        self._permute_into(x, v, np.empty_like(v))
        np.subtract(v, PRIME, out=v, where=v >= PRIME)
        return v

    def _permute_into(self, x: np.ndarray, v: np.ndarray, high: np.ndarray) -> None:
        """``(a*x + b)`` folded to ``[0, p + 1]`` into the caller's buffers (no allocation): the
        result is ``mod p`` except that ``p`` and ``p + 1`` stand for 0 and 1."""
        np.multiply(x[:, None], self._a[None, :], out=v)  # < 2**62: exact
        v += self._b[None, :]
        for _ in range(2):  # Mersenne folds: v < 2**32, then v <= p + 1
            np.right_shift(v, np.uint64(31), out=high)
            v &= PRIME
            v += high

    def _block_min(
        self,
        x: np.ndarray,
        offsets: np.ndarray | None,
        work: tuple[np.ndarray, np.ndarray],
        sub_rows: np.ndarray | None = None,
        sub_offsets: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Per-document (``offsets``) or overall (None) minimum of the permuted rows of ``x``,
        and the per-subset minimum over the rows ``sub_rows`` (grouped by ``sub_offsets``).

        The last reduction mod ``p`` is skipped when no value reached ``p`` (a one-pass check):
        values below ``p`` are already reduced, so their minimum is the same."""
        v, high = work[0][: len(x)], work[1][: len(x)]
        self._permute_into(x, v, high)
        if v.max() >= PRIME:
            np.subtract(v, PRIME, out=v, where=v >= PRIME)
        mins = v.min(axis=0) if offsets is None else np.minimum.reduceat(v, offsets, axis=0)
        sub = None
        if sub_rows is not None and sub_offsets is not None and len(sub_rows):
            sub = np.minimum.reduceat(v[sub_rows], sub_offsets, axis=0)
        return mins, sub

    def _work(self, rows: int) -> tuple[np.ndarray, np.ndarray]:
        shape = (max(1, min(rows, self._chunk)), self.num_perm)
        return np.empty(shape, dtype=np.uint64), np.empty(shape, dtype=np.uint64)

    def _min_rows(self, x: np.ndarray, work: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Per-permutation minimum over one large document, in cache-sized row slices."""
        work = work if work is not None else self._work(len(x))
        best = np.full(self.num_perm, _EMPTY_SLOT, dtype=np.uint64)
        for start in range(0, len(x), self._chunk):
            np.minimum(best, self._block_min(x[start : start + self._chunk], None, work)[0], out=best)
        return best

    def sign_many(
        self, shingle_sets: Sequence[np.ndarray], *, subsets: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """One signature row per set; with ``subsets`` (one per set, e.g. the shingles of the
        lead), ``len(shingle_sets)`` more rows follow, one per subset, exactly as if the subsets
        had been appended to ``shingle_sets``. A subset that really is contained in its set is
        signed from the set's permuted rows (no second permutation); any other is signed on
        its own."""
        n = len(shingle_sets)
        if subsets is not None and len(subsets) != n:
            raise ValueError(f"{len(subsets)} subsets for {n} shingle sets")
        m = n if subsets is None else 2 * n
        out = np.full((m, self.num_perm), _EMPTY_SLOT, dtype=np.uint64)
        sizes = [len(s) for s in shingle_sets]
        # positions of each subset's values inside its (sorted) set; None: sign it on its own
        inside: list[np.ndarray | None] = [None] * n
        alone: list[int] = []
        if subsets is not None:
            for i, sub in enumerate(subsets):
                if len(sub) == 0:
                    continue
                pos = _positions(shingle_sets[i], sub)
                if pos is None or sizes[i] > self._chunk:
                    alone.append(i)
                else:
                    inside[i] = pos
        if any(sizes):
            self._sign_into(shingle_sets, sizes, inside, out)
        if alone and subsets is not None:
            out[[n + i for i in alone]] = self.sign_many([subsets[i] for i in alone])
        return out

    def _sign_into(
        self,
        shingle_sets: Sequence[np.ndarray],
        sizes: list[int],
        inside: list[np.ndarray | None],
        out: np.ndarray,
    ) -> None:
        n = len(shingle_sets)
        # Documents are processed in groups of about ``chunk_rows`` shingles: the temporary
        # (rows x num_perm) matrix then stays in cache, which is several times faster. The two
        # work buffers are allocated once per call and reused by every group.
        work = self._work(sum(sizes))
        start = 0
        while start < n:
            total = 0
            stop = start
            while stop < n and (stop == start or total + sizes[stop] <= self._chunk):
                total += sizes[stop]
                stop += 1
            group = [i for i in range(start, stop) if sizes[i]]
            if len(group) == 1 and total > self._chunk:
                out[group[0]] = self._min_rows(self.to_field(shingle_sets[group[0]]), work)
            elif group:
                parts = [shingle_sets[i] for i in group]
                x = self.to_field(np.concatenate(parts)) if len(parts) > 1 else self.to_field(parts[0])
                offsets = np.cumsum([0] + [sizes[i] for i in group[:-1]])
                with_sub = [(k, i) for k, i in enumerate(group) if inside[i] is not None]
                rows = sub_offsets = None
                if with_sub:
                    pieces = [inside[i] + offsets[k] for k, i in with_sub]  # type: ignore[operator]
                    rows = np.concatenate(pieces)
                    sub_offsets = np.cumsum([0] + [len(p) for p in pieces[:-1]])
                mins, sub = self._block_min(x, offsets, work, rows, sub_offsets)
                out[group] = mins
                if sub is not None:
                    out[[n + i for _, i in with_sub]] = sub
            start = stop

    def sign(self, shingle_set: np.ndarray) -> np.ndarray:
        return self.sign_many([shingle_set])[0]


def _positions(values: np.ndarray, sub: np.ndarray) -> np.ndarray | None:
    """Indexes of ``sub``'s values in the sorted array ``values``; None unless all are there."""
    if len(sub) > len(values):
        return None
    pos = np.searchsorted(values, sub)
    np.minimum(pos, len(values) - 1, out=pos)
    if not np.array_equal(values[pos], sub):
        return None
    return pos


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Share of agreeing signature slots: an unbiased estimate of the shingle-set Jaccard."""
    if sig_a.shape != sig_b.shape:
        raise ValueError(f"signature lengths differ: {sig_a.shape} vs {sig_b.shape}")
    return float(np.count_nonzero(sig_a == sig_b)) / sig_a.shape[-1]


def intersection_size(a: np.ndarray, b: np.ndarray) -> int:
    """``|a ∩ b|`` of two sorted unique arrays, as ``np.intersect1d(a, b, assume_unique=True).size``.

    Stable sort (a merge sort) of the two sorted runs is one merge pass, and a shared value shows
    up as two equal neighbours; cheaper than ``intersect1d``'s general path."""
    both = np.concatenate((a, b))
    both.sort(kind="stable")
    return int(np.count_nonzero(both[1:] == both[:-1]))


def any_in_sorted(values: np.ndarray, sorted_set: np.ndarray) -> bool:
    """Whether any of ``values`` occurs in the sorted array ``sorted_set``: as
    ``np.isin(values, sorted_set).any()``, by binary search (a few values against a sorted set:
    ``np.isin`` sorts both and costs tens of microseconds per call on the verification path)."""
    return bool(len(values)) and bool(in_sorted(values, sorted_set).any())


def exact_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard of two sorted unique shingle-hash arrays (0.0 when either is empty)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    inter = intersection_size(a, b)
    return inter / (len(a) + len(b) - inter)


# -- vectorised batch tokenising, shingling and one-permutation signatures ------------------

# Byte classes of normalised ASCII text, one ``bytes.translate`` pass (C speed): letters,
# digits, the two characters that may join digits inside a number ("2.27", "3/16"), other.
_C_OTHER, _C_LETTER, _C_DIGIT, _C_JOIN = 0, 1, 2, 3
_ASCII_CLASSES = bytes(
    _C_LETTER if 97 <= i <= 122 else _C_DIGIT if 48 <= i <= 57 else _C_JOIN if i in (46, 47) else _C_OTHER
    for i in range(256)
)
# For texts tokenised in Python (non-ASCII): tokens joined by spaces, every other byte a letter.
_SPACED_CLASSES = bytes(_C_OTHER if i == 32 else _C_LETTER for i in range(256))
_DIGIT_BYTES = np.zeros(256, dtype=bool)
_DIGIT_BYTES[48:58] = True
_LEN_MIX = np.uint64(0xC2B2AE3D27D4EB4F)
_BYTE_MASKS = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


def _token_spans(classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) byte offsets of the word tokens in an array of byte classes.

    Reproduces ``[0-9]+(?:[./][0-9]+)*|[a-z][a-z0-9]*`` without a regex, with a few vector
    passes over the bytes. A run of letters and digits that starts with a letter is one token;
    one that starts with a digit is a number up to its first letter and a word from there;
    ``.`` or ``/`` between two digits joins two runs when the run before it is digits only.
    ``classes`` must start and end with two "other" bytes.
    """
    # letter or digit (class 1 or 2; "other", 0, wraps round to 255): a run starts where one
    # follows a byte that is neither, and ends at the first byte after it that is neither.
    # Whole-array comparisons of the bytes and one index list per kind of event: reading
    # every class change and looking its kind up in a table took twice as long
    alnum = (classes - np.uint8(1)) <= np.uint8(1)
    starts = np.flatnonzero(alnum[1:] > alnum[:-1]) + 1
    ends = np.flatnonzero(alnum[1:] < alnum[:-1]) + 1
    if not len(starts):
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    digit_start = classes[starts] == _C_DIGIT
    # the first digit->letter change inside a run that starts with a digit splits it
    split_at = np.flatnonzero((classes[1:] == _C_LETTER) & (classes[:-1] == _C_DIGIT)) + 1
    split_run = np.searchsorted(starts, split_at, side="right") - 1
    first = np.ones(len(split_at), dtype=bool)
    first[1:] = split_run[1:] != split_run[:-1]
    keep = first & digit_start[split_run]
    split_at, split_run = split_at[keep], split_run[keep]
    all_digits = digit_start.copy()
    all_digits[split_run] = False
    # segments: each run, cut at its split point (splits are rare: "5th", "10am")
    seg_start, seg_end = starts, ends
    if len(split_at):
        where = split_run + 1
        seg_end = ends.copy()
        seg_end[split_run] = split_at
        seg_start = np.insert(starts, where, split_at)
        seg_end = np.insert(seg_end, where, ends[split_run])
    # joins: "." or "/" right after an all-digit run and right before a digit
    joins = ends[(classes[ends] == _C_JOIN) & (classes[ends + 1] == _C_DIGIT) & all_digits]
    if len(joins):
        cont = np.zeros(len(seg_start), dtype=bool)
        cont[np.searchsorted(seg_start, joins + 1)] = True
        head = np.flatnonzero(~cont)
        last = np.append(head[1:], len(seg_start)) - 1
        return seg_start[head], seg_end[last]
    return seg_start, seg_end


@dataclass(frozen=True, slots=True)
class TokenBatch:
    """Word tokens of a batch of normalised texts, as arrays (no Python object per token)."""

    hashes: np.ndarray
    """uint64 hash per token, all documents concatenated in order."""
    offsets: np.ndarray
    """int64, ``len(docs) + 1``: document ``i``'s tokens are ``hashes[offsets[i]:offsets[i+1]]``."""
    numeric: np.ndarray
    """bool per token: starts with an ASCII digit."""
    number_hashes: np.ndarray
    """Hashes of the number tokens (see :func:`number_hashes_of`), sorted within each document."""
    number_offsets: np.ndarray
    """int64, ``len(docs) + 1``: document ``i``'s numbers are ``number_hashes[o[i]:o[i+1]]``."""
    ids: np.ndarray
    """Fixed-seed uint64 hash per token (:func:`token_ids`): token identity for the alignment
    of two texts, the same whoever tokenised them."""
    spans: np.ndarray
    """int32 ``(start, end)`` per token (shape ``(tokens, 2)``), offsets into its document's
    normalised text; meaningful only where ``ascii`` is set (other texts are tokenised
    separately and joined)."""
    ascii: np.ndarray
    """bool per document: its text is ASCII, so ``spans`` index it."""

    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)


@dataclass(frozen=True, slots=True)
class ShingleBatch:
    """Shingle hashes of a batch, in text order per document (repeats kept)."""

    hashes: np.ndarray
    offsets: np.ndarray
    """int64, ``len(docs) + 1``."""
    lead: np.ndarray
    """int64 per document: its first ``lead[i]`` shingles are the shingles of its lead."""

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def shingle_set(self, i: int) -> np.ndarray:
        """Sorted unique shingle hashes of document ``i`` (what verification compares)."""
        return sorted_unique(self.hashes[self.offsets[i] : self.offsets[i + 1]])


class BatchShingler:
    """Tokens, shingles and their hashes for a whole batch of normalised texts at once.

    The batch is one byte array; token boundaries come from vectorised byte classes, token
    hashes from a polynomial over each token's bytes (summed per token with
    ``np.add.reduceat``) finished by splitmix64, and shingle hashes from the token hashes
    exactly as :class:`WordShingler` combines them. ASCII texts (almost all, once
    normalised) never become Python token lists; other texts are tokenised with
    :func:`newsdedup._normalize.tokenize` and joined, and hash to the same values.
    """

    def __init__(self, shingle_size: int = 5, *, seed: int = 1) -> None:
        self.shingle_size = shingle_size
        self.seed = seed
        self._seed_mix = _splitmix64(np.array([seed], dtype=np.uint64))[0]
        rng = np.random.default_rng(seed)
        self._mult = rng.integers(1, 1 << 63, size=shingle_size, dtype=np.uint64) | np.uint64(1)
        self._number_words: np.ndarray | None = None

    def tokens(self, norms: Sequence[str], *, full: bool = True) -> TokenBatch:
        """The batch's tokens. ``full`` False: only what :meth:`shingles` reads (``hashes``,
        ``offsets``, ``ascii``); the number hashes, ids and spans of verification docs are left
        empty (a shingle set rebuilt for the canonical choice, an item whose doc is not kept:
        10.4 instead of 18.6 µs a text, *ad hoc*)."""
        from ._normalize import tokenize

        n = len(norms)
        parts: list[bytes] = []
        class_parts: list[bytes] = []
        ascii_docs = np.zeros(n, dtype=bool)
        for i, text in enumerate(norms):
            if text.isascii():
                ascii_docs[i] = True
                raw = text.encode("ascii")
                cls = raw.translate(_ASCII_CLASSES)
            else:
                raw = " ".join(tokenize(text)).encode("utf-8")
                cls = raw.translate(_SPACED_CLASSES)
            parts.append(raw)
            class_parts.append(cls)
        # one leading separator, one between documents, and 8 trailing zero bytes so every
        # token can be read as whole 64-bit words
        data = b"\n" + b"\n".join(parts) + b"\n" + bytes(8)
        classes = np.frombuffer(b"\x00" + b"\x00".join(class_parts) + b"\x00\x00", dtype=np.uint8)
        lengths = np.fromiter(map(len, parts), dtype=np.int64, count=n)
        doc_start = np.ones(n + 1, dtype=np.int64)
        np.cumsum(lengths + 1, out=doc_start[1:])
        doc_start[1:] += 1
        start, end = _token_spans(classes)
        offsets = np.searchsorted(start, doc_start, side="left").astype(np.int64)
        if not full:
            (hashes,) = _hash_spans(data, start, end, (self._seed_mix,))
            none = np.empty(0, dtype=np.uint64)
            return TokenBatch(
                hashes, offsets, np.empty(0, dtype=bool), none, np.zeros(n + 1, dtype=np.int64), none,
                np.empty((0, 2), dtype=np.int32), ascii_docs,
            )  # fmt: skip
        # the seeded hashes, and every token's identity keyed with the fixed seed 0 (the
        # number hashes are a subset), read from the bytes once
        hashes, ids = _hash_spans(data, start, end, (self._seed_mix, _NUMBER_HASHER._seed_mix))
        buf = np.frombuffer(data, dtype=np.uint8)
        numeric = _DIGIT_BYTES[buf[start]]
        # number tokens: digits first, or a number word
        is_num = numeric | np.isin(hashes, self._number_word_hashes())
        num_hashes = ids[is_num]
        doc = np.searchsorted(offsets, np.flatnonzero(is_num), side="right") - 1
        order = np.lexsort((num_hashes, doc))  # by document, then hash
        num_offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(doc, minlength=n), out=num_offsets[1:])
        base = np.repeat(doc_start[:-1], np.diff(offsets))  # each token's document start
        spans = np.empty((len(start), 2), dtype=np.int32)
        spans[:, 0] = start - base
        spans[:, 1] = end - base
        return TokenBatch(hashes, offsets, numeric, num_hashes[order], num_offsets, ids, spans, ascii_docs)

    def _number_word_hashes(self) -> np.ndarray:
        if self._number_words is None:
            from ._verify import _NUMBER_WORDS

            self._number_words = np.sort(self.token_hashes(sorted(_NUMBER_WORDS)))
        return self._number_words

    def _hash_spans(self, data: bytes, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """This shingler's hash of every token span (see :func:`_hash_spans`)."""
        return _hash_spans(data, start, end, (self._seed_mix,))[0]

    def token_hashes(self, tokens: Sequence[str]) -> np.ndarray:
        """Hashes of already split tokens (the same values :meth:`tokens` gives)."""
        if not tokens:
            return np.empty(0, dtype=np.uint64)
        raw = " ".join(tokens).encode("utf-8")
        data = b"\n" + raw + b"\n" + bytes(8)
        classes = np.frombuffer(b"\x00" + raw.translate(_SPACED_CLASSES) + b"\x00\x00", dtype=np.uint8)
        start, end = _token_spans(classes)
        return self._hash_spans(data, start, end)

    def shingles(self, tb: TokenBatch, *, lead_tokens: int = 0) -> ShingleBatch:
        """Shingle hashes per document in text order; ``lead`` counts those of the first
        ``lead_tokens`` tokens (a text shorter than ``k`` tokens has one shingle over all)."""
        k = self.shingle_size
        counts = tb.counts()
        n = len(counts)
        ntok = len(tb.hashes)
        # k - 1 zero tokens after every document: a window never mixes two documents, and a
        # short document's single shingle is the sum over its own tokens (zeros add nothing)
        pad = k - 1
        doc_of_token = np.repeat(np.arange(n, dtype=np.int64), counts)
        padded = np.zeros(ntok + n * pad + k, dtype=np.uint64)
        placed = np.arange(ntok, dtype=np.int64) + doc_of_token * pad
        padded[placed] = tb.hashes
        m = len(padded) - k + 1
        acc = padded[:m] * self._mult[0]
        tmp = np.empty(m, dtype=np.uint64)
        for j in range(1, k):
            np.multiply(padded[j : j + m], self._mult[j], out=tmp)
            acc += tmp
        # windows kept per document: max(n - k + 1, 1) of them, or none for an empty document
        per_doc = np.where(counts >= k, counts - k + 1, np.minimum(counts, 1))
        starts = tb.offsets[:-1] + np.arange(n, dtype=np.int64) * pad
        keep = np.repeat(starts, per_doc) + (
            np.arange(int(per_doc.sum()), dtype=np.int64) - np.repeat(np.cumsum(per_doc) - per_doc, per_doc)
        )
        hashes = _splitmix64(acc[keep])
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(per_doc, out=offsets[1:])
        if lead_tokens >= k:
            lead = np.minimum(per_doc, lead_tokens - k + 1)
        elif lead_tokens > 0:
            lead = np.minimum(per_doc, 1)  # not used by the engine's sign path (see OnePermSigner)
        else:
            lead = np.zeros(n, dtype=np.int64)
        return ShingleBatch(hashes, offsets, lead)


def _hash_spans(
    data: bytes, start: np.ndarray, end: np.ndarray, seed_mixes: Sequence[np.uint64]
) -> list[np.ndarray]:
    """Per seed, the xor-fold of splitmix64 over each token's 8-byte words, seeded by its length
    and the seed: a few vector operations per *token* (an overlapping uint64 view reads any 8
    bytes at once). The words are read once for all the seeds, and only tokens longer than 8
    bytes (about one in ten) take a second step; about 2.4 times faster for the two seeds of
    :meth:`BatchShingler.tokens` than one full pass per seed."""
    if not len(start):
        return [np.empty(0, dtype=np.uint64) for _ in seed_mixes]
    words = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    length = end - start
    base = length.astype(np.uint64) * _LEN_MIX
    chunk = words[start]
    chunk &= _BYTE_MASKS[np.minimum(length, 8)]
    tmp = np.empty_like(chunk)
    out = []
    for mix in seed_mixes:
        h = base + mix
        h ^= chunk
        _splitmix64_into(h, tmp)
        out.append(h)
    sel = np.flatnonzero(length > 8)
    offset, rest = start[sel] + 8, length[sel] - 8
    while len(sel):
        if len(sel) <= _FEW_LONG_TOKENS:
            # a few long tokens left: a step of vector operations per 8 bytes would cost about
            # 20 µs whatever the count (a 19 MB text without a space took a minute); Python
            # ints fold each of them at about half a microsecond a word
            _fold_long_tokens(words, out, sel, offset, rest)
            break
        chunk = words[offset] & _BYTE_MASKS[np.minimum(rest, 8)]
        tmp = np.empty_like(chunk)
        for h in out:
            part = h[sel]
            part ^= chunk
            _splitmix64_into(part, tmp)
            h[sel] = part
        more = rest > 8
        sel, offset, rest = sel[more], offset[more] + 8, rest[more] - 8
    return out


_FEW_LONG_TOKENS = 16
_MASK64 = (1 << 64) - 1


def _fold_long_tokens(
    words: np.ndarray, out: list[np.ndarray], sel: np.ndarray, offset: np.ndarray, rest: np.ndarray
) -> None:
    """The rest of :func:`_hash_spans`'s fold for the tokens ``sel`` (``rest`` bytes left from
    ``offset``), with Python ints: the same splitmix64 steps, one token at a time."""
    for i, at, left in zip(sel.tolist(), offset.tolist(), rest.tolist(), strict=True):
        n = (left + 7) // 8
        chunks = words[at : at + 8 * n : 8].tolist()
        chunks[-1] &= (1 << (8 * (left - 8 * (n - 1)))) - 1
        for h in out:
            x = int(h[i])
            for w in chunks:
                x = ((x ^ w) + 0x9E3779B97F4A7C15) & _MASK64
                x ^= x >> 30
                x = (x * 0xBF58476D1CE4E5B9) & _MASK64
                x ^= x >> 27
                x = (x * 0x94D049BB133111EB) & _MASK64
                x ^= x >> 31
            h[i] = x


_NUMBER_HASHER = BatchShingler(1, seed=0)
"""Token hashes for number keys: a fixed seed, so a key never depends on the dedup seed."""


def token_ids(tokens: Sequence[str]) -> np.ndarray:
    """Fixed-seed hashes of already split tokens: the ``ids`` :meth:`BatchShingler.tokens`
    gives, so two texts' token sequences compare as integers however each was tokenised."""
    return _NUMBER_HASHER.token_hashes(tokens)


def number_hashes_of(numbers: Sequence[str]) -> np.ndarray:
    """Sorted fixed-seed hashes of number tokens: the multiset of a text's numbers, the same
    values :meth:`BatchShingler.tokens` gives for a whole batch."""
    h = token_ids(numbers)
    h.sort()
    return h


class OnePermSigner:
    """One-permutation MinHash with optimal densification (Shrivastava, ICML 2017).

    Each shingle hash is mixed once; its top bits pick one of ``num_perm`` bins and its low 32
    bits are the value, and each bin keeps its minimum (one ``np.minimum.at`` over the whole
    batch). A bin no shingle fell into borrows the value of the first non-empty bin along its
    own fixed pseudo-random probe sequence, the same in every document, so two documents agree
    on a slot with probability equal to their Jaccard similarity. Cost: a few vector operations
    per shingle instead of ``num_perm`` per shingle.
    """

    def __init__(self, num_perm: int = 128, *, seed: int = 1, max_probes: int | None = None) -> None:
        self.num_perm = num_perm
        self.seed = seed
        self._mix = _splitmix64(np.array([seed ^ 0x0E7A5EED], dtype=np.uint64))[0]
        probes = max_probes if max_probes is not None else 4 * num_perm
        rng = np.random.default_rng([seed, 0xDE45])
        self._probe = rng.integers(0, num_perm, size=(probes, num_perm), dtype=np.int64)

    def sign_flat(self, hashes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """One uint64 signature row per document of a flat ``(hashes, offsets)`` batch."""
        n = len(offsets) - 1
        p = self.num_perm
        sig: np.ndarray = np.full(n * p, _EMPTY32, dtype=np.uint64)
        if len(hashes):
            h = _splitmix64(hashes ^ self._mix)
            bins = ((h >> np.uint64(32)) * np.uint64(p)) >> np.uint64(32)
            doc = np.repeat(np.arange(n, dtype=np.uint64), np.diff(offsets))
            np.minimum.at(sig, doc * np.uint64(p) + bins, h & _MASK32)
        sig = sig.reshape(n, p)
        empty = sig == _EMPTY32
        if empty.any():
            self._densify(sig, empty)
        return sig

    def _densify(self, sig: np.ndarray, empty: np.ndarray) -> None:
        rows = np.flatnonzero(empty.any(axis=1) & ~empty.all(axis=1))
        if not len(rows):
            return
        orig = sig[rows]
        todo_r, todo_c = np.nonzero(empty[rows])
        for probe in self._probe:
            if not len(todo_r):
                break
            src = probe[todo_c]
            val = orig[todo_r, src]
            found = val != _EMPTY32
            sig[rows[todo_r[found]], todo_c[found]] = val[found]
            todo_r, todo_c = todo_r[~found], todo_c[~found]
        for r, c in zip(todo_r.tolist(), todo_c.tolist(), strict=True):  # rare: walk the row
            row = orig[r]
            j = (c + 1) % self.num_perm
            while row[j] == _EMPTY32:
                j = (j + 1) % self.num_perm
            sig[rows[r], c] = row[j]

    def sign_many(
        self, shingle_sets: Sequence[np.ndarray], *, subsets: Sequence[np.ndarray] | None = None
    ) -> np.ndarray:
        """The :class:`Signer` interface: one row per set, then one per subset if given."""
        sets = list(shingle_sets) + (list(subsets) if subsets is not None else [])
        sizes = np.fromiter(map(len, sets), dtype=np.int64, count=len(sets))
        offsets = np.zeros(len(sets) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        flat = np.concatenate(sets) if sets else np.empty(0, dtype=np.uint64)
        return self.sign_flat(flat.astype(np.uint64, copy=False), offsets)

    def sign(self, shingle_set: np.ndarray) -> np.ndarray:
        return self.sign_many([shingle_set])[0]
