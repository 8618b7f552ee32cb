"""The offline demo: a small invented news web on 127.0.0.1, crawled and deduplicated.

``newsdedup demo`` is the README's first command, so it must work on a fresh machine with no
network: the site is bundled (``stories.json`` + :mod:`.site`), served from local threads, and
crawled through the same public crawler as real sites (with ``allow_private=True`` because the
servers are on loopback, and politeness delays off because they are ours).
"""

from __future__ import annotations

from .._crawl import CrawlConfig, CrawlResult, crawl
from .._fetch import FetchConfig
from .site import PUBLISHERS, DemoSite, Publisher, load_stories

__all__ = ["PUBLISHERS", "DemoSite", "Publisher", "demo_fetch_config", "load_stories", "run_demo"]


def demo_fetch_config() -> FetchConfig:
    """Fetch settings for crawling the local demo servers: loopback allowed, no delays."""
    return FetchConfig(
        allow_private=True,
        per_host_delay=0.0,
        per_host_concurrency=4,
        total_timeout=10.0,
        max_attempts=2,
        backoff_base=0.05,
    )


def run_demo(site: DemoSite, *, threshold: float | None = None) -> CrawlResult:
    """Crawl the (started) demo ``site`` from its homepages and return the clusters."""
    return crawl(
        site.seeds,
        fetch_config=demo_fetch_config(),
        config=CrawlConfig(max_pages=200, concurrency=8),
        threshold=threshold,
    )
