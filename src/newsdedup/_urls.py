"""URL normalisation, so one article reached through many links is fetched once.

Feeds, sitemaps and homepages point at the same story with different spellings: upper-case
hosts, ``:80``, ``#comments``, ``?utm_source=rss``. :func:`normalize_url` maps those spellings to
one key; the crawler keeps a visited set of keys. Only changes that cannot alter the resource a
well-behaved server returns are made (tracking parameters are the one judgement call, and the
list is explicit).
"""

from __future__ import annotations

import contextlib
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

__all__ = [
    "TRACKING_PARAMS",
    "TRACKING_PREFIXES",
    "host_of",
    "is_http_url",
    "join_url",
    "normalize_url",
    "same_site",
    "site_of",
]

TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "mtm_", "hsa_", "__hs", "_hs")
"""Query parameters starting with one of these are analytics tags, not content selectors."""

TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "igshid", "ttclid",
        "mc_cid", "mc_eid", "ref", "ref_src", "ref_url", "referrer", "cmpid", "cmp", "icid",
        "ncid", "ocid", "smid", "sr_share", "soc_src", "soc_trk", "share", "_ga", "_gl",
        "spm", "scid", "wt.mc_id", "s_cid", "rss", "feed", "from", "src", "mbid", "at_medium",
        "at_campaign", "guccounter", "guce_referrer", "guce_referrer_sig", "oly_enc_id",
        "oly_anon_id", "vero_id", "__twitter_impression", "cid", "ito", "xtor",
    }
)  # fmt: skip
"""Exact (lower-cased) query parameter names dropped by :func:`normalize_url`."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters left unescaped in paths: RFC 3986 unreserved + sub-delims + ':' '@' '/' and '%'.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def is_http_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


def _normalise_path(path: str) -> str:
    if not path:
        return "/"
    # Resolve "." and ".." segments the way a browser would, without touching encoded bytes.
    segments: list[str] = []
    for segment in path.split("/")[1:] if path.startswith("/") else path.split("/"):
        if segment == ".":
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    if path.endswith(("/.", "/..")):
        segments.append("")
    out = "/" + "/".join(segments)
    # Re-quote consistently: decode then encode only what must be encoded. %2F stays encoded.
    return quote(unquote(out.replace("%2F", "\x00").replace("%2f", "\x00")), safe=_PATH_SAFE).replace(
        "%00", "%2F"
    )


def normalize_url(url: str, *, strip_tracking: bool = True, keep_fragment: bool = False) -> str:
    """Canonical spelling of ``url`` (idempotent); a non-http(s) URL, or one that does not
    parse (``http://[::1``, a port that is not a number from 0 to 65535 such as ``:8080x``),
    is returned stripped only.

    Lower-cases scheme and host, removes default ports, empty query and fragment, resolves dot
    segments, drops tracking parameters and sorts the remaining query (stable for repeats). A
    bad port is not dropped: that would turn the URL into another, valid one (another server).
    """
    raw = url.strip()
    try:
        parts = urlsplit(raw)
    except ValueError:
        return raw
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return raw
    host = parts.hostname.rstrip(".").lower()
    if not host.isascii():
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return raw
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    if parts.username or parts.password:
        userinfo = parts.username or ""
        if parts.password:
            userinfo += ":" + parts.password
        netloc = f"{userinfo}@{netloc}"
    path = _normalise_path(parts.path)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if strip_tracking:
        pairs = [(k, v) for k, v in pairs if not _is_tracking(k)]
    query = urlencode(sorted(pairs), quote_via=quote, safe="/:@!$'()*,;~") if pairs else ""
    fragment = parts.fragment if keep_fragment else ""
    return urlunsplit((scheme, netloc, path, query, fragment))


def join_url(base: str | None, href: str) -> str | None:
    """Resolve ``href`` against ``base``; None when the result is not an http(s) URL."""
    href = href.strip()
    if not href or href.startswith(("#", "javascript:", "mailto:", "tel:", "data:")):
        return None
    try:
        absolute = urljoin(base, href) if base else href
    except ValueError:
        return None
    return absolute if is_http_url(absolute) else None


def host_of(url: str) -> str:
    """Lower-case host of ``url`` with the port (``example.com:8080``); "" if unparsable."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port
    except ValueError:
        return ""
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        return f"{host}:{port}"
    return host


def site_of(url: str) -> str:
    """Short publisher name for output: host without ``www.`` (and without port)."""
    host = host_of(url).split(":")[0] if "[" not in host_of(url) else host_of(url)
    return host[4:] if host.startswith("www.") else host


def same_site(a: str, b: str) -> bool:
    """True when both URLs are on the same host, ignoring a leading ``www.``.

    Deliberately strict (no public-suffix list): article links found on a homepage are only
    followed within the publisher's own host, which keeps the crawl bounded.
    """
    ha, hb = host_of(a), host_of(b)
    if ha.startswith("www."):
        ha = ha[4:]
    if hb.startswith("www."):
        hb = hb[4:]
    return bool(ha) and ha == hb
