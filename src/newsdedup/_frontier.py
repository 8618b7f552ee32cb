"""The crawl's queue of URLs, one line per host.

A single first-in-first-out queue hands a worker whatever URL comes next, and a worker given a
URL of a host that must not be asked yet (a long ``Crawl-delay``, a backoff after errors)
sleeps on it: with enough such URLs queued, every worker sleeps while other hosts' pages wait
behind them. Here a worker is handed the next URL of a host that may be asked now, and a
host that may not is passed over until its turn comes, as Scrapy's per-domain download slots
do. A hand-out costs O(log hosts), not a look at every host: a broad crawl keeps thousands of
hosts queued, most of them waiting out their politeness delay at any moment.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from ._urls import host_of


class _HasURL(Protocol):
    @property
    def url(self) -> str: ...


T = TypeVar("T", bound=_HasURL)


class Frontier(Generic[T]):
    """URLs to crawl, handed out host by host.

    A host's URL is handed out when fewer than ``per_host`` of that host's URLs are in flight
    and ``wait(url)`` (seconds until the host may be asked again: its politeness delay or
    ``Crawl-delay`` since its last request started, or a backoff after failures; see
    :meth:`newsdedup.Fetcher.host_wait`) is 0. Hosts take turns in the order they first came;
    each host's URLs keep the order they were put in. Used like :class:`asyncio.Queue`, except
    that :meth:`task_done` takes the item that is done. An item holds one of its host's slots
    from :meth:`get` until :meth:`release` (when its fetch is over: what follows, such as
    extraction, does not load the host) or :meth:`task_done`.
    """

    def __init__(self, *, per_host: int, wait: Callable[[str], float]) -> None:
        self._per_host = per_host
        self._wait = wait
        self._lines: dict[str, deque[T]] = {}
        """Host -> its queued items (hosts with none are dropped)."""
        # each host of ``_lines`` is in exactly one of: the hosts to try next, in turn order;
        # those waiting, by the time their wait ends; those with every slot in flight
        self._ready: deque[str] = deque()
        self._waiting: list[tuple[float, int, str]] = []
        self._full: set[str] = set()
        self._turns = 0  # ties in the waiting heap: the host that waited first
        self._queued = 0
        self._busy: Counter[str] = Counter()
        self._holding: set[int] = set()
        """``id()`` of the items handed out that still hold their host's slot."""
        self._unfinished = 0
        self._changed = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        """Items queued, not yet handed out."""
        return self._queued

    def put_nowait(self, item: T) -> None:
        host = host_of(item.url)
        line = self._lines.get(host)
        if line is None:
            line = self._lines[host] = deque()
            self._ready.append(host)
        line.append(item)
        self._queued += 1
        self._unfinished += 1
        self._idle.clear()
        self._changed.set()

    async def get(self) -> T:
        """The next item of a host that may be asked now; waits until there is one."""
        while True:
            item, wait = self._take()
            if item is not None:
                return item
            self._changed.clear()
            try:
                # woken by a new item or a freed slot, or when the soonest host's turn comes
                async with asyncio.timeout(wait):
                    await self._changed.wait()
            except TimeoutError:
                pass

    def release(self, item: T) -> None:
        """The item's request is over: its host's slot is free for the next of its URLs."""
        if id(item) not in self._holding:
            return
        self._holding.discard(id(item))
        host = host_of(item.url)
        self._busy[host] -= 1
        if self._busy[host] <= 0:
            del self._busy[host]
        if host in self._full:
            self._full.discard(host)
            self._ready.appendleft(host)  # passed over while full: its turn is now
        self._changed.set()

    def task_done(self, item: T) -> None:
        self.release(item)
        self._unfinished -= 1
        if self._unfinished <= 0:
            self._idle.set()
        self._changed.set()

    async def join(self) -> None:
        """Until every item put in was handed out and marked done."""
        await self._idle.wait()

    def _take(self) -> tuple[T | None, float | None]:
        """(the item to hand out, None), or (None, seconds until a waiting host's turn: None
        when every host with queued items has all its slots in flight)."""
        now = time.monotonic()
        due = []
        while self._waiting and self._waiting[0][0] <= now:
            due.append(heapq.heappop(self._waiting)[2])
        self._ready.extendleft(reversed(due))  # passed over while waiting: their turn is now
        while self._ready:
            host = self._ready.popleft()
            line = self._lines[host]
            if self._busy[host] >= self._per_host:
                self._full.add(host)
                continue
            wait = self._wait(line[0].url)
            if wait > 0:
                self._turns += 1
                heapq.heappush(self._waiting, (now + wait, self._turns, host))
                continue
            item = line.popleft()
            self._queued -= 1
            self._busy[host] += 1
            self._holding.add(id(item))
            if not line:
                del self._lines[host]
            elif self._busy[host] >= self._per_host:
                self._full.add(host)
            else:
                self._ready.append(host)  # to the back: the other hosts go first
            return item, None
        if not self._waiting:
            return None, None
        return None, max(0.0, self._waiting[0][0] - now)
