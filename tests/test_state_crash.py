"""Crash safety and concurrent writers, with real ``newsdedup dedup --state`` processes:
SIGKILL mid-run then resume loses and duplicates nothing; two processes on one store agree
with one run over all items."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from newsdedup._dedup import Deduplicator
from newsdedup._models import Cluster
from newsdedup._store import open_store
from newsdedup._story import assign_stories
from redis_server import RedisServer, redis_server_or_skip
from test_state_contract import make_corpus, partition_of, write_jsonl


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from newsdedup._cli import main; main()", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def _stored_items(db: Path) -> int:
    """Committed items, read the way any other process would (a read-only connection)."""
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return int(con.execute("SELECT count(*) FROM items").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0  # not created yet


def _read_clusters(path: Path) -> list[Cluster]:
    return [Cluster.from_dict(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]


def _kill_after(proc: subprocess.Popen[bytes], db: Path, at_least: int, limit: float = 60) -> int:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        n = _stored_items(db)
        if n >= at_least:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return n
        if proc.poll() is not None:
            pytest.fail(f"dedup finished before it could be killed (exit {proc.returncode})")
        time.sleep(0.01)
    proc.kill()
    pytest.fail("no batch was committed in time")


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    items = make_corpus(200, seed=2)  # ~650 items: three 256-item batches
    src = write_jsonl(tmp_path / "in.jsonl", items)
    db = tmp_path / "state.db"
    out = tmp_path / "out.jsonl"

    # first run: killed as soon as its first batch is committed
    proc = subprocess.Popen(_cli("dedup", str(src), "--state", str(db), "-o", str(out)), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    first = _kill_after(proc, db, 1)
    assert proc.returncode == -signal.SIGKILL
    assert 0 < first < len(items)
    assert not out.exists()  # the output is written atomically at the end, never half
    # second run on the same input: killed again, later
    proc = subprocess.Popen(_cli("dedup", str(src), "--state", str(db), "-o", str(out)), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    second = _kill_after(proc, db, first + 1)
    assert second > first
    # the store is readable after the kills: no item twice, no half batch
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        ids = [r[0] for r in con.execute("SELECT id FROM items")]
    assert len(ids) == len(set(ids))

    # third run completes
    done = subprocess.run(_cli("dedup", str(src), "--state", str(db), "-o", str(out)), env=_env(),
                          capture_output=True, check=False, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    emitted = _read_clusters(out)

    reference = Deduplicator()
    reference.add_many(items)
    ref = assign_stories(reference.clusters())  # the CLI adds story ids over every stored cluster
    # nothing was ever emitted before, so this output holds every cluster, exactly once
    assert [c.to_dict() for c in emitted] == [c.to_dict() for c in ref]
    exported = tmp_path / "all.jsonl"
    subprocess.run(_cli("export", "--state", str(db), "-o", str(exported)), check=True, timeout=120)
    assert [c.to_dict() for c in _read_clusters(exported)] == [c.to_dict() for c in ref]
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM items").fetchone()[0] == len(items)
        assert con.execute("SELECT count(*) FROM items WHERE pending = 1").fetchone()[0] == 0

    # a fourth run over the same input emits nothing and changes nothing
    again = subprocess.run(_cli("dedup", str(src), "--state", str(db), "-o", str(out)), env=_env(),
                           capture_output=True, check=False, timeout=120)  # fmt: skip
    assert again.returncode == 0
    assert out.read_text(encoding="utf-8") == ""


@pytest.fixture(params=["sqlite", "redis"])
def shared_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "shared.db")
        return
    with redis_server_or_skip() as server:
        assert isinstance(server, RedisServer)
        yield f"{server.url}?name=workers"


@pytest.mark.slow
def test_two_processes_writing_one_store_agree_with_one_run(tmp_path: Path, shared_target: str) -> None:
    items = make_corpus(70, seed=4)
    half = len(items) // 2
    a = write_jsonl(tmp_path / "a.jsonl", items[:half])
    b = write_jsonl(tmp_path / "b.jsonl", items[half:])
    procs = [
        subprocess.Popen(_cli("dedup", str(src), "--state", shared_target, "-o", str(tmp_path / f"{src.stem}.out")),
                         env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for src in (a, b)
    ]  # fmt: skip
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()

    reference = Deduplicator()
    reference.add_many(items)
    ref = reference.clusters()
    store = open_store(shared_target)
    got = Deduplicator(store=store).clusters()
    assert partition_of(got) == partition_of(ref)
    assert [c.to_dict() for c in got] == [c.to_dict() for c in ref]
    assert store.counts()["items"] == len(items)
    # every item went out in exactly one of the two outputs' *latest* cluster versions
    emitted = [m for src in ("a", "b") for c in _read_clusters(tmp_path / f"{src}.out") for m in c.member_ids]
    assert set(emitted) == {i["id"] for i in items}
    store.close()
