"""The crawl end to end against a real local site full of faults: it always completes."""

from __future__ import annotations

import asyncio
import functools
import gzip
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from newsdedup._cli import main
from newsdedup._crawl import CrawlConfig, crawl, crawl_async
from newsdedup._demo.site import load_stories
from newsdedup._exceptions import ConfigError
from newsdedup._fetch import FetchConfig, Fetcher, MemoryFetchCache
from poison import poisoned_env
from servers import LocalServer, Response, article_html, gzip_bomb

STORIES = {s["slug"]: s for s in load_stories()["wire"]}
BANK = STORIES["central-bank-holds-rates"]
FIRE = STORIES["wildfire-forces-evacuations"]


def cfg(**kw: Any) -> FetchConfig:
    base: dict[str, Any] = {
        "allow_private": True, "per_host_delay": 0.0, "per_host_concurrency": 8, "backoff_base": 0.01, "backoff_max": 0.02,
        "total_timeout": 1.5, "read_timeout": 1.0, "max_attempts": 2, "max_body_bytes": 1_000_000,
    }  # fmt: skip
    base.update(kw)
    return FetchConfig(**base)


def story_page(story: dict[str, Any], *, site: str, title: str | None = None, keep: int | None = None) -> str:
    paragraphs = story["paragraphs"][:keep] if keep else story["paragraphs"]
    return article_html(title or story["title"], paragraphs, site=site)


@functools.cache
def bomb_body() -> bytes:
    return gzip_bomb(50)


def build_site(srv: LocalServer) -> None:
    """A small news site with every fault of the brief behind one feed, one sitemap and a homepage."""
    srv.route("/robots.txt", Response(body="User-agent: *\nDisallow: /members/\n", content_type="text/plain"))
    srv.page("/business/2026/11/20/bank-holds-rates", story_page(BANK, site="Courier"))
    srv.page(
        "/wire/2026/11/20/bank-decision-copy",
        story_page(BANK, site="Ledger", title="Bank keeps rates", keep=5),
    )
    srv.page("/world/2026/11/20/fire-evacuations", story_page(FIRE, site="Courier"))
    srv.route(
        "/old/fire-story",
        Response(301, "", headers={"Location": "/world/2026/11/20/fire-evacuations-mirror"}),
    )
    srv.page("/world/2026/11/20/fire-evacuations-mirror", story_page(FIRE, site="Mirror", keep=6))
    latin = article_html(
        "Le conseil municipal adopte le budget",
        ["Le conseil municipal a adopté mardi soir le budget de l'année prochaine, après un débat de près de quatre heures sur la rénovation des écoles et le prix des cantines.",
         "La majorité a défendu une hausse modérée des dépenses d'entretien, tandis que l'opposition a réclamé davantage de crédits pour les pistes cyclables du quartier de la gare."],
        site="Gazette",
    ).replace('charset="utf-8"', 'charset="iso-8859-1"')  # fmt: skip
    srv.route(
        "/local/2026/11/19/budget-adopte",
        Response(body=latin.encode("latin-1"), content_type="text/html; charset=ISO-8859-1"),
    )
    srv.page("/members/2026/11/20/secret-story", story_page(BANK, site="Members"))
    srv.route("/broken/2026/11/20/server-error", Response(500, "oops"))
    srv.route("/broken/2026/11/20/reset", Response(reset=True))
    srv.route("/broken/2026/11/20/drip", Response(body="<p>" + "x" * 200 + "</p>", drip=0.05))
    srv.route("/broken/2026/11/20/bomb", Response(body=bomb_body(), headers={"Content-Encoding": "gzip"}))
    srv.route("/broken/2026/11/20/loop", Response(302, "", headers={"Location": "/broken/2026/11/20/loop2"}))
    srv.route("/broken/2026/11/20/loop2", Response(302, "", headers={"Location": "/broken/2026/11/20/loop"}))
    srv.route(
        "/broken/2026/11/20/photo",
        Response(body=b"\xff\xd8\xff\xe0" + b"\x00" * 500, content_type="image/jpeg"),
    )
    srv.route("/broken/2026/11/20/empty", Response(body=b""))
    links = [
        "/business/2026/11/20/bank-holds-rates?utm_source=rss",
        "/business/2026/11/20/bank-holds-rates#comments",  # same article, other spelling
        "/wire/2026/11/20/bank-decision-copy",
        "/old/fire-story",
        "/local/2026/11/19/budget-adopte",
        "/members/2026/11/20/secret-story",
        "/broken/2026/11/20/server-error",
        "/broken/2026/11/20/reset",
        "/broken/2026/11/20/drip",
        "/broken/2026/11/20/bomb",
        "/broken/2026/11/20/loop",
        "/broken/2026/11/20/photo",
        "/broken/2026/11/20/empty",
        "http://169.254.169.254/latest/meta-data/iam",
    ]
    items = "".join(f"<item><title>t{i}</title><link>{srv.base if h.startswith('/') else ''}{h.replace('&', '&amp;')}</link></item>"
                    for i, h in enumerate(links))  # fmt: skip
    srv.route("/rss.xml", Response(body=f'<?xml version="1.0"?><rss version="2.0"><channel><title>C</title>{items}</channel></rss>',
                                   content_type="application/rss+xml"))  # fmt: skip
    srv.route("/sitemap_index.xml", Response(
        body=f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>{srv.base}/sm/news.xml.gz</loc></sitemap></sitemapindex>',
        content_type="application/xml"))  # fmt: skip
    urlset = (f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{srv.base}/world/2026/11/20/fire-evacuations</loc></url>'
              f"<url><loc>{srv.base}/wire/2026/11/20/bank-decision-copy</loc></url></urlset>")  # fmt: skip
    srv.route(
        "/sm/news.xml.gz", Response(body=gzip.compress(urlset.encode()), content_type="application/x-gzip")
    )
    srv.page("/", '<html><head><title>Home</title><link rel="alternate" type="application/rss+xml" href="/rss.xml"></head>'
                  '<body><a href="/world/2026/11/20/fire-evacuations">Fire</a></body></html>')  # fmt: skip
    srv.route(
        "/bad-feed.xml",
        Response(body=b'<?xml version="1.0"?><rss><channel><item><link>', content_type="application/rss+xml"),
    )
    bomb_feed = (Path(__file__).parent / "fixtures" / "feeds" / "entity_bomb.xml").read_bytes()
    srv.route("/bomb-feed.xml", Response(body=bomb_feed, content_type="application/rss+xml"))


@pytest.fixture
def site():
    with LocalServer() as srv:
        build_site(srv)
        yield srv


def errors_by_url(result: Any, base: str) -> dict[str, str]:
    return {e.url.removeprefix(base): e.error for e in result.errors}


def test_crawl_from_homepage_records_every_fault(site: LocalServer) -> None:
    result = crawl([site.url("/")], fetch_config=cfg())
    errs = errors_by_url(result, site.base)
    assert errs["/members/2026/11/20/secret-story"] == "robots-disallowed"
    assert errs["/broken/2026/11/20/server-error"] == "http-status"
    assert errs["/broken/2026/11/20/reset"] == "connect-error"
    assert errs["/broken/2026/11/20/drip"] == "timeout"
    assert errs["/broken/2026/11/20/bomb"] == "too-large"
    assert errs["/broken/2026/11/20/loop"] == "too-many-redirects"
    assert errs["/broken/2026/11/20/photo"] == "unsupported-content"
    assert errs["/broken/2026/11/20/empty"] == "extract-failed"
    assert errs["http://169.254.169.254/latest/meta-data/iam"] == "blocked-url"
    assert site.hits["/members/2026/11/20/secret-story"] == 0
    assert site.hits["/business/2026/11/20/bank-holds-rates"] == 1  # two spellings, one fetch
    for err in result.errors:
        assert set(err.to_dict()) == {"url", "error", "detail", "attempts"}

    ids = {a.id.removeprefix(site.base) for a in result.articles if a.id}
    assert ids == {
        "/business/2026/11/20/bank-holds-rates",
        "/wire/2026/11/20/bank-decision-copy",
        "/world/2026/11/20/fire-evacuations-mirror",  # id is the final URL after the redirect
        "/local/2026/11/19/budget-adopte",
    }
    french = next(a for a in result.articles if "budget" in (a.id or ""))
    assert "adopté" in french.text
    assert "débat" in french.text

    bank = next(c for c in result.clusters if any("bank" in m for m in c.member_ids))
    assert sorted(m.removeprefix(site.base) for m in bank.member_ids) == [
        "/business/2026/11/20/bank-holds-rates",
        "/wire/2026/11/20/bank-decision-copy",
    ]
    assert len(result.clusters) == 3
    assert result.stats.feeds == 1
    assert result.stats.homepages == 1


def test_crawl_sitemap_index_with_gzip_child(site: LocalServer) -> None:
    result = crawl([site.url("/sitemap_index.xml")], fetch_config=cfg())
    assert result.stats.sitemaps == 2
    assert {a.id for a in result.articles} == {
        site.url("/world/2026/11/20/fire-evacuations"),
        site.url("/wire/2026/11/20/bank-decision-copy"),
    }
    assert result.errors == ()


def test_sitemap_depth_limit(site: LocalServer) -> None:
    result = crawl(
        [site.url("/sitemap_index.xml")], fetch_config=cfg(), config=CrawlConfig(max_sitemap_depth=0)
    )
    assert result.articles == ()
    assert [e.error for e in result.errors] == ["sitemap-depth"]


def test_bad_feeds_and_seeds_are_records(site: LocalServer) -> None:
    seeds = [
        site.url("/bad-feed.xml"),
        site.url("/bomb-feed.xml"),
        "ftp://example.com/feed",
        site.url("/nope"),
    ]
    result = crawl(seeds, fetch_config=cfg())
    assert sorted(e.error for e in result.errors) == [
        "blocked-url",
        "feed-error",
        "feed-error",
        "http-status",
    ]
    assert result.clusters == ()


def test_private_seed_refused_without_allow_private(site: LocalServer) -> None:
    result = crawl([site.url("/")], fetch_config=cfg(allow_private=False))
    assert [(e.url, e.error) for e in result.errors] == [(site.url("/"), "blocked-url")]
    assert sum(site.hits.values()) == 0


def test_max_pages_bounds_the_crawl(site: LocalServer) -> None:
    result = crawl([site.url("/rss.xml")], fetch_config=cfg(), config=CrawlConfig(max_pages=3))
    assert result.stats.pages + sum(1 for e in result.errors) <= 3
    assert result.stats.skipped_max_pages > 0


def test_article_seed_is_extracted_directly(site: LocalServer) -> None:
    result = crawl([site.url("/world/2026/11/20/fire-evacuations")], fetch_config=cfg())
    assert [a.id for a in result.articles] == [site.url("/world/2026/11/20/fire-evacuations")]
    assert result.articles[0].title == FIRE["title"]


def test_recrawl_uses_conditional_get() -> None:
    def page(req: Any) -> Response:
        if req.headers.get("if-none-match") == '"bank-v1"':
            return Response(304, b"", content_type=None)
        return Response(body=story_page(BANK, site="Courier"), headers={"ETag": '"bank-v1"'})

    with LocalServer() as srv:
        srv.route("/business/2026/11/20/bank", page)
        srv.route("/feed.xml", Response(
            body=f'<rss version="2.0"><channel><title>c</title><item><link>{srv.base}/business/2026/11/20/bank</link></item></channel></rss>',
            content_type="application/rss+xml"))  # fmt: skip

        async def twice() -> tuple[Any, Any]:
            async with Fetcher(cfg()) as fetcher:
                first = await crawl_async([srv.url("/feed.xml")], fetcher=fetcher)
                second = await crawl_async([srv.url("/feed.xml")], fetcher=fetcher)
                return first, second

        first, second = asyncio.run(twice())
    assert first.stats.from_cache == 0
    assert second.stats.from_cache == 1
    assert [c.to_dict()["member_ids"] for c in first.clusters] == [
        c.to_dict()["member_ids"] for c in second.clusters
    ]
    assert second.articles[0].text == first.articles[0].text


def test_recrawl_revalidates_a_redirected_article_at_its_final_url() -> None:
    seen: list[str | None] = []

    def moved(req: Any) -> Response:
        seen.append(req.headers.get("if-none-match"))
        if req.headers.get("if-none-match") == '"fire-v2"':
            return Response(304, b"", content_type=None, headers={"ETag": '"fire-v2"'})
        return Response(body=story_page(FIRE, site="Courier"), headers={"ETag": '"fire-v2"'})

    with LocalServer() as srv:
        srv.route("/old/fire", Response(301, "", headers={"Location": "/world/2026/11/20/fire"}))
        srv.route("/world/2026/11/20/fire", moved)
        srv.route("/feed.xml", Response(
            body=f'<rss version="2.0"><channel><title>c</title><item><link>{srv.base}/old/fire</link></item></channel></rss>',
            content_type="application/rss+xml"))  # fmt: skip
        cache = MemoryFetchCache()

        async def crawl_once() -> Any:
            async with Fetcher(cfg(), cache=cache) as fetcher:  # a new fetcher: only the cache is kept
                return await crawl_async([srv.url("/feed.xml")], fetcher=fetcher)

        first = asyncio.run(crawl_once())
        second = asyncio.run(crawl_once())
        old_hits = srv.hits["/old/fire"]
    assert seen == [None, '"fire-v2"']  # revalidated at B, answered 304, not downloaded again
    assert old_hits == 2  # A is still asked each time: where it points may change
    assert (first.stats.from_cache, second.stats.from_cache) == (0, 1)
    final = f"{srv.base}/world/2026/11/20/fire"
    assert [a.id for a in second.articles] == [a.id for a in first.articles] == [final]
    assert second.articles[0].text == first.articles[0].text


def test_crawl_config_validation() -> None:
    with pytest.raises(ConfigError, match="max_pages"):
        CrawlConfig(max_pages=0)
    with pytest.raises(ConfigError, match="max_sitemap_depth"):
        CrawlConfig(max_sitemap_depth=-1)


def test_cli_crawl_end_to_end(site: LocalServer, tmp_path: Path) -> None:
    out, errs = tmp_path / "clusters.jsonl", tmp_path / "errors.jsonl"
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["crawl", site.url("/"), "-o", str(out), "--errors", str(errs), "--allow-private", "--delay", "0",
         "--timeout", "1.5", "--concurrency", "8", "--per-host", "8", "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    clusters = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(clusters) == 3
    for c in clusters:
        assert {"cluster_id", "canonical_id", "member_ids", "title", "text", "url", "sources"} <= set(c)
        assert all(m.startswith(site.base) for m in c["member_ids"])
    errors = [json.loads(line) for line in errs.read_text().splitlines()]
    assert {e["error"] for e in errors} >= {"robots-disallowed", "timeout", "too-large", "blocked-url"}
    assert all(set(e) == {"url", "error", "detail", "attempts"} for e in errors)


def test_cli_crawl_refuses_loopback_by_default(site: LocalServer, tmp_path: Path) -> None:
    errs = tmp_path / "errors.jsonl"
    result = CliRunner().invoke(main, ["crawl", site.url("/"), "--errors", str(errs), "--no-progress"])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert json.loads(errs.read_text())["error"] == "blocked-url"


def test_cli_crawl_bad_option() -> None:
    result = CliRunner().invoke(main, ["crawl", "https://example.com/", "--concurrency", "0"])
    assert result.exit_code == 2
    assert "concurrency" in result.output


def test_extraction_in_worker_process_gives_same_result(site: LocalServer) -> None:
    inline = crawl([site.url("/rss.xml")], fetch_config=cfg())
    pooled = crawl([site.url("/rss.xml")], fetch_config=cfg(), config=CrawlConfig(extract_workers=1))
    assert sorted(a.to_dict()["text"] for a in pooled.articles) == sorted(
        a.to_dict()["text"] for a in inline.articles
    )
    assert sorted(c.member_ids for c in pooled.clusters) == sorted(c.member_ids for c in inline.clusters)
    assert sorted(e.error for e in pooled.errors) == sorted(e.error for e in inline.errors)


def test_cli_crawl_with_progress_and_stdout(site: LocalServer) -> None:
    result = CliRunner().invoke(
        main,
        ["crawl", site.url("/sitemap_index.xml"), "--allow-private", "--delay", "0", "--progress", "--extract-workers", "0"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert sorted(len(c["member_ids"]) for c in lines) == [1, 1]


def test_extract_batches_deliver_each_page_its_outcome() -> None:
    """Pages go to the extraction pool a few at a time; each gets its own article dict, or an
    error triple when the extractor raised, and a dead pool is reported as BrokenExecutor."""
    from concurrent.futures import BrokenExecutor, ThreadPoolExecutor

    from newsdedup._crawl import _ExtractBatches

    page = story_page(BANK, site="Courier")

    async def go(pool: ThreadPoolExecutor) -> list[Any]:
        batches = _ExtractBatches(pool, 2)
        futures = [
            batches.extract(page, "http://a.test/business/2026/11/20/bank", "text/html"),
            batches.extract(12345, "http://a.test/broken", None),  # type: ignore[arg-type]
            batches.extract(page, "http://b.test/business/2026/11/20/bank", "text/html"),  # timer flush
        ]
        return list(await asyncio.gather(*futures))

    with ThreadPoolExecutor(1) as pool:
        first, broken, third = asyncio.run(go(pool))
    assert first["url"] == "http://a.test/business/2026/11/20/bank"
    assert first["title"]
    assert third["url"] == "http://b.test/business/2026/11/20/bank"
    assert broken == ("extract-failed", "TypeError", "extract() needs str or bytes, not int")

    pool = ThreadPoolExecutor(1)
    pool.shutdown()
    with pytest.raises(BrokenExecutor):
        asyncio.run(go(pool))


def _slow_site(srv: LocalServer, hold: threading.Event) -> list[str]:
    """A feed of four quick pages (two stories, each with a copy) followed by twenty pages that
    do not answer until ``hold`` is set: a crawl that is not stopped waits on them. Returns the
    quick pages' URLs."""
    quick = {
        "/a/bank": story_page(BANK, site="Courier"),
        "/b/bank-copy": story_page(BANK, site="Ledger", keep=5),
        "/a/fire": story_page(FIRE, site="Courier"),
        "/c/fire-copy": story_page(FIRE, site="Mirror", keep=6),
    }
    for path, html in quick.items():
        srv.page(path, html)

    def stalled(_req: Any) -> Response:
        hold.wait(30)
        return Response(body=story_page(FIRE, site="Late"))

    slow = [f"/slow/{i}" for i in range(20)]
    for path in slow:
        srv.route(path, stalled)
    items = "".join(f"<item><title>t</title><link>{srv.url(p)}</link></item>" for p in [*quick, *slow])
    srv.route("/feed.xml", Response(body=f'<?xml version="1.0"?><rss version="2.0"><channel><title>C</title>{items}</channel></rss>',
                                    content_type="application/rss+xml"))  # fmt: skip
    return [srv.url(p) for p in quick]


def test_stop_ends_a_crawl_and_keeps_what_was_extracted() -> None:
    """``stop`` set while fetches hang: the crawl returns at once with the articles extracted
    by then deduplicated (the two stories and their copies), and says it was stopped."""
    hold, stop = threading.Event(), threading.Event()
    with LocalServer() as srv:
        quick = _slow_site(srv, hold)
        started = time.monotonic()
        try:
            result = crawl(
                [srv.url("/feed.xml")],
                fetch_config=cfg(total_timeout=30.0, read_timeout=30.0, per_host_concurrency=8),
                config=CrawlConfig(concurrency=8, extract_workers=0),
                on_progress=lambda stats: stop.set() if stats.articles >= 4 else None,
                stop=stop,
            )
        finally:
            hold.set()
        elapsed = time.monotonic() - started
    assert result.stats.stopped
    assert elapsed < 10, elapsed  # the stalled pages would hold it for 30 s
    assert sorted(sorted(c.member_ids) for c in result.clusters) == sorted(
        [sorted(quick[:2]), sorted(quick[2:])]
    )


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGINT delivery are POSIX")
def test_cli_crawl_ctrl_c_writes_what_was_extracted(tmp_path: Path) -> None:
    """A terminal's Ctrl-C (SIGINT to the process group, extraction workers included) while
    pages hang: the crawl ends, the clusters of the pages extracted are written, exit code 130."""
    hold = threading.Event()
    out, log = tmp_path / "out.jsonl", tmp_path / "stderr.txt"
    with LocalServer() as srv:
        quick = _slow_site(srv, hold)
        try:
            with log.open("wb") as stderr_file:
                proc = subprocess.Popen(
                    [sys.executable, "-c", "from newsdedup._cli import main; main()", "crawl", srv.url("/feed.xml"),
                     "--allow-private", "--delay", "0", "--timeout", "30", "--per-host", "8", "--extract-workers", "1",
                     "--no-progress", "-o", str(out)],
                    stderr=stderr_file, start_new_session=True,
                )  # fmt: skip
            deadline = time.monotonic() + 60
            while sum(srv.hits[p.removeprefix(srv.base)] for p in quick) < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)  # their extraction
            os.killpg(proc.pid, signal.SIGINT)
            code = proc.wait(timeout=20)
        finally:
            hold.set()
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    stderr = log.read_text()
    assert code == 130, stderr
    assert "interrupted: stopping" in stderr
    assert "Interrupted:" in stderr
    assert "Traceback" not in stderr  # no worker took the Ctrl-C itself
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(sorted(r["member_ids"]) for r in rows) == sorted([sorted(quick[:2]), sorted(quick[2:])])


@pytest.mark.skipif(sys.platform == "win32", reason="os.abort and the forkserver are POSIX")
@pytest.mark.parametrize("kinds", [("crash",), ("hang",), ("crash", "hang")])
def test_a_page_that_crashes_or_hangs_the_parser_is_skipped(tmp_path: Path, kinds: tuple[str, ...]) -> None:
    """A page kills its extraction worker (as a parser segfault does), or hangs it, or both
    happen: the crawl goes on, records them as extract-crashed and extract-timeout, and the
    stories of the other pages, some extracted in the same trips as the poison, come out as
    usual. (Alone, the hang is found by the trip's timeout; with the crash, the broken pool
    also ends the hung worker's trip.)"""
    env = poisoned_env(tmp_path)
    good = {
        "/a/bank": story_page(BANK, site="Courier"),
        "/b/bank-copy": story_page(BANK, site="Ledger", keep=5),
        "/a/fire": story_page(FIRE, site="Courier"),
        "/c/fire-copy": story_page(FIRE, site="Mirror", keep=6),
    }
    poison = {
        "/d/crash": story_page(BANK, site="Crash").replace("<p>", "<p>POISON-ABORT ", 1),
        "/e/hang": story_page(FIRE, site="Hang").replace("<p>", "<p>POISON-HANG ", 1),
    }
    poison = {path: html for path, html in poison.items() if path.split("/")[-1] in kinds}
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    with LocalServer() as srv:
        for path, html in {**good, **poison}.items():
            srv.page(path, html)
        order = [p for p in ["/a/bank", "/d/crash", "/b/bank-copy", "/e/hang", "/a/fire", "/c/fire-copy"]
                 if p in good or p in poison]  # fmt: skip
        items = "".join(f"<item><title>t</title><link>{srv.url(p)}</link></item>" for p in order)
        srv.route("/feed.xml", Response(body=f'<?xml version="1.0"?><rss version="2.0"><channel><title>C</title>{items}</channel></rss>',
                                        content_type="application/rss+xml"))  # fmt: skip
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-c", "from newsdedup._cli import main; main()", "crawl", srv.url("/feed.xml"),
             "--allow-private", "--delay", "0", "--per-host", "8", "--extract-workers", "1", "--extract-timeout", "2",
             "--no-progress", "-o", str(out), "--errors", str(errors)],
            env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            _, stderr = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:  # the whole group: a hung worker would outlive the crawl
                os.killpg(proc.pid, signal.SIGKILL)
        elapsed = time.monotonic() - started
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    failed = {
        row["url"].removeprefix(srv.base): row["error"]
        for row in map(json.loads, errors.read_text().splitlines())
    }
    expected = {"/d/crash": "extract-crashed", "/e/hang": "extract-timeout"}
    assert failed == {path: error for path, error in expected.items() if path in poison}
    clusters = sorted(sorted(m.removeprefix(srv.base) for m in json.loads(line)["member_ids"])
                      for line in out.read_text().splitlines())  # fmt: skip
    assert clusters == [["/a/bank", "/b/bank-copy"], ["/a/fire", "/c/fire-copy"]]
    assert elapsed < 60, elapsed  # the hanging page costs two timeouts, not an hour


def test_extract_timeout_and_refresh_delay_are_validated() -> None:
    for bad in (0, -1.0, float("nan"), float("inf"), True, "5"):
        with pytest.raises(ConfigError, match="extract_timeout"):
            CrawlConfig(extract_timeout=bad)  # type: ignore[arg-type]
    assert CrawlConfig(extract_timeout=0.5).extract_timeout == 0.5
    for bad in (-1.0, float("nan"), float("inf"), False, "5"):
        with pytest.raises(ConfigError, match="meta_refresh_max_delay"):
            CrawlConfig(meta_refresh_max_delay=bad)  # type: ignore[arg-type]
    assert CrawlConfig(meta_refresh_max_delay=0).meta_refresh_max_delay == 0
    assert CrawlConfig(meta_refresh_max_delay=None).meta_refresh_max_delay is None


def test_a_feed_or_sitemap_url_that_answers_a_page_is_a_feed_error() -> None:
    """A homepage announces a feed whose URL now answers a "Sign in" page, and a sitemap index
    lists a child that answers a soft-404 page: both are feed-error records, and neither page
    becomes an article."""
    login = article_html("Sign in", ["Sign in to your account to continue reading.", "Forgot your password?"])
    with LocalServer() as srv:
        srv.page("/", '<html><head><link rel="alternate" type="application/rss+xml" href="/login-feed.xml">'
                      "</head><body><h1>Home</h1></body></html>")  # fmt: skip
        srv.page("/login-feed.xml", login)
        srv.route("/sitemap_index.xml", Response(
            body=f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>{srv.url("/gone.xml")}</loc></sitemap></sitemapindex>',
            content_type="application/xml"))  # fmt: skip
        srv.page("/gone.xml", article_html("Page not found", ["The page you were looking for has moved."]))
        result = crawl([srv.url("/"), srv.url("/sitemap_index.xml")], fetch_config=cfg())
    assert result.articles == ()
    errors = {e.url.removeprefix(srv.base): e for e in result.errors}
    assert set(errors) == {"/login-feed.xml", "/gone.xml"}
    assert {e.error for e in errors.values()} == {"feed-error"}
    assert "not a feed: the URL answered html" in errors["/login-feed.xml"].detail
    assert "not a sitemap" in errors["/gone.xml"].detail


def test_a_sitemap_index_child_on_another_site_is_not_followed() -> None:
    """A sitemap index may only list sitemaps of its own site: a child on another host (here
    another port of 127.0.0.1, which is another origin) is recorded as off-site and never
    fetched, while the index's own child is followed."""
    with LocalServer() as srv, LocalServer() as other:
        other.route("/elsewhere.xml", Response(body="<urlset/>", content_type="application/xml"))
        srv.route("/sitemap_index.xml", Response(
            body='<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                 f'<sitemap><loc>{other.url("/elsewhere.xml")}</loc></sitemap>'
                 f'<sitemap><loc>{srv.url("/news.xml")}</loc></sitemap></sitemapindex>',
            content_type="application/xml"))  # fmt: skip
        srv.route("/news.xml", Response(
            body='<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                 f'<url><loc>{srv.url("/world/2026/11/20/fire-evacuations")}</loc></url></urlset>',
            content_type="application/xml"))  # fmt: skip
        srv.page("/world/2026/11/20/fire-evacuations", story_page(FIRE, site="Courier"))
        result = crawl([srv.url("/sitemap_index.xml")], fetch_config=cfg())
        assert other.hits == {}
    assert [a.id for a in result.articles] == [srv.url("/world/2026/11/20/fire-evacuations")]
    assert [(e.url, e.error) for e in result.errors] == [(other.url("/elsewhere.xml"), "off-site")]


def test_entries_past_the_feed_cap_are_counted() -> None:
    """A feed of 30 entries and a sitemap of 25 URLs with ``max_feed_entries=10``: the first
    ten of each are fetched, and the 35 others are counted as skipped, not silently dropped."""
    with LocalServer() as srv:
        items = "".join(
            f"<item><title>t{i}</title><link>{srv.url(f'/f/{i}')}</link></item>" for i in range(30)
        )
        srv.route("/feed.xml", Response(body=f'<?xml version="1.0"?><rss version="2.0"><channel><title>C</title>{items}</channel></rss>',
                                        content_type="application/rss+xml"))  # fmt: skip
        urls = "".join(f"<url><loc>{srv.url(f'/s/{i}')}</loc></url>" for i in range(25))
        srv.route("/sitemap.xml", Response(body=f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>',
                                           content_type="application/xml"))  # fmt: skip
        result = crawl([srv.url("/feed.xml"), srv.url("/sitemap.xml")], fetch_config=cfg(),
                       config=CrawlConfig(max_feed_entries=10))  # fmt: skip
        fetched = {path for path in srv.hits if path.startswith(("/f/", "/s/"))}
    assert fetched == {f"/f/{i}" for i in range(10)} | {f"/s/{i}" for i in range(10)}
    assert result.stats.skipped_feed_entries == 35


def test_meta_refresh_pages_are_followed_like_redirects() -> None:
    """Feed items that are HTML redirects (an aggregator's link page, a moved article) lead to
    the articles they refresh to within the delay limit; a page that only reloads itself every
    ten minutes is extracted as it is."""
    with LocalServer() as srv:
        srv.page("/a/bank", story_page(BANK, site="Courier"))
        srv.page("/b/bank-copy", story_page(BANK, site="Ledger", keep=5))
        srv.page("/a/fire", story_page(FIRE, site="Courier"))
        srv.page("/go/1", f'<html><head><meta http-equiv="refresh" content="0; url={srv.url("/a/bank")}"></head>'
                          "<body><p>Redirecting to the article…</p></body></html>")  # fmt: skip
        srv.page(
            "/go/2",
            "<html><head><META HTTP-EQUIV=Refresh CONTENT=\"2;URL='/a/fire'\"></head><body></body></html>",
        )
        live = story_page(FIRE, site="Live").replace(
            "<head>", '<head><meta http-equiv="refresh" content="600">', 1
        )
        srv.page("/live/fire", live)
        items = "".join(
            f"<item><title>t</title><link>{srv.url(p)}</link></item>"
            for p in ["/go/1", "/b/bank-copy", "/go/2", "/live/fire"]
        )
        srv.route("/feed.xml", Response(body=f'<?xml version="1.0"?><rss version="2.0"><channel><title>C</title>{items}</channel></rss>',
                                        content_type="application/rss+xml"))  # fmt: skip
        result = crawl([srv.url("/feed.xml")], fetch_config=cfg())
        ignored = crawl(
            [srv.url("/feed.xml")], fetch_config=cfg(), config=CrawlConfig(meta_refresh_max_delay=None)
        )
    assert result.errors == ()
    assert result.stats.meta_refreshes == 2
    assert sorted(sorted(m.removeprefix(srv.base) for m in c.member_ids) for c in result.clusters) == [
        ["/a/bank", "/b/bank-copy"], ["/a/fire", "/live/fire"]
    ]  # fmt: skip
    assert ignored.stats.meta_refreshes == 0
    assert {e.url.removeprefix(srv.base) for e in ignored.errors} == {"/go/1", "/go/2"}  # no text there


def test_a_partly_broken_feed_is_crawled_and_flagged() -> None:
    """The items feedparser recovers from a malformed feed are crawled, and the feed is
    recorded as feed-malformed so its publisher can be told."""
    with LocalServer() as srv:
        srv.page("/a/bank", story_page(BANK, site="Courier"))
        srv.page("/b/bank-copy", story_page(BANK, site="Ledger", keep=5))
        items = "".join(
            f"<item><title>t</title><link>{srv.url(p)}</link></item>" for p in ["/a/bank", "/b/bank-copy"]
        )
        srv.route("/feed.xml", Response(body=f'<?xml version="1.0"?><rss version="2.0"><channel><title>News & Views</title>{items}',
                                        content_type="application/rss+xml"))  # fmt: skip
        result = crawl([srv.url("/feed.xml")], fetch_config=cfg())
    assert [sorted(c.member_ids) for c in result.clusters] == [[srv.url("/a/bank"), srv.url("/b/bank-copy")]]
    assert [(e.url, e.error) for e in result.errors] == [(srv.url("/feed.xml"), "feed-malformed")]
    assert "2 entries recovered" in result.errors[0].detail


def _timed_pages(
    srv: LocalServer,
    prefix: str,
    stories: list[dict[str, Any]],
    log: list[tuple[float, str]],
    hold: float = 0.0,
) -> list[str]:
    """One article page per story under ``prefix``; each request's arrival is logged, and the
    answer takes ``hold`` seconds."""
    urls = []
    for i, story in enumerate(stories):
        path = f"{prefix}/2026/11/20/story-{i}"
        page = Response(body=story_page(story, site=prefix.strip("/")))

        def answer(_req: Any, path: str = path, page: Response = page) -> Response:
            log.append((time.monotonic(), path))
            time.sleep(hold)
            return page

        srv.route(path, answer)
        urls.append(srv.url(path))
    return urls


def test_a_host_with_a_crawl_delay_holds_back_only_its_own_pages() -> None:
    """R6: the first host's robots.txt asks for ``Crawl-delay: 1``; its three pages are listed
    before the second host's three. With two workers and one queue, both workers slept on the
    first host's pages and the second host's waited behind them; now a host that must not be
    asked yet is passed over, so the second host's pages are fetched before the first host's
    second page, and the first host's pages are still spaced by its delay."""
    stories = list(STORIES.values())[:3]
    log: list[tuple[float, str]] = []
    with LocalServer() as slow, LocalServer() as fast:
        slow.route("/robots.txt", Response(body="User-agent: *\nCrawl-delay: 1\n", content_type="text/plain"))
        seeds = _timed_pages(slow, "/slow", stories, log) + _timed_pages(fast, "/fast", stories, log)
        result = crawl(seeds, fetch_config=cfg(per_host_concurrency=2), config=CrawlConfig(concurrency=2))
    assert result.stats.errors == 0
    assert len(result.articles) == 6
    slow_times = sorted(t for t, path in log if path.startswith("/slow"))
    fast_times = [t for t, path in log if path.startswith("/fast")]
    assert len(slow_times) == 3
    assert len(fast_times) == 3
    assert max(fast_times) < slow_times[1]
    assert all(b - a >= 0.95 for a, b in itertools.pairwise(slow_times))  # the delay is kept


def test_a_failing_host_backs_off_its_other_pages_not_the_crawl() -> None:
    """N2: a host whose first page answers 503 backs off: its next page waits out the backoff
    (0.5-1 s) although a worker and a slot of that host are free, while the other host's pages
    (0.2 s each) are fetched meanwhile; the retry then succeeds."""
    stories = list(STORIES.values())[:2]
    log: list[tuple[float, str]] = []
    with LocalServer() as flaky, LocalServer() as fast:
        urls = _timed_pages(flaky, "/flaky", stories, log)
        first = flaky.routes["/flaky/2026/11/20/story-0"]
        busy = [Response(503, "busy")]

        def once_busy(req: Any) -> Response:
            if busy:
                log.append((time.monotonic(), "503"))
                return busy.pop()
            return first(req)

        flaky.route("/flaky/2026/11/20/story-0", once_busy)
        seeds = urls + _timed_pages(fast, "/fast", stories, log, hold=0.2)
        result = crawl(seeds, fetch_config=cfg(backoff_base=1.0, backoff_max=1.0, per_host_concurrency=2),
                       config=CrawlConfig(concurrency=2))  # fmt: skip
    assert result.stats.errors == 0
    assert len(result.articles) == 4
    failed = next(t for t, path in log if path == "503")
    flaky_times = [t - failed for t, path in log if path.startswith("/flaky")]
    fast_times = [t - failed for t, path in log if path.startswith("/fast")]
    assert len(flaky_times) == 2
    assert min(flaky_times) >= 0.45  # the backoff is 0.5-1.0 s (jittered)
    assert max(fast_times) < min(flaky_times)


@pytest.mark.parametrize(("option", "followed"), [([], True), (["--meta-refresh-max-delay", "1"], False),
                                                  (["--meta-refresh-max-delay", "-1"], False)])  # fmt: skip
def test_cli_meta_refresh_max_delay(tmp_path: Path, option: list[str], followed: bool) -> None:
    """``newsdedup crawl --meta-refresh-max-delay``: a 2-second refresh page is followed by
    default (100 s), not with a 1-second limit, and no refresh is followed with a negative one
    (the page then has no text: an extract-failed record)."""
    out, errs = tmp_path / "clusters.jsonl", tmp_path / "errors.jsonl"
    with LocalServer() as srv:
        srv.page("/a/fire", story_page(FIRE, site="Courier"))
        srv.page(
            "/go/2",
            '<html><head><meta http-equiv=refresh content="2; url=/a/fire"></head><body></body></html>',
        )
        result = CliRunner().invoke(main, ["crawl", srv.url("/go/2"), "-o", str(out), "--errors", str(errs),
                                           "--allow-private", "--delay", "0", "--no-progress", *option])  # fmt: skip
    assert result.exit_code == 0, result.output
    members = [
        m.removeprefix(srv.base)
        for line in out.read_text().splitlines()
        for m in json.loads(line)["member_ids"]
    ]
    errors = [
        (json.loads(line)["url"].removeprefix(srv.base), json.loads(line)["error"])
        for line in errs.read_text().splitlines()
    ]
    expected = (["/a/fire"], []) if followed else ([], [("/go/2", "extract-failed")])
    assert (members, errors) == expected


def test_cli_meta_refresh_max_delay_must_be_a_number() -> None:
    result = CliRunner().invoke(
        main, ["crawl", "http://127.0.0.1:9/feed.xml", "--meta-refresh-max-delay", "nan"]
    )
    assert result.exit_code == 2
    assert "meta_refresh_max_delay" in result.output


def _slow_story(_req: Any) -> Response:
    time.sleep(0.3)
    return Response(body=story_page(BANK, site="Courier"))


def test_a_huge_feed_does_not_stall_the_other_fetches() -> None:
    """Checklist F5: feedparser reads a whole feed before the entry cap applies (seconds for a
    few megabytes). That parse no longer runs in the crawler's event loop: a page on another
    host, answering in 0.3 s while the feed is parsed, arrives well within its 1.5 s deadline
    (it was a deadline timeout), and the feed is capped with the rest counted."""
    with LocalServer() as big, LocalServer() as other:
        items = "".join(
            f"<item><title>Entry {i}</title><link>{big.url(f'/e/{i}')}</link>"
            f"<description>Summary of entry number {i} of the feed.</description></item>"
            for i in range(12_000)
        )
        rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'
        big.route("/feed.xml", Response(body=rss.encode(), content_type="application/rss+xml"))
        other.route("/2026/11/20/bank-holds-rates", _slow_story)
        result = crawl(
            [big.url("/feed.xml"), other.url("/2026/11/20/bank-holds-rates")],
            fetch_config=cfg(total_timeout=1.5, max_body_bytes=20_000_000, obey_robots=False),
            config=CrawlConfig(concurrency=2, max_feed_entries=1, max_pages=1),
        )
    assert [e.error for e in result.errors if e.url.startswith(other.base)] == []
    assert [a.url for a in result.articles] == [other.url("/2026/11/20/bank-holds-rates")]
    assert result.stats.skipped_feed_entries > 0


def test_one_url_as_seeds_is_a_type_error_not_a_crawl_of_its_characters() -> None:
    """A str is an iterable of one-character "URLs": each was recorded as a blocked URL."""
    with pytest.raises(TypeError, match=r"pass \[url\]"):
        crawl("http://127.0.0.1:9/feed.xml")  # type: ignore[arg-type]


def test_deep_homepage_is_refused_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A homepage seed nested absurdly deep (lexbor's parse is quadratic in the depth: 100,000
    <div>s take half a minute) is refused before it is parsed, in a thread, while a healthy
    seed is fetched as usual."""
    import newsdedup._crawl as crawl_mod

    threads: list[threading.Thread] = []
    real = crawl_mod.discover_homepage

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(crawl_mod, "discover_homepage", spy)
    monkeypatch.setattr(crawl_mod, "MAX_HTML_DEPTH", 200)  # the real cap is 2,000
    story = STORIES[next(iter(STORIES))]
    with LocalServer() as srv:
        srv.page("/", "<html><head><title>Deep</title></head><body>" + "<div>" * 500
                 + '<a href="/news/2026/11/20/hidden-story">x</a></body></html>')  # fmt: skip
        srv.page("/news/2026/11/20/healthy-story", article_html(story["title"], story["paragraphs"]))
        result = crawl([srv.url("/"), srv.url("/news/2026/11/20/healthy-story")], fetch_config=cfg())
        hidden_hits = srv.hits["/news/2026/11/20/hidden-story"]
    errs = {e.url.removeprefix(srv.base): e for e in result.errors}
    assert errs["/"].error == "extract-failed"
    assert "too-deep" in errs["/"].detail
    assert "200" in errs["/"].detail
    assert "/news/2026/11/20/healthy-story" not in errs
    assert [a.id for a in result.articles] == [srv.url("/news/2026/11/20/healthy-story")]
    assert hidden_hits == 0
    assert threads
    assert all(t is not threading.main_thread() for t in threads)
