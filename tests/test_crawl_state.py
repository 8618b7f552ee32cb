"""``crawl --state``: conditional GET of feeds across runs, no article fetched twice, only grown
clusters emitted, learned boilerplate kept in the store, story ids; all against a local server."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from newsdedup._cli import main
from newsdedup._crawl import crawl
from newsdedup._demo.site import load_stories
from newsdedup._fetch import FetchConfig
from newsdedup._store import open_store
from servers import LocalServer, Request, Response, article_html

STORIES = {s["slug"]: s for s in load_stories()["wire"]}
BANK = STORIES["central-bank-holds-rates"]
FIRE = STORIES["wildfire-forces-evacuations"]
TIP = "Courier readers can send news tips to the night desk by calling our hotline after hours."


def cfg() -> FetchConfig:
    return FetchConfig(allow_private=True, per_host_delay=0.0, per_host_concurrency=8, backoff_base=0.01,
                       backoff_max=0.02, total_timeout=3.0, read_timeout=2.0, max_attempts=2)  # fmt: skip


class NewsSite:
    """A site whose feed honours If-None-Match and whose article list can grow between runs."""

    def __init__(self, srv: LocalServer) -> None:
        self.srv = srv
        self.links: list[str] = []
        self.feed_statuses: list[int] = []
        srv.route("/feed.xml", self.feed)

    def add(
        self, path: str, story: dict[str, Any], *, site: str, keep: int | None = None, tip: bool = False
    ) -> None:
        paragraphs = list(story["paragraphs"][:keep] if keep else story["paragraphs"])
        if tip:
            paragraphs.insert(2, TIP)
        self.srv.page(path, article_html(story["title"], paragraphs, site=site))
        self.links.append(path)

    def body(self) -> str:
        items = "".join(
            f"<item><title>t{i}</title><link>{self.srv.base}{p}</link></item>"
            for i, p in enumerate(self.links)
        )
        return f'<?xml version="1.0"?><rss version="2.0"><channel><title>C</title>{items}</channel></rss>'

    def feed(self, req: Request) -> Response:
        body = self.body()
        etag = '"' + hashlib.sha1(body.encode()).hexdigest()[:12] + '"'
        if req.headers.get("if-none-match") == etag:
            self.feed_statuses.append(304)
            return Response(304, b"", headers={"ETag": etag}, content_type=None)
        self.feed_statuses.append(200)
        return Response(body=body, headers={"ETag": etag}, content_type="application/rss+xml")


def run_cli(srv: LocalServer, state: Path, out: Path, *extra: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(
        main,
        ["crawl", srv.url("/feed.xml"), "--state", str(state), "-o", str(out), "--allow-private",
         "--delay", "0", "--timeout", "3", "--per-host", "8", "--no-progress", *extra],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


ARTICLE_PATHS = (
    "/business/2026/11/20/bank-holds-rates",
    "/wire/2026/11/20/bank-copy",
    "/world/2026/11/20/fire",
)


@pytest.fixture
def news():
    with LocalServer() as srv:
        site = NewsSite(srv)
        site.add(ARTICLE_PATHS[0], BANK, site="Courier")
        site.add(ARTICLE_PATHS[1], BANK, site="Ledger", keep=5)
        site.add(ARTICLE_PATHS[2], FIRE, site="Courier")
        yield site


def test_three_runs_fetch_each_article_once_and_emit_only_grown_clusters(
    news: NewsSite, tmp_path: Path
) -> None:
    srv, state = news.srv, tmp_path / "state.db"
    first = run_cli(srv, state, tmp_path / "1.jsonl")
    assert sorted(len(c["member_ids"]) for c in first) == [1, 2]
    assert all(c["story_id"].startswith("s") for c in first)
    assert news.feed_statuses == [200]

    second = run_cli(srv, state, tmp_path / "2.jsonl")
    assert second == []  # nothing new
    assert news.feed_statuses == [200, 304]  # the feed was re-fetched, cheaply
    assert all(srv.hits[p] == 1 for p in ARTICLE_PATHS)  # no article fetched twice

    news.add("/world/2026/11/21/fire-mirror", FIRE, site="Mirror", keep=6)
    third = run_cli(srv, state, tmp_path / "3.jsonl")
    assert news.feed_statuses == [200, 304, 200]
    assert all(srv.hits[p] == 1 for p in ARTICLE_PATHS)
    assert srv.hits["/world/2026/11/21/fire-mirror"] == 1
    assert len(third) == 1  # exactly the cluster that grew
    assert sorted(third[0]["member_ids"]) == sorted(
        srv.url(p) for p in (ARTICLE_PATHS[2], "/world/2026/11/21/fire-mirror")
    )
    fire_before = next(c for c in first if c["member_ids"] == [srv.url(ARTICLE_PATHS[2])])
    assert third[0]["cluster_id"] == fire_before["cluster_id"]  # the smallest member id did not change
    assert third[0]["story_id"] == fire_before["story_id"]

    result = CliRunner().invoke(main, ["export", "--state", str(state), "-o", str(tmp_path / "all.jsonl")])
    assert result.exit_code == 0, result.output
    everything = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text().splitlines()]
    assert sorted(len(c["member_ids"]) for c in everything) == [2, 2]
    assert {m for c in everything for m in c["member_ids"]} == {
        srv.url(p) for p in (*ARTICLE_PATHS, "/world/2026/11/21/fire-mirror")
    }


def test_api_store_learns_site_boilerplate_across_runs(tmp_path: Path) -> None:
    with LocalServer() as srv:
        site = NewsSite(srv)
        site.add("/business/2026/11/20/bank", BANK, site="Courier", tip=True)
        site.add("/world/2026/11/20/fire", FIRE, site="Courier", tip=True)
        site.add("/world/2026/11/20/fire-short", FIRE, site="Courier", keep=4, tip=True)
        store = open_store(tmp_path / "state.db")
        try:
            first = crawl([srv.url("/feed.xml")], fetch_config=cfg(), store=store)
            assert all(TIP in a.text for a in first.articles)  # 3 pages: nothing known before
            learner = store.load_learner()
            assert learner is not None
            assert any("night desk" in line for line in learner.boilerplate(srv.url("/")))

            site.add("/business/2026/11/21/bank-update", BANK, site="Courier", keep=6, tip=True)
            second = crawl([srv.url("/feed.xml")], fetch_config=cfg(), store=store)
        finally:
            store.close()
    assert [a.url for a in second.articles] == [srv.url("/business/2026/11/21/bank-update")]
    new = second.articles[0]
    assert TIP not in new.text  # learned in the first run, cut in the second
    assert any(r.rule.startswith("learned") for r in new.removed)
    assert second.stats.skipped_seen == 3
    # the bank update joins the bank story: only that grown cluster is output
    assert len(second.clusters) == 1
    assert srv.url("/business/2026/11/21/bank-update") in second.clusters[0].member_ids
    assert "story_id" in second.clusters[0].extra


def test_crawl_without_state_has_story_ids_and_no_stories_omits_them(news: NewsSite, tmp_path: Path) -> None:
    result = crawl([news.srv.url("/feed.xml")], fetch_config=cfg())
    assert len({c.extra["story_id"] for c in result.clusters}) == 2
    plain = crawl([news.srv.url("/feed.xml")], fetch_config=cfg(), stories=False)
    assert all("story_id" not in c.extra for c in plain.clusters)
    assert [c.member_ids for c in plain.clusters] == [c.member_ids for c in result.clusters]


def test_crawl_refuses_a_file_that_is_not_a_store(news: NewsSite, tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a database\n" * 50)
    before = bad.read_bytes()
    result = CliRunner().invoke(
        main, ["crawl", news.srv.url("/feed.xml"), "--state", str(bad), "--allow-private", "--no-progress"]
    )
    assert result.exit_code == 1
    assert "state store" in result.output
    assert bad.read_bytes() == before


def test_gone_articles_are_not_fetched_again_by_later_runs(news: NewsSite, tmp_path: Path) -> None:
    """Feed items answering 404, 410 or 451 are recorded once; the next run over the same
    store skips them like ingested articles, while one that failed with a 503 is retried."""
    srv, state = news.srv, tmp_path / "state.db"
    for status in (404, 410, 451, 503):
        srv.route(f"/gone/{status}", Response(status, f"status {status}".encode(), content_type="text/plain"))
        news.links.append(f"/gone/{status}")
    run_cli(srv, state, tmp_path / "1.jsonl")
    first = {p: srv.hits[p] for p in ("/gone/404", "/gone/410", "/gone/451", "/gone/503")}
    assert first["/gone/404"] == first["/gone/410"] == first["/gone/451"] == 1
    run_cli(srv, state, tmp_path / "2.jsonl")
    assert srv.hits["/gone/404"] == srv.hits["/gone/410"] == srv.hits["/gone/451"] == 1
    assert srv.hits["/gone/503"] > first["/gone/503"]  # a temporary failure is tried again
