"""newsdedup: a noisy stream of news pages in, a clean stream of stories out.

The names below are the public API; every module whose name starts with an underscore is
private and may change without notice.
"""

import importlib
import logging
import typing as _typing

from ._boilerplate import BoilerplateLearner, RuleSet
from ._dedup import Decision, DedupConfig, Deduplicator, ErrorRecord, dedup
from ._exceptions import (
    BlockedURL,
    ConfigError,
    ConnectError,
    DecodingError,
    DedupError,
    DNSError,
    ExtractError,
    FeedError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    InputError,
    MissingDependency,
    NewsdedupError,
    ResponseTooLarge,
    RobotsDisallowed,
    RobotsUnreachable,
    RuleError,
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreNotEmpty,
    StoreSchemaError,
    TLSError,
    TooManyRedirects,
    TruncatedResponse,
    UnsupportedContent,
)
from ._explain import ClusterExplanation, Explanation, explain_cluster, explain_pair
from ._extract import ExtractConfig, extract
from ._io import read_jsonl, read_parquet, read_records, read_warc, write_parquet
from ._models import Article, CacheEntry, Cluster, Removal, Source
from ._store import RedisStore, SQLiteStore, Store, copy_store, open_store
from ._story import (
    StoryConfig,
    StoryMatch,
    StoryProfile,
    TermStats,
    assign_stories,
    group_stories,
    joins_story,
    profile_from_cluster,
    story_ids,
    story_match,
)
from ._text import clean_text
from ._urls import normalize_url
from ._verify import Verdict
from ._version import __version__

if _typing.TYPE_CHECKING:
    from ._crawl import CrawlConfig, CrawlResult, CrawlStats, crawl, crawl_async
    from ._demo import DemoSite
    from ._feeds import (
        FeedEntry,
        Sitemap,
        SitemapEntry,
        discover_article_links,
        discover_feeds,
        parse_feed,
        parse_sitemap,
    )
    from ._fetch import (
        FetchCache,
        FetchConfig,
        Fetcher,
        FetchErrorRecord,
        FetchResult,
        MemoryFetchCache,
    )
    from ._report import render_report, write_report

_LAZY = {
    "CrawlConfig": "_crawl",
    "CrawlResult": "_crawl",
    "CrawlStats": "_crawl",
    "crawl": "_crawl",
    "crawl_async": "_crawl",
    "DemoSite": "_demo",
    "FeedEntry": "_feeds",
    "Sitemap": "_feeds",
    "SitemapEntry": "_feeds",
    "discover_article_links": "_feeds",
    "discover_feeds": "_feeds",
    "parse_feed": "_feeds",
    "parse_sitemap": "_feeds",
    "FetchCache": "_fetch",
    "FetchConfig": "_fetch",
    "Fetcher": "_fetch",
    "FetchErrorRecord": "_fetch",
    "FetchResult": "_fetch",
    "MemoryFetchCache": "_fetch",
    "render_report": "_report",
    "write_report": "_report",
}
"""Public names imported on first use: the crawler's modules pull in httpx, asyncio, protego
and (through httpx) rich, about 0.13 s that ``newsdedup dedup`` and every worker process it
starts would otherwise spend importing them."""


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("." + module, __name__), name)
    _public(value)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _public(obj: object) -> None:
    """Users see newsdedup.Article, not newsdedup._models.Article."""
    if getattr(obj, "__module__", "").startswith("newsdedup."):
        obj.__module__ = "newsdedup"  # type: ignore[attr-defined]


# The library logs under "newsdedup" and leaves handlers to the application. The NullHandler
# (as libraries conventionally add) keeps an application without any logging setup from
# having newsdedup's warnings printed to stderr by logging's last-resort handler; records still
# propagate to whatever handlers the application configures.
_logger = logging.getLogger("newsdedup")
if not any(isinstance(h, logging.NullHandler) for h in _logger.handlers):  # once, even on reload
    _logger.addHandler(logging.NullHandler())
del _logger

__all__ = [
    "Article",
    "BlockedURL",
    "BoilerplateLearner",
    "CacheEntry",
    "Cluster",
    "ClusterExplanation",
    "ConfigError",
    "ConnectError",
    "CrawlConfig",
    "CrawlResult",
    "CrawlStats",
    "DNSError",
    "Decision",
    "DecodingError",
    "DedupConfig",
    "DedupError",
    "Deduplicator",
    "DemoSite",
    "ErrorRecord",
    "Explanation",
    "ExtractConfig",
    "ExtractError",
    "FeedEntry",
    "FeedError",
    "FetchCache",
    "FetchConfig",
    "FetchError",
    "FetchErrorRecord",
    "FetchResult",
    "FetchTimeout",
    "Fetcher",
    "HTTPStatusError",
    "InputError",
    "MemoryFetchCache",
    "MissingDependency",
    "NewsdedupError",
    "RedisStore",
    "Removal",
    "ResponseTooLarge",
    "RobotsDisallowed",
    "RobotsUnreachable",
    "RuleError",
    "RuleSet",
    "SQLiteStore",
    "Sitemap",
    "SitemapEntry",
    "Source",
    "Store",
    "StoreBusy",
    "StoreCorrupt",
    "StoreError",
    "StoreNotEmpty",
    "StoreSchemaError",
    "StoryConfig",
    "StoryMatch",
    "StoryProfile",
    "TLSError",
    "TermStats",
    "TooManyRedirects",
    "TruncatedResponse",
    "UnsupportedContent",
    "Verdict",
    "__version__",
    "assign_stories",
    "clean_text",
    "copy_store",
    "crawl",
    "crawl_async",
    "dedup",
    "discover_article_links",
    "discover_feeds",
    "explain_cluster",
    "explain_pair",
    "extract",
    "group_stories",
    "joins_story",
    "normalize_url",
    "open_store",
    "parse_feed",
    "parse_sitemap",
    "profile_from_cluster",
    "read_jsonl",
    "read_parquet",
    "read_records",
    "read_warc",
    "render_report",
    "story_ids",
    "story_match",
    "write_parquet",
    "write_report",
]

for _name in __all__:
    if _name not in _LAZY and not _name.startswith("__"):
        _public(globals()[_name])
del _name
