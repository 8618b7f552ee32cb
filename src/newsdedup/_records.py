"""Input records: one JSONL line (or dict, or Article) to a clean :class:`Article` with an id.

Every way a record can be unusable has a short machine-readable ``reason`` that ends up in the
errors file: ``bad-encoding``, ``bad-json``, ``not-an-object``, ``missing-id``, ``bad-id``,
``missing-body``, ``bad-body``, ``extract-failed`` (or the extractor's own tag), ``empty-text``
(or the extractor's ``Article.reason``, e.g. ``no-main-text``), ``too-large`` (a JSONL line over
``max_line_bytes``, a page over the extractor's ``max_bytes``, a text over ``MAX_TEXT_CHARS``).
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import logging
import math
import re
import sys
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, NamedTuple

from ._boilerplate import ascii_fold_lower
from ._exceptions import ExtractError, InputError
from ._metadata import _host as _site_of  # a url's host without www.; None if it does not parse
from ._models import Article, Removal, parse_datetime
from ._text import clean_text, replace_surrogates, scrub_text

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
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
    """An optional text field: a string, a number taken as its text (a title "1984"), or None.
    Anything else (an object, a list, true) is ignored with a log line: as ``str()`` it became
    a title "{'a': 1}" and a url and site "True" in the output."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return replace_surrogates(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return str(value)
    logger.info("record %r: %s is not a string (%s), ignored", data.get("id"), key, type(value).__name__)
    return None


def record_from_mapping(data: Mapping[str, Any], *, line: int | None = None) -> Record:
    """Validate a decoded JSON object (or a caller's dict) into a :class:`Record`."""
    if "id" not in data or data["id"] is None:
        raise RecordError("record has no id", reason="missing-id", line=line)
    rid = data["id"]
    if not isinstance(rid, str) or not rid.strip():
        raise RecordError(f"id must be a non-empty string, got {rid!r:.60}", reason="bad-id", line=line)
    if replace_surrogates(rid) is not rid:
        # an id is a key: two ids repaired alike would be taken for one item
        raise RecordError(f"id holds a lone surrogate: {rid!r:.60}", reason="bad-id", line=line)
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
    except (ValueError, RecursionError) as exc:
        # ValueError: JSONDecodeError, and an integer of more than 4,300 digits, which Python
        # refuses to convert (a line the decoder read to its end, but no record either)
        raise RecordError(f"invalid JSON: {exc}", reason="bad-json", line=line) from None
    if not isinstance(data, dict):
        raise RecordError("line is not a JSON object", reason="not-an-object", line=line)
    return record_from_mapping(data, line=line)


class RawLine(NamedTuple):
    """A JSONL line not parsed yet, with its 1-based number. The CLI reads these so that the
    JSON is decoded where the item is prepared (a worker process with ``--jobs``): the reading
    process then neither decodes it nor pickles the decoded record for the worker."""

    line: int
    raw: bytes | None
    """None: the line was over the reader's ``max_line_bytes`` and was not read."""

    def parse(self) -> Record:
        """:func:`parse_line` of the line (raises :class:`RecordError`)."""
        if self.raw is None:
            raise RecordError(
                "line too long: over the reader's max_line_bytes", reason="too-large", line=self.line
            )
        return parse_line(self.raw, line=self.line)


# Pages that are not articles but look alike across every host that serves them (bot
# challenges, consent and paywall walls, error pages): left in, they would form one giant
# cluster. Only short texts are checked, so a story that mentions such a phrase is not affected,
# and a phrase right after an opening quotation mark is a quotation, not the page speaking, so
# a short story that quotes one from its start is not affected either. Among the families:
# Cloudflare ("Verifying you are human. This may take a few seconds.", "<host> needs to review
# the security of your connection", "Ray ID: <16 hex digits>", "Performance & security by
# Cloudflare"), DataDome ("Please enable JS and disable any ad blocker"), PerimeterX / HUMAN
# ("Press & Hold to confirm you are a human", "We believe you are using automation tools"),
# paywall stubs ("This content is available exclusively to subscribers", "You have reached your
# limit of free articles", "Already a subscriber? Log in"). A video or comments player's
# "Please enable JavaScript to watch this video" left in a short story is not such a page.
_JUNK_PAGE = re.compile(
    "(?<![\"'\u201c\u2018\u201e\u201a\u00ab\u2039])(?:"
    r"checking (?:if the site connection is secure|your browser)|enable (?:javascript|cookies)"
    r"(?!,? (?:and consider upgrading|to (?:watch|view|play|hear) (?:this|the) (?:video|comments|audio)))"
    r"|verify (?:that )?you are (?:a )?human|are you a robot|unusual traffic from your"
    r"|verifying (?:that )?you are (?:a )?human\.?\s+this may take a few seconds"
    r"|needs to review the security of your connection|performance (?:&|and) security by cloudflare"
    r"|ray id:? ?[0-9a-f]{16}\b|please enable js and disable any ad ?blocker"
    r"|press (?:&|and) hold to confirm you are (?:a )?human|we believe you are using automation tools"
    r"|access (?:to this page has been )?denied|attention required|403 forbidden|404 not found"
    r"|page (?:you requested )?(?:was )?not (?:be )?found|subscribe (?:now )?to (?:continue|keep) reading"
    r"|this (?:content|article|story) is (?:only |exclusively )?(?:available|for) (?:exclusively |only )?"
    r"(?:to |for )?(?:paying )?subscribers"
    r"|you(?:'|\u2019| ha)ve reached your (?:monthly )?(?:limit of (?:\d+ )?free (?:articles|stories)"
    r"|free (?:article|story) limit)|already a subscriber\?? ?(?:log|sign) ?in"
    r"|we value your privacy|manage (?:your )?cookie (?:preferences|settings))",
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
    "found", "subscribe", "privacy", "cookie", "security", "ray id", "hold to confirm",
    "automation", "reached",
)  # fmt: skip

# _JUNK_PAGE without IGNORECASE, for ascii_fold_lower's output: the pattern is lower-case ASCII
# letters, digits, spaces and punctuation (and "[0-9a-f]", "\s", "\d", and quotation marks
# that have no case), and a character matches one of those case-insensitively exactly when its
# ascii-folded lower case is that character, so both find the same texts (about 5x faster than
# the case-insensitive search).
_JUNK_PAGE_FOLDED = re.compile(_JUNK_PAGE.pattern)


def check_items(items: object, what: str = "items") -> None:
    """Raise TypeError for one item (or one URL) passed where an iterable of them is expected:
    iterating a dict, a str or bytes gives its keys or characters, each a useless item, and
    the call would return nothing instead of failing."""
    if isinstance(items, str | bytes | Mapping | Record | Article):
        raise TypeError(
            f"{what} must be an iterable, not one {type(items).__name__}: pass [{what[:-1] or 'item'}]"
        )


_ARTICLE_STRINGS = ("url", "canonical_url", "site", "lang", "wire", "description", "reason")


def _article_problem(article: Article) -> tuple[str, str] | None:
    """(reason, message) when a caller's Article holds a field of the wrong type: the dataclass
    does not check, and a string ``published`` once raised out of the middle of a batch (its
    earlier items recorded, never verified)."""
    if not isinstance(article.id, str):
        return "bad-id", f"id must be a non-empty string, got {article.id!r:.60}"
    if not isinstance(article.text, str):
        return "bad-body", f"text must be a string, got {type(article.text).__name__}"
    if not isinstance(article.title, str):
        return "bad-field", f"title must be a string, got {type(article.title).__name__}"
    for name in _ARTICLE_STRINGS:
        value = getattr(article, name)
        if value is not None and not isinstance(value, str):
            return "bad-field", f"{name} must be a string or None, got {type(value).__name__}"
    if article.published is not None and not isinstance(article.published, datetime):
        return "bad-field", f"published must be a datetime or None, got {type(article.published).__name__}"
    if not isinstance(article.authors, tuple | list) or not all(isinstance(a, str) for a in article.authors):
        return "bad-field", "authors must be a tuple of strings"
    if not isinstance(article.removed, tuple | list) or not all(
        isinstance(r, Removal) for r in article.removed
    ):
        return "bad-field", "removed must be a tuple of Removal"
    return None


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
        problem = _article_problem(item)
        if problem is not None:
            reason, message = problem
            raise RecordError(message, reason=reason, id=item.id if isinstance(item.id, str) else None)
        if replace_surrogates(item.id) is not item.id:
            raise RecordError(f"id holds a lone surrogate: {item.id!r:.60}", reason="bad-id", id=item.id)
        text = scrub_text(item.text)
        if text is not item.text:
            item = dataclasses.replace(item, text=text)
        if not item.text.strip():
            raise RecordError("article has no text", reason=item.reason or "empty-text", id=item.id)
        if item.site is None and item.url:
            return dataclasses.replace(item, site=_site_of(item.url))
        return item
    if not isinstance(item, Record | Mapping):
        raise RecordError(
            f"an item is a mapping, a Record or an Article, not {type(item).__name__}", reason="not-an-object"
        )
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
        message = (
            "over the size limit, not read" if article.reason == "too-large" else "no text after extraction"
        )
        raise RecordError(message, reason=article.reason or "empty-text", line=record.line, id=record.id)
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


DEFAULT_MAX_LINE_BYTES = 128 * 1024 * 1024
"""JSONL lines longer than this are not read (``too-large``): above a page at the extractor's
``max_bytes`` (20 million characters) even at six bytes a character (``\\uXXXX`` escapes)."""

_BLOCK = 1 << 20
_SPACE_RUN = re.compile(rb"[ \t\r\n\x0b\x0c]+")  # what bytes.isspace() calls space: one tight loop


def read_lines(
    name: str, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[tuple[int, bytes | None]]:
    """(1-based line number, raw line) of each non-blank line of a JSONL input: a path, a gzip
    file, or ``-`` for stdin. Gzip is recognised by its first bytes (``1f 8b``), so stdin and a
    ``FILE.JSONL.GZ`` or ``.gzip`` are decompressed too; a name ending in ``.gz`` (any case)
    must hold gzip. A UTF-8 byte order mark at the very start is dropped (Windows tools write
    one), not taken for part of line 1. A line over ``max_line_bytes`` comes as None, read and
    dropped a block at a time, so a damaged or hostile input (a gzip bomb without newlines)
    reads in bounded memory; a run of blank lines is passed over at memory speed. Any failure
    to open or read (missing file, broken gzip) raises :class:`InputError` after the lines read
    so far were yielded, so a caller keeps what it already processed."""
    try:
        source: IO[bytes] = sys.stdin.buffer if name == "-" else open(name, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from exc
    stream = source
    try:
        try:
            magic, stream = _peek(source, len(_GZIP_MAGIC))
            if magic == _GZIP_MAGIC or name.lower().endswith(".gz"):
                stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
            bom, stream = _peek(stream, len(_UTF8_BOM))
            if bom == _UTF8_BOM:
                stream.read(len(_UTF8_BOM))
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"cannot read {name}: {exc}") from exc
        yield from _lines(stream, name, max_line_bytes)
    finally:
        if stream is not source:
            stream.close()  # a wrapper: leaves ``source`` open
        if source is not sys.stdin.buffer:
            source.close()


_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"


def _peek(stream: IO[bytes], size: int) -> tuple[bytes, IO[bytes]]:
    """The first ``size`` bytes of ``stream`` (fewer at its end) and a stream that still starts
    with them: ``stream`` itself when it can peek that far (a file), else a wrapper that hands
    them out first (a pipe whose first write was shorter, a stream without ``peek``)."""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        ahead = peek(size)
        if len(ahead) >= size:
            return ahead[:size], stream
    head = b""
    while len(head) < size:
        chunk = stream.read(size - len(head))
        if not chunk:
            break
        head += chunk
    return head, io.BufferedReader(_Prefixed(head, stream), _BLOCK)


class _Prefixed(io.RawIOBase):
    """``head``, then the rest of ``stream``: what :func:`_peek` read, put back. Closing it
    leaves ``stream`` open (its opener closes it)."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        super().__init__()
        self._head = head
        self._read = getattr(stream, "read1", stream.read)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._read(len(view))
        view[: len(data)] = data
        return len(data)


def _lines(stream: IO[bytes], name: str, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """:func:`read_lines` over an open stream. Blocks come from ``read1`` (what one read of the
    file or the decompressor gives): a pipe's lines are handed on as they arrive, and a broken
    gzip loses at most the block that failed."""
    number = 0
    block, pos = b"", 0
    head: list[bytes] = []  # the start of a line that runs past its block
    held = 0  # bytes of the current line in earlier blocks
    over = False  # in a line over the limit: dropped up to its newline
    read = getattr(stream, "read1", stream.read)
    while True:
        end = block.find(b"\n", pos)
        if end < 0:
            if pos < len(block) and not over:
                held += len(block) - pos
                if held > limit:
                    head, over = [], True
                else:
                    head.append(block[pos:])
            try:
                block, pos = read(_BLOCK), 0
            except (OSError, EOFError, zlib.error) as exc:
                raise InputError(f"cannot read {name}: after line {number}: {exc}") from exc
            if not block:  # the end: a last line without a newline
                if over or head:
                    line = None if over else b"".join(head)
                    if line is None or not line.isspace():
                        yield number + 1, line
                return
            continue
        number += 1
        if over or held + end + 1 - pos > limit:
            yield number, None
        else:
            line = block[pos : end + 1]
            if head:
                line = b"".join((*head, line))
            if not line.isspace():
                yield number, line
            else:  # the blank lines after this one, up to the last newline of the space run
                space = _SPACE_RUN.match(block, end + 1)
                last = block.rfind(b"\n", end + 1, space.end()) if space is not None else -1
                if last >= 0:
                    number += block.count(b"\n", end + 1, last + 1)
                    end = last
        head, held, over = [], 0, False
        pos = end + 1
