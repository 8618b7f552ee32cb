"""Crawl orchestration: seeds -> discovery -> fetch -> extract -> dedup -> clusters.

A seed may be a feed, a sitemap (or index), a homepage or an article; what it is is decided
from the fetched content, not from the URL. Feeds and sitemaps yield article URLs; a homepage
yields its announced feeds, else the sitemaps its robots.txt lists, else its same-site
article-looking links. Every URL is normalised and fetched at most once.

Nothing a single URL does can stop the crawl: fetch, feed and extraction failures become
:class:`~newsdedup.FetchErrorRecord` values in :attr:`CrawlResult.errors`. The whole crawl is
bounded by ``max_pages`` (article fetches), ``max_feed_entries``, ``max_sitemap_depth`` and
``max_sitemaps``.

With a state store (``store=``) runs continue each other: the store's conditional-GET cache makes
re-fetching feeds, sitemaps and homepages cheap (304s), article URLs already ingested by an
earlier run are not fetched again, the per-site learned boilerplate is loaded, extended with
this run's pages and saved, and the result holds only the clusters that gained a member.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._exceptions import ConfigError, FeedError, FetchError, finite_number
from ._feeds import (
    MAX_HTML_DEPTH,
    SitemapEntry,
    discover_homepage,
    looks_like_article,
    meta_refresh,
    parse_feed,
    parse_sitemap,
    sniff_kind,
)
from ._fetch import FetchCache, FetchConfig, Fetcher, FetchErrorRecord, FetchResult
from ._frontier import Frontier
from ._models import Article, Cluster, as_utc
from ._procs import log_setup, mp_context, start_forkserver, stop_workers, worker_start
from ._urls import normalize_url, same_site, site_of

if TYPE_CHECKING:
    from ._boilerplate import BoilerplateLearner
    from ._store._base import Store

__all__ = ["CrawlConfig", "CrawlResult", "CrawlStats", "crawl", "crawl_async"]

logger = logging.getLogger("newsdedup")


@dataclass(frozen=True, slots=True, kw_only=True)
class CrawlConfig:
    """Bounds of one crawl (the fetcher's own limits live in :class:`FetchConfig`)."""

    max_pages: int = 500
    """Article pages fetched at most (feeds, sitemaps and homepages not counted)."""
    concurrency: int = 8
    """Fetches in flight at once (the per-host limit of the fetcher still applies)."""
    max_feed_entries: int = 200
    max_sitemap_depth: int = 2
    """How many levels of sitemap index are followed below a seed sitemap."""
    max_sitemaps: int = 50
    max_links_per_page: int = 100
    """Article links taken from a homepage that announces no feed."""
    extract_workers: int = 0
    """Processes for extraction (0: in the event loop). Extraction is CPU-bound, so on a
    multi-core machine 1-2 workers let fetching and dedup continue meanwhile; only the default
    extractor can run in workers (a custom ``extract`` function always runs in-process). In a
    worker, a page that crashes the HTML parser or hangs it is skipped and recorded
    (``extract-crashed``, ``extract-timeout``) instead of ending the crawl."""
    meta_refresh_max_delay: float | None = 100.0
    """A page whose ``<meta http-equiv="refresh">`` sends the browser to another URL within
    this many seconds is a redirect: that URL is crawled instead (once; the page budget
    applies), as Scrapy's ``METAREFRESH_MAXDELAY`` (100). A longer delay (a page that reloads
    itself every few minutes) is ignored; None ignores every refresh."""
    extract_timeout: float = 30.0
    """Seconds a trip of pages to an extraction worker may take before the worker is stopped
    and its pages are tried again one by one (a page that overruns alone is
    ``extract-timeout``). Only with ``extract_workers``: extraction in the event loop cannot be
    interrupted."""

    def __post_init__(self) -> None:
        for name in ("max_pages", "concurrency", "max_feed_entries", "max_sitemaps", "max_links_per_page"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"CrawlConfig.{name} must be an int >= 1, got {value!r}")
        if not isinstance(self.extract_workers, int) or not 0 <= self.extract_workers <= 64:
            raise ConfigError(
                f"CrawlConfig.extract_workers must be an int in [0, 64], got {self.extract_workers!r}"
            )
        delay = self.meta_refresh_max_delay
        if delay is not None and not (finite_number(delay) and delay >= 0):
            raise ConfigError(
                f"CrawlConfig.meta_refresh_max_delay must be a finite number >= 0 or None, got {delay!r}"
            )
        timeout = self.extract_timeout
        if not (finite_number(timeout) and timeout > 0):
            raise ConfigError(f"CrawlConfig.extract_timeout must be a finite number > 0, got {timeout!r}")
        if not isinstance(self.max_sitemap_depth, int) or self.max_sitemap_depth < 0:
            raise ConfigError(
                f"CrawlConfig.max_sitemap_depth must be an int >= 0, got {self.max_sitemap_depth!r}"
            )


@dataclass(slots=True)
class CrawlStats:
    """Counters of a crawl, updated live (the progress callback receives this object)."""

    fetched: int = 0
    pages: int = 0
    feeds: int = 0
    sitemaps: int = 0
    homepages: int = 0
    articles: int = 0
    errors: int = 0
    from_cache: int = 0
    skipped_seen: int = 0
    """Article URLs not fetched because an earlier run (same state store) ingested them."""
    skipped_max_pages: int = 0
    meta_refreshes: int = 0
    """Pages that were a ``<meta http-equiv="refresh">`` redirect: their target was queued
    instead (see :attr:`CrawlConfig.meta_refresh_max_delay`)."""
    skipped_feed_entries: int = 0
    """Entries of a feed or sitemap beyond ``max_feed_entries``, not fetched (counted up to ten
    times the cap per document: what is parsed past that is not looked at)."""
    bytes: int = 0
    queued: int = 0
    clusters: int = 0
    elapsed: float = 0.0
    dedup_seconds: float = 0.0
    """Part of ``elapsed`` spent finishing dedup after the last fetch (most runs during the crawl)."""
    stopped: bool = False
    """The crawl's ``stop`` event ended it before its queue was empty (what was extracted by
    then is deduplicated and returned)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class CrawlResult:
    """Everything a crawl produced: clusters (the output), the articles behind them, failures."""

    clusters: tuple[Cluster, ...]
    articles: tuple[Article, ...]
    errors: tuple[FetchErrorRecord, ...]
    stats: CrawlStats = field(default_factory=CrawlStats)


@dataclass(frozen=True, slots=True)
class _Task:
    url: str
    role: str  # "seed" | "feed" | "sitemap" | "page"
    depth: int = 0
    title: str = ""
    published: datetime | None = None


ExtractFn = Callable[..., Article]
_DEDUP_BATCH = 32
ProgressFn = Callable[[CrawlStats], None]


class _Crawl:
    def __init__(
        self,
        fetcher: Fetcher,
        config: CrawlConfig,
        extract_fn: ExtractFn,
        on_progress: ProgressFn | None,
        batches: _ExtractBatches | None = None,
        deduper: Any = None,
        store: Store | None = None,
        learner: BoilerplateLearner | None = None,
    ) -> None:
        self.batches = batches
        self.store = store
        self.learner = learner
        self.ingested_urls: list[str] = []
        """URLs (task and final) of the articles in ``pending``: marked seen once committed."""
        self.gone: list[str] = []
        """Article URLs answered 404, 410 or 451: marked seen with the next batch, so a run
        over the same store does not fetch them again."""
        self.deduper = deduper
        self.pending: list[Article] = []
        self.fetcher = fetcher
        self.config = config
        self.extract = extract_fn
        self.on_progress = on_progress
        self.queue: Frontier[_Task] = Frontier(
            per_host=fetcher.config.per_host_concurrency, wait=fetcher.host_wait
        )
        """One line per host: a host that must not be asked yet (Crawl-delay, backoff) holds
        back its own URLs, not the workers."""
        self.seen: set[str] = set()
        self.final_seen: set[str] = set()
        self.articles: list[Article] = []
        self.errors: list[FetchErrorRecord] = []
        self.stats = CrawlStats()
        self.page_budget = config.max_pages
        self.sitemap_budget = config.max_sitemaps

    def enqueue_pages(self, tasks: list[_Task]) -> None:
        """Enqueue article tasks, minus those an earlier run of the same store ingested (asked
        in one batch)."""
        if self.store is not None and tasks:
            keys = [normalize_url(t.url) for t in tasks]
            fresh = set(self.store.unseen([k for k in keys if k not in self.seen]))
            kept = []
            for key, task in zip(keys, tasks, strict=True):
                if key in fresh or key in self.seen:
                    kept.append(task)
                else:
                    self.seen.add(key)
                    self.stats.skipped_seen += 1
            tasks = kept
        for task in tasks:
            self.enqueue(task)

    def enqueue(self, task: _Task) -> None:
        key = normalize_url(task.url)
        if key in self.seen:
            return
        if task.role == "page":
            if self.page_budget <= 0:
                self.stats.skipped_max_pages += 1
                return
            self.page_budget -= 1
        if task.role == "sitemap":
            if self.sitemap_budget <= 0:
                return
            self.sitemap_budget -= 1
        self.seen.add(key)
        self.stats.queued += 1
        self.queue.put_nowait(dataclasses.replace(task, url=key if task.role != "seed" else task.url))

    def error(self, url: str, error: str, detail: str, attempts: int = 0) -> None:
        self.errors.append(FetchErrorRecord(url=url, error=error, detail=detail, attempts=attempts))
        self.stats.errors += 1

    async def worker(self) -> None:
        while True:
            task = await self.queue.get()
            try:
                await self.handle(task)
            except Exception as exc:  # a bug on one URL must not stop the crawl
                logger.exception("crawl: unexpected error on %s", task.url)
                self.error(task.url, "internal-error", f"{type(exc).__name__}: {exc}")
            finally:
                self.queue.task_done(task)
                if self.on_progress is not None:
                    self.on_progress(self.stats)

    async def handle(self, task: _Task) -> None:
        allow_gz = task.role in ("seed", "sitemap")
        try:
            result = await self.fetcher.fetch(task.url, allow_gzip_file=allow_gz)
        except FetchError as exc:
            self.errors.append(FetchErrorRecord.from_exception(task.url, exc))
            self.stats.errors += 1
            if task.role == "page" and getattr(exc, "status", None) in _GONE:
                self.gone.append(task.url)  # with a store: not asked for again by later runs
            return
        finally:  # the host is free for its next URL while this one is extracted or parsed
            self.queue.release(task)
        self.stats.fetched += 1
        self.stats.bytes += len(result.body)
        if result.from_cache:
            self.stats.from_cache += 1
        kind = sniff_kind(result.content_type, result.body)
        if task.role in ("feed", "sitemap") and kind not in _LISTINGS:
            # announced as a feed or listed as a sitemap, but a page came back: a login wall,
            # a soft 404 or a moved feed, not an article to extract
            self.error(task.url, "feed-error", f"not a {task.role}: the URL answered {kind} content "
                       f"({result.content_type or 'no type'})", result.attempts)  # fmt: skip
            return
        if kind in ("feed", "jsonfeed"):
            await self.on_feed(task, result)
        elif kind in ("sitemap", "sitemapindex"):
            await self.on_sitemap(task, result)
        elif kind == "html" or result.text is not None:
            if task.role == "seed" and self.is_homepage(task.url, result):
                await self.on_homepage(task, result)
            else:
                await self.on_page(task, result)
        else:
            self.error(task.url, "unsupported-content", f"not a page, feed or sitemap ({result.content_type or 'no type'})",
                       result.attempts)  # fmt: skip

    @staticmethod
    def is_homepage(url: str, result: FetchResult) -> bool:
        path = urlsplit(result.final_url or url).path
        return not looks_like_article(path)

    async def on_feed(self, task: _Task, result: FetchResult) -> None:
        self.stats.feeds += 1
        problems: list[str] = []
        try:
            # in a thread: feedparser reads every entry before the cap applies (10 s for a 10 MB
            # feed), and the event loop must go on serving the other fetches meanwhile
            entries = await asyncio.to_thread(
                parse_feed, result.body, base_url=result.final_url, content_type=result.content_type,
                max_entries=self.config.max_feed_entries * _COUNTED, problems=problems,
            )  # fmt: skip
        except FeedError as exc:
            self.error(task.url, "feed-error", str(exc), result.attempts)
            return
        for problem in problems:  # partly broken: what could be recovered is crawled, the feed is flagged
            self.error(
                task.url, "feed-malformed", f"{problem}; {len(entries)} entries recovered", result.attempts
            )
        entries = self._capped(entries)
        self.enqueue_pages([_Task(e.url, "page", title=e.title, published=e.published) for e in entries])

    def _capped(self, entries: list[Any]) -> list[Any]:
        """The first ``max_feed_entries`` entries (newest first), counting the rest as skipped."""
        cap = self.config.max_feed_entries
        self.stats.skipped_feed_entries += max(0, len(entries) - cap)
        return entries[:cap]

    async def on_sitemap(self, task: _Task, result: FetchResult) -> None:
        self.stats.sitemaps += 1
        try:
            sitemap = await asyncio.to_thread(  # in a thread, as feeds are (see on_feed)
                parse_sitemap, result.body, base_url=result.final_url,
                max_entries=self.config.max_feed_entries * _COUNTED,
            )  # fmt: skip
        except FeedError as exc:
            self.error(task.url, "feed-error", str(exc), result.attempts)
            return
        if sitemap.sitemaps:
            if task.depth >= self.config.max_sitemap_depth:
                self.error(task.url, "sitemap-depth", f"sitemap index below depth {task.depth} not followed")
            else:
                for child in sitemap.sitemaps:
                    if same_site(child, result.final_url):
                        self.enqueue(_Task(child, "sitemap", depth=task.depth + 1))
                    else:  # the protocol keeps an index's sitemaps on its own site
                        self.error(child, "off-site", f"sitemap listed by the index {result.final_url} "
                                   "on another site: not followed")  # fmt: skip
        # News sitemaps list newest first; sort by date when dates are given.
        entries = self._capped(sorted(sitemap.urls, key=_entry_time, reverse=True))
        self.enqueue_pages(
            [_Task(e.url, "page", title=e.title, published=e.published or e.lastmod) for e in entries]
        )

    async def on_homepage(self, task: _Task, result: FetchResult) -> None:
        self.stats.homepages += 1
        html = result.text if result.text is not None else result.body
        try:
            # in a thread, as feeds are (see on_feed): a big page takes lexbor a while, and one
            # nested absurdly deep (quadratic to parse) is refused before it is parsed at all
            feeds, links = await asyncio.to_thread(
                discover_homepage, html, result.final_url,
                max_links=self.config.max_links_per_page, max_depth=MAX_HTML_DEPTH,
            )  # fmt: skip
        except FeedError as exc:  # extracting it would parse it too: it ends here
            self.error(result.final_url, "extract-failed", f"too-deep: {exc}", result.attempts)
            return
        if feeds:
            for feed in feeds:
                self.enqueue(_Task(feed, "feed"))
            return
        sitemaps = self.fetcher.robots.sitemaps(result.final_url)
        if sitemaps:
            for sm in sitemaps:
                self.enqueue(_Task(sm, "sitemap", depth=0))
            return
        if links:
            self.enqueue_pages([_Task(link, "page") for link in links])
            return
        await self.on_page(task, result)  # a homepage with nothing to follow may itself be a story

    async def on_page(self, task: _Task, result: FetchResult) -> None:
        self.stats.pages += 1
        # queued tasks already carry the normalised URL; only a seed or a redirect needs work
        task_key = task.url if task.role != "seed" else normalize_url(task.url)
        final_key = task_key if result.final_url == task.url else normalize_url(result.final_url)
        if final_key in self.final_seen:
            return  # two URLs redirecting to one article: keep the first
        self.final_seen.add(final_key)
        page: str | bytes = result.text if result.text is not None else result.body
        if self.config.meta_refresh_max_delay is not None:
            target = meta_refresh(page, result.final_url, max_delay=self.config.meta_refresh_max_delay)
            if target is not None and normalize_url(target) not in (task_key, final_key):
                self.stats.meta_refreshes += 1  # a redirect in HTML: the target is the page
                self.enqueue(_Task(target, "page", title=task.title, published=task.published))
                return
        content_type = result.headers.get("content-type")
        learner = self.learner
        try:
            article = None
            batches = self.batches
            if batches is not None and learner is None:
                outcome: _Outcome | None
                try:
                    outcome = await batches.extract(page, result.final_url, content_type)
                except BrokenExecutor:  # its trip's worker died or overran: this page alone
                    try:
                        outcome = await batches.extract_alone(page, result.final_url, content_type)
                    except BrokenExecutor:
                        logger.warning(
                            "crawl: no extraction worker can be started; extracting in-process from now on"
                        )
                        self.batches, outcome = None, None
                if outcome is not None:
                    if not isinstance(outcome, dict):  # the worker's extractor raised, or the page killed it
                        reason, name, message = outcome
                        if reason in _ISOLATED:
                            self.error(result.final_url, reason, message, result.attempts)
                        else:
                            self.error(result.final_url, "extract-failed", f"{reason}: {name}: {message}",
                                       result.attempts)  # fmt: skip
                        return
                    article = Article.from_dict(outcome)
            if article is None:
                if learner is not None:
                    article = self.extract(
                        page, url=result.final_url, content_type=content_type, learner=learner
                    )
                else:
                    article = self.extract(page, url=result.final_url, content_type=content_type)
        except Exception as exc:  # extraction bugs are per-page failures
            reason = getattr(exc, "reason", None) or "extract-failed"
            self.error(
                result.final_url, "extract-failed", f"{reason}: {type(exc).__name__}: {exc}", result.attempts
            )
            return
        if not article.ok:
            self.error(result.final_url, "extract-failed", article.reason or "no-main-text", result.attempts)
            return
        article = dataclasses.replace(
            article,
            id=result.final_url,
            url=result.final_url,
            site=article.site or site_of(result.final_url),
            title=article.title or task.title,
            published=article.published or task.published,
        )
        if learner is not None:
            # keyed by the page's host, as the extractor looks learned lines up
            learner.observe(result.final_url, _page_lines(article))
        self.articles.append(article)
        if self.deduper is not None:
            self.pending.append(article)
            self.ingested_urls.extend({task_key, final_key})
            if len(self.pending) >= _DEDUP_BATCH:
                self.flush_dedup()
        self.stats.articles += 1

    def flush_dedup(self) -> None:
        """Add the articles gathered so far to the deduplicator (in one batch: signatures are
        computed together). Runs during the crawl so dedup overlaps with network waits and
        extraction workers instead of all happening at the end."""
        if self.deduper is not None and self.pending:
            batch, self.pending = self.pending, []
            urls, self.ingested_urls = self.ingested_urls, []
            self.deduper.add_many(batch)
            if self.store is not None:
                self.store.mark_seen(urls)  # only after the batch is committed
        if self.store is not None and self.gone:
            gone, self.gone = self.gone, []
            self.store.mark_seen(gone)

    async def run(self, seeds: Sequence[str], stop: threading.Event | None = None) -> None:
        """Crawl until the queue is empty, or until ``stop`` is set: then the fetches in flight
        are cancelled, and the articles extracted so far are what the crawl returns."""
        for seed in seeds:
            self.enqueue(_Task(seed.strip(), "seed"))
        workers = [asyncio.create_task(self.worker()) for _ in range(self.config.concurrency)]
        done = asyncio.ensure_future(self.queue.join())
        try:
            while not done.done():
                # a threading.Event (a signal handler or another thread sets it), looked at a
                # few times a second
                await asyncio.wait([done], timeout=None if stop is None else _STOP_POLL)
                if stop is not None and stop.is_set() and not done.done():
                    self.stats.stopped = True
                    break
        finally:
            done.cancel()
            for w in workers:
                w.cancel()
            await asyncio.gather(done, *workers, return_exceptions=True)


_STOP_POLL = 0.1
"""Seconds between two looks at a crawl's ``stop`` event."""

_EXTRACT_BATCH = 8
"""Most pages sent to an extraction worker in one trip (a quarter of the crawl's concurrency, so
fetching goes on while a batch is extracted)."""
_EXTRACT_WAIT = 0.002
"""Seconds a page waits for others to share its trip (bounded latency; a trip is ~0.3 ms of the
crawler's CPU in thread hand-offs and pipe writes, whatever its size)."""

_Outcome = dict[str, Any] | tuple[str, str, str]


def _extract_batch(pages: list[tuple[str | bytes, str, str | None]]) -> list[_Outcome]:
    """Runs in an extraction worker process: one ``Article.to_dict()`` per page, or
    ``(reason, exception type, message)`` when the extractor raised. Plain data crosses the
    process boundary (an exception object might not unpickle)."""
    from ._extract import extract

    out: list[_Outcome] = []
    for page, url, content_type in pages:
        try:
            out.append(extract(page, url=url, content_type=content_type).to_dict())
        except Exception as exc:  # per-page failure, reported like an in-process one
            out.append((str(getattr(exc, "reason", None) or "extract-failed"), type(exc).__name__, str(exc)))
    return out


_COUNTED = 10
"""A feed or sitemap is parsed up to this many times ``max_feed_entries``: entries past the cap
are only counted (``stats.skipped_feed_entries``), and past this not even that."""

_GONE = (404, 410, 451)
"""Statuses that end an article URL for good (not found, gone, unavailable for legal reasons):
with a store, later runs skip it as they skip ingested ones."""

_LISTINGS = ("feed", "jsonfeed", "sitemap", "sitemapindex")
"""What :func:`~newsdedup._feeds.sniff_kind` calls the documents a feed or sitemap URL may answer."""

_ISOLATED = ("extract-crashed", "extract-timeout")
"""Outcomes of a page that killed or hung the worker extracting it alone (:meth:`_ExtractBatches.extract_alone`)."""


class _ExtractBatches:
    """Hands pages to the extraction workers a few at a time (see :data:`_EXTRACT_WAIT`), and
    keeps a page that crashes the parser (a segfault, an abort, the out-of-memory killer) or
    hangs it from ending the crawl.

    A trip whose worker died, or that overran ``timeout`` (its workers are then killed), fails
    its pages with BrokenExecutor; the next trip gets a new pool from ``make_pool``. Which page
    did it is not known, so each of them is tried again alone (:meth:`extract_alone`), one at a
    time in a pool of its own, where a crash or an overrun is that page's."""

    def __init__(
        self,
        pool: Executor,
        size: int,
        *,
        make_pool: Callable[[int], Executor] | None = None,
        timeout: float | None = None,
    ) -> None:
        self.pool = pool
        self.size = size
        self.make_pool = make_pool
        self.timeout = timeout
        self.broken = False
        """The pool's workers died (or were killed): the next trip starts a new pool."""
        self.alone: Executor | None = None
        self._alone_turn: asyncio.Lock | None = None
        self.pending: list[tuple[str | bytes, str, str | None, asyncio.Future[_Outcome]]] = []
        self.timer: asyncio.TimerHandle | None = None

    def close(self) -> None:
        """Shut the pools down (the end of the crawl)."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self.alone is not None:
            self.alone.shutdown(wait=True, cancel_futures=True)
            self.alone = None

    async def extract_alone(self, page: str | bytes, url: str, content_type: str | None) -> _Outcome:
        """The page's outcome from a trip of its own, one such trip at a time: an
        ``("extract-crashed", ...)`` or ``("extract-timeout", ...)`` triple when the worker died
        on it or overran ``timeout`` (and was killed). BrokenExecutor only when no worker can
        be started at all."""
        if self._alone_turn is None:
            self._alone_turn = asyncio.Lock()
        async with self._alone_turn:
            if self.alone is None:
                if self.make_pool is None:
                    raise BrokenExecutor("no pool to extract the page alone in")
                try:
                    self.alone = self.make_pool(1)
                except Exception as exc:  # cannot start processes here at all
                    raise BrokenExecutor(f"cannot start an extraction worker: {exc}") from exc
            trip = asyncio.get_running_loop().run_in_executor(
                self.alone, _extract_batch, [(page, url, content_type)]
            )
            try:
                [outcome] = await asyncio.wait_for(trip, self.timeout)
            except TimeoutError:
                self._drop_alone()
                return ("extract-timeout", "TimeoutError",
                        f"no result within {self.timeout:g} s; its worker was stopped and the page skipped")  # fmt: skip
            except BrokenExecutor:
                self._drop_alone()
                return ("extract-crashed", "BrokenProcessPool",
                        "the extraction worker died on this page (a parser crash, an abort or the "
                        "out-of-memory killer); the page was skipped")  # fmt: skip
            return outcome

    def _drop_alone(self) -> None:
        if self.alone is not None:
            stop_workers(self.alone)
            self.alone = None

    def _renew(self) -> None:
        """A new pool in place of the broken one (its workers are gone or were killed)."""
        if self.make_pool is None:
            return
        old, self.broken = self.pool, False
        stop_workers(old)
        self.pool = self.make_pool(_pool_size(old))

    def _overran(self, futures: list[asyncio.Future[_Outcome]], trip: asyncio.Future[Any]) -> None:
        """The trip took longer than ``timeout``: its workers are killed, its pages fail."""
        if trip.done():
            return
        self.broken = True
        stop_workers(self.pool)
        _settle(futures, error=BrokenExecutor(f"extraction overran {self.timeout:g} s"))

    def extract(self, page: str | bytes, url: str, content_type: str | None) -> asyncio.Future[_Outcome]:
        """A future for the page's outcome; BrokenExecutor when the pool has died."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_Outcome] = loop.create_future()
        self.pending.append((page, url, content_type, future))
        if len(self.pending) >= self.size:
            self.flush()
        elif self.timer is None:
            self.timer = loop.call_later(_EXTRACT_WAIT, self.flush)
        return future

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch, self.pending = self.pending, []
        if not batch:
            return
        futures = [item[3] for item in batch]
        loop = asyncio.get_running_loop()
        try:
            if self.broken:
                self._renew()
            trip = loop.run_in_executor(self.pool, _extract_batch, [item[:3] for item in batch])
        except Exception as exc:  # a dead or shut-down pool refuses at once, or none can start
            self.broken = True
            _settle(futures, error=exc if isinstance(exc, BrokenExecutor) else BrokenExecutor(str(exc)))
            return
        watchdog = (
            None if self.timeout is None else loop.call_later(self.timeout, self._overran, futures, trip)
        )

        def deliver(done: asyncio.Future[list[_Outcome]]) -> None:
            if watchdog is not None:
                watchdog.cancel()
            if done.cancelled():
                _settle(futures, error=BrokenExecutor("extraction cancelled"))
                return
            error = done.exception()
            if isinstance(error, BrokenExecutor):
                self.broken = True
                _settle(futures, error=error)
            elif error is not None:  # e.g. a result that would not pickle: these pages failed
                _settle(
                    futures, results=[("extract-failed", type(error).__name__, str(error))] * len(futures)
                )
            else:
                _settle(futures, results=done.result())

        trip.add_done_callback(deliver)


def _settle(
    futures: list[asyncio.Future[_Outcome]],
    *,
    results: list[_Outcome] | None = None,
    error: BaseException | None = None,
) -> None:
    for i, future in enumerate(futures):
        if future.done():  # its crawl task was cancelled meanwhile
            continue
        if results is not None:
            future.set_result(results[i])
        else:
            future.set_exception(error or BrokenExecutor("extraction failed"))


def _page_lines(article: Article) -> list[str]:
    """The lines a page showed, for the learner: its paragraphs plus the lines already cut as
    learned boilerplate (otherwise a learned line would stop being counted and be forgotten as
    pages accumulate). Removals are stored shortened; a shortened one cannot match its line."""
    lines = list(article.paragraphs)
    lines.extend(r.text for r in article.removed if r.rule.startswith("learned") and not r.text.endswith("…"))
    return lines


def _make_pool(workers: int) -> Executor:
    context = mp_context()
    start_forkserver(context)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=worker_start,
                               initargs=(log_setup(context),))  # fmt: skip


def _pool_size(pool: Executor) -> int:
    return int(getattr(pool, "_max_workers", 1))


def _entry_time(entry: SitemapEntry) -> float:
    when = entry.published or entry.lastmod
    if when is None:
        return 0.0
    return as_utc(when).timestamp()


def _finish_dedup(
    state: _Crawl,
    write: Callable[[list[Cluster]], None] | None = None,
    story_window: str | float | timedelta | bool | None = False,
) -> tuple[list[Cluster], list[FetchErrorRecord]]:
    """Without a store: every cluster. With one: the clusters that gained a member this run,
    handed to ``write`` (if given) before they are recorded as emitted. ``story_window`` False:
    no story ids; else story ids over every cluster (the whole store with one)."""
    state.flush_dedup()
    deduper = state.deduper
    errors = [
        FetchErrorRecord(url=e.id or "", error=e.reason, detail=e.message, attempts=0) for e in deduper.errors
    ]
    if state.store is None:
        clusters = deduper.clusters()
        if story_window is not False:
            from ._story import assign_stories

            clusters = assign_stories(clusters, window=story_window)
        if write is not None:
            write(clusters)
        return clusters, errors
    out: list[Cluster] = []

    def record(clusters: list[Cluster]) -> None:
        if story_window is not False:
            from ._story import stories_from

            clusters = stories_from(clusters, deduper.iter_clusters(refresh=False), window=story_window)
        out.extend(clusters)
        if write is not None:
            write(clusters)

    deduper.emit_changed(record)
    return out, errors


async def crawl_async(
    seeds: Iterable[str],
    *,
    fetch_config: FetchConfig | None = None,
    config: CrawlConfig | None = None,
    threshold: float | None = None,
    dedup_settings: dict[str, Any] | None = None,
    fetcher: Fetcher | None = None,
    cache: FetchCache | None = None,
    extract: ExtractFn | None = None,
    on_progress: ProgressFn | None = None,
    store: Store | None = None,
    window: str | float | timedelta | None = None,
    learner_name: str = "default",
    write: Callable[[list[Cluster]], None] | None = None,
    stories: bool = True,
    story_window: str | float | timedelta | None = "72h",
    stop: threading.Event | None = None,
) -> CrawlResult:
    """Crawl ``seeds`` and return clusters; see :func:`crawl` (this is its async form).

    Pass an open ``fetcher`` to share its connection pool, robots cache and conditional-GET
    cache between crawls (re-crawling then skips unchanged pages with 304s).
    """
    if isinstance(seeds, str | bytes):
        raise TypeError(f"seeds must be an iterable of URLs, not one {type(seeds).__name__}: pass [url]")
    seed_list = [s for s in seeds if s and s.strip()]
    cfg = config or CrawlConfig()
    custom_extract = extract
    if extract is None:
        from ._extract import extract as default_extract

        extract = default_extract
    started = time.monotonic()
    from ._dedup import Deduplicator  # clusters do not depend on the order items are added

    learner = None
    if store is not None:
        deduper = Deduplicator(threshold, store=store, window=window, **dict(dedup_settings or {}))
        if cache is None:
            cache = store.fetch_cache()
        if custom_extract is None:
            from ._boilerplate import BoilerplateLearner

            learner = store.load_learner(learner_name) or BoilerplateLearner()
    else:
        deduper = Deduplicator(threshold, window=window, **dict(dedup_settings or {}))
    # the learner lives in this process, so extraction with a learner runs here too
    batches = None
    if cfg.extract_workers and custom_extract is None and learner is None:
        size = max(1, min(_EXTRACT_BATCH, cfg.concurrency // 4))
        batches = _ExtractBatches(_make_pool(cfg.extract_workers), size, make_pool=_make_pool,
                                  timeout=cfg.extract_timeout)  # fmt: skip
    try:
        if fetcher is None:
            async with Fetcher(fetch_config, cache=cache) as own:
                state = _Crawl(own, cfg, extract, on_progress, batches, deduper, store, learner)
                await state.run(seed_list, stop)
        else:
            state = _Crawl(fetcher, cfg, extract, on_progress, batches, deduper, store, learner)
            await state.run(seed_list, stop)
    finally:
        if batches is not None:
            batches.close()
    dedup_start = time.monotonic()
    clusters, dedup_errors = _finish_dedup(state, write, story_window if stories else False)
    if store is not None and learner is not None:
        store.save_learner(learner, learner_name)
    state.stats.dedup_seconds = time.monotonic() - dedup_start
    state.stats.clusters = len(clusters)
    state.stats.errors += len(dedup_errors)
    state.stats.elapsed = time.monotonic() - started
    return CrawlResult(
        clusters=tuple(clusters),
        articles=tuple(state.articles),
        errors=tuple(state.errors) + tuple(dedup_errors),
        stats=state.stats,
    )


def crawl(
    seeds: Iterable[str],
    *,
    fetch_config: FetchConfig | None = None,
    config: CrawlConfig | None = None,
    threshold: float | None = None,
    dedup_settings: dict[str, Any] | None = None,
    cache: FetchCache | None = None,
    extract: ExtractFn | None = None,
    on_progress: ProgressFn | None = None,
    store: Store | None = None,
    window: str | float | timedelta | None = None,
    learner_name: str = "default",
    write: Callable[[list[Cluster]], None] | None = None,
    stories: bool = True,
    story_window: str | float | timedelta | None = "72h",
    stop: threading.Event | None = None,
) -> CrawlResult:
    """Crawl feeds, sitemaps, homepages or articles and collapse syndicated copies.

    Synchronous wrapper around :func:`crawl_async` (runs its own event loop, so call it from
    plain code, not from inside a running loop). ``threshold`` and ``dedup_settings`` go to the
    deduplicator; failures are in ``result.errors``, never raised.

    ``store`` (see :func:`newsdedup.open_store`; the caller closes it) continues earlier runs:
    its fetch cache is used unless ``cache`` is given, article URLs it has ingested are skipped,
    the learner ``learner_name`` is loaded, used by the default extractor and saved, and
    ``result.clusters`` holds only the clusters that gained a member in this run. ``write``
    receives the output clusters before a store records them as emitted (so a crash while
    writing emits them again next run). ``window`` as for :class:`Deduplicator`. With
    ``stories`` every output cluster gets ``extra["story_id"]`` (``story_window``: None for no
    limit); with a store they are computed over every stored cluster. Setting ``stop`` (from a
    signal handler or another thread) ends the crawl early, as Scrapy's first Ctrl-C does: the
    fetches in flight are cancelled, and what was extracted is deduplicated and returned as
    usual (``result.stats.stopped``).
    """
    return asyncio.run(
        crawl_async(
            seeds,
            fetch_config=fetch_config,
            config=config,
            threshold=threshold,
            dedup_settings=dedup_settings,
            cache=cache,
            extract=extract,
            on_progress=on_progress,
            store=store,
            window=window,
            learner_name=learner_name,
            write=write,
            stories=stories,
            story_window=story_window,
            stop=stop,
        )
    )
