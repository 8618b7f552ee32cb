"""SSRF guard: schemes, private ranges, metadata endpoints, IPv4 hidden in IPv6, every resolved IP."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from newsdedup._exceptions import BlockedURL
from newsdedup._guard import blocked_reason, check_url, check_url_syntax


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "100.64.0.1", "169.254.10.10", "0.0.0.0",
        "224.0.0.1", "240.0.0.1", "255.255.255.255", "198.18.0.1", "::1", "::", "fe80::1", "fc00::1",
        "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1",
        "2002:7f00:0001::", "2002:c0a8:0101::1", "64:ff9b::a00:1", "2001:db8::1",
    ],
)  # fmt: skip
def test_private_addresses_blocked(ip: str) -> None:
    assert blocked_reason(ip) is not None
    assert blocked_reason(ip, allow_private=True) is None


@pytest.mark.parametrize(
    "ip", ["8.8.8.8", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8", "2002:0808:0808::"]
)
def test_public_addresses_pass(ip: str) -> None:
    assert blocked_reason(ip) is None


@pytest.mark.parametrize(
    "ip", ["169.254.169.254", "168.63.129.16", "100.100.100.200", "fd00:ec2::254", "::ffff:169.254.169.254"]
)
def test_metadata_blocked_even_when_private_allowed(ip: str) -> None:
    assert "metadata" in (blocked_reason(ip, allow_private=True) or "")


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/", "gopher://example.com/", "data:text/html,hi", "javascript:alert(1)",
     "http://", "http://user:pw@example.com/", "http://metadata.google.internal/computeMetadata/v1/", "http://[::1/"],
)  # fmt: skip
def test_bad_syntax_blocked(url: str) -> None:
    with pytest.raises(BlockedURL):
        check_url_syntax(url)


def test_literal_and_trailing_dot() -> None:
    with pytest.raises(BlockedURL, match="metadata"):
        asyncio.run(check_url("http://169.254.169.254./latest", allow_private=True))
    with pytest.raises(BlockedURL):
        asyncio.run(check_url("http://[::ffff:7f00:1]:8080/"))
    assert asyncio.run(check_url("http://127.0.0.1/", allow_private=True)) == ["127.0.0.1"]


def test_every_resolved_address_is_checked() -> None:
    async def resolver(host: str, port: int) -> Sequence[str]:
        return ["93.184.216.34", "10.0.0.5"]  # one public, one private: must be refused

    with pytest.raises(BlockedURL, match=r"10\.0\.0\.5"):
        asyncio.run(check_url("https://mixed.example/", resolver=resolver))

    async def public(host: str, port: int) -> Sequence[str]:
        return ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]

    assert len(asyncio.run(check_url("https://ok.example/", resolver=public))) == 2


def test_localhost_name_resolves_to_loopback() -> None:
    with pytest.raises(BlockedURL, match="non-public"):
        asyncio.run(check_url("http://localhost:9/"))
