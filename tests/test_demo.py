"""``newsdedup demo``: the bundled site serves, the crawl finds the shared wire stories, output prints."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from newsdedup._cli import main
from newsdedup._demo import DemoSite, load_stories, run_demo
from newsdedup._feeds import parse_feed, parse_sitemap


def test_demo_site_serves_publishers() -> None:
    with DemoSite() as site:
        assert len(site.seeds) == 5
        with httpx.Client() as client:
            home = client.get(site.base("courier") + "/")
            assert home.status_code == 200
            assert "application/rss+xml" in home.text
            robots = client.get(site.base("ledger") + "/robots.txt").text
            assert "Disallow: /premium/" in robots
            feed = client.get(site.base("dispatch") + "/feed.json")
            assert len(parse_feed(feed.content, base_url=str(feed.url))) >= 4
            index = client.get(site.base("metro") + "/sitemap_index.xml").content
            children = parse_sitemap(index).sitemaps
            gz = client.get(children[0], headers={"Accept-Encoding": "identity"}).content
            assert gz[:2] == b"\x1f\x8b"
            assert parse_sitemap(gz).urls
            page = client.get(site.base("gulf") + "/").text
            assert "Gulf Business Wire" in page
            etag = home.headers["etag"]
            assert client.get(site.base("courier") + "/", headers={"If-None-Match": etag}).status_code == 304
    with httpx.Client() as client:
        try:
            client.get(site.seeds[0], timeout=0.5)
            raise AssertionError("server still running after stop()")
        except httpx.ConnectError:
            pass


def test_demo_crawl_groups_wire_copies() -> None:
    stories = load_stories()
    copies: dict[str, int] = {}
    for carry in stories["carriage"]:
        if carry.get("path") != "premium":  # disallowed by robots.txt, never fetched
            copies[carry["story"]] = copies.get(carry["story"], 0) + 1
    with DemoSite() as site:
        start = time.monotonic()
        result = run_demo(site)
        assert time.monotonic() - start < 15
    sizes = sorted((c.size for c in result.clusters), reverse=True)
    assert sizes == sorted(list(copies.values()) + [1] * len(stories["local"]), reverse=True)
    assert sorted(e.error for e in result.errors) == ["http-status", "robots-disallowed"]
    bank = next(c for c in result.clusters if any("central-bank" in m for m in c.member_ids))
    assert {s.site for s in bank.sources} == {
        "The Riverside Courier",
        "Capitol Dispatch",
        "Gulf Business Wire",
        "Metro Times",
    }


def test_demo_cli_prints_table_and_writes_jsonl(tmp_path: Path) -> None:
    out = tmp_path / "demo.jsonl"
    result = CliRunner().invoke(main, ["demo", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Bank of Northmoor" in result.output or "Northmoor" in result.output
    assert "Capitol Dispatch" in result.output
    assert "clusters" in result.output
    assert "2 errors" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 11
    assert all({"cluster_id", "canonical_id", "member_ids", "sources"} <= set(r) for r in rows)


def test_demo_cli_json() -> None:
    result = CliRunner().invoke(main, ["demo", "--json"])
    assert result.exit_code == 0
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 11


def test_demo_refuses_a_missing_output_folder_before_crawling(tmp_path: Path) -> None:
    """Like ``dedup`` and ``crawl``: the files are written after the crawl, so a folder that
    cannot take them is an option error at once."""
    for flag in ("-o", "--errors"):
        result = CliRunner().invoke(main, ["demo", flag, str(tmp_path / "missing" / "x.jsonl")])
        assert result.exit_code == 2, result.output
        assert "does not exist" in result.output
        assert "demo:" not in result.output  # no crawl ran


def test_demo_write_failure_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    import newsdedup._cli.demo as cli

    target = tmp_path / "demo.jsonl"

    def full(path: Path | None, rows: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(cli, "write_jsonl", full)
    result = CliRunner().invoke(main, ["demo", "-o", str(target)])
    assert result.exit_code == 1
    assert f"cannot write output: No space left on device ({target})" in result.output
    assert not isinstance(result.exception, OSError)
