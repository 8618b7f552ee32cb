"""The Redis store's own guarantees: deterministic key prefixes, plain encodings, the per-index
lock and its fencing, and redis errors surfacing as StoreError with the original kept."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsdedup._dedup import DedupConfig, Deduplicator
from newsdedup._exceptions import ConfigError, MissingDependency, StoreBusy, StoreCorrupt, StoreError
from newsdedup._store import open_store
from redis_server import RedisServer, redis_server_or_skip
from test_state_contract import assert_closed_store_refuses, make_corpus, write_jsonl

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


@pytest.mark.parametrize("key", ["hw", "time", "schema", "edge"])
def test_a_damaged_number_in_redis_is_store_corrupt_not_a_traceback(
    server: RedisServer, client, key: str
) -> None:  # type: ignore[no-untyped-def]
    """Audit S6: text where the store keeps a number (the high-water mark, an item's time, the
    schema version, an edge's score) is StoreCorrupt naming what is damaged, not a ValueError
    traceback (or, for an edge, a string taken for a score)."""
    url = f"{server.url}?name=dmg"
    Deduplicator(store=open_store(url)).add_many(make_corpus(3, seed=4))
    base = f"newsdedup:dmg:{DedupConfig().fingerprint()}:"
    if key == "hw":
        client.set(base + "hw", b"xyz")
    elif key == "time":
        client.hset(next(k for k in client.keys(base + "item:*")), "time", b"xyz")
    elif key == "edge":  # a score that is not a number
        a, b, kind, _, cont, align = json.loads(client.lindex(base + "edges", 0))
        client.lset(base + "edges", 0, json.dumps([a, b, kind, "high", cont, align]))
    else:
        client.set("newsdedup:dmg:schema", b"xyz")
    with pytest.raises(StoreCorrupt, match="damaged"):
        Deduplicator(store=open_store(url))


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


def test_a_lock_left_by_a_killed_worker_is_waited_out_by_default(server: RedisServer, client) -> None:  # type: ignore[no-untyped-def]
    """A killed worker's lock can only expire (after ``lock_ttl``); a worker started right
    after waited only 30 s against the default 60 s TTL and failed with StoreBusy. The wait
    now defaults to the TTL plus 15 s."""
    assert open_store(f"{server.url}?name=ttl")._busy_timeout == 75.0  # type: ignore[attr-defined]
    store = open_store(f"{server.url}?name=orphan", lock_ttl=1.0)
    assert store._busy_timeout == 16.0  # type: ignore[attr-defined]
    d = Deduplicator(store=store)
    fp = DedupConfig().fingerprint()
    client.set(f"newsdedup:orphan:{fp}:lock", "killed-worker", px=1000)  # as kill -9 leaves it
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


def test_a_closed_store_refuses_to_be_used(server: RedisServer, client) -> None:  # type: ignore[no-untyped-def]
    """redis-py reconnects on the next command, so a closed store went on reading and writing
    as if open (the SQLite store called itself damaged): it is a StoreError saying it is closed,
    nothing is written after the close, and the store opens again with what came before."""
    url = f"{server.url}?name=closed"
    items = make_corpus(6, seed=6)
    store = open_store(url)
    d = Deduplicator(store=store)
    d.add_many(items[:3])
    store.close()
    keys = sorted(client.keys("*"))
    assert_closed_store_refuses(store, d, items[3:])  # and closing twice is harmless
    assert sorted(client.keys("*")) == keys
    with open_store(url) as again:
        assert len(Deduplicator(store=again)) == 3


def test_bad_names_are_config_errors(server: RedisServer) -> None:
    with pytest.raises(ConfigError):
        open_store(f"{server.url}?name=a:b")


# --------------------------------------------------------------------------------------------
# The redis client not installed (audit P5)

_NO_REDIS = '''
"""Loaded by the child process (PYTHONPATH): the redis package cannot be imported, as when
newsdedup is installed without its [redis] extra."""
import sys


class _NoRedis:
    def find_spec(self, name, path=None, target=None):
        if name == "redis" or name.startswith("redis."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoRedis())
'''


def test_open_store_without_the_redis_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit P5. Guards: a ``redis://`` store without the redis client installed is a
    MissingDependency (also an ImportError) whose message is the install hint for the
    ``newsdedup[redis]`` extra, raised before any connection is tried."""
    monkeypatch.setitem(sys.modules, "redis", None)  # ``import redis`` now fails
    with pytest.raises(MissingDependency, match=re.escape("pip install 'newsdedup[redis]'")) as info:
        open_store("redis://127.0.0.1:1/0")
    assert isinstance(info.value, ImportError)
    assert isinstance(info.value.__cause__, ImportError)


@pytest.mark.parametrize(
    "args",
    [
        ["dedup", "{src}", "--state", "redis://127.0.0.1:1/0", "-o", "-"],
        ["export", "--state", "redis://127.0.0.1:1/0"],
    ],
    ids=["dedup", "export"],
)
def test_cli_state_redis_without_the_package_is_one_line_and_exit_1(tmp_path: Path, args: list[str]) -> None:
    """Audit P5 through the command line, in a process where ``import redis`` fails: ``--state
    redis://...`` ends with the install hint naming ``newsdedup[redis]`` on stderr, exit 1, no
    traceback, nothing on stdout."""
    (tmp_path / "sitecustomize.py").write_text(_NO_REDIS, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    src = write_jsonl(tmp_path / "in.jsonl", make_corpus(4, seed=9))
    argv = [a.format(src=src) for a in args]
    probe = subprocess.run([sys.executable, "-c", "import redis"], env=env, capture_output=True, text=True,
                           timeout=60)  # fmt: skip
    assert probe.returncode == 1  # the block works
    assert "No module named 'redis'" in probe.stderr
    child = subprocess.run(
        [sys.executable, "-c", "from newsdedup._cli import main; main()", *argv],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert child.returncode == 1, child.stderr
    assert "Traceback" not in child.stderr
    assert (
        child.stderr.strip()
        == "Error: the Redis store needs the redis client: pip install 'newsdedup[redis]'"
    )
    assert child.stdout == ""
