"""``newsdedup.dask`` with ``extract_timeout``: on a two-worker ``LocalCluster`` whose workers load
an extractor that never returns on some pages (tests/poison.py), each such page is an
``extract-timeout`` error and the run ends, with the local engine's clusters and errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dask")
pytest.importorskip("distributed")
pytest.importorskip("pandas")

import dask.bag as db
from distributed import Client

from newsdedup._dedup import ErrorRecord, _lost
from newsdedup._exceptions import ConfigError
from newsdedup.dask import dedup_bag, local_cluster
from poison import poisoned_env
from test_dask import _key, _local, corpus, nato_pages

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="os.abort and the nanny's kill are POSIX")

LIMIT = 2.0


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """A two-worker cluster whose workers (those the nanny starts again after a stop too) load
    the poisoned extractor: the environment stays set while the module's tests run. Its
    scheduler keeps distributed's ``allowed-failures`` (3): a cluster the user brings."""
    import dask

    env = poisoned_env(tmp_path_factory.mktemp("poison"))
    # as run_cli does: distributed's 15 s lost-worker timeout closes a nanny for good when it
    # ends while that nanny restarts its worker after yet another death
    with (
        pytest.MonkeyPatch.context() as mp,
        dask.config.set({"distributed.deploy.lost-worker-timeout": "1h"}),
    ):
        mp.setenv("PYTHONPATH", env["PYTHONPATH"])
        cluster = local_cluster(2)
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()


def _poison(item: dict[str, Any], marker: str) -> dict[str, Any]:
    return dict(item, html=item["html"].replace("<p>", f"<p>{marker} ", 1))


@pytest.mark.timeout(120)
def test_pages_that_hang_the_parser_cost_only_their_own_items(poisoned: Client) -> None:
    """Two pages that hang the parser (in two partitions, both workers held at once) and one that
    kills its worker, in a corpus of copies, short items and bad records: the run ends, each
    hanging page is an ``extract-timeout`` error and the crashing one ``extract-crashed``, with
    the local engine's record for each, and every other item is clustered as the local engine
    clusters the corpus without those pages (the other items of their partitions included)."""
    items = corpus()
    pages = [n for n, i in enumerate(items) if isinstance(i.get("html"), str) and "<p>" in i["html"]]
    n = len(items)
    # one page in each of partitions 0, 2 and 3 of four
    chosen = {
        min(p for p in pages if p > n * 0.05): "POISON-HANG",
        min(p for p in pages if p > n * 0.55): "POISON-HANG",
        min(p for p in pages if p > n * 0.80): "POISON-ABORT",
    }
    poisoned_items = [_poison(i, chosen[k]) if k in chosen else i for k, i in enumerate(items)]
    # the local engine without those pages: each an unusable record in its place, whose error
    # becomes the one the page gets where it is prepared in a worker that can be stopped
    stand_in = [{"id": i["id"]} if k in chosen else i for k, i in enumerate(items)]
    local, local_errors = _local(stand_in, first_line=1)
    expected: list[ErrorRecord] = []
    for e in local_errors:
        k = (e.line or 0) - 1
        if k in chosen and e.reason == "missing-body":
            lost = _lost(items[k], None, timed_out=chosen[k] == "POISON-HANG", limit=LIMIT).errors[0]
            e = ErrorRecord(line=e.line, id=lost.id, reason=lost.reason, message=lost.message, file=None)
        expected.append(e)

    errors: list[ErrorRecord] = []
    start = time.monotonic()
    got = dedup_bag(
        db.from_sequence(poisoned_items, npartitions=4),
        errors=errors,
        first_line=1,
        stories=False,
        extract_timeout=LIMIT,
        scheduler=poisoned,
    )
    took = time.monotonic() - start
    assert [e.to_dict() for e in errors] == [e.to_dict() for e in expected]
    assert sorted((e.id, e.reason) for e in errors if e.reason.startswith("extract-")) == sorted(
        (items[k]["id"], "extract-timeout" if m == "POISON-HANG" else "extract-crashed")
        for k, m in chosen.items()
    )
    assert _key(got) == _key(local)
    assert sum(c.size > 1 for c in got) >= 10
    assert took < 150  # each hang costs about the limit and a worker restart, twice
    # the cluster is whole again for whoever uses it next
    poisoned.wait_for_workers(2, timeout=30)


@pytest.mark.timeout(120)
def test_a_page_that_holds_the_gil_is_stopped_too(poisoned: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page on which the extractor spins in C code holding the GIL (a regular expression that
    backtracks) freezes its worker's event loop: its nanny still kills it, and the page is an
    ``extract-timeout`` error; the other items are clustered as without it. The task is found
    by its batch event when the worker sent it before freezing, else by the worker's silence
    (which of the two varies from run to run: test_only_running_time_counts checks each)."""
    import newsdedup.dask as engine

    monkeypatch.setattr(engine, "_SILENT", 3.0)  # 5 s of silence, not 12: a shorter test
    items = [i for i in corpus(seed=5) if isinstance(i.get("id"), str)][:40]
    k = [n for n, i in enumerate(items) if isinstance(i.get("html"), str) and "<p>" in i["html"]][1]
    spin = [_poison(i, "POISON-SPIN") if n == k else i for n, i in enumerate(items)]
    local, local_errors = _local(
        [{"id": i["id"]} if n == k else i for n, i in enumerate(items)], first_line=1
    )
    lost = _lost(items[k], None, timed_out=True, limit=LIMIT).errors[0]
    expected = [
        ErrorRecord(line=e.line, id=lost.id, reason=lost.reason, message=lost.message)
        if e.line == k + 1
        else e
        for e in local_errors
    ]
    errors: list[ErrorRecord] = []
    got = dedup_bag(
        db.from_sequence(spin, npartitions=2),
        errors=errors,
        first_line=1,
        stories=False,
        extract_timeout=LIMIT,
        scheduler=poisoned,
    )
    assert [e.to_dict() for e in errors] == [e.to_dict() for e in expected]
    assert lost.reason == "extract-timeout"
    assert _key(got) == _key(local)
    poisoned.wait_for_workers(2, timeout=30)


def test_only_running_time_counts() -> None:
    """What the scheduler says of the prepare tasks (:func:`_running`, on a stand-in scheduler):
    a task waiting behind another on a worker has no start, one the heartbeat reports running
    is timed from its start, and a later batch event on the worker running it restarts its clock
    (one from an earlier try on another worker does not); :func:`_overruns`
    stops the tasks whose batch ran over the limit, and every task of a worker not heard from
    for the limit and ten seconds more (a page holding the GIL), whether it started or not."""
    from types import SimpleNamespace

    from distributed.metrics import time as clock

    from newsdedup.dask import _overruns, _running

    now = clock()
    busy = SimpleNamespace(address="tcp://busy", last_seen=now - 0.5, executing={})
    frozen = SimpleNamespace(address="tcp://frozen", last_seen=now - 13.0, executing={})

    class Task:  # the scheduler's TaskState: hashed by identity
        def __init__(self, state: str, processing_on: Any) -> None:
            self.state, self.processing_on = state, processing_on

    tasks = {
        key: Task(state, ws)
        for key, state, ws in [
            ("queued", "processing", busy),  # in the worker's queue: not executing
            ("long", "processing", busy),  # running 30 s, its last batch began 1 s ago
            ("stuck", "processing", busy),  # running 3 s, one batch
            ("moved", "processing", busy),  # running 4 s here; a batch began 1 s ago on its old worker
            ("waiting", "queued", None),  # on the scheduler
            ("held", "processing", frozen),  # on a worker frozen since before it said it started
        ]
    }
    busy.executing = {tasks["long"]: 29.5, tasks["stuck"]: 2.5, tasks["moved"]: 3.5}
    started = {
        "long": (now - 1.0, "tcp://busy"),
        "stuck": (now - 3.0, "tcp://busy"),
        "moved": (now - 1.0, "tcp://old"),
    }
    scheduler = SimpleNamespace(tasks=tasks)
    keys = ["queued", "long", "stuck", "moved", "waiting", "held", "gone"]
    running = _running(keys, started, dask_scheduler=scheduler)
    assert set(running) == {"queued", "long", "stuck", "moved", "held"}
    assert running["queued"][:2] == ("tcp://busy", None)
    assert running["long"][1] == pytest.approx(1.0, abs=0.5)
    assert running["stuck"][1] == pytest.approx(3.0, abs=0.5)
    assert running["moved"][1] == pytest.approx(4.0, abs=0.5)  # from its start on this worker
    assert running["held"][1] is None
    assert running["held"][2] == pytest.approx(13.0, abs=0.5)
    over = _overruns(running, 2.0)
    assert {k: v[0] for k, v in over.items()} == {
        "stuck": "tcp://busy",
        "moved": "tcp://busy",
        "held": "tcp://frozen",
    }
    assert _overruns(running, 5.0) == {}  # 13 s unheard of is not over 5 + 10


def test_prepare_tasks_say_when_each_batch_starts(poisoned: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """A partition of 600 items is prepared in three batches of at most 256, each announced as
    an event that reaches the client running the step (the event that restarts the task's
    clock, with the worker running it), so a big partition is timed batch by batch, not taken
    for a hang; the run's topic is left and dropped on the scheduler once it is done."""
    from newsdedup import dask as engine

    seen: list[tuple[str, Any]] = []
    original = engine._Isolation.on_started

    def spy(self: Any, event: tuple[float, Any]) -> None:
        seen.append((self.topic, event))
        original(self, event)

    monkeypatch.setattr(engine._Isolation, "on_started", spy)
    items = [{"id": f"t{n}", "text": f"Item {n} of a partition of six hundred. " * 8} for n in range(600)]
    got = dedup_bag(db.from_sequence(items, npartitions=1), stories=False, scheduler=poisoned)
    assert sum(c.size for c in got) == 600
    deadline = time.monotonic() + 10
    while len(seen) < 3 and time.monotonic() < deadline:  # events travel on a batched stream
        time.sleep(0.05)
    assert len(seen) == 3
    assert len({topic for topic, _ in seen}) == 1
    assert len({str(key) for _, (_, (key, _)) in seen}) == 1  # the one task, three batches
    assert {str(where) for _, (_, (_, where)) in seen} <= set(poisoned.scheduler_info()["workers"])
    assert seen[0][0].startswith(engine._STARTED)
    topic = seen[0][0]
    assert poisoned._event_handlers[topic] is engine._ignore  # the run's object is let go
    assert topic not in poisoned.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler._broker._topics))


def test_extract_timeout_is_checked_as_in_the_local_engine() -> None:
    bag = db.from_sequence(corpus()[:5], npartitions=1)
    for value in (0, -1.0, float("nan"), float("inf"), "5"):
        with pytest.raises(ConfigError, match="extract_timeout must be a finite number > 0"):
            dedup_bag(bag, extract_timeout=value, scheduler="sync")


def _rows(path: Path) -> list[dict[str, Any]]:
    strip = ("first_seen", "last_seen")  # ingest times of undated items differ between runs
    return [{k: v for k, v in json.loads(x).items() if k not in strip} for x in path.read_text().splitlines()]


@pytest.mark.timeout(240)
def test_cli_engine_dask_extract_timeout_writes_what_jobs_writes(tmp_path: Path) -> None:
    """``newsdedup dedup --engine dask --extract-timeout 2`` and ``--jobs 2 --extract-timeout 2``
    on the same two files, one page of which hangs the parser: exit 0, the same clusters and
    the same errors file (the page an ``extract-timeout`` error with its id, line and file)."""
    copies, others = nato_pages()
    hang = _poison(dict(copies[0], id="poison"), "POISON-HANG")
    a_rows, b_rows = [*copies[:3], hang, *copies[3:5], others[0]], [others[1], copies[5], others[2]]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps(r) + "\n" for r in a_rows), encoding="utf-8")
    b.write_text("".join(json.dumps(r) + "\n" for r in b_rows), encoding="utf-8")
    env = poisoned_env(tmp_path)
    runs = {}
    for engine in (["--engine", "dask", "--dask-workers", "2"], ["--jobs", "2"]):
        out, err = tmp_path / f"out-{engine[1]}.jsonl", tmp_path / f"errors-{engine[1]}.jsonl"
        proc = subprocess.run(
            [sys.executable, "-c", "from newsdedup._cli import main; main()", "dedup", str(a), str(b),
             *engine, "--extract-timeout", "2", "-o", str(out), "--errors", str(err)],
            env=env, capture_output=True, text=True, timeout=100,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        runs[engine[1]] = (_rows(out), err.read_text(encoding="utf-8"))
    assert runs["dask"] == runs["2"]
    assert [json.loads(x) for x in runs["dask"][1].splitlines()] == [
        {"line": 4, "id": "poison", "reason": "extract-timeout", "file": str(a),
         "message": "preparing this item took over 2 s (extract_timeout; a parser hang?); its worker "
                    "was stopped, skipped"}
    ]  # fmt: skip
    assert sorted(sorted(r["member_ids"]) for r in runs["dask"][0]) == [
        [f"copy{i}" for i in range(6)],
        ["other0", "other1", "other2"],
    ]
