"""The store as the fetcher's conditional-GET cache: a second run (new Fetcher, store reopened)
revalidates with the stored ETag / Last-Modified and rebuilds the page from the store on 304."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from newsdedup._fetch import FetchConfig, Fetcher
from newsdedup._store import open_store
from servers import LocalServer, Response, article_html

PAGE = article_html(
    "Ferry service resumes after repairs",
    [
        "The island ferry resumed sailings on Monday after three weeks of engine repairs at the mainland yard.",
        "Operators said the timetable would return to normal once a second vessel passes inspection.",
    ],
)


def _config() -> FetchConfig:
    return FetchConfig(allow_private=True, per_host_delay=0.0, total_timeout=3.0, read_timeout=2.0,
                       connect_timeout=2.0, max_attempts=1)  # fmt: skip


async def _fetch(cache: Any, url: str) -> Any:
    async with Fetcher(_config(), cache=cache) as fetcher:
        return await fetcher.fetch(url)


def test_conditional_get_survives_a_restart(tmp_path: Path) -> None:
    def handler(req: Any) -> Response:
        if req.headers.get("if-none-match") == '"v7"':
            return Response(304, b"", content_type=None, headers={"ETag": '"v7"'})
        return Response(body=PAGE, headers={"ETag": '"v7"', "Last-Modified": "Mon, 07 Oct 2024 07:00:00 GMT"})

    with LocalServer() as srv:
        srv.route("/ferry", handler)
        url = srv.url("/ferry")
        store = open_store(tmp_path / "state.db")
        first = asyncio.run(_fetch(store.fetch_cache(), url))
        store.close()
        assert not first.from_cache

        store = open_store(tmp_path / "state.db")  # a later run
        second = asyncio.run(_fetch(store.fetch_cache(), url))
        store.close()
    assert second.from_cache
    assert second.status == 200
    assert second.body == first.body
    assert srv.requests[-1].headers["if-none-match"] == '"v7"'


@pytest.mark.parametrize("size", [0, 64 * 1024 * 1024])
def test_entries_without_validators_or_too_large_are_not_stored(tmp_path: Path, size: int) -> None:
    store = open_store(tmp_path / "state.db", fetch_cache_max_bytes=1024)
    cache = store.fetch_cache()
    body = b"x" * (2048 if size else 10)
    cache.put("https://a.example/", etag='"e"' if size else None, last_modified=None, body=body)
    assert cache.get("https://a.example/") is None
    store.close()
