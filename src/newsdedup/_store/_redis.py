"""The shared store: dedup state in Redis, for several workers feeding one index.

Key layout (``N`` = ``newsdedup:<name>``, ``P`` = ``N:<config fingerprint>``; nothing random,
so every worker with the same name and configuration finds the same keys)::

    N:fingerprint N:schema N:config   what the keyspace was built with
    P:item:<id>       hash  time, ingested, n, th, site, paras, bands, article (zlib JSON)
    P:log             list  item ids in commit order (position + 1 = sequence number)
    P:edges           list  verified pairs as JSON, in commit order
    P:indexed         zset  ids still in the LSH window, scored by item time
    P:pending         set   ids not yet emitted in an output
    P:clusters        hash  cluster id -> JSON {canonical_id, canonical_reason, member_ids}
    P:item_cluster    hash  id -> cluster id it was last emitted in
    P:updates         hash  "<id> <text hash>" -> time the changed text was seen
    P:hw P:lock       high-water item time; the write lock
    N:fetch:<url>  N:seen  N:learner:<name>   fetch cache, seen URLs, learned boilerplate

Consistency model: a *per-index lock* (``SET P:lock <token> NX PX <ttl>``, released by a Lua
compare-and-delete). A worker extracts and fingerprints its items without the lock, then takes
it, replays the items and edges other workers committed since it last looked, matches its
batch and commits everything in one ``MULTI``/``EXEC`` that ``WATCH``es the lock key: if the
lock expired and another worker took it meanwhile, the commit is refused (:class:`StoreBusy`)
instead of interleaving. Batches are therefore serialised, and the partition equals one run
over the same items. Each worker keeps its own in-memory replica of the LSH index, rebuilt from
``P:log``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from .._exceptions import (
    ConfigError,
    MissingDependency,
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

__all__ = ["RedisStore"]

logger = logging.getLogger("newsdedup")

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end
"""
_ITEM_FIELDS = (b"time", b"ingested", b"n", b"th", b"site", b"paras", b"bands")
_FETCH_FIELDS = (b"final_url", b"etag", b"last_modified", b"body", b"content_type", b"headers", b"stored_at")


def _glob(text: str) -> str:
    """``text`` as a literal in a SCAN pattern (a store name may hold ``*``, ``?`` or ``[``)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _import_redis() -> Any:
    try:
        import redis
    except ImportError as exc:
        raise MissingDependency(
            "the Redis store needs the redis client: pip install 'newsdedup[redis]'"
        ) from exc
    return redis


@contextlib.contextmanager
def _errors(url: str, doing: str) -> Iterator[None]:
    """redis-py errors -> the StoreError family (the original stays as ``__cause__``)."""
    redis = _import_redis()
    try:
        yield
    except redis.exceptions.WatchError as exc:
        raise StoreBusy(f"{url}: lost the store lock while {doing}; batch not written") from exc
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise StoreError(f"{url}: cannot reach Redis while {doing}: {exc}") from exc
    except redis.exceptions.ResponseError as exc:
        raise StoreError(f"{url}: Redis refused a command while {doing}: {exc}") from exc
    except redis.exceptions.RedisError as exc:
        raise StoreError(f"{url}: Redis error while {doing}: {exc}") from exc


def _s(value: bytes | None) -> str | None:
    return value.decode("utf-8") if value is not None else None


def _edges(raw_edges: list[bytes], after: int, url: str) -> list[EdgeRow]:
    """Edge records read from the ``edges`` list from position ``after`` on (their sequence
    numbers follow it); a record that does not decode is :class:`StoreCorrupt`."""
    edges = []
    for n, raw in enumerate(raw_edges):
        try:
            a, b, kind, jac, cont, align = json.loads(raw)
            edge = EdgeRow(
                str(a), str(b), str(kind), float(jac), float(cont), float(align), seq=after + n + 1
            )
        except (ValueError, TypeError) as exc:  # not JSON, not six fields, or a score not a number
            raise StoreCorrupt(f"{url}: damaged edge record {raw[:80]!r}") from exc
        edges.append(edge)
    return edges


def _item_hash(row: ItemRow, article: bytes, indexed: bool) -> dict[str, Any]:
    """An item's hash fields: ``article`` in its stored encoding, the bucket keys when it is
    ``indexed`` (in the window)."""
    mapping: dict[str, Any] = {
        "time": repr(row.time), "ingested": repr(row.ingested), "n": row.n_shingles, "th": row.text_hash,
        "site": row.site or "", "paras": row.paras, "article": article,
    }  # fmt: skip
    if indexed:
        mapping["bands"] = row.bands
    return mapping


def _fetch_entry(url: str, row: list[Any], where: str) -> CacheEntry:
    """A fetch-cache hash's fields (:data:`_FETCH_FIELDS`, read by ``HMGET``) as an entry."""
    try:
        headers = json.loads(row[5] or b"{}")
    except ValueError as exc:
        raise StoreCorrupt(f"{where}: fetch cache headers for {url} are damaged") from exc
    with damaged(f"{where}: the fetch cache entry of {url}"):
        return CacheEntry.of(
            url, final_url=_s(row[0]), etag=_s(row[1]) or None, last_modified=_s(row[2]) or None,
            body=row[3], content_type=_s(row[4]) or "", headers=headers, stored_at=float(row[6] or 0),
        )  # fmt: skip


def _fetch_hash(entry: CacheEntry) -> dict[str, Any]:
    """An entry as its fetch-cache hash's fields (the inverse of :func:`_fetch_entry`)."""
    return {
        "final_url": entry.final_url, "etag": entry.etag or "", "last_modified": entry.last_modified or "",
        "body": entry.body, "content_type": entry.content_type, "headers": json.dumps(dict(entry.headers)),
        "stored_at": repr(float(entry.stored_at)),
    }  # fmt: skip


class _Txn:
    def __init__(self, store: RedisStore, token: str) -> None:
        self._store = store
        self._r = store._r
        self._token = token
        self._p = store._prefix()

    def changes(self, item_seq: int, edge_seq: int) -> tuple[list[ItemRow], list[EdgeRow]]:
        p, url = self._p, self._store.url
        items: list[ItemRow] = []
        with _errors(url, "reading changes"):
            ids = [x.decode("utf-8") for x in self._r.lrange(p + "log", item_seq, -1)]
            for start in range(0, len(ids), 1000):
                chunk = ids[start : start + 1000]
                pipe = self._r.pipeline(transaction=False)
                for rid in chunk:
                    pipe.hmget(f"{p}item:{rid}", *_ITEM_FIELDS)
                for n, (rid, row) in enumerate(zip(chunk, pipe.execute(), strict=True)):
                    if row[0] is None:
                        raise StoreCorrupt(f"{url}: item {rid!r} is in the log but has no data")
                    with damaged(f"{url}: stored item {rid!r}"):
                        items.append(
                            ItemRow(
                                id=rid, seq=item_seq + start + n + 1, time=float(row[0]), ingested=float(row[1]),
                                n_shingles=int(row[2]), text_hash=row[3].decode(), site=_s(row[4]) or None,
                                paras=row[5] or b"", bands=row[6] or None,
                            )
                        )  # fmt: skip
            raw_edges = self._r.lrange(p + "edges", edge_seq, -1)
        return items, _edges(raw_edges, edge_seq, url)

    def high_water(self) -> float:
        with _errors(self._store.url, "reading the high-water mark"):
            value = self._r.get(self._p + "hw")
        with damaged(f"{self._store.url}: the stored high-water mark"):
            return stored_time(value)

    def write(
        self,
        items: list[ItemRow],
        edges: list[EdgeRow],
        updates: list[UpdateRow],
        *,
        high_water: float,
        expire_before: float | None,
    ) -> tuple[list[int], list[int]]:
        p, r = self._p, self._r
        with _errors(self._store.url, "writing a batch"), r.pipeline(transaction=True) as pipe:
            pipe.watch(p + "lock")  # fencing: the commit fails if the lock changed hands
            if pipe.get(p + "lock") != self._token.encode():
                raise StoreBusy(f"{self._store.url}: the store lock expired before the batch was written")
            n_items, n_edges = pipe.llen(p + "log"), pipe.llen(p + "edges")
            expired = (
                pipe.zrangebyscore(p + "indexed", "-inf", f"({expire_before!r}")
                if expire_before is not None
                else []
            )
            pipe.multi()
            for it in items:
                assert it.article is not None
                # an item of this batch already outside the window is stored without its bucket
                # keys, as SQLite's expiry in the same write leaves it
                indexed = it.bands is not None and (expire_before is None or it.time >= expire_before)
                pipe.hset(f"{p}item:{it.id}", mapping=_item_hash(it, encode_article(it.article), indexed))
                if indexed:
                    pipe.zadd(p + "indexed", {it.id: it.time})
            if items:
                pipe.rpush(p + "log", *[it.id for it in items])
                pipe.sadd(p + "pending", *[it.id for it in items])
            if edges:
                pipe.rpush(
                    p + "edges",
                    *[json.dumps([e.a, e.b, e.kind, e.jaccard, e.containment, e.align]) for e in edges],
                )
            for u in updates:
                pipe.hsetnx(p + "updates", f"{u.id} {u.text_hash}", repr(u.seen_at))
            pipe.set(p + "hw", repr(float(high_water)))
            if expired:
                for raw in expired:
                    pipe.hdel(f"{p}item:{raw.decode()}", "bands")
                pipe.zrem(p + "indexed", *expired)
            pipe.execute()
        return (
            list(range(n_items + 1, n_items + len(items) + 1)),
            list(range(n_edges + 1, n_edges + len(edges) + 1)),
        )

    def pending_ids(self) -> set[str]:
        with _errors(self._store.url, "reading pending items"):
            return {x.decode("utf-8") for x in self._r.smembers(self._p + "pending")}

    def mark_emitted(self, clusters: list[ClusterRow]) -> None:
        p, r = self._p, self._r
        with _errors(self._store.url, "recording emitted clusters"), r.pipeline(transaction=True) as pipe:
            pipe.watch(p + "lock")
            if pipe.get(p + "lock") != self._token.encode():
                raise StoreBusy(f"{self._store.url}: the store lock expired before clusters were recorded")
            olds = []
            for c in clusters:
                prev = pipe.hmget(p + "item_cluster", *c.member_ids)
                olds.append({x.decode() for x in prev if x is not None} - {c.cluster_id})
            pipe.multi()
            for c, old in zip(clusters, olds, strict=True):
                if old:
                    pipe.hdel(p + "clusters", *sorted(old))
                row = {"canonical_id": c.canonical_id, "canonical_reason": c.canonical_reason,
                       "member_ids": list(c.member_ids), "emitted_at": now()}  # fmt: skip
                pipe.hset(p + "clusters", c.cluster_id, json.dumps(row))
                pipe.hset(p + "item_cluster", mapping=dict.fromkeys(c.member_ids, c.cluster_id))
                pipe.srem(p + "pending", *c.member_ids)
            pipe.execute()

    # -- copying a store ----------------------------------------------------------------------

    def _hold(self, doing: str) -> None:
        """Renew the lock for another ``lock_ttl`` (a copy holds it longer than one batch), or
        fail if it expired and another worker took it: the view would no longer be consistent."""
        store = self._store
        with _errors(store.url, doing):
            held = store._extend(keys=[self._p + "lock"], args=[self._token, store._lock_ttl_ms])
        if not held:
            raise StoreBusy(f"{store.url}: lost the store lock while {doing}")

    def dump(self, batch: int = COPY_BATCH) -> Iterator[Chunk]:
        p, r, url, base = self._p, self._r, self._store.url, self._store._base
        yield Chunk(high_water=self.high_water())
        start = 0
        while True:
            self._hold("reading items for a copy")
            with _errors(url, "reading items for a copy"):
                ids = [x.decode("utf-8") for x in r.lrange(p + "log", start, start + batch - 1)]
                if not ids:
                    break
                pipe = r.pipeline(transaction=False)
                for rid in ids:
                    pipe.hgetall(f"{p}item:{rid}")
                pipe.smismember(p + "pending", ids)
                pipe.hmget(p + "item_cluster", ids)
                *rows, pending, owners = pipe.execute()
            items = []
            for n, (rid, row, flag, owner) in enumerate(zip(ids, rows, pending, owners, strict=True)):
                if b"time" not in row or b"article" not in row:
                    raise StoreCorrupt(f"{url}: item {rid!r} is in the log but has no data")
                with damaged(f"{url}: stored item {rid!r}"):
                    item = StoredItem(
                        ItemRow(id=rid, seq=start + n + 1, time=float(row[b"time"]), ingested=float(row[b"ingested"]),
                                n_shingles=int(row[b"n"]), text_hash=row[b"th"].decode(),
                                site=_s(row.get(b"site")) or None, paras=row.get(b"paras") or b"",
                                bands=row.get(b"bands") or None),
                        article=row[b"article"], pending=bool(flag), cluster_id=_s(owner),
                    )  # fmt: skip
                items.append(check_item(item, url))
            start += len(ids)
            yield Chunk(items=items)
        start = 0
        while True:
            self._hold("reading edges for a copy")
            with _errors(url, "reading edges for a copy"):
                raw_edges = r.lrange(p + "edges", start, start + batch - 1)
            if not raw_edges:
                break
            yield Chunk(edges=_edges(raw_edges, start, url))
            start += len(raw_edges)
        # hashes, sets and key patterns are scanned (SCAN may name an element twice: the
        # target writes keyed rows idempotently)
        yield from chunked(
            "updates", self._updates(batch), batch, between=lambda: self._hold("reading updates for a copy")
        )
        yield from chunked(
            "clusters",
            self._clusters(batch),
            batch,
            between=lambda: self._hold("reading clusters for a copy"),
        )
        with _errors(url, "reading seen URLs for a copy"):
            seen = ((m.decode("utf-8"), None) for m in r.sscan_iter(base + ":seen", count=batch))
            yield from chunked("seen_urls", seen, batch)
        yield from chunked("fetch_cache", self._fetch_entries(batch), batch, size=lambda e: len(e.body))
        yield from chunked("learners", self._learners(batch), batch)

    def _updates(self, batch: int) -> Iterator[UpdateRow]:
        p, r, url = self._p, self._r, self._store.url
        with _errors(url, "reading updates for a copy"):
            for key, value in r.hscan_iter(p + "updates", count=batch):
                rid, _, text_hash = key.decode("utf-8").rpartition(" ")
                with damaged(f"{url}: a stored update of {rid!r}"):
                    yield UpdateRow(rid, text_hash, float(value))

    def _clusters(self, batch: int) -> Iterator[StoredCluster]:
        p, r, url = self._p, self._r, self._store.url
        with _errors(url, "reading clusters for a copy"):
            for key, value in r.hscan_iter(p + "clusters", count=batch):
                with damaged(f"{url}: stored cluster {key[:80]!r}"):
                    c = json.loads(value)
                    cluster = StoredCluster(
                        ClusterRow(
                            key.decode("utf-8"),
                            c["canonical_id"],
                            c["canonical_reason"],
                            tuple(c["member_ids"]),
                        ),
                        float(c.get("emitted_at", 0.0)),
                    )
                yield cluster

    def _fetch_entries(self, batch: int) -> Iterator[CacheEntry]:
        r, url = self._r, self._store.url
        prefix = self._store._base + ":fetch:"
        with _errors(url, "reading the fetch cache for a copy"):
            for key in r.scan_iter(match=_glob(prefix) + "*", count=batch):
                row = r.hmget(key, *_FETCH_FIELDS)
                if row[3] is None:
                    continue  # removed since the scan named it
                yield _fetch_entry(key.decode("utf-8")[len(prefix) :], row, url)

    def _learners(self, batch: int) -> Iterator[StoredLearner]:
        r, url = self._r, self._store.url
        prefix = self._store._base + ":learner:"
        with _errors(url, "reading learned boilerplate for a copy"):
            for key in r.scan_iter(match=_glob(prefix) + "*", count=batch):
                state = r.get(key)
                if state is None:
                    continue
                name = key.decode("utf-8")[len(prefix) :]
                with damaged(f"{url}: learned boilerplate {name!r}"):
                    learner = StoredLearner(name, state.decode("utf-8"), None)
                yield check_learner(learner, url)

    def load(self, chunk: Chunk) -> None:
        p, r, base = self._p, self._r, self._store._base
        with _errors(self._store.url, "writing a copy"), r.pipeline(transaction=True) as pipe:
            pipe.watch(p + "lock")  # fencing, as for a batch
            if pipe.get(p + "lock") != self._token.encode():
                raise StoreBusy(f"{self._store.url}: the store lock expired during the copy")
            pipe.multi()
            pipe.pexpire(p + "lock", self._store._lock_ttl_ms)
            if chunk.high_water is not None:
                pipe.set(p + "hw", repr(float(chunk.high_water)))
            for item in chunk.items:
                it = item.row
                if it.bands is not None:
                    pipe.zadd(p + "indexed", {it.id: it.time})
                pipe.hset(f"{p}item:{it.id}", mapping=_item_hash(it, item.article, it.bands is not None))
            if chunk.items:
                pipe.rpush(p + "log", *[i.row.id for i in chunk.items])
                pending = [i.row.id for i in chunk.items if i.pending]
                if pending:
                    pipe.sadd(p + "pending", *pending)
                owners = {i.row.id: i.cluster_id for i in chunk.items if i.cluster_id is not None}
                if owners:
                    pipe.hset(p + "item_cluster", mapping=owners)
            if chunk.edges:
                pipe.rpush(
                    p + "edges",
                    *[json.dumps([e.a, e.b, e.kind, e.jaccard, e.containment, e.align]) for e in chunk.edges],
                )
            if chunk.updates:
                pipe.hset(
                    p + "updates", mapping={f"{u.id} {u.text_hash}": repr(u.seen_at) for u in chunk.updates}
                )
            if chunk.clusters:
                rows = {
                    c.row.cluster_id: json.dumps(
                        {"canonical_id": c.row.canonical_id, "canonical_reason": c.row.canonical_reason,
                         "member_ids": list(c.row.member_ids), "emitted_at": c.emitted_at}
                    )
                    for c in chunk.clusters
                }  # fmt: skip
                pipe.hset(p + "clusters", mapping=rows)
            if chunk.seen_urls:
                pipe.sadd(base + ":seen", *[u for u, _ in chunk.seen_urls])
            for e in chunk.fetch_cache:
                key = f"{base}:fetch:{e.url}"
                pipe.delete(key)
                pipe.hset(key, mapping=_fetch_hash(e))
            for x in chunk.learners:
                pipe.set(f"{base}:learner:{x.name}", x.state)
            pipe.execute()


class _FetchCache:
    def __init__(self, store: RedisStore, *, max_bytes: int) -> None:
        self._store = store
        self._max_bytes = max_bytes

    def get(self, url: str) -> CacheEntry | None:
        key = f"{self._store._base}:fetch:{url}"
        with _errors(self._store.url, "reading the fetch cache"):
            row = self._store._r.hmget(key, *_FETCH_FIELDS)
        if row[3] is None:
            return None
        return _fetch_entry(url, row, self._store.url)

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
        key = f"{self._store._base}:fetch:{url}"
        mapping = _fetch_hash(
            CacheEntry.of(
                url, final_url=final_url, etag=etag, last_modified=last_modified, body=body,
                content_type=content_type, headers=headers, stored_at=now(),
            )
        )  # fmt: skip
        with (
            _errors(self._store.url, "writing the fetch cache"),
            self._store._r.pipeline(transaction=True) as pipe,
        ):
            pipe.delete(key)
            pipe.hset(key, mapping=mapping)
            pipe.execute()


class RedisStore:
    """Dedup state shared by several workers through one Redis database.

    ``redis://host:port/db?name=NAME`` (``name`` defaults to ``default``); ``lock_ttl`` bounds
    how long a crashed worker can block the others, and must exceed the time one batch takes;
    ``busy_timeout`` is how long a worker waits for the lock before :class:`StoreBusy`; by
    default ``lock_ttl`` plus 15 s, so that the lock a killed worker left (it can only expire)
    is gone before a worker started right after gives up (with 30 s against a 60 s TTL, a rerun
    after ``kill -9`` failed with StoreBusy).
    """

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        busy_timeout: float | None = None,
        lock_ttl: float = 60.0,
        socket_timeout: float = 10.0,
        fetch_cache_max_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        redis = _import_redis()
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        name = name or (query.get("name") or ["default"])[0]
        if not name or any(c in name for c in ": \n{}"):
            raise ConfigError(f"store name must be non-empty without ':', spaces or braces, got {name!r}")
        if busy_timeout is None and finite_number(lock_ttl):
            busy_timeout = lock_ttl + 15.0
        if not (
            finite_number(lock_ttl) and lock_ttl > 0 and finite_number(busy_timeout) and busy_timeout >= 0
        ):
            raise ConfigError(
                f"store.lock_ttl must be a finite number > 0 and store.busy_timeout one >= 0, "
                f"got {lock_ttl!r} and {busy_timeout!r}"
            )
        self.name = name
        self.url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        self._base = f"newsdedup:{name}"
        self._fp: str | None = None
        self._busy_timeout = busy_timeout
        self._lock_ttl_ms = int(lock_ttl * 1000)
        self._fetch_cache_max_bytes = fetch_cache_bytes(fetch_cache_max_bytes)
        self._closed = False
        try:
            self._client = redis.Redis.from_url(
                self.url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout
            )
        except ValueError as exc:
            raise ConfigError(f"bad Redis URL {url!r}: {exc}") from exc
        with _errors(self.url, "connecting"):
            self._r.ping()
            schema = self._r.get(self._base + ":schema")
        with damaged(f"{self.url} ({name}): the stored schema version"):
            schema = int(schema) if schema is not None else None
        if schema is not None and schema > SCHEMA_VERSION:
            raise StoreSchemaError(
                f"{self.url} ({name}): store schema version {schema} is newer than this newsdedup"
                f" understands ({SCHEMA_VERSION}); upgrade newsdedup"
            )
        self._release = self._r.register_script(_RELEASE)
        self._extend = self._r.register_script(_EXTEND)

    @property
    def _r(self) -> Any:
        """The Redis client, refused once the store is closed: redis-py would quietly open a new
        connection and the closed store would go on reading and writing."""
        if self._closed:
            raise StoreError(f"{self.url} ({self.name}): the store is closed; open it again to use it")
        return self._client

    def identity(self) -> tuple[str, int, str]:
        """The server (its ``run_id``), database and name this store lives at: two URLs that
        spell one server differently (``localhost``, ``127.0.0.1``) still name one store, which a
        copy must not be told to replace with itself."""
        with _errors(self.url, "identifying the server"):
            run_id = str(self._r.info("server").get("run_id", self.url))
        return run_id, int(self._r.connection_pool.connection_kwargs.get("db", 0)), self.name

    def _prefix(self) -> str:
        if self._fp is None:
            raise StoreError("the store is not bound to a dedup configuration yet (call bind())")
        return f"{self._base}:{self._fp}:"

    def bind(self, name: str, fingerprint: str, config: Mapping[str, Any]) -> None:
        """Tie the keyspace to one configuration (``name`` from the URL wins over ``name``)."""
        del name  # the URL's name is the keyspace; the argument exists for the SQLite store
        with _errors(self.url, "checking the configuration"):
            self._r.set(self._base + ":fingerprint", fingerprint, nx=True)
            self._r.set(self._base + ":config", json.dumps(dict(config)), nx=True)
            self._r.set(self._base + ":schema", SCHEMA_VERSION, nx=True)
            stored = self._r.get(self._base + ":fingerprint")
        if stored is not None and stored.decode() != fingerprint:
            raise StoreError(
                f"{self.url} ({self.name}): store was built with a different dedup configuration"
                f" (fingerprint {stored.decode()}, this run {fingerprint}); use another name"
            )
        self._fp = fingerprint

    def stored_config(self) -> dict[str, Any] | None:
        """The dedup settings the keyspace was built with (None when new)."""
        with _errors(self.url, "reading the configuration"):
            raw = self._r.get(self._base + ":config")
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise StoreCorrupt(f"{self.url}: stored configuration is damaged") from exc
        if not isinstance(value, dict):
            raise StoreCorrupt(f"{self.url}: stored configuration is damaged")
        return value

    def fingerprint(self) -> str | None:
        with _errors(self.url, "reading the fingerprint"):
            value = self._r.get(self._base + ":fingerprint")
        return value.decode() if value is not None else None

    def binding(self) -> Binding | None:
        """The keyspace's fingerprint and settings (the name is the URL's), None when new."""
        fingerprint = self.fingerprint()
        if fingerprint is None:
            return None
        return Binding(None, fingerprint, self.stored_config() or {})

    def _counts(self, prefix: str | None) -> dict[str, int]:
        """:meth:`counts` of the index under ``prefix`` (None: an unbound name, only the fetch
        cache, seen URLs and learners)."""
        r, base = self._r, self._base
        with _errors(self.url, "counting"):
            out = dict.fromkeys(("items", "indexed", "pending", "edges", "clusters", "updates"), 0)
            if prefix is not None:
                out = {
                    "items": r.llen(prefix + "log"),
                    "indexed": r.zcard(prefix + "indexed"),
                    "pending": r.scard(prefix + "pending"),
                    "edges": r.llen(prefix + "edges"),
                    "clusters": r.hlen(prefix + "clusters"),
                    "updates": r.hlen(prefix + "updates"),
                }
            # fetch-cache entries and learners are keys of their own: one SCAN counts both (a
            # SCAN walks the whole database whatever it matches); the pattern's fifth letter
            # (h or n) is never hex, so the index keys (``N:<fingerprint>:...``) are not sent
            fetch, learner = (base + ":fetch:").encode(), (base + ":learner:").encode()
            out["fetch_cache"], out["seen_urls"], out["learners"] = 0, r.scard(base + ":seen"), 0
            for key in r.scan_iter(match=_glob(base) + ":[fl]e[ta][cr][hn]*", count=1000):
                if key.startswith(fetch):
                    out["fetch_cache"] += 1
                elif key.startswith(learner):
                    out["learners"] += 1
        return out

    def _clear(self) -> None:
        """Delete every key of this name (all configurations' indexes, fetch cache, seen URLs,
        learners): a copy that replaces the store."""
        with _errors(self.url, "emptying the store"):
            doomed: list[bytes] = []
            for key in self._r.scan_iter(match=_glob(self._base) + ":*", count=1000):
                doomed.append(key)
                if len(doomed) >= 1000:
                    self._r.delete(*doomed)
                    doomed = []
            if doomed:
                self._r.delete(*doomed)
        self._fp = None

    @contextlib.contextmanager
    def restore(self, binding: Binding, *, replace: bool = False) -> Iterator[_Txn]:
        """A copy is written under the per-index lock, renewed with every chunk.

        Workers wait for the copy instead of writing into it. Redis has no transaction that
        large: a copy that fails part way leaves a partial index behind (logged); copy again
        with ``replace``."""
        if replace:
            self._clear()
        else:
            self._refuse_held(binding)
        self.bind(binding.name or "default", binding.fingerprint, binding.config)
        with _errors(self.url, "writing the configuration"):
            self._r.set(self._base + ":config", json.dumps(dict(binding.config)))  # the source's settings
        with self.transaction() as txn:
            if not replace:
                self._refuse_held(binding)  # again under the lock: a worker may have written meanwhile
            try:
                yield txn
            except BaseException:
                logger.warning(
                    "store %s (%s): the copy stopped part way and left a partial index; do not use it:"
                    " copy again with --replace (replace=True)",
                    self.url, self.name,
                )  # fmt: skip
                raise

    def _refuse_held(self, binding: Binding) -> None:
        stored = self.fingerprint()
        if stored is not None and stored != binding.fingerprint:
            raise target_bound_elsewhere(f"{self.url} ({self.name})", stored, binding.fingerprint)
        counts = self._counts(None if stored is None else f"{self._base}:{stored}:")
        held = {k: v for k, v in counts.items() if v and k not in ("indexed", "pending")}
        if held:
            raise target_holds(f"{self.url} ({self.name})", held)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[_Txn]:
        """Hold the per-index lock for one batch (see the module docstring)."""
        lock = self._prefix() + "lock"
        token = uuid.uuid4().hex
        with _errors(self.url, "taking the store lock"):
            for more in backoff(self._busy_timeout, 0.005, 0.2):
                if self._r.set(lock, token, nx=True, px=self._lock_ttl_ms):
                    break
                if not more:
                    raise StoreBusy(f"{self.url} ({self.name}): another worker holds the store lock")
        try:
            yield _Txn(self, token)
        finally:
            with contextlib.suppress(Exception), _errors(self.url, "releasing the store lock"):
                self._release(keys=[lock], args=[token])

    def snapshot(self) -> AbstractContextManager[_Txn]:
        """A consistent view for reading: the per-index lock, as for a batch (a batch's keys are
        not written in one step, so a reader waits for the batch in flight to end)."""
        return self.transaction()

    def get_articles(self, ids: Iterable[str]) -> dict[str, Article]:
        wanted = list(dict.fromkeys(ids))
        p = self._prefix()
        out: dict[str, Article] = {}
        with _errors(self.url, "reading articles"):
            for start in range(0, len(wanted), 1000):
                chunk = wanted[start : start + 1000]
                pipe = self._r.pipeline(transaction=False)
                for rid in chunk:
                    pipe.hget(f"{p}item:{rid}", "article")
                for rid, blob in zip(chunk, pipe.execute(), strict=True):
                    if blob is not None:
                        out[rid] = decode_article(blob)
        return out

    def iter_item_ids(self) -> Iterator[str]:
        with _errors(self.url, "listing items"):
            ids = sorted(x.decode("utf-8") for x in self._r.lrange(self._prefix() + "log", 0, -1))
        yield from ids

    def stored_clusters(self) -> list[ClusterRow]:
        with _errors(self.url, "reading clusters"):
            raw = self._r.hgetall(self._prefix() + "clusters")
        out = []
        for cid, value in sorted(raw.items()):
            row = json.loads(value)
            out.append(
                ClusterRow(
                    cid.decode(), row["canonical_id"], row["canonical_reason"], tuple(row["member_ids"])
                )
            )
        return out

    def counts(self) -> dict[str, int]:
        """What the index holds, under the keys of :meth:`SQLiteStore.counts`.

        The fetch cache and learners are counted by a SCAN over the name's keys."""
        return self._counts(self._prefix())

    def fetch_cache(self) -> _FetchCache:
        return _FetchCache(self, max_bytes=self._fetch_cache_max_bytes)

    def is_seen(self, url: str) -> bool:
        with _errors(self.url, "reading seen URLs"):
            return bool(self._r.sismember(self._base + ":seen", url))

    def unseen(self, urls: Iterable[str]) -> list[str]:
        wanted = list(dict.fromkeys(urls))
        if not wanted:
            return []
        with _errors(self.url, "reading seen URLs"):
            flags = self._r.smismember(self._base + ":seen", wanted)
        return [u for u, f in zip(wanted, flags, strict=True) if not f]

    def mark_seen(self, urls: Iterable[str]) -> int:
        wanted = list(dict.fromkeys(urls))
        if not wanted:
            return 0
        with _errors(self.url, "writing seen URLs"):
            return int(self._r.sadd(self._base + ":seen", *wanted))

    def load_learner(self, name: str = "default") -> BoilerplateLearner | None:
        from .._boilerplate import BoilerplateLearner

        with _errors(self.url, "reading learned boilerplate"):
            raw = self._r.get(f"{self._base}:learner:{name}")
        if raw is None:
            return None
        try:
            return BoilerplateLearner.from_dict(json.loads(raw))
        except (ValueError, ConfigError) as exc:
            raise StoreCorrupt(f"{self.url}: learned boilerplate {name!r} is damaged: {exc}") from exc

    def save_learner(self, learner: BoilerplateLearner, name: str = "default") -> None:
        state = json.dumps(learner.to_dict(), ensure_ascii=False, separators=(",", ":"))
        with _errors(self.url, "writing learned boilerplate"):
            self._r.set(f"{self._base}:learner:{name}", state)

    def close(self) -> None:
        """Close the connections; later use raises :class:`StoreError` saying it is closed."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._client.close()

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r}, name={self.name!r})"
