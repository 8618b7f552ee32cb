"""Example crawler: from news feeds to deduplicated stories, using newsdedup's public API.

Run it against the bundled offline demo site (no network needed):

    python examples/crawl.py --demo

or against real sites (feeds, sitemaps, homepages or single articles all work as seeds):

    python examples/crawl.py https://example.com/rss.xml https://example.org/ -o stories.jsonl

Read it top to bottom: configure politeness, crawl, look at the clusters, save them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator

# -- Imports -------------------------------------------------------------------------------
# Everything comes from the public `newsdedup` namespace.
from newsdedup import CrawlConfig, CrawlResult, DemoSite, FetchConfig, crawl


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Crawl news sources and collapse syndicated copies.")
    parser.add_argument("urls", nargs="*", help="feeds, sitemaps, homepages or articles to start from")
    parser.add_argument(
        "--demo", action="store_true", help="crawl the bundled offline demo site (default with no URLs)"
    )
    parser.add_argument("-o", "--output", help="write clusters as JSON lines to this file")
    parser.add_argument("--errors", help="write per-URL failures as JSON lines to this file")
    parser.add_argument(
        "--max-pages", type=int, default=200, help="article pages to fetch at most (default 200)"
    )
    parser.add_argument(
        "--delay", type=float, default=1.0, help="seconds between requests to one host (default 1)"
    )
    parser.add_argument("--allow-private", action="store_true", help="allow intranet/loopback addresses")
    parser.add_argument(
        "--threshold", type=float, default=None, help="dedup similarity threshold (default 0.5)"
    )
    return parser.parse_args(argv)


@contextlib.contextmanager
def seeds_for(args: argparse.Namespace) -> Iterator[tuple[list[str], bool]]:
    """The URLs to start from, and whether they are the local demo site."""
    if args.demo or not args.urls:
        # The demo site runs in this process on 127.0.0.1 and is stopped when we are done.
        with DemoSite() as site:
            yield site.seeds, True
    else:
        yield list(args.urls), False


def show(result: CrawlResult) -> None:
    """Print each story once, with every outlet that carried it."""
    stories = sorted(result.clusters, key=lambda c: (-c.size, c.title))
    for cluster in stories:
        outlets = sorted({s.site or s.url or "?" for s in cluster.sources})
        label = f"{cluster.size} copies" if cluster.size > 1 else "1 copy"
        print(f"* {cluster.title}  ({label}{', wire: ' + cluster.wire if cluster.wire else ''})")
        print(f"    canonical: {cluster.url or cluster.canonical_id}")
        print(f"    outlets:   {', '.join(outlets)}")
    s = result.stats
    print(
        f"\n{s.fetched} fetched, {s.articles} articles -> {len(result.clusters)} stories; {len(result.errors)} errors"
    )
    for error in result.errors[:10]:
        print(f"  ! {error.url}: {error.error} ({error.detail})")


def stop_once(stop: threading.Event) -> None:
    """The first Ctrl-C asks the crawl to stop; the next one raises KeyboardInterrupt."""
    stop.set()
    signal.signal(signal.SIGINT, signal.default_int_handler)


def write_jsonl(path: str, rows: list[dict[str, object]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with seeds_for(args) as (seeds, is_demo):
        # 1. How to fetch: be polite to other people's servers (robots.txt is always obeyed).
        #    The demo's servers are ours and on loopback, so no delay and loopback allowed there.
        fetch_config = FetchConfig(
            allow_private=is_demo or args.allow_private,
            per_host_delay=0.0 if is_demo else args.delay,
        )
        # 2. How much to crawl: a bound on article pages, so a huge sitemap cannot run away.
        #    One extraction process uses a second core, and a page that crashes or hangs the
        #    HTML parser there is skipped (recorded in result.errors) instead of ending the crawl.
        config = CrawlConfig(max_pages=args.max_pages, extract_workers=1)
        # 3. Crawl: discovery, fetching, extraction and dedup in one call. Failures never raise;
        #    they come back in result.errors as {url, error, detail, attempts} records.
        #    Ctrl-C sets `stop`: the crawl then ends early but keeps what it has (the articles
        #    extracted so far are still deduplicated); a second Ctrl-C aborts.
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop_once(stop))
        result = crawl(seeds, fetch_config=fetch_config, config=config, threshold=args.threshold, stop=stop)
        if result.stats.stopped:
            print("Stopped early: the stories below are those crawled before Ctrl-C.", file=sys.stderr)
    # 4. Look at the stories and save them (same JSONL as `newsdedup dedup` / `newsdedup crawl`).
    show(result)
    if args.output:
        write_jsonl(args.output, [c.to_dict() for c in result.clusters])
    if args.errors:
        write_jsonl(args.errors, [e.to_dict() for e in result.errors])
    return 0


if __name__ == "__main__":
    sys.exit(main())
