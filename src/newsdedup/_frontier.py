"""The crawl's queue of URLs, one line per host.

A single first-in-first-out queue hands a worker whatever URL comes next, and a worker given a
URL of a host that must not be asked yet (a long ``Crawl-delay``, a backoff after errors)
sleeps on it: with enough such URLs queued, every worker sleeps while other hosts' pages wait
behind them. Here a worker is handed the next URL of a host that may be asked now, and a
host that may not is passed over until its turn comes, as Scrapy's per-domain download slots
do.
"""

from __future__ import annotations

import asyncio
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
        """Host -> its queued items; the dict's order is the hosts' turn order."""
        self._busy: Counter[str] = Counter()
        self._holding: set[int] = set()
        """``id()`` of the items handed out that still hold their host's slot."""
        self._unfinished = 0
        self._changed = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        """Items queued, not yet handed out."""
        return sum(len(line) for line in self._lines.values())

    def put_nowait(self, item: T) -> None:
        host = host_of(item.url)
        line = self._lines.get(host)
        if line is None:
            line = self._lines[host] = deque()
        line.append(item)
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
        soonest: float | None = None
        chosen = None
        for host, line in self._lines.items():
            if self._busy[host] >= self._per_host:
                continue
            wait = self._wait(line[0].url)
            if wait > 0:
                soonest = wait if soonest is None else min(soonest, wait)
                continue
            chosen = host
            break
        if chosen is None:
            return None, soonest
        line = self._lines.pop(chosen)
        item = line.popleft()
        if line:
            self._lines[chosen] = line  # to the back: the other hosts go first
        self._busy[chosen] += 1
        self._holding.add(id(item))
        return item, None
