"""The embedded store: one SQLite file in WAL mode.

Why SQLite: a pipeline that runs every few minutes for months needs state that survives being
killed, that one file holds, and that needs no server. WAL mode lets readers (``newsdedup
export``) run while a writer works; each batch is one ``BEGIN IMMEDIATE`` transaction, so a
``SIGKILL`` loses at most the batch in flight and never leaves half of one behind.

The file is checked before anything is written to it: a non-SQLite file, a SQLite database of
another application (``PRAGMA application_id``) or one written by a newer schema
(``PRAGMA user_version``) is refused with :class:`StoreCorrupt` / :class:`StoreSchemaError`
and left byte-for-byte unchanged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._exceptions import (
    ConfigError,
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreSchemaError,
    finite_number,
)
from .._models import Article, CacheEntry, worth_caching
from ._base import (
    COPY_BATCH,
    SCHEMA_VERSION,
    Binding,
    Chunk,
    ClusterRow,
    EdgeRow,
    ItemRow,
    StoredCluster,
    StoredItem,
    StoredLearner,
    UpdateRow,
    backoff,
    check_item,
    check_learner,
    chunked,
    damaged,
    decode_article,
    encode_article,
    fetch_cache_bytes,
    now,
    stored_time,
    target_bound_elsewhere,
    target_holds,
)

if TYPE_CHECKING:
    from .._boilerplate import BoilerplateLearner

__all__ = ["SQLiteStore"]

logger = logging.getLogger("newsdedup")

APPLICATION_ID = 0x4E444450  # "NDDP": marks the file as a newsdedup store
_HEADER = b"SQLite format 3\x00"
_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")

# Schema migrations: version -> statements that take a store from version - 1 to version.
# Every version ever released stays here; a new version only appends.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
        """CREATE TABLE items (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            time REAL NOT NULL,
            ingested REAL NOT NULL,
            n_shingles INTEGER NOT NULL,
            text_hash TEXT NOT NULL,
            site TEXT,
            paras BLOB,
            bands BLOB,
            article BLOB NOT NULL,
            pending INTEGER NOT NULL DEFAULT 1,
            cluster_id TEXT
        )""",
        "CREATE INDEX items_pending ON items(seq) WHERE pending = 1",
        "CREATE INDEX items_indexed_time ON items(time) WHERE bands IS NOT NULL",
        """CREATE TABLE edges (
            seq INTEGER PRIMARY KEY,
            a TEXT NOT NULL,
            b TEXT NOT NULL,
            kind TEXT NOT NULL,
            jaccard REAL NOT NULL,
            containment REAL NOT NULL,
            align REAL NOT NULL,
            UNIQUE (a, b)
        )""",
        """CREATE TABLE clusters (
            cluster_id TEXT PRIMARY KEY,
            canonical_id TEXT NOT NULL,
            canonical_reason TEXT NOT NULL,
            member_ids TEXT NOT NULL,
            emitted_at REAL NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TABLE fetch_cache (
            url TEXT PRIMARY KEY,
            final_url TEXT NOT NULL,
            etag TEXT,
            last_modified TEXT,
            body BLOB NOT NULL,
            content_type TEXT NOT NULL,
            headers TEXT NOT NULL,
            stored_at REAL NOT NULL
        )""",
        "CREATE TABLE seen_urls (url TEXT PRIMARY KEY, first_seen REAL NOT NULL) WITHOUT ROWID",
        "CREATE TABLE learners (name TEXT PRIMARY KEY, state TEXT NOT NULL, updated REAL NOT NULL) WITHOUT ROWID",
    ),
    2: (
        """CREATE TABLE updates (
            id TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            seen_at REAL NOT NULL,
            PRIMARY KEY (id, text_hash)
        ) WITHOUT ROWID""",
    ),
}
assert max(_MIGRATIONS) == SCHEMA_VERSION

_DATA_TABLES = ("items", "edges", "clusters", "updates", "fetch_cache", "seen_urls", "learners")
"""Tables a copy's target must not hold rows in (``meta`` holds only the binding then)."""


@contextlib.contextmanager
def _errors(path: str, doing: str) -> Iterator[None]:
    """sqlite3 errors -> the StoreError family, keeping the original as ``__cause__``."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            raise StoreBusy(f"{path}: another process holds the store ({doing}): {exc}") from exc
        if "malformed" in text or "not a database" in text:
            raise StoreCorrupt(f"{path}: damaged store ({doing}): {exc}") from exc
        if "unable to open" in text or "readonly" in text or "read-only" in text:
            raise StoreError(
                f"{path}: {doing} failed: {exc} (SQLite must write the store and its -wal and -shm files"
                " beside it: is the file, its folder or the file system read-only?)"
            ) from exc
        raise StoreError(f"{path}: {doing} failed: {exc}") from exc
    except sqlite3.ProgrammingError as exc:
        # A DatabaseError too, but about how the connection is used (closed, bad bindings), never
        # about the file: reported as damage, it invited deleting a healthy store.
        if "closed" in str(exc).lower():
            raise StoreError(f"{path}: the store is closed ({doing}); open it again to use it") from exc
        raise StoreError(f"{path}: {doing} failed: {exc}") from exc
    except sqlite3.DatabaseError as exc:  # includes "file is not a database", "malformed"
        raise StoreCorrupt(f"{path}: not a usable newsdedup store ({doing}): {exc}") from exc
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: {doing} failed: {exc}") from exc


def _rollback(db: sqlite3.Connection) -> None:
    """Roll back a failed write, keeping the error that made it fail: on a full disk or an I/O
    error SQLite may have rolled the transaction back itself, and ROLLBACK then raises "cannot
    rollback - no transaction is active", which replaced "database or disk is full"."""
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def _item_row(r: Sequence[Any]) -> ItemRow:
    """An item row as read (``seq, id, time, ingested, n_shingles, text_hash, site, paras,
    bands``, then any other columns), each value converted to its type: SQLite keeps any type
    in any column, so a damaged value fails here, inside :func:`damaged`, and not later."""
    return ItemRow(
        id=str(r[1]), seq=int(r[0]), time=float(r[2]), ingested=float(r[3]), n_shingles=int(r[4]),
        text_hash=str(r[5]), site=None if r[6] is None else str(r[6]), paras=bytes(r[7] or b""),
        bands=None if r[8] is None else bytes(r[8]),
    )  # fmt: skip


_EDGE_COLS = "seq, a, b, kind, jaccard, containment, align"


def _edge_row(r: Sequence[Any]) -> EdgeRow:
    """An edge row as read (:data:`_EDGE_COLS`), converted as :func:`_item_row` does."""
    return EdgeRow(str(r[1]), str(r[2]), str(r[3]), float(r[4]), float(r[5]), float(r[6]), seq=int(r[0]))


class _Txn:
    """A write transaction on the store's connection (see :class:`~._base.Transaction`)."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self._db = store._db

    def changes(self, item_seq: int, edge_seq: int) -> tuple[list[ItemRow], list[EdgeRow]]:
        with _errors(self._store.url, "reading changes"):
            rows = self._db.execute(
                "SELECT seq, id, time, ingested, n_shingles, text_hash, site, paras, bands "
                "FROM items WHERE seq > ? ORDER BY seq",
                (item_seq,),
            )  # read as converted: a large store's rows are not held twice
            with damaged(f"{self._store.url}: a stored item row"):  # SQLite keeps any type anywhere
                items = [_item_row(r) for r in rows]
            rows = self._db.execute(f"SELECT {_EDGE_COLS} FROM edges WHERE seq > ? ORDER BY seq", (edge_seq,))
            with damaged(f"{self._store.url}: a stored edge"):
                edges = [_edge_row(r) for r in rows]
        return items, edges

    def high_water(self) -> float:
        with _errors(self._store.url, "reading the high-water mark"):
            row = self._db.execute("SELECT value FROM meta WHERE key = 'high_water'").fetchone()
        with damaged(f"{self._store.url}: the stored high-water mark"):
            return stored_time(row[0] if row else None)

    def write(
        self,
        items: list[ItemRow],
        edges: list[EdgeRow],
        updates: list[UpdateRow],
        *,
        high_water: float,
        expire_before: float | None,
    ) -> tuple[list[int], list[int]]:
        db = self._db
        item_seqs: list[int] = []
        edge_seqs: list[int] = []
        with _errors(self._store.url, "writing a batch"):
            for it in items:
                assert it.article is not None
                cur = db.execute(
                    "INSERT INTO items (id, time, ingested, n_shingles, text_hash, site, paras, bands, article)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (it.id, it.time, it.ingested, it.n_shingles, it.text_hash, it.site, it.paras or None,
                     it.bands, encode_article(it.article)),
                )  # fmt: skip
                assert cur.lastrowid is not None
                item_seqs.append(cur.lastrowid)
            for e in edges:
                cur = db.execute(
                    "INSERT OR IGNORE INTO edges (a, b, kind, jaccard, containment, align) VALUES (?, ?, ?, ?, ?, ?)",
                    (e.a, e.b, e.kind, e.jaccard, e.containment, e.align),
                )
                edge_seqs.append(cur.lastrowid or 0)
            if updates:
                db.executemany(
                    "INSERT OR IGNORE INTO updates (id, text_hash, seen_at) VALUES (?, ?, ?)",
                    [(u.id, u.text_hash, u.seen_at) for u in updates],
                )
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('high_water', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (repr(float(high_water)),),
            )
            if expire_before is not None:
                # expired items leave the index for good: their bucket keys are dropped
                db.execute(
                    "UPDATE items SET bands = NULL WHERE bands IS NOT NULL AND time < ?", (expire_before,)
                )
        return item_seqs, edge_seqs

    def pending_ids(self) -> set[str]:
        with _errors(self._store.url, "reading pending items"):
            return {r[0] for r in self._db.execute("SELECT id FROM items WHERE pending = 1")}

    def mark_emitted(self, clusters: list[ClusterRow]) -> None:
        db = self._db
        stamp = now()
        owner = {m: c.cluster_id for c in clusters for m in c.member_ids}
        with _errors(self._store.url, "recording emitted clusters"):
            members = list(owner)
            stale: set[str] = set()
            for start in range(0, len(members), 500):
                chunk = members[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for mid, old in db.execute(
                    f"SELECT id, cluster_id FROM items WHERE id IN ({marks}) AND cluster_id IS NOT NULL",
                    chunk,
                ):
                    if old != owner[mid]:
                        stale.add(old)  # the member moved: its old cluster is superseded
            stale -= {c.cluster_id for c in clusters}
            db.executemany("DELETE FROM clusters WHERE cluster_id = ?", [(x,) for x in sorted(stale)])
            db.executemany(
                "INSERT INTO clusters (cluster_id, canonical_id, canonical_reason, member_ids, emitted_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(cluster_id) DO UPDATE SET"
                " canonical_id = excluded.canonical_id, canonical_reason = excluded.canonical_reason,"
                " member_ids = excluded.member_ids, emitted_at = excluded.emitted_at",
                [(c.cluster_id, c.canonical_id, c.canonical_reason, json.dumps(list(c.member_ids)), stamp)
                 for c in clusters],
            )  # fmt: skip
            db.executemany(
                "UPDATE items SET pending = 0, cluster_id = ? WHERE id = ?",
                [(c, m) for m, c in owner.items()],
            )

    # -- copying a store ----------------------------------------------------------------------

    def _paged(self, columns: str, table: str, key: int, batch: int) -> Iterator[list[Any]]:
        """The rows of ``table`` in the order of its first ``key`` columns (its primary key),
        ``batch`` at a time: each page is its own query, so no cursor stays open while the
        caller writes elsewhere, and all pages see the same snapshot."""
        cols = [c.strip() for c in columns.split(",")]
        order = ", ".join(cols[:key])
        after: tuple[Any, ...] | None = None
        while True:
            with _errors(self._store.url, f"reading {table}"):
                if after is None:
                    rows = self._db.execute(
                        f"SELECT {columns} FROM {table} ORDER BY {order} LIMIT ?", (batch,)
                    )
                else:
                    marks = ", ".join("?" * key)
                    rows = self._db.execute(
                        f"SELECT {columns} FROM {table} WHERE ({order}) > ({marks}) ORDER BY {order} LIMIT ?",
                        (*after, batch),
                    )
                page = rows.fetchall()
            if not page:
                return
            yield page
            if len(page) < batch:
                return
            after = tuple(page[-1][:key])

    def dump(self, batch: int = COPY_BATCH) -> Iterator[Chunk]:
        url = self._store.url
        yield Chunk(high_water=self.high_water())
        item_cols = (
            "seq, id, time, ingested, n_shingles, text_hash, site, paras, bands, article, pending, cluster_id"
        )
        for page in self._paged(item_cols, "items", 1, batch):
            with damaged(f"{url}: a stored item row"):
                items = [
                    StoredItem(_item_row(r), article=bytes(r[9]), pending=bool(r[10]), cluster_id=r[11])
                    for r in page
                ]
            yield Chunk(items=[check_item(i, url) for i in items])
        for page in self._paged(_EDGE_COLS, "edges", 1, batch):
            with damaged(f"{url}: a stored edge"):
                edges = [_edge_row(r) for r in page]
            yield Chunk(edges=edges)
        for page in self._paged("id, text_hash, seen_at", "updates", 2, batch):
            with damaged(f"{url}: a stored update"):
                updates = [UpdateRow(str(r[0]), str(r[1]), float(r[2])) for r in page]
            yield Chunk(updates=updates)
        cluster_cols = "cluster_id, canonical_id, canonical_reason, member_ids, emitted_at"
        for page in self._paged(cluster_cols, "clusters", 1, batch):
            with damaged(f"{url}: a stored cluster"):
                clusters = [StoredCluster(ClusterRow(r[0], r[1], r[2], tuple(json.loads(r[3]))), float(r[4]))
                            for r in page]  # fmt: skip
            yield Chunk(clusters=clusters)
        for page in self._paged("url, first_seen", "seen_urls", 1, batch):
            with damaged(f"{url}: a seen URL"):
                seen: list[tuple[str, float | None]] = [(str(r[0]), float(r[1])) for r in page]
            yield Chunk(seen_urls=seen)

        def entries() -> Iterator[CacheEntry]:
            for page in self._paged(_FETCH_COLUMNS, "fetch_cache", 1, 16):  # bodies of up to 16 MiB each
                yield from [_fetch_entry(r, url) for r in page]

        yield from chunked("fetch_cache", entries(), batch, size=lambda e: len(e.body))
        for page in self._paged("name, state, updated", "learners", 1, batch):
            with damaged(f"{url}: saved boilerplate"):
                learners = [
                    check_learner(StoredLearner(str(r[0]), str(r[1]), float(r[2])), url) for r in page
                ]
            yield Chunk(learners=learners)

    def load(self, chunk: Chunk) -> None:
        db = self._db
        stamp = now()
        with _errors(self._store.url, "writing a copy"):
            if chunk.high_water is not None:
                db.execute(
                    "INSERT INTO meta (key, value) VALUES ('high_water', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (repr(float(chunk.high_water)),),
                )
            db.executemany(
                "INSERT INTO items (seq, id, time, ingested, n_shingles, text_hash, site, paras, bands, article,"
                " pending, cluster_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(i.row.seq, i.row.id, i.row.time, i.row.ingested, i.row.n_shingles, i.row.text_hash, i.row.site,
                  i.row.paras or None, i.row.bands, i.article, int(i.pending), i.cluster_id) for i in chunk.items],
            )  # fmt: skip
            db.executemany(
                "INSERT INTO edges (seq, a, b, kind, jaccard, containment, align) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(e.seq, e.a, e.b, e.kind, e.jaccard, e.containment, e.align) for e in chunk.edges],
            )
            # keyed rows: INSERT OR REPLACE, as Redis's SCAN may name one twice
            db.executemany(
                "INSERT OR REPLACE INTO updates (id, text_hash, seen_at) VALUES (?, ?, ?)",
                [(u.id, u.text_hash, u.seen_at) for u in chunk.updates],
            )
            db.executemany(
                "INSERT OR REPLACE INTO clusters (cluster_id, canonical_id, canonical_reason, member_ids, emitted_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(c.row.cluster_id, c.row.canonical_id, c.row.canonical_reason, json.dumps(list(c.row.member_ids)),
                  c.emitted_at) for c in chunk.clusters],
            )  # fmt: skip
            db.executemany(
                "INSERT OR REPLACE INTO seen_urls (url, first_seen) VALUES (?, ?)",
                [(u, stamp if t is None else t) for u, t in chunk.seen_urls],
            )
            db.executemany(_FETCH_INSERT, [_fetch_row(e) for e in chunk.fetch_cache])
            db.executemany(
                "INSERT OR REPLACE INTO learners (name, state, updated) VALUES (?, ?, ?)",
                [(x.name, x.state, stamp if x.updated is None else x.updated) for x in chunk.learners],
            )


_FETCH_COLUMNS = "url, final_url, etag, last_modified, body, content_type, headers, stored_at"
_FETCH_INSERT = f"INSERT OR REPLACE INTO fetch_cache ({_FETCH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


def _fetch_entry(row: Sequence[Any], where: str) -> CacheEntry:
    """A ``fetch_cache`` row (:data:`_FETCH_COLUMNS`) as an entry."""
    url = row[0]
    try:
        headers = json.loads(row[6])
    except ValueError as exc:
        raise StoreCorrupt(f"{where}: fetch cache headers for {url} are damaged") from exc
    with damaged(f"{where}: the fetch cache entry of {url}"):
        return CacheEntry.of(
            url, final_url=row[1], etag=row[2], last_modified=row[3], body=bytes(row[4]),
            content_type=row[5], headers=headers, stored_at=float(row[7]),
        )  # fmt: skip


def _fetch_row(entry: CacheEntry) -> tuple[Any, ...]:
    """An entry as the parameters of :data:`_FETCH_INSERT`."""
    return (entry.url, entry.final_url, entry.etag, entry.last_modified, entry.body, entry.content_type,
            json.dumps(dict(entry.headers)), entry.stored_at)  # fmt: skip


class _FetchCache:
    """The fetcher's ``FetchCache`` protocol on the store (conditional GET across runs)."""

    def __init__(self, store: SQLiteStore, *, max_bytes: int) -> None:
        self._store = store
        self._max_bytes = max_bytes
        # its own connection: a fetcher thread reads validators while a dedup batch holds the
        # store's connection (WAL readers never wait; a write waits for the batch to commit)
        self._lock = threading.Lock()
        with _errors(store.url, "opening the fetch cache"):
            self._db = sqlite3.connect(
                store.path, timeout=store._busy_timeout, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA synchronous = {store._sync}")

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._db.close()

    def get(self, url: str) -> CacheEntry | None:
        store = self._store
        with self._lock, _errors(store.url, "reading the fetch cache"):
            row = self._db.execute(
                f"SELECT {_FETCH_COLUMNS} FROM fetch_cache WHERE url = ?", (url,)
            ).fetchone()
        return None if row is None else _fetch_entry(row, store.url)

    def put(
        self,
        url: str,
        *,
        etag: str | None,
        last_modified: str | None,
        body: bytes,
        content_type: str = "",
        final_url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not worth_caching(etag, last_modified, body, self._max_bytes):
            return
        store = self._store
        with self._lock, _errors(store.url, "writing the fetch cache"):
            entry = CacheEntry.of(
                url, final_url=final_url, etag=etag, last_modified=last_modified, body=body,
                content_type=content_type, headers=headers, stored_at=now(),
            )  # fmt: skip
            self._db.execute(_FETCH_INSERT, _fetch_row(entry))

    def __len__(self) -> int:
        with self._lock, _errors(self._store.url, "counting the fetch cache"):
            return int(self._db.execute("SELECT count(*) FROM fetch_cache").fetchone()[0])


class SQLiteStore:
    """Dedup state, fetch cache, seen URLs and learned boilerplate in one SQLite file.

    ``synchronous`` is SQLite's durability knob: ``"NORMAL"`` (default) in WAL mode survives
    any process crash (``SIGKILL`` included) and may lose the last committed batches only on
    power loss or an OS crash; ``"FULL"`` also survives those at the cost of one fsync per
    batch. ``busy_timeout`` is how long a writer waits for another process's batch before
    raising :class:`StoreBusy`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        synchronous: str = "NORMAL",
        busy_timeout: float = 30.0,
        fetch_cache_max_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        sync = synchronous.upper()
        if sync not in _SYNCHRONOUS:
            raise ConfigError(
                f"store.synchronous must be one of {', '.join(_SYNCHRONOUS)}, got {synchronous!r}"
            )
        if not (finite_number(busy_timeout) and busy_timeout >= 0):
            raise ConfigError(
                f"store.busy_timeout must be a finite number >= 0 of seconds, got {busy_timeout!r}"
            )
        self.path = Path(path)
        self.url = str(self.path)
        self._lock = threading.RLock()
        self._fetch_cache_max_bytes = fetch_cache_bytes(fetch_cache_max_bytes)
        self._fetch_cache: _FetchCache | None = None
        self._closed = False
        self._busy_timeout = busy_timeout
        self._sync = sync
        self._check_header(create)
        try:
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{self.url}: cannot open: {exc}") from exc
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self._prepare(sync)
        except BaseException:
            self._db.close()
            raise

    # -- opening -------------------------------------------------------------------------

    def _check_header(self, create: bool) -> None:
        """Refuse anything that is not an SQLite file before SQLite can touch it."""
        try:
            with self.path.open("rb") as fh:
                head = fh.read(len(_HEADER))
        except FileNotFoundError:
            if not create:
                raise StoreError(f"{self.url}: no such store") from None
            return
        except IsADirectoryError:
            raise StoreError(f"{self.url}: is a directory, not a store file") from None
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot read: {exc}") from exc
        if head and head != _HEADER:
            raise StoreCorrupt(f"{self.url}: not a newsdedup store (not an SQLite file); left untouched")
        if not head and not create:
            raise StoreError(f"{self.url}: empty file, not a store")

    def _prepare(self, sync: str) -> None:
        db = self._db
        with _errors(self.url, "opening"):
            # one statement, one snapshot: read separately, another process could commit its
            # first migration between the reads (id still 0, version already set)
            app_id, version, tables = db.execute(
                "SELECT (SELECT application_id FROM pragma_application_id()),"
                " (SELECT user_version FROM pragma_user_version()),"
                " (SELECT count(*) FROM sqlite_master)"
            ).fetchone()
            if app_id != APPLICATION_ID and (app_id != 0 or version != 0 or tables != 0):
                raise StoreCorrupt(
                    f"{self.url}: an SQLite database of another application, not a newsdedup store;"
                    " left untouched"
                )
            if version > SCHEMA_VERSION:
                raise StoreSchemaError(
                    f"{self.url}: store schema version {version} is newer than this newsdedup"
                    f" understands ({SCHEMA_VERSION}); upgrade newsdedup"
                )
            self._journal_wal()
            db.execute(f"PRAGMA synchronous = {sync}")
            if version < SCHEMA_VERSION:
                self._migrate()

    def _journal_wal(self) -> None:
        """Switch to WAL, retrying "locked" up to ``busy_timeout``: SQLite does not call its busy
        handler for this switch, so two processes opening a new store at once would otherwise
        fail at once (seen in CI)."""
        for more in backoff(self._busy_timeout, 0.002, 0.1):
            try:
                row = self._db.execute("PRAGMA journal_mode = WAL").fetchone()
                break
            except sqlite3.OperationalError as exc:
                text = str(exc).lower()
                if ("locked" not in text and "busy" not in text) or not more:
                    raise
        mode = str(row[0]).lower() if row else ""
        if mode not in ("wal", "memory"):
            # SQLite keeps the old journal when it cannot share WAL's index between processes,
            # which network file systems (NFS, SMB) do not support reliably
            raise StoreError(
                f"{self.url}: SQLite could not switch this store to WAL (journal mode is {mode or 'unknown'!r}):"
                " the file system does not support it, as network file systems (NFS, SMB) often do"
                " not; put the SQLite store on a local disk, or use a Redis store (redis://) to share"
                " state between machines"
            )

    def _migrate(self) -> None:
        """Apply every missing migration in one transaction (a crash leaves the old version)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]  # re-read under the lock
            if version == 0:
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[target]:
                    db.execute(statement)
                logger.info("store %s: schema migrated to version %d", self.url, target)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise

    @property
    def schema_version(self) -> int:
        with self._lock, _errors(self.url, "reading the schema version"):
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # -- binding to a configuration -------------------------------------------------------

    def bind(self, name: str, fingerprint: str, config: Mapping[str, Any]) -> None:
        with self._lock, _errors(self.url, "checking the configuration"):
            rows = dict(
                self._db.execute("SELECT key, value FROM meta WHERE key IN ('name', 'fingerprint', 'config')")
            )
            if "fingerprint" in rows:
                if rows["fingerprint"] != fingerprint:
                    raise StoreError(
                        f"{self.url}: store was built with a different dedup configuration"
                        f" (fingerprint {rows['fingerprint']}, this run {fingerprint}: num_perm,"
                        " shingle_size, seed, lead_tokens or the LSH bands differ); use another store"
                    )
                if rows.get("name", name) != name:
                    raise StoreError(f"{self.url}: store is named {rows['name']!r}, not {name!r}")
                stored = json.loads(rows.get("config", "{}"))
                diff = sorted(k for k in config if k in stored and stored[k] != config[k])
                if diff:
                    logger.warning(
                        "store %s: dedup settings differ from the ones it was built with (%s);"
                        " results then depend on which run saw which items",
                        self.url, ", ".join(diff),
                    )  # fmt: skip
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                    [("name", name), ("fingerprint", fingerprint), ("config", json.dumps(dict(config)))],
                )
                self._db.execute("COMMIT")
            except BaseException:
                _rollback(self._db)
                raise
        self.bind(name, fingerprint, config)  # re-check: another process may have bound it first

    def stored_config(self) -> dict[str, Any] | None:
        """The dedup settings the store was built with (None for a new store)."""
        with self._lock, _errors(self.url, "reading the configuration"):
            row = self._db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
        if row is None:
            return None
        try:
            value = json.loads(row[0])
        except ValueError as exc:
            raise StoreCorrupt(f"{self.url}: stored configuration is damaged") from exc
        if not isinstance(value, dict):
            raise StoreCorrupt(f"{self.url}: stored configuration is damaged")
        return value

    def fingerprint(self) -> str | None:
        with self._lock, _errors(self.url, "reading the fingerprint"):
            row = self._db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
        return row[0] if row else None

    def binding(self) -> Binding | None:
        """The stored name, fingerprint and settings, None for a new store."""
        with self._lock, _errors(self.url, "reading the configuration"):
            rows = dict(self._db.execute("SELECT key, value FROM meta WHERE key IN ('name', 'fingerprint')"))
        if "fingerprint" not in rows:
            return None
        return Binding(rows.get("name"), str(rows["fingerprint"]), self.stored_config() or {})

    def _held(self) -> dict[str, int]:
        """Rows in each table that holds any (a copy's target must hold none)."""
        q = self._db.execute
        return {t: int(q(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in _DATA_TABLES
                if q(f"SELECT EXISTS (SELECT 1 FROM {t})").fetchone()[0]}  # fmt: skip

    @contextlib.contextmanager
    def restore(self, binding: Binding, *, replace: bool = False) -> Iterator[_Txn]:
        """A copy is written in one write transaction, so it is all or nothing.

        It is the store's own :meth:`transaction`. Memory stays bounded (SQLite spills the pages it writes to the WAL, not to RAM), and a
        copy that fails or is killed part way leaves the file as it was, never half a store.
        ``replace`` empties it in the same transaction."""
        with self.transaction() as txn:
            with _errors(self.url, "preparing a copy"):
                meta = dict(
                    self._db.execute("SELECT key, value FROM meta WHERE key IN ('name', 'fingerprint')")
                )
                if not replace:
                    held = self._held()
                    if held:
                        raise target_holds(self.url, held)
                    if meta.get("fingerprint", binding.fingerprint) != binding.fingerprint:
                        raise target_bound_elsewhere(self.url, meta["fingerprint"], binding.fingerprint)
                else:
                    for table in (*_DATA_TABLES, "meta"):
                        self._db.execute(f"DELETE FROM {table}")
                # the source's binding, also over an empty target's own (same fingerprint)
                name = binding.name or (meta.get("name") if not replace else None) or "default"
                self._db.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [
                        ("name", name),
                        ("fingerprint", binding.fingerprint),
                        ("config", json.dumps(binding.config)),
                    ],
                )
            yield txn

    # -- transactions ---------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_Txn]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``: the write lock is taken up front, so two writers
        never interleave inside one batch; a waiting writer gets :class:`StoreBusy` after
        ``busy_timeout``."""
        with self._lock:
            with _errors(self.url, "starting a write transaction"):
                self._db.execute("BEGIN IMMEDIATE")
            try:
                yield _Txn(self)
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
            with _errors(self.url, "committing"):
                self._db.execute("COMMIT")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[_Txn]:
        """A read transaction (``BEGIN DEFERRED``): one consistent view of the store, as of its
        first read, that takes no write lock. In WAL mode a writer never waits for it and it
        never waits for a writer, so ``export`` and :meth:`~newsdedup.Deduplicator.refresh`
        run beside a writing ``dedup --state``. Only the read methods of the transaction may
        be called."""
        with self._lock:
            with _errors(self.url, "starting a read transaction"):
                self._db.execute("BEGIN DEFERRED")
            try:
                yield _Txn(self)
            finally:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")

    # -- reading --------------------------------------------------------------------------

    def get_articles(self, ids: Iterable[str]) -> dict[str, Article]:
        wanted = list(dict.fromkeys(ids))
        out: dict[str, Article] = {}
        with self._lock, _errors(self.url, "reading articles"):
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for rid, blob in self._db.execute(
                    f"SELECT id, article FROM items WHERE id IN ({marks})", chunk
                ):
                    out[rid] = decode_article(blob)
        return out

    def iter_item_ids(self) -> Iterator[str]:
        with self._lock, _errors(self.url, "listing items"):
            rows = self._db.execute("SELECT id FROM items ORDER BY id").fetchall()
        for (rid,) in rows:
            yield rid

    def stored_clusters(self) -> list[ClusterRow]:
        with self._lock, _errors(self.url, "reading clusters"):
            rows = self._db.execute(
                "SELECT cluster_id, canonical_id, canonical_reason, member_ids FROM clusters ORDER BY cluster_id"
            ).fetchall()
        return [ClusterRow(r[0], r[1], r[2], tuple(json.loads(r[3]))) for r in rows]

    def updates(self) -> list[UpdateRow]:
        with self._lock, _errors(self.url, "reading updates"):
            rows = self._db.execute(
                "SELECT id, text_hash, seen_at FROM updates ORDER BY seen_at, id"
            ).fetchall()
        return [UpdateRow(*r) for r in rows]

    def counts(self) -> dict[str, int]:
        with self._lock, _errors(self.url, "counting"):
            q = self._db.execute
            return {
                "items": q("SELECT count(*) FROM items").fetchone()[0],
                "indexed": q("SELECT count(*) FROM items WHERE bands IS NOT NULL").fetchone()[0],
                "pending": q("SELECT count(*) FROM items WHERE pending = 1").fetchone()[0],
                "edges": q("SELECT count(*) FROM edges").fetchone()[0],
                "clusters": q("SELECT count(*) FROM clusters").fetchone()[0],
                "updates": q("SELECT count(*) FROM updates").fetchone()[0],
                "fetch_cache": q("SELECT count(*) FROM fetch_cache").fetchone()[0],
                "seen_urls": q("SELECT count(*) FROM seen_urls").fetchone()[0],
                "learners": q("SELECT count(*) FROM learners").fetchone()[0],
            }

    # -- fetch cache, seen URLs, learned boilerplate ----------------------------------------

    def fetch_cache(self) -> _FetchCache:
        """The fetcher's ``FetchCache`` (ETag / Last-Modified + body) backed by this file."""
        with self._lock:
            if self._closed:  # a new cache would open a connection of its own and carry on
                raise StoreError(
                    f"{self.url}: the store is closed (opening the fetch cache); open it again to use it"
                )
            if self._fetch_cache is None:
                self._fetch_cache = _FetchCache(self, max_bytes=self._fetch_cache_max_bytes)
            return self._fetch_cache

    def is_seen(self, url: str) -> bool:
        with self._lock, _errors(self.url, "reading seen URLs"):
            return self._db.execute("SELECT 1 FROM seen_urls WHERE url = ?", (url,)).fetchone() is not None

    def unseen(self, urls: Iterable[str]) -> list[str]:
        """``urls`` not marked seen yet, in their order, without repeats."""
        wanted = list(dict.fromkeys(urls))
        seen: set[str] = set()
        with self._lock, _errors(self.url, "reading seen URLs"):
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                seen.update(
                    r[0] for r in self._db.execute(f"SELECT url FROM seen_urls WHERE url IN ({marks})", chunk)
                )
        return [u for u in wanted if u not in seen]

    def mark_seen(self, urls: Iterable[str]) -> int:
        """Mark URLs seen (one transaction); returns how many were new."""
        rows = [(u, now()) for u in dict.fromkeys(urls)]
        with self.transaction(), _errors(self.url, "writing seen URLs"):
            before = self._db.total_changes
            self._db.executemany("INSERT OR IGNORE INTO seen_urls (url, first_seen) VALUES (?, ?)", rows)
            return self._db.total_changes - before

    def load_learner(self, name: str = "default") -> BoilerplateLearner | None:
        from .._boilerplate import BoilerplateLearner

        with self._lock, _errors(self.url, "reading learned boilerplate"):
            row = self._db.execute("SELECT state FROM learners WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        try:
            return BoilerplateLearner.from_dict(json.loads(row[0]))
        except (ValueError, ConfigError) as exc:
            raise StoreCorrupt(f"{self.url}: learned boilerplate {name!r} is damaged: {exc}") from exc

    def save_learner(self, learner: BoilerplateLearner, name: str = "default") -> None:
        state = json.dumps(learner.to_dict(), ensure_ascii=False, separators=(",", ":"))
        with self.transaction(), _errors(self.url, "writing learned boilerplate"):
            self._db.execute(
                "INSERT OR REPLACE INTO learners (name, state, updated) VALUES (?, ?, ?)",
                (name, state, now()),
            )

    # -- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connections; later use raises :class:`StoreError` saying it is closed."""
        with self._lock:
            self._closed = True
            if self._fetch_cache is not None:
                self._fetch_cache.close()
            with contextlib.suppress(sqlite3.Error):
                self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.url!r})"
