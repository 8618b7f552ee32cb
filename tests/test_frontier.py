"""The crawl's per-host queue: hosts take turns, a busy or waiting host is passed over."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from newsdedup._frontier import Frontier


@dataclass(frozen=True)
class Item:
    url: str


def items(*urls: str) -> list[Item]:
    return [Item(u) for u in urls]


def test_hosts_take_turns_and_keep_their_own_order() -> None:
    async def go() -> list[str]:
        q: Frontier[Item] = Frontier(per_host=10, wait=lambda url: 0.0)
        for it in items(
            "http://a.test/1", "http://a.test/2", "http://a.test/3", "http://b.test/1", "http://c.test:81/1"
        ):
            q.put_nowait(it)
        out = []
        for _ in range(5):
            it = await q.get()
            out.append(it.url)
            q.task_done(it)
        await asyncio.wait_for(q.join(), 1)
        return out

    assert asyncio.run(go()) == [
        "http://a.test/1", "http://b.test/1", "http://c.test:81/1", "http://a.test/2", "http://a.test/3",
    ]  # fmt: skip


def test_a_host_with_all_its_slots_in_flight_is_passed_over_until_one_is_done() -> None:
    async def go() -> list[str]:
        q: Frontier[Item] = Frontier(per_host=1, wait=lambda url: 0.0)
        for it in items("http://a.test/1", "http://a.test/2", "http://b.test/1"):
            q.put_nowait(it)
        first = await q.get()
        second = await q.get()  # a.test is busy: b.test's item, not a.test/2
        third = asyncio.ensure_future(q.get())
        await asyncio.sleep(0.05)
        assert not third.done()  # both hosts busy (b.test has nothing left; a.test has no slot)
        q.task_done(first)
        got = await asyncio.wait_for(third, 1)
        assert len(q) == 0
        joined = asyncio.ensure_future(q.join())
        await asyncio.sleep(0.01)
        assert not joined.done()  # two items still in flight
        q.task_done(second)
        q.task_done(got)
        await asyncio.wait_for(joined, 1)
        return [first.url, second.url, got.url]

    assert asyncio.run(go()) == ["http://a.test/1", "http://b.test/1", "http://a.test/2"]


def test_a_waiting_host_is_handed_out_when_its_turn_comes() -> None:
    """``wait`` says a.test may be asked again in 0.2 s: b.test goes first, and a getter that
    finds nothing else wakes up by itself when a.test's turn comes (no put or done needed)."""

    async def go() -> tuple[list[str], float]:
        loop = asyncio.get_running_loop()
        ready_at = loop.time() + 0.2

        def wait(url: str) -> float:
            return max(0.0, ready_at - loop.time()) if "a.test" in url else 0.0

        q: Frontier[Item] = Frontier(per_host=2, wait=wait)
        for it in items("http://a.test/1", "http://b.test/1"):
            q.put_nowait(it)
        started = loop.time()
        first = await q.get()
        second = await q.get()
        return [first.url, second.url], loop.time() - started

    order, waited = asyncio.run(go())
    assert order == ["http://b.test/1", "http://a.test/1"]
    assert waited >= 0.19


def test_a_released_item_frees_its_host_before_it_is_done() -> None:
    """The crawler releases an item once its fetch is over: the host's next URL is handed out
    while the first page is still being extracted; done later, it is not released twice."""

    async def go() -> list[str]:
        q: Frontier[Item] = Frontier(per_host=1, wait=lambda url: 0.0)
        for it in items("http://a.test/1", "http://a.test/2", "http://a.test/3"):
            q.put_nowait(it)
        first = await q.get()
        q.release(first)
        second = await asyncio.wait_for(q.get(), 1)
        q.task_done(first)  # already released: a.test still has second in flight
        third = asyncio.ensure_future(q.get())
        await asyncio.sleep(0.05)
        assert not third.done()
        q.task_done(second)
        got = await asyncio.wait_for(third, 1)
        q.task_done(got)
        await asyncio.wait_for(q.join(), 1)
        return [first.url, second.url, got.url]

    assert asyncio.run(go()) == ["http://a.test/1", "http://a.test/2", "http://a.test/3"]


def test_a_hand_out_does_not_look_at_every_waiting_host() -> None:
    """2,000 hosts waiting out a long delay and one host ready with 300 URLs: each waiting host
    is asked about once, not once per hand-out (a broad crawl has thousands of hosts queued)."""
    asked = 0

    def wait(url: str) -> float:
        nonlocal asked
        asked += 1
        return 0.0 if "ready.test" in url else 60.0

    async def go() -> list[str]:
        q: Frontier[Item] = Frontier(per_host=1000, wait=wait)
        for n in range(2000):
            q.put_nowait(Item(f"http://h{n}.test/"))
        for n in range(300):
            q.put_nowait(Item(f"http://ready.test/{n}"))
        out = []
        for _ in range(300):
            it = await asyncio.wait_for(q.get(), 1)
            out.append(it.url)
        assert len(q) == 2000
        return out

    assert asyncio.run(go()) == [f"http://ready.test/{n}" for n in range(300)]
    assert asked < 2000 + 2 * 300


def test_a_host_whose_wait_grew_meanwhile_is_asked_again_not_handed_out_early() -> None:
    """A host's wait is asked again when its turn comes: a backoff set meanwhile (a failure on
    another of its URLs) keeps it waiting."""

    async def go() -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        ready_at = {"a.test": loop.time() + 0.05}

        def wait(url: str) -> float:
            return max(0.0, ready_at["a.test"] - loop.time())

        q: Frontier[Item] = Frontier(per_host=2, wait=wait)
        q.put_nowait(Item("http://a.test/1"))
        started = loop.time()
        getter = asyncio.ensure_future(q.get())
        await asyncio.sleep(0.01)
        ready_at["a.test"] = loop.time() + 0.3  # a backoff
        it = await asyncio.wait_for(getter, 2)
        return it.url, loop.time() - started

    url, waited = asyncio.run(go())
    assert url == "http://a.test/1"
    assert waited >= 0.29
