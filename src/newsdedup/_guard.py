"""SSRF guard: refuse URLs that would make the crawler talk to the wrong machine.

Feed items, sitemap ``<loc>`` entries and redirect ``Location`` headers are chosen by whoever
wrote them, so a hostile feed could point the crawler at ``http://169.254.169.254/`` (cloud
credentials) or at a database on the loopback interface. Every hop is checked: the scheme must
be http(s) and **every** address the name resolves to must be public. Addresses that smuggle an
IPv4 address inside IPv6 (mapped, compatible, 6to4, NAT64, Teredo) are checked as that IPv4
address too. Cloud metadata endpoints stay blocked even when private networks are allowed.

:func:`check_url` returns the addresses it approved. The fetcher connects only to those (it
never resolves the name again), so a DNS server that answers "public" to the check and
"loopback" a moment later (DNS rebinding) cannot redirect the connection; see
``_fetch._PinnedBackend`` and docs/security.md.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from ._exceptions import BlockedURL

__all__ = ["ALLOWED_SCHEMES", "METADATA_ADDRESSES", "blocked_reason", "check_url", "check_url_syntax"]

ALLOWED_SCHEMES: frozenset[str] = frozenset({"http", "https"})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure IMDS, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.169.123",  # AWS time sync
        "168.63.129.16",  # Azure wireserver (a public address!)
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS IMDS over IPv6
    )
)
"""Always refused, even with ``allow_private=True``: nothing legitimate is served there."""

_METADATA_HOSTS: frozenset[str] = frozenset(
    {"metadata.google.internal", "metadata", "metadata.azure.internal", "instance-data"}
)

_BLOCKED_V4: tuple[ipaddress.IPv4Network, ...] = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "255.255.255.255/32",
    )
)  # fmt: skip
_BLOCKED_V6: tuple[ipaddress.IPv6Network, ...] = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/128", "::1/128", "64:ff9b:1::/48",
        "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7", "fe80::/10",
        "fec0::/10", "ff00::/8",
    )
)  # fmt: skip
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]


def _embedded_v4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses carried inside an IPv6 address (each one must pass the v4 check)."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    packed = ip.packed
    if packed[:12] == b"\x00" * 12 and packed[12:] != b"\x00\x00\x00\x00":  # IPv4-compatible
        found.append(ipaddress.IPv4Address(packed[12:]))
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(packed[12:]))
    return found


def blocked_reason(ip: IPAddress | str, *, allow_private: bool = False) -> str | None:
    """Why ``ip`` must not be contacted, or None when it is fine."""
    addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id:
        addr = ipaddress.IPv6Address(str(addr).split("%", 1)[0])
    candidates: list[IPAddress] = [addr]
    if isinstance(addr, ipaddress.IPv6Address):
        candidates.extend(_embedded_v4(addr))
    for cand in candidates:
        if cand in METADATA_ADDRESSES:
            return f"cloud metadata address {cand}"
    if allow_private:
        return None
    for cand in candidates:
        if isinstance(cand, ipaddress.IPv4Address):
            for net in _BLOCKED_V4:
                if cand in net:
                    return f"non-public address {cand} ({net})"
        else:
            for net6 in _BLOCKED_V6:
                if cand in net6:
                    return f"non-public address {cand} ({net6})"
        if not cand.is_global:
            return f"non-public address {cand}"
    return None


def check_url_syntax(url: str) -> tuple[str, str, int]:
    """Validate scheme and host of ``url``; return ``(scheme, host, port)`` or raise BlockedURL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedURL(f"malformed URL: {exc}", url=url) from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedURL(f"scheme {scheme or '(none)'!r} is not allowed (http and https only)", url=url)
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise BlockedURL("URL has no host", url=url)
    if host in _METADATA_HOSTS:
        raise BlockedURL(f"cloud metadata host {host!r}", url=url)
    if parts.username or parts.password:
        raise BlockedURL("credentials in URLs are not sent", url=url)
    return scheme, host, port if port is not None else (443 if scheme == "https" else 80)


async def _default_resolver(host: str, port: int) -> Sequence[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def check_url(url: str, *, allow_private: bool = False, resolver: Resolver | None = None) -> list[str]:
    """Raise :class:`BlockedURL` unless ``url`` is http(s) and every resolved address is allowed.

    Returns the resolved addresses. Resolution failures are *not* raised here: the connection
    attempt will fail the same way and be reported as a connect error.
    """
    _scheme, host, port = check_url_syntax(url)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        reason = blocked_reason(literal, allow_private=allow_private)
        if reason:
            raise BlockedURL(reason, url=url)
        return [str(literal)]
    try:
        addresses = list(await (resolver or _default_resolver)(host, port))
    except (OSError, UnicodeError):
        return []
    for address in addresses:
        reason = blocked_reason(address, allow_private=allow_private)
        if reason:
            raise BlockedURL(f"{host} resolves to {reason}", url=url)
    return addresses
