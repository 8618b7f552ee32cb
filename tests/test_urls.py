"""URL normalisation: one article, one key, however it was linked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsdedup._urls import host_of, is_http_url, join_url, normalize_url, same_site, site_of


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://WWW.Example.COM:80/a/b", "http://www.example.com/a/b"),
        ("https://example.com:443/", "https://example.com/"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/story#comments", "https://example.com/story"),
        ("https://example.com/s?utm_source=rss&utm_medium=feed&id=7", "https://example.com/s?id=7"),
        (
            "https://example.com/s?fbclid=abc&gclid=x&mc_cid=1&mc_eid=2&ref=tw&cmpid=9",
            "https://example.com/s",
        ),
        ("https://example.com/s?b=2&a=1&a=0", "https://example.com/s?a=0&a=1&b=2"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/caf%C3%A9", "https://example.com/caf%C3%A9"),
        ("https://example.com/café", "https://example.com/caf%C3%A9"),
        ("https://example.com/a%2Fb", "https://example.com/a%2Fb"),
        ("https://example.com/s?q=a+b", "https://example.com/s?q=a%20b"),  # form encoding: + is a space
        ("https://example.com./x", "https://example.com/x"),
        ("  https://example.com/x  ", "https://example.com/x"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize_url(raw) == expected


def test_spellings_of_one_article_collapse() -> None:
    spellings = [
        "https://News.Example.com/world/2026/11/20/story?utm_source=twitter",
        "https://news.example.com:443/world/2026/11/20/story#top",
        "https://news.example.com/world/2026/11/20/./story?fbclid=IwAR0",
    ]
    assert len({normalize_url(u) for u in spellings}) == 1


def test_non_http_left_alone_and_options() -> None:
    assert normalize_url("mailto:x@example.com") == "mailto:x@example.com"
    assert (
        normalize_url("https://e.com/a?utm_source=x", strip_tracking=False) == "https://e.com/a?utm_source=x"
    )
    assert normalize_url("https://e.com/a#p2", keep_fragment=True) == "https://e.com/a#p2"


@given(st.text(alphabet="abcXYZ019-._~%/?&=#:+ ", max_size=40))
def test_normalize_is_idempotent(path: str) -> None:
    once = normalize_url("https://Example.com/" + path)
    assert normalize_url(once) == once


def test_helpers() -> None:
    assert is_http_url("https://a.example/x")
    assert not is_http_url("ftp://a.example/x")
    assert not is_http_url("/rel")
    assert join_url("https://a.example/news/", "../x") == "https://a.example/x"
    assert join_url("https://a.example/", "javascript:void(0)") is None
    assert join_url("https://a.example/", "file:///etc/passwd") is None
    assert host_of("http://Example.com:8080/x") == "example.com:8080"
    assert host_of("https://example.com:443/x") == "example.com"
    assert site_of("https://www.example.com/x") == "example.com"
    assert same_site("https://www.example.com/a", "https://example.com/b")
    assert not same_site("https://example.com/a", "https://example.org/a")


@pytest.mark.parametrize(
    "raw", ["http://ex.com:8080x/", "https://news.example:99999/story", "https://news.example:-1/story"]
)
def test_a_url_whose_port_does_not_parse_is_returned_unchanged(raw: str) -> None:
    """``http://ex.com:8080x/`` came back as ``http://ex.com/``: dropping the bad port made
    another, valid URL (port 80, maybe another server) out of one that cannot be fetched. It
    is left alone, as other URLs that do not parse are."""
    assert normalize_url(raw) == raw
    assert normalize_url(f"  {raw} ") == raw
    assert host_of(raw) == ""
