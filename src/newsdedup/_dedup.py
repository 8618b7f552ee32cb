"""The deduplicator: clean articles in, clusters of syndicated copies out.

Per item: extraction (HTML or text) -> eligibility (``min_chars`` / ``min_tokens``) ->
normalisation and word shingles -> two MinHash signatures (whole text, and the lead) -> LSH
candidates from both indexes -> verification of every candidate, or in a big story of a
bounded set of them (``max_verify``: each item's lowest-ranked candidates) -> verified edges. Clusters
are computed from the edge graph on demand (:meth:`Deduplicator.clusters`), so they can be
queried at any time and do not depend on the order items arrived in.

Why two indexes: a copy that keeps only the first third of a story has a Jaccard of about 1/3
with the original, far below any sane near-duplicate threshold, so the whole-text LSH cannot be
relied on to propose it. Its *lead* however is identical, so a second, small signature over the
first ``lead_tokens`` tokens makes truncated copies candidates; verification then accepts them
by containment. The whole-text index also over-recalls (``candidate_threshold`` below
``threshold``); verification is exact and cheap, so extra candidates cost little.

All mutable matching state (item metadata, articles, verification docs, LSH buckets, verified
edges) lives in :class:`MemoryState`. With a store (``Deduplicator(store=...)``, see
``newsdedup._store``) that state is a replica: each batch is matched and committed inside one
store transaction, after replaying what other processes committed since (item rows carry their
LSH bucket keys, so the index is rebuilt without re-signing anything). Because verified edges
do not depend on arrival order, several runs give the same partition as one run.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import gc
import hashlib
import heapq
import json
import logging
import math
import os
import re
import sys
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import BrokenExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np
import xxhash

from ._arrays import in_sorted, sorted_unique
from ._cluster import (
    ComponentPart,
    _component_labels,
    _Repeats,
    build_cluster,
    cluster_id_for,
    member_rows,
    partition_pairs,
    repeated_keys_of_rows,
    repeats_from,
    site_repeated_keys,
    size_priority,
    split_part,
    stored_paras,
)
from ._exceptions import ConfigError, StoreCorrupt, finite_number
from ._fingerprint import OnePermSigner, ShingleBatch, TokenBatch, WordShingler, head_and_prefix
from ._hubs import (
    _NO_PLACE,
    _kth,
    _merge_lows,
    _pair_lists,
    hub_bounds,
    hub_edges,
    hub_settle,
    id_order,
    item_rank,
    kept_pairs,
    low_places,
    ranks_of,
    settled,
    unit_anchors,
)
from ._index import ArrayLSH, optimal_bands
from ._models import Article, Cluster, as_utc
from ._normalize import normalize_text, tokenize
from ._procs import LogSetup, log_setup, mp_context, start_forkserver, stop_workers, worker_start
from ._records import RawLine, Record, RecordError, check_items, junk_page_reason, to_article
from ._spill import _Cache, _pread_exact, _SharedFile, _Spill
from ._store._base import (
    ClusterRow,
    EdgeRow,
    ItemRow,
    UpdateRow,
    decode_u32,
    encode_u32,
)
from ._verify import Alphabet, Doc, PairVerifier, Sketch, Verdict

if TYPE_CHECKING:
    from ._store._base import Store, Transaction
    from ._story import GroupingProfiler, StoryConfig, StoryProfile

__all__ = ["Decision", "DedupConfig", "Deduplicator", "ErrorRecord", "MemoryState", "dedup", "parse_window"]

logger = logging.getLogger("newsdedup")

Item = Record | Mapping[str, Any] | Article


@dataclass(frozen=True, slots=True, kw_only=True)
class DedupConfig:
    """Every dedup setting, validated; a bad value raises :class:`ConfigError` naming the field."""

    threshold: float = 0.5
    """Exact word-shingle Jaccard at or above which two texts are near-duplicates."""
    containment_threshold: float = 0.7
    """Share of the smaller text's shingles found in the larger for a truncated copy."""
    num_perm: int = 128
    shingle_size: int = 5
    seed: int = 1
    min_chars: int = 150
    """Shorter clean texts are never fingerprinted or matched (they stay singletons)."""
    min_tokens: int = 20
    candidate_threshold: float | None = None
    """Jaccard the whole-text LSH is tuned for; default ``0.7 * threshold`` (over-recall)."""
    lead_tokens: int = 80
    """Tokens of the lead signature for truncated copies; 0 turns the lead index off."""
    lead_threshold: float = 0.4
    min_align: float = 80.0
    """rapidfuzz ``partial_ratio`` the smaller text's head must reach inside the larger text."""
    max_number_mismatch: float = 0.05
    """Share of the smaller text's numbers that may be substituted (see ``_verify``)."""
    max_name_mismatch: float = 0.1
    tokens_per_substitution: int = 100
    """Number substitutions are tolerated while the smaller text has this many tokens per
    substitution (a stray junk number on long copies); template stories are short."""
    decisive_jaccard: float = 0.8
    """A pair with at least this exact Jaccard whose smaller text has no number the larger one
    lacks is accepted on its shingles alone (no alignment, no formulaic-story guard); 1.0
    turns this off."""
    decisive_containment: float = 0.9
    """A truncated copy (containment at least this) whose head is in the first fifth of the
    larger text and which adds no number is accepted on its shingles alone; 1.0 turns this
    off."""
    reject_junk_pages: bool = True
    """Short texts that are bot challenges, consent/paywall walls or error pages go to
    ``errors`` as ``junk-page`` instead of clustering with every other host's copy."""
    max_verify: int | None = 8
    """None verifies every LSH candidate: a story with ``n`` copies costs ``n(n-1)/2``
    verifications. ``K`` (default 8) bounds that without making the result depend on the
    input order: each item keeps its ``K`` lowest-ranked candidates (rank: a hash of the id),
    a pair is verified when either side is among the other's, and clustering uses the accepted
    pairs in that relation for the final lists (see :meth:`Deduplicator._hub_pairs`), asking a
    member for at most ``K // 4`` verified neighbours (see ``_cluster``)."""
    settle_after: int | None = 3
    """With ``max_verify``: an item whose ``settle_after`` lowest-ranked hubs all verified as
    copies of it is *settled*, and its pairs with the rest of its hubs are neither verified
    (when verification is postponed, as in the CLI) nor clustered on; an item with a rejected
    pair among them keeps all ``max_verify``. In a big story most pairs are of settled copies
    (about half the verifications of the 1M benchmark). None (or a value of at least
    ``max_verify``) verifies and keeps every pair of the hub relation, as before."""
    cluster_size_alarm: int = 200
    """Log a warning for any cluster with more members than this (nothing is capped)."""
    site_repeat_min: int = 3
    """A paragraph one site prints in this many different clusters is dropped from canonical
    texts (site boilerplate the extractor kept); 0 turns this off."""
    fp_weight: float = 0.2
    fn_weight: float = 0.8

    def __post_init__(self) -> None:
        def check(name: str, ok: bool, what: str) -> None:
            if not ok:
                raise ConfigError(f"dedup.{name} {what}, got {getattr(self, name)!r}")

        def is_int(v: object) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        for name in (
            "threshold", "containment_threshold", "lead_threshold", "decisive_jaccard", "decisive_containment",
        ):  # fmt: skip
            v = getattr(self, name)
            check(name, finite_number(v) and 0.0 < v <= 1.0, "must be a number in (0, 1]")
        if self.candidate_threshold is not None:
            v = self.candidate_threshold
            check("candidate_threshold", finite_number(v) and 0.0 < v < 1.0, "must be a number in (0, 1)")
        check("num_perm", is_int(self.num_perm) and 2 <= self.num_perm <= 4096, "must be an int in [2, 4096]")
        check(
            "shingle_size", is_int(self.shingle_size) and 1 <= self.shingle_size <= 32, "must be in [1, 32]"
        )
        check("seed", is_int(self.seed) and 0 <= self.seed < 2**64, "must be an int in [0, 2**64)")
        check("min_chars", is_int(self.min_chars) and self.min_chars >= 1, "must be an int >= 1")
        check("min_tokens", is_int(self.min_tokens) and self.min_tokens >= 1, "must be an int >= 1")
        check("lead_tokens", is_int(self.lead_tokens) and self.lead_tokens >= 0, "must be an int >= 0")
        check("reject_junk_pages", isinstance(self.reject_junk_pages, bool), "must be a bool")
        check(
            "max_verify",
            self.max_verify is None or (is_int(self.max_verify) and self.max_verify >= 4),
            "must be None (verify every candidate) or an int >= 4",
        )
        check(
            "settle_after",
            self.settle_after is None or (is_int(self.settle_after) and self.settle_after >= 1),
            "must be None (keep every hub pair) or an int >= 1",
        )
        check(
            "cluster_size_alarm",
            is_int(self.cluster_size_alarm) and self.cluster_size_alarm >= 2,
            "must be an int >= 2",
        )
        check(
            "site_repeat_min",
            is_int(self.site_repeat_min) and (self.site_repeat_min == 0 or self.site_repeat_min >= 2),
            "must be 0 (off) or an int >= 2",
        )
        check(
            "tokens_per_substitution",
            is_int(self.tokens_per_substitution) and self.tokens_per_substitution >= 1,
            "must be an int >= 1",
        )
        check(
            "min_align", finite_number(self.min_align) and 0 <= self.min_align <= 100, "must be in [0, 100]"
        )
        for name in ("max_number_mismatch", "max_name_mismatch"):
            v = getattr(self, name)
            check(name, finite_number(v) and 0.0 <= v <= 1.0, "must be a number in [0, 1]")
        for name in ("fp_weight", "fn_weight"):
            v = getattr(self, name)
            check(name, finite_number(v) and v >= 0, "must be a finite number >= 0")
        if self.fp_weight + self.fn_weight <= 0:
            raise ConfigError("dedup.fp_weight and dedup.fn_weight must not both be 0")

    @property
    def lsh_threshold(self) -> float:
        if self.candidate_threshold is not None:
            return self.candidate_threshold
        return min(0.99, max(0.05, 0.7 * self.threshold))

    def bands(self) -> tuple[int, int]:
        """``(bands, rows)`` of the whole-text index, derived from :attr:`lsh_threshold`."""
        return optimal_bands(self.lsh_threshold, self.num_perm, self.fp_weight, self.fn_weight)

    def lead_bands(self) -> tuple[int, int]:
        return optimal_bands(min(self.lead_threshold, 0.99), self.num_perm, self.fp_weight, self.fn_weight)

    def fingerprint(self) -> str:
        """Short hash of everything that changes signatures or buckets (for stores)."""
        parts = (
            # signature scheme: one-permutation MinHash over byte-hashed tokens; 2: each
            # character of a script written without spaces (Han, kana, Thai, ...) is a token
            "oph-2",
            self.num_perm,
            self.shingle_size,
            self.seed,
            self.lead_tokens,
            self.bands(),
            self.lead_bands(),
        )
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]

    def verifier(self) -> PairVerifier:
        """The pair verifier these settings describe (the deduplicator's and the explainer's)."""
        return PairVerifier(
            threshold=self.threshold,
            containment_threshold=self.containment_threshold,
            min_align=self.min_align,
            max_number_mismatch=self.max_number_mismatch,
            max_name_mismatch=self.max_name_mismatch,
            tokens_per_substitution=self.tokens_per_substitution,
            decisive_jaccard=self.decisive_jaccard,
            decisive_containment=self.decisive_containment,
        )

    @property
    def settle(self) -> int | None:
        """``settle_after`` where it can spare pairs (below ``max_verify``), else None."""
        limit, after = self.max_verify, self.settle_after
        return after if limit is not None and after is not None and after < limit else None

    @property
    def max_need(self) -> int | None:
        """The cap on how many verified neighbours clustering asks of a member (``_cluster``)."""
        return None if self.max_verify is None else self.max_verify // 4

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stored_settings(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`DedupConfig` fields of a store's recorded settings (others are ignored). A
    store written before ``settle_after`` existed keeps every hub pair (None), so the clusters
    it emits do not change under it."""
    known = {k: v for k, v in stored.items() if k in DedupConfig.__dataclass_fields__}
    if known and "settle_after" not in known:
        known["settle_after"] = None
    return known


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What happened to one added item."""

    id: str | None
    status: str
    """``new`` (no verified copy yet), ``duplicate`` (verified against ``duplicate_of``),
    ``too-short`` (kept as a singleton, never matched), ``already-seen`` (same id and text
    again: ignored), ``error`` (unusable; see ``reason`` and :attr:`Deduplicator.errors`)."""
    duplicate_of: str | None = None
    kind: str | None = None
    """``near-duplicate`` or ``truncated`` for a duplicate."""
    jaccard: float | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorRecord:
    """An unusable input item, as written to the errors file."""

    line: int | None
    id: str | None
    reason: str
    message: str = ""
    file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"line": self.line, "id": self.id, "reason": self.reason}
        if self.file is not None:
            out["file"] = self.file
        if self.message:
            out["message"] = self.message
        return out


@dataclass(slots=True)
class _Meta:
    """What matching and clustering need of one item, without its text (kept for every item)."""

    seq: int
    time: float
    """Epoch seconds the window is measured on: ``published``, else the ingest time."""
    ingested: float
    n_shingles: int
    """0 for too-short items (never matched)."""
    text_hash: str
    site: str | None
    paras: bytes
    """Paragraph hashes (for site boilerplate) as little-endian uint64s, the store's encoding:
    one bytes object instead of a tuple of ints (a few hundred bytes less per item); empty
    when the item has no site."""


_CHUNK_MEMBERS = 10_000
"""Members whose articles :meth:`Deduplicator.iter_clusters` reads at once (about 50 MB)."""
_WORKER_CHUNK_MEMBERS = 2_500
"""Members per part sent to a worker to build (see :meth:`Deduplicator._clusters_in_workers`)."""
_POOL_CLUSTERS_MIN = 5_000
"""Fewest items for which clusters are built in worker processes (starting them costs more
than a smaller run's clusters take)."""
_SPLIT_PARTS = 4
"""Parts of the components per worker when the workers split them (:meth:`Deduplicator._split_in_workers`)."""
_SPLIT_PART_ROWS = 50_000
"""Fewest neighbour entries (twice the edges) in such a part."""
_NO_SHINGLES = np.empty(0, dtype=np.uint64)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for one phase, as it was before afterwards. The
    postponed verification makes a verdict, a decision and an edge per pair or item and keeps
    most of them: every young collection found them alive, and each time the long-lived
    objects grew by a quarter a full collection walked all of them again (about 21 s of the
    main process at a million items). That phase makes no reference cycles of its own; the
    collector catches up on anything else's once it is back on."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _KeyedLSH(ArrayLSH):
    """BandedLSH with 32-bit bucket keys that can also be fed precomputed keys (replayed from a
    store). 32 bits halve the stored keys; a chance bucket collision only adds a candidate,
    which verification rejects, and memory and store runs use the same keys, so they agree."""

    def band_keys(self, signature: np.ndarray) -> list[int]:
        return self.band_keys_many(signature[None, :])[0].tolist()

    def band_keys_many(self, signatures: np.ndarray) -> np.ndarray:
        """``(n, bands)`` uint64 array of 32-bit bucket keys, one row per signature."""
        return ArrayLSH.band_keys_many(self, signatures) & np.uint64(0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class Fingerprints:
    """What :meth:`Deduplicator.fingerprint` computes for a batch of articles, in their order."""

    docs: list[Doc | None]
    """Verification doc per article; None for texts too short to match."""
    keys: list[tuple[list[int], list[int]] | None]
    """(whole-text band keys, lead band keys) per article; None for too-short texts."""


class _Edges:
    """The accepted pairs (verified edges) with their verdicts, as columns instead of a dict of
    sets plus a dict of verdicts (about 1.3 KB per item on the generated corpus): each item id
    gets a dense int on its first edge, and a pair is one row of ``array`` columns, its two
    ints (``a < b`` as strings, the order :meth:`items` gives), a kind code and the three scores
    as float64 (they reach :meth:`Deduplicator.verdict` unchanged). Lookups go through a
    sorted key array built on first use after an add. Adding a pair again replaces its verdict
    (the first row keeps its place, as a dict overwrite does); such rows are merged on the next
    read."""

    __slots__ = ("_a", "_align", "_b", "_codes", "_containment", "_ids", "_index", "_jaccard", "_kind",
                 "_kinds", "_node", "_rank")  # fmt: skip

    def __init__(self) -> None:
        self._node: dict[str, int] = {}
        self._ids: list[str] = []
        self._a = array("I")
        self._b = array("I")
        self._kind = array("B")
        self._jaccard = array("d")
        self._containment = array("d")
        self._align = array("d")
        self._kinds: list[tuple[bool, str]] = []
        """Code -> (accepted, kind): in practice the two accepted kinds."""
        self._codes: dict[tuple[bool, str], int] = {}
        self._index: tuple[np.ndarray, np.ndarray] | None = None
        """Sorted pair keys (low node << 32 | high node) and their rows; None: stale."""
        self._rank = np.empty(0, dtype=np.uint64)
        """:func:`ranks_of` the first nodes (see :meth:`_ranks`)."""

    def add(self, a: str, b: str, verdict: Verdict) -> None:
        """Record the accepted pair ``a - b`` (either order) with its verdict."""
        self.add_many([(a, b)], ((verdict.accepted, verdict.kind),), b"\x00", [verdict.jaccard],
                      [verdict.containment], [verdict.align])  # fmt: skip

    def add_many(
        self,
        pairs: Sequence[tuple[str, str]],
        tags: Sequence[tuple[bool, str]],
        codes: bytes | Sequence[int],
        jaccard: Sequence[float],
        containment: Sequence[float],
        align: Sequence[float],
    ) -> None:
        """Record accepted pairs (either order) with their verdicts: per pair a code into
        ``tags`` (the ``(accepted, kind)`` table, as :class:`_Verdicts` holds it) and the three
        scores. The columns grow by whole arrays (a call per pair cost about 2.5 µs at a
        million items, with 6.9 million edges)."""
        if not pairs:
            return
        mine = [_tag_code(self._codes, tag) for tag in tags]  # the table's codes -> this one's
        if len(self._codes) > len(self._kinds):  # a new kind: the code -> tag list follows
            self._kinds = list(self._codes)
        node = self._node
        ids = self._ids
        col_a: list[int] = []
        col_b: list[int] = []
        for a, b in pairs:
            if b < a:
                a, b = b, a
            na = node.get(a)
            if na is None:
                na = node[a] = len(ids)
                ids.append(a)
            nb = node.get(b)
            if nb is None:
                nb = node[b] = len(ids)
                ids.append(b)
            col_a.append(na)
            col_b.append(nb)
        if len(codes) != len(col_a):
            raise ValueError(f"{len(codes)} verdict codes for {len(col_a)} pairs")
        self._a.extend(col_a)
        self._b.extend(col_b)
        self._kind.frombytes(bytes([mine[code] for code in codes]))
        self._jaccard.extend(jaccard)
        self._containment.extend(containment)
        self._align.extend(align)
        self._index = None

    def _pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Both node columns as int64 arrays (copies: the columns stay growable)."""
        return (
            np.frombuffer(self._a, dtype=np.uint32).astype(np.int64),
            np.frombuffer(self._b, dtype=np.uint32).astype(np.int64),
        )

    def _sorted(self) -> tuple[np.ndarray, np.ndarray]:
        """The lookup index, built (and repeated pairs merged) if an add made it stale."""
        if self._index is None:
            a, b = self._pairs()
            keys = (np.minimum(a, b).astype(np.uint64) << np.uint64(32)) | np.maximum(a, b).astype(np.uint64)
            order = np.argsort(keys, kind="stable")
            keys = keys[order]
            again = np.flatnonzero(keys[1:] == keys[:-1]) + 1
            if len(again):
                self._merge(order, keys, again)
                return self._sorted()
            self._index = (keys, order.astype(np.uint32) if len(order) < 1 << 32 else order)
        return self._index

    def _merge(self, order: np.ndarray, keys: np.ndarray, again: np.ndarray) -> None:
        """Keep one row per pair: the first one's place with the last one's verdict."""
        start = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        end = np.r_[start[1:], len(keys)] - 1
        first, last = order[start], order[end]
        keep = np.ones(len(keys), dtype=bool)
        keep[order[again]] = False
        for name in ("_a", "_b", "_kind", "_jaccard", "_containment", "_align"):
            column: array[Any] = getattr(self, name)
            values = np.frombuffer(column, dtype=np.dtype(column.typecode)).copy()
            values[first] = values[last]
            setattr(self, name, array(column.typecode, values[keep].tobytes()))

    def __len__(self) -> int:
        return len(self._sorted()[0])

    def _verdict(self, row: int) -> Verdict:
        accepted, kind = self._kinds[self._kind[row]]
        return Verdict(accepted, kind, self._jaccard[row], self._containment[row], self._align[row])

    def verdict(self, a: str, b: str) -> Verdict | None:
        """The verdict of the pair ``a - b`` (either order); None if it was never added."""
        na, nb = self._node.get(a), self._node.get(b)
        if na is None or nb is None:
            return None
        keys, rows = self._sorted()
        key = (min(na, nb) << 32) | max(na, nb)
        at = int(np.searchsorted(keys, np.uint64(key)))
        if at == len(keys) or int(keys[at]) != key:
            return None
        return self._verdict(int(rows[at]))

    def items(self) -> Iterator[tuple[str, str, Verdict]]:
        """Every pair once, as ``(a, b, verdict)`` with ``a < b``, in the order first added."""
        self._sorted()
        ids = self._ids
        for row, (a, b) in enumerate(zip(self._a, self._b, strict=True)):
            yield ids[a], ids[b], self._verdict(row)

    def kept(
        self, hubs: Mapping[str, Sequence[int]], limit: int | None, settle_after: int | None = None
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The pairs clustering uses (see :func:`hub_edges` and :func:`settled`) as ``(ids, a,
        b)``: the pairs ``ids[a[i]] - ids[b[i]]``."""
        a, b = self._pairs()
        if limit is None:
            return self._ids, a, b
        kth, settle = hub_bounds(self._ids, hubs, limit, settle_after)
        if settle is None or settle_after is None:
            return self._ids, *kept_pairs(a, b, self._ranks(), kth)
        return self._ids, *kept_pairs(a, b, self._ranks(), kth, settle, settle_after)

    def _ranks(self) -> np.ndarray:
        """:func:`ranks_of` the nodes, kept for the next call (nodes only get added): once
        for :meth:`settled` and :meth:`kept` instead of a pass over every id each (about 0.4 s
        a pass at a million items)."""
        have = len(self._rank)
        if have < len(self._ids):
            self._rank = np.concatenate((self._rank, ranks_of(self._ids[have:])))
        return self._rank

    def settled(self, hubs: Mapping[str, Sequence[int]], settle_after: int) -> set[str]:
        """The ids :func:`settled` by the accepted pairs held so far."""
        a, b = self._pairs()
        done = settled(a, b, self._ranks(), hub_settle(self._ids, hubs, settle_after), settle_after)
        ids = self._ids
        return {ids[k] for k in np.flatnonzero(done).tolist()}

    def hub_edges(
        self, hubs: Mapping[str, Sequence[int]], limit: int | None, settle_after: int | None = None
    ) -> dict[str, set[str]]:
        """The adjacency clustering uses (see :func:`hub_edges`), built from the kept pairs."""
        return hub_edges(*self.kept(hubs, limit, settle_after))


@dataclass(slots=True)
class MemoryState:
    """All mutable dedup state held in memory: the whole state without a store, the working
    replica of it with one (articles and docs are then a bounded cache of the store)."""

    meta: dict[str, _Meta] = field(default_factory=dict)
    articles: _Cache = field(default_factory=lambda: _Cache(None))
    docs: _Cache = field(default_factory=lambda: _Cache(None))
    sketches: _Cache = field(default_factory=lambda: _Cache(None))
    """:class:`Sketch` es of many more items than ``docs`` holds: the shingle-only verdicts and
    canonical choice need only these."""
    edges: _Edges = field(default_factory=_Edges)
    """The accepted pairs and their verdicts."""
    hubs: dict[str, array[int]] = field(default_factory=dict)
    """With ``max_verify``: per item, the sorted ranks of its lowest-ranked candidates (an
    unsigned 64-bit array: about 130 bytes per item for 8 ranks, a list would take 380)."""
    main: _KeyedLSH | None = None
    lead: _KeyedLSH | None = None
    indexed: list[tuple[float, str]] = field(default_factory=list)
    """Heap of (time, id) of items in the LSH indexes, for window expiry."""
    high_water: float = 0.0
    """Latest item time seen (a future ``published`` counts as its ingest time)."""
    item_seq: int = 0
    edge_seq: int = 0

    def add_edge(self, a: str, b: str, verdict: Verdict) -> None:
        self.edges.add(a, b, verdict)

    def add_edges(
        self, found: _Verdicts, scores: list[float], pairs: Sequence[tuple[str, str]], rows: Sequence[int]
    ) -> None:
        """Add the pairs ``pairs[i]`` with the verdicts at ``rows[i]`` of ``found`` (``scores``:
        its :meth:`_Verdicts.scores`)."""
        codes = found.codes
        self.edges.add_many(
            pairs, found.tags, [codes[r] for r in rows], [scores[3 * r] for r in rows],
            [scores[3 * r + 1] for r in rows], [scores[3 * r + 2] for r in rows],
        )  # fmt: skip


_WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_window(value: str | float | timedelta | None) -> float | None:
    """``"72h"``, ``"30m"``, ``"7d"``, seconds or a timedelta -> seconds (None: no window)."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) if finite_number(value) else math.nan
    elif isinstance(value, str):
        m = _WINDOW.match(value)
        if not m:
            raise ConfigError(f"window must look like 30m, 72h or 7d, got {value!r}")
        seconds = float(m.group(1)) * _UNITS[m.group(2).lower()]
    else:
        raise ConfigError(f"window must be a duration, got {value!r}")
    if not (finite_number(seconds) and seconds > 0):
        raise ConfigError(f"window must be positive and finite, got {value!r}")
    return seconds


class Deduplicator:
    """Streaming deduplicator. ``add`` items one by one or in batches; ask for clusters any time.

    ``Deduplicator(0.6)`` or ``Deduplicator(config=DedupConfig(threshold=0.6))``; keywords
    override fields of ``config``. With ``store=`` (see :func:`newsdedup.open_store`) every batch
    is matched against everything the store holds and committed in one transaction, so runs
    continue each other and a killed run loses at most the batch in flight. ``window`` (``"72h"``,
    seconds or a timedelta) only matches items whose times are at most that far apart and drops
    older items from the index. ``cache_items`` bounds the articles kept in memory with a store
    or with ``spill=True`` (no store: texts go to a temporary file, so memory stays bounded on
    inputs of any size). ``jobs`` worker processes run the stateless part of
    :meth:`add_stream`.
    """

    def __init__(
        self,
        threshold: float | None = None,
        *,
        config: DedupConfig | None = None,
        store: Store | None = None,
        window: str | float | timedelta | None = None,
        name: str = "default",
        cache_items: int = 20_000,
        jobs: int = 1,
        spill: bool = False,
        extract_timeout: float = 120.0,
        on_verdict: Callable[[str, str, Verdict], None] | None = None,
        **overrides: Any,
    ) -> None:
        if config is not None and not isinstance(config, DedupConfig):
            raise ConfigError(
                f"config must be a DedupConfig (or its settings as keyword arguments), got {type(config).__name__}"
            )
        if store is not None and not callable(getattr(store, "transaction", None)):
            raise ConfigError(f"store must be a Store, as open_store() returns, got {store!r:.80}")
        base = config or DedupConfig()
        if threshold is not None:
            overrides["threshold"] = threshold
        unknown = set(overrides) - set(DedupConfig.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown dedup setting(s): {', '.join(sorted(unknown))}")
        self.config = DedupConfig(**{**base.to_dict(), **overrides}) if overrides else base
        if not isinstance(cache_items, int) or cache_items < 100:
            raise ConfigError(f"cache_items must be an int >= 100, got {cache_items!r}")
        if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
            raise ConfigError(f"jobs must be an int >= 1, got {jobs!r}")
        self.jobs = jobs
        if not (finite_number(extract_timeout) and extract_timeout > 0):
            raise ConfigError(f"extract_timeout must be a finite number > 0, got {extract_timeout!r}")
        self.extract_timeout = float(extract_timeout)
        """Seconds a preparing worker (``jobs > 1``) may spend on one batch of items before it
        is stopped and the batch's items are prepared one at a time, each within the same
        limit; the item that overruns alone is an ``extract-timeout`` error (a page that hangs
        the HTML parser). Items prepared in the calling process (``jobs`` 1) cannot be
        interrupted."""
        if on_verdict is not None and not callable(on_verdict):
            raise ConfigError(f"on_verdict must be callable, got {on_verdict!r}")
        self.on_verdict = on_verdict
        """Called as ``on_verdict(item_id, candidate_id, verdict)`` for every pair this object
        verifies, accepted or rejected, in the order the decisions are applied: only accepted
        pairs are kept (:meth:`verdict`), so this is where a rejection's kind and scores can be
        recorded (``newsdedup dedup --pairs``). It is called once the pairs' decisions are
        recorded; an exception it raises propagates out of the call that verified them."""
        self._spill = _Spill() if spill and store is None else None
        cfg = self.config
        self.window = parse_window(window)
        self.store = store
        self._cache_items = cache_items
        self._shingler = WordShingler(cfg.shingle_size, seed=cfg.seed)
        self._batch = self._shingler.batch  # one hasher: the per-text and batch paths agree
        self._signer = OnePermSigner(cfg.num_perm, seed=cfg.seed)
        self._verifier = cfg.verifier()
        self._state = self._new_state()
        self.errors: list[ErrorRecord] = []
        self.decisions: dict[str, Decision] = {}
        self.stats: Counter[str] = Counter()
        self._clusters: list[Cluster] | None = None
        self._pending_rows: list[ItemRow] = []
        self._pending_edges: list[EdgeRow] = []
        self._pending_updates: list[UpdateRow] = []
        self._verify_pool: Any = None
        """Worker processes verifying pairs, while :meth:`add_stream` runs with ``jobs > 1``."""
        self._local_share = 0.0
        """Fraction of a deferred batch's shipped pairs this process verifies itself (adapted)."""
        self._deferred: deque[_Verification] | None = None
        """Batches whose verdicts are applied once the next batch is planned (see :meth:`_flush`)."""
        self._postponing = False
        """Whether :meth:`_flush` postpones verification to :meth:`_resolve` (see :meth:`add_stream`)."""
        self._pending: list[str] = []
        """Postponed items' ids, in arrival order: indexed, their pairs not yet found."""
        if store is not None:
            store.bind(name, cfg.fingerprint(), cfg.to_dict())
            self.refresh()

    def _new_state(self) -> MemoryState:
        b, r = self.config.bands()
        lb, lr = self.config.lead_bands()
        bounded = self._cache_items if self.store is not None or self._spill is not None else None
        return MemoryState(
            articles=_Cache(bounded, on_evict=self._spill.put if self._spill is not None else None),
            docs=_Cache(bounded),
            sketches=_Cache(
                bounded * 10 if bounded is not None else None,
                on_evict=self._spill.put_sketch if self._spill is not None else None,
            ),
            main=_KeyedLSH(bands=b, rows=r),
            lead=_KeyedLSH(bands=lb, rows=lr) if self.config.lead_tokens else None,
        )

    # -- store synchronisation --------------------------------------------------------------

    def refresh(self) -> None:
        """Catch up with what other processes committed to the store (no-op without one)."""
        if self.store is None:
            return
        # a read-only view: a reader (export) takes no write lock (a store written before
        # snapshot() existed only has transaction())
        view = getattr(self.store, "snapshot", self.store.transaction)
        with view() as txn:
            self._sync(txn)

    def _sync(self, txn: Transaction) -> None:
        state = self._state
        items, edges = txn.changes(state.item_seq, state.edge_seq)
        nb = self.config.bands()[0]
        width = nb + (self.config.lead_bands()[0] if self.config.lead_tokens else 0)
        for row in items:
            state.meta[row.id] = _Meta(
                seq=row.seq, time=row.time, ingested=row.ingested, n_shingles=row.n_shingles,
                text_hash=row.text_hash, site=row.site,
                paras=row.paras or b"",
            )  # fmt: skip
            if row.bands is not None:
                keys = decode_u32(row.bands)
                if len(keys) != width:
                    raise StoreCorrupt(
                        f"item {row.id!r}: its stored bucket keys are damaged: {len(keys)}, not {width}"
                    )
                if self.config.max_verify is not None:  # the hub lists as the writer updated them
                    self._hub_pairs(row.id, self._replay_candidates(row.id, row.time, keys[:nb], keys[nb:]))
                self._index(row.id, row.time, keys[:nb], keys[nb:])
            state.item_seq = max(state.item_seq, row.seq)
        for e in edges:
            if e.a not in state.meta or e.b not in state.meta:
                raise StoreCorrupt(f"store edge {e.a} - {e.b} names an item the store does not hold")
            state.add_edge(e.a, e.b, Verdict(True, e.kind, e.jaccard, e.containment, e.align))
            state.edge_seq = max(state.edge_seq, e.seq)
        state.high_water = max(state.high_water, txn.high_water())
        if items or edges:
            self._clusters = None
        self._expire()

    def _replay_candidates(self, key: str, t: float, main_keys: Any, lead_keys: Any) -> list[str]:
        """The indexed items a replayed store row shares a bucket with (inside the window), as
        its writer saw them when it matched the row."""
        state = self._state
        assert state.main is not None
        found: set[str] = set(state.main.query_keys(list(main_keys)))  # type: ignore[arg-type]
        if state.lead is not None and len(lead_keys):
            found |= state.lead.query_keys(list(lead_keys))  # type: ignore[arg-type]
        found.discard(key)
        return self._in_window(sorted(found), t)

    def _in_window(self, keys: list[str], t: float) -> list[str]:
        """The items of ``keys`` published within the window of time ``t`` (all without one)."""
        if self.window is None:
            return keys
        meta = self._state.meta
        return [k for k in keys if abs(meta[k].time - t) <= self.window]

    def _index(self, key: str, t: float, main_keys: Sequence[int], lead_keys: Sequence[int]) -> None:
        state = self._state
        assert state.main is not None
        state.main.insert_keys(key, main_keys)
        if state.lead is not None and len(lead_keys):
            state.lead.insert_keys(key, lead_keys)
        if self.window is not None:
            heapq.heappush(state.indexed, (t, key))

    def _cutoff(self) -> float | None:
        if self.window is None or not self._state.high_water:
            return None
        return self._state.high_water - self.window

    def _expire(self) -> None:
        """Drop items older than the window (relative to the newest item) from the index."""
        cutoff = self._cutoff()
        if cutoff is None:
            return
        state = self._state
        assert state.main is not None
        heap = state.indexed
        while heap and heap[0][0] < cutoff:
            _, key = heapq.heappop(heap)
            state.main.remove(key)
            if state.lead is not None:
                state.lead.remove(key)
            self.stats["expired"] += 1

    # -- input ---------------------------------------------------------------------------

    def _prepare(
        self, item: Item | RecordError | RawLine, line: int | None, file: str | None
    ) -> Article | Decision:
        """Extraction and validation; needs no state (so it runs outside store transactions).
        A :class:`RecordError` item (a line a reader could not parse) is recorded in its place,
        so the errors keep input order; a :class:`RawLine` is parsed here."""
        try:
            if isinstance(item, RecordError):
                raise item
            article = to_article(item.parse() if isinstance(item, RawLine) else item)
        except RecordError as exc:
            rec = ErrorRecord(
                line=exc.line or line, id=exc.id, reason=exc.reason, message=str(exc), file=file
            )
            self.errors.append(rec)
            self.stats["error:" + exc.reason] += 1
            return Decision(id=exc.id, status="error", reason=exc.reason)
        assert article.id is not None
        junk = junk_page_reason(article) if self.config.reject_junk_pages else None
        if junk is not None:
            message = "a bot challenge, consent/paywall wall or error page, not an article"
            self.errors.append(ErrorRecord(line=line, id=article.id, reason=junk, message=message, file=file))
            self.stats["error:" + junk] += 1
            return Decision(id=article.id, status="error", reason=junk)
        return article

    def _check_id(self, article: Article | _Spilled, line: int | None, file: str | None) -> Decision | None:
        """``already-seen`` / ``duplicate-id`` for an id the state already holds, else None.

        The first text of an id is kept: replacing it would change verified pairs that other
        items were matched on, and a later run would no longer agree with one run over the same
        lines. A different text is reported and, with a store, recorded as an update."""
        assert article.id is not None
        meta = self._state.meta.get(article.id)
        if meta is None:
            return None
        text_hash = article.text_hash if isinstance(article, _Spilled) else _text_hash(article.text)
        if meta.text_hash == text_hash:
            self.stats["already-seen"] += 1
            return Decision(id=article.id, status="already-seen")
        rec = ErrorRecord(
            line=line,
            id=article.id,
            reason="duplicate-id",
            message="id already added with a different text; first one kept",
            file=file,
        )
        self.errors.append(rec)
        self.stats["error:duplicate-id"] += 1
        if self.store is not None:
            self._pending_updates.append(UpdateRow(article.id, text_hash, time.time()))
        return Decision(id=article.id, status="error", reason="duplicate-id")

    def add(self, item: Item, *, line: int | None = None, file: str | None = None) -> Decision:
        """Add one item (dict, :class:`Record` or :class:`Article` with an id)."""
        return self.add_many([item], first_line=line, file=file)[0]

    def add_many(
        self, items: Iterable[Item], *, first_line: int | None = None, file: str | None = None
    ) -> list[Decision]:
        """Add items; their signatures are computed in one numpy batch. With a store the batch
        is matched and committed in one transaction (extraction happens before it)."""
        check_items(items)
        return self._add_prepared(_prepare_batch(self, list(items), first_line, file), file)

    def add_stream(
        self,
        items: Iterable[Item | RecordError | RawLine],
        *,
        file: str | None = None,
        batch_size: int = 256,
        on_batch: Callable[[int], None] | None = None,
        postpone: bool = True,
    ) -> int:
        """Add a stream of items in batches of ``batch_size`` and return how many were read.

        With ``jobs > 1`` the stateless part of each batch (extraction, validation, tokens,
        shingles, signatures and band keys) runs in that many worker processes, a few batches
        ahead, while this process matches the batches in input order; the result is the same
        as with one job. ``on_batch`` is called with each batch's size once it is matched (for
        progress). Items may be :class:`RecordError`s from a reader: they are recorded as
        errors in their place; JSONL lines not parsed yet (``_records.RawLine``) are parsed
        where they are prepared, in the workers with ``jobs > 1``.

        ``postpone`` (without a store or window, with ``max_verify``): while the stream is read
        the items are only indexed; once it ends, their pairs in the hub relation are found
        over the whole index at once and only those are verified -- verifying as items arrive
        also verifies the pairs that lower-ranked copies arriving later push out (a third of
        the verifications of a 200k-item run). The clusters are the same; the ``decisions``
        are then those of the kept pairs and are all set when this returns. If the stream
        breaks, what was read is still verified; if it is interrupted (``KeyboardInterrupt``),
        the next :meth:`clusters` or :meth:`add_many` call verifies it first."""
        check_items(items)
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size!r}")
        self._postponing = (
            postpone and self.store is None and self.window is None and self.config.max_verify is not None
        )
        indexes = [i for i in (self._state.main, self._state.lead) if i is not None]
        for index in indexes:  # only inserts until the hub relation reads every band
            index.defer_merges(self._postponing)
        try:
            return self._add_stream(items, file, batch_size, on_batch)
        finally:
            self._postponing = False
            for index in indexes:
                index.defer_merges(False)

    def _add_stream(
        self,
        items: Iterable[Item | RecordError | RawLine],
        file: str | None,
        batch_size: int,
        on_batch: Callable[[int], None] | None,
    ) -> int:
        count = 0
        batches = _chunks(items, batch_size)
        read = False  # the stream ended, or broke on an error (not an interrupt): verify what was read
        if self.jobs == 1:
            try:
                for batch in batches:
                    self._add_prepared(_prepare_batch(self, batch, None, file), file)
                    count += len(batch)
                    if on_batch is not None:
                        on_batch(len(batch))
                read = True
            except Exception:
                read = True
                raise
            finally:
                if read:
                    self._resolve()
            return count
        import concurrent.futures as cf

        preparing = _Preparing(self)
        with preparing, self._pool(workers=self.jobs - 1) as verify_pool:
            self._verify_pool = verify_pool
            if self.store is None:  # with a store, each batch's verdicts go into its transaction
                self._deferred = deque()
            window: deque[tuple[_PrepareArgs, cf.Future[_Prepared]]] = deque()
            # postponed items come ready for the spill file (postponed verification and the
            # clusters read texts and records, never article objects), with their docs until
            # the caches are full: a doc sent later would only be evicted before its pairs
            # are verified
            spill_after = self._cache_items - len(self._state.meta)
            spill = self._postponing and self._spill is not None
            submitted = 0
            try:
                try:
                    for batch in batches:
                        args = (batch, file, spill, submitted < spill_after)
                        window.append((args, preparing.submit(args)))
                        submitted += len(batch)
                        if len(window) > 2 * self.jobs:
                            count += self._take(window.popleft(), preparing, on_batch)
                finally:  # the batches already read are matched, even if the input broke
                    while window:
                        count += self._take(window.popleft(), preparing, on_batch)
                read = True
            except Exception:
                read = True
                raise
            finally:
                try:
                    try:  # the postponed pairs, the preparing workers verifying too
                        if read:
                            self._resolve(idle=preparing.usable())
                    finally:  # whatever stopped the stream, the batches already planned are applied
                        self._finish_deferred()
                finally:
                    self._verify_pool = None
                    self._deferred = None
        return count

    def _take(
        self, job: tuple[_PrepareArgs, Any], preparing: _Preparing, on_batch: Callable[[int], None] | None
    ) -> int:
        args, future = job
        prepared: Iterable[_Prepared]
        try:
            prepared = [future.result(timeout=self.extract_timeout)]
        except (BrokenExecutor, TimeoutError) as exc:
            # a worker died on some item of the batch, or is stuck on one: each item alone
            if isinstance(exc, TimeoutError):
                preparing.stop()
            preparing.broken = True
            prepared = preparing.alone(args)
        for one in prepared:
            self._add_taken(one, args[1])
        if on_batch is not None:
            on_batch(len(args[0]))
        return len(args[0])

    def _add_taken(self, prepared: _Prepared, file: str | None) -> None:
        self.errors.extend(prepared.errors)
        self.stats.update(prepared.stats)
        deferred = len(self._deferred) if self._deferred is not None else 0
        self._add_prepared(prepared, file)
        if self._deferred is not None:  # the batch before this one is verified by now
            self._finish_deferred(keep=len(self._deferred) - deferred)

    def _add_prepared(self, prepared: _Prepared, file: str | None) -> list[Decision]:
        if self._pending and not self._postponing:
            self._resolve()  # postponed items first (an interrupted stream): hub lists are current
        items = prepared.with_keys()
        if self.store is None:
            return self._match(items, file, time.time())
        try:
            with self.store.transaction() as txn:
                self._sync(txn)
                out = self._match(items, file, time.time())
                self._commit(txn)
        except BaseException:
            # the replica may now hold items the store does not: rebuild it from the store
            self._pending_rows, self._pending_edges, self._pending_updates = [], [], []
            self._state = self._new_state()
            self._clusters = None
            raise
        return out

    def _commit(self, txn: Transaction) -> None:
        state = self._state
        cutoff = self._cutoff()
        item_seqs, edge_seqs = txn.write(
            self._pending_rows,
            self._pending_edges,
            self._pending_updates,
            high_water=state.high_water,
            expire_before=cutoff,
        )
        for row, seq in zip(self._pending_rows, item_seqs, strict=True):
            state.meta[row.id].seq = seq
        state.item_seq = max([state.item_seq, *item_seqs])
        state.edge_seq = max([state.edge_seq, *edge_seqs])
        self._pending_rows, self._pending_edges, self._pending_updates = [], [], []

    def _match(self, prepared: list[_PreparedItem], file: str | None, ingested: float) -> list[Decision]:
        out: list[Decision | None] = []
        pending: list[tuple[int, Article | _Spilled, _Fingerprint | None]] = []
        batch_ids: set[str] = set()
        failed = [p for p, _, _ in prepared if isinstance(p, Decision) and p.status == "error"]
        first_error = len(self.errors) - len(failed)  # the batch's errors from preparing end the list
        late: list[bool] = []  # per error of the batch in input order: found here (duplicate-id)?
        for prep, line, fp in prepared:
            if isinstance(prep, Decision):
                out.append(prep)
                if prep.status == "error":
                    late.append(False)
                continue
            assert prep.id is not None
            if prep.id in batch_ids:  # same id twice inside this batch: the first one goes in first
                self._flush(pending, out, ingested)
                pending, batch_ids = [], set()
            seen = self._check_id(prep, line, file)
            if seen is not None:
                out.append(seen)
                if seen.status == "error":
                    late.append(True)
                continue
            out.append(None)
            pending.append((len(out) - 1, prep, fp))
            batch_ids.add(prep.id)
        self._errors_in_input_order(first_error, late, failed)
        self._flush(pending, out, ingested)
        self._expire()
        assert self._deferred is not None or self._postponing or all(d is not None for d in out)
        return out  # type: ignore[return-value]

    def _errors_in_input_order(self, first: int, late: list[bool], failed: list[Decision]) -> None:
        """Put a batch's errors in its items' order: those of preparing were recorded before
        the batch was matched, its ``duplicate-id`` errors while it is (the Dask engine, and a
        reader of the errors file, see them in input order). Left alone unless the records
        are exactly the batch's (a caller's own edits of ``errors`` never get reordered)."""
        if not any(late) or all(late):
            return
        found = self.errors[first:]
        n_early = late.count(False)
        if (
            first < 0
            or len(found) != len(late)
            or [r.reason for r in found[:n_early]] != [d.reason for d in failed]
        ):
            return
        queues = (iter(found[:n_early]), iter(found[n_early:]))
        self.errors[first:] = [next(queues[is_late]) for is_late in late]

    def _item_time(self, article: Article | _Spilled, ingested: float) -> float:
        return as_utc(article.published).timestamp() if article.published is not None else ingested

    def _store(
        self,
        article: Article | _Spilled,
        doc: Doc | None,
        ingested: float,
        bands: _Keys | None,
        paras: bytes | None = None,
    ) -> float:
        """Record one new item in the replica (and queue it for the store); returns its time.
        ``paras``: its :func:`stored_paras` when a worker computed them. A :class:`_Spilled`
        item's records go straight to the spill file, past the article cache (its doc, when
        one came with it, is cached)."""
        assert article.id is not None
        state = self._state
        t = self._item_time(article, ingested)
        if isinstance(article, _Spilled):
            assert paras is not None
            text_hash, n = article.text_hash, article.n_shingles
        else:
            if paras is None:
                paras = stored_paras(article)
            text_hash = _text_hash(article.text)
            n = len(doc.shingles) if doc is not None else 0
        state.meta[article.id] = _Meta(
            seq=0,
            time=t,
            ingested=ingested,
            n_shingles=n,
            text_hash=text_hash,
            site=sys.intern(article.site) if article.site else article.site,  # one copy per site
            paras=paras,
        )
        if t <= ingested + _FUTURE_SLACK:
            # a date well ahead of the clock is wrong: it must not move the high-water mark,
            # neither to itself nor to the ingest time (replaying an archive, "now" is years
            # past every other item, and the window would expire them all)
            state.high_water = max(state.high_water, min(t, ingested))
        self._clusters = None
        if isinstance(article, _Spilled):
            assert self._spill is not None
            assert self.store is None
            self._spill.put_record(article.id, article.record)
        else:
            state.articles.put(article.id, article)  # spilled to disk when it leaves the cache
        if doc is not None:
            state.docs.put(article.id, doc)
            if self.store is not None or self._spill is not None:
                state.sketches.put(article.id, Sketch(doc))
        if self.store is not None:
            assert isinstance(article, Article)  # spill records come only without a store
            self._pending_rows.append(
                ItemRow(
                    id=article.id, seq=0, time=t, ingested=ingested, n_shingles=n, text_hash=text_hash,
                    site=article.site, paras=paras,
                    bands=encode_u32([*bands[0], *bands[1]]) if bands is not None else None, article=article,
                )
            )  # fmt: skip
        return t

    def _flush(
        self,
        pending: list[tuple[int, Article | _Spilled, _Fingerprint | None]],
        out: list[Decision | None],
        ingested: float,
    ) -> None:
        """Fingerprint a batch at once (tokens, shingles, signatures and band keys as arrays)
        unless a worker already did, then match its items in input order.

        Which pairs an item is verified against depends only on the index, the times and the
        hub lists, never on a verdict; so every item of the batch is planned and recorded
        first, its pairs are verified (by worker processes too, with ``jobs > 1``), and then
        each item's verdicts are applied in input order. While :meth:`add_stream` runs with
        workers and without a store, that last step waits until the next batch is planned,
        so the workers verify one batch while this process plans the next."""
        if not pending:
            return
        if all(fp is not None for _, _, fp in pending):
            # (a worker's keys are arrays here, see _Prepared.with_keys)
            fp = Fingerprints([f[0] for _, _, f in pending], [f[1] for _, _, f in pending])  # type: ignore[index, misc]
        else:
            # items without a worker's fingerprint are never spill records
            fp = self.fingerprint([article for _, article, _ in pending])  # type: ignore[misc]
        if self._postponing:
            self._postpone(pending, fp, out, ingested)
            return
        candidates = self._candidates(fp)
        plans: list[tuple[int, str, Doc | None, list[str]]] = []
        for n, ((slot, article, prepared), doc, keys) in enumerate(
            zip(pending, fp.docs, fp.keys, strict=True)
        ):
            paras = prepared[2] if prepared is not None else None
            assert article.id is not None
            if doc is None:
                self._store(article, None, ingested, None, paras)
                plans.append((slot, article.id, None, []))
            else:
                assert keys is not None
                chosen = self._plan(article, doc, keys[0], keys[1], ingested, candidates[n], paras)
                plans.append((slot, article.id, doc, chosen))
        job = _Verification(plans, out, *self._start_verify([(doc, keys) for _, _, doc, keys in plans]))
        if self._deferred is not None:
            self._deferred.append(job)
        else:
            self._finish(job)

    def _postpone(
        self,
        pending: list[tuple[int, Article | _Spilled, _Fingerprint | None]],
        fp: Fingerprints,
        out: list[Decision | None],
        ingested: float,
    ) -> None:
        """Record and index a batch's items for :meth:`_resolve`, which finds and verifies
        their pairs once the stream is read; too-short items are decided at once."""
        for (slot, article, prepared), doc, keys in zip(pending, fp.docs, fp.keys, strict=True):
            assert article.id is not None
            paras = prepared[2] if prepared is not None else None
            if (not article.matchable) if isinstance(article, _Spilled) else (doc is None):
                self._store(article, None, ingested, None, paras)
                out[slot] = self._too_short(article.id)
            else:
                assert keys is not None
                t = self._store(article, doc, ingested, keys, paras)
                self._index(article.id, t, keys[0], keys[1])
                self._pending.append(article.id)

    def _resolve(self, idle: Any = None, unit_pairs: int | None = None) -> None:
        """Find the postponed items' pairs in the hub relation (:meth:`_hub_relation`), verify
        them and decide the items (see :meth:`add_stream`).

        The pairs go by connected groups (:func:`_units`, about ``unit_pairs`` pairs each;
        by default :func:`_unit_size`), so
        a doc that left the cache is rebuilt about once, not once per pair: one group's docs
        are fetched together, in this process or in a worker that gets the group's texts. With
        workers (the verification pool, and ``idle``: the preparing workers once the stream is
        read) this process verifies a group itself whenever they all have two in hand.
        Interrupted, the groups not yet applied stay postponed."""
        if not self._pending:
            return
        with _gc_paused():
            self._resolve_pending(idle, unit_pairs)

    def _resolve_pending(self, idle: Any, unit_pairs: int | None) -> None:
        relation = self._hub_relation(self._pending, pool=idle)
        later, self._pending = self._pending, []
        self._clusters = None
        pools = []
        if self._verify_pool is not None:
            pools += [self._verify_pool] * (self.jobs - 1)
        if idle is not None:
            pools += [idle] * self.jobs
        settle = self.config.settle
        if settle is None:
            self._verify_todo(relation.todo(relation.pairs()), pools, unit_pairs, None)
            return
        # Two rounds (see DedupConfig.settle_after): every item's pairs with its first
        # ``settle`` hubs, then the other hub pairs of the items those did not settle
        first = relation.pairs(relation.column < settle)
        best: dict[str, float] = {}
        try:
            self._verify_todo(relation.todo(first), pools, unit_pairs, best)
        except BaseException:
            self._pending = later + self._pending  # all of them: any may still need its second round
            raise
        done = self._state.edges.settled(self._state.hubs, settle)
        unsettled = np.fromiter(
            (str(k) not in done for k in relation.ids), dtype=bool, count=len(relation.ids)
        )
        second = relation.pairs((relation.column >= settle) & unsettled[relation.item], without=first)
        self._verify_todo(relation.todo(second, only_paired=True), pools, unit_pairs, best)

    def _verify_todo(
        self,
        found: tuple[list[tuple[str, list[str]]], list[int], list[int]],
        pools: list[Any],
        unit_pairs: int | None,
        best: dict[str, float] | None,
    ) -> None:
        """Verify the pairs of ``found`` (:meth:`_Relation.todo`) in units and decide their
        items (``best``: see :meth:`_decide_many`). Interrupted, the units not yet applied stay
        postponed."""
        todo, labels, anchors = found
        self.stats["postponed-pairs"] += sum(len(others) for _, others in todo)
        if unit_pairs is None:
            unit_pairs = _unit_size(sum(len(others) for _, others in todo), len(pools) + 1)
        units = _units(todo, unit_pairs, labels, anchors)
        applied = 0
        inflight: deque[Any] = deque()  # per unit: a future (in a worker) or its verdicts
        try:
            for unit in units:
                busy = sum(1 for f in inflight if not isinstance(f, _Verdicts) and not f.done())
                if pools and busy < 2 * len(pools):
                    pairs = [(key, other) for key, others in unit for other in others]
                    inflight.append(
                        pools[len(inflight) % len(pools)].submit(
                            _worker_verify_unit, self._unit_docs(_unit_keys(unit)), pairs
                        )
                    )
                    self.stats["verified-in-workers"] += len(pairs)
                else:
                    inflight.append(self._verify_unit(unit))
                while inflight and (isinstance(inflight[0], _Verdicts) or inflight[0].done()):
                    self._apply_unit(units[applied], inflight.popleft(), best)
                    applied += 1
            while inflight:
                self._apply_unit(units[applied], inflight.popleft(), best)
                applied += 1
        finally:
            self._pending = [key for unit in units[applied:] for key, _ in unit] + self._pending

    def _hub_relation(self, later: list[str], rows_per_part: int = 1 << 18, pool: Any = None) -> _Relation:
        """The hub lists of the items ``later`` (in arrival order), from which
        :class:`_Relation` gives the earlier items each must be verified against: its pairs in
        the hub relation clustering keeps, found over the whole index at once and not as items
        arrive. Every item's hub list is set to the ``K``
        lowest ranks of everything it shares a bucket with (:func:`newsdedup._hubs.hub_rows`
        over each index, whole buckets of about 260,000 rows at a time, merged); a pair is
        kept when one side's rank is at most the other's ``K``-th. These are the hub lists and pairs the
        items give when added one by one (:meth:`_hub_pairs`, in any order), without listing
        the pairs that later arrivals push out.

        With ``pool`` (the ``jobs`` preparing workers, idle once the stream is read) the parts'
        hub rows are worked out there while this process cuts the next parts and merges."""
        state = self._state
        assert state.main is not None
        limit = self.config.max_verify
        assert limit is not None
        ids = state.main.slot_keys()
        slot_of: dict[Hashable, int] | None = None  # made only when the slots are not 0..n-1 in order

        def slots_of(keys: Sequence[Hashable]) -> np.ndarray:
            nonlocal slot_of
            if keys == ids:  # the same objects in the same order (the usual case): no look-ups
                return np.arange(len(ids), dtype=np.int64)
            if slot_of is None:
                slot_of = {key: n for n, key in enumerate(ids)}
            return np.fromiter(map(slot_of.__getitem__, keys), dtype=np.int64, count=len(keys))

        rank = ranks_of(ids)
        # Per item its K lowest candidates so far, as places in rank order (uint32, ascending,
        # padded with _NO_PLACE): 4 K bytes per item. A part goes out with each row's K-th
        # place and its item's first few places, and comes back with the new candidates only
        # (about one row in eighteen of what the part lists at 1M), which are merged in at once.
        by_rank = np.argsort(rank, kind="stable")
        place = np.empty(len(ids), dtype=np.uint32)
        place[by_rank] = np.arange(len(ids), dtype=np.uint32)
        lows = np.full((len(ids), limit), _NO_PLACE, dtype=np.uint32)
        shown = min(limit, _KNOWN_SENT)
        inflight: deque[Any] = deque()
        for index in (state.main, state.lead):
            if index is None:
                continue
            to_main = None
            if index is not state.main and index.slot_keys() != ids:
                to_main = slots_of(index.slot_keys())
            for codes, slots in index.band_rows(rows_per_part):
                pos = slots.astype(np.int64) if to_main is None else to_main[slots]
                held = np.take(lows, pos, axis=0)  # six times faster than lows[pos] here
                part = (codes, pos.astype(np.uint32), place[pos], held[:, -1], limit, held[:, :shown])
                if pool is None:
                    _merge_lows(lows, low_places(*part))
                    continue
                # stale lows only send back rows merged already: the merge drops them
                inflight.append(pool.submit(low_places, *part))
                while len(inflight) > self.jobs or (inflight and inflight[0].done()):
                    _merge_lows(lows, inflight.popleft().result())
            if self._spill is not None:  # verification and clusters need no index
                index.park(self._spill.append, self._spill.read)
        while inflight:
            _merge_lows(lows, inflight.popleft().result())
        item, column = np.nonzero(lows != _NO_PLACE)  # by item, then place
        cand = by_rank[lows[item, column].astype(np.int64)]
        del lows
        self._set_hubs(ids, item, rank[cand], limit)
        later_slots = slots_of(later)
        return _Relation(ids, later, later_slots, place, item, cand.astype(np.int64), column)

    def _set_hubs(self, ids: Sequence[Hashable], item: np.ndarray, ranks: np.ndarray, limit: int) -> None:
        """Store each item's hub list (``item``/``ranks``: rows sorted by item, then rank, about
        ``limit`` per item; items without rows get an empty list), in the order of ``ids``.
        The rows are cut per item by offsets, as slices of one ``array`` (indexing the numpy
        arrays per item cost about 4 s at 1M items, a list's slices made into arrays about 3 s,
        this about 1.4 s, on one core between the hub relation and verification)."""
        hubs = self._state.hubs
        counts = np.bincount(item, minlength=len(ids)) if len(item) else np.zeros(len(ids), dtype=np.int64)
        ends = np.cumsum(counts)
        starts = ends - counts
        stops = np.minimum(ends, starts + limit)
        every = array("Q")
        every.frombytes(np.ascontiguousarray(ranks, dtype=np.uint64).tobytes())
        for key, at, end in zip(ids, starts.tolist(), stops.tolist(), strict=True):
            hubs[str(key)] = every[at:end]

    def _unit_docs(self, keys: list[str]) -> dict[str, Doc | str | int]:
        """What a worker needs to verify a unit: each item's cached doc (sent as one buffer:
        pickling and unpickling it took about 33 µs against 100 µs to rebuild it from its
        text), else where the spill file holds its article (the worker reads it: see
        :meth:`_workers_read_spill`), else its text. Nothing is marked recently used."""
        out: dict[str, Doc | str | int]
        out, missing = self._state.docs.split(keys, touch=False)
        if missing:
            if self._workers_read_spill():
                spilled, missing = self._spilled(missing)
                out.update(spilled)
            out.update(self._texts(missing))
        return out

    def _workers_read_spill(self) -> bool:
        """Whether worker processes read spilled articles and sketches from the spill file
        themselves, so this process sends where they are (an int) instead of reading them and
        sending their bytes: at a million items, that was about 1.8 GB read, pickled and sent
        through pipes for the verification and again for the clusters. The file's buffered
        appends are written out first."""
        if self._spill is None or self._spill.shared() is None:
            return False
        self._spill.flush()
        return True

    def _verify_unit(self, unit: list[tuple[str, list[str]]]) -> _Verdicts:
        """The verdicts of a unit's pairs, in this process (docs from the cache or rebuilt)."""
        docs = self._docs_of(_unit_keys(unit))
        verify = self._verifier.verify
        with _one_alphabet(docs.values()):
            return _Verdicts.of([verify(docs[key], docs[other]) for key, others in unit for other in others])

    def _apply_unit(
        self, unit: list[tuple[str, list[str]]], verdicts: Any, best: dict[str, float] | None = None
    ) -> None:
        self._decide_many(unit, verdicts if isinstance(verdicts, _Verdicts) else verdicts.result(), best)

    def _docs_of(self, keys: list[str]) -> dict[str, Doc]:
        """Indexed items' docs: cached ones as they are, the others rebuilt together."""
        out, missing = self._state.docs.split(keys)
        if missing:
            texts, norms = self._stored_texts(missing)
            out.update(self._rebuild(texts, norms=norms))
        return out

    def _finish(self, job: _Verification) -> None:
        """Wait for a batch's verdicts and apply them, item by item in input order."""
        docs = self._docs_for(b for *_, b in job.local)
        for found, at, a, b in job.local:
            found[at] = self._verifier.verify(a, b if isinstance(b, Doc) else docs[b.key])
        waited = False
        for share, future in job.shipped:
            waited = waited or not future.done()
            for (found, at), verdict in zip(share, future.result(), strict=True):
                found[at] = verdict
        if job.shipped:  # had to wait for the workers: keep more pairs here next time, else fewer
            step = _LOCAL_SHARE_STEP if waited else -_LOCAL_SHARE_STEP
            self._local_share = min(_MAX_LOCAL_SHARE, max(0.0, self._local_share + step))
        for (slot, key, doc, chosen), found in zip(job.plans, job.verdicts, strict=True):
            job.out[slot] = self._too_short(key) if doc is None else self._decide(key, chosen, found)

    def _too_short(self, key: str) -> Decision:
        decision = Decision(id=key, status="too-short", reason="too-short")
        self.decisions[key] = decision
        self.stats["too-short"] += 1
        return decision

    def _finish_deferred(self, keep: int = 0) -> None:
        """Apply the verdicts of all deferred batches but the ``keep`` latest."""
        queue = self._deferred
        while queue is not None and len(queue) > keep:
            self._finish(queue.popleft())

    def _candidates(self, fp: Fingerprints) -> list[set[str]]:
        """For every item of a batch, the indexed items and the *earlier* items of the same batch
        it shares a bucket with: the same pairs as querying and inserting one item at a time,
        found with one array lookup per index and one sort over the batch."""
        state = self._state
        assert state.main is not None
        n = len(fp.docs)
        found: list[set[str]] = [set() for _ in range(n)]
        rows = [i for i, k in enumerate(fp.keys) if k is not None]
        if not rows:
            return found
        ids = [fp.docs[i].key for i in rows]  # type: ignore[union-attr]
        indexes: list[tuple[ArrayLSH, int]] = [(state.main, 0)]
        if state.lead is not None and self.config.lead_tokens:
            indexes.append((state.lead, 1))
        batch_keys: list[np.ndarray] = []
        for index, which in indexes:
            keys = np.array([fp.keys[i][which] for i in rows], dtype=np.uint64)  # type: ignore[index]
            for r, hits in zip(rows, index.query_many(keys), strict=True):
                found[r] |= hits  # type: ignore[arg-type]
            batch_keys.append(index._combined(keys) | np.uint64(which << 63))
        for later, earlier in _shared_bucket_pairs(np.hstack(batch_keys)):
            found[rows[later]].add(ids[earlier])
        return found

    def fingerprint(self, articles: Sequence[Article], *, bands: bool = True) -> Fingerprints:
        """Verification docs and LSH band keys of clean articles, computed as one batch; no
        state is read or changed (the Dask engine calls this on its partitions). ``bands=False``
        skips the signatures: the keys are then empty lists (docs rebuilt for verification)."""
        docs, main, lead = self._fingerprint(articles, bands=bands)
        main_rows: list[list[int]] = main.tolist() if main is not None else [[] for _ in articles]
        lead_rows: list[list[int]] | None = lead.tolist() if lead is not None else None
        keys: list[tuple[list[int], list[int]] | None] = [
            None if doc is None else (main_rows[i], lead_rows[i] if lead_rows is not None else [])
            for i, doc in enumerate(docs)
        ]
        return Fingerprints(docs, keys)

    def _fingerprint(
        self,
        articles: Sequence[Article],
        *,
        bands: bool = True,
        norms: Mapping[str, str | None] | None = None,
    ) -> tuple[list[Doc | None], np.ndarray | None, np.ndarray | None]:
        """:meth:`fingerprint`'s docs, with its whole-text and lead band keys as ``(n, bands)``
        arrays (None: not computed), a row per article (a too-short one's row is unused).
        ``norms``: normal forms known already, by article id (see :meth:`_shingle_batch`)."""
        known = [norms.get(a.id or "") for a in articles] if norms else None
        normal, tb, sb = self._shingle_batch([a.text for a in articles], known)
        main, lead = self._band_keys(sb, normal) if bands else (None, None)
        docs: list[Doc | None] = []
        for i, article in enumerate(articles):
            if not self._matchable(article, tb, i):
                docs.append(None)
                continue
            head, prefix = head_and_prefix(sb.hashes[sb.offsets[i] : sb.offsets[i + 1]])
            docs.append(
                Doc(
                    article.id or "", normal[i], sb.shingle_set(i), text=article.text,
                    number_hashes=tb.number_hashes[tb.number_offsets[i] : tb.number_offsets[i + 1]],
                    head=head, prefix=prefix, ids=tb.ids[tb.offsets[i] : tb.offsets[i + 1]].copy(),
                    spans=tb.spans[tb.offsets[i] : tb.offsets[i + 1]].copy() if tb.ascii[i] else None,
                )
            )  # fmt: skip
        return docs, main, lead

    def _sizes(
        self, articles: Sequence[Article]
    ) -> tuple[list[tuple[str, int] | None], np.ndarray, np.ndarray | None]:
        """What a preparing worker sends of items whose docs are not kept (:func:`_worker_prepare`
        once the caches are full): per article its normal form and shingle count (None: too
        short to match), and the band keys of :meth:`_fingerprint`. The tokens' ids, number
        hashes and spans and the doc's head and prefix are not made: 20-25 µs an item less."""
        normal, tb, sb = self._shingle_batch([a.text for a in articles], full=False)
        main, lead = self._band_keys(sb, normal)
        assert main is not None
        sizes: list[tuple[str, int] | None] = [
            (normal[i], len(sb.shingle_set(i))) if self._matchable(article, tb, i) else None
            for i, article in enumerate(articles)
        ]
        return sizes, main, lead

    def _matchable(self, article: Article, tb: TokenBatch, i: int) -> bool:
        """Whether the ``i``-th text of a batch is long enough to fingerprint."""
        cfg = self.config
        return (
            bool(tb.offsets[i + 1] - tb.offsets[i] >= cfg.min_tokens)
            and len(article.text.strip()) >= cfg.min_chars
        )

    def _band_keys(self, sb: ShingleBatch, normal: list[str]) -> tuple[np.ndarray | None, np.ndarray | None]:
        """A batch's whole-text and lead band keys (:meth:`_fingerprint`)."""
        assert self._state.main is not None
        main = self._state.main.band_keys_many(self._signer.sign_flat(sb.hashes, sb.offsets))
        lead = None
        if self.config.lead_tokens and self._state.lead is not None:
            lead = self._state.lead.band_keys_many(self._lead_signatures(sb, normal))
        return main, lead

    def _shingle_batch(
        self, texts: Sequence[str], known: Sequence[str | None] | None = None, *, full: bool = True
    ) -> tuple[list[str], TokenBatch, ShingleBatch]:
        """Texts' normal forms, tokens and shingles, as one batch (the first step of
        :meth:`fingerprint`). ``known``: per text its normal form when stored beside it (a
        spilled article's, see :meth:`newsdedup._spill._Spill.record`), else None. ``full``
        False: the tokens carry only what shingles need (:meth:`BatchShingler.tokens`)."""
        if known is None:
            norms = [normalize_text(text) for text in texts]
        else:
            norms = [normalize_text(t) if n is None else n for t, n in zip(texts, known, strict=True)]
        tb = self._batch.tokens(norms, full=full)
        return norms, tb, self._batch.shingles(tb, lead_tokens=self.config.lead_tokens)

    def _shingle_sets(
        self, texts: Mapping[str, str], norms: Mapping[str, str | None] | None = None
    ) -> dict[str, np.ndarray]:
        """Items' shingle sets (what their docs hold), rebuilt from their texts (and normal
        forms where ``norms`` has them) in one batch without the rest of a doc."""
        known = [norms.get(key) for key in texts] if norms else None
        sb = self._shingle_batch(list(texts.values()), known, full=False)[2]
        return {key: sb.shingle_set(i) for i, key in enumerate(texts)}

    def _lead_signatures(self, sb: ShingleBatch, norms: list[str]) -> np.ndarray:
        k, lead = self.config.shingle_size, self.config.lead_tokens
        if lead >= k:
            per_doc = np.diff(sb.offsets)
            within = np.arange(len(sb.hashes), dtype=np.int64) - np.repeat(sb.offsets[:-1], per_doc)
            mask = within < np.repeat(sb.lead, per_doc)
            offsets = np.zeros(len(per_doc) + 1, dtype=np.int64)
            np.cumsum(sb.lead, out=offsets[1:])
            return self._signer.sign_flat(sb.hashes[mask], offsets)
        # a lead shorter than one shingle: its single shingle over the first tokens
        sets = [self._shingler.shingles(tokenize(norm)[:lead]) for norm in norms]
        return self._signer.sign_many(sets)

    def _doc(self, key: str) -> Doc:
        """The verification doc of a stored item (rebuilt from its text when not cached)."""
        doc = self._state.docs.get_lru(key)
        if doc is None:
            doc = self._rebuild({key: self._text(key)})[key]
        return doc

    def _rebuild(
        self, texts: Mapping[str, str], *, cache: bool = True, norms: Mapping[str, str | None] | None = None
    ) -> dict[str, Doc]:
        """The verification docs of stored items (key -> stored text) that left the cache,
        rebuilt in one batch fingerprint and put back in the cache (unless ``cache`` is False:
        a worker's unit of postponed pairs: few docs serve two units); returned as well,
        since a batch may need more of them than the cache holds. A batch gives token ids and
        offsets and no token strings: a regex token list hashed token by token, after a full
        read of the stored article, cost several times more."""
        found = self._fingerprint(
            [Article(id=key, text=text) for key, text in texts.items()], bands=False, norms=norms
        )
        docs = {doc.key: doc for doc in found[0] if doc is not None}
        keep_sketch = self.store is not None or self._spill is not None
        for key in texts:
            doc = docs.get(key)
            if doc is None:
                raise StoreCorrupt(f"item {key!r} is indexed but its stored text is too short to match")
            self.stats["doc-rebuilds"] += 1
            if not cache:
                continue
            if keep_sketch and key not in self._state.sketches:
                self._state.sketches.put(key, Sketch(doc))
            self._state.docs.put(key, doc)
        return docs

    def _docs_for(self, others: Iterable[Doc | _Stored]) -> dict[str, Doc]:
        """The docs of the pairs' older sides sent by text (:class:`_Stored`), by key: cached
        ones as they are, the others rebuilt together (:meth:`_rebuild`). The main process and
        the verification workers both call this, each on its own cache."""
        texts = {b.key: b.text for b in others if isinstance(b, _Stored)}
        out, missing = self._state.docs.split(texts)
        if missing:
            out.update(self._rebuild({key: texts[key] for key in missing}))
        return out

    def _quick_verdict(self, doc: Doc, key: str) -> Verdict | None:
        """The verdict on a candidate whose full doc left the cache, from its :class:`Sketch`
        when the shingles and numbers decide it (a rejection below both thresholds, a decisive
        near-duplicate or truncated copy: the verifier's own first step), so its stored text is
        not re-read and re-parsed. None: verify in full."""
        if key in self._state.docs:
            return None
        sketch = self._sketch(key)
        if sketch is None:
            return None
        verdict = self._verifier.decide_on_shingles(doc, sketch)
        if verdict is not None:
            self.stats["decided-on-sketch"] += 1
        return verdict

    def _shingles(self, key: str) -> np.ndarray:
        """An item's shingle set for the canonical choice. Building clusters asks once per
        member, so nothing read back here is cached (at 1M items, caching filled the sketch
        cache with sketches never asked for again) nor marked recently used."""
        doc = self._state.docs.get(key)
        if doc is not None:
            return doc.shingles
        sketch = self._sketch(key, keep=False)
        return sketch.shingles if sketch is not None else self._doc(key).shingles

    def _sketch(self, key: str, *, keep: bool = True) -> Sketch | None:
        """The item's sketch from the cache, else from the spill file (then cached again, and
        marked recently used, unless ``keep`` is False)."""
        cache = self._state.sketches
        sketch = cache.get_lru(key) if keep else cache.get(key)
        if sketch is None and self._spill is not None:
            sketch = self._spill.get_sketch(key)
            if sketch is not None:
                self.stats["sketch-reads"] += 1
                if keep:
                    cache.put(key, sketch)
        return sketch

    def _plan(
        self,
        article: Article | _Spilled,
        doc: Doc,
        main_keys: Sequence[int],
        lead_keys: Sequence[int],
        ingested: float,
        candidates: set[str],
        paras: bytes | None,
    ) -> list[str]:
        """The items a new one must be verified against (inside the window; with
        ``max_verify``, its hub pairs); then it is recorded and indexed, so the next items of
        the batch see it as a candidate."""
        assert article.id is not None
        t = self._item_time(article, ingested)
        keys = self._in_window(sorted(candidates), t)
        if len(keys) < len(candidates):
            self.stats["outside-window"] += len(candidates) - len(keys)
        if self.config.max_verify is not None:
            chosen = self._hub_pairs(article.id, keys)
            if len(chosen) < len(keys):
                self.stats["verify-limited"] += 1
                self.stats["not-verified"] += len(keys) - len(chosen)
            keys = chosen
        self._store(article, doc, ingested, (main_keys, lead_keys), paras)
        self._index(article.id, t, main_keys, lead_keys)
        return keys

    def _start_verify(
        self, work: list[tuple[Doc | None, list[str]]]
    ) -> tuple[
        list[list[Verdict]], list[tuple[list[Verdict], int, Doc, Doc | _Stored]], list[tuple[list[Any], Any]]
    ]:
        """Every planned pair's verdict, or a slot for it: (verdicts per item, pairs this
        process still verifies, shares sent to the workers). Pairs the shingles decide are
        decided here; with a verification pool (``jobs > 1`` in :meth:`add_stream`) the
        others go to the workers -- all of them when the batch's verdicts can wait, else this
        process keeps a share."""
        verdicts: list[list[Verdict]] = []
        pool = self._verify_pool
        todo: list[tuple[list[Verdict], int, Doc, Doc | _Stored]] = []
        stored: list[int] = []  # the pairs of todo whose other doc must be rebuilt from its text
        for doc, keys in work:
            found: list[Verdict] = []
            for key in keys:
                assert doc is not None
                verdict = self._quick_verdict(doc, key)
                if verdict is None:
                    other: Doc | _Stored
                    cached = self._state.docs.get_lru(key)
                    if cached is not None:
                        other = cached
                        if pool is not None:
                            verdict = self._verifier.decide_on_shingles(doc, cached)
                    else:
                        # its sketch did not decide it: the doc is rebuilt from the text, with
                        # the batch's other such docs (in a worker, which keeps it, when the
                        # pair is shipped); the texts are read below, all at once
                        stored.append(len(todo))
                        other = _Stored(key, "")
                    if verdict is None:
                        todo.append((found, len(found), doc, other))
                        verdict = _UNDECIDED
                found.append(verdict)
            verdicts.append(found)
        if stored:
            texts = self._texts(dict.fromkeys(todo[i][3].key for i in stored))
            for i in stored:
                found, at, doc, other = todo[i]
                todo[i] = (found, at, doc, _Stored(other.key, texts[other.key]))
        if pool is None or len(todo) < _MIN_SHIPPED * self.jobs:
            return verdicts, todo, []  # a handful of pairs is not worth a round trip
        self.stats["rebuilt-in-workers"] += sum(isinstance(b, _Stored) for *_, b in todo)
        if self._deferred is not None:
            # this process keeps the share it can verify while the workers do the rest
            keep = len(todo) - int(len(todo) * self._local_share)
            local, shares = todo[keep:], _split(todo[:keep], self.jobs - 1)
        else:
            shares = _split(todo, self.jobs)
            local = shares.pop()
        shipped = [
            (
                [(found, at) for found, at, _, _ in share],
                pool.submit(_worker_verify, [(a, b) for *_, a, b in share]),
            )
            for share in shares
        ]
        self.stats["verified-in-workers"] += len(todo) - len(local)
        return verdicts, local, shipped

    def _decide(self, item_id: str, keys: list[str], verdicts: list[Verdict]) -> Decision:
        """Record a new item's accepted pairs and its decision (the best-scoring match)."""
        return self._decide_many([(item_id, keys)], _Verdicts.of(verdicts))[0]

    def _decide_many(
        self, items: Sequence[tuple[str, list[str]]], found: _Verdicts, best: dict[str, float] | None = None
    ) -> list[Decision]:
        """:meth:`_decide` for items in a row, ``found`` holding their verdicts in that order:
        the verdicts stay columns (at a million items a verdict object and a call per pair
        cost about 20 s of this process).

        ``best`` (postponed verification, whose items may come in two rounds): per item the
        best score of its pairs decided so far. An item in it keeps its decision unless this
        round's best match scores higher; an item decided before but not in it (a resolve
        that was interrupted) is decided again."""
        codes = found.codes
        total = sum(len(keys) for _, keys in items)
        if total != len(codes):
            raise ValueError(f"{len(codes)} verdicts for {total} pairs")
        scores = found.scores()
        tags = found.tags
        accepted = [tag[0] for tag in tags]
        for code, count in Counter(codes).items():
            self.stats["verified:" + tags[code][1]] += count
        pairs: list[tuple[str, str]] = []
        rows: list[int] = []
        out: list[Decision] = []
        row = 0
        for item_id, keys in items:
            top, best_row = -1.0, -1
            for key in keys:
                if accepted[codes[row]]:
                    pairs.append((item_id, key))
                    rows.append(row)
                    jaccard, containment = scores[3 * row], scores[3 * row + 1]
                    score = jaccard if jaccard > containment else containment
                    if score > top:  # the first of the best-scoring matches
                        top, best_row = score, row
                row += 1
            if best is not None:
                before = best.get(item_id)
                if before is not None and top <= before:
                    out.append(self.decisions[item_id])  # an earlier round's match is as good
                    continue
                best[item_id] = top
                old = self.decisions.get(item_id)
                if old is not None:  # replaced: counted once
                    self.stats[old.status] -= 1
            if best_row < 0:
                decision = Decision(id=item_id, status="new")
            else:
                decision = Decision(
                    id=item_id,
                    status="duplicate",
                    duplicate_of=keys[best_row - row + len(keys)],
                    kind=tags[codes[best_row]][1],
                    jaccard=round(scores[3 * best_row], 4),
                )
            self.stats[decision.status] += 1
            self.decisions[item_id] = decision
            out.append(decision)
        self._state.add_edges(found, scores, pairs, rows)
        if self.store is not None:
            for (a, b), r in zip(pairs, rows, strict=True):
                if b < a:
                    a, b = b, a
                self._pending_edges.append(
                    EdgeRow(a, b, tags[codes[r]][1], scores[3 * r], scores[3 * r + 1], scores[3 * r + 2])
                )
        if logger.isEnabledFor(logging.DEBUG):
            for decision in out:
                logger.debug("dedup %s: %s", decision.id, decision)
        if self.on_verdict is not None:  # last: a callback that raises leaves the state whole
            row = 0
            for item_id, keys in items:
                for key in keys:
                    self.on_verdict(item_id, key, found[row])
                    row += 1
        return out

    def _hub_pairs(self, key: str, candidates: list[str]) -> list[str]:
        """With ``max_verify = K``: the candidates a new item must be verified against, and its
        own and its candidates' hub lists updated.

        Every item keeps the ranks (a hash of the id) of the ``K`` lowest-ranked items it shares
        a bucket with, whenever they arrived. A pair is verified when either side is among the
        other's ``K`` lowest; a rank only ever drops out of a list, so every pair that is in
        that relation at the end was verified when its later item arrived, whatever the order.
        :meth:`_hub_edges` keeps only those pairs for clustering: the partition is a function of
        the items, not of their order."""
        limit = self.config.max_verify
        assert limit is not None
        hubs = self._state.hubs
        mine = item_rank(key)
        ranked = sorted((item_rank(k), k) for k in candidates)
        own = array("Q", [r for r, _ in ranked[:limit]])
        own_kth = _kth(own, limit)
        chosen: list[str] = []
        for r, k in ranked:
            theirs = hubs.setdefault(k, array("Q"))
            kth = _kth(theirs, limit)
            if r <= own_kth or mine <= kth:
                chosen.append(k)
            if mine < kth:
                bisect.insort(theirs, mine)
                if len(theirs) > limit:
                    theirs.pop()
        hubs[key] = own
        return sorted(chosen)

    def _hub_edges(self) -> Mapping[str, set[str]]:
        """The verified edges clustering uses (see :func:`hub_edges`)."""
        return self._state.edges.hub_edges(self._state.hubs, self.config.max_verify, self.config.settle)

    def verify(self, a: Doc, b: Doc) -> Verdict:
        """The engine's decision on one candidate pair (symmetric; reads no state)."""
        return self._verifier.verify(a, b)

    def add_resolved(
        self,
        articles: Sequence[Article],
        docs: Sequence[Doc | None],
        edges: Iterable[tuple[str, str, Verdict]],
        *,
        ingested: float | None = None,
        hubs: Mapping[str, Sequence[int]] | None = None,
    ) -> None:
        """Load items whose matching was done elsewhere (e.g. by :mod:`newsdedup.dask`): every
        article with its doc from :meth:`fingerprint` (None: too short) and every accepted pair.
        :meth:`clusters` then gives what :meth:`add_many` over the same items would; no store,
        no window, and ``decisions`` stay empty (they depend on arrival order). With
        ``max_verify``, ``hubs`` gives each item's lowest candidate ranks (:func:`item_rank` of
        every item it shares a bucket with; at least the ``max_verify`` lowest), so clustering
        keeps the same pairs as :meth:`add_many` would have verified."""
        if self.store is not None or self.window is not None:
            raise ConfigError("add_resolved works on a deduplicator without store and window")
        limit = self.config.max_verify
        if limit is not None and hubs is None:
            raise ConfigError("add_resolved with max_verify needs hubs (each item's lowest candidate ranks)")
        if limit is not None and hubs is not None:
            for key, found in hubs.items():
                self._state.hubs[key] = array("Q", sorted(found)[:limit])
        now = time.time() if ingested is None else ingested
        for article, doc in zip(articles, docs, strict=True):
            if article.id is None:
                raise ConfigError("add_resolved needs articles with ids")
            if article.id in self._state.meta:
                raise ConfigError(f"add_resolved: id {article.id!r} given twice")
            self._store(article, doc, now, None)
            if doc is None:
                self.stats["too-short"] += 1
        for a, b, verdict in edges:
            if a not in self._state.meta or b not in self._state.meta:
                raise ConfigError(f"add_resolved: edge {a} - {b} names an unknown item")
            if verdict.accepted:
                self._state.add_edge(a, b, verdict)
        self._clusters = None

    # -- output --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._state.meta)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._state.meta

    def release_caches(self) -> None:
        """Empty the in-memory caches of articles and verification docs, and keep only the
        ``cache_items`` most recently used sketches (with a spill file, what leaves is written
        to it first), for when the input is read: at a million items the caches held about
        half a GB. Building clusters reads each member's shingle set, so the sketches that fit
        the docs' budget stay (at 20k items, writing every sketch out and reading it back
        cost the main process about 0.2 s). Nothing is lost; items added afterwards refill
        the caches (a doc is rebuilt from its stored text). The CLI calls this between
        reading and writing."""
        state = self._state
        state.articles.drain()
        state.docs.drain()
        state.sketches.drain(keep=self._cache_items)

    def _text(self, key: str) -> str:
        """An indexed item's article text (see :meth:`_texts`)."""
        return self._texts([key])[key]

    def _texts(self, keys: Iterable[str]) -> dict[str, str]:
        """Indexed items' article texts (see :meth:`_stored_texts`)."""
        return self._stored_texts(keys)[0]

    def _stored_texts(self, keys: Iterable[str]) -> tuple[dict[str, str], dict[str, str | None]]:
        """Indexed items' article texts, and the normal forms the spill file holds of them
        (None: not stored): read alone from the spill file where they are there (no article is
        unpickled), the others from the cache or in one store read."""
        spilled, rest = self._spilled(keys)
        out: dict[str, str] = {}
        norms: dict[str, str | None] = {}
        if self._spill is not None:
            for key, where in spilled.items():
                out[key], norms[key] = self._spill.text_and_norm(self._spill.read_article(where))
        if rest:
            out.update((key, article.text) for key, article in self._articles(rest).items())
        return out, norms

    def _spilled(self, keys: Iterable[str]) -> tuple[dict[str, int], list[str]]:
        """Of ``keys``, where the spill file holds the articles not in the article cache, and
        the others."""
        spilled: dict[str, int] = {}
        rest: list[str] = []
        spill, cached = self._spill, self._state.articles
        for key in keys:
            if spill is not None and key not in cached and key in spill:
                spilled[key] = spill.where(key)
            else:
                rest.append(key)
        return spilled, rest

    def article(self, item_id: str) -> Article:
        article = self._state.articles.get_lru(item_id)
        if article is None:
            if item_id not in self._state.meta:
                raise KeyError(item_id)
            if self._spill is not None:
                article = self._spill.get(item_id)
                self._state.articles.put(item_id, article)
                return article
            if self.store is None:
                raise KeyError(item_id)
            found = self._stored_articles([item_id])
            article = found[item_id]
            self._state.articles.put(item_id, article)
        return article

    def _stored_articles(self, ids: list[str]) -> dict[str, Article]:
        """Articles the cache no longer holds, from the store, or from the batch being matched:
        its rows are written only at commit, so an item of a batch larger than ``cache_items``
        whose article already left the cache is not in the store yet (it was reported as
        ``StoreCorrupt``, "has no stored article")."""
        assert self.store is not None
        pending = {r.id: r.article for r in self._pending_rows if r.article is not None}
        out = {i: pending[i] for i in ids if i in pending}
        rest = [i for i in ids if i not in out]
        if rest:
            found = self.store.get_articles(rest)
            lost = [i for i in rest if i not in found]
            if lost:
                raise StoreCorrupt(f"item {lost[0]!r} has no stored article")
            out.update(found)
        return out

    def _articles(self, ids: Iterable[str]) -> dict[str, Article]:
        """Articles for many ids, fetching the uncached ones from the store in one go."""
        out, missing = self._state.articles.split(ids, touch=False)
        if missing and self._spill is not None:
            out.update((i, self._spill.get(i)) for i in missing)
            missing = []
        if missing:
            if self.store is None:
                raise KeyError(missing[0])
            out.update(self._stored_articles(missing))
        return out

    def verdict(self, a: str, b: str) -> Verdict | None:
        """The accepted verification of a pair, if any."""
        self._resolve()
        return self._state.edges.verdict(a, b)

    def clusters(self) -> list[Cluster]:
        """Every added item in exactly one cluster, sorted by cluster id (with a store: every
        item the store holds, after catching up with other processes)."""
        if self.store is not None:
            self.refresh()
        self._resolve()
        if self._clusters is None:
            self._clusters = list(self.iter_clusters(refresh=False))
        return list(self._clusters)

    def iter_clusters(self, *, refresh: bool = True, chunk: int = 2_000) -> Iterator[Cluster]:
        """Every cluster, sorted by cluster id, built at most ``chunk`` groups and about ten
        thousand members at a time (bounded memory for large runs and exports of large
        stores). With ``jobs > 1`` and at least a few thousand items, ``jobs`` worker
        processes build them (:meth:`_clusters_in_workers`); the clusters are the same."""
        yield from self._built(refresh, chunk, None)

    def _cluster_lines(
        self, story: StoryConfig | None, *, chunk: int = 2_000
    ) -> Iterator[tuple[str, str, StoryProfile | None]]:
        """What the CLI writes of every cluster, in :meth:`iter_clusters` order: (cluster id,
        its JSON line, its story profile for :class:`GroupingProfiler` when ``story`` is
        given). Where worker processes build the clusters they make the lines and profiles
        too, and this process only writes and groups: at 20k items it spent 1.3 s of its
        last 2.5 s taking the profiles while the workers idled."""
        yield from self._built(False, chunk, _ClusterLines(story))

    def _built(self, refresh: bool, chunk: int, finish: _ClusterLines | None) -> Iterator[Any]:
        """Every cluster (``finish`` None) or what ``finish`` makes of it, sorted by cluster id."""
        if refresh and self.store is not None:
            self.refresh()
        if self.jobs > 1 and len(self._state.meta) >= _POOL_CLUSTERS_MIN:
            with self._pool() as pool:  # the workers split the components, then build the clusters
                groups, keys = self._groups(pool)
                keyed = sorted(groups, key=lambda g: cluster_id_for(g))
                yield from self._clusters_in_workers(
                    pool, _parts(keyed, chunk, _WORKER_CHUNK_MEMBERS), keys, finish
                )
            return
        groups, keys = self._groups()
        keyed = sorted(groups, key=lambda g: cluster_id_for(g))
        repeated = repeats_from(keys)
        for part in _parts(keyed, chunk, _CHUNK_MEMBERS):
            articles = self._articles(i for g in part for i in g)
            for g in part:
                cluster = self._make_cluster(g, repeated, articles)
                yield cluster if finish is None else finish(cluster)

    def _clusters_in_workers(
        self, pool: Any, parts: Iterable[list[list[str]]], keys: np.ndarray, finish: _ClusterLines | None
    ) -> Iterator[Any]:
        """The clusters of ``parts`` (groups of member ids), built in the ``pool``'s worker processes
        (:func:`_worker_clusters`) a few parts ahead, yielded in order (or what ``finish``
        makes of each, made in the worker).

        This process only looks up what a part's members need: spilled articles and sketches
        go as the bytes the spill file holds, and a member whose shingle set is neither in
        memory nor spilled has it rebuilt from its text in the worker. At a million items,
        building clusters here took about 95 s while the other core idled (at 200k, about
        half of it reading articles and sketches back and unpickling them)."""

        def calls() -> Iterator[tuple[Callable[..., Any], tuple[Any, ...]]]:
            for part in parts:
                self.stats["clusters-built-in-workers"] += len(part)
                yield _worker_clusters, (part, *self._cluster_inputs(part), keys, finish)

        for clusters in _results_in_order(pool, calls(), 2 * self.jobs):
            yield from clusters

    def _cluster_inputs(
        self, part: list[list[str]]
    ) -> tuple[
        dict[str, Article | bytes | int], dict[str, np.ndarray | bytes | int | None], dict[str, float]
    ]:
        """What :func:`_worker_clusters` needs of a part's members: per member its article (or
        its spill record, or where that is when workers read the spill file), per member of a
        group of two or more its shingle set (or its spilled sketch's bytes, or where they
        are; None: rebuild it from the text), and per member its ingest time. Nothing is
        marked recently used or cached."""
        state, spill = self._state, self._spill
        meta = state.meta
        shared = self._workers_read_spill()
        articles: dict[str, Article | bytes | int] = {}
        missing: list[str] = []
        shingles: dict[str, np.ndarray | bytes | int | None] = {}
        for ids in part:
            for key in ids:
                article = state.articles.get(key)
                if article is not None:
                    articles[key] = article
                elif spill is not None and key in spill:
                    articles[key] = spill.where(key) if shared else spill.get_record(key)
                else:
                    missing.append(key)
                if len(ids) == 1:
                    continue
                if not meta[key].n_shingles:
                    shingles[key] = _NO_SHINGLES
                elif (doc := state.docs.get(key)) is not None:
                    shingles[key] = doc.shingles
                elif (sketch := state.sketches.get(key)) is not None:
                    shingles[key] = sketch.shingles
                elif spill is None:
                    shingles[key] = None
                else:
                    shingles[key] = spill.sketch_where(key) if shared else spill.get_sketch_bytes(key)
        if missing:
            articles.update(self._articles(missing))
        return articles, shingles, {key: meta[key].ingested for ids in part for key in ids}

    def _pool(self, nice: int = 0, workers: int | None = None) -> Any:
        """A pool of ``workers`` (default: ``jobs``) worker processes (:func:`_worker_init`)."""
        import concurrent.futures as cf

        ctx = mp_context()
        if ctx.get_start_method() == "forkserver":
            _preload_in_forkserver(ctx)
        start_forkserver(ctx)
        return cf.ProcessPoolExecutor(
            max_workers=workers if workers is not None else self.jobs,
            mp_context=ctx,  # type: ignore[arg-type]
            initializer=_worker_init,
            initargs=(
                self.config,
                self._cache_items,
                nice,
                os.getpid(),
                None if self._spill is None else self._spill.shared(),  # see _workers_read_spill
                log_setup(ctx),
            ),
        )

    def _groups(self, pool: Any = None) -> tuple[list[list[str]], np.ndarray]:
        """The clusters' member ids, and the sites' repeated paragraphs (:meth:`_site_repeats`).
        With a ``pool``, its workers split the components (:meth:`_split_in_workers`)."""
        self._resolve()
        state = self._state
        ids, a, b = state.edges.kept(state.hubs, self.config.max_verify, self.config.settle)
        partition = functools.partial(
            partition_pairs,
            state.meta.keys(),
            ids,
            a,
            b,
            size_priority(self._n_shingles),
            max_need=self.config.max_need,
        )
        if pool is not None:
            partition = functools.partial(
                partition,
                split_parts=functools.partial(self._split_in_workers, pool),
                part_rows=max(_SPLIT_PART_ROWS, 2 * len(a) // (_SPLIT_PARTS * self.jobs)),
            )
        if pool is None or not self.config.site_repeat_min:
            groups = partition()
            return groups, self._site_repeats(groups)
        import concurrent.futures as cf

        # the sites' paragraph rows are gathered in a thread while the workers split: this
        # process mostly waits for them then (at a million items, about 3.6 s after the split)
        with cf.ThreadPoolExecutor(1, thread_name_prefix="newsdedup-site-rows") as thread:
            rows = thread.submit(self._site_rows)
            groups = partition()
            return groups, self._site_repeats(groups, rows.result())

    def _split_in_workers(self, pool: Any, parts: Iterator[ComponentPart]) -> Iterator[list[list[str]]]:
        """Each part's clusters (:func:`split_part`), split in the ``pool``'s workers while this
        process readies the next parts: at a million items the partition took about 9 s on one
        core between the verification and the clusters (*ad hoc*)."""
        meta, max_need = self._state.meta, self.config.max_need
        # a few parts ahead: each one's arrays are held until it is split
        calls = (
            (_worker_split, (part, [meta[k].n_shingles for k in part.names], max_need)) for part in parts
        )
        return _results_in_order(pool, calls, 2 * self.jobs)

    def emit_changed(self, write: Callable[[list[Cluster]], None]) -> list[Cluster]:
        """With a store: the clusters holding an item no output has carried yet (new or grown
        clusters, including items of a killed run). ``write`` gets them inside the store
        transaction; only after it returns are they recorded as emitted, so a crash before that
        emits them again next time rather than never. Without a store: every cluster."""
        if self.store is None:
            clusters = self.clusters()
            write(clusters)
            return clusters
        with self.store.transaction() as txn:
            self._sync(txn)
            pending = txn.pending_ids()
            groups, keys = self._groups()
            repeated = repeats_from(keys)
            chosen = sorted((g for g in groups if not pending.isdisjoint(g)), key=lambda g: cluster_id_for(g))
            articles = self._articles(i for g in chosen for i in g)
            clusters = [self._make_cluster(g, repeated, articles) for g in chosen]
            write(clusters)
            txn.mark_emitted(
                [ClusterRow(c.cluster_id, c.canonical_id, c.canonical_reason, c.member_ids) for c in clusters]
            )
        return clusters

    def _n_shingles(self, key: str) -> int:
        return self._state.meta[key].n_shingles

    def _site_repeats(self, groups: list[list[str]], site_rows: np.ndarray | None = None) -> np.ndarray:
        """The paragraphs a site prints under at least ``site_repeat_min`` different clusters
        (:func:`site_repeated_keys`; :func:`repeats_from` reads them), counted over everything added
        so far, so it does not depend on input order. ``site_rows``: :meth:`_site_rows`, made
        before the groups were known."""
        min_clusters = self.config.site_repeat_min
        if not min_clusters:
            return np.empty((0, 2), dtype=np.uint64)
        meta = self._state.meta
        if site_rows is None:
            members = ((meta[i].site, meta[i].paras, n) for n, group in enumerate(groups) for i in group)
            return site_repeated_keys(members, min_clusters)
        cluster_of = {key: n for n, group in enumerate(groups) for key in group}
        cluster = np.fromiter(map(cluster_of.__getitem__, meta), dtype=np.uint64, count=len(meta))
        del cluster_of
        site_rows[:, 2] = cluster[site_rows[:, 2].astype(np.int64)]
        return repeated_keys_of_rows(site_rows, min_clusters)

    def _site_rows(self) -> np.ndarray:
        """:func:`member_rows` of every item, with its number in the order of ``meta`` in place
        of a cluster's, for :meth:`_site_repeats`."""
        return member_rows((m.site, m.paras, n) for n, m in enumerate(self._state.meta.values()))

    def _make_cluster(self, ids: list[str], repeated: _Repeats, articles: Mapping[str, Article]) -> Cluster:
        meta = self._state.meta
        return build_cluster(
            ids,
            articles,
            lambda i: self._shingles(i) if meta[i].n_shingles else _NO_SHINGLES,
            lambda i: meta[i].ingested,
            repeated,
            self.config,
        )


_Keys = tuple[Sequence[int], Sequence[int]]
"""An item's (whole-text, lead) band keys: lists, or a worker's uint32 arrays."""
_Fingerprint = tuple["Doc | None", "_Keys | int | None", bytes]
"""(doc, band keys -- as sent by a worker, its row in :attr:`_Prepared.keys` --,
:func:`stored_paras`), computed by a worker."""


class _Spilled(NamedTuple):
    """An item a preparing worker readied for the spill file (see :meth:`Deduplicator.add_stream`):
    what the main process records of it, and its spill records as bytes. Sent instead of the
    article while verification is postponed with a spill file, and instead of its doc too once
    the caches are full: the main process then neither unpickles them (7.9 KB an item on the
    1M corpus, against 4.0 KB as records) nor pickles the article again to spill it (at 20k,
    the caches' drain before the clusters took about 0.5 s of this process alone), and keeps
    no sketch of a doc it was not sent.

    No sketch is sent or spilled: postponed verification reads texts only, and the canonical
    choice rebuilds the shingle sets in the workers (:meth:`Deduplicator.iter_clusters`).
    At a million items the sketches were as big as the texts, and pages of the spill file not
    read for about a minute leave this machine's page cache (see ``docs/dedup.md``)."""

    id: str
    site: str | None
    published: datetime | None
    text_hash: str
    n_shingles: int
    matchable: bool
    """False: too short to match."""
    record: bytes
    """:meth:`_Spill.record` of the article."""


_PreparedItem = tuple[Article | Decision | _Spilled, int | None, _Fingerprint | None]


@dataclass(slots=True)
class _Prepared:
    """A batch after its stateless part: items in input order, with their fingerprints when a
    worker computed them, and the errors and counts the worker recorded."""

    items: list[_PreparedItem]
    errors: list[ErrorRecord] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)
    keys: np.ndarray | None = None
    """A worker's band keys: a row per fingerprinted item (its fingerprint holds the row's
    number until :meth:`with_keys`), the lead index's from column ``lead_at`` on."""
    lead_at: int = 0

    def with_keys(self) -> list[_PreparedItem]:
        """The items, each worker fingerprint's row number replaced by its (whole-text, lead)
        band keys: views of the batch's array."""
        keys = self.keys
        if keys is None:
            return self.items
        at = self.lead_at
        out: list[_PreparedItem] = []
        for article, line, fp in self.items:
            if fp is not None and fp[1] is not None:
                row = keys[fp[1]]
                fp = (fp[0], cast("_Keys", (row[:at], row[at:])), fp[2])
            out.append((article, line, fp))
        return out


def _prepare_batch(
    deduper: Deduplicator,
    items: list[Item | RecordError | RawLine],
    first_line: int | None,
    file: str | None,
    *,
    fingerprint: bool = False,
    lean: bool = False,
) -> _Prepared:
    """A batch's stateless part: each item extracted or validated, and with ``fingerprint``
    its doc, band keys and paragraph hashes; with ``lean`` too, each article as the
    :class:`_Spilled` record it is sent as, with no doc (:meth:`Deduplicator._sizes`)."""
    out: list[_PreparedItem] = []
    for n, item in enumerate(items):
        line = first_line + n if first_line is not None else None
        if isinstance(item, Record | RecordError | RawLine) and item.line is not None:
            line = item.line
        out.append((deduper._prepare(item, line, file), line, None))
    if not fingerprint:
        return _Prepared(out)
    where = [i for i, (p, _, _) in enumerate(out) if isinstance(p, Article)]
    articles = cast("list[Article]", [out[i][0] for i in where])
    main: np.ndarray | None
    if lean:
        sizes, main, lead = deduper._sizes(articles)
        for row, (i, article, size) in enumerate(zip(where, articles, sizes, strict=True)):
            norm, n_shingles = size if size is not None else (None, 0)
            spilled = _spilled(article, norm, n_shingles, matchable=size is not None)
            out[i] = (spilled, out[i][1], (None, None if size is None else row, stored_paras(article)))
    else:
        docs, main, lead = deduper._fingerprint(articles)
        for row, (i, article, doc) in enumerate(zip(where, articles, docs, strict=True)):
            out[i] = (article, out[i][1], (doc, None if doc is None else row, stored_paras(article)))
    assert main is not None
    # the batch's band keys travel as one array: as a list of Python ints per item, they took
    # about a third of what the main process spent unpickling a prepared batch (0.23 of 0.67 s at 20k)
    keys = main if lead is None else np.hstack([main, lead])
    return _Prepared(out, keys=keys.astype(np.uint32), lead_at=main.shape[1])


_WORKER: Deduplicator | None = None
_WORKER_SPILL: tuple[int, int] | None = None
"""In a worker: its own descriptors of the main process's spill files (articles, other)."""


def _worker_read(where: int, *, sketch: bool = False) -> bytes:
    """In a worker: an article's record (or a sketch's bytes) at ``where`` in the spill file
    of the process that started it (see :meth:`Deduplicator._workers_read_spill`)."""
    if _WORKER_SPILL is None:
        raise RuntimeError("this worker was not given the spill file")
    return _pread_exact(_WORKER_SPILL[1 if sketch else 0], where)


def _worker_init(
    config: DedupConfig,
    cache_items: int,
    nice: int,
    parent: int,
    spill: tuple[_SharedFile, _SharedFile] | None,
    logs: LogSetup | None = None,
) -> None:
    global _WORKER, _WORKER_SPILL
    _WORKER = Deduplicator(config=config)
    _WORKER_SPILL = None if spill is None else (spill[0].fd, spill[1].fd)
    _WORKER._state.docs.maxsize = cache_items  # a verification worker's docs rebuilt from texts
    # the main process decides what a Ctrl-C means, and handles the log records (newsdedup._procs)
    worker_start(logs)
    if nice and hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(nice)
    if os.name == "posix":
        import threading

        threading.Thread(target=_exit_without, args=(parent,), daemon=True, name="newsdedup-parent").start()


def _preload_in_forkserver(ctx: Any) -> None:
    """Have the forkserver import this module before it forks the first worker, so each worker
    starts with it instead of importing it (about 0.4 s of CPU per worker, and a CLI run starts
    three pools: a pool built after the first one was ready in 0.05 s instead of 0.4 s). The
    forkserver's other preloads (``__main__`` by default) are kept; once it runs, this changes
    nothing. The list is read from a private attribute, so a Python without it only loses the
    gain."""
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    preload = getattr(server, "_preload_modules", None)
    if isinstance(preload, list) and __name__ not in preload:
        ctx.set_forkserver_preload([*preload, __name__])


def _exit_without(parent: int) -> None:
    """A worker's watchdog: a killed main process never tells its workers to stop (and with
    the forkserver they are not its children), so each one exits once the main one is gone."""
    while True:
        time.sleep(1.0)
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(1)
        except OSError:  # exists, but not ours to signal
            pass


_PREPARE_NICE = 5
"""The preparing workers run ahead and only fill idle cores: the matching process and the
verification workers are the critical path, so the scheduler favours them."""


_PrepareArgs = tuple[list["Item | RecordError | RawLine"], str | None, bool, bool]
""":func:`_worker_prepare`'s arguments for one batch: the items, their file, spilled, docs."""


class _Preparing:
    """The pool of preparing workers of one stream, renewed when a worker died, and a pool of
    one for preparing the items of a batch that broke it alone: the HTML parser is C code, and
    a page that crashes it (a segfault, an abort, the out-of-memory killer) must cost its own
    item (``extract-crashed``), not the run and everything read before it."""

    def __init__(self, deduper: Deduplicator) -> None:
        self.deduper = deduper
        self.pool: Any = None
        self.broken = False
        self._alone: Any = None

    def __enter__(self) -> _Preparing:
        self.pool = self.deduper._pool(_PREPARE_NICE)
        return self

    def __exit__(self, *exc: object) -> None:
        for pool in (self.pool, self._alone):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, args: _PrepareArgs) -> Any:
        try:
            return self.usable().submit(_worker_prepare, *args)
        except BrokenExecutor:  # it broke since the last look
            self._renew()
            return self.pool.submit(_worker_prepare, *args)

    def usable(self) -> Any:
        """The pool, a new one if a worker died (the idle workers verify once reading ends)."""
        if self.broken:
            self._renew()
        return self.pool

    def _renew(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool, self.broken = self.deduper._pool(_PREPARE_NICE), False

    def stop(self) -> None:
        """Kill the pool's workers (one is stuck on an item): the batches they held break, and
        their items are prepared alone (:meth:`alone`)."""
        stop_workers(self.pool)
        self.broken = True

    def alone(self, args: _PrepareArgs) -> Iterator[_Prepared]:
        """Each item of a batch whose worker died or overran, prepared by itself, one at a
        time: the one that kills the worker again is an ``extract-crashed`` error in its place,
        the one that overruns ``extract_timeout`` again an ``extract-timeout`` error."""
        items, file, spilled, docs = args
        for item in items:
            if self._alone is None:
                self._alone = self.deduper._pool(_PREPARE_NICE, workers=1)
            try:
                future = self._alone.submit(_worker_prepare, [item], file, spilled, docs)
                yield future.result(timeout=self.deduper.extract_timeout)
            except (BrokenExecutor, TimeoutError) as exc:
                stop_workers(self._alone)
                self._alone = None
                yield _lost(
                    item, file, timed_out=isinstance(exc, TimeoutError), limit=self.deduper.extract_timeout
                )


def _lost(
    item: Item | RecordError | RawLine, file: str | None, *, timed_out: bool = False, limit: float = 0.0
) -> _Prepared:
    """The error in place of an item that killed the worker preparing it, or held it longer than
    ``limit`` seconds."""
    line = item.line if isinstance(item, Record | RecordError | RawLine) else None
    try:
        found = item.parse() if isinstance(item, RawLine) else item
        key = found.get("id") if isinstance(found, Mapping) else getattr(found, "id", None)
    except RecordError:
        key = None
    key = key if isinstance(key, str) else None
    if timed_out:
        reason = "extract-timeout"
        message = f"preparing this item took over {limit:g} s (extract_timeout; a parser hang?); its worker was stopped, skipped"
    else:
        reason = "extract-crashed"
        message = "the worker preparing this item died (a parser crash, an abort or the out-of-memory killer); skipped"
    error = ErrorRecord(line=line, id=key, reason=reason, message=message, file=file)
    decision = Decision(id=key, status="error", reason=reason)
    return _Prepared([(decision, line, None)], errors=[error], stats=Counter({f"error:{reason}": 1}))


def _worker_prepare(
    items: list[Item | RecordError | RawLine], file: str | None, spilled: bool, docs: bool
) -> _Prepared:
    """The stateless part of a batch, in a worker process (see :meth:`Deduplicator.add_stream`);
    ``spilled``: its articles as :class:`_Spilled` records, with their docs when ``docs``."""
    assert _WORKER is not None
    _WORKER.errors, _WORKER.stats = [], Counter()
    lean = spilled and not docs  # docs that would be dropped are not made
    prepared = _prepare_batch(_WORKER, items, None, file, fingerprint=True, lean=lean)
    prepared.errors, prepared.stats = _WORKER.errors, _WORKER.stats
    if spilled and not lean:
        prepared.items = [_spill_item(item) for item in prepared.items]
    return prepared


def _spill_item(item: _PreparedItem) -> _PreparedItem:
    """A prepared article as a :class:`_Spilled` with its doc (anything else as it is)."""
    article, line, fp = item
    if not isinstance(article, Article) or fp is None:
        return item
    doc = fp[0]
    if doc is None:
        return _spilled(article, None, 0, matchable=False), line, fp
    return _spilled(article, doc.norm, len(doc.shingles), matchable=True), line, fp


def _spilled(article: Article, norm: str | None, n_shingles: int, *, matchable: bool) -> _Spilled:
    """What the main process keeps of an article sent ready for the spill file, with its
    record (the text's normal form ``norm`` in it when known)."""
    assert article.id is not None
    return _Spilled(
        id=article.id, site=article.site, published=article.published, text_hash=_text_hash(article.text),
        n_shingles=n_shingles, matchable=matchable, record=_Spill.record(article, norm),
    )  # fmt: skip


def _worker_clusters(
    part: list[list[str]],
    articles: dict[str, Article | bytes | int],
    shingles: dict[str, np.ndarray | bytes | int | None],
    ingested: dict[str, float],
    keys: np.ndarray,
    finish: _ClusterLines | None = None,
) -> list[Any]:
    """A part's clusters (or what ``finish`` makes of each), built in a worker (see
    :meth:`Deduplicator._clusters_in_workers`) from what :meth:`Deduplicator._cluster_inputs`
    sent."""
    assert _WORKER is not None
    found: dict[str, Article] = {}
    norms: dict[str, str | None] = {}
    for k, a in articles.items():
        if isinstance(a, Article):
            found[k] = a
            continue
        found[k], norms[k] = _Spill.article_and_norm(a if isinstance(a, bytes) else _worker_read(a))
    sets: dict[str, np.ndarray] = {}
    texts: dict[str, str] = {}
    for key, value in shingles.items():
        if isinstance(value, int):
            value = _worker_read(value, sketch=True)
        if value is None:
            texts[key] = found[key].text
        else:
            sets[key] = Sketch.from_bytes(key, value).shingles if isinstance(value, bytes) else value
    if texts:
        sets.update(_WORKER._shingle_sets(texts, norms))
    global _WORKER_REPEATS, _WORKER_FINISH
    if _WORKER_REPEATS is None or not np.array_equal(_WORKER_REPEATS[0], keys):
        _WORKER_REPEATS = (keys, repeats_from(keys))
    repeated = _WORKER_REPEATS[1]
    config = _WORKER.config
    clusters = [
        build_cluster(ids, found, sets.__getitem__, ingested.__getitem__, repeated, config) for ids in part
    ]
    if finish is None:
        return clusters
    if _WORKER_FINISH is None or _WORKER_FINISH.story != finish.story:
        _WORKER_FINISH = finish  # kept: its profiler's vocabulary serves the next parts too
    return [_WORKER_FINISH(c) for c in clusters]


def _results_in_order(
    pool: Any, calls: Iterable[tuple[Callable[..., Any], tuple[Any, ...]]], ahead: int
) -> Iterator[Any]:
    """Each ``(function, arguments)`` call's result, run in ``pool`` with at most ``ahead``
    results waiting beyond the one read next, in the order of ``calls``; the calls not yet
    run are cancelled when the caller stops early."""
    inflight: deque[Any] = deque()
    try:
        for fn, args in calls:
            inflight.append(pool.submit(fn, *args))
            while len(inflight) > ahead:
                yield inflight.popleft().result()
        while inflight:
            yield inflight.popleft().result()
    finally:
        for future in inflight:
            future.cancel()


def _worker_split(part: ComponentPart, sizes: list[int], max_need: int | None) -> list[list[str]]:
    """A part's clusters, in a worker (see :meth:`Deduplicator._split_in_workers`); ``sizes``:
    each node's shingle count, which with its id is its priority."""
    return split_part(part, size_priority(dict(zip(part.names, sizes, strict=True)).__getitem__), max_need)


_WORKER_REPEATS: tuple[np.ndarray, _Repeats] | None = None
"""A cluster-building worker's last repeated paragraph keys and what :func:`repeats_from` made
of them (the same for every part of one output)."""


class _ClusterLines:
    """Cluster -> (cluster id, its JSON line, its grouping story profile or None): the CLI's
    output of a cluster, made where the cluster is built. Pickled as its story settings alone."""

    def __init__(self, story: StoryConfig | None) -> None:
        self.story = story
        self._profiler: GroupingProfiler | None = None

    def __reduce__(self) -> tuple[type[_ClusterLines], tuple[StoryConfig | None]]:
        return (_ClusterLines, (self.story,))

    def __call__(self, cluster: Cluster) -> tuple[str, str, StoryProfile | None]:
        if cluster.extra:
            raise AssertionError(f"cluster {cluster.cluster_id} already has {sorted(cluster.extra)}")
        line = json.dumps(cluster.to_dict(), ensure_ascii=False)
        if self.story is None:
            return cluster.cluster_id, line, None
        if self._profiler is None:
            from ._story import GroupingProfiler

            self._profiler = GroupingProfiler(self.story)
        return cluster.cluster_id, line, self._profiler(cluster)


_WORKER_FINISH: _ClusterLines | None = None
"""A cluster-building worker's :class:`_ClusterLines` (its story vocabulary kept across parts)."""


def _worker_verify(pairs: list[tuple[Doc, Doc | _Stored]]) -> list[Verdict]:
    """Verify pairs in a worker process (see :meth:`Deduplicator._start_verify`). Docs sent as
    text are rebuilt all at once and kept in the worker's cache (:meth:`Deduplicator._docs_for`)."""
    assert _WORKER is not None
    docs = _WORKER._docs_for(b for _, b in pairs)
    verify = _WORKER._verifier.verify
    return [verify(a, b if isinstance(b, Doc) else docs[b.key]) for a, b in pairs]


def _worker_verify_unit(inputs: dict[str, Doc | str | int], pairs: list[tuple[str, str]]) -> _Verdicts:
    """Verify a unit of postponed pairs in a worker (see :meth:`Deduplicator._resolve`): the
    docs sent whole are used as they are, the others rebuilt in one batch from their texts
    (sent, or read from the spill file where an int says)."""
    assert _WORKER is not None
    docs = {key: value for key, value in inputs.items() if isinstance(value, Doc)}
    if len(docs) < len(inputs):
        texts: dict[str, str] = {}
        norms: dict[str, str | None] = {}
        for key, value in inputs.items():
            if isinstance(value, str):
                texts[key] = value
            elif not isinstance(value, Doc):
                texts[key], norms[key] = _Spill.text_and_norm(_worker_read(value))
        # few docs serve two units: not cached
        docs.update(_WORKER._rebuild(texts, cache=False, norms=norms))
    verify = _WORKER._verifier.verify
    with _one_alphabet(docs.values()):
        return _Verdicts.of([verify(docs[a], docs[b]) for a, b in pairs])


@contextlib.contextmanager
def _one_alphabet(docs: Iterable[Doc]) -> Iterator[None]:
    """A unit's docs aligned in one :class:`newsdedup._verify.Alphabet` while its pairs are
    verified (all coded at once, each aligned as a string); cached docs leave it afterwards,
    so they keep no codes."""
    held = list(docs)
    Alphabet().code_docs(held)
    try:
        yield
    finally:
        for doc in held:
            doc.share_alphabet(None)


def _tag_code(index: dict[tuple[bool, str], int], tag: tuple[bool, str]) -> int:
    """A verdict's ``(accepted, kind)`` as a one-byte code in ``index`` (added if new)."""
    code = index.get(tag)
    if code is None:
        if len(index) > 255:
            raise ValueError("more than 256 verdict kinds")
        code = index[tag] = len(index)
    return code


@dataclass(frozen=True, slots=True)
class _Verdicts:
    """Verdicts of pairs in a row, as columns: a code per pair (an index into ``tags``, the
    ``(accepted, kind)`` seen) and the three scores per pair as float64. A worker sends a
    unit's verdicts back as two buffers: as objects they cost more to unpickle in the main
    process than the worker spent building them, and a garbage collector's pass over each."""

    tags: tuple[tuple[bool, str], ...]
    codes: bytes
    packed: bytes
    """(jaccard, containment, align) per pair, float64."""

    @classmethod
    def of(cls, verdicts: Sequence[Verdict]) -> _Verdicts:
        index: dict[tuple[bool, str], int] = {}
        codes = bytearray()
        scores = array("d")
        for v in verdicts:
            codes.append(_tag_code(index, (v.accepted, v.kind)))
            scores.extend((v.jaccard, v.containment, v.align))
        return cls(tuple(index), bytes(codes), scores.tobytes())

    def scores(self) -> list[float]:
        """(jaccard, containment, align) of every pair, one after the other."""
        scores: list[float] = memoryview(self.packed).cast("d").tolist()  # type: ignore[assignment]
        return scores

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, row: int) -> Verdict:
        accepted, kind = self.tags[self.codes[row]]
        jaccard, containment, align = memoryview(self.packed).cast("d")[3 * row : 3 * row + 3].tolist()
        return Verdict(accepted, kind, jaccard, containment, align)


@dataclass(slots=True)
class _Relation:
    """The hub relation of postponed items (:meth:`Deduplicator._hub_relation`): per hub row
    its item, candidate (slots of ``ids``) and place in the item's hub list (0: its
    lowest-ranked candidate); the items ``later`` (slots ``later_slots``) are those to verify."""

    ids: Sequence[Hashable]
    later: list[str]
    later_slots: np.ndarray
    place: np.ndarray
    item: np.ndarray
    cand: np.ndarray
    column: np.ndarray
    by_id: np.ndarray | None = None
    """:func:`newsdedup._hubs.id_order` of ``ids``, found by the first :meth:`todo`."""

    def pairs(self, rows: np.ndarray | None = None, without: np.ndarray | None = None) -> np.ndarray:
        """The pairs of the hub rows ``rows`` (a mask; default all) whose later side is one of
        ``later``, each once as ``later slot << 32 | earlier slot``, sorted, except those in
        ``without`` (such keys, sorted)."""
        a, b = (self.item, self.cand) if rows is None else (self.item[rows], self.cand[rows])
        pairs = sorted_unique((np.maximum(a, b) << np.int64(32)) | np.minimum(a, b), in_place=True)
        wanted = np.zeros(len(self.ids), dtype=bool)
        wanted[self.later_slots] = True
        pairs = pairs[wanted[pairs >> np.int64(32)]]
        if without is not None and len(without) and len(pairs):
            pairs = pairs[~in_sorted(pairs, without)]
        return pairs

    def todo(
        self, pairs: np.ndarray, *, only_paired: bool = False
    ) -> tuple[list[tuple[str, list[str]]], list[int], list[int]]:
        """Per item of ``later`` (``only_paired``: those with a pair here) the earlier sides of
        its ``pairs`` (:meth:`pairs`), and for the units (:func:`_units`) its group's label and
        its anchor."""
        hi, lo = pairs >> np.int64(32), pairs & np.int64(0xFFFFFFFF)
        later, slots = self.later, self.later_slots
        if only_paired:
            paired = np.zeros(len(self.ids), dtype=bool)
            paired[hi] = True
            keep = paired[slots]
            later = [key for key, k in zip(later, keep.tolist(), strict=True) if k]
            slots = slots[keep]
        # per item a label of its connected group of pairs: found on the pair arrays, where a
        # union-find over the lists took about 1 s per 200k items
        labels = _component_labels(len(self.ids), hi, lo)[slots].tolist()
        anchors = unit_anchors(self.place, hi, lo)[slots].tolist()
        if self.by_id is None:
            self.by_id = id_order(self.ids)
        return _pair_lists(self.ids, later, slots, hi, lo, self.by_id), labels, anchors


@dataclass(slots=True)
class _Verification:
    """A planned batch whose verdicts are being computed (see :meth:`Deduplicator._flush`)."""

    plans: list[tuple[int, str, Doc | None, list[str]]]
    """(slot in ``out``, article, doc -- None: too short --, the keys it is verified against)."""
    out: list[Decision | None]
    verdicts: list[list[Verdict]]
    local: list[tuple[list[Verdict], int, Doc, Doc | _Stored]]
    shipped: list[tuple[list[Any], Any]]


@dataclass(frozen=True, slots=True)
class _Stored:
    """A pair's older side by its stored text: its doc had left this process's cache."""

    key: str
    text: str


_MIN_SHIPPED = 8
"""Fewest pairs per process before a batch's verification is shared with the workers."""
_LOCAL_SHARE_STEP = 0.05
_MAX_LOCAL_SHARE = 0.5
"""How fast, and up to where, the main process takes a share of a deferred batch's pairs."""

_UNDECIDED = Verdict(False, "undecided", 0.0, 0.0)
"""Placeholder for a verdict a worker is computing."""


def _unit_keys(unit: list[tuple[str, list[str]]]) -> list[str]:
    """Every item a unit's pairs name, once, in order."""
    return list(dict.fromkeys(k for key, others in unit for k in (key, *others)))


_UNIT_PAIRS = (2048, 8192)
"""The fewest and most pairs of a verification unit (:func:`_unit_size`)."""


def _unit_size(pairs: int, processes: int) -> int:
    """Pairs per verification unit: as many as leave each of the ``processes`` about 16 units
    (so the last units still spread over every process), between 2,048 and 8,192. A bigger
    unit holds more of a big story and of its look-alikes, so fewer docs are rebuilt in two
    units: on the 1M run's pairs (*ad hoc* replay), 1.48 docs per item with 2,048 pairs a
    unit and 1.21 with 8,192 (the cut by :func:`newsdedup._hubs.unit_anchors`). A unit of
    8,192 pairs holds about 1,100 items' docs, some 10 MB."""
    low, high = _UNIT_PAIRS
    return min(high, max(low, pairs // (16 * max(1, processes))))


def _units(
    todo: list[tuple[str, list[str]]], size: int, labels: Sequence[Hashable], anchors: Sequence[int]
) -> list[list[tuple[str, list[str]]]]:
    """Postponed items in units of about ``size`` pairs that share their docs: the connected
    groups of the pairs (``labels``: per item a label of its group, from
    :func:`_component_labels` over the pair arrays), by first arrival, packed together while
    they fit, and cut when one holds more than ``size`` pairs. Every item is in one unit.

    A group that must be cut (a big story; look-alike stories joined by candidate pairs,
    46,844 items in one group of a 200k run) is cut in the order of each item's anchor
    (``anchors``: the lowest rank among it and its pairs' other sides -- mostly its story's
    first hub), then of arrival: a story's items land in the same units, and a hub's doc is
    rebuilt for few units instead of for every unit that has one of its copies (at 200k
    items, 1.3 docs rebuilt per item instead of 2.5)."""
    groups: dict[Hashable, list[int]] = {}
    for at, label in enumerate(labels):
        groups.setdefault(label, []).append(at)
    if len(labels) != len(todo) or len(anchors) != len(todo):
        raise ValueError("one label and one anchor per item")
    units: list[list[tuple[str, list[str]]]] = []
    unit: list[tuple[str, list[str]]] = []
    pairs = 0
    for places in groups.values():  # in order of first arrival
        group = [todo[at] for at in places]
        count = sum(len(others) for _, others in group)
        if count > size:
            group = [todo[at] for at in sorted(places, key=anchors.__getitem__)]
        if unit and pairs + count > size:
            units.append(unit)  # a group is cut only when it alone is bigger than a unit
            unit, pairs = [], 0
        for item in group:
            unit.append(item)
            pairs += len(item[1])
            if pairs >= size:
                units.append(unit)
                unit, pairs = [], 0
    if unit:
        units.append(unit)
    return units


def _parts(groups: list[list[str]], most: int, members: int) -> Iterator[list[list[str]]]:
    """``groups`` in order, at most ``most`` groups and about ``members`` members a part (at
    least one group: a bigger group is a part alone)."""
    start = 0
    while start < len(groups):
        end, count = start + 1, len(groups[start])
        while end < len(groups) and end - start < most and count < members:
            count += len(groups[end])
            end += 1
        yield groups[start:end]
        start = end


def _split(items: list[Any], parts: int) -> list[list[Any]]:
    """``items`` in ``parts`` contiguous shares of (nearly) equal size."""
    size, extra = divmod(len(items), parts)
    out, at = [], 0
    for i in range(parts):
        end = at + size + (1 if i < extra else 0)
        out.append(items[at:end])
        at = end
    return out


_FUTURE_SLACK = 86_400.0
"""How far ahead of its ingest time an item's ``published`` may be (time zones, clock skew)
and still move the window's high-water mark."""


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of ``size``. When the source raises (a cut gzip in
    :func:`newsdedup.read_records`), the items read before it still come out as a last batch,
    then the error: :meth:`Deduplicator.add_stream` promises that what was read is kept."""
    batch: list[Any] = []
    try:
        for item in items:
            batch.append(item)
            if len(batch) >= size:
                yield batch
                batch = []
    except Exception:
        if batch:
            yield batch
        raise
    if batch:
        yield batch


def _shared_bucket_pairs(keys: np.ndarray) -> list[tuple[int, int]]:
    """(later row, earlier row) for every two rows of ``keys`` that share a value anywhere
    (values are made unique per band by the caller), each pair once."""
    m, b = keys.shape
    if m < 2:
        return []
    flat = keys.ravel()
    order = np.argsort(flat, kind="stable")  # ties keep row order
    sk = flat[order]
    row = order // b
    new = np.empty(len(sk), dtype=bool)
    new[0] = True
    np.not_equal(sk[1:], sk[:-1], out=new[1:])
    start = np.flatnonzero(new)
    group_start = np.repeat(start, np.diff(np.append(start, len(sk))))
    before = np.arange(len(sk)) - group_start  # earlier members of the same bucket
    if not before.any():
        return []
    later_pos = np.repeat(np.arange(len(sk)), before)
    earlier_pos = np.repeat(group_start, before) + (
        np.arange(int(before.sum())) - np.repeat(np.cumsum(before) - before, before)
    )
    later, earlier = row[later_pos], row[earlier_pos]
    keep = later != earlier
    pairs = sorted_unique(later[keep] * m + earlier[keep], in_place=True)
    return list(zip((pairs // m).tolist(), (pairs % m).tolist(), strict=True))


_KNOWN_SENT = 8  # how many of an item's lowest places go out with a part of the hub relation
"""The highest rank (a uint64): :data:`_NO_RANK` in a uint64 array."""


def _text_hash(text: str) -> str:
    return xxhash.xxh3_64_hexdigest(text.encode("utf-8"))


def dedup(
    items: Iterable[Item],
    *,
    errors: list[ErrorRecord] | None = None,
    stories: bool = True,
    story_window: str | float | timedelta | None = "72h",
    **settings: Any,
) -> list[Cluster]:
    """One call: items in, clusters out. Unusable items are skipped (and appended to ``errors``
    when a list is given); ``settings`` are :class:`DedupConfig` fields. With ``stories`` (the
    default, as in the CLI) every cluster gets ``extra["story_id"]``: clusters reporting the same
    event within ``story_window`` (None: no limit) share it."""
    config = settings.pop("config", None)
    threshold = settings.pop("threshold", None)
    deduper = Deduplicator(threshold, config=config, **settings)
    deduper.add_many(items, first_line=1)
    if errors is not None:
        errors.extend(deduper.errors)
    clusters = deduper.clusters()
    if not stories:
        return clusters
    from ._story import assign_stories

    return assign_stories(clusters, window=story_window)
