"""Explanations: why a pair was (not) merged, shared passages, canonical rule, story signals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from newsdedup import Article, clean_text, dedup
from newsdedup._cli import main
from newsdedup._explain import aligned_passages, cluster_index, explain_cluster, explain_pair
from newsdedup._story import assign_stories

FIXTURES = Path(__file__).parent / "fixtures"
SEED = {p.stem[:3]: p.read_text(encoding="utf-8") for p in (FIXTURES / "seeds").glob("*.txt")}


def _copies() -> list[dict[str, Any]]:
    """The Newsmax/Reuters seed plus two realistic re-publications of the same wire text."""
    paras = clean_text(SEED["002"]).paragraphs
    truncated = "\n\n".join(paras[: int(len(paras) * 0.7)])
    truncated += "\n\nSign up for our morning briefing to get the top stories in your inbox."
    longer = "\n\n".join(paras) + "\n\nFollow us on social media for more updates from our newsroom."
    return [
        {
            "id": "newsmax",
            "text": SEED["002"],
            "url": "https://www.newsmax.com/world/globaltalk/x/2024/10/17/id/1184710/",
        },
        {"id": "daily", "text": truncated, "site": "dailycopy.example", "title": "NKorean officers deployed"},
        {"id": "other", "text": longer, "site": "othercopy.example"},
        {"id": "unn", "text": SEED["000"]},
    ]


@pytest.fixture(scope="module")
def run() -> tuple[dict[str, Article], dict[str, Any]]:
    from newsdedup._records import to_article

    items = _copies()
    articles = {i["id"]: to_article(i) for i in items}
    clusters = assign_stories(dedup(items))
    return articles, cluster_index(clusters)


def test_merged_pair_is_explained(run: tuple[dict[str, Article], dict[str, Any]]) -> None:
    articles, cluster_of = run
    e = explain_pair(articles["newsmax"], articles["other"], cluster_of=cluster_of)
    assert e.merged
    assert e.verdict == "near-duplicate"
    assert e.jaccard >= 0.5
    assert e.estimated_jaccard is not None
    assert abs(e.estimated_jaccard - e.jaccard) < 0.15
    assert e.cluster_a == e.cluster_b
    assert e.canonical_id == "newsmax"
    assert e.canonical_reason
    assert "threshold 0.5" in e.reason
    # the shared passages cover almost all of the story, aligned side by side
    assert e.shared_words >= 0.9 * min(e.words_a, e.words_b)
    assert any("Zelenskyy told a press conference in Brussels" in p.a for p in e.shared)
    # Newsmax's footer was cut by the publisher rule: the explanation lists it
    assert any(r.rule.startswith("newsmax:") for r in e.removed_a)
    assert e.same_story is True
    text = e.format_text()
    assert "MERGED (near-duplicate)" in text
    assert "canonical:  newsmax" in text
    assert "boilerplate cut from A" in text


def test_truncated_copy_is_explained(run: tuple[dict[str, Article], dict[str, Any]]) -> None:
    articles, cluster_of = run
    e = explain_pair(articles["newsmax"], articles["daily"], cluster_of=cluster_of)
    assert e.merged
    assert e.verdict in {"truncated", "near-duplicate"}
    assert e.containment >= 0.7


def test_not_merged_pair_same_story(run: tuple[dict[str, Article], dict[str, Any]]) -> None:
    articles, cluster_of = run
    e = explain_pair(articles["unn"], articles["newsmax"], cluster_of=cluster_of)
    assert not e.merged
    assert e.verdict == "low-similarity"
    assert e.jaccard < 0.1
    assert "not copies" in e.reason
    assert e.cluster_a != e.cluster_b
    assert e.canonical_id is None
    assert e.story is not None
    assert e.same_story
    assert any("no evidence that north korean soldiers" in q for q in e.story.shared_quotes)
    assert "quote" in " ".join(e.story.signals)
    d = e.to_dict()
    json.dumps(d)  # machine-readable
    assert d["merged"] is False
    assert d["same_story"] is True
    assert d["story"]["rule"] == "text-and-names"


def test_too_short_pair() -> None:
    a = Article(id="a", text="Short brief about the vote.")
    b = Article(id="b", text="Short brief about the vote.")
    e = explain_pair(a, b)
    assert not e.merged
    assert e.verdict == "too-short"
    assert e.estimated_jaccard is None
    assert "too short" in e.reason


def test_aligned_passages_ignore_typography() -> None:
    a = "He said “we have no evidence that North Korean soldiers are involved” on Thursday."
    b = 'Officials said: "We have NO evidence that North Korean soldiers are involved", a source added.'
    passages, shared, _, _ = aligned_passages(a, b, min_words=5)
    assert shared == 11  # "said we have no evidence that north korean soldiers are involved"
    assert passages[0].a == "said “we have no evidence that North Korean soldiers are involved”"
    assert passages[0].b == 'said: "We have NO evidence that North Korean soldiers are involved",'


def test_explain_cluster(run: tuple[dict[str, Article], dict[str, Any]]) -> None:
    articles, cluster_of = run
    cluster = cluster_of["newsmax"]
    ce = explain_cluster(cluster, {k: v for k, v in articles.items() if k != "other"})
    assert ce.canonical_id == "newsmax"
    assert ce.canonical_reason == cluster.canonical_reason
    assert ce.missing == ("other",)
    assert [m.b for m in ce.members] == ["daily"]
    assert all(m.merged for m in ce.members)
    assert ce.story_id == cluster.extra["story_id"]
    assert "canonical newsmax" in ce.format_text()
    assert ce.to_dict()["members"][0]["b"] == "daily"


@pytest.fixture
def input_file(tmp_path: Path) -> Path:
    path = tmp_path / "items.jsonl"
    lines = [json.dumps(i) for i in _copies()]
    lines.append(json.dumps({"id": "broken"}))  # no body: unusable
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_cli_text_and_json(input_file: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["explain", "newsmax", "unn", "--input", str(input_file)])
    assert r.exit_code == 0, r.output
    assert "NOT MERGED (low-similarity)" in r.output
    assert "SAME STORY" in r.output
    r = runner.invoke(main, ["explain", "newsmax", "other", "-i", str(input_file), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["merged"] is True
    assert data["canonical_id"] == "newsmax"
    assert data["story_a"] == data["story_b"]


def test_cli_exit_codes(input_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["explain", "newsmax", "nope", "-i", str(input_file)])
    assert r.exit_code == 2
    assert "'nope' is not in the input" in r.output
    r = runner.invoke(main, ["explain", "newsmax", "broken", "-i", str(input_file)])
    assert r.exit_code == 2
    assert "missing-body" in r.output
    r = runner.invoke(main, ["explain", "a", "b", "-i", str(tmp_path / "missing.jsonl")])
    assert r.exit_code == 1
    assert "cannot read" in r.output
    r = runner.invoke(main, ["explain", "a", "b"])
    assert r.exit_code == 2
    r = runner.invoke(main, ["explain", "newsmax", "unn", "-i", str(input_file), "--story-window", "soon"])
    assert r.exit_code == 2


def test_cli_explain_from_a_state_store_equals_explain_from_the_input(
    input_file: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    state = tmp_path / "state.db"
    lines = input_file.read_text(encoding="utf-8").splitlines()
    # two runs fill the store, so the pair's items were added in different runs
    for n, part in enumerate((lines[:2], lines[2:])):
        src = tmp_path / f"part{n}.jsonl"
        src.write_text("\n".join(part) + "\n", encoding="utf-8")
        r = runner.invoke(
            main, ["dedup", str(src), "--state", str(state), "-o", str(tmp_path / f"o{n}.jsonl")]
        )
        assert r.exit_code == 0, r.output
    before = state.read_bytes()
    for pair in (["newsmax", "other"], ["newsmax", "unn"]):
        from_input = runner.invoke(main, ["explain", *pair, "-i", str(input_file), "--json"])
        from_store = runner.invoke(main, ["explain", *pair, "--state", str(state), "--json"])
        assert from_store.exit_code == 0, from_store.output
        assert json.loads(from_store.output) == json.loads(from_input.output)
    assert state.read_bytes() == before  # explaining never writes to the store
    r = runner.invoke(main, ["explain", "newsmax", "nope", "--state", str(state)])
    assert r.exit_code == 2
    assert "'nope' is not in the input" in r.output
    r = runner.invoke(main, ["explain", "newsmax", "unn", "--state", str(state), "-i", str(input_file)])
    assert r.exit_code == 2  # exactly one source
    r = runner.invoke(main, ["explain", "newsmax", "unn", "--state", str(tmp_path / "missing.db")])
    assert r.exit_code == 1
    assert "state store" in r.output


def test_explain_pair_wants_articles_not_items() -> None:
    """Items (dicts) are what dedup takes; explain_pair explains clean articles, and says so
    instead of failing on a missing attribute."""
    with pytest.raises(TypeError, match="two Articles"):
        explain_pair({"id": "a", "text": "x"}, {"id": "b", "text": "x"})  # type: ignore[arg-type]
