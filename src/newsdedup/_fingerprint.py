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
from typing import Protocol

import numpy as np
import xxhash

__all__ = [
    "PRIME",
    "MinHashSigner",
    "Shingler",
    "Signer",
    "WordShingler",
    "estimate_jaccard",
    "exact_jaccard",
    "intersection_size",
]

PRIME = np.uint64((1 << 31) - 1)
"""The Mersenne prime 2**31 - 1: the field of the MinHash permutations."""
_MASK32 = np.uint64(0xFFFFFFFF)
_EMPTY_SLOT = np.uint64((1 << 64) - 1)
"""Signature value of a document without shingles; such documents are never indexed."""


class Shingler(Protocol):
    """Turns tokens into the set of shingle hashes (sorted, unique, uint64)."""

    shingle_size: int

    def shingles(self, tokens: Sequence[str]) -> np.ndarray: ...


class Signer(Protocol):
    """Turns shingle-hash sets into MinHash signatures, one row per document."""

    num_perm: int

    def sign_many(self, shingle_sets: Sequence[np.ndarray]) -> np.ndarray: ...


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, vectorised (uint64 arithmetic wraps modulo 2**64)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)  # a fresh array: the rest works in place
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


class WordShingler:
    """Contiguous word ``k``-shingles hashed to uint64.

    A text shorter than ``k`` tokens yields one shingle over all its tokens, and no tokens yield
    an empty set. The token-hash cache is bounded (cleared when it grows past ``cache_size``).
    """

    def __init__(self, shingle_size: int = 5, *, seed: int = 1, cache_size: int = 500_000) -> None:
        self.shingle_size = shingle_size
        self.seed = seed
        self._cache: dict[str, int] = {}
        self._cache_size = cache_size
        rng = np.random.default_rng(seed)
        # one odd multiplier per window position: an order-sensitive combination
        self._mult = rng.integers(1, 1 << 63, size=shingle_size, dtype=np.uint64) | np.uint64(1)

    def token_hashes(self, tokens: Sequence[str]) -> np.ndarray:
        """uint64 hash per token. Only tokens missing from the cache are hashed (once each,
        however often they repeat); the array is then filled in one ``fromiter`` pass."""
        cache = self._cache
        if len(cache) > self._cache_size:
            cache.clear()
        lookup = cache.__getitem__
        try:
            return np.fromiter(map(lookup, tokens), dtype=np.uint64, count=len(tokens))
        except KeyError:
            pass
        seed = self.seed
        for tok in set(tokens).difference(cache):
            cache[tok] = xxhash.xxh3_64_intdigest(tok.encode("utf-8"), seed)
        return np.fromiter(map(lookup, tokens), dtype=np.uint64, count=len(tokens))

    def shingles(self, tokens: Sequence[str]) -> np.ndarray:
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
        return _sorted_unique(_splitmix64(acc))


def _sorted_unique(x: np.ndarray) -> np.ndarray:
    """``np.unique`` for a 1-d array we own: sort in place and mask repeats (several times
    faster than ``np.unique``, which also hashes)."""
    x.sort()
    if len(x) < 2:
        return x
    keep = np.empty(len(x), dtype=bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x if keep.all() else x[keep]


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


def exact_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard of two sorted unique shingle-hash arrays (0.0 when either is empty)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    inter = intersection_size(a, b)
    return inter / (len(a) + len(b) - inter)
