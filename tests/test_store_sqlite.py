"""The SQLite store: files that are not ours are refused and left byte-for-byte unchanged,
schema versions and migrations, WAL and synchronous settings, a busy writer, CLI errors."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsdedup._cli import main
from newsdedup._dedup import Deduplicator
from newsdedup._exceptions import ConfigError, StoreBusy, StoreCorrupt, StoreError, StoreSchemaError
from newsdedup._store import SQLiteStore, open_store
from newsdedup._store._base import SCHEMA_VERSION
from newsdedup._store._sqlite import _MIGRATIONS, APPLICATION_ID
from test_state_contract import assert_closed_store_refuses, make_corpus, write_jsonl


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _built_store(path: Path, n: int = 8) -> Path:
    store = open_store(path)
    d = Deduplicator(store=store)
    d.add_many(make_corpus(n, seed=13))
    store.close()
    return path


def _text_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("These are my notes, not a database.\n" * 50, encoding="utf-8")
    return path


def _foreign_db(tmp_path: Path) -> Path:
    path = tmp_path / "app.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO users (name) VALUES ('ada'), ('grace')")
    con.commit()
    con.close()
    return path


def _damaged_store(tmp_path: Path) -> Path:
    path = _built_store(tmp_path / "damaged.db", n=30)
    with sqlite3.connect(path) as con:  # fold the WAL into the main file first
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 6 * page
    for start in range(2 * page, len(data), page):  # scribble over every page after the first two
        data[start + 8 : start + 200] = b"\xa5" * 192
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("make", "error"),
    [(_text_file, StoreCorrupt), (_foreign_db, StoreCorrupt), (_damaged_store, StoreCorrupt)],
    ids=["text-file", "foreign-sqlite", "damaged-store"],
)
def test_foreign_or_damaged_files_are_refused_and_untouched(tmp_path: Path, make, error) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    before = _digest(path)

    def use() -> None:
        store = open_store(path)
        Deduplicator(store=store).add_many(make_corpus(4, seed=1))

    with pytest.raises(error):
        use()
    assert _digest(path) == before


@pytest.mark.parametrize(
    "make", [_text_file, _foreign_db, _damaged_store], ids=["text", "foreign", "damaged"]
)
def test_cli_refuses_them_with_a_message_and_nonzero_exit(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    before = _digest(path)
    src = write_jsonl(tmp_path / "in.jsonl", make_corpus(6, seed=2))
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["dedup", str(src), "--state", str(path), "-o", str(out)])
    assert result.exit_code != 0
    assert "state store" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert _digest(path) == before
    exported = CliRunner().invoke(main, ["export", "--state", str(path), "-o", str(out)])
    assert exported.exit_code != 0
    assert _digest(path) == before


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE meta SET value = 'abc' WHERE key = 'high_water'",
        "UPDATE items SET time = 'yesterday' WHERE seq = 1",
        "UPDATE items SET n_shingles = 'many' WHERE seq = 2",
        "UPDATE edges SET jaccard = 'high' WHERE seq = (SELECT MIN(seq) FROM edges)",
        "UPDATE meta SET value = '1e400' WHERE key = 'high_water'",  # inf: a window expired all
        "UPDATE items SET bands = x'01020304' WHERE seq = (SELECT MIN(seq) FROM items WHERE bands IS NOT NULL)",
    ],
    ids=["high-water", "item-time", "item-shingles", "edge-score", "high-water-infinite", "bucket-key-count"],
)
def test_a_damaged_number_in_the_store_is_store_corrupt_not_a_traceback(tmp_path: Path, damage: str) -> None:
    """Audit S6: text where the store keeps a number (SQLite stores any type in any column) is
    StoreCorrupt naming what is damaged; ``dedup --state`` and ``export`` exit 1 with one line
    and leave the file as it was (it was a ValueError traceback, or a TypeError later on)."""
    path = _built_store(tmp_path / "s.db")
    with sqlite3.connect(path) as con:
        con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('high_water', '1700000000.0')")
        con.execute(damage)
    before = _digest(path)
    with pytest.raises(StoreCorrupt, match="damaged"):
        Deduplicator(store=open_store(path))
    src = write_jsonl(tmp_path / "in.jsonl", make_corpus(2, seed=3))
    for args in (["dedup", str(src), "--state", str(path), "-o", str(tmp_path / "o.jsonl")],
                 ["export", "--state", str(path), "-o", str(tmp_path / "e.jsonl")]):  # fmt: skip
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, result.output
        assert "state store" in result.output
        assert "damaged" in result.output
        assert "Traceback" not in result.output
    assert _digest(path) == before


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = _built_store(tmp_path / "s.db")
    with sqlite3.connect(path) as con:
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    before = _digest(path)
    with pytest.raises(StoreSchemaError, match="newer"):
        open_store(path)
    assert _digest(path) == before


def test_an_old_schema_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    for statement in _MIGRATIONS[1]:
        con.execute(statement)
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    store = SQLiteStore(path)
    assert store.schema_version == SCHEMA_VERSION
    d = Deduplicator(store=store)
    d.add_many(make_corpus(6, seed=3))
    assert store.counts()["updates"] == 0  # the table added by version 2 exists
    store.close()


def test_wal_mode_synchronous_and_application_id(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", synchronous="full")
    db = store._db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    store.close()
    default = SQLiteStore(tmp_path / "s.db")
    assert default._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    default.close()
    with pytest.raises(ConfigError, match="synchronous"):
        SQLiteStore(tmp_path / "x.db", synchronous="sometimes")


def test_a_writer_waits_then_fails_clearly_with_store_busy(tmp_path: Path) -> None:
    path = _built_store(tmp_path / "s.db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a batch
    try:
        store = SQLiteStore(path, busy_timeout=0.2)
        with pytest.raises(StoreBusy) as info:
            Deduplicator(store=store).add_many(make_corpus(4, seed=8))
        assert isinstance(info.value.__cause__, sqlite3.OperationalError)  # the original is kept
        store.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # once the other writer is done, the same store works
    store = SQLiteStore(path, busy_timeout=0.2)
    Deduplicator(store=store).add_many(make_corpus(4, seed=8))
    store.close()


def test_export_reads_beside_a_writer_and_does_not_block_it(tmp_path: Path) -> None:
    """Audit S2: ``newsdedup export`` (and ``Deduplicator.refresh``) read in a read
    transaction. While another process holds the write lock in the middle of a batch, export
    still reads the committed state (it failed with StoreBusy after busy_timeout), and while a
    reader's snapshot is open a writer commits without waiting (export took the write lock
    for its whole load)."""
    path = _built_store(tmp_path / "s.db")
    reference = SQLiteStore(path)
    expected = sorted(tuple(c.member_ids) for c in Deduplicator(store=reference).clusters())
    reference.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a writer in the middle of a batch
    try:
        out = tmp_path / "out.jsonl"
        result = CliRunner().invoke(main, ["export", "--state", str(path), "-o", str(out)])
        assert result.exit_code == 0, result.output
        got = sorted(tuple(json.loads(line)["member_ids"]) for line in out.read_text().splitlines())
        assert got == expected
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    reader = SQLiteStore(path, busy_timeout=0.2)
    writer = SQLiteStore(path, busy_timeout=0.2)
    try:
        with reader.snapshot() as view:
            before = view.changes(0, 0)
            Deduplicator(store=writer).add_many(make_corpus(3, seed=9))  # commits at once
            assert view.changes(0, 0) == before  # the reader keeps its consistent view
        assert reader.counts()["items"] > len(before[0])  # after the view, the new rows are there
    finally:
        reader.close()
        writer.close()


def test_opening_a_new_store_waits_for_another_opener(tmp_path: Path) -> None:
    """SQLite skips its busy handler when switching to WAL under another process's write lock
    (two runs opening one new store at once); the opener waits up to busy_timeout instead."""
    path = tmp_path / "s.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # the other process, halfway through creating the store
    timer = threading.Timer(0.3, holder.execute, ("COMMIT",))
    timer.start()
    try:
        store = SQLiteStore(path, busy_timeout=10)
    finally:
        timer.join()
        holder.close()
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    holder = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # never let go: the wait is bounded
    try:
        with pytest.raises(StoreBusy, match="opening"):
            SQLiteStore(tmp_path / "t.db", busy_timeout=0.2).close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_export_needs_an_existing_store(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    result = CliRunner().invoke(main, ["export", "--state", str(missing)])
    assert result.exit_code != 0
    assert "no such store" in result.output
    assert not missing.exists()
    with pytest.raises(StoreError, match="no such store"):
        open_store(missing, create=False)


def test_unknown_url_scheme_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="scheme"):
        open_store("postgres://localhost/db")


def test_items_carry_text_and_metadata(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    d = Deduplicator(store=store)
    d.add({"id": "x1", "text": make_corpus(5, seed=1)[0]["text"], "url": "https://a.example/x1",
           "title": "A title", "published": "2024-10-02T08:00:00Z", "site": "a.example"})  # fmt: skip
    store.close()
    again = Deduplicator(store=open_store(tmp_path / "s.db"))
    article = again.article("x1")
    assert (article.url, article.title, article.site) == ("https://a.example/x1", "A title", "a.example")
    assert article.published is not None
    assert article.published.isoformat() == "2024-10-02T08:00:00+00:00"
    row = json.loads(json.dumps(again.clusters()[0].to_dict()))
    assert row["member_ids"] == ["x1"]


def test_a_closed_store_says_it_is_closed_not_that_it_is_damaged(tmp_path: Path) -> None:
    """Using a store after ``close()`` was StoreCorrupt ("not a usable newsdedup store"), which
    could get a healthy file deleted: it is a StoreError saying the store is closed, and the
    file is untouched and opens again with everything written before the close."""
    path = tmp_path / "s.db"
    items = make_corpus(6, seed=5)
    store = open_store(path)
    d = Deduplicator(store=store)
    d.add_many(items[:3])
    store.fetch_cache().put("https://a.example/x", etag='"1"', last_modified=None, body=b"<p>x</p>")
    store.close()
    assert_closed_store_refuses(store, d, items[3:])  # and closing twice is harmless
    with open_store(path) as again:
        assert again.counts()["items"] == 3
        assert again.fetch_cache().get("https://a.example/x") is not None


def test_only_a_closed_connection_is_reported_as_closed() -> None:
    """Other programming errors are StoreError too (a bug, not damage); real damage stays
    StoreCorrupt."""
    from newsdedup._store._sqlite import _errors

    with (
        pytest.raises(StoreError, match="writing a batch failed: Incorrect number") as info,
        _errors("/data/s.db", "writing a batch"),
    ):
        raise sqlite3.ProgrammingError("Incorrect number of bindings supplied.")
    assert not isinstance(info.value, StoreCorrupt)
    with pytest.raises(StoreCorrupt), _errors("/data/s.db", "reading"):
        raise sqlite3.DatabaseError("file is not a database")


# --------------------------------------------------------------------------------------------
# A full disk while a batch commits (audit S3)

_WRITE_LIMITED = r'''
"""Runs with the file size limit (RLIMIT_FSIZE) set just above the store's present size, so
a batch that needs more room fails in write(2) (EFBIG; SIGXFSZ is ignored so the process is
not killed), as it would on a full disk."""
import os
import resource
import signal
import sys

path, mode = sys.argv[1], sys.argv[2]


def limit_growth(margin: int = 16 * 1024) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    biggest = max(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    resource.setrlimit(resource.RLIMIT_FSIZE, (biggest + margin, hard))


if mode == "api":
    from newsdedup._exceptions import StoreError
    from newsdedup._store import open_store

    store = open_store(path)
    store.mark_seen([f"https://news.example/kept/{i}" for i in range(100)])
    limit_growth()
    try:  # about 1.2 MB of rows: more than the limit lets the files grow, less than the page cache
        store.mark_seen([f"https://news.example/lost/{i}/" + "x" * 200 for i in range(5000)])
    except StoreError as exc:
        print(f"{type(exc).__name__}: {exc}")
    else:
        print("no error")
    store.close()
else:
    from newsdedup._cli import main

    limit_growth()
    main(["dedup", sys.argv[3], "--state", path, "-o", "-"])
'''

_WRITE_FAILED = r"(disk I/O error|database or disk is full)"


def _write_limited(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WRITE_LIMITED, *args], capture_output=True, text=True, timeout=60,
        env=dict(os.environ),
    )  # fmt: skip


def _integrity(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        con.close()


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE and SIGXFSZ (POSIX)")
def test_a_write_failure_while_committing_is_a_store_error_and_the_file_stays_sound(tmp_path: Path) -> None:
    """Audit S3. Guards: when the disk refuses a batch's writes at COMMIT (here: a real
    write(2) failure from a file size limit in a child process), ``mark_seen`` raises
    StoreError naming the commit, nothing of the batch is kept, the earlier batch is, the file
    passes ``PRAGMA integrity_check`` and the store works again once there is room."""
    path = tmp_path / "s.db"
    child = _write_limited(str(path), "api")
    assert child.returncode == 0, child.stderr
    assert "Traceback" not in child.stderr
    assert re.fullmatch(
        rf"StoreError: {re.escape(str(path))}: committing failed: {_WRITE_FAILED}\n", child.stdout
    )
    assert _integrity(path) == "ok"
    with open_store(path) as store:
        assert store.unseen(["https://news.example/kept/0", "https://news.example/lost/0/" + "x" * 200]) == [
            "https://news.example/lost/0/" + "x" * 200
        ]  # the committed batch is there, the failed one is not
        assert store.mark_seen(["https://news.example/later"]) == 1
        assert store.counts()["seen_urls"] == 101
    assert _integrity(path) == "ok"


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE and SIGXFSZ (POSIX)")
def test_cli_reports_a_failed_commit_clearly_and_the_next_run_works(tmp_path: Path) -> None:
    """Audit S3 through ``newsdedup dedup --state``: a commit the disk refuses is one
    ``Error: state store: ...`` line and exit 1, no traceback; the file stays sound and the next
    run (with room again) completes on it."""
    path = _built_store(tmp_path / "s.db")
    src = write_jsonl(tmp_path / "in.jsonl", make_corpus(24, seed=2))
    child = _write_limited(str(path), "cli", str(src))
    assert child.returncode == 1, child.stderr
    assert "Traceback" not in child.stderr
    assert re.search(rf"^Error: state store: {re.escape(str(path))}: .*failed: {_WRITE_FAILED}$",
                     child.stderr, re.MULTILINE), child.stderr  # fmt: skip
    assert _integrity(path) == "ok"
    out = tmp_path / "out.jsonl"
    again = CliRunner().invoke(main, ["dedup", str(src), "--state", str(path), "-o", str(out)])
    assert again.exit_code == 0, again.output
    assert out.read_text(encoding="utf-8").strip()
    assert _integrity(path) == "ok"


def test_a_file_system_without_wal_is_refused_with_guidance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite keeps its old journal when it cannot use WAL (the shared index a network file
    system such as NFS or SMB does not support reliably): the store is refused with what to do
    instead, not run in a mode whose concurrent readers it was not built for. A store on a
    local disk is in WAL mode."""
    import newsdedup._store._sqlite as sqlite_module

    path = tmp_path / "ok.db"
    with SQLiteStore(path) as store:
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    real_connect = sqlite3.connect

    class NoWal:
        """A connection whose file system refuses WAL: SQLite answers the switch with the old mode."""

        def __init__(self, *args: object, **kwargs: object) -> None:
            self._db = real_connect(*args, **kwargs)  # type: ignore[arg-type]

        def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
            if sql.strip().upper().startswith("PRAGMA JOURNAL_MODE = WAL"):
                return self._db.execute("SELECT 'delete'")
            return self._db.execute(sql, *args)

        def __getattr__(self, name: str) -> object:
            return getattr(self._db, name)

    monkeypatch.setattr(sqlite_module.sqlite3, "connect", NoWal)
    with pytest.raises(StoreError, match=r"could not switch this store to WAL.*NFS, SMB.*local disk"):
        SQLiteStore(tmp_path / "nfs.db")


@pytest.mark.parametrize("message", ["unable to open database file", "attempt to write a readonly database"])
def test_a_store_that_cannot_be_written_says_read_only_may_be_why(message: str) -> None:
    """Audit S3: on a read-only file system SQLite only says "unable to open database file";
    the error now names the likely cause (the store, its folder or the file system read-only).
    Root ignores permissions, so the sqlite3 error is raised here directly."""
    from newsdedup._store._sqlite import _errors

    with pytest.raises(StoreError, match="read-only") as info, _errors("/data/s.db", "opening"):
        raise sqlite3.OperationalError(message)
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)
    assert message in str(info.value)


@pytest.mark.parametrize("when", ["creating", "binding"])
def test_a_full_disk_is_reported_not_hidden_by_the_failed_rollback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """On a full disk SQLite fails the write with "database or disk is full" and may roll the
    transaction back itself; the ROLLBACK after it then raised "cannot rollback - no
    transaction is active", and that was the error the user saw. The disk filling up is
    simulated: the write fails as SQLite fails it, after SQLite's own rollback."""
    import newsdedup._store._sqlite as sqlite_module

    real_connect = sqlite3.connect
    trigger = "CREATE TABLE" if when == "creating" else "INSERT OR IGNORE INTO META"

    class FullDisk:
        """A connection on a disk that fills up at the first ``trigger`` statement."""

        def __init__(self, *args: object, **kwargs: object) -> None:
            self._db = real_connect(*args, **kwargs)  # type: ignore[arg-type]

        def _full(self, sql: str) -> None:
            if sql.strip().upper().startswith(trigger):
                self._db.execute("ROLLBACK")  # what SQLite may do on SQLITE_FULL
                raise sqlite3.OperationalError("database or disk is full")

        def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
            self._full(sql)
            return self._db.execute(sql, *args)

        def executemany(self, sql: str, *args: object) -> sqlite3.Cursor:
            self._full(sql)
            return self._db.executemany(sql, *args)

        def __getattr__(self, name: str) -> object:
            return getattr(self._db, name)

    path = tmp_path / "full.db"
    if when == "binding":
        SQLiteStore(path).close()  # created while there was room

    def open_and_bind() -> None:
        with SQLiteStore(path) as store:
            store.bind("default", "f" * 16, {"threshold": 0.5})

    monkeypatch.setattr(sqlite_module.sqlite3, "connect", FullDisk)
    with pytest.raises(StoreError, match="database or disk is full") as info:
        open_and_bind()
    assert "cannot rollback" not in str(info.value)
