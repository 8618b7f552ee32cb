"""Plain-text input: recover title, date and paragraphs from a text export, then apply the rules.

Text exports carry no markup, so structure has to be read from the lines: a ``" date
YYYY-MM-DD "`` header (optionally followed on the same line by the title, or directly by the
body), a headline line, one paragraph per non-empty line. The same publisher rules as for HTML
then run line by line (:func:`newsdedup._boilerplate.clean_blocks`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timezone

from ._boilerplate import BoilerplateLearner, RuleSet, _clean, _title_like, site_of
from ._models import Article

__all__ = ["clean_text"]

# " date 2024-10-17 Title or body..." on the first line of an export.
_DATE_HEADER = re.compile(
    r"^\s*date[:\s]\s*(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?P<tz>Z|[+-]\d{2}:?\d{2})?)?(?:\s+(?P<rest>.*))?$",
    re.IGNORECASE,
)


def clean_text(
    text: str,
    url: str | None = None,
    *,
    id: str | None = None,
    title: str | None = None,
    site: str | None = None,
    published: datetime | None = None,
    rules: RuleSet | None = None,
    learner: BoilerplateLearner | None = None,
) -> Article:
    """Turn a plain-text export into a clean :class:`Article` (``source_format="text"``).

    Values passed in (``title``, ``published``, ``site``) win over what is recovered from the
    text. A header date without a time becomes midnight UTC of that day.
    """
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [ln for ln in lines if ln]
    site = site or site_of(url)
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
            if len(lines) >= 1 and _title_like(rest):
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
        return day.replace(tzinfo=timezone(sign * offset))
    return day.replace(tzinfo=UTC)
