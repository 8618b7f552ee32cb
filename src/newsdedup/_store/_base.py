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
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .._exceptions import ConfigError, StoreCorrupt
from .._models import Article

if TYPE_CHECKING:
    from .._boilerplate import BoilerplateLearner

__all__ = [
    "ClusterRow",
    "EdgeRow",
    "ItemRow",
    "Store",
    "Transaction",
    "decode_article",
    "decode_u32",
    "decode_u64",
    "encode_article",
    "encode_u32",
    "encode_u64",
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


class Store(Protocol):
    """A durable home for dedup state (see :func:`newsdedup.open_store`)."""

    url: str

    def bind(self, name: str, fingerprint: str, config: Mapping[str, Any]) -> None:
        """Tie the store to one dedup configuration; refuse a different fingerprint."""
        ...

    def stored_config(self) -> dict[str, Any] | None: ...

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


def fetch_cache_bytes(value: object) -> int:
    """A store's ``fetch_cache_max_bytes``, checked (0 keeps no body; a negative one did the
    same silently)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"store.fetch_cache_max_bytes must be an int >= 0 (0: no body kept), got {value!r}")
    return value


@contextmanager
def damaged(what: str) -> Iterator[None]:
    """Turn a stored value that does not convert (text where a number belongs, bytes that are
    not UTF-8) into :class:`StoreCorrupt` naming ``what``, instead of a traceback."""
    try:
        yield
    except (ValueError, TypeError, AttributeError, UnicodeDecodeError, OverflowError) as exc:
        raise StoreCorrupt(f"{what} is damaged: {type(exc).__name__}: {exc}") from exc


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
