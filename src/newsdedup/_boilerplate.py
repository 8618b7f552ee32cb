"""Publisher boilerplate rules (data-driven) and the learned per-site boilerplate.

Site junk (newsletter boxes, copyright footers, "Trending" lists, tracking codes) makes unrelated
stories look alike and syndicated copies look different, so it must go before hashing. Known
publishers are described as data in ``data/publishers.toml`` (one entry per publisher, one
fixture per entry); sites without an entry are handled by the ``generic`` entry and by
:class:`BoilerplateLearner`, which finds lines that repeat across many pages of one site.

Rule kinds, in the order they are applied to a page's blocks (paragraphs or lines):

* ``trailing_markers``: from the first matching block on, everything is cut (footers);
* ``lead_markers``: matched at the start of the body and cut (headers, "(MENAFN)" prefixes);
* ``line_patterns``: any matching block is cut;
* ``inline_patterns``: the matching substring is cut inside a block (tracking codes);
* ``selectors``: CSS selectors the HTML extractor removes before scoring (see :func:`dom_selectors`).

Then come a few structural rules written in code (a repeat of the title, a date line under the
title, an image alt line under the title, a teaser that repeats the body), the learned lines,
and wire detection (:mod:`newsdedup._wire`).
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import html as html_lib
import logging
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._exceptions import ConfigError, RuleError
from ._models import Removal
from ._wire import detect_wire

__all__ = [
    "BoilerplateLearner",
    "CleanResult",
    "Pattern",
    "PublisherRule",
    "RuleSet",
    "clean_blocks",
    "dom_selectors",
    "parse_date_line",
]

logger = logging.getLogger("newsdedup")

GENERIC = "generic"
"""The entry applied to every page."""

_ENTRY_KEYS = frozenset(
    {
        "name",
        "description",
        "hosts",
        "signatures",
        "lead_markers",
        "trailing_markers",
        "line_patterns",
        "inline_patterns",
        "selectors",
        "always",
        "max_block_chars",
    }
)
_PATTERN_KEYS = frozenset({"pattern", "label", "max_len"})
_TOP_KEYS = frozenset({"version", "publisher"})
_KIND_LABEL = {
    "lead_markers": "lead",
    "trailing_markers": "trailing",
    "line_patterns": "line",
    "inline_patterns": "inline",
}
_DEFAULT_MAX_BLOCK = 500
_WINDOW = 8  # lead / trailing markers may span this many consecutive blocks
_HEAD = 6  # date lines are metadata only among the first blocks, before the story starts
_SHORT = 200  # Removal.text is shortened to about this many characters
_HTML_SCAN = 2_000_000  # characters of HTML scanned for signatures


@dataclass(frozen=True, slots=True)
class Pattern:
    """One compiled rule pattern with the label used in ``Removal.rule`` ("<entry>:<label>")."""

    regex: re.Pattern[str]
    label: str
    max_len: int | None = None
    """Blocks longer than this are never cut by this pattern (None: no limit)."""
    first: frozenset[str] | None = None
    """For a start-anchored pattern, the ASCII characters a match can begin with (None: any)."""

    def may_match(self, block: str) -> bool:
        """Cheap exact pre-check: False only when the pattern cannot match at the block's start.

        Most rule patterns are anchored at the start of a block, so a block whose first
        character cannot begin a match is skipped without running the regex; this is most of
        the rule stage's time on ordinary paragraphs. Non-ASCII first characters always run the
        regex (case folding maps some of them, e.g. the Kelvin sign, onto ASCII letters).
        """
        if self.max_len is not None and len(block) > self.max_len:
            return False
        first = self.first
        return first is None or not block or not block[0].isascii() or block[0] in first


def _first_chars(regex: re.Pattern[str]) -> frozenset[str] | None:
    """The ASCII characters a match of a start-anchored (``^``/``\\A``) pattern can begin with.

    None whenever that cannot be told for sure (multiline, unanchored, optional first item,
    classes with categories, non-ASCII, scoped flags), so the pre-check never skips a match.
    """
    from re import _constants as sre_c
    from re import _parser as sre_parse

    if regex.flags & re.MULTILINE:
        return None
    try:
        items = list(sre_parse.parse(regex.pattern, regex.flags & ~re.UNICODE))
    except Exception:  # the private parser changed: go without the pre-check
        return None
    if (
        not items
        or items[0][0] is not sre_c.AT
        or items[0][1]
        not in (
            sre_c.AT_BEGINNING,
            sre_c.AT_BEGINNING_STRING,
        )
    ):
        return None
    chars = _first_of(items[1:], sre_c)
    if chars is None or not all(c.isascii() for c in chars):
        return None
    if regex.flags & re.IGNORECASE:
        chars = {c.lower() for c in chars} | {c.upper() for c in chars}
    return frozenset(chars)


def _first_of(items: list[Any], sre_c: Any) -> set[str] | None:
    if not items:
        return None
    op, av = items[0]
    if op is sre_c.LITERAL:
        return {chr(av)}
    if op is sre_c.IN:
        out: set[str] = set()
        for item_op, item_av in av:
            if item_op is sre_c.LITERAL:
                out.add(chr(item_av))
            elif item_op is sre_c.RANGE and item_av[1] < 128:
                out.update(chr(c) for c in range(item_av[0], item_av[1] + 1))
            else:
                return None
        return out
    if op is sre_c.BRANCH:
        out = set()
        for alternative in av[1]:
            chars = _first_of(list(alternative), sre_c)
            if chars is None:
                return None
            out |= chars
        return out
    if op is sre_c.SUBPATTERN:
        if av[1] or av[2]:  # scoped flags change how the group matches
            return None
        return _first_of(list(av[3]), sre_c)
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT) and av[0] >= 1:
        return _first_of(list(av[2]), sre_c)
    return None


@dataclass(frozen=True, slots=True)
class PublisherRule:
    """One entry of the rule file: how to recognise a publisher and what to cut from its pages."""

    name: str
    description: str = ""
    hosts: tuple[str, ...] = ()
    signatures: tuple[re.Pattern[str], ...] = ()
    lead_markers: tuple[Pattern, ...] = ()
    trailing_markers: tuple[Pattern, ...] = ()
    line_patterns: tuple[Pattern, ...] = ()
    inline_patterns: tuple[Pattern, ...] = ()
    selectors: tuple[str, ...] = ()
    always: bool = False
    """Applied to every page (the ``generic`` entry always is)."""

    def matches_host(self, host: str) -> bool:
        """True when the host (or the host without ``www.``) matches one of the glob patterns."""
        bare = host.removeprefix("www.")
        return any(fnmatch.fnmatchcase(h, pat) for pat in self.hosts for h in (host, bare))

    def matches_text(self, text: str) -> bool:
        return any(sig.search(text) for sig in self.signatures)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PublisherRule:
        """Validate and compile one entry; every problem raises :class:`RuleError` naming it."""
        if not isinstance(data, Mapping):
            raise RuleError(f"publisher entry must be a table, got {type(data).__name__}")
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise RuleError("publisher entry without a 'name'")
        name = name.strip()
        unknown = sorted(set(data) - _ENTRY_KEYS)
        if unknown:
            raise RuleError(f"entry {name!r}: unknown key(s) {', '.join(unknown)}")
        max_block = data.get("max_block_chars", _DEFAULT_MAX_BLOCK)
        if not isinstance(max_block, int) or isinstance(max_block, bool) or max_block <= 0:
            raise RuleError(f"entry {name!r}: 'max_block_chars' must be a positive integer")
        always = data.get("always", name == GENERIC)
        if not isinstance(always, bool):
            raise RuleError(f"entry {name!r}: 'always' must be true or false")
        description = data.get("description", "")
        if not isinstance(description, str):
            raise RuleError(f"entry {name!r}: 'description' must be a string")
        hosts = tuple(h.lower() for h in _strings(name, "hosts", data.get("hosts", ())))
        for host in hosts:
            if "/" in host or ":" in host or " " in host:
                raise RuleError(f"entry {name!r}: host pattern {host!r} must be a bare host name glob")
        selectors = _strings(name, "selectors", data.get("selectors", ()))
        for selector in selectors:
            _check_selector(name, selector)
        signatures = tuple(
            _compile(name, "signatures", s, re.MULTILINE)
            for s in _strings(name, "signatures", data.get("signatures", ()))
        )
        compiled: dict[str, tuple[Pattern, ...]] = {}
        for kind, label in _KIND_LABEL.items():
            # Markers are matched on a window of consecutive blocks joined by "\n": MULTILINE lets
            # "$" end a line inside that window. Line and inline patterns see one block.
            flags = re.MULTILINE if kind in ("lead_markers", "trailing_markers") else 0
            default_len = None if kind in ("lead_markers", "inline_patterns") else max_block
            compiled[kind] = tuple(
                _pattern(name, kind, item, label, flags, default_len) for item in _items(name, kind, data)
            )
        return cls(
            name=name,
            description=description,
            hosts=hosts,
            signatures=signatures,
            selectors=selectors,
            always=always,
            **compiled,
        )


def _strings(name: str, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise RuleError(f"entry {name!r}: {key!r} must be a list of strings")
    for item in value:
        if not isinstance(item, str) or not item:
            raise RuleError(f"entry {name!r}: {key!r} must hold non-empty strings, got {item!r}")
    return tuple(value)


def _items(name: str, key: str, data: Mapping[str, Any]) -> list[Any]:
    value = data.get(key, ())
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise RuleError(f"entry {name!r}: {key!r} must be a list")
    return list(value)


def _compile(name: str, key: str, source: str, flags: int) -> re.Pattern[str]:
    try:
        regex = re.compile(source, flags)
    except re.error as exc:
        raise RuleError(f"entry {name!r}: bad regex in {key!r}: {source!r}: {exc}") from exc
    if regex.match("") is not None and key != "inline_patterns":
        raise RuleError(f"entry {name!r}: regex in {key!r} matches the empty string: {source!r}")
    if key == "inline_patterns" and regex.search("") is not None:
        raise RuleError(f"entry {name!r}: regex in {key!r} matches the empty string: {source!r}")
    return regex


def _pattern(name: str, key: str, item: Any, label: str, flags: int, default_len: int | None) -> Pattern:
    if isinstance(item, str):
        regex = _compile(name, key, item, flags)
        return Pattern(regex, label, default_len, _first_chars(regex))
    if not isinstance(item, Mapping):
        raise RuleError(f"entry {name!r}: {key!r} items must be strings or tables")
    unknown = sorted(set(item) - _PATTERN_KEYS)
    if unknown:
        raise RuleError(f"entry {name!r}: unknown key(s) {', '.join(unknown)} in {key!r}")
    source = item.get("pattern")
    if not isinstance(source, str) or not source:
        raise RuleError(f"entry {name!r}: {key!r} table without a 'pattern'")
    item_label = item.get("label", label)
    if not isinstance(item_label, str) or not re.fullmatch(r"[\w.-]+", item_label):
        raise RuleError(f"entry {name!r}: label {item_label!r} in {key!r} must be a short word")
    max_len = item.get("max_len", default_len)
    if max_len is not None and (not isinstance(max_len, int) or isinstance(max_len, bool) or max_len <= 0):
        raise RuleError(f"entry {name!r}: 'max_len' in {key!r} must be a positive integer")
    regex = _compile(name, key, source, flags)
    return Pattern(regex, item_label, max_len, _first_chars(regex))


def _check_selector(name: str, selector: str) -> None:
    from selectolax.lexbor import LexborHTMLParser, SelectolaxError

    try:
        LexborHTMLParser("<p></p>").css(selector)
    except (SelectolaxError, ValueError) as exc:
        raise RuleError(f"entry {name!r}: bad CSS selector {selector!r}: {exc}") from exc


class RuleSet:
    """An ordered, immutable collection of publisher entries.

    ``RuleSet.default()`` is the bundled file, loaded once. ``extend`` returns a new set in which
    entries with the same name replace the old ones and new names are appended, so a user can add
    or fix a publisher without touching the shared default.
    """

    __slots__ = ("_by_name", "_entries")

    def __init__(self, entries: Iterable[PublisherRule] = ()) -> None:
        items = tuple(entries)
        by_name: dict[str, PublisherRule] = {}
        for entry in items:
            if not isinstance(entry, PublisherRule):
                raise RuleError(f"RuleSet holds PublisherRule objects, got {type(entry).__name__}")
            if entry.name in by_name:
                raise RuleError(f"entry {entry.name!r} appears twice")
            by_name[entry.name] = entry
        self._entries = items
        self._by_name = by_name

    @classmethod
    def default(cls) -> RuleSet:
        """The bundled ``publishers.toml`` (parsed once per process and shared)."""
        return _default_rules()

    @classmethod
    def from_toml(cls, text: str, *, source: str = "<string>") -> RuleSet:
        """Parse a rule file's text (``[[publisher]]`` tables)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RuleError(f"{source}: not valid TOML: {exc}") from exc
        return cls.from_dict(data, source=source)

    @classmethod
    def from_file(cls, path: str | Path) -> RuleSet:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise RuleError(f"cannot read rule file {path}: {exc.strerror or exc}") from exc
        return cls.from_toml(text, source=str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<dict>") -> RuleSet:
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise RuleError(f"{source}: unknown top-level key(s) {', '.join(unknown)}")
        version = data.get("version", 1)
        if version != 1:
            raise RuleError(f"{source}: unsupported rule file version {version!r}")
        entries = data.get("publisher", [])
        if not isinstance(entries, list):
            raise RuleError(f"{source}: 'publisher' must be an array of tables ([[publisher]])")
        return cls(PublisherRule.from_dict(e) for e in entries)

    def extend(self, *others: RuleSet | PublisherRule | Iterable[PublisherRule]) -> RuleSet:
        """A new RuleSet: same-named entries replaced in place, new ones appended."""
        merged = dict(self._by_name)
        for other in others:
            items = (other,) if isinstance(other, PublisherRule) else tuple(other)
            for entry in items:
                if not isinstance(entry, PublisherRule):
                    raise RuleError(f"cannot add {type(entry).__name__} to a RuleSet")
                merged[entry.name] = entry
        return RuleSet(merged.values())

    merge = extend

    def __or__(self, other: RuleSet) -> RuleSet:
        return self.extend(other)

    @property
    def entries(self) -> tuple[PublisherRule, ...]:
        return self._entries

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self._entries)

    def get(self, name: str) -> PublisherRule | None:
        return self._by_name.get(name)

    def __getitem__(self, name: str) -> PublisherRule:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Any:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"RuleSet({', '.join(self.names)})"

    def match(self, url: str | None, text: str | Callable[[], str] | None = None) -> list[PublisherRule]:
        """The entries that apply to a page: host matches, else signature matches, then ``always`` ones.

        Signatures are tried when the URL is unknown or its host matches no entry (a MENAFN item
        republished by another site still carries MENAFN's markers). ``text`` may be a callable so
        the page text is only built when needed.
        """
        host = site_of(url)
        specific: list[PublisherRule] = []
        if host:
            specific = [e for e in self._entries if not e.always and e.hosts and e.matches_host(host)]
        if not specific and text is not None:
            body = text() if callable(text) else text
            if body:
                specific = [
                    e for e in self._entries if not e.always and e.signatures and e.matches_text(body)
                ]
        always = [e for e in self._entries if e.always]
        return specific + always


@functools.cache
def _default_rules() -> RuleSet:
    source = resources.files("newsdedup").joinpath("data/publishers.toml")
    return RuleSet.from_toml(source.read_text(encoding="utf-8"), source="newsdedup/data/publishers.toml")


def site_of(url: str | None) -> str | None:
    """Lower-case host of a URL without ``www.``, or None."""
    if not url:
        return None
    try:
        host = urlsplit(url if "//" in url else "//" + url).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host.rstrip(".").removeprefix("www.")


_TAGS = re.compile(r"<[^>]*>")
_SCRIPTS = re.compile(r"(?is)<(script|style|noscript)\b.*?</\1\s*>")


def dom_selectors(url: str | None, html: str, *, rules: RuleSet | None = None) -> list[str]:
    """CSS selectors of the entries that match this page, for the extractor to remove first.

    Entries match by the URL's host; only when the URL is unknown are the entries' text
    signatures searched in the page's visible text. Selectors describe a publisher's own
    template, so a copy republished on another host (which the text rules still recognise by
    signature) does not get them.
    """
    rules = rules if rules is not None else RuleSet.default()

    def page_text() -> str:
        head = _SCRIPTS.sub(" ", html[:_HTML_SCAN])
        return html_lib.unescape(_TAGS.sub("\n", head))

    seen: dict[str, None] = {}
    for entry in rules.match(url, None if site_of(url) else page_text):
        for selector in entry.selectors:
            seen.setdefault(selector, None)
    return list(seen)


@dataclass(frozen=True, slots=True)
class CleanResult:
    """The kept blocks, every cut with its rule, the wire agency, and recovered metadata."""

    blocks: list[str]
    removed: list[Removal] = field(default_factory=list)
    wire: str | None = None
    published: datetime | None = None
    """From a date line under the title (cut from the body), when there was one."""
    title: str = ""
    """The title line recovered from the blocks (plain-text path only), else ""."""
    publishers: tuple[str, ...] = ()
    """Names of the rule entries that applied (``generic`` included)."""


# ----------------------------------------------------------------------------------------------
# Text helpers

_WS = re.compile(r"\s+")
_TERMINAL = ".!?…;:,"
_CLOSERS = "\"'”’»)]"


def _clean_ws(text: str) -> str:
    return _WS.sub(" ", text.replace("\u00a0", " ").replace("\u200b", "")).strip()


def _norm(text: str) -> str:
    """Comparison key: case-folded, digits collapsed, whitespace collapsed, edge punctuation off."""
    text = _WS.sub(" ", text.replace("\u00a0", " ")).strip().casefold()
    text = re.sub(r"\d+", "0", text)
    return text.strip(" .,:;!?|-–—•·*\"'“”‘’()[]")


def _short(text: str) -> str:
    text = _clean_ws(text)
    return text if len(text) <= _SHORT else text[: _SHORT - 1].rstrip() + "…"


def _words(text: str) -> int:
    return len(text.split())


def _ends_sentence(text: str) -> bool:
    core = text.rstrip().rstrip(_CLOSERS).rstrip()
    return bool(core) and core[-1] in ".!?"


def _is_prose(text: str) -> bool:
    """A story-like paragraph (as opposed to a heading, label, list item or teaser)."""
    if text.rstrip().endswith(("...", "…")):
        return False
    words = _words(text)
    return words >= 25 or (words >= 10 and _ends_sentence(text))


def _title_like(text: str) -> bool:
    """A headline: short, several words, no sentence punctuation at the end."""
    text = text.strip()
    if not text or len(text) > 250 or text.startswith(("(", "[", "©", "#")):
        return False
    words = _words(text)
    if words < 3 or words > 30:
        return False
    core = text.rstrip(_CLOSERS)
    if not core or core[-1] in ".!;:,…" or core.endswith("..."):
        return False
    if core[-1] == "?" and words > 20:
        return False
    if parse_date_line(text) is not None or _DATE_ONLY.match(text):
        return False
    return any(ch.isalpha() for ch in text)


# ----------------------------------------------------------------------------------------------
# Date lines ("Thursday, 17 October 2024 05:13 PM EDT") under a title are metadata, not body.

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9,
    "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
# Fixed offsets for the zone abbreviations news sites print (DST variants included). Ambiguous ones
# (AST: Atlantic or Arabia, IST: India, Ireland or Israel) are left out: the time stays naive.
_TZ_HOURS = {
    "UTC": 0.0, "GMT": 0.0, "Z": 0.0, "WET": 0.0, "BST": 1.0, "CET": 1.0, "WAT": 1.0, "CEST": 2.0,
    "EET": 2.0, "SAST": 2.0, "EEST": 3.0, "MSK": 3.0, "EDT": -4.0, "EST": -5.0,
    "CDT": -5.0, "CST": -6.0, "MDT": -6.0, "MST": -7.0, "PDT": -7.0, "PST": -8.0, "AKDT": -8.0,
    "AKST": -9.0, "HST": -10.0, "PKT": 5.0, "ICT": 7.0, "WIB": 7.0, "SGT": 8.0,
    "HKT": 8.0, "AWST": 8.0, "JST": 9.0, "KST": 9.0, "ACST": 9.5, "AEST": 10.0, "AEDT": 11.0,
    "NZST": 12.0, "NZDT": 13.0,
}  # fmt: skip
_DATE_LINE = re.compile(
    r"""^(?:(?:published|updated|posted|last\s+updated|first\s+published|date|modified)(?:\s+on)?\s*:?\s*)?
    (?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s+)?
    (?:
        (?P<d1>\d{1,2})(?:st|nd|rd|th)?\s+(?P<m1>[a-z]{3,9})\.?,?\s+(?P<y1>\d{4})
      | (?P<m2>[a-z]{3,9})\.?\s+(?P<d2>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y2>\d{4})
      | (?P<y3>\d{4})-(?P<m3>\d{1,2})-(?P<d3>\d{1,2})
      | (?P<m4>\d{1,2})/(?P<d4>\d{1,2})/(?P<y4>\d{4})
    )
    (?:(?:\s*,|\s+at|\s*[-|•·–])?\s*(?P<h>\d{1,2})[:.](?P<mi>\d{2})(?::(?P<s>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?)?
    (?:\s*(?P<tz>[A-Za-z]{1,5}|(?:GMT|UTC)\s*[+-]\s*\d{1,2}(?::?\d{2})?|[+-]\d{2}:?\d{2}))?
    \s*$""",
    re.IGNORECASE | re.VERBOSE,
)
# A date-looking line that does not parse (e.g. Newsmax's "2024-13-17") is still not body text.
_DATE_ONLY = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}$|^\d{1,2}/\d{1,2}/\d{2,4}(?:\s+\d{1,2}:\d{2}(?::\d{2})?\s*[AP]M)?$"
)


def parse_date_line(text: str) -> datetime | None:
    """Parse a line that is only a date (and time, and zone); None if it is anything else.

    A zone abbreviation (EDT, GMT, CET...) or offset gives an aware datetime; without one the
    result is naive (local time of the publisher, unknown to us).
    """
    text = _clean_ws(text)
    if len(text) > 80:
        return None
    match = _DATE_LINE.match(text)
    if not match:
        return None
    g = match.groupdict()
    try:
        if g["y1"]:
            year, month, day = int(g["y1"]), _MONTHS.get(g["m1"].lower()), int(g["d1"])
        elif g["y2"]:
            year, month, day = int(g["y2"]), _MONTHS.get(g["m2"].lower()), int(g["d2"])
        elif g["y3"]:
            year, month, day = int(g["y3"]), int(g["m3"]), int(g["d3"])
        else:
            year, month, day = int(g["y4"]), int(g["m4"]), int(g["d4"])
        if month is None:
            return None
        hour = int(g["h"]) if g["h"] else 0
        minute = int(g["mi"]) if g["mi"] else 0
        second = int(g["s"]) if g["s"] else 0
        if g["ampm"]:
            pm = g["ampm"].lower().startswith("p")
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if pm else 0)
        tzinfo = _zone(g["tz"]) if g["tz"] else None
        if g["tz"] and tzinfo is None and not (g["tz"].isupper() and g["tz"].isalpha()):
            return None  # "March 4, 2024 Paris": not a date line
        # An unknown or ambiguous zone abbreviation (AST, IST) leaves the time naive.
        return datetime(year, month, day, hour, minute, second, tzinfo=tzinfo)
    except ValueError:
        return None


def _zone(text: str) -> timezone | None:
    text = text.strip()
    upper = text.upper()
    if upper in _TZ_HOURS:
        return timezone(timedelta(hours=_TZ_HOURS[upper]))
    match = re.fullmatch(r"(?:GMT|UTC)?\s*([+-])\s*(\d{1,2}):?(\d{2})?", upper)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        delta = timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))
        if delta > timedelta(hours=14):
            return None
        return timezone(sign * delta)
    return None


# ----------------------------------------------------------------------------------------------
# The cleaner


class _Page:
    """Mutable working state of one clean_blocks call."""

    __slots__ = ("blocks", "evidence", "removed")

    def __init__(self, blocks: list[str]) -> None:
        self.blocks = blocks
        self.removed: list[Removal] = []
        self.evidence: list[str] = []

    def cut(self, rule: str, text: str) -> None:
        self.removed.append(Removal(rule=rule, text=_short(text)))
        self.evidence.append(text)


def clean_blocks(
    blocks: Sequence[str],
    *,
    url: str | None = None,
    title: str = "",
    authors: Sequence[str] = (),
    hints: Sequence[str] = (),
    rules: RuleSet | None = None,
    learner: BoilerplateLearner | None = None,
    site: str | None = None,
) -> CleanResult:
    """Cut boilerplate from a page's blocks (paragraphs or lines) and detect the wire agency.

    Publisher entries are chosen by the URL's host, or by their text signatures when the URL is
    unknown. ``site`` names the page's site for the learner when there is no URL.
    """
    return _clean(
        blocks,
        url=url,
        title=title,
        authors=authors,
        hints=hints,
        rules=rules,
        learner=learner,
        site=site,
        text_mode=False,
    )


def _clean(
    blocks: Sequence[str],
    *,
    url: str | None,
    title: str,
    authors: Sequence[str],
    hints: Sequence[str],
    rules: RuleSet | None,
    learner: BoilerplateLearner | None,
    site: str | None,
    text_mode: bool,
) -> CleanResult:
    """The cleaner; ``text_mode`` (plain-text exports) also recovers a title line and cuts an
    image alt line under it."""
    rules = rules if rules is not None else RuleSet.default()
    page = _Page([b for b in (_clean_ws(x) for x in blocks) if b])
    entries = rules.match(url, lambda: "\n".join(page.blocks))
    if entries:
        logger.debug("boilerplate rules for %s: %s", url or "<no url>", ", ".join(e.name for e in entries))

    _cut_trailing(page, entries)
    _cut_lead(page, entries)
    found_title = ""
    if title:
        _cut_title_repeat(page, title)
    elif text_mode and len(page.blocks) >= 2 and _title_like(page.blocks[0]):
        found_title = page.blocks.pop(0)
        _cut_lead(page, entries)
    _cut_lines(page, entries)
    # The alt-line rule is for text exports only: on HTML pages the extractor never sees image
    # alt text, and a short first paragraph there is usually a real subheading.
    published = _cut_head(page, alt_lines=text_mode and bool(title or found_title))
    _cut_teasers(page)
    site_key = (site or site_of(url) or "").lower().removeprefix("www.") or None
    if learner is not None and site_key:
        _cut_learned(page, learner, site_key)
    wire = detect_wire(
        page.blocks, title=title or found_title, authors=authors, hints=hints, evidence=page.evidence
    )
    page.removed.extend(wire.removed)
    return CleanResult(
        blocks=wire.blocks,
        removed=page.removed,
        wire=wire.wire,
        published=published,
        title=found_title,
        publishers=tuple(e.name for e in entries),
    )


def _window(blocks: list[str], start: int) -> str:
    return "\n".join(blocks[start : start + _WINDOW])


def _marker_at(
    entries: Sequence[PublisherRule], kind: str, blocks: list[str], index: int
) -> tuple[PublisherRule, Pattern, re.Match[str]] | None:
    window: str | None = None
    for entry in entries:
        for pattern in getattr(entry, kind):
            if not pattern.may_match(blocks[index]):
                continue
            if window is None:
                window = _window(blocks, index)
            match = pattern.regex.match(window)
            if match and match.end() > 0:
                return entry, pattern, match
    return None


def _cut_trailing(page: _Page, entries: Sequence[PublisherRule]) -> None:
    """Cut from the first trailing marker to the end, unless more story follows than precedes it.

    The guard keeps a "Related stories" box in the middle of an article from taking the second
    half of the story with it: then only the marker block itself is cut.
    """
    blocks = page.blocks
    prose = [len(b) if _is_prose(b) else 0 for b in blocks]
    before = 0
    after = sum(prose)
    index = 1 if blocks else 0
    if blocks:
        before, after = prose[0], after - prose[0]
    kept = blocks[:index]
    while index < len(blocks):
        hit = _marker_at(entries, "trailing_markers", blocks, index)
        if hit is None:
            kept.append(blocks[index])
            before += prose[index]
            after -= prose[index]
            index += 1
            continue
        entry, pattern, _ = hit
        rule = f"{entry.name}:{pattern.label}"
        if after <= before:
            for block in blocks[index:]:
                page.cut(rule, block)
            break
        logger.debug("trailing marker %s at block %d kept the rest (story follows)", rule, index)
        page.cut(rule, blocks[index])
        after -= prose[index]
        index += 1
    page.blocks = kept


def _cut_lead(page: _Page, entries: Sequence[PublisherRule]) -> None:
    """Cut lead markers at the start of the body, repeatedly (a header may stack several)."""
    blocks = page.blocks
    for _ in range(32):
        if not blocks:
            return
        hit = _marker_at(entries, "lead_markers", blocks, 0)
        if hit is None:
            return
        entry, pattern, match = hit
        rule = f"{entry.name}:{pattern.label}"
        end = match.end()
        pos = 0
        consumed = 0
        for block in blocks[:_WINDOW]:
            block_end = pos + len(block)
            if end >= block_end:
                page.cut(rule, block)
                consumed += 1
                pos = block_end + 1
                continue
            if end <= pos:
                break
            cut_text = block[: end - pos]
            rest = block[end - pos :].strip()
            page.cut(rule, cut_text)
            if rest:
                blocks[consumed] = rest
            else:
                consumed += 1
            break
        del blocks[:consumed]


def _cut_title_repeat(page: _Page, title: str) -> None:
    key = _norm(title)
    if not key:
        return
    for index, block in enumerate(page.blocks[:3]):
        if _norm(block) == key:
            page.cut(f"{GENERIC}:title", page.blocks.pop(index))
            return


def _cut_lines(page: _Page, entries: Sequence[PublisherRule]) -> None:
    kept: list[str] = []
    for block in page.blocks:
        rule = _line_rule(entries, block)
        if rule is not None:
            page.cut(rule, block)
            continue
        for entry in entries:
            for pattern in entry.inline_patterns:
                if pattern.max_len is not None and len(block) > pattern.max_len:
                    continue
                pieces = [m.group(0) for m in pattern.regex.finditer(block) if m.group(0)]
                if pieces:
                    for piece in pieces:
                        page.cut(f"{entry.name}:{pattern.label}", piece)
                    block = _clean_ws(pattern.regex.sub(" ", block))
        if block:
            kept.append(block)
    page.blocks = kept


def _line_rule(entries: Sequence[PublisherRule], block: str) -> str | None:
    for entry in entries:
        for pattern in entry.line_patterns:
            if pattern.may_match(block) and pattern.regex.search(block):
                return f"{entry.name}:{pattern.label}"
    return None


def _cut_head(page: _Page, *, alt_lines: bool) -> datetime | None:
    """Date lines before the first story paragraph (the first one is the publication time) and an
    image alt/caption line directly under the title."""
    blocks = page.blocks
    published: datetime | None = None
    index = 0
    while index < min(len(blocks), _HEAD) and not _is_prose(blocks[index]):
        block = blocks[index]
        when = parse_date_line(block)
        if when is not None or _DATE_ONLY.match(block):
            if published is None and when is not None:
                published = when
            page.cut(f"{GENERIC}:date", blocks.pop(index))
            continue
        index += 1
    if alt_lines and len(blocks) >= 2 and _alt_line(blocks[0]) and _is_prose(blocks[1]):
        page.cut(f"{GENERIC}:alt", blocks.pop(0))
    return published


def _alt_line(text: str) -> bool:
    """An image alt text or caption stub under the headline: a few words, no punctuation."""
    if len(text) > 60 or _words(text) > 8 or _is_prose(text):
        return False
    if any(ch in text for ch in '.!?:;…"“”'):
        return False
    return any(ch.isalpha() for ch in text)


def _cut_teasers(page: _Page) -> None:
    """A block ending in "..." whose text repeats the story (a summary teaser in the footer)."""
    blocks = page.blocks
    if len(blocks) < 2 or not any(b.endswith(("...", "…")) for b in blocks):
        return
    whole = " ".join(_WS.sub(" ", b).casefold() for b in blocks)
    kept: list[str] = []
    for block in blocks:
        if block.endswith(("...", "…")):
            core = _WS.sub(" ", block.rstrip(".… ")).casefold()
            # The teaser's own text is one occurrence; a second one is the story it repeats.
            if len(core) >= 40 and whole.count(core) >= 2:
                page.cut(f"{GENERIC}:teaser", block)
                continue
        kept.append(block)
    page.blocks = kept


def _cut_learned(page: _Page, learner: BoilerplateLearner, site: str) -> None:
    known = learner.boilerplate(site)
    if not known:
        return
    kept: list[str] = []
    for block in page.blocks:
        if _norm(block) in known:
            page.cut("learned:line", block)
        else:
            kept.append(block)
    page.blocks = kept


# ----------------------------------------------------------------------------------------------
# Learned boilerplate


class BoilerplateLearner:
    """Learns, per site, the lines that repeat across many different pages: that is boilerplate.

    A line (normalised: case-folded, digits and whitespace collapsed) counts once per distinct
    page; it becomes boilerplate for a site when it appears on at least ``min_pages`` pages and on
    at least ``min_fraction`` of that site's pages (0: no share needed), and is at most
    ``max_chars`` long (None: any length). Identical pages (the same story fetched twice) count
    once. The result depends only on the set of pages seen, never on their order. Caveat: several
    versions of one story from the same site (updates) share their story lines; in a small batch
    those lines can pass the thresholds -- unless the caller names the unit to count with
    ``page=`` (the deduplicator passes one key per cluster of copies, so a paragraph is
    boilerplate only when a site prints it under that many *different stories*).
    """

    __slots__ = ("_lines", "_pages", "max_chars", "min_chars", "min_fraction", "min_pages")

    def __init__(
        self,
        *,
        min_pages: int = 3,
        min_fraction: float = 0.3,
        max_chars: int | None = 400,
        min_chars: int = 2,
    ) -> None:
        if min_pages < 2:
            raise ConfigError("min_pages must be at least 2")
        if not 0.0 <= min_fraction <= 1.0:
            raise ConfigError("min_fraction must be in [0, 1]")
        if min_chars < 1 or (max_chars is not None and (max_chars < 1 or min_chars > max_chars)):
            raise ConfigError("need 1 <= min_chars <= max_chars")
        self.min_pages = min_pages
        self.min_fraction = min_fraction
        self.max_chars = max_chars
        self.min_chars = min_chars
        self._pages: dict[str, set[str]] = {}  # site -> page fingerprints
        self._lines: dict[str, dict[str, set[str]]] = {}  # site -> line -> page fingerprints

    @staticmethod
    def _site(site: str) -> str:
        key = site_of(site) if "/" in site else site.strip().lower().removeprefix("www.")
        return key or site.strip().lower()

    def observe(self, site: str, blocks: Iterable[str], *, page: str | None = None) -> None:
        """Record one page of ``site`` (its blocks or lines).

        ``page`` names what a line is counted once per (default: the page's content, so an
        identical page counts once); lines observed under the same ``page`` key are merged."""
        top = self.max_chars
        keys = {
            k
            for k in (_norm(b) for b in blocks)
            if len(k) >= self.min_chars and (top is None or len(k) <= top)
        }
        self.observe_keys(site, keys, page=page)

    def observe_keys(self, site: str, keys: Iterable[str], *, page: str | None = None) -> None:
        """Like :meth:`observe` for lines already reduced to comparison keys (no normalisation,
        no length limits): e.g. hashes of normalised paragraphs when the text is not at hand.
        :meth:`boilerplate` then returns such keys."""
        keys = set(keys)
        if not keys:
            return
        site = self._site(site)
        if page is None:
            page = hashlib.blake2b("\n".join(sorted(keys)).encode("utf-8"), digest_size=8).hexdigest()
            if page in self._pages.get(site, ()):
                return
        self._pages.setdefault(site, set()).add(page)
        lines = self._lines.setdefault(site, {})
        for key in keys:
            lines.setdefault(key, set()).add(page)

    def fit(self, pages: Iterable[tuple[str, Iterable[str]]]) -> BoilerplateLearner:
        """Observe a batch of ``(site, blocks)`` pairs; returns self."""
        for site, blocks in pages:
            self.observe(site, blocks)
        return self

    def pages(self, site: str) -> int:
        return len(self._pages.get(self._site(site), ()))

    def sites(self) -> list[str]:
        return sorted(self._pages)

    def boilerplate(self, site: str) -> frozenset[str]:
        """The normalised lines that are boilerplate for ``site``."""
        site = self._site(site)
        total = len(self._pages.get(site, ()))
        if total < self.min_pages:
            return frozenset()
        need = max(self.min_pages, self.min_fraction * total)
        return frozenset(k for k, seen in self._lines.get(site, {}).items() if len(seen) >= need)

    def is_boilerplate(self, site: str, text: str) -> bool:
        return _norm(text) in self.boilerplate(site)

    def merge(self, other: BoilerplateLearner) -> BoilerplateLearner:
        """Add another learner's observations (e.g. a stored state) to this one; returns self."""
        for site, prints in other._pages.items():
            self._pages.setdefault(site, set()).update(prints)
        for site, lines in other._lines.items():
            mine = self._lines.setdefault(site, {})
            for key, prints in lines.items():
                mine.setdefault(key, set()).update(prints)
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (sorted, so equal learners serialise identically)."""
        return {
            "version": 1,
            "min_pages": self.min_pages,
            "min_fraction": self.min_fraction,
            "max_chars": self.max_chars,
            "min_chars": self.min_chars,
            "sites": {
                site: {
                    "pages": sorted(self._pages[site]),
                    "lines": {k: sorted(v) for k, v in sorted(self._lines.get(site, {}).items())},
                }
                for site in sorted(self._pages)
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BoilerplateLearner:
        if not isinstance(data, Mapping) or data.get("version") != 1:
            raise ConfigError("not a BoilerplateLearner state (version 1)")
        try:
            learner = cls(
                min_pages=int(data.get("min_pages", 3)),
                min_fraction=float(data.get("min_fraction", 0.3)),
                max_chars=None if data.get("max_chars", 400) is None else int(data.get("max_chars", 400)),
                min_chars=int(data.get("min_chars", 2)),
            )
            for site, state in dict(data.get("sites", {})).items():
                learner._pages[str(site)] = {str(p) for p in state.get("pages", ())}
                learner._lines[str(site)] = {
                    str(k): {str(p) for p in v} for k, v in dict(state.get("lines", {})).items()
                }
        except (TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"damaged BoilerplateLearner state: {exc}") from exc
        return learner

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BoilerplateLearner):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]
