"""``newsdedup dedup --state`` over several runs and ``newsdedup export``: the per-run output
holds only new or grown clusters, the export equals one stateless run over all inputs."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from newsdedup._cli import main
from test_state_contract import make_corpus, write_jsonl


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _invoke(*args: str) -> None:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output


def test_runs_emit_new_or_grown_clusters_and_export_equals_one_run(tmp_path: Path) -> None:
    items = make_corpus(20, seed=17)
    parts = [items[:25], items[25:50], items[50:]]
    srcs = [write_jsonl(tmp_path / f"part{n}.jsonl", part) for n, part in enumerate(parts)]
    state = tmp_path / "state.db"
    outs = []
    for n, src in enumerate(srcs):
        out = tmp_path / f"out{n}.jsonl"
        _invoke("dedup", str(src), "--state", str(state), "-o", str(out))
        outs.append(_rows(out))

    seen: set[str] = set()
    for part, rows in zip(parts, outs, strict=True):
        part_ids = {i["id"] for i in part}
        members = [m for r in rows for m in r["member_ids"]]
        assert len(members) == len(set(members))  # a cluster at most once per output
        assert part_ids <= set(members)  # every new item is emitted in its run
        for r in rows:  # and only clusters that gained a member in this run
            assert part_ids & set(r["member_ids"])
        seen |= part_ids
    grown = [r for r in outs[2] if set(r["member_ids"]) - {i["id"] for i in parts[2]}]
    assert grown  # some stories got copies in a later run and were emitted again, grown

    one_shot = tmp_path / "one.jsonl"
    _invoke("dedup", *map(str, srcs), "-o", str(one_shot))
    exported = tmp_path / "export.jsonl"
    _invoke("export", "--state", str(state), "-o", str(exported))
    assert exported.read_bytes() == one_shot.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp files left

    to_stdout = CliRunner().invoke(main, ["export", "--state", str(state)])
    assert to_stdout.exit_code == 0
    assert to_stdout.stdout_bytes == one_shot.read_bytes()

    # story ids written by each run equal those of one stateless run over the inputs so far
    for n, rows in enumerate(outs):
        so_far = tmp_path / f"so_far{n}.jsonl"
        _invoke("dedup", *map(str, srcs[: n + 1]), "-o", str(so_far))
        expected = {r["cluster_id"]: r["story_id"] for r in _rows(so_far)}
        assert rows
        assert all(r["story_id"] == expected[r["cluster_id"]] for r in rows)
    final_stories = {r["story_id"] for r in _rows(one_shot)}
    assert 1 < len(final_stories) < len(_rows(one_shot))  # stories group several clusters here


def test_no_stories_omits_the_story_id(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", make_corpus(5, seed=3))
    _invoke("dedup", str(src), "--no-stories", "-o", str(tmp_path / "a.jsonl"))
    _invoke("dedup", str(src), "-o", str(tmp_path / "b.jsonl"))
    plain, with_ids = _rows(tmp_path / "a.jsonl"), _rows(tmp_path / "b.jsonl")
    assert all("story_id" not in r for r in plain)
    assert [{k: v for k, v in r.items() if k != "story_id"} for r in with_ids] == plain


def test_window_option_and_bad_values(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", make_corpus(6, seed=2))
    result = CliRunner().invoke(main, ["dedup", str(src), "--window", "soon"])
    assert result.exit_code == 2
    assert "--window" in result.output
    out = tmp_path / "out.jsonl"
    _invoke("dedup", str(src), "--window", "7d", "--state", str(tmp_path / "s.db"), "-o", str(out))
    assert _rows(out)


def test_stored_settings_are_reused_and_a_conflicting_one_is_refused(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", make_corpus(6, seed=2))
    state = tmp_path / "s.db"
    _invoke("dedup", str(src), "--state", str(state), "--num-perm", "64", "-o", str(tmp_path / "a.jsonl"))
    # no flags: the store's own settings are used, no mismatch
    _invoke("dedup", str(src), "--state", str(state), "-o", str(tmp_path / "b.jsonl"))
    assert _rows(tmp_path / "b.jsonl") == []  # nothing new
    bad = CliRunner().invoke(main, ["dedup", str(src), "--state", str(state), "--num-perm", "128"])
    assert bad.exit_code == 1
    assert "different dedup configuration" in bad.output


def test_export_of_an_empty_new_store_path_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    result = CliRunner().invoke(main, ["export", "--state", str(empty)])
    assert result.exit_code == 1
    assert "state store" in result.output
    assert empty.read_bytes() == b""


def test_an_unknown_state_url_is_a_usage_error(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", make_corpus(6, seed=2))
    for args in (["dedup", str(src)], ["export"]):
        result = CliRunner().invoke(main, [*args, "--state", "postgres://db.example/news"])
        assert result.exit_code == 2
        assert "--state" in result.output
