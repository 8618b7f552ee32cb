"""``copy_store`` / ``newsdedup copy-state``: a copy of a store behaves exactly like the store.

A realistic store is built by real runs (the API and ``dedup --state``) over a generated news
stream with syndicated copies and the hand-written story fixtures: emitted and pending
clusters, expired items, an update of an existing id, seen URLs, a fetch-cache entry and saved
learners. It is copied SQLite -> SQLite, SQLite -> Redis and Redis -> SQLite, and the copy is
read back through the stores' own read methods (not the copy's dump), exported, and run on.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import newsdedup
from newsdedup import BoilerplateLearner, Deduplicator, StoreCorrupt, StoreError, StoreNotEmpty, copy_store
from newsdedup._cli import main
from newsdedup._exceptions import ConfigError
from newsdedup._store import open_store
from redis_server import RedisServer, redis_server_or_skip
from test_state_contract import FIXTURES, make_corpus, write_jsonl

WINDOW = "72h"
CORPUS = make_corpus(16, seed=21, start=datetime(2024, 10, 20, 6, 0, tzinfo=UTC))  # beside the stories
STORIES = [json.loads(line) for line in (FIXTURES / "stories" / "hard_cases.jsonl").read_text().splitlines()]
DATED = [s for s in STORIES if s.get("published")]  # an undated item's time is its ingest time
ITEM_FIELDS = ("seq", "id", "time", "ingested", "n_shingles", "text_hash", "site", "paras", "bands")
N1, N2, N3 = (len(CORPUS) * k // 8 for k in (3, 5, 6))  # API run, CLI run, pending, later run


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with redis_server_or_skip() as srv:
        yield srv


class Stores:
    """Names fresh stores of either backend (the Redis server is only started when asked)."""

    def __init__(self, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        self.tmp_path, self.request, self.n = tmp_path, request, 0

    def new(self, kind: str) -> str:
        self.n += 1
        if kind == "sqlite":
            return str(self.tmp_path / f"store{self.n}.db")
        server: RedisServer = self.request.getfixturevalue("server")
        return f"{server.url}?name=copy{self.n}-{id(self)}"


@pytest.fixture
def stores(tmp_path: Path, request: pytest.FixtureRequest) -> Stores:
    return Stores(tmp_path, request)


def invoke(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result


def build(url: str, tmp_path: Path) -> None:
    """Everything a store can hold, through real runs."""
    store = open_store(url)
    d = Deduplicator(store=store, window=WINDOW)
    d.add_many(CORPUS[:N1])
    assert d.emit_changed(lambda clusters: None)  # emitted clusters
    store.close()
    # a run of the command line, with an update: a run-1 id seen again with another text
    first = CORPUS[0]
    changed = {**first, "text": first["text"] + "\n\nCorrection: an earlier version misstated the figures."}
    part = write_jsonl(tmp_path / "part2.jsonl", [*CORPUS[N1:N2], changed])
    invoke("dedup", str(part), "--state", url, "--window", WINDOW, "-o", str(tmp_path / "part2.out.jsonl"))
    store = open_store(url)
    d = Deduplicator(store=store, window=WINDOW)
    d.add_many(CORPUS[N2:N3] + DATED[:2])  # committed, never emitted: pending
    store.mark_seen([i["url"] for i in CORPUS[:6] if i.get("url")])
    store.fetch_cache().put(
        "https://wire.example/feed.xml", etag='"v7"', last_modified="Tue, 01 Oct 2024 06:00:00 GMT",
        body=b"<rss><channel><title>Wire</title></channel></rss>", content_type="application/rss+xml",
        final_url="https://wire.example/feed/", headers={"cache-control": "max-age=300"},
    )  # fmt: skip
    pages = [(s["site"], [*s["text"].split("\n\n"), "Subscribe to our newsletter."]) for s in STORIES]
    store.save_learner(BoilerplateLearner(min_pages=2).fit(pages))
    store.save_learner(BoilerplateLearner(min_pages=3, min_fraction=0.1).fit(pages), name="crawl")
    store.close()


def contents(url: str) -> dict[str, Any]:
    """What a store holds, read with its own read methods (independent of the copy's dump)."""
    store = open_store(url, create=False)
    try:
        config, fingerprint = store.stored_config(), store.fingerprint()
        assert config is not None
        assert fingerprint is not None
        store.bind("default", fingerprint, config)
        with store.snapshot() as txn:
            items, edges = txn.changes(0, 0)
            high_water, pending = txn.high_water(), txn.pending_ids()
        articles = store.get_articles(i.id for i in items)
        learners = {n: store.load_learner(n) for n in ("default", "crawl")}
        feed = store.fetch_cache().get("https://wire.example/feed.xml")
        return {
            "fingerprint": fingerprint,
            "config": config,
            "high_water": high_water,
            "items": [tuple(getattr(i, f) for f in ITEM_FIELDS) for i in items],
            "articles": {k: a.to_dict() for k, a in articles.items()},
            "edges": [(e.seq, e.a, e.b, e.kind, e.jaccard, e.containment, e.align) for e in edges],
            "pending": pending,
            "clusters": store.stored_clusters(),
            "unseen": store.unseen(i["url"] for i in CORPUS if i.get("url")),
            "feed": feed,
            "learners": {n: x.to_dict() if x else None for n, x in learners.items()},
            "counts": store.counts(),
        }
    finally:
        store.close()


def dumped(url: str) -> dict[str, Any]:
    """What only the dump reads: cluster ids per item, emit times, updates."""
    store = open_store(url, create=False)
    try:
        binding = store.binding()
        assert binding is not None
        store.bind("default", binding.fingerprint, binding.config)
        with store.snapshot() as txn:
            chunks = list(txn.dump(7))
        return {
            "owners": [(i.row.id, i.cluster_id, i.pending) for c in chunks for i in c.items],
            "clusters": sorted((c.row.cluster_id, c.emitted_at) for ch in chunks for c in ch.clusters),
            "updates": sorted((u.id, u.text_hash, u.seen_at) for c in chunks for u in c.updates),
        }
    finally:
        store.close()


def export(url: str) -> bytes:
    return bytes(invoke("export", "--state", url).stdout_bytes)


PAIRS = [("sqlite", "sqlite"), ("sqlite", "redis"), ("redis", "sqlite"), ("redis", "redis")]


@pytest.mark.parametrize(("src_kind", "dst_kind"), PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_the_copy_holds_everything_and_runs_on_like_the_source(
    stores: Stores, tmp_path: Path, src_kind: str, dst_kind: str
) -> None:
    source, target = stores.new(src_kind), stores.new(dst_kind)
    build(source, tmp_path)
    before = contents(source)
    counts = before["counts"]
    # the store is the realistic case: every kind of state is there
    assert 0 < counts["indexed"] < counts["items"]  # some items expired out of the window
    assert counts["pending"]
    assert counts["clusters"]
    assert counts["edges"]
    assert counts["updates"] == 1
    assert counts["seen_urls"] == 6
    assert counts["fetch_cache"] == 1
    assert counts["learners"] == 2

    copied = copy_store(source, target, batch=5)  # small chunks: every page boundary is crossed

    assert copied == counts
    after = contents(target)
    assert after == before
    assert dumped(target) == dumped(source)
    assert export(target) == export(source)

    # a further run with new items: same output, same store afterwards
    later = write_jsonl(tmp_path / "later.jsonl", CORPUS[N3:] + DATED[2:])
    out_src, out_dst = tmp_path / "src.out.jsonl", tmp_path / "dst.out.jsonl"
    for url, out in ((source, out_src), (target, out_dst)):
        invoke("dedup", str(later), "--state", url, "--window", WINDOW, "-o", str(out))
    assert out_dst.read_bytes() == out_src.read_bytes()
    rows = [json.loads(line) for line in out_src.read_text().splitlines()]
    stored = {i["id"] for i in CORPUS[:N3]}
    assert any(
        stored & set(r["member_ids"]) and set(r["member_ids"]) - stored for r in rows
    )  # matched old items
    # (the runs' own times differ: the new items' ingest times, the emit times)
    new_ids = {i["id"] for i in CORPUS[N3:] + DATED[2:]}
    assert settled(contents(target), new_ids) == settled(contents(source), new_ids)
    assert {**dumped(target), "clusters": None} == {**dumped(source), "clusters": None}
    assert export(target) == export(source)


def settled(held: dict[str, Any], new_ids: set[str]) -> dict[str, Any]:
    """``held`` without the ingest times of ``new_ids`` (each run stamps its own)."""
    items = [(*i[:3], None if i[1] in new_ids else i[3], *i[4:]) for i in held["items"]]
    return {**held, "items": items}


@pytest.mark.parametrize("dst_kind", ["sqlite", "redis"])
def test_a_target_holding_state_is_refused_and_left_as_it_was(
    stores: Stores, tmp_path: Path, dst_kind: str
) -> None:
    source, target = stores.new("sqlite"), stores.new(dst_kind)
    build(source, tmp_path)
    store = open_store(target)
    Deduplicator(store=store, window=WINDOW).add_many(DATED[:3])
    store.close()
    held = contents(target)
    with pytest.raises(StoreNotEmpty, match=r"already holds state \(3 items.*replace"):
        copy_store(source, target)
    assert contents(target) == held
    assert copy_store(source, target, replace=True)["items"] == contents(source)["counts"]["items"]
    assert contents(target) == contents(source)
    assert export(target) == export(source)


@pytest.mark.parametrize("dst_kind", ["sqlite", "redis"])
def test_a_target_with_only_crawl_state_is_refused_too(stores: Stores, tmp_path: Path, dst_kind: str) -> None:
    """Seen URLs of another crawl would silently mix with the source's: not an empty store."""
    source, target = stores.new("sqlite"), stores.new(dst_kind)
    build(source, tmp_path)
    store = open_store(target)
    store.mark_seen(["https://elsewhere.example/a"])
    store.close()
    with pytest.raises(StoreNotEmpty, match="1 seen urls"):
        copy_store(source, target)
    store = open_store(target)
    assert store.is_seen("https://elsewhere.example/a")
    store.close()


@pytest.mark.parametrize("dst_kind", ["sqlite", "redis"])
def test_a_target_bound_to_another_configuration_is_refused(
    stores: Stores, tmp_path: Path, dst_kind: str
) -> None:
    source, target = stores.new("sqlite"), stores.new(dst_kind)
    build(source, tmp_path)
    store = open_store(target)
    Deduplicator(store=store, num_perm=64)  # bound, holds nothing
    store.close()
    with pytest.raises(StoreNotEmpty, match="different dedup configuration"):
        copy_store(source, target)
    copy_store(source, target, replace=True)
    assert contents(target) == contents(source)


def test_an_empty_target_bound_to_the_same_configuration_takes_the_sources_settings(
    stores: Stores, tmp_path: Path
) -> None:
    """Same fingerprint, other settings that do not change signatures: the target holds
    nothing, so it is filled and takes the source's settings (the copy must run as the source)."""
    source, target = stores.new("sqlite"), stores.new("sqlite")
    build(source, tmp_path)
    store = open_store(target)
    Deduplicator(store=store, containment_threshold=0.95)
    store.close()
    copy_store(source, target)
    assert contents(target) == contents(source)


def test_the_command_line_copies_and_refuses(stores: Stores, tmp_path: Path) -> None:
    source, target = stores.new("sqlite"), tmp_path / "backup.db"
    build(source, tmp_path)
    counts = contents(source)["counts"]
    result = CliRunner().invoke(main, ["copy-state", source, str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"newsdedup copy-state: {counts['items']} items ({counts['indexed']} indexed,"
    )
    assert f"{counts['seen_urls']} seen URLs, 1 fetch-cache entries, 2 learners" in result.stderr
    assert export(str(target)) == export(source)

    again = CliRunner().invoke(main, ["copy-state", source, str(target)])
    assert again.exit_code == 1
    assert "Error: state store:" in again.stderr
    assert "already holds state" in again.stderr
    assert "--replace" in again.stderr
    assert CliRunner().invoke(main, ["copy-state", source, str(target), "--replace"]).exit_code == 0

    onto_itself = CliRunner().invoke(main, ["copy-state", source, source])
    assert onto_itself.exit_code == 2
    assert "onto itself" in onto_itself.stderr


def test_the_command_line_on_a_missing_or_unusable_source(tmp_path: Path) -> None:
    target = tmp_path / "target.db"
    missing = CliRunner().invoke(main, ["copy-state", str(tmp_path / "nope.db"), str(target)])
    assert missing.exit_code == 1
    assert missing.stderr.strip() == f"Error: state store: {tmp_path / 'nope.db'}: no such store"
    assert not (tmp_path / "nope.db").exists()
    assert not target.exists()

    text = tmp_path / "items.jsonl"
    text.write_text('{"id": "a", "text": "not a store"}\n')
    corrupt = CliRunner().invoke(main, ["copy-state", str(text), str(target)])
    assert corrupt.exit_code == 1
    assert "not a newsdedup store" in corrupt.stderr
    assert text.read_text() == '{"id": "a", "text": "not a store"}\n'
    assert not target.exists()

    unbound = tmp_path / "new.db"
    open_store(unbound).close()
    empty = CliRunner().invoke(main, ["copy-state", str(unbound), str(target)])
    assert empty.exit_code == 1
    assert "holds no dedup state" in empty.stderr
    assert not target.exists()  # the target file this copy would have created is gone again
    onto_itself = CliRunner().invoke(main, ["copy-state", str(unbound), str(unbound)])
    assert onto_itself.exit_code == 2
    assert unbound.exists()  # an existing file is never removed


def test_a_damaged_source_item_stops_the_copy_and_leaves_no_target(stores: Stores, tmp_path: Path) -> None:
    """A damaged article is refused (StoreCorrupt naming it), not carried into the copy; the
    target file the copy created is removed, and an existing target is left as it was (one
    SQLite transaction)."""
    source = stores.new("sqlite")
    build(source, tmp_path)
    db = sqlite3.connect(source)
    db.execute("UPDATE items SET article = x'00ff00' WHERE id = ?", (CORPUS[20]["id"],))
    db.commit()
    db.close()
    target = tmp_path / "copy.db"
    result = CliRunner().invoke(main, ["copy-state", source, str(target)])
    assert result.exit_code == 1
    assert CORPUS[20]["id"] in result.stderr
    assert "cannot be decoded" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("copy.db")) == []

    other = stores.new("sqlite")
    store = open_store(other)
    Deduplicator(store=store, window=WINDOW).add_many(DATED[:3])
    store.close()
    held = contents(other)
    with pytest.raises(StoreCorrupt):
        copy_store(source, other, replace=True, batch=5)  # fails after the target was emptied
    assert contents(other) == held


@pytest.mark.parametrize("damage", ["item-field", "cluster-field"])
def test_a_redis_record_missing_a_field_is_store_corrupt(stores: Stores, tmp_path: Path, damage: str) -> None:
    """A Redis record without one of its fields (an item's text hash, a cluster's canonical
    reason) stops the copy with StoreCorrupt and exit 1, not a KeyError traceback."""
    import redis

    source = stores.new("redis")
    build(source, tmp_path)
    r = redis.Redis.from_url(source.split("?")[0])
    base = "newsdedup:" + source.rsplit("name=", 1)[1] + ":"  # this store's keys (the server is shared)
    if damage == "item-field":
        [key] = r.keys(f"{base}*:item:{CORPUS[20]['id']}")
        assert r.hdel(key, "th") == 1
    else:
        [key] = r.keys(f"{base}*:clusters")
        cid, raw = next(iter(r.hgetall(key).items()))
        row = json.loads(raw)
        del row["canonical_reason"]
        r.hset(key, cid, json.dumps(row))
    with pytest.raises(StoreCorrupt):
        copy_store(source, str(tmp_path / "a.db"))
    result = CliRunner().invoke(main, ["copy-state", source, str(tmp_path / "b.db")])
    assert result.exit_code == 1, result.output
    assert "is damaged" in result.stderr
    assert not (tmp_path / "a.db").exists()
    assert not (tmp_path / "b.db").exists()


def test_a_redis_copy_that_fails_part_way_says_so(
    stores: Stores, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source, target = stores.new("sqlite"), stores.new("redis")
    build(source, tmp_path)
    db = sqlite3.connect(source)
    db.execute("UPDATE items SET article = x'00ff00' WHERE id = ?", (CORPUS[20]["id"],))
    db.commit()
    db.close()
    with caplog.at_level(logging.WARNING, logger="newsdedup"), pytest.raises(StoreCorrupt):
        copy_store(source, target, batch=5)
    assert "partial index" in caplog.text
    with pytest.raises(StoreNotEmpty):  # the partial copy is not taken for an empty store
        copy_store(source, target)


def test_replacing_a_redis_store_from_a_damaged_source_leaves_it_as_it_was(
    stores: Stores, tmp_path: Path
) -> None:
    """A Redis target is written chunk by chunk, so --replace would empty it before the damaged
    item is met: the source is read through first, and the live index stays whole."""
    source, target = stores.new("sqlite"), stores.new("redis")
    build(source, tmp_path)
    store = open_store(target)
    Deduplicator(store=store, window=WINDOW).add_many(DATED[:3])
    store.close()
    held = contents(target)
    db = sqlite3.connect(source)
    db.execute("UPDATE items SET article = x'00ff00' WHERE id = ?", (CORPUS[N3 - 1]["id"],))  # near the end
    db.commit()
    db.close()
    with pytest.raises(StoreCorrupt):
        copy_store(source, target, replace=True, batch=5)
    assert contents(target) == held


def test_memory_stays_bounded_chunks_are_at_most_batch_rows(
    stores: Stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsdedup._store import _sqlite

    source, target = stores.new("sqlite"), stores.new("sqlite")
    build(source, tmp_path)
    sizes: list[int] = []
    load = _sqlite._Txn.load

    def spy(self: Any, chunk: Any) -> None:
        sizes.append(max(chunk.counts().values()))
        load(self, chunk)

    monkeypatch.setattr(_sqlite._Txn, "load", spy)
    copied = copy_store(source, target, batch=4)
    assert max(sizes) == 4
    assert len(sizes) > copied["items"] // 4 + copied["edges"] // 4
    assert contents(target) == contents(source)


def test_a_redis_store_is_not_copied_onto_itself_under_another_spelling(
    stores: Stores, tmp_path: Path
) -> None:
    """``--replace`` onto the source itself would empty it before reading it."""
    source = stores.new("redis")
    build(source, tmp_path)
    held = contents(source)
    same = source.replace("127.0.0.1", "localhost")
    with pytest.raises(ConfigError, match="onto itself"):
        copy_store(source, same, replace=True)
    assert contents(source) == held
    copy_store(source, source.replace("?name=", "?name=other-"))  # another name on the server is fine


def test_bad_arguments(stores: Stores, tmp_path: Path) -> None:
    source = stores.new("sqlite")
    build(source, tmp_path)
    with pytest.raises(ConfigError, match="onto itself"):
        copy_store(source, Path(source))
    with pytest.raises(ConfigError, match="batch"):
        copy_store(source, tmp_path / "t.db", batch=0)
    with pytest.raises(StoreError, match="no such store"):
        copy_store(tmp_path / "missing.db", tmp_path / "t.db")
    assert not (tmp_path / "t.db").exists()
    assert "copy_store" in newsdedup.__all__
    assert "StoreNotEmpty" in newsdedup.__all__
