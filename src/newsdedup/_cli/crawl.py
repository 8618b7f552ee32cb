"""``newsdedup crawl URL... [-o OUT] [--errors ERRORS]``: fetch, extract and dedup from the web.

Contract (extend, never break): each URL may be a feed, a sitemap, a homepage or an article;
the output is the same cluster JSONL as ``newsdedup dedup`` (``Cluster.to_dict()`` per line,
item ids are final URLs); per-URL failures go to ``--errors`` as ``{url, error, detail,
attempts}`` lines and do not change the exit code (0 when the crawl completes).

``--state PATH|URL`` continues earlier runs (conditional GET, seen article URLs, learned
boilerplate, dedup state): OUT then holds only the clusters that gained a member in this run.
A store that cannot be used is an error (exit code 1); the store is never overwritten.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .._crawl import CrawlConfig, CrawlStats, crawl
from .._dedup import parse_window
from .._exceptions import ConfigError, StoreError
from .._fetch import FetchConfig
from .._models import Cluster
from ._common import (
    Interrupt,
    distinct_outputs,
    errors_option,
    open_state,
    output_errors,
    output_option,
    parse_story_window,
    progress_option,
    state_option,
    story_options,
    window_option,
    write_jsonl,
)


def summary_line(stats: CrawlStats) -> str:
    return (
        f"{stats.fetched} fetched ({stats.pages} pages, {stats.feeds} feeds, {stats.sitemaps} sitemaps), "
        f"{stats.articles} articles, {stats.clusters} clusters, {stats.errors} errors "
        f"in {stats.elapsed:.1f}s"
    )


@click.command("crawl")
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@output_option
@errors_option("Write per-URL failures here as {url, error, detail, attempts} lines.")
@click.option(
    "--allow-private",
    is_flag=True,
    help="Allow loopback/private addresses (intranets, local test sites). Metadata IPs stay blocked.",
)
@click.option("--max-pages", type=int, default=500, show_default=True, help="Article pages fetched at most.")
@click.option("--concurrency", type=int, default=8, show_default=True, help="Fetches in flight at once.")
@click.option("--per-host", type=int, default=2, show_default=True, help="Fetches in flight per host.")
@click.option(
    "--delay",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds between requests to one host (robots.txt Crawl-delay can raise it).",
)
@click.option(
    "--timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Wall-clock limit for one HTTP exchange, seconds.",
)
@click.option("--threshold", type=float, default=None, help="Dedup word-shingle Jaccard [default: 0.5].")
@click.option(
    "--extract-workers",
    type=int,
    default=1,
    show_default=True,
    help="Processes for article extraction (0: in the crawler process). In a worker, a page "
    "that crashes or hangs the parser is skipped (extract-crashed, extract-timeout).",
)
@click.option(
    "--extract-timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds a worker may spend on a few pages before it is stopped and they are retried one by one.",
)
@click.option(
    "--meta-refresh-max-delay",
    type=float,
    default=100.0,
    show_default=True,
    metavar="SECONDS",
    help="Follow a <meta http-equiv=refresh> to another URL within this many seconds, as a "
    "redirect; a negative value follows none.",
)
@state_option(
    "Persistent state (SQLite file or redis://...): feeds are re-fetched with conditional "
    "GET, articles ingested by earlier runs are skipped, OUT gets only new or grown clusters."
)
@window_option
@story_options
@progress_option
def command(
    urls: tuple[str, ...],
    output: Path | None,
    errors_path: Path | None,
    allow_private: bool,
    max_pages: int,
    concurrency: int,
    per_host: int,
    delay: float,
    timeout: float,
    threshold: float | None,
    extract_workers: int,
    extract_timeout: float,
    meta_refresh_max_delay: float,
    state: str | None,
    window: str | None,
    story_window: str,
    stories: bool,
    progress: bool | None,
) -> None:
    """Crawl URL... (feeds, sitemaps, homepages or articles) and print story clusters as JSONL.

    Robots.txt is obeyed, private addresses are refused unless --allow-private, and every
    failure is recorded (see --errors) without stopping the crawl.
    """
    distinct_outputs({"--output": output, "--errors": errors_path})
    try:
        fetch_config = FetchConfig(
            allow_private=allow_private,
            per_host_delay=delay,
            per_host_concurrency=per_host,
            total_timeout=timeout,
            max_connections=max(concurrency, 1),
        )
        config = CrawlConfig(
            max_pages=max_pages,
            concurrency=concurrency,
            extract_workers=extract_workers,
            extract_timeout=extract_timeout,
            meta_refresh_max_delay=None if meta_refresh_max_delay < 0 else meta_refresh_max_delay,
        )
        if threshold is not None and not 0 < threshold <= 1:
            raise ConfigError(f"threshold must be in (0, 1], got {threshold!r}")
        window_seconds = parse_window(window)
        story_seconds = parse_story_window(story_window)
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from exc
    store = None
    if state is not None:
        store = open_state(state)
    try:
        _crawl(urls, output, errors_path, fetch_config, config, threshold, progress, store,
               window_seconds, story_seconds if stories else False)  # fmt: skip
    except StoreError as exc:
        raise click.ClickException(f"state store: {exc}") from exc
    finally:
        if store is not None:
            store.close()


def _crawl(
    urls: tuple[str, ...],
    output: Path | None,
    errors_path: Path | None,
    fetch_config: FetchConfig,
    config: CrawlConfig,
    threshold: float | None,
    progress: bool | None,
    store: Any,
    window: float | None,
    story_window: float | bool | None,
) -> None:
    """Run the crawl; OUT is written before a store records the clusters as emitted."""
    dedup_settings: dict[str, Any] = {}
    if store is not None:
        from .._dedup import stored_settings

        dedup_settings = stored_settings(store.stored_config() or {})
        stored_threshold = dedup_settings.pop("threshold", None)
        if threshold is None:
            threshold = stored_threshold

    def write(clusters: list[Cluster]) -> None:
        with output_errors():
            write_jsonl(output, (c.to_dict() for c in clusters))

    options: dict[str, Any] = {
        "fetch_config": fetch_config,
        "config": config,
        "threshold": threshold,
        "dedup_settings": dedup_settings,
        "store": store,
        "window": window,
        "write": write,
        "stories": story_window is not False,
        "story_window": None if isinstance(story_window, bool) else story_window,
    }

    show = progress if progress is not None else sys.stderr.isatty()
    from rich.console import Console

    console = Console(stderr=True)
    with Interrupt("crawl") as interrupt:  # the first Ctrl-C ends the crawl, keeping what it has
        options["stop"] = interrupt.event
        if show:
            with console.status("crawling…") as status:

                def on_progress(stats: CrawlStats) -> None:
                    status.update(
                        f"crawling… {stats.fetched} fetched, {stats.articles} articles, "
                        f"{stats.errors} errors, {stats.queued - stats.fetched - stats.errors} queued"
                    )

                result = crawl(list(urls), on_progress=on_progress, **options)
        else:
            result = crawl(list(urls), **options)

    if errors_path is not None:
        with output_errors():
            write_jsonl(errors_path, (e.to_dict() for e in result.errors))
    if show or output is not None or result.stats.stopped:
        click.echo("crawl: " + summary_line(result.stats), err=True)
    if result.stats.stopped:
        click.echo("Interrupted: the articles extracted before it were deduplicated and written.", err=True)
        sys.exit(130)
