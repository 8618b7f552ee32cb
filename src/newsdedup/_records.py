"""Input records: one JSONL line (or dict, or Article) to a clean :class:`Article` with an id.

Every way a record can be unusable has a short machine-readable ``reason`` that ends up in the
errors file: ``bad-encoding``, ``bad-json``, ``not-an-object``, ``missing-id``, ``bad-id``,
``missing-body``, ``bad-body``, ``extract-failed`` (or the extractor's own tag), ``empty-text``
(or the extractor's ``Article.reason``, e.g. ``no-main-text``).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import re
import sys
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, NamedTuple
from urllib.parse import urlsplit

from ._boilerplate import ascii_fold_lower
from ._exceptions import ExtractError, InputError
from ._models import Article, parse_datetime
from ._text import clean_text

__all__ = [
    "RawLine",
    "Record",
    "RecordError",
    "junk_page_reason",
    "parse_line",
    "record_from_mapping",
    "to_article",
]

logger = logging.getLogger("newsdedup")


class RecordError(InputError):
    """An input record cannot be used; ``reason`` is the tag written to the errors file."""

    def __init__(self, message: str, *, reason: str, line: int | None = None, id: str | None = None) -> None:
        super().__init__(message, line=line, id=id)
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword-only fields: rebuild explicitly (records cross process boundaries with --jobs)
        return (_record_error, (str(self), self.reason, self.line, self.id))


def _record_error(message: str, reason: str, line: int | None, id: str | None) -> RecordError:
    return RecordError(message, reason=reason, line=line, id=id)


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One raw input item, before extraction."""

    id: str
    html: str | bytes | None = None
    """A page as text or as the raw bytes a fetcher got (decoded by the extractor)."""
    text: str | None = None
    url: str | None = None
    title: str | None = None
    published: datetime | None = None
    site: str | None = None
    line: int | None = None
    content_type: str | None = None
    """The HTTP Content-Type ``html`` bytes came with (its charset guides decoding), if known."""


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def record_from_mapping(data: Mapping[str, Any], *, line: int | None = None) -> Record:
    """Validate a decoded JSON object (or a caller's dict) into a :class:`Record`."""
    if "id" not in data or data["id"] is None:
        raise RecordError("record has no id", reason="missing-id", line=line)
    rid = data["id"]
    if not isinstance(rid, str) or not rid.strip():
        raise RecordError(f"id must be a non-empty string, got {rid!r:.60}", reason="bad-id", line=line)
    html, text = data.get("html"), data.get("text")
    if html is None and text is None:
        raise RecordError("record has neither html nor text", reason="missing-body", line=line, id=rid)
    if html is not None and not isinstance(html, str | bytes):
        raise RecordError("html must be a string (or bytes)", reason="bad-body", line=line, id=rid)
    if text is not None and not isinstance(text, str):
        raise RecordError("text must be a string", reason="bad-body", line=line, id=rid)
    published = data.get("published")
    parsed = parse_datetime(published)
    if published not in (None, "") and parsed is None:
        logger.info("record %s: unparseable published %r ignored", rid, published)
    return Record(
        id=rid,
        html=html,
        text=text,
        url=_opt_str(data, "url"),
        title=_opt_str(data, "title"),
        published=parsed,
        site=_opt_str(data, "site"),
        line=line,
    )


def parse_line(raw: bytes | str, *, line: int | None = None) -> Record:
    """Parse one JSONL line; raise :class:`RecordError` with a reason when it is unusable."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordError(f"line is not UTF-8: {exc}", reason="bad-encoding", line=line) from None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise RecordError(f"invalid JSON: {exc}", reason="bad-json", line=line) from None
    if not isinstance(data, dict):
        raise RecordError("line is not a JSON object", reason="not-an-object", line=line)
    return record_from_mapping(data, line=line)


class RawLine(NamedTuple):
    """A JSONL line not parsed yet, with its 1-based number. The CLI reads these so that the
    JSON is decoded where the item is prepared (a worker process with ``--jobs``): the reading
    process then neither decodes it nor pickles the decoded record for the worker."""

    line: int
    raw: bytes

    def parse(self) -> Record:
        """:func:`parse_line` of the line (raises :class:`RecordError`)."""
        return parse_line(self.raw, line=self.line)


# Pages that are not articles but look alike across every host that serves them (bot
# challenges, consent and paywall walls, error pages): left in, they would form one giant
# cluster. Only short texts are checked, so a story that quotes such a phrase is not affected.
_JUNK_PAGE = re.compile(
    r"checking (?:if the site connection is secure|your browser)|enable (?:javascript|cookies)"
    r"|verify (?:that )?you are (?:a )?human|are you a robot|unusual traffic from your"
    r"|access (?:to this page has been )?denied|attention required|403 forbidden|404 not found"
    r"|page (?:you requested )?(?:was )?not (?:be )?found|subscribe (?:now )?to (?:continue|keep) reading"
    r"|this (?:content|article) is (?:only )?(?:available|for) (?:to )?subscribers"
    r"|we value your privacy|manage (?:your )?cookie (?:preferences|settings)",
    re.IGNORECASE,
)
_JUNK_PAGE_MAX_CHARS = 1200


def junk_page_reason(article: Article) -> str | None:
    """``"junk-page"`` when a short clean text is a bot challenge, consent/paywall wall or error
    page rather than an article; None otherwise."""
    text = article.text.strip()
    if len(text) > _JUNK_PAGE_MAX_CHARS:
        return None
    for part in (text, article.title or ""):
        low = ascii_fold_lower(part)
        if any(word in low for word in _JUNK_WORDS) and _JUNK_PAGE_FOLDED.search(low):
            return "junk-page"
    return None


# Every alternative of _JUNK_PAGE contains one of these words (lower case): a text without
# any of them cannot match, which spares the regex on almost every article.
_JUNK_WORDS = (
    "checking", "enable", "verify", "robot", "unusual", "denied", "attention", "forbidden",
    "found", "subscribe", "privacy", "cookie",
)  # fmt: skip

# _JUNK_PAGE without IGNORECASE, for ascii_fold_lower's output: the pattern is lower-case ASCII
# letters, digits and spaces, and a character matches one of those case-insensitively exactly
# when its ascii-folded lower case is that character, so both find the same texts (about 5x
# faster than the case-insensitive search).
_JUNK_PAGE_FOLDED = re.compile(_JUNK_PAGE.pattern)


def _site_of(url: str | None) -> str | None:
    if not url:
        return None
    host = urlsplit(url).hostname
    return host.lower().removeprefix("www.") if host else None


def to_article(item: Record | Mapping[str, Any] | Article) -> Article:
    """Turn any accepted item into a clean Article with ``id`` set (raises :class:`RecordError`).

    HTML goes through :func:`newsdedup.extract`, plain text through :func:`newsdedup.clean_text`;
    the record's own ``title``, ``published`` and ``site`` win over what the page says, because
    they come from the caller's feed metadata. A failing extractor never propagates: the item
    is reported as ``extract-failed``.
    """
    if isinstance(item, Article):
        if not item.id:
            raise RecordError("article has no id", reason="missing-id")
        if not item.text.strip():
            raise RecordError("article has no text", reason=item.reason or "empty-text", id=item.id)
        if item.site is None and item.url:
            return dataclasses.replace(item, site=_site_of(item.url))
        return item
    record = item if isinstance(item, Record) else record_from_mapping(item)
    try:
        if record.html is not None:
            # Imported here: the extractor is heavy and optional for text-only callers (and a
            # function-level import costs microseconds per call, too much for every text record).
            from ._extract import extract

            article = extract(record.html, url=record.url, content_type=record.content_type)
        else:
            assert record.text is not None
            article = clean_text(
                record.text,
                record.url,
                id=record.id,
                title=record.title,
                site=record.site,
                published=record.published,  # wins over the text's own date, as below
            )
    except ExtractError as exc:
        raise RecordError(str(exc), reason=exc.reason, line=record.line, id=record.id) from exc
    except Exception as exc:  # a third-party parser bug must not stop the run
        logger.warning("record %s: extraction failed", record.id, exc_info=True)
        raise RecordError(
            f"extraction failed: {type(exc).__name__}: {exc}",
            reason="extract-failed",
            line=record.line,
            id=record.id,
        ) from exc
    if not article.text.strip():
        raise RecordError(
            "no text after extraction", reason=article.reason or "empty-text", line=record.line, id=record.id
        )
    url = record.url or article.url
    site = record.site or article.site or _site_of(record.url)
    title = record.title or article.title
    published = record.published or article.published
    if (
        article.id is record.id
        and article.url is url
        and article.site is site
        and article.title is title
        and article.published is published
    ):
        return article  # the text path already set every field: skip rebuilding the Article
    return dataclasses.replace(article, id=record.id, url=url, site=site, title=title, published=published)


def read_lines(name: str) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, raw line) of a JSONL input: a path, a ``.gz`` path, or ``-`` for
    stdin. Any failure to open or read (missing file, broken gzip) raises :class:`InputError`
    after the lines read so far were yielded, so a caller keeps what it already processed."""
    try:
        if name == "-":
            stream: IO[bytes] = sys.stdin.buffer
        elif name.endswith(".gz"):
            stream = gzip.open(name, "rb")  # type: ignore[assignment]  # noqa: SIM115 - closed below
        else:
            stream = open(name, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from exc
    try:
        number = 0
        while True:
            try:
                raw = stream.readline()
            except (OSError, EOFError, zlib.error) as exc:
                raise InputError(f"cannot read {name}: after line {number}: {exc}") from exc
            if not raw:
                return
            number += 1
            yield number, raw
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
