"""The newsdedup exception hierarchy.

Every error the library raises on purpose derives from :class:`NewsdedupError`, so a caller can
guard a whole run with one ``except`` clause and still tell failures apart by kind::

    NewsdedupError
    ├── ConfigError (also ValueError)       bad parameter; the message names it
    ├── MissingDependency (also ImportError) an optional extra is not installed
    ├── RuleError                           a publisher rule file is malformed
    ├── InputError                          an input record cannot be used (bad JSON, no id, ...)
    ├── ExtractError                        a page could not be turned into an article
    ├── FetchError                          anything that went wrong getting a URL
    │   ├── BlockedURL                      refused before sending (scheme, private address)
    │   ├── RobotsDisallowed                robots.txt forbids the URL
    │   ├── RobotsUnreachable               robots.txt answered 5xx / could not be fetched
    │   ├── FetchTimeout                    connect, read or total deadline exceeded
    │   ├── ConnectError                    connection refused, reset, DNS failure
    │   │   ├── DNSError                        the host name did not resolve
    │   │   ├── TLSError                        the server's certificate did not verify
    │   │   └── TruncatedResponse               the connection closed before the whole body came
    │   ├── TooManyRedirects                hop limit or redirect loop
    │   ├── HTTPStatusError                 final status is not 2xx
    │   ├── ResponseTooLarge                body (after decompression) over the cap
    │   ├── DecodingError                   broken or too deeply chained content coding
    │   └── UnsupportedContent              not HTML, XML or a feed
    ├── FeedError                           a feed or sitemap cannot be parsed
    ├── DedupError                          misuse of the deduplicator
    └── StoreError                          the state store cannot be used
        ├── StoreBusy                       another process holds the lock
        ├── StoreCorrupt                    not a newsdedup store, or damaged
        ├── StoreNotEmpty                   a copy's target already holds state
        └── StoreSchemaError                written by a newer version
"""

from __future__ import annotations

import math
from typing import TypeGuard

__all__ = [
    "BlockedURL",
    "ConfigError",
    "ConnectError",
    "DNSError",
    "DecodingError",
    "DedupError",
    "ExtractError",
    "FeedError",
    "FetchError",
    "FetchTimeout",
    "HTTPStatusError",
    "InputError",
    "MissingDependency",
    "NewsdedupError",
    "ResponseTooLarge",
    "RobotsDisallowed",
    "RobotsUnreachable",
    "RuleError",
    "StoreBusy",
    "StoreCorrupt",
    "StoreError",
    "StoreNotEmpty",
    "StoreSchemaError",
    "TLSError",
    "TooManyRedirects",
    "UnsupportedContent",
]


class NewsdedupError(Exception):
    """Root of every error newsdedup raises on purpose."""


class ConfigError(NewsdedupError, ValueError):
    """A parameter is out of range or inconsistent; the message names the parameter."""


def finite_number(value: object) -> TypeGuard[int | float]:
    """True for an int or float (not a bool) that is a finite float: the config classes require
    it of every number, because a NaN threshold compares False with everything and silently
    turns its check off, and infinity (or an int too large for a float) breaks the arithmetic
    a setting feeds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


class MissingDependency(NewsdedupError, ImportError):
    """An optional extra is needed; the message says which ``pip install`` fixes it."""


class RuleError(NewsdedupError):
    """A publisher rule entry is malformed (bad regex, unknown key, missing name)."""


class InputError(NewsdedupError):
    """An input record cannot be used: bad JSON, no ``id``, neither ``html`` nor ``text``."""

    def __init__(self, message: str, *, line: int | None = None, id: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.id = id


class ExtractError(NewsdedupError):
    """A page could not be turned into an article; ``reason`` is a short machine-readable tag."""

    def __init__(self, message: str, *, reason: str = "extract-failed", url: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.url = url


class FetchError(NewsdedupError):
    """Getting a URL failed; ``retryable`` tells the retry policy whether to try again."""

    retryable: bool = False
    kind: str = "fetch-error"
    max_attempts: int | None = None
    """Attempts at most for this kind of failure (None: ``FetchConfig.max_attempts``)."""

    def __init__(self, message: str, *, url: str | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.url = url
        self.attempts = attempts


class BlockedURL(FetchError):
    kind = "blocked-url"


class RobotsDisallowed(FetchError):
    kind = "robots-disallowed"


class RobotsUnreachable(FetchError):
    kind = "robots-unreachable"


class FetchTimeout(FetchError):
    kind = "timeout"
    retryable = True


class ConnectError(FetchError):
    kind = "connect-error"
    retryable = True


class DNSError(ConnectError):
    """The host name did not resolve (no such name, or the resolver failed): retried as any
    connection failure, and reported before robots.txt is asked (which would fail the same way)."""

    kind = "dns-error"


class TLSError(ConnectError):
    """The server's certificate did not verify (expired, self-signed, issued for another host):
    not retried, and never retried without verification or over plain http."""

    kind = "tls-error"
    retryable = False


class TruncatedResponse(ConnectError):
    """The connection closed before the whole body came (fewer bytes than its
    ``Content-Length``, or a chunked body without its last chunk): data loss, never kept as a
    page. Retried once; a server that cuts the same body twice is left for a later run."""

    kind = "truncated-response"
    max_attempts = 2


class TooManyRedirects(FetchError):
    """A redirect loop or more hops than allowed; ``chain`` is every URL the fetch went through,
    the requested one first and the target it refused to follow last."""

    kind = "too-many-redirects"

    def __init__(
        self, message: str, *, url: str | None = None, attempts: int = 1, chain: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, url=url, attempts=attempts)
        self.chain = chain


class HTTPStatusError(FetchError):
    kind = "http-status"

    def __init__(self, message: str, *, url: str | None = None, attempts: int = 1, status: int = 0) -> None:
        super().__init__(message, url=url, attempts=attempts)
        self.status = status
        self.retryable = status in (408, 425, 429, 500, 502, 503, 504, 522, 524)


class ResponseTooLarge(FetchError):
    kind = "too-large"


class DecodingError(FetchError):
    kind = "decoding-error"


class UnsupportedContent(FetchError):
    """Not a page, feed or sitemap: a binary content type, a body that sniffs as binary, or a
    content coding the fetcher does not decode. For a body refused after it was read,
    ``head_sha256`` is the SHA-256 of its first 1 KiB (also in the message, with those bytes'
    start), to tell one misconfigured server's repeated answer from many files."""

    kind = "unsupported-content"
    head_sha256: str | None = None


class FeedError(NewsdedupError):
    """A feed or sitemap could not be parsed at all (a partly broken one yields what it can)."""


class DedupError(NewsdedupError):
    """The deduplicator was misused (for example items with conflicting settings)."""


class StoreError(NewsdedupError):
    """The state store cannot be opened, read or written."""


class StoreBusy(StoreError):
    """Another process holds the store's write lock longer than the busy timeout."""


class StoreCorrupt(StoreError):
    """The file is not a newsdedup store or is damaged; it is never overwritten."""


class StoreNotEmpty(StoreError):
    """The target of a copy (:func:`newsdedup.copy_store`) already holds state or is bound to
    another configuration; it is left as it was unless the copy is told to replace it."""


class StoreSchemaError(StoreError):
    """The store was written by a newer newsdedup with an unknown schema version."""
