"""``newsdedup dedup``: the JSONL contract, the errors file, exit codes, stdin and gzip input."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsdedup._cli import main
from newsdedup._models import Cluster

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = sorted((FIXTURES / "seeds").glob("*.txt"))
CONTRACT = {
    "cluster_id",
    "canonical_id",
    "member_ids",
    "title",
    "text",
    "url",
    "published",
    "wire",
    "sources",
}
EXTENSIONS = {"first_seen", "last_seen", "canonical_reason", "story_id"}


def _seed_lines() -> list[str]:
    lines = []
    for n, p in enumerate(SEEDS):
        text = p.read_text(encoding="utf-8")
        lines.append(json.dumps({"id": p.stem[:3], "text": text, "url": f"https://example.com/{n}",
                                 "published": f"2024-10-1{n}T12:00:00Z", "site": "example.com"}))  # fmt: skip
    # a copy of seed 002 on a publisher page
    body = "".join(f"<p>{para}</p>" for para in SEEDS[2].read_text(encoding="utf-8").split("\n\n")[3:])
    page = f"<html><head><title>Copy</title></head><body><nav>Home | World</nav><article><h1>Copy</h1>{body}</article></body></html>"
    lines.append(json.dumps({"id": "copy-002", "html": page, "url": "https://copies.example/1"}))
    return lines


BAD_LINES = [
    "{not json",
    json.dumps({"text": "no id here"}),
    json.dumps({"id": 42, "text": "numeric id"}),
    json.dumps({"id": "no-body", "title": "nothing"}),
    json.dumps({"id": "empty-page", "html": "<html><body><nav>Home</nav></body></html>"}),
    json.dumps(["an", "array"]),
]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _run(args: list[str], input: str | None = None) -> object:
    return CliRunner().invoke(main, ["dedup", *args], input=input)


def test_output_contract_and_every_id_once(tmp_path: Path) -> None:
    src = _write(tmp_path / "in.jsonl", _seed_lines())
    out = tmp_path / "out.jsonl"
    result = _run([str(src), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = _read_jsonl(out)
    for row in rows:
        assert set(row) == CONTRACT | EXTENSIONS
        assert row["canonical_id"] in row["member_ids"]
        assert [s["id"] for s in row["sources"]] == row["member_ids"]
        assert all(set(s) == {"id", "url", "site", "title", "published"} for s in row["sources"])
        assert row["text"].strip()
    ids = [m for row in rows for m in row["member_ids"]]
    assert sorted(ids) == sorted(["000", "001", "002", "003", "004", "copy-002"])
    copy_cluster = next(r for r in rows if "copy-002" in r["member_ids"])
    assert copy_cluster["member_ids"] == ["002", "copy-002"]
    assert list(tmp_path.glob(".out.jsonl.*")) == []  # no temp file left behind


def test_a_gz_output_name_is_written_gzip_compressed(tmp_path: Path) -> None:
    """``-o out.jsonl.gz`` wrote plain text under a gzip name, which no reader took back."""
    src = _write(tmp_path / "in.jsonl", [*_seed_lines(), "{bad"])
    out, err = tmp_path / "out.jsonl.gz", tmp_path / "errors.JSONL.GZ"
    result = _run([str(src), "-o", str(out), "--errors", str(err)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in gzip.decompress(out.read_bytes()).decode().splitlines()]
    assert sorted(m for r in rows for m in r["member_ids"]) == sorted(
        json.loads(x)["id"] for x in _seed_lines()
    )
    assert [json.loads(x)["reason"] for x in gzip.decompress(err.read_bytes()).decode().splitlines()] == [
        "bad-json"
    ]


def test_parquet_from_stdin_is_refused_before_the_run() -> None:
    result = _run(["-", "--input-format", "parquet"], input="")
    assert result.exit_code == 2
    assert "Parquet cannot be read from stdin" in result.output


def test_unusable_lines_go_to_the_errors_file_and_the_run_goes_on(tmp_path: Path) -> None:
    lines = _seed_lines()[:2] + BAD_LINES + [json.dumps({"id": "000", "text": "a different text"})]
    src = _write(tmp_path / "in.jsonl", lines)
    out, err = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    result = _run([str(src), "-o", str(out), "--errors", str(err)])
    assert result.exit_code == 0
    errors = _read_jsonl(err)
    by_line = {e["line"]: e for e in errors}
    assert by_line[3]["reason"] == "bad-json"
    assert by_line[4]["reason"] == "missing-id"
    assert by_line[5]["reason"] == "bad-id"
    assert by_line[6] == {**by_line[6], "id": "no-body", "reason": "missing-body"}
    assert by_line[7]["id"] == "empty-page"
    assert by_line[8]["reason"] == "not-an-object"
    assert by_line[9] == {**by_line[9], "id": "000", "reason": "duplicate-id"}
    assert all({"line", "id", "reason"} <= set(e) and "file" not in e for e in errors)
    ids = [m for row in _read_jsonl(out) for m in row["member_ids"]]
    assert sorted(ids) == ["000", "001"]  # the duplicate id is emitted once


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_integer_too_long_to_convert_is_bad_json_not_a_crash(tmp_path: Path, jobs: str) -> None:
    """Python refuses to convert an integer of more than 4,300 digits (a ValueError that is not
    a JSONDecodeError): the line raised out of the run and nothing was written."""
    big = '{"id": "big", "text": "x", "n": ' + "9" * 5000 + "}"
    src = _write(tmp_path / "in.jsonl", [_seed_lines()[0], big, _seed_lines()[1]])
    out, err = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    result = _run([str(src), "-o", str(out), "--errors", str(err), "--jobs", jobs])
    assert result.exit_code == 0, result.output
    assert [(e["line"], e["reason"]) for e in _read_jsonl(err)] == [(2, "bad-json")]
    assert sorted(m for row in _read_jsonl(out) for m in row["member_ids"]) == ["000", "001"]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_stray_characters_and_oversized_lines_do_not_stop_the_run(tmp_path: Path, jobs: str) -> None:
    """A copy whose JSON holds a lone surrogate escape, NUL and a bidi override still clusters
    with its original, and its text comes out clean; an id with a lone surrogate, a text over
    the size limit and (in a gzip input) a line over the reader's cap are recorded skips."""
    seed = json.loads(_seed_lines()[2])
    text = seed["text"]
    dirty = text.replace(" ", " \x00", 3).replace(" the ", " t\u202ehe ", 2) + " \ud800"
    lines = [
        json.dumps(seed),
        json.dumps(
            {"id": "dirty", "text": dirty, "title": "Title \udc80", "url": "https://x.example/\ud800"}
        ),
        json.dumps({"id": "bad\ud800id", "text": text}),
        json.dumps({"id": "huge", "text": "word " * 4_100_000}),
    ]
    src = tmp_path / "in.jsonl.gz"
    with gzip.open(src, "wb", compresslevel=1) as fh:
        fh.write(("\n".join(lines) + "\n").encode())
        fh.write(b'{"id": "endless", "text": "' + b"x" * (129 * 1024 * 1024) + b'"}\n')
        fh.write(json.dumps({"id": "after", "text": text}).encode() + b"\n")
    out, err = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    result = _run([str(src), "-o", str(out), "--errors", str(err), "--jobs", jobs])
    assert result.exit_code == 0, result.output
    errors = {e["line"]: (e["id"], e["reason"]) for e in _read_jsonl(err)}
    assert errors == {3: (None, "bad-id"), 4: ("huge", "too-large"), 5: (None, "too-large")}
    rows = _read_jsonl(out)
    assert [sorted(r["member_ids"]) for r in rows] == [sorted([seed["id"], "dirty", "after"])]
    raw = out.read_bytes().decode("utf-8")  # strictly UTF-8: no surrogate made it out
    assert "\\u0000" not in raw
    assert "\\u202e" not in raw
    assert "\u202e" not in raw


@pytest.mark.parametrize("flag", ["-o", "--errors"])
def test_an_output_folder_that_does_not_exist_is_refused_before_the_run(tmp_path: Path, flag: str) -> None:
    """The files are written after the whole run: a missing folder fails at once (exit 2), not
    with a traceback once everything was processed."""
    src = _write(tmp_path / "in.jsonl", _seed_lines())
    result = _run([str(src), flag, str(tmp_path / "missing" / "out.jsonl")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("named", [True, False])
def test_a_write_that_fails_at_the_end_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, named: bool
) -> None:
    """The message names the file when the OS said which one, and has no empty "()" when not
    (a pipe closed under stdout has no file name)."""
    import errno

    import newsdedup._cli.dedup as cli

    target = str(tmp_path / "out.jsonl")

    def full(*args: object, **kwargs: object) -> int:
        if named:
            raise OSError(errno.ENOSPC, "No space left on device", target)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cli, "_write_all", full)
    src = _write(tmp_path / "in.jsonl", _seed_lines())
    result = _run([str(src), "-o", target])
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if "cannot write output" in x)
    if named:
        assert line.endswith(f"cannot write output: No space left on device ({target})")
    else:
        assert line.endswith("cannot write output: No space left on device")
    assert not isinstance(result.exception, OSError)


def test_several_inputs_name_the_file_in_errors(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.jsonl", _seed_lines()[:1])
    b = _write(tmp_path / "b.jsonl", ["{oops"])
    err = tmp_path / "e.jsonl"
    result = _run([str(a), str(b), "--errors", str(err)])
    assert result.exit_code == 0
    assert _read_jsonl(err) == [
        {**_read_jsonl(err)[0], "line": 1, "id": None, "reason": "bad-json", "file": str(b)}
    ]


def test_stdin_and_gzip_inputs(tmp_path: Path) -> None:
    lines = _seed_lines()
    gz = tmp_path / "in.jsonl.gz"
    with gzip.open(gz, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines[3:]) + "\n")
    result = _run(["-", str(gz)], input="\n".join(lines[:3]) + "\n")
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert sorted(m for r in rows for m in r["member_ids"]) == sorted(
        ["000", "001", "002", "003", "004", "copy-002"]
    )


def test_unreadable_input_exits_non_zero_and_keeps_what_was_read(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.jsonl", _seed_lines()[:2])
    out = tmp_path / "out.jsonl"
    result = _run([str(good), str(tmp_path / "missing.jsonl"), "-o", str(out)])
    assert result.exit_code == 1
    assert "missing.jsonl" in result.output
    assert sorted(m for r in _read_jsonl(out) for m in r["member_ids"]) == ["000", "001"]


def test_truncated_gzip_keeps_the_lines_before_the_damage(tmp_path: Path) -> None:
    payload = gzip.compress(("\n".join(_seed_lines()) + "\n").encode("utf-8"))
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(payload[: len(payload) * 2 // 3])
    out = tmp_path / "out.jsonl"
    result = _run([str(broken), "-o", str(out)])
    assert result.exit_code == 1
    assert "broken.jsonl.gz" in result.output
    rows = _read_jsonl(out)  # valid JSONL
    assert 1 <= len(rows) < 6


def test_bad_threshold_is_a_usage_error(tmp_path: Path) -> None:
    src = _write(tmp_path / "in.jsonl", _seed_lines()[:1])
    result = _run([str(src), "--threshold", "1.7"])
    assert result.exit_code == 2
    assert "threshold" in result.output


@pytest.mark.parametrize(
    ("key", "flag", "stored"),
    [
        ("max_verify", [], 8),
        ("max_verify", ["--max-verify", "0"], None),
        ("max_verify", ["--max-verify", "12"], 12),
        ("settle_after", [], 3),
        ("settle_after", ["--settle-after", "0"], None),
        ("settle_after", ["--settle-after", "5"], 5),
    ],
)
def test_count_options_reach_the_engine_and_the_store(
    tmp_path: Path, key: str, flag: list[str], stored: int | None
) -> None:
    """--max-verify and --settle-after (0: none) are recorded with the store's settings, and a
    later run without the flag keeps the stored value; a negative count is a usage error."""
    from newsdedup._cli._common import open_state

    src = _write(tmp_path / "in.jsonl", _seed_lines())
    db = tmp_path / "state.sqlite"
    for given in (flag, []):
        result = _run([str(src), "--state", str(db), "-o", str(tmp_path / "out.jsonl"), *given])
        assert result.exit_code == 0, result.output
        store = open_state(str(db), read_only=True)
        try:
            assert (store.stored_config() or {})[key] == stored
        finally:
            store.close()
    option = "--" + key.replace("_", "-")
    result = _run([str(src), option, "-1"])
    assert result.exit_code == 2
    assert option in result.output


def test_max_verify_below_four_is_a_usage_error(tmp_path: Path) -> None:
    """The message names the flag and what the flag accepts (0, not the engine's None)."""
    result = _run([str(_write(tmp_path / "in.jsonl", _seed_lines()[:1])), "--max-verify", "2"])
    assert result.exit_code == 2
    assert (
        "Invalid value for '--max-verify': must be 0 (verify every candidate) or an int >= 4" in result.output
    )
    assert "dedup.max_verify" not in result.output
    result = _run([str(_write(tmp_path / "in.jsonl", _seed_lines()[:1])), "--threshold", "1.5"])
    assert result.exit_code == 2
    assert "Invalid value for '--threshold'" in result.output


def test_threshold_option_changes_the_result(tmp_path: Path) -> None:
    text = SEEDS[2].read_text(encoding="utf-8")
    paras = text.split("\n\n")
    edited = "\n\n".join(p if i % 2 else p.replace(" the ", " a ") for i, p in enumerate(paras))
    src = _write(
        tmp_path / "in.jsonl",
        [json.dumps({"id": "a", "text": text}), json.dumps({"id": "b", "text": edited})],
    )
    loose = _run([str(src), "--threshold", "0.3"])
    strict = _run([str(src), "--threshold", "0.95", "--containment", "0.99"])
    n_loose = sum(1 for line in loose.stdout.splitlines() if line.startswith("{"))
    n_strict = sum(1 for line in strict.stdout.splitlines() if line.startswith("{"))
    assert (n_loose, n_strict) == (1, 2)


def test_real_process_stdin_to_stdout() -> None:
    """Through a real interpreter: stdout carries only JSONL, the summary goes to stderr."""
    proc = subprocess.run(
        [sys.executable, "-c", "from newsdedup._cli import main; main()", "dedup", "-"],
        input="\n".join(_seed_lines()) + "\n{bad\n",
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 5
    assert "1 unusable" in proc.stderr


def test_closed_stdout_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    """Started with stdout closed (``>&-``), the run ended in an AttributeError traceback."""
    src = _write(tmp_path / "in.jsonl", _seed_lines())
    proc = subprocess.run(
        [sys.executable, "-c", "from newsdedup._cli import main; main()", "dedup", str(src)],
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.close(1),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "cannot write output: standard output is closed" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "options",
    [["-o", "same.jsonl", "--pairs", "same.jsonl"], ["-o", "same.jsonl", "--errors", "./same.jsonl"]],
)
def test_two_outputs_naming_one_file_are_refused_before_the_run(tmp_path: Path, options: list[str]) -> None:
    """Each output is written whole at the end: the clusters were silently replaced by the pairs."""
    src = _write(tmp_path / "in.jsonl", _seed_lines())
    with contextlib.chdir(tmp_path):
        result = _run([str(src), *options])
    assert result.exit_code == 2
    assert "name the same file" in result.output
    assert not (tmp_path / "same.jsonl").exists()


def test_console_script_exits_like_main(tmp_path: Path) -> None:
    """The installed script (``console_main``) skips freeing the run's state at exit, but not
    what an exit owes: the same stdout, stderr and exit code as :func:`main`, on success and on
    a failed input, and the exit handlers still ran (multiprocessing removes its temporary
    folder, made for the two-job run's workers, in one of them)."""
    import os
    import tempfile

    src = _write(tmp_path / "in.jsonl", _seed_lines())
    results = {}
    for entry in ("main", "console_main"):
        # a short folder: the workers' forkserver puts its socket there (AF_UNIX paths are short)
        with tempfile.TemporaryDirectory(prefix="nd-") as tmp:
            env = {**os.environ, "TMPDIR": tmp}
            for case, args in (
                ("ok", [str(src), "--jobs", "2"]),
                ("bad", [str(src), str(tmp_path / "missing.jsonl")]),
            ):
                proc = subprocess.run(
                    [sys.executable, "-c", f"from newsdedup._cli import {entry}; {entry}()", "dedup", *args],
                    capture_output=True, text=True, timeout=120, env=env,
                )  # fmt: skip
                # an item without "published" is dated when it is read: the times differ by run
                rows = [
                    {**json.loads(line), "first_seen": "", "last_seen": ""}
                    for line in proc.stdout.splitlines()
                ]
                results[entry, case] = (proc.returncode, rows, proc.stderr)
            assert os.listdir(tmp) == [], entry
    assert results["console_main", "ok"] == results["main", "ok"]
    assert results["console_main", "bad"] == results["main", "bad"]
    code, out, err = results["console_main", "ok"]
    assert code == 0
    assert len(out) == 5
    assert "6 items" in err
    code, out, err = results["console_main", "bad"]
    assert code == 1
    assert len(out) == 5
    assert "missing.jsonl" in err


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGINT delivery are POSIX")
def test_ctrl_c_stops_reading_and_writes_what_was_read(tmp_path: Path) -> None:
    """A terminal's Ctrl-C (SIGINT to the whole process group, workers included) on a stream
    that would never end: reading stops, the items read are deduplicated and written as a
    run over just those lines would write them, and the exit code is 130."""
    import os
    import re
    import signal
    import threading
    import time

    from test_state_contract import make_corpus

    corpus = make_corpus(40, seed=11)
    fed: list[str] = []
    out, err, log = tmp_path / "out.jsonl", tmp_path / "errors.jsonl", tmp_path / "stderr.txt"
    with log.open("wb") as stderr_file:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from newsdedup._cli import main; main()", "dedup", "-", "--jobs", "2",
             "-o", str(out), "--errors", str(err)],
            stdin=subprocess.PIPE, stderr=stderr_file, start_new_session=True,
        )  # fmt: skip
    assert proc.stdin is not None

    def feed() -> None:  # round after round of the corpus, new ids each round, until the pipe closes
        try:
            for r in range(1_000_000):
                chunk = [json.dumps({**item, "id": f"{item['id']}-r{r}"}) for item in corpus]
                fed.extend(chunk)
                proc.stdin.write(("\n".join(chunk) + "\n").encode())  # type: ignore[union-attr]
        except (BrokenPipeError, ValueError, OSError):
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        # the pipe holds 64 kB at most: once five rounds went in, the run has read three
        deadline = time.monotonic() + 60
        while len(fed) < 5 * len(corpus) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=120)
        stderr = log.read_text()
        assert code == 130, stderr
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.stdin.close()
    assert "interrupted: stopping" in stderr
    assert "Traceback" not in stderr  # no worker took the Ctrl-C itself
    read = int(re.search(r"Interrupted: the (\d+) items read", stderr).group(1))  # type: ignore[union-attr]
    assert 0 < read < len(fed)
    assert err.read_text() == ""

    prefix = _write(tmp_path / "prefix.jsonl", fed[:read])
    expected_out = tmp_path / "expected.jsonl"
    assert _run([str(prefix), "-o", str(expected_out)]).exit_code == 0

    def rows(path: Path) -> list[dict]:
        return [
            {k: v for k, v in r.items() if k not in ("first_seen", "last_seen")} for r in _read_jsonl(path)
        ]

    assert rows(out) == rows(expected_out)


def _waits_on_a_pipe(pid: int, timeout: float = 60.0) -> bool:
    """Whether the process came to block on reading a pipe within ``timeout`` (Linux's wchan)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if "pipe" in Path(f"/proc/{pid}/wchan").read_text():
                return True
        except OSError:
            return False
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs Linux's /proc/PID/wchan")
@pytest.mark.parametrize("twice", [False, True])
def test_ctrl_c_stops_a_read_that_waits_on_an_idle_pipe(tmp_path: Path, twice: bool) -> None:
    """``tail -f | newsdedup dedup -`` with nothing new coming: the read resumed after the
    signal handler and waited on; the run then said the whole input was read and exited 0.
    The first Ctrl-C now stops the waiting read: what was read is written, exit 130. A second
    Ctrl-C aborts with 130 too (click's abort exits 1, the code of an unreadable input)."""
    import signal

    lines = _seed_lines()
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from newsdedup._cli import main; main()", "dedup", "-", "-o", str(out)],
        stdin=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None
    assert proc.stderr is not None
    try:
        proc.stdin.write(("\n".join(lines) + "\n").encode())
        proc.stdin.flush()  # and the pipe stays open, as tail -f keeps it
        assert _waits_on_a_pipe(proc.pid)
        time.sleep(0.2)  # the lines were taken before the read that now waits
        assert _waits_on_a_pipe(proc.pid)
        proc.send_signal(signal.SIGINT)
        if twice:
            time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
        stderr = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
    assert code == 130, stderr
    assert "Traceback" not in stderr
    if not twice:
        assert f"Interrupted: the {len(lines)} items read before it were written" in stderr
        assert sorted(m for r in _read_jsonl(out) for m in r["member_ids"]) == sorted(
            json.loads(line)["id"] for line in lines
        )


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to the process is POSIX")
@pytest.mark.parametrize("after", [0, 1])
def test_ctrl_c_after_an_input_was_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: int) -> None:
    """A Ctrl-C that comes once the whole input was read (during the verification or the
    writing) cut nothing: the output is complete and the exit code 0. One that comes after the
    first of two files leaves the second unread: 130, and only the first file's items."""
    import os
    import signal

    from newsdedup import Deduplicator

    lines = _seed_lines()
    a = _write(tmp_path / "a.jsonl", lines[:2])
    b = _write(tmp_path / "b.jsonl", lines[2:])
    calls = 0
    add_stream = Deduplicator.add_stream

    def add_then_interrupt(self: Deduplicator, *args: object, **kwargs: object) -> object:
        nonlocal calls
        result = add_stream(self, *args, **kwargs)  # type: ignore[arg-type]
        if calls == after:
            os.kill(os.getpid(), signal.SIGINT)  # the handler runs here, in the main thread
        calls += 1
        return result

    monkeypatch.setattr(Deduplicator, "add_stream", add_then_interrupt)
    out = tmp_path / "out.jsonl"
    result = _run([str(a), str(b), "-o", str(out)])
    members = {m for row in _read_jsonl(out) for m in row["member_ids"]}
    if after == 1:  # both files read
        assert result.exit_code == 0, result.output
        assert "the output is complete" in result.output
        assert len(members) == len(lines)
    else:
        assert result.exit_code == 130, result.output
        assert "Interrupted: the 2 items read before it were written" in result.output
        assert len(members) == 2


@pytest.mark.parametrize("flag", ["--progress", "--no-progress"])
def test_progress_flags_do_not_change_output(tmp_path: Path, flag: str) -> None:
    src = _write(tmp_path / "in.jsonl", _seed_lines()[:2])
    result = _run([str(src), flag])
    assert result.exit_code == 0
    assert sum(1 for line in result.stdout.splitlines() if line.startswith("{")) == 2


def test_the_five_seeds_are_five_clusters_of_one_story(tmp_path: Path) -> None:
    src = _write(tmp_path / "in.jsonl", _seed_lines()[:5])
    out = tmp_path / "out.jsonl"
    assert _run([str(src), "-o", str(out)]).exit_code == 0
    rows = _read_jsonl(out)
    assert len(rows) == 5
    assert all(set(row) == CONTRACT | EXTENSIONS for row in rows)
    assert len({row["story_id"] for row in rows}) == 1
    assert rows[0]["story_id"].startswith("s")
    plain = tmp_path / "plain.jsonl"
    assert _run([str(src), "-o", str(plain), "--no-stories"]).exit_code == 0
    assert all(set(row) == CONTRACT | EXTENSIONS - {"story_id"} for row in _read_jsonl(plain))
    # a story window shorter than the 4 days between the seeds splits the story
    short = tmp_path / "short.jsonl"
    assert _run([str(src), "-o", str(short), "--story-window", "1h"]).exit_code == 0
    assert len({row["story_id"] for row in _read_jsonl(short)}) > 1
    assert _run([str(src), "--story-window", "soon"]).exit_code == 2


def test_dates_without_a_zone_are_kept_as_written_and_compared_as_utc(tmp_path: Path) -> None:
    """Checklist F8: a date without a time zone stays as written in ``published`` (no offset in
    the output is the flag that the source gave none) and is read as UTC wherever dates are
    compared. An unparseable or missing date leaves the text's own date line; with none, the
    item is undated and ``first_seen``/``last_seen`` use its ingest time. Never a crash."""
    text = SEEDS[2].read_text(encoding="utf-8")  # its date line: "Thursday, 17 October 2024 05:13 PM EDT"
    undated = "\n".join(line for line in text.split("\n") if "October 2024" not in line)
    rows = [
        ("a-naive", text, "2024-10-17T17:13:00"),
        ("b-aware", text, "2024-10-17T19:13:00+02:00"),  # the naive date's instant, read as UTC
        ("c-utc", text, "2024-10-17T18:00:00Z"),
        ("d-garbage", text, "last Tuesday"),
        ("e-none", undated, None),
    ]
    lines = [json.dumps({"id": i, "text": t, "published": d, "site": f"{i}.example"}) for i, t, d in rows]
    out = tmp_path / "out.jsonl"
    result = _run([_write(tmp_path / "in.jsonl", lines[:3]).as_posix(), "-o", str(out)])
    assert result.exit_code == 0, result.output
    (row,) = _read_jsonl(out)
    assert {s["id"]: s["published"] for s in row["sources"]} == {
        "a-naive": "2024-10-17T17:13:00",
        "b-aware": "2024-10-17T19:13:00+02:00",
        "c-utc": "2024-10-17T18:00:00+00:00",
    }
    # the naive and the +02:00 dates are one instant: the earliest, given in UTC
    assert row["first_seen"] == "2024-10-17T17:13:00+00:00"
    assert row["last_seen"] == "2024-10-17T18:00:00+00:00"

    before = datetime.now(UTC)
    result = _run([_write(tmp_path / "all.jsonl", lines).as_posix(), "-o", str(out)])
    assert result.exit_code == 0, result.output
    (row,) = _read_jsonl(out)
    published = {s["id"]: s["published"] for s in row["sources"]}
    assert published["d-garbage"] == "2024-10-17T17:13:00-04:00"  # the text's own date line
    assert published["e-none"] is None
    assert row["first_seen"] == "2024-10-17T17:13:00+00:00"
    last = datetime.fromisoformat(row["last_seen"])  # the undated member's ingest time
    assert last.tzinfo is not None
    assert before <= last <= datetime.now(UTC)


def test_api_dedup_assigns_story_ids_by_default() -> None:
    import newsdedup

    items = [json.loads(line) for line in _seed_lines()]
    clusters = newsdedup.dedup(items)
    assert len({c.extra["story_id"] for c in clusters}) == 1
    plain = newsdedup.dedup(items, stories=False)
    assert all("story_id" not in c.extra for c in plain)
    assert [c.member_ids for c in plain] == [c.member_ids for c in clusters]


@pytest.mark.parametrize("stories", [True, False])
def test_streamed_output_equals_the_library_clusters(tmp_path: Path, stories: bool) -> None:
    """The CLI builds its clusters a chunk at a time and spools them while story ids are
    worked out; the lines are exactly the library's clusters, in the same order."""
    import newsdedup

    # every item dated: an undated one is seen at its (different) ingest time in each run
    items = [{"published": "2024-10-12T10:00:00Z", **json.loads(x)} for x in _seed_lines()]
    lines = [json.dumps(r) for r in items + _other_story_items()]
    src = _write(tmp_path / "in.jsonl", lines)
    out = tmp_path / "out.jsonl"
    result = _run([str(src), "-o", str(out), *([] if stories else ["--no-stories"])])
    assert result.exit_code == 0, result.output
    expected = [
        json.loads(json.dumps(c.to_dict()))
        for c in newsdedup.dedup([json.loads(x) for x in lines], stories=stories)
    ]
    assert _read_jsonl(out) == expected
    if stories:
        assert len({row["story_id"] for row in expected}) == 2  # two stories, one of several clusters
    # the same clusters as Parquet rows (read back through Cluster.from_dict)
    pytest.importorskip("pyarrow")
    table = tmp_path / "out.parquet"
    result = _run([str(src), "-o", str(table), *([] if stories else ["--no-stories"])])
    assert result.exit_code == 0, result.output
    rows = [Cluster.from_dict(r).to_dict() for r in _read_parquet(table)]
    assert [json.loads(json.dumps(r)) for r in rows] == expected


def _other_story_items() -> list[dict[str, str]]:
    """Two copies of a story that is not the seeds' NATO story."""
    text = "\n\n".join(
        f"The port authority of Rotterdam said on Tuesday that container volumes fell {n} percent "
        f"in the quarter as shipping lines rerouted vessels, paragraph {n} of the report."
        for n in range(1, 9)
    )
    return [
        {"id": "port-a", "text": text, "site": "a.example", "published": "2024-10-12T09:00:00Z"},
        {
            "id": "port-b",
            "text": text + "\n\nSubscribe to our newsletter.",
            "site": "b.example",
            "published": "2024-10-12T11:00:00Z",
        },
    ]


# -- WARC and Parquet inputs, Parquet output (docs/formats.md) ---------------------------------


def _read_parquet(path: Path) -> list[dict]:
    pq = pytest.importorskip("pyarrow.parquet")
    return pq.read_table(path).to_pylist()


def _needs_extras() -> None:
    pytest.importorskip("pyarrow")  # the parquet and warc extras (in the test extra)
    pytest.importorskip("warcio")


def test_warc_in_parquet_out_clusters_copies_and_records_skips(tmp_path: Path) -> None:
    _needs_extras()
    from test_io import news_warc

    warc = tmp_path / "crawl.warc.gz"
    ids = news_warc(warc)
    out, err = tmp_path / "clusters.parquet", tmp_path / "errors.jsonl"
    result = _run([str(warc), "-o", str(out), "--errors", str(err)])
    assert result.exit_code == 0, result.output
    rows = _read_parquet(out)
    assert all(set(row) >= CONTRACT | EXTENSIONS for row in rows)
    # the same story on two outlets at different URLs is one cluster; the other story is not in it
    assert sorted(sorted(r["member_ids"]) for r in rows) == sorted(
        [sorted([ids["globe"], ids["courier"]]), [ids["other"]]]
    )
    story = next(r for r in rows if ids["globe"] in r["member_ids"])
    assert {s["site"] for s in story["sources"]} == {"dailyglobe.example", "rivertown.example"}
    assert "North Korea" in story["text"]
    assert not list(tmp_path.glob(".clusters.parquet.*"))
    # every capture that is not a usable page is in the errors file with its reason and position
    position = {rid: n for n, rid in enumerate(ids.values(), start=1)}
    assert sorted((e["id"], e["reason"], e["line"]) for e in _read_jsonl(err)) == sorted(
        [
            (ids["robots"], "not-html", position[ids["robots"]]),
            (ids["logo"], "not-html", position[ids["logo"]]),
            (ids["missing"], "http-status", position[ids["missing"]]),
            (ids["revisit"], "revisit", position[ids["revisit"]]),
            (ids["cut"], "truncated", position[ids["cut"]]),
        ]
    )


def test_truncated_warc_still_writes_what_was_read_and_exits_1(tmp_path: Path) -> None:
    _needs_extras()
    from test_io import news_warc

    full = tmp_path / "full.warc.gz"
    ids = news_warc(full)
    data = full.read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[:-40])
    out, err = tmp_path / "out.parquet", tmp_path / "err.jsonl"
    result = _run([str(cut), "-o", str(out), "--errors", str(err)])
    assert result.exit_code == 1
    assert "cut.warc.gz" in result.output
    assert "truncated" in result.output
    members = sorted(m for r in _read_parquet(out) for m in r["member_ids"])
    assert members == sorted([ids["globe"], ids["courier"], ids["other"]])
    assert {e["reason"] for e in _read_jsonl(err)} == {"not-html", "http-status", "revisit"}


def test_parquet_input_gives_the_same_clusters_as_jsonl(tmp_path: Path) -> None:
    _needs_extras()
    import pyarrow as pa
    import pyarrow.parquet as pq

    lines = _seed_lines()
    objects = [json.loads(line) for line in lines]
    table = pa.Table.from_pylist(
        [{k: o.get(k) for k in ("id", "text", "html", "url", "published", "site")} for o in objects]
    )
    items = tmp_path / "items.parquet"
    pq.write_table(table, items, row_group_size=2)
    from_jsonl, from_parquet = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert _run([str(_write(tmp_path / "in.jsonl", lines)), "-o", str(from_jsonl)]).exit_code == 0
    result = _run([str(items), "-o", str(from_parquet)])
    assert result.exit_code == 0, result.output

    def stable(rows: list[dict]) -> list[dict]:  # last_seen of an undated item is its ingest time
        return [{k: v for k, v in row.items() if k not in ("first_seen", "last_seen")} for row in rows]

    assert stable(_read_jsonl(from_parquet)) == stable(_read_jsonl(from_jsonl))


def test_explicit_formats_and_parquet_needs_a_file(tmp_path: Path) -> None:
    _needs_extras()
    from test_io import news_warc

    warc = tmp_path / "crawl.dat"  # no telling extension
    ids = news_warc(warc, gz=False)
    out = tmp_path / "clusters.out"
    result = _run([str(warc), "--input-format", "warc", "--output-format", "parquet", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert ids["other"] in {m for r in _read_parquet(out) for m in r["member_ids"]}
    # without --input-format an unknown extension is JSONL, as it always was
    assert _run([str(warc), "-o", str(tmp_path / "x.jsonl")]).exit_code == 0
    usage = _run([str(warc), "--input-format", "warc", "--output-format", "parquet"])
    assert usage.exit_code == 2
    assert "Parquet output needs a file" in usage.output
    assert _run([str(warc), "--input-format", "csv"]).exit_code == 2


def test_missing_extra_fails_before_reading_with_the_pip_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _write(tmp_path / "in.jsonl", _seed_lines()[:2])
    out = tmp_path / "out.parquet"
    for name in [m for m in sys.modules if m == "pyarrow" or m.startswith("pyarrow.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    result = _run([str(src), "-o", str(out)])
    assert result.exit_code == 1
    assert 'pip install "newsdedup[parquet]"' in result.output
    assert not out.exists()


def test_export_writes_parquet(tmp_path: Path) -> None:
    _needs_extras()
    state = tmp_path / "state.db"
    src = _write(tmp_path / "in.jsonl", _seed_lines())
    assert _run([str(src), "--state", str(state), "-o", str(tmp_path / "run.jsonl")]).exit_code == 0
    jsonl, parquet = tmp_path / "all.jsonl", tmp_path / "all.parquet"
    runner = CliRunner()
    assert runner.invoke(main, ["export", "--state", str(state), "-o", str(jsonl)]).exit_code == 0
    result = runner.invoke(main, ["export", "--state", str(state), "-o", str(parquet)])
    assert result.exit_code == 0, result.output
    from newsdedup._models import Cluster

    expected = _read_jsonl(jsonl)
    assert [Cluster.from_dict(r).to_dict() for r in _read_parquet(parquet)] == expected


@pytest.mark.parametrize("flags", [[], ["--no-stories"]])
def test_jobs_give_the_same_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str]) -> None:
    """The same lines (but for when each run read the items), with the clusters, their lines
    and their story profiles made in the worker processes (from any item count here)."""
    import newsdedup._dedup as engine

    monkeypatch.setattr(engine, "_POOL_CLUSTERS_MIN", 1)
    lines = _seed_lines()
    extra = [
        json.dumps({"id": f"copy{i}", "text": json.loads(line)["text"][: 400 + 50 * i]})
        for i, line in enumerate(lines)
        if "text" in json.loads(line)
    ]
    src = _write(tmp_path / "in.jsonl", [*lines, "{broken", *extra])
    outs = []
    for jobs in ("1", "2"):
        out, err = tmp_path / f"out{jobs}.jsonl", tmp_path / f"err{jobs}.jsonl"
        result = _run([str(src), "-o", str(out), "--errors", str(err), "--jobs", jobs, *flags])
        assert result.exit_code == 0, result.output
        rows = [json.loads(x) for x in out.read_text().splitlines()]
        for row in rows:  # when each run read the items
            del row["first_seen"], row["last_seen"]
        outs.append((rows, err.read_text()))
    assert outs[0] == outs[1]
    assert len(outs[0][0]) > 3
    assert all(("story_id" in r) != bool(flags) for r in outs[0][0])
    assert '"reason": "bad-json"' in outs[0][1]


def test_verify_as_read_gives_the_same_output(tmp_path: Path) -> None:
    """By default the pairs are verified once the input is read (only those clustering keeps);
    --verify-as-read verifies each batch as it is matched: the same clusters either way."""
    import random

    rng = random.Random(11)
    texts = [json.loads(line)["text"] for line in _seed_lines() if "text" in json.loads(line)]
    lines = []
    for s, text in enumerate(texts):
        paras = [p for p in text.split("\n") if p.strip()]
        for i in range(25):  # a story of 25 copies: cut, with each site's own footer
            kept = paras[: max(3, len(paras) - rng.randrange(3))]
            body = "\n\n".join([*kept, f"(c) 2024 Site {s}-{i}. Reprinted with permission."])
            lines.append(json.dumps({"id": f"s{s}-{i:02d}", "text": body}))
    rng.shuffle(lines)
    src = _write(tmp_path / "in.jsonl", lines)
    outs = []
    for flags in ([], ["--verify-as-read"], ["--jobs", "2"]):
        out = tmp_path / f"out{len(outs)}.jsonl"
        result = _run([str(src), "-o", str(out), "--max-verify", "4", *flags])
        assert result.exit_code == 0, result.output
        rows = [json.loads(x) for x in out.read_text().splitlines()]
        outs.append(
            [(r["cluster_id"], r["canonical_id"], r["member_ids"], r["text"], r["story_id"]) for r in rows]
        )
    assert outs[0] == outs[1] == outs[2]
    assert max(len(r[2]) for r in outs[0]) >= 20  # the stories were found


def test_library_warnings_reach_the_commands_stderr(tmp_path: Path) -> None:
    """The package's logger has only a NullHandler; the command line prints its warnings (here
    the cluster-size alarm: 201 copies of one story, above the alarm's 200) on stderr."""
    text = SEEDS[2].read_text(encoding="utf-8")
    lines = [
        json.dumps({"id": f"copy{i:03d}", "text": f"{text}\n\nShared by reader {i}."}) for i in range(201)
    ]
    src = _write(tmp_path / "in.jsonl", lines)
    result = CliRunner().invoke(main, ["dedup", str(src), "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    assert "has 201 members (alarm above 200)" in result.stderr


def _poisoned_rows(marker: str) -> list[str]:
    """Six copies of the Newsmax seed as pages, and after the third a copy holding ``marker``
    (see tests/poison.py), as JSONL lines."""
    from servers import article_html

    base = SEEDS[2].read_text(encoding="utf-8").split("\n\n")
    rows = [{"id": f"copy{i}", "url": f"https://s{i}.example/world/2024/10/nato-{i}",
             "html": article_html(f"NATO chief on North Korea {i}", [p for p in base if p.strip()], site=f"S{i}")}
            for i in range(6)]  # fmt: skip
    poison = dict(rows[0], id="poison", html=rows[0]["html"].replace("<p>", f"<p>{marker} ", 1))
    return [json.dumps(r) for r in rows[:3]] + [json.dumps(poison)] + [json.dumps(r) for r in rows[3:]]


@pytest.mark.skipif(sys.platform == "win32", reason="the forkserver is POSIX")
def test_an_item_that_hangs_a_preparing_worker_is_an_extract_timeout(tmp_path: Path) -> None:
    """With ``--jobs 2``, a page on which the parser never returns holds its worker: after
    ``--extract-timeout`` the worker is stopped, the batch's items are prepared one by one, the
    hanging one is an extract-timeout error, and every other item is clustered as without it."""
    from poison import poisoned_env

    src = _write(tmp_path / "in.jsonl", _poisoned_rows("POISON-HANG"))
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    proc = subprocess.run(
        [sys.executable, "-c", "from newsdedup._cli import main; main()", "dedup", str(src), "--jobs", "2",
         "--extract-timeout", "2", "-o", str(out), "--errors", str(errors)],
        env=poisoned_env(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert [(e["id"], e["reason"], e["line"]) for e in _read_jsonl(errors)] == [
        ("poison", "extract-timeout", 4)
    ]
    assert "over 2 s" in _read_jsonl(errors)[0]["message"]
    clusters = [sorted(row["member_ids"]) for row in _read_jsonl(out)]
    assert clusters == [[f"copy{i}" for i in range(6)]]


@pytest.mark.parametrize("engine", [[], ["--engine", "dask"]], ids=["local", "dask"])
@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_extract_timeout_must_be_a_positive_number(tmp_path: Path, value: str, engine: list[str]) -> None:
    """Checked before anything is read (with --engine dask, before a cluster is started)."""
    src = _write(tmp_path / "in.jsonl", [json.dumps({"id": "a", "text": "x"})])
    result = CliRunner().invoke(main, ["dedup", str(src), "--extract-timeout", value, *engine])
    assert result.exit_code == 2
    assert "extract_timeout must be a finite number > 0" in result.output


@pytest.mark.skipif(sys.platform == "win32", reason="os.abort and the forkserver are POSIX")
def test_an_item_that_crashes_a_preparing_worker_costs_only_itself(tmp_path: Path) -> None:
    """With ``--jobs 2`` pages are extracted in worker processes; one whose page kills its
    worker (as a parser segfault does) is an extract-crashed error, the run goes on, and every
    other item, some in the same batch, is clustered as without it."""
    from poison import poisoned_env
    from servers import article_html

    base = SEEDS[2].read_text(encoding="utf-8").split("\n\n")
    rows = [{"id": f"copy{i}", "url": f"https://s{i}.example/world/2024/10/nato-{i}",
             "html": article_html(f"NATO chief on North Korea {i}", [p for p in base if p.strip()], site=f"S{i}")}
            for i in range(6)]  # fmt: skip
    poison = dict(rows[0], id="poison", html=rows[0]["html"].replace("<p>", "<p>POISON-ABORT ", 1))
    lines = [json.dumps(r) for r in rows[:3]] + [json.dumps(poison)] + [json.dumps(r) for r in rows[3:]]
    src = _write(tmp_path / "in.jsonl", lines)
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    proc = subprocess.run(
        [sys.executable, "-c", "from newsdedup._cli import main; main()", "dedup", str(src), "--jobs", "2",
         "-o", str(out), "--errors", str(errors)],
        env=poisoned_env(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert [(e["id"], e["reason"], e["line"]) for e in _read_jsonl(errors)] == [
        ("poison", "extract-crashed", 4)
    ]
    clusters = [sorted(row["member_ids"]) for row in _read_jsonl(out)]
    assert clusters == [[f"copy{i}" for i in range(6)]]


def _pair_lines() -> list[str]:
    """The seeds and a copy (merged pairs), plus look-alike reports that share a template but
    not their figures (verified candidates the guard or the similarity bars reject)."""
    formulaic = json.loads((FIXTURES / "dedup" / "formulaic_pairs.json").read_text(encoding="utf-8"))["pairs"]
    looks = [
        json.dumps({"id": f"look{n}{side}", "text": pair[side]["text"], "site": f"{side}.example"})
        for n, pair in enumerate(formulaic)
        for side in ("a", "b")
    ]
    copies = [
        json.dumps({"id": f"trunc{n}", "text": "\n\n".join(p.read_text(encoding="utf-8").split("\n\n")[:6])})
        for n, p in enumerate(SEEDS[:3])
    ]
    return [*_seed_lines(), *copies, *looks]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_pairs_file_records_every_verified_pair_with_its_verdict(tmp_path: Path, jobs: str) -> None:
    """--pairs writes each verified pair, rejected ones too (checklist D5: the decision and
    the scores are recorded): the same rows as the library's on_verdict, each the verifier's
    own verdict on that pair, the accepted ones inside one cluster."""
    from newsdedup import Deduplicator, Verdict, explain_pair
    from newsdedup._records import to_article

    lines = _pair_lines()
    src = _write(tmp_path / "in.jsonl", lines)
    out, pairs = tmp_path / "out.jsonl", tmp_path / "pairs.jsonl"
    result = _run([str(src), "-o", str(out), "--pairs", str(pairs), "--jobs", jobs])
    assert result.exit_code == 0, result.output
    rows = _read_jsonl(pairs)
    assert {r["kind"] for r in rows if not r["accepted"]} >= {"numbers-differ", "low-similarity"}
    assert {r["kind"] for r in rows if r["accepted"]} >= {"near-duplicate", "truncated"}
    assert set(rows[0]) == {"a", "b", "accepted", "kind", "jaccard", "containment", "align"}

    # the library's hook sees the same pairs and verdicts
    seen: list[tuple[str, str, Verdict]] = []
    d = Deduplicator(on_verdict=lambda a, b, v: seen.append((a, b, v)))
    d.add_many([json.loads(line) for line in lines])
    d.clusters()
    assert sorted((a, b, v.to_dict()["kind"], v.to_dict()["jaccard"]) for a, b, v in seen) == sorted(
        (r["a"], r["b"], r["kind"], r["jaccard"]) for r in rows
    )
    assert sum(1 for r in rows if not r["accepted"]) == sum(
        n
        for k, n in d.stats.items()
        if k.startswith("verified:") and k.split(":")[1] not in ("near-duplicate", "truncated")
    )

    # each row is what the verifier says about that pair; accepted pairs share a cluster
    cluster_of = {m: c["cluster_id"] for c in _read_jsonl(out) for m in c["member_ids"]}
    articles = {a.id: a for a in (to_article(json.loads(line)) for line in lines)}
    for r in rows:
        e = explain_pair(articles[r["a"]], articles[r["b"]])
        assert (e.verdict, round(e.jaccard, 4)) == (r["kind"], r["jaccard"]), r
        if r["accepted"]:
            assert cluster_of[r["a"]] == cluster_of[r["b"]]


def test_pairs_file_is_written_when_an_input_breaks_and_refused_with_dask(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.jsonl", _pair_lines())
    pairs = tmp_path / "pairs.jsonl"
    result = _run(
        [str(good), str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "o.jsonl"), "--pairs", str(pairs)]
    )
    assert result.exit_code == 1
    assert any(not r["accepted"] for r in _read_jsonl(pairs))  # what was read is verified and kept
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    result = _run([str(good), "--engine", "dask", "--pairs", str(tmp_path / "p2.jsonl")])
    assert result.exit_code == 2
    assert "--pairs is not supported with --engine dask" in result.output


def test_pairs_file_write_errors_are_clear_and_dash_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A --pairs write that fails during the run (a full disk) is the usual one-line output
    error, exit 1, with no temporary file left; '-' is refused (stdout holds the clusters)."""
    import contextlib
    import errno
    from collections.abc import Iterator
    from typing import Any

    from newsdedup._cli import dedup as command

    src = _write(tmp_path / "in.jsonl", _pair_lines())
    result = _run([str(src), "-o", str(tmp_path / "o.jsonl"), "--pairs", "-"])
    assert result.exit_code == 2
    assert "--pairs needs a file" in result.output
    assert not (Path.cwd() / "-").exists()

    class Full:  # the pairs file on a disk that fills up
        def __init__(self, fh: Any) -> None:
            self.fh = fh

        def write(self, text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    real = command.atomic_writer

    @contextlib.contextmanager
    def filling(path: Path) -> Iterator[Any]:
        with real(path) as fh:
            yield Full(fh)

    monkeypatch.setattr(command, "atomic_writer", filling)
    result = _run([str(src), "-o", str(tmp_path / "o.jsonl"), "--pairs", str(tmp_path / "p.jsonl")])
    assert result.exit_code == 1
    assert "cannot write output: No space left on device" in result.output
    assert not isinstance(result.exception, OSError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]
