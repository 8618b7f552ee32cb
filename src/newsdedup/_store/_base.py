"""What every state store persists, and the two small interfaces the deduplicator talks to.

A store is the durable copy of a :class:`~newsdedup.Deduplicator`'s matching state. The
deduplicator keeps a working replica in memory (item metadata, verified edges, the LSH index)
and talks to the store only in *transactions*: each batch of items is matched and written
inside one :meth:`Store.transaction`, which first replays what other processes committed since
this process last looked (:meth:`Transaction.changes`). That makes several writers on one
store behave as if their batches had run one after the other.

Everything is written in plain encodings (JSON text, little-endian uint64 arrays); nothing
read back is ever unpickled.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .._exceptions import ConfigError, StoreCorrupt, StoreNotEmpty
from .._models import Article, CacheEntry

if TYPE_CHECKING:
    from .._boilerplate import BoilerplateLearner

__all__ = [
    "Binding",
    "Chunk",
    "ClusterRow",
    "EdgeRow",
    "ItemRow",
    "Store",
    "StoredCluster",
    "StoredItem",
    "StoredLearner",
    "Transaction",
    "decode_article",
    "decode_u32",
    "decode_u64",
    "encode_article",
    "encode_u32",
    "encode_u64",
    "stored_time",
]

SCHEMA_VERSION = 2
"""Current schema of both backends (SQLite ``PRAGMA user_version``, Redis ``meta.schema``)."""


@dataclass(frozen=True, slots=True)
class ItemRow:
    """One stored item: everything matching needs without its text, plus the article itself.

    ``bands`` holds the item's LSH bucket keys (whole-text bands, then lead bands) while it is
    inside the time window; it is None for too-short items and once the item has expired.
    """

    id: str
    seq: int
    """Commit order, assigned by the store (0 until written)."""
    time: float
    """Epoch seconds the window is measured on: ``published``, else the ingest time."""
    ingested: float
    n_shingles: int
    """0 for too-short items (never matched)."""
    text_hash: str
    site: str | None
    paras: bytes
    """uint64 hashes of the article's paragraphs (site boilerplate detection)."""
    bands: bytes | None
    article: Article | None = None
    """Filled when written; None when only metadata was read."""


@dataclass(frozen=True, slots=True)
class EdgeRow:
    """A verified pair (``a < b``) with the verdict's scores."""

    a: str
    b: str
    kind: str
    jaccard: float
    containment: float
    align: float
    seq: int = 0


@dataclass(frozen=True, slots=True)
class ClusterRow:
    """A cluster as last emitted: its members and its canonical choice."""

    cluster_id: str
    canonical_id: str
    canonical_reason: str
    member_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UpdateRow:
    """The same id seen again with a different text: recorded, the stored text is kept."""

    id: str
    text_hash: str
    seen_at: float


# -- a whole store as plain rows (copying a store: newsdedup.copy_store) ------------------------


@dataclass(frozen=True, slots=True)
class Binding:
    """The dedup configuration a store is tied to (:meth:`Store.bind`), read without binding."""

    name: str | None
    """The deduplicator's name as an SQLite store records it; None for Redis, whose keyspace is
    named by its URL and which does not record the deduplicator's name."""
    fingerprint: str
    config: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredItem:
    """An item row as stored, with what :class:`ItemRow` leaves out for matching: the article in
    its stored encoding (:func:`encode_article`, the same in both backends, so a copy keeps the
    bytes), whether it is pending, and the cluster it was last emitted in."""

    row: ItemRow
    article: bytes
    pending: bool
    cluster_id: str | None


@dataclass(frozen=True, slots=True)
class StoredCluster:
    """A cluster as last emitted, with the time it was."""

    row: ClusterRow
    emitted_at: float


@dataclass(frozen=True, slots=True)
class StoredLearner:
    """Saved boilerplate (``BoilerplateLearner.to_dict()`` as JSON text) under its name."""

    name: str
    state: str
    updated: float | None
    """None where the backend keeps no time (Redis); the copy's time is then used."""


@dataclass(slots=True)
class Chunk:
    """A bounded slice of everything a store holds. :meth:`Transaction.dump` yields them in
    commit order (all items, then all edges, then the rest) and :meth:`Transaction.load` writes
    them as they are, so a copy is streamed and never held whole in memory."""

    high_water: float | None = None
    items: list[StoredItem] = field(default_factory=list)
    edges: list[EdgeRow] = field(default_factory=list)
    updates: list[UpdateRow] = field(default_factory=list)
    clusters: list[StoredCluster] = field(default_factory=list)
    seen_urls: list[tuple[str, float | None]] = field(default_factory=list)
    """URL and the time it was first seen (None where the backend keeps no time: Redis)."""
    fetch_cache: list[CacheEntry] = field(default_factory=list)
    learners: list[StoredLearner] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """What this chunk holds, under the keys of :meth:`Store.counts`."""
        return {
            "items": len(self.items),
            "indexed": sum(1 for i in self.items if i.row.bands is not None),
            "pending": sum(1 for i in self.items if i.pending),
            "edges": len(self.edges),
            "clusters": len(self.clusters),
            "updates": len(self.updates),
            "fetch_cache": len(self.fetch_cache),
            "seen_urls": len(self.seen_urls),
            "learners": len(self.learners),
        }


COPY_BATCH = 2000
"""Rows per :class:`Chunk` (items, edges, ...): a few MB of typical articles."""
COPY_BATCH_BYTES = 32 * 1024 * 1024
"""Fetch-cache bodies per :class:`Chunk` (one body may be up to 16 MiB)."""


def chunked(
    kind: str,
    rows: Iterable[Any],
    batch: int,
    *,
    size: Callable[[Any], int] | None = None,
    between: Callable[[], None] | None = None,
) -> Iterator[Chunk]:
    """``rows`` of one kind (a :class:`Chunk` field) as chunks of at most ``batch`` rows, and of
    about :data:`COPY_BATCH_BYTES` when ``size`` gives each row's bytes (fetch-cache bodies).
    ``between`` runs after each chunk but the last (a Redis copy renews its lock there)."""
    held: list[Any] = []
    total = 0
    for row in rows:
        held.append(row)
        if size is not None:
            total += size(row)
        if len(held) >= batch or total >= COPY_BATCH_BYTES:
            yield _chunk_of(kind, held)
            held, total = [], 0
            if between is not None:
                between()
    if held:
        yield _chunk_of(kind, held)


_REFUSED = "copy into a new or empty store, or replace it (--replace, replace=True)"


def target_holds(where: str, held: Mapping[str, int]) -> StoreNotEmpty:
    """The refusal of a copy's target that holds rows already (``held``: kind -> count), in
    the same words for every backend."""
    what = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in held.items())
    return StoreNotEmpty(f"{where}: the target already holds state ({what}); {_REFUSED}")


def target_bound_elsewhere(where: str, stored: str, source: str) -> StoreNotEmpty:
    """The refusal of a copy's target bound to another configuration (fingerprint ``stored``)."""
    return StoreNotEmpty(
        f"{where}: the target is bound to a different dedup configuration (fingerprint {stored},"
        f" the source's {source}); {_REFUSED}"
    )


def _chunk_of(kind: str, rows: list[Any]) -> Chunk:
    chunk = Chunk()
    getattr(chunk, kind).extend(rows)  # an unknown kind is an AttributeError, not a lost list
    return chunk


class Transaction(Protocol):
    """One atomic unit of work; everything written through it commits together or not at all."""

    def changes(self, item_seq: int, edge_seq: int) -> tuple[list[ItemRow], list[EdgeRow]]:
        """Items and edges committed with a sequence number above the given ones (no text)."""
        ...

    def high_water(self) -> float:
        """Latest item time committed so far (0.0 for an empty store)."""
        ...

    def write(
        self,
        items: list[ItemRow],
        edges: list[EdgeRow],
        updates: list[UpdateRow],
        *,
        high_water: float,
        expire_before: float | None,
    ) -> tuple[list[int], list[int]]:
        """Store a batch; return the sequence numbers given to the items and to the edges."""
        ...

    def pending_ids(self) -> set[str]:
        """Ids of items not yet emitted in any output."""
        ...

    def mark_emitted(self, clusters: list[ClusterRow]) -> None:
        """Record the clusters as emitted: their items stop being pending."""
        ...

    def dump(self, batch: int = COPY_BATCH) -> Iterator[Chunk]:
        """Everything the store holds, as chunks of at most ``batch`` rows, items and edges in
        commit order. Read in a :meth:`Store.snapshot` to copy the store
        (:func:`newsdedup.copy_store`): the other read methods leave out texts, pending flags,
        emit times, the fetch cache, seen URLs and learners, or return everything at once."""
        ...

    def load(self, chunk: Chunk) -> None:
        """Write a chunk of another store's :meth:`dump` as it is (order, pending flags, cluster
        ids, times), which :meth:`write` and :meth:`mark_emitted` cannot: they number, flag and
        stamp rows as new. Only inside :meth:`Store.restore`."""
        ...


class Store(Protocol):
    """A durable home for dedup state (see :func:`newsdedup.open_store`)."""

    url: str

    def bind(self, name: str, fingerprint: str, config: Mapping[str, Any]) -> None:
        """Tie the store to one dedup configuration; refuse a different fingerprint."""
        ...

    def stored_config(self) -> dict[str, Any] | None: ...

    def binding(self) -> Binding | None:
        """What the store is bound to, None when it is not (a copy binds its source to it)."""
        ...

    def restore(self, binding: Binding, *, replace: bool = False) -> AbstractContextManager[Transaction]:
        """A write session that fills this store from a copy (:meth:`Transaction.load`), bound
        to ``binding``. A store that holds anything or is bound to another configuration is
        refused with :class:`~newsdedup.StoreNotEmpty`; ``replace`` empties it first."""
        ...

    def transaction(self) -> AbstractContextManager[Transaction]: ...

    def snapshot(self) -> AbstractContextManager[Transaction]:
        """A consistent view to read (only the read methods of the transaction are called);
        it need not block writers. A store without one of its own uses :meth:`transaction`."""
        ...

    def get_articles(self, ids: Iterable[str]) -> dict[str, Article]: ...

    def iter_item_ids(self) -> Iterator[str]: ...

    def stored_clusters(self) -> list[ClusterRow]: ...

    def fetch_cache(self) -> Any: ...

    def is_seen(self, url: str) -> bool: ...

    def unseen(self, urls: Iterable[str]) -> list[str]: ...

    def mark_seen(self, urls: Iterable[str]) -> int: ...

    def load_learner(self, name: str = "default") -> BoilerplateLearner | None: ...

    def save_learner(self, learner: BoilerplateLearner, name: str = "default") -> None: ...

    def counts(self) -> dict[str, int]: ...

    def close(self) -> None: ...


# -- plain encodings ---------------------------------------------------------------------------


def encode_u64(values: Iterable[int] | np.ndarray) -> bytes:
    return np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype="<u8").tobytes()


def decode_u64(data: bytes | None) -> np.ndarray:
    if not data:
        return np.empty(0, dtype=np.uint64)
    if len(data) % 8:
        raise StoreCorrupt(f"stored uint64 array has {len(data)} bytes, not a multiple of 8")
    return np.frombuffer(data, dtype="<u8").astype(np.uint64)


def encode_u32(values: Iterable[int]) -> bytes:
    """LSH bucket keys (32-bit) as little-endian bytes."""
    return np.asarray(list(values), dtype="<u4").tobytes()


def decode_u32(data: bytes | None) -> list[int]:
    if not data:
        return []
    if len(data) % 4:
        raise StoreCorrupt(f"stored bucket keys have {len(data)} bytes, not a multiple of 4")
    return np.frombuffer(data, dtype="<u4").tolist()


def encode_article(article: Article) -> bytes:
    """zlib-compressed JSON of :meth:`Article.to_dict` (level 1: fast, about half the size)."""
    raw = json.dumps(article.to_dict(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return zlib.compress(raw, 1)


def decode_article(data: bytes) -> Article:
    try:
        return Article.from_dict(json.loads(zlib.decompress(data)))
    except (zlib.error, ValueError, TypeError, AttributeError) as exc:
        raise StoreCorrupt(f"stored article cannot be decoded: {exc}") from exc


def check_item(item: StoredItem, where: str) -> StoredItem:
    """A copy refuses a damaged item (:class:`StoreCorrupt` naming it) instead of carrying it
    into the target, where it would only fail later: the article must decode, the bucket keys
    and paragraph hashes must be whole numbers."""
    row = item.row
    if row.bands is not None and len(row.bands) % 4:
        raise StoreCorrupt(f"{where}: item {row.id!r}: stored bucket keys have {len(row.bands)} bytes")
    if len(row.paras) % 8:
        raise StoreCorrupt(f"{where}: item {row.id!r}: stored paragraph hashes have {len(row.paras)} bytes")
    try:
        decode_article(item.article)
    except StoreCorrupt as exc:
        raise StoreCorrupt(f"{where}: item {row.id!r}: {exc}") from exc
    return item


def check_learner(learner: StoredLearner, where: str) -> StoredLearner:
    """Saved boilerplate that does not load is refused by a copy, as :func:`check_item`."""
    from .._boilerplate import BoilerplateLearner

    with damaged(f"{where}: learned boilerplate {learner.name!r}"):  # ConfigError is a ValueError
        BoilerplateLearner.from_dict(json.loads(learner.state))
    return learner


def fetch_cache_bytes(value: object) -> int:
    """A store's ``fetch_cache_max_bytes``, checked (0 keeps no body; a negative one did the
    same silently)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"store.fetch_cache_max_bytes must be an int >= 0 (0: no body kept), got {value!r}")
    return value


@contextmanager
def damaged(what: str) -> Iterator[None]:
    """Turn a stored value that does not convert (text where a number belongs, bytes that are
    not UTF-8, a field missing from a record) into :class:`StoreCorrupt` naming ``what``,
    instead of a traceback."""
    try:
        yield
    except (ValueError, TypeError, AttributeError, KeyError, UnicodeDecodeError, OverflowError) as exc:
        raise StoreCorrupt(f"{what} is damaged: {type(exc).__name__}: {exc}") from exc


def stored_time(value: str | bytes | None) -> float:
    """A stored high-water mark (0 when none): a finite number, else ValueError (under
    :func:`damaged`, ``StoreCorrupt``): an infinite one expired every item on the next run."""
    if not value:
        return 0.0
    t = float(value)
    if not math.isfinite(t):
        raise ValueError(f"not a finite time: {value!r}")
    return t


def edge_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def now() -> float:
    return time.time()


def backoff(timeout: float, first: float, cap: float) -> Iterator[bool]:
    """Attempts at something another process holds, for up to ``timeout`` seconds: yields
    before each attempt whether a later one may follow (False: the last, so fail on it), and
    sleeps between attempts, ``first`` seconds and then twice as long each time, at most
    ``cap``. Both stores wait for each other's locks this way."""
    deadline = time.monotonic() + timeout
    pause = first
    while True:
        more = time.monotonic() < deadline
        yield more
        if not more:
            return
        time.sleep(pause)
        pause = min(pause * 2, cap)
