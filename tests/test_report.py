"""The HTML cluster report: every cluster listed, everything escaped, self-contained."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from newsdedup import Cluster, Source, clean_text, dedup
from newsdedup._cli import main
from newsdedup._report import load_clusters, member_diff, render_report
from newsdedup._story import assign_stories

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = sorted((FIXTURES / "seeds").glob("*.txt"))


def _items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        {"id": f"seed-{p.stem[:3]}", "text": p.read_text(encoding="utf-8")} for p in SEEDS
    ]
    paras = clean_text(SEEDS[2].read_text(encoding="utf-8")).paragraphs
    short = (
        "\n\n".join(paras[:6]) + "\n\nSign up for our morning briefing to get the top stories in your inbox."
    )
    items.append(
        {"id": "copy-short", "text": short, "site": "dailycopy.example", "title": "NKorean officers"}
    )
    for line in (FIXTURES / "stories" / "hard_cases.jsonl").read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        data.pop("event")
        items.append({k: v for k, v in data.items() if v is not None})
    return items


@pytest.fixture(scope="module")
def clusters() -> list[Cluster]:
    return assign_stories(dedup(_items()))


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Collector:
    c = _Collector()
    c.feed(page)
    return c


def test_every_cluster_and_story_is_listed(clusters: list[Cluster]) -> None:
    page = render_report(clusters)
    parsed = _parse(page)
    ids = {a.get("id") for tag, a in parsed.tags if tag == "article"}
    assert ids == {c.cluster_id for c in clusters}
    stories = [a.get("id") for tag, a in parsed.tags if tag == "section"]
    assert sorted(stories) == sorted({c.extra["story_id"] for c in clusters})
    # the seeds' story comes first (most clusters) and holds the five seed clusters
    first = page.split('<section class="story"')[1]
    for seed in ("seed-000", "seed-001", "seed-002", "seed-003", "seed-004"):
        assert seed in first
    assert "5 clusters" in first
    assert "story ids from the input" in page


def test_self_contained(clusters: list[Cluster]) -> None:
    page = render_report(clusters)
    parsed = _parse(page)
    tags = {t for t, _ in parsed.tags}
    assert "link" not in tags
    assert "img" not in tags
    assert "iframe" not in tags
    for tag, attrs in parsed.tags:
        assert "src" not in attrs, tag  # no external script, image or frame
        if tag == "a":
            assert attrs["href"].startswith(("http://", "https://"))
    assert "@import" not in page
    assert "url(" not in page
    assert "Content-Security-Policy" in page


def test_without_items_says_texts_not_provided(clusters: list[Cluster]) -> None:
    page = render_report(clusters)
    assert "texts not provided" in page
    assert "member texts not provided" in page


def test_with_items_shows_member_differences(clusters: list[Cluster]) -> None:
    from newsdedup._records import to_article

    items = {i["id"]: to_article(i) for i in _items()}
    page = render_report(clusters, items)
    assert "texts not provided" not in page
    assert "truncated (last" in page  # the short copy ends early
    assert "Sign up for our morning briefing" in page  # and carries a line of its own


def test_escaping_of_untrusted_text() -> None:
    evil = Cluster(
        cluster_id="c1",
        canonical_id="x<1>",
        member_ids=("x<1>", "y"),
        title='<img src=x onerror="alert(1)">Headline',
        text="Body with <script>alert('pwned')</script> & more\n\nSecond </p><b>para</b>",
        sources=(
            Source(id="x<1>", url="javascript:alert(1)", site="<b>site</b>", title="<i>t</i>"),
            Source(id="y", url='https://ex.example/a?b="c"&d=<e>', site="ex.example", title="ok"),
        ),
        canonical_reason="smallest-id",
        extra={"story_id": 's"><script>alert(2)</script>'},
    )
    page = render_report([evil])
    assert "<script>alert" not in page
    assert "<img" not in page
    assert "<b>site" not in page
    assert "<i>t" not in page
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt; &amp; more" in page
    assert 'href="javascript' not in page
    assert 'href="https://ex.example/a?b=&quot;c&quot;&amp;d=&lt;e&gt;"' in page
    # only our own script tag remains
    assert len(re.findall(r"<script>", page)) == 1


def test_stories_computed_when_input_has_no_story_id() -> None:
    plain = dedup(
        [{"id": f"seed-{p.stem[:3]}", "text": p.read_text(encoding="utf-8")} for p in SEEDS], stories=False
    )
    assert all("story_id" not in c.extra for c in plain)
    page = render_report(plain)
    assert "stories computed from the cluster texts" in page
    assert page.count('<section class="story"') == 1
    assert render_report(plain) == page  # deterministic


def test_member_diff() -> None:
    canon = "One two three four five six seven eight nine ten."
    assert member_diff("m", canon, canon).status == "identical"
    assert member_diff("m", canon, "ONE two three four five six seven eight nine ten").status == "identical"
    cut = member_diff("m", canon, "One two three four five six")
    assert cut.truncated_words == 4
    assert cut.truncated == "seven eight nine ten."
    assert cut.inserted_words == 0
    assert cut.removed_words == 0
    ins = member_diff(
        "m", canon, "Breaking: One two three four five six seven eight nine ten. Subscribe now!"
    )
    assert ins.inserted_words == 3
    assert ins.truncated_words == 0
    rem = member_diff("m", canon, "One two three seven eight nine ten.")
    assert rem.removed == ("four five six",)
    assert rem.truncated_words == 0
    assert member_diff("m", canon, None).status == "texts-not-provided"
    assert member_diff("m", canon, "").status == "no-text"


def test_cli_report(clusters: list[Cluster], tmp_path: Path) -> None:
    src = tmp_path / "clusters.jsonl"
    src.write_text("".join(json.dumps(c.to_dict()) + "\n" for c in clusters), encoding="utf-8")
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps(i) + "\n" for i in _items()), encoding="utf-8")
    out = tmp_path / "report.html"
    runner = CliRunner()
    r = runner.invoke(main, ["report", str(src), "-o", str(out)])
    assert r.exit_code == 0, r.output
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "texts not provided" in page
    assert len(load_clusters(str(src))) == len(clusters)
    r = runner.invoke(main, ["report", str(src), "-o", str(out), "--items", str(items)])
    assert r.exit_code == 0, r.output
    assert "truncated (last" in out.read_text(encoding="utf-8")
    r = runner.invoke(main, ["report", str(src)])  # stdout
    assert r.exit_code == 0
    assert "<!DOCTYPE html>" in r.output


def test_cli_report_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(main, ["report", str(tmp_path / "none.jsonl"), "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 1
    assert "cannot read" in r.output
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    r = runner.invoke(main, ["report", str(empty), "-o", str(tmp_path / "no-such-dir" / "r.html")])
    assert r.exit_code == 1
    assert "cannot write" in r.output
    r = runner.invoke(main, ["report", str(empty), "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 0
    assert "No clusters" in (tmp_path / "r.html").read_text(encoding="utf-8")
    r = runner.invoke(main, ["report", str(empty), "--story-window", "later"])
    assert r.exit_code == 2


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ({"sources": [1, 2]}, "a source must be an object with an id, got 1"),
        ({"sources": [{"url": "https://wire.example/a", "site": "Wire"}]}, "a source has no id"),
        ({"sources": "Wire"}, "sources must be a list"),
        ({"member_ids": "a1"}, "member_ids must be a list"),
        ({"cluster_id": None}, "cluster_id is missing or null"),
    ],
    ids=["source-numbers", "source-without-id", "sources-string", "member-ids-string", "null-cluster-id"],
)
def test_cli_report_names_the_file_and_line_of_a_malformed_cluster(
    clusters: list[Cluster], tmp_path: Path, damage: dict[str, Any], message: str
) -> None:
    """A hand-edited or foreign cluster line with ``"sources": [1, 2]`` was a TypeError
    traceback, a source without ``id`` a KeyError one (and a string of member ids became one
    member per character): it is an error naming the file, the line and what is wrong."""
    lines = [c.to_dict() for c in clusters]
    lines[1] = {**lines[1], **damage}
    src = tmp_path / "clusters.jsonl"
    src.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    out = tmp_path / "report.html"
    r = CliRunner().invoke(main, ["report", str(src), "-o", str(out)])
    assert r.exit_code == 1
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert f"{src}:2: malformed cluster line: {message}" in r.stderr
    assert "Traceback" not in r.output
    assert not out.exists()


def test_cli_report_on_a_file_without_cluster_lines_says_so(tmp_path: Path) -> None:
    """``report`` given the dedup *input* (or a Parquet file) wrote an empty page, said
    "wrote ...: 0 clusters" and exited 0. An empty file is still an empty report."""
    runner = CliRunner()
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps(i) + "\n" for i in _items()), encoding="utf-8")
    out = tmp_path / "report.html"
    r = runner.invoke(main, ["report", str(items), "-o", str(out)])
    assert r.exit_code == 1
    assert "no cluster line found" in r.stderr
    assert "not its input" in r.stderr
    assert not out.exists()
    pq = pytest.importorskip("pyarrow.parquet")
    pa = pytest.importorskip("pyarrow")
    table = tmp_path / "items.parquet"
    pq.write_table(
        pa.Table.from_pylist([{"id": i["id"], "text": i.get("text", "")} for i in _items()]), table
    )
    r = runner.invoke(main, ["report", str(table), "-o", str(out)])
    assert r.exit_code == 1
    assert "no cluster line found" in r.stderr
    assert "JSONL output of newsdedup dedup" in r.stderr
    assert not out.exists()
