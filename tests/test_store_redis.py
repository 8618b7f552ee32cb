"""The Redis store's own guarantees: deterministic key prefixes, plain encodings, the per-index
lock and its fencing, and redis errors surfacing as StoreError with the original kept."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator

import pytest

from newsdedup._dedup import DedupConfig, Deduplicator
from newsdedup._exceptions import ConfigError, StoreBusy, StoreError
from newsdedup._store import open_store
from redis_server import RedisServer, redis_server_or_skip
from test_state_contract import make_corpus

redis = pytest.importorskip("redis")


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with redis_server_or_skip() as srv:
        yield srv


@pytest.fixture
def client(server: RedisServer) -> Iterator[object]:
    r = redis.Redis(port=server.port)
    r.flushdb()
    yield r
    r.close()


def test_keys_are_prefixed_by_name_and_config_fingerprint(server: RedisServer, client) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"{server.url}?name=prod")
    d = Deduplicator(store=store)
    d.add_many(make_corpus(6, seed=1))
    d.emit_changed(lambda clusters: None)
    fp = DedupConfig().fingerprint()
    keys = sorted(k.decode() for k in client.keys("*"))
    assert keys
    assert all(k.startswith("newsdedup:prod:") for k in keys)
    state_keys = [k for k in keys if k.count(":") >= 3]
    assert all(k.startswith(f"newsdedup:prod:{fp}:") for k in state_keys)
    assert f"newsdedup:prod:{fp}:lock" not in keys  # released after each batch
    # stored values are plain: JSON edges, zlib-compressed JSON articles
    item_key = next(k for k in keys if ":item:" in k)
    article = json.loads(zlib.decompress(client.hget(item_key, "article")))
    assert article["id"] == item_key.split(":item:", 1)[1]
    for raw in client.lrange(f"newsdedup:prod:{fp}:edges", 0, -1):
        assert len(json.loads(raw)) == 6
    store.close()


def test_two_names_are_two_independent_indexes(server: RedisServer, client) -> None:  # type: ignore[no-untyped-def]
    items = make_corpus(6, seed=2)
    a = Deduplicator(store=open_store(f"{server.url}?name=a"))
    a.add_many(items)
    b = Deduplicator(store=open_store(f"{server.url}?name=b"))
    assert len(b) == 0
    assert b.add_many(items[:3])[0].status != "already-seen"


def test_waiting_for_a_held_lock_ends_in_store_busy(server: RedisServer, client) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"{server.url}?name=busy", busy_timeout=0.2)
    d = Deduplicator(store=store)
    fp = DedupConfig().fingerprint()
    client.set(f"newsdedup:busy:{fp}:lock", "someone-else", px=10_000)
    with pytest.raises(StoreBusy, match="lock"):
        d.add_many(make_corpus(4, seed=3))
    client.delete(f"newsdedup:busy:{fp}:lock")
    d.add_many(make_corpus(4, seed=3))
    assert len(d) > 0


def test_a_batch_whose_lock_expired_is_not_written(server: RedisServer, client) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"{server.url}?name=fence", busy_timeout=0.2)
    d = Deduplicator(store=store)
    fp = DedupConfig().fingerprint()
    lock = f"newsdedup:fence:{fp}:lock"
    original = d._match

    def stall_then_lose_lock(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = original(*args, **kwargs)
        client.set(lock, "another-worker")  # our lock expired and another worker took it
        return out

    d._match = stall_then_lose_lock  # type: ignore[method-assign]
    with pytest.raises(StoreBusy, match="lock"):
        d.add_many(make_corpus(4, seed=4))
    assert client.llen(f"newsdedup:fence:{fp}:log") == 0  # nothing half-written
    client.delete(lock)
    fresh = Deduplicator(store=open_store(f"{server.url}?name=fence"))
    assert len(fresh) == 0


def test_unreachable_redis_is_a_store_error_with_the_cause_kept() -> None:
    with pytest.raises(StoreError) as info:
        open_store("redis://127.0.0.1:1/0", socket_timeout=0.5)
    assert isinstance(info.value.__cause__, redis.exceptions.ConnectionError)


def test_bad_names_are_config_errors(server: RedisServer) -> None:
    with pytest.raises(ConfigError):
        open_store(f"{server.url}?name=a:b")
