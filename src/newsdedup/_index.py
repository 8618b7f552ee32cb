"""LSH banding over MinHash signatures, with band/row counts derived from the threshold.

Two documents with Jaccard ``s`` share at least one of ``b`` bands of ``r`` rows with
probability ``1 - (1 - s**r)**b``. For a threshold ``t`` we pick the ``(b, r)`` with
``b * r <= num_perm`` that minimises ``fp_weight * FP + fn_weight * FN``, where ``FP`` is the
area under that curve for ``s`` in ``[0, t]`` (pairs below the threshold that still become
candidates) and ``FN`` the area above it for ``s`` in ``[t, 1]`` (pairs above it that are
missed) -- the same criterion datasketch's ``MinHashLSH`` uses, integrated here with numpy.

The index is behind the :class:`Index` Protocol: the in-memory :class:`BandedLSH` keeps one
dict per band from a 64-bit hash of the band's slots to the keys in that bucket; a persistent
store can implement the same four methods.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any, Protocol, TypeVar

import numpy as np

from ._arrays import sorted_unique
from ._exceptions import ConfigError

__all__ = ["ArrayLSH", "BandedLSH", "Index", "collision_probability", "optimal_bands"]


class Index(Protocol):
    """Candidate search over signatures: insert, query, remove, membership."""

    def insert(self, key: Hashable, signature: np.ndarray) -> None: ...

    def query(self, signature: np.ndarray) -> set[Hashable]: ...

    def remove(self, key: Hashable) -> None: ...

    def __contains__(self, key: object) -> bool: ...


def collision_probability(s: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    """Probability that a pair with Jaccard ``s`` shares at least one band."""
    return 1.0 - (1.0 - np.power(s, rows)) ** bands


@lru_cache(maxsize=256)
def optimal_bands(
    threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5
) -> tuple[int, int]:
    """``(bands, rows)`` minimising the weighted false-positive + false-negative area."""
    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"threshold must be in (0, 1), got {threshold!r}")
    if num_perm < 2:
        raise ConfigError(f"num_perm must be >= 2, got {num_perm!r}")
    if fp_weight < 0 or fn_weight < 0 or fp_weight + fn_weight <= 0:
        raise ConfigError("fp_weight and fn_weight must be >= 0 and not both 0")
    lo = np.linspace(0.0, threshold, 201)
    hi = np.linspace(threshold, 1.0, 201)
    best: tuple[float, int, int] | None = None
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = np.trapezoid(collision_probability(lo, b, r), lo)
            fn = np.trapezoid(1.0 - collision_probability(hi, b, r), hi)
            err = fp_weight * float(fp) + fn_weight * float(fn)
            if best is None or err < best[0] - 1e-12:
                best = (err, b, r)
    assert best is not None
    return best[1], best[2]


class BandedLSH:
    """In-memory banded LSH: ``bands`` buckets per key.

    Each band's ``rows`` slots are combined into one 64-bit bucket key with vectorised
    integer arithmetic (one numpy pass per signature); a collision between two different bands
    only adds a candidate, which verification then rejects.
    """

    def __init__(self, *, bands: int, rows: int, seed: int = 1) -> None:
        if bands < 1 or rows < 1:
            raise ConfigError(f"bands and rows must be >= 1, got {bands}, {rows}")
        self.bands = bands
        self.rows = rows
        rng = np.random.default_rng([seed, 0xBA4D])
        self._mult = rng.integers(1, 1 << 63, size=rows, dtype=np.uint64) | np.uint64(1)
        self._tables: list[dict[int, list[Hashable]]] = [{} for _ in range(bands)]
        self._keys: dict[Hashable, list[int]] = {}

    @classmethod
    def for_threshold(
        cls, threshold: float, num_perm: int, *, fp_weight: float = 0.5, fn_weight: float = 0.5
    ) -> BandedLSH:
        bands, rows = optimal_bands(threshold, num_perm, fp_weight, fn_weight)
        return cls(bands=bands, rows=rows)

    def band_keys(self, signature: np.ndarray) -> list[int]:
        """One 64-bit bucket key per band."""
        return self.band_keys_many(signature[None, :])[0].tolist()

    def band_keys_many(self, signatures: np.ndarray) -> np.ndarray:
        """``(n, bands)`` uint64 bucket keys for ``n`` signatures (one matrix product)."""
        need = self.bands * self.rows
        if signatures.shape[-1] < need:
            raise ValueError(f"signature has {signatures.shape[-1]} slots, index needs {need}")
        n = signatures.shape[0]
        # uint64 matmul wraps modulo 2**64 like the multiply-and-sum it replaces, in one call
        rows = signatures[:, :need].astype(np.uint64, copy=False).reshape(n, self.bands, self.rows)
        combined = rows @ self._mult
        combined ^= combined >> np.uint64(29)
        return combined

    def insert(self, key: Hashable, signature: np.ndarray) -> None:
        """Insert or replace ``key`` (idempotent: re-inserting never raises)."""
        self.insert_keys(key, self.band_keys(signature))

    def insert_keys(self, key: Hashable, bkeys: list[int]) -> None:
        """Insert or replace ``key`` with precomputed band keys (e.g. replayed from a store)."""
        if key in self._keys:
            self.remove(key)
        for table, bk in zip(self._tables, bkeys, strict=True):
            bucket = table.get(bk)
            if bucket is None:
                table[bk] = [key]
            else:
                bucket.append(key)
        self._keys[key] = bkeys

    def query(self, signature: np.ndarray) -> set[Hashable]:
        return self.query_keys(self.band_keys(signature))

    def query_keys(self, bkeys: list[int]) -> set[Hashable]:
        """Keys sharing at least one band key with ``bkeys``."""
        found: set[Hashable] = set()
        for table, bk in zip(self._tables, bkeys, strict=True):
            bucket = table.get(bk)
            if bucket:
                found.update(bucket)
        return found

    def remove(self, key: Hashable) -> None:
        bkeys = self._keys.pop(key, None)
        if bkeys is None:
            return
        for table, bk in zip(self._tables, bkeys, strict=True):
            bucket = table.get(bk)
            if bucket is not None and key in bucket:
                bucket.remove(key)
                if not bucket:
                    del table[bk]

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def keys(self) -> Iterable[Hashable]:
        return self._keys.keys()


_Handle = TypeVar("_Handle")


def _sorted_run(flat: np.ndarray, slots: np.ndarray, bands: int) -> tuple[np.ndarray, np.ndarray]:
    """The buffered items' keys (``bands`` per item of ``slots``, item after item) sorted, with
    each key's slot; equal keys in insertion order, as a stable argsort gives them. An item
    has each key once (the band is part of it), so each key is packed with its item's place
    in the buffer and sorted plainly: at a million items the stable argsort of every flush
    was about a quarter of the main process's time while reading. Keys too wide to leave
    room for the place take the argsort."""
    place_bits = max(1, (len(slots) - 1).bit_length())
    if not len(flat) or int(flat.max()).bit_length() + place_bits > 64:
        order = np.argsort(flat, kind="stable")
        return flat[order], np.repeat(slots, bands)[order]
    shift = np.uint64(place_bits)
    packed = flat << shift
    packed |= np.repeat(np.arange(len(slots), dtype=np.uint64), bands)
    packed.sort()
    place = (packed & np.uint64((1 << place_bits) - 1)).astype(np.intp)
    packed >>= shift
    return packed, slots[place]


_MAX_PENDING = 4096
"""Inserts buffered (as Python lists, about 2.6 KB an item at 73 bands) before they become a
sorted run even without a query: a stream that only inserts (postponed verification) would
otherwise buffer every item."""


class ArrayLSH(BandedLSH):
    """Banded LSH whose buckets live in sorted numpy arrays instead of dicts of lists.

    Every (band, bucket key) pair of every item is one ``uint64`` (band in the high 32 bits,
    the 32-bit bucket key below) next to the item's ``int32`` slot, kept in a few sorted runs
    (a log-structured merge: a new run per batch, neighbouring runs merged when of similar
    size, so sorting costs ``O(n log n)`` overall). Lookups are ``np.searchsorted`` over the
    runs for a whole batch of queries at once. About 12 bytes per item and band, where a dict
    of lists costs several times that; inserts are buffered until the next query, so replaying
    a store costs one sort instead of one Python call per band and item.

    Bucket keys must fit in 32 bits (the engine's keys do: see ``_dedup._KeyedLSH``).
    """

    def __init__(self, *, bands: int, rows: int, seed: int = 1) -> None:
        super().__init__(bands=bands, rows=rows, seed=seed)
        self._slot: dict[Hashable, int] = {}
        self._ids: list[Hashable] = []
        self._alive = np.zeros(0, dtype=bool)
        self._dead = 0
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []
        self._parked: (
            tuple[list[tuple[Any, np.dtype[Any], Any, np.dtype[Any]]], Callable[[Any], bytes]] | None
        ) = None
        self._pending_slots: list[int] = []
        self._pending_keys: list[Sequence[int]] = []
        self._defer = False
        self._unmerged = False
        self._band_high = np.arange(bands, dtype=np.uint64) << np.uint64(32)

    # -- maintenance ----------------------------------------------------------------------

    def _combined(self, keys: np.ndarray) -> np.ndarray:
        """(n, bands) 32-bit keys -> (n, bands) uint64 with the band in the high bits."""
        return (np.asarray(keys, dtype=np.uint64) & np.uint64(0xFFFFFFFF)) | self._band_high

    def park(self, write: Callable[[bytes], _Handle], read: Callable[[_Handle], bytes]) -> None:
        """Move the bucket arrays out of memory until they are needed again: ``write`` stores
        bytes and returns a handle, ``read`` gives the bytes of a handle back. The next insert
        flush, query, removal or band read loads them back; meanwhile the index holds only its
        id table. The deduplicator parks its indexes in its spill file once postponed
        verification has read them (clusters and output need no index)."""
        self._flush()
        if not self._runs:
            return
        handles = [(write(k.tobytes()), k.dtype, write(s.tobytes()), s.dtype) for k, s in self._runs]
        self._parked = (handles, read)
        self._runs = []

    def _unpark(self) -> None:
        if self._parked is None:
            return
        handles, read = self._parked
        self._parked = None
        self._runs = [
            (np.frombuffer(read(hk), dtype=dk), np.frombuffer(read(hs), dtype=ds))
            for hk, dk, hs, ds in handles
        ]

    @property
    def parked(self) -> bool:
        """Whether the bucket arrays are out of memory (see :meth:`park`)."""
        return self._parked is not None

    def _flush(self) -> None:
        self._unpark()
        if self._unmerged and not self._defer:  # runs left unmerged while deferring: at once
            self._unmerged = False
            self._runs = [self._merge(self._runs)] if len(self._runs) > 1 else self._runs
        if not self._pending_slots:
            return
        keys = self._combined(np.array(self._pending_keys, dtype=np.uint64).reshape(-1, self.bands))
        slots = np.array(self._pending_slots, dtype=np.int32)
        self._pending_slots, self._pending_keys = [], []
        self._runs.append(_sorted_run(keys.ravel(), slots, self.bands))
        if self._defer:
            self._unmerged = True
            return
        while len(self._runs) > 1 and 2 * len(self._runs[-1][0]) >= len(self._runs[-2][0]):
            self._runs[-2:] = [self._merge(self._runs[-2:])]

    def defer_merges(self, defer: bool = True) -> None:
        """While ``defer``, each flush of inserts makes a sorted run of its own and no runs are
        merged: for a stream that only inserts until :meth:`band_rows` reads the index
        (postponed verification), which cuts each band out of every run anyway: merging as
        it goes copies the whole index once per merge level. After, the next flush or query
        merges the runs at once (one stable sort of sorted runs)."""
        self._defer = defer

    def _merge(self, runs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """Sorted runs (oldest first) as one, without removed items."""
        keys, slots = self._live(np.concatenate([k for k, _ in runs]), np.concatenate([s for _, s in runs]))
        order = np.argsort(keys, kind="stable")  # sorted runs: a merge, older rows first
        return keys[order], slots[order]

    def _live(self, keys: np.ndarray, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows of items not removed."""
        live = self._alive[slots]
        return (keys, slots) if live.all() else (keys[live], slots[live])

    def band_rows(self, rows: int = 1 << 20) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every live ``(band << 32 | bucket key, slot)`` row, sorted, about ``rows`` rows at a
        time: a few whole bands, or a band cut into pieces between buckets (a bucket is a run
        of equal keys and never spans two parts; one bigger than ``rows`` is a part alone).
        Each band is cut out of every run and sorted alone, so no copy of the whole index is
        made. Slots number items in insertion order (:meth:`slot_keys`). No live row: no part."""
        self._flush()
        keys_parts: list[np.ndarray] = []
        slot_parts: list[np.ndarray] = []
        held = 0
        for band in range(self.bands):
            lo, hi = np.uint64(band << 32), np.uint64((band + 1) << 32)
            cuts = [(np.searchsorted(k, lo), np.searchsorted(k, hi)) for k, _ in self._runs]
            keys = np.concatenate([k[a:b] for (k, _), (a, b) in zip(self._runs, cuts, strict=True)])
            slots = np.concatenate([s[a:b] for (_, s), (a, b) in zip(self._runs, cuts, strict=True)])
            order = np.argsort(keys, kind="stable")
            keys, slots = self._live(keys[order], slots[order])
            start = 0
            while len(keys) - start > rows - held:  # the part fills up inside this band
                # cut at the start of the bucket that holds the part's first row too many
                end = start + rows - held
                end = start + int(np.searchsorted(keys[start:end], keys[end], side="left"))
                if end == start:  # that bucket begins here
                    if held:  # the part is what it holds already
                        yield np.concatenate(keys_parts), np.concatenate(slot_parts)
                        keys_parts, slot_parts, held = [], [], 0
                        continue
                    end = int(np.searchsorted(keys, keys[start], side="right"))  # a bucket alone
                keys_parts.append(keys[start:end])
                slot_parts.append(slots[start:end])
                yield np.concatenate(keys_parts), np.concatenate(slot_parts)
                keys_parts, slot_parts, held, start = [], [], 0, end
            if start < len(keys):
                keys_parts.append(keys[start:])
                slot_parts.append(slots[start:])
                held += len(keys) - start
            if held >= rows or (held and band == self.bands - 1):
                yield np.concatenate(keys_parts), np.concatenate(slot_parts)
                keys_parts, slot_parts, held = [], [], 0

    def slot_keys(self) -> list[Hashable]:
        """The key of every slot, in insertion order (removed keys included)."""
        return self._ids

    def _compact(self) -> None:
        """Drop removed items from every run once they are the majority."""
        self._runs = [self._live(keys, slots) for keys, slots in self._runs]
        self._dead = 0

    # -- the Index protocol -----------------------------------------------------------------

    def insert_keys(self, key: Hashable, bkeys: Sequence[int]) -> None:
        if len(bkeys) != self.bands:
            raise ValueError(f"{len(bkeys)} band keys for an index of {self.bands} bands")
        if key in self._slot:
            self.remove(key)
        slot = len(self._ids)
        self._ids.append(key)
        self._slot[key] = slot
        if slot >= len(self._alive):
            grown = np.zeros(max(1024, 2 * len(self._alive)), dtype=bool)
            grown[: len(self._alive)] = self._alive
            self._alive = grown
        self._alive[slot] = True
        self._pending_slots.append(slot)
        self._pending_keys.append(bkeys)
        if len(self._pending_slots) >= _MAX_PENDING:  # inserts without queries: bounded buffer
            self._flush()

    def query_keys(self, bkeys: list[int]) -> set[Hashable]:
        return self.query_many(np.asarray([bkeys], dtype=np.uint64))[0]

    def query_many(self, keys: np.ndarray) -> list[set[Hashable]]:
        """For each row of ``(n, bands)`` bucket keys, the indexed items sharing a bucket."""
        self._flush()
        n = keys.shape[0]
        found: list[set[Hashable]] = [set() for _ in range(n)]
        if not self._runs or n == 0:
            return found
        q = self._combined(keys).ravel()
        qrow = np.repeat(np.arange(n, dtype=np.int64), self.bands)
        # sorted needles: searchsorted then walks each run once instead of jumping around it
        # (about 4x faster on a run larger than the CPU cache); the result is a set per row
        order = np.argsort(q, kind="stable")
        q, qrow = q[order], qrow[order]
        rows_parts, slot_parts = [], []
        for run_keys, run_slots in self._runs:
            if not len(run_keys):
                continue
            lo = np.searchsorted(run_keys, q, side="left")
            np.minimum(lo, len(run_keys) - 1, out=lo)
            hit = run_keys[lo] == q
            if not hit.any():
                continue
            # most needles match nothing: the bucket sizes are looked up for the hits only
            lo, rows = lo[hit], qrow[hit]
            count = np.searchsorted(run_keys, q[hit], side="right") - lo
            total = int(count.sum())
            first = np.repeat(lo - (np.cumsum(count) - count), count)
            slot_parts.append(run_slots[first + np.arange(total, dtype=np.int64)])
            rows_parts.append(np.repeat(rows, count))
        if not slot_parts:
            return found
        rows_all = np.concatenate(rows_parts)
        slots_all = np.concatenate(slot_parts).astype(np.int64)
        live = self._alive[slots_all]
        pair = sorted_unique((rows_all[live] << np.int64(32)) | slots_all[live], in_place=True)
        ids = self._ids
        for r, s in zip((pair >> np.int64(32)).tolist(), (pair & np.int64(0xFFFFFFFF)).tolist(), strict=True):
            found[r].add(ids[s])
        return found

    def remove(self, key: Hashable) -> None:
        slot = self._slot.pop(key, None)
        if slot is None:
            return
        self._alive[slot] = False
        self._dead += 1
        if self._dead > len(self._slot) and self._dead > 4096:
            self._flush()
            self._compact()

    def __contains__(self, key: object) -> bool:
        return key in self._slot

    def __len__(self) -> int:
        return len(self._slot)

    def keys(self) -> Iterable[Hashable]:
        return self._slot.keys()

    def nbytes(self) -> int:
        """Bytes the bucket arrays hold in memory (not counting the id strings; 0 for the runs
        while parked)."""
        return sum(k.nbytes + s.nbytes for k, s in self._runs) + self._alive.nbytes
