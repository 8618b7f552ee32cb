"""Plain-text input: recover title, date and paragraphs from a text export, then apply the rules.

Text exports carry no markup, so structure has to be read from the lines: a ``" date
YYYY-MM-DD "`` header (optionally followed on the same line by the title, or directly by the
body), a headline line, one paragraph per non-empty line. The same publisher rules as for HTML
then run line by line (:func:`newsdedup._boilerplate.clean_blocks`).

:func:`scrub_text` is the character hygiene both inputs share (the extractor applies it to the
text it keeps).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timezone

from ._boilerplate import BoilerplateLearner, RuleSet, _clean, _leads_as_title, check_rules, site_of
from ._decode import decode_bytes, looks_binary
from ._models import Article

__all__ = ["MAX_TEXT_CHARS", "clean_text", "drop_invisible", "replace_surrogates", "scrub_text"]

MAX_TEXT_CHARS = 20_000_000
"""Texts longer than this are not cleaned (``reason="too-large"``); the extractor's default
``max_bytes`` is the same limit."""

# C0 controls but tab, newline and carriage return, and DEL: deleted (NUL breaks C strings and
# PostgreSQL text; the others are invisible and split words); vertical tab and form feed end a
# line, as a page break does in a text export.
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_CONTROLS = dict.fromkeys(_CONTROL_BYTES) | {0x0B: "\n", 0x0C: "\n"}
# Invisible characters that split words (soft hyphen, zero-width space, word joiner, a stray
# BOM) and the bidirectional embedding, override and isolate controls, which reorder how the
# text around them is shown (a text can be made to display other words than it holds).
_INVISIBLE_CHARS = "\u00ad\u200b\u2060\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_INVISIBLE = dict.fromkeys(map(ord, _INVISIBLE_CHARS))
_SURROGATE = re.compile("[\ud800-\udfff]")


def scrub_text(text: str) -> str:
    """``text`` without the characters no clean text should carry: lone surrogates become
    U+FFFD (:func:`replace_surrogates`); C0 controls but tab, newline and carriage return, DEL,
    invisible word splitters and bidirectional controls are dropped. About a microsecond for a
    clean ASCII page of a few kilobytes (one encode and one translate), a few more when it is
    not ASCII."""
    text = replace_surrogates(text)
    data = text.encode("utf-8")
    if len(data.translate(None, _CONTROL_BYTES)) != len(data):
        text = text.translate(_CONTROLS)
    return drop_invisible(text)


def replace_surrogates(text: str) -> str:
    """``text`` with each lone surrogate (from a JSON ``"\\ud800"`` escape or a caller's
    ``str``) as U+FFFD: no encoder takes one, so the output, the spill file and every hash
    would fail on it. The same object when there is none."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def drop_invisible(text: str) -> str:
    """``text`` without invisible word splitters and bidirectional controls (see
    :func:`scrub_text`); a substring search per character, faster than a regex pass."""
    if not text.isascii() and any(c in text for c in _INVISIBLE_CHARS):
        return text.translate(_INVISIBLE)
    return text


# " date 2024-10-17 Title or body..." on the first line of an export.
_DATE_HEADER = re.compile(
    r"^\s*date[:\s]\s*(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?P<tz>Z|[+-]\d{2}:?\d{2})?)?(?:\s+(?P<rest>.*))?$",
    re.IGNORECASE,
)


def clean_text(
    text: str | bytes,
    url: str | None = None,
    *,
    id: str | None = None,
    title: str | None = None,
    site: str | None = None,
    published: datetime | None = None,
    rules: RuleSet | None = None,
    learner: BoilerplateLearner | None = None,
    max_chars: int = MAX_TEXT_CHARS,
) -> Article:
    """Turn a plain-text export into a clean :class:`Article` (``source_format="text"``).

    Values passed in (``title``, ``published``, ``site``) win over what is recovered from the
    text. A header date without a time becomes midnight UTC of that day. The text and title are
    scrubbed first (:func:`scrub_text`); a text over ``max_chars`` characters is not cleaned
    (``reason="too-large"``). Bytes (a file as read) are decoded as :func:`extract` decodes a
    page, their encoding detected; a binary file (gzip, PDF, image) is ``reason="binary"``, and
    over ``max_chars`` bytes ``"too-large"``.
    """
    if not isinstance(text, str | bytes | bytearray | memoryview):
        raise TypeError(f"clean_text() needs str or bytes, not {type(text).__name__}")
    for name, value in (("url", url), ("id", id), ("title", title), ("site", site)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a str or None, not {type(value).__name__}")
    if published is not None and not isinstance(published, datetime):
        raise TypeError(f"published must be a datetime or None, not {type(published).__name__}")
    if not isinstance(max_chars, int) or isinstance(max_chars, bool):
        raise TypeError(f"max_chars must be an int, not {type(max_chars).__name__}")
    check_rules(rules, learner)
    site = site or site_of(url)
    reason: str | None = None
    if not isinstance(text, str):
        data = bytes(text)
        reason = "too-large" if len(data) > max_chars else ("binary" if looks_binary(data) else None)
        text = "" if reason else decode_bytes(data).text  # never more characters than bytes
    elif len(text) > max_chars:
        reason = "too-large"
    if reason is not None:
        return Article(id=id, url=url, site=site, title=scrub_text(title or ""), published=published,
                       reason=reason, source_format="text")  # fmt: skip
    text = scrub_text(text)
    if title:
        title = scrub_text(title)
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [ln for ln in lines if ln]
    if not lines:
        return Article(id=id, url=url, site=site, title=title or "", published=published,
                       reason="empty-input", source_format="text")  # fmt: skip

    header_date: datetime | None = None
    header_title = ""
    match = _DATE_HEADER.match(lines[0])
    if match:
        header_date = _header_datetime(match)
    if match and header_date is not None:
        rest = (match.group("rest") or "").strip()
        lines.pop(0)
        if rest:
            if len(lines) >= 1 and _leads_as_title(rest, lines[0]):
                header_title = rest
            else:
                lines.insert(0, rest)

    given_title = (title or "").strip() or header_title
    result = _clean(
        lines,
        url=url,
        title=given_title,
        authors=(),
        hints=(),
        rules=rules,
        learner=learner,
        site=site,
        text_mode=True,
    )
    body = "\n\n".join(result.blocks)
    return Article(
        id=id,
        url=url,
        site=site,
        title=given_title or result.title,
        text=body,
        published=published or header_date or result.published,
        wire=result.wire,
        removed=tuple(result.removed),
        reason=None if body else "no-main-text",
        source_format="text",
    )


def _header_datetime(match: re.Match[str]) -> datetime | None:
    try:
        day = datetime.strptime(match.group("date"), "%Y-%m-%d")
    except ValueError:
        return None
    clock = match.group("time")
    if clock:
        parts = [int(p) for p in clock.split(":")]
        try:
            day = day.replace(hour=parts[0], minute=parts[1], second=parts[2] if len(parts) > 2 else 0)
        except ValueError:
            return None
    zone = match.group("tz")
    if zone and zone.upper() != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        from datetime import timedelta

        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4]))
        try:
            return day.replace(tzinfo=timezone(sign * offset))
        except ValueError:  # an offset of 24 hours or more ("+25:00"): no date, as a bad day
            return None
    return day.replace(tzinfo=UTC)
