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

import bisect
import fnmatch
import functools
import hashlib
import html as html_lib
import itertools
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
from ._normalize import _UNSPACED_CHAR, _has_unspaced
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
    from re import _constants as sre_c  # type: ignore[attr-defined]  # no stubs
    from re import _parser as sre_parse  # type: ignore[attr-defined]  # no stubs

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


# ----------------------------------------------------------------------------------------------
# Pre-checks: which blocks of a page can a rule kind hit at all?
#
# Running every pattern on every block from Python was most of the cleaner's time, and nearly
# all of those calls fail. A page's blocks never contain "\n" (whitespace is collapsed first),
# so the patterns of one kind can be joined into one regex (one alternative per pattern, with
# MULTILINE added so that "^"/"$" hold at block edges exactly where they held in the lone block)
# and run in C: over the whole page "\n" + "\n".join(blocks) for markers (_Prefilter: start
# alternatives sit behind a literal "\n", so the engine jumps from line start to line start), and
# once per block, chosen by the block's first character, for line/inline patterns (all of a
# page's line and inline patterns in one filter) and wire attribution (_LineFilter.may_match).
# What the line/inline patterns and the attribution rules do to a block depends on the block
# alone, so it is also remembered per distinct block (boilerplate lines and syndicated
# paragraphs repeat across pages). For patterns built only from plain regex items (no lookaround, no
# \A/\Z, no backreference, no atomic or possessive group), a match inside a block is also a
# match at the same place in the joined page; the converse does not hold (a match may run
# across a "\n"), so a hit only marks a *candidate* block, which then goes through the exact
# per-pattern check. Patterns outside that safe subset switch the pre-check off for their kind
# (every block gets the exact check, as before). ``_clean(..., fast=False)`` keeps the plain
# implementation, and the tests compare the two.

_GLOBAL_FLAGS = re.compile(r"\(\?[aiLmsux]+\)")
_GROUP_NAME = re.compile(r"\(\?P<(\w+)>")
_SCOPED_LETTERS = ((re.IGNORECASE, "i"), (re.DOTALL, "s"), (re.VERBOSE, "x"), (re.ASCII, "a"))
_ANALYSED = 1024
"""Patterns whose analyses (below) are remembered: every plan of a rule set analyses the
``generic`` entry's patterns again, and parsing them was most of building a plan."""


@functools.lru_cache(maxsize=_ANALYSED)
def _scan_shape(regex: re.Pattern[str]) -> tuple[bool, bool] | None:
    """(anchored, has_named_groups) when the pattern is in the pre-check's safe subset, else None.

    Walks the parsed pattern with an explicit stack (the parser already bounds the nesting)."""
    from re import _constants as sre_c  # type: ignore[attr-defined]  # no stubs
    from re import _parser as sre_parse  # type: ignore[attr-defined]  # no stubs

    if regex.flags & re.LOCALE:
        return None
    try:
        items = sre_parse.parse(regex.pattern, regex.flags)
    except Exception:  # the private parser changed: no pre-check
        return None
    safe_at = {sre_c.AT_BEGINNING, sre_c.AT_END, sre_c.AT_BOUNDARY, sre_c.AT_NON_BOUNDARY}
    stack: list[Any] = [items]
    while stack:
        for op, av in stack.pop():
            if op in (sre_c.LITERAL, sre_c.NOT_LITERAL, sre_c.ANY, sre_c.IN):
                continue
            if op is sre_c.AT:
                if av not in safe_at:
                    return None
            elif op is sre_c.BRANCH:
                stack.extend(av[1])
            elif op is sre_c.SUBPATTERN:
                if av[2] & re.MULTILINE:  # (?-m:...) would undo the added MULTILINE
                    return None
                stack.append(av[3])
            elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
                stack.append(av[2])
            else:  # lookaround, backreference, atomic/possessive group, anything new
                return None
    first = list(items)[:1]
    anchored = bool(first) and first[0] == (sre_c.AT, sre_c.AT_BEGINNING)
    return anchored, bool(regex.groupindex)


def _alternative(regex: re.Pattern[str], tag: int) -> str | None:
    """The pattern's source as one MULTILINE alternative of a combined regex, or None.

    Leading global flags move into a scoped group; named groups get a unique suffix (the combined
    regex holds several patterns). Both rewrites are checked against the parser's view of the
    original, so a source the rewrite would change is left out instead of being guessed at."""
    return _alternative_of(regex, tag if regex.groupindex else 0)  # the tag only names groups


@functools.lru_cache(maxsize=_ANALYSED)
def _alternative_of(regex: re.Pattern[str], tag: int) -> str | None:
    from re import _parser as sre_parse  # type: ignore[attr-defined]  # no stubs

    source = regex.pattern
    while (lead := _GLOBAL_FLAGS.match(source)) is not None:
        source = source[lead.end() :]
    flags = regex.flags & ~re.MULTILINE
    if regex.groupindex:
        source = _GROUP_NAME.sub(lambda m: f"(?P<{m.group(1)}_{tag}>", source)
    try:
        same = source == regex.pattern or repr(sre_parse.parse(source, regex.flags)) == repr(
            sre_parse.parse(regex.pattern, regex.flags)
        )
        # (Without named groups in the original there are none in its suffix ``source``.)
        if not same or (
            regex.groupindex and len(re.compile(source, regex.flags).groupindex) != len(regex.groupindex)
        ):
            return None
    except Exception:
        return None
    letters = "m" + "".join(ch for flag, ch in _SCOPED_LETTERS if flags & flag)
    end = "\n)" if flags & re.VERBOSE else ")"  # a trailing verbose comment must not eat the ")"
    return f"(?{letters}:{source}{end}"


@dataclass(frozen=True, slots=True)
class _Prefilter:
    """Combined regexes over ``"\\n" + "\\n".join(blocks)``: which blocks a rule kind may hit."""

    at_start: re.Pattern[str] | None
    """Alternatives tried at block starts only (behind a literal "\\n")."""
    anywhere: re.Pattern[str] | None
    """Unanchored alternatives (search semantics), tried at every position."""

    @classmethod
    def build(cls, regexes: Sequence[re.Pattern[str]], *, at_start: bool) -> _Prefilter | None:
        """None when some pattern is outside the safe subset (then every block is a candidate).

        ``at_start``: the patterns are applied with ``match`` at a block's start (markers);
        otherwise with ``search`` inside one block (line and inline patterns)."""
        anchored: list[str] = []
        anywhere: list[str] = []
        firsts: set[str] | None = set()
        for tag, regex in enumerate(regexes):
            shape = _scan_shape(regex)
            alternative = _alternative(regex, tag) if shape is not None else None
            if shape is None or alternative is None:
                return None
            if at_start or shape[0]:
                anchored.append(alternative)
                first = _first_set(regex, anchored=not at_start)
                firsts = None if first is None or firsts is None else firsts | first
            else:
                anywhere.append(alternative)
        try:
            return cls(
                re.compile("\n" + _first_guard(firsts) + "(?:" + "|".join(anchored) + ")")
                if anchored
                else None,
                re.compile("|".join(anywhere)) if anywhere else None,
            )
        except (re.error, RecursionError, OverflowError):
            return None

    def candidates(self, blocks: Sequence[str], text: str) -> list[int]:
        """Sorted indexes of the blocks that may hold a match; ``text`` is the joined page."""
        found: set[int] = set()
        starts: list[int] = []
        if self.at_start is not None:
            search = self.at_start.search
            hit = search(text)
            index = at = 0
            while hit is not None:
                # A hit starts at the "\n" before its block: count the blocks passed since the last.
                index += text.count("\n", at, hit.start())
                at = hit.start()
                found.add(index)
                hit = search(text, at + 1)
        if self.anywhere is not None:
            search = self.anywhere.search
            hit = search(text)
            if hit is not None:
                starts = starts or _starts(blocks)
                last = len(blocks) - 1
                while hit is not None:
                    at = hit.start()
                    index = bisect.bisect_right(starts, at) - 1
                    if index >= 0:
                        found.add(index)  # the block holding the match start (or ending there)
                    if index < last and (at >= len(text) or text[at] == "\n"):
                        index += 1
                        found.add(index)  # a match from a "\n" may belong to the next block
                    if index < 0:
                        index = 0
                        found.add(0)
                    hit = search(text, starts[index] + len(blocks[index]))
                    if hit is not None and hit.start() <= at:
                        break  # cannot happen (positions only grow); guards against a loop
        return sorted(found)


def _first_guard(firsts: set[str] | None) -> str:
    """A lookahead that lets only blocks through whose first character is in ``firsts`` or is
    not ASCII (see :func:`_first_set`); "" when some first set is unknown (None).

    Put before the start alternatives of a combined regex, it turns most line starts away with
    one character test instead of trying every alternative there."""
    if firsts is None:
        return ""
    chars = "".join(re.escape(c) for c in sorted(firsts))
    return f"(?=[{chars}]|[^\\x00-\\x7f])" if chars else "(?=[^\\x00-\\x7f])"


@functools.lru_cache(maxsize=_ANALYSED)
def _first_set(regex: re.Pattern[str], *, anchored: bool) -> frozenset[str] | None:
    """ASCII characters a match at a block's start can begin with; None when unknown.

    Wider than :func:`_first_chars` (optional items, non-ASCII literals, MULTILINE), for the
    per-block pre-check only: a block whose first character is not ASCII is always checked, so
    non-ASCII pattern characters can be left out of the set -- unless case folding could map one
    onto an ASCII character (the Kelvin sign onto "k"), then the set is unknown. ``anchored``:
    the pattern is used with ``search``, so it must start with ``^`` to have a first character.
    """
    from re import _constants as sre_c  # type: ignore[attr-defined]  # no stubs
    from re import _parser as sre_parse  # type: ignore[attr-defined]  # no stubs

    if regex.flags & (re.LOCALE | re.VERBOSE):
        return None
    try:
        items = list(sre_parse.parse(regex.pattern, regex.flags))
    except Exception:
        return None
    if anchored and (not items or items[0] != (sre_c.AT, sre_c.AT_BEGINNING)):
        return None
    first = _first_items(items, sre_c)
    if first is None or first[1]:  # unknown, or the pattern can match without consuming a char
        return None
    out: set[str] = set()
    fold = bool(regex.flags & re.IGNORECASE)
    for ch in first[0]:
        if ch.isascii():
            out.update((ch.lower(), ch.upper()) if fold else (ch,))
        elif fold and (
            _FOLDS_TO_ASCII.match(ch) or any(c.isascii() for c in (ch.lower(), ch.upper(), ch.casefold()))
        ):
            return None  # ("İ" matches "i": its full lower-casing "i̇" hides that)
    return frozenset(out)


def _first_items(items: Sequence[Any], sre_c: Any) -> tuple[set[str], bool] | None:
    """(possible first characters, can match empty) of a parsed sequence; None when unknown.

    Recursive over the pattern's nesting, which the regex parser has already bounded."""
    chars: set[str] = set()
    for op, av in items:
        if op is sre_c.AT:
            continue  # zero-width
        if op is sre_c.LITERAL:
            chars.add(chr(av))
            return chars, False
        if op is sre_c.IN:
            for item_op, item_av in av:
                if item_op is sre_c.LITERAL:
                    chars.add(chr(item_av))
                elif item_op is sre_c.RANGE and item_av[1] - item_av[0] < 512:
                    chars.update(chr(c) for c in range(item_av[0], item_av[1] + 1))
                else:
                    return None
            return chars, False
        if op is sre_c.BRANCH:
            nullable = False
            for alternative in av[1]:
                sub = _first_items(list(alternative), sre_c)
                if sub is None:
                    return None
                chars |= sub[0]
                nullable = nullable or sub[1]
            if not nullable:
                return chars, False
            continue
        if op is sre_c.SUBPATTERN:
            if av[1] or av[2]:  # scoped flags change how the group matches
                return None
            sub = _first_items(list(av[3]), sre_c)
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
            sub = _first_items(list(av[2]), sre_c)
            if sub is not None and av[0] == 0:
                sub = (sub[0], True)
        else:
            return None
        if sub is None:
            return None
        chars |= sub[0]
        if not sub[1]:
            return chars, False
    return chars, True


_NO_REGEX = object()


@dataclass(frozen=True, slots=True)
class _Start:
    """One start pattern of a :class:`_LineFilter`."""

    alternative: str
    first: frozenset[str] | None


@dataclass(slots=True)
class _Table:
    """The combined start regex per first character.

    Filled lazily: a character's regex is compiled the first time a block starting with it is
    seen (compiling every character's combination up front cost more than the page checks of a
    whole small run)."""

    starts: tuple[_Start, ...]
    """The start patterns (rule order)."""
    chars: frozenset[str]
    """ASCII characters some pattern has in its first-character set."""
    compiled: dict[str, re.Pattern[str]]
    """Combined source -> compiled regex."""
    by_first: dict[str, re.Pattern[str] | None] = field(default_factory=dict)
    """First character -> combined regex (None: no pattern can match), filled by :meth:`resolve`."""

    def resolve(self, char: str) -> re.Pattern[str] | None:
        """The combined regex for blocks starting with ``char`` (remembered in ``by_first``)."""
        if char in self.chars:
            alternatives = [s.alternative for s in self.starts if s.first is None or char in s.first]
        elif char.isascii():
            alternatives = [s.alternative for s in self.starts if s.first is None]
        else:  # a non-ASCII first character: every start pattern (case folding, see _first_set)
            alternatives = [s.alternative for s in self.starts]
        regex: re.Pattern[str] | None = None
        if alternatives:
            source = "|".join(alternatives)
            regex = self.compiled.get(source)
            if regex is None:
                try:
                    regex = re.compile(source)
                except (re.error, RecursionError, OverflowError):
                    regex = _EVERY_BLOCK  # these patterns do not combine: no pre-check for them
                self.compiled[source] = regex
        self.by_first[char] = regex
        return regex


_EVERY_BLOCK = re.compile("")
"""Matches at the start of every block."""


# The characters outside ASCII that a case-insensitive pattern matches to an ASCII letter (they
# lower-case to one, or the regex engine's extra case table pairs them): "İ", "ı", "ſ" and the
# Kelvin sign (the tests derive the set from the engine's own tables).
_FOLDS_TO_ASCII = re.compile("[\u0130\u0131\u017f\u212a]")
_TO_ASCII_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def ascii_fold_lower(text: str) -> str:
    """``text`` lower-cased with the four characters above turned into the ASCII letter a
    case-insensitive pattern matches them to: a lower-case ASCII word occurs in the result
    wherever such a pattern finds it in ``text``, so a substring test can rule the pattern out
    on any text, not only on ASCII."""
    if not text.isascii() and _FOLDS_TO_ASCII.search(text):  # (rare: translate is slow)
        text = text.translate(_TO_ASCII_FOLD)
    return text.lower()


@dataclass(frozen=True, slots=True)
class _LineFilter:
    """Per-block pre-check: one combined ``match`` per block, chosen by the block's first character.

    Patterns applied at a block's start are grouped by the characters they can begin with, so a
    block is tried only against the patterns that can match it, all at once in C. Patterns
    searched anywhere in a block are scanned for with :class:`_Prefilter`'s combined regex.
    Same guarantee: every block a pattern matches passes :meth:`may_match`."""

    starts: tuple[_Start, ...]
    anywhere: _Prefilter | None
    table: _Table

    @classmethod
    def build(cls, regexes: Sequence[re.Pattern[str]], *, at_start: bool) -> _LineFilter | None:
        """None when some pattern is outside the safe subset (see :func:`_scan_shape`).

        ``at_start``: the patterns are applied with ``match`` (else ``search``). The combined
        regexes are compiled per first character when first needed (see :class:`_Table`)."""
        starts: list[_Start] = []
        loose: list[re.Pattern[str]] = []
        for tag, regex in enumerate(regexes):
            shape = _scan_shape(regex)
            alternative = _alternative(regex, tag) if shape is not None else None
            if shape is None or alternative is None:
                return None
            if at_start or shape[0]:
                starts.append(_Start(alternative, _first_set(regex, anchored=not at_start)))
            else:
                loose.append(regex)
        anywhere = _Prefilter.build(loose, at_start=False) if loose else None
        if loose and anywhere is None:
            return None
        chars = frozenset().union(*(s.first for s in starts if s.first is not None))
        return cls(tuple(starts), anywhere, _Table(tuple(starts), chars, {}))

    def may_match(self, block: str) -> bool:
        """False only when no pattern can match ``block`` (a text without "\\n"). True for ""."""
        if not block:
            return True
        table = self.table
        regex = table.by_first.get(block[0], _NO_REGEX)
        if regex is _NO_REGEX:
            regex = table.resolve(block[0])
        if regex is not None and regex.match(block) is not None:  # type: ignore[attr-defined]
            return True
        loose = self.anywhere
        return loose is not None and (loose.anywhere is None or loose.anywhere.search(block) is not None)


def _starts(blocks: Sequence[str]) -> list[int]:
    """Offset of each block in ``"\\n" + "\\n".join(blocks)``."""
    return list(itertools.accumulate([len(b) + 1 for b in blocks[:-1]], initial=1)) if blocks else []


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

    __slots__ = ("_always", "_by_host", "_by_name", "_entries", "_literals", "_plans", "_signatures")

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
        self._always = tuple(e for e in items if e.always)
        # Caches of derived data (the entries never change): host -> specific entries, entry
        # selection -> compiled plan, and the signatures in their fast form (built on first use).
        self._by_host: dict[str, tuple[PublisherRule, ...]] = {}
        self._plans: dict[tuple[str, ...], _Plan] = {}
        self._signatures: tuple[tuple[PublisherRule, tuple[_Signature, ...]], ...] | None = None
        self._literals: tuple[str, ...] | None = None

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
            specific = list(self._host_entries(host))
        if not specific and text is not None:
            body = text() if callable(text) else text
            if body:
                specific = [
                    e for e in self._entries if not e.always and e.signatures and e.matches_text(body)
                ]
        always = [e for e in self._entries if e.always]
        return specific + always

    def _host_entries(self, host: str) -> tuple[PublisherRule, ...]:
        """The non-``always`` entries whose host globs match ``host`` (remembered per host)."""
        cached = self._by_host.get(host)
        if cached is None:
            cached = tuple(e for e in self._entries if not e.always and e.hosts and e.matches_host(host))
            if len(self._by_host) >= _HOST_CACHE:
                self._by_host.clear()
            self._by_host[host] = cached
        return cached

    def _plan(self, url: str | None, blocks: Sequence[str], lined: str | None = None) -> _Plan:
        """Like :meth:`match` (same entries, same order), as a cached compiled :class:`_Plan`.

        The specific entries of a host are remembered (host globs cost a few microseconds per
        entry); without a host match, the signatures are searched in their fast form. ``lined``:
        ``"\\n" + "\\n".join(blocks)`` when the caller has it already."""
        host = site_of(url)
        specific = self._host_entries(host) if host else ()
        if not specific and blocks:
            if self._signatures is None:
                self._signatures = tuple(
                    (e, tuple(_Signature.of(sig) for sig in e.signatures))
                    for e in self._entries
                    if not e.always and e.signatures
                )
                literals = [sig.literal for _, sigs in self._signatures for sig in sigs]
                known = [literal for literal in literals if literal is not None]
                self._literals = None if len(known) < len(literals) else _least_literals(known)
            if lined is None:
                lined = "\n" + "\n".join(blocks)
            # Most pages hold none of the signatures' literal strings: then none can match. (A
            # literal in the page is in ``lined``; the extra "\n" can only add a false alarm.)
            if len(lined) > 1 and (self._literals is None or any(lit in lined for lit in self._literals)):
                body = lined[1:]
                specific = tuple(
                    e for e, sigs in self._signatures if any(sig.search(body, lined) for sig in sigs)
                )
        key = tuple(e.name for e in specific) if specific else ()
        plan = self._plans.get(key)
        if plan is None:
            plan = _Plan.build(specific + self._always)
            self._plans[key] = plan
        return plan


_HOST_CACHE = 4096  # hosts remembered per RuleSet (the cache starts over when full)


def _least_literals(literals: Sequence[str]) -> tuple[str, ...]:
    """The literals without those that contain another one: a text holds one of the result
    exactly when it holds one of the input ("(MENAFN" is in a text only if "MENAFN" is)."""
    unique = list(dict.fromkeys(literals))
    return tuple(lit for lit in unique if not any(other != lit and other in lit for other in unique))


@dataclass(frozen=True, slots=True)
class _Signature:
    """A signature regex, plus an exact faster form for MULTILINE start-anchored ones.

    ``(?m)^X`` searched over a text matches exactly where ``\\n(?m:^X)`` matches over ``"\\n" +
    text``; the literal "\\n" prefix lets the engine jump between line starts instead of trying
    every position."""

    regex: re.Pattern[str]
    lined: re.Pattern[str] | None = None
    literal: str | None = None
    """A string every match contains (checked first with ``in``; None: unknown)."""

    @classmethod
    def of(cls, regex: re.Pattern[str]) -> _Signature:
        literal = None if regex.flags & re.IGNORECASE else _required_literal(regex)
        shape = _scan_shape(regex)
        if shape is None or not shape[0] or not regex.flags & re.MULTILINE:
            return cls(regex, None, literal)
        alternative = _alternative(regex, 0)
        try:
            return cls(regex, re.compile("\n" + alternative) if alternative else None, literal)
        except re.error:
            return cls(regex, None, literal)

    def search(self, text: str, lined: str) -> bool:
        """Whether the signature occurs in ``text`` (``lined`` is ``"\\n" + text``)."""
        if self.literal is not None and self.literal not in text:
            return False  # (case-insensitive signatures carry no literal, see of())
        if self.lined is not None:
            return self.lined.search(lined) is not None
        return self.regex.search(text) is not None


@functools.lru_cache(maxsize=_ANALYSED)
def _required_literal(regex: re.Pattern[str]) -> str | None:
    """The longest run of literal characters at the top level of a pattern (3 or more), or None.

    Every match contains it (zero-width assertions between the characters do not split the run),
    so a text without it cannot match: a ``str`` search is much faster than a pattern starting
    with ``\\b`` or ``^``, which the regex engine tries at every position. For a case-insensitive
    pattern the run must be ASCII, and holds only on ASCII text compared lower-cased (the caller's
    job: outside ASCII, case folding relates more characters than ``str.lower`` does)."""
    from re import _constants as sre_c  # type: ignore[attr-defined]  # no stubs
    from re import _parser as sre_parse  # type: ignore[attr-defined]  # no stubs

    if regex.flags & (re.LOCALE | re.VERBOSE):
        return None
    try:
        items = sre_parse.parse(regex.pattern, regex.flags)
    except Exception:
        return None
    best = ""
    run: list[str] = []
    for op, av in [*items, (None, None)]:
        if op is sre_c.LITERAL:
            run.append(chr(av))
        elif op is not sre_c.AT:
            if len(run) > len(best):
                best = "".join(run)
            run = []
    if regex.flags & re.IGNORECASE and not best.isascii():
        return None
    return best if len(best) >= 3 else None


_Rules = tuple[tuple[str, Pattern], ...]


@dataclass(frozen=True, slots=True)
class _Kind:
    """One rule kind of the applicable entries, in rule order, indexed by a block's first character.

    ``select(block)`` returns, in order, exactly the patterns whose :meth:`Pattern.may_match`
    first-character test passes for the block (the ``max_len`` test stays with the caller)."""

    rules: _Rules
    """(rule name "<entry>:<label>", pattern) in the order the entries and patterns come."""
    by_first: dict[str, _Rules]
    any_first: _Rules
    """The patterns without a known set of first characters."""
    prefilter: _Prefilter | _LineFilter | None

    @classmethod
    def build(cls, entries: Sequence[PublisherRule], kind: str) -> _Kind:
        rules = tuple((f"{e.name}:{p.label}", p) for e in entries for p in getattr(e, kind))
        chars = set().union(*(p.first for _, p in rules if p.first is not None))
        by_first = {c: tuple(r for r in rules if r[1].first is None or c in r[1].first) for c in chars}
        any_first = tuple(r for r in rules if r[1].first is None)
        prefilter: _Prefilter | _LineFilter | None = None
        if rules and kind.endswith("_markers"):
            # Markers span a window of blocks: scanned for over the joined page. (Line and
            # inline patterns share one per-block filter, see _Plan.lines_filter.)
            prefilter = _Prefilter.build([p.regex for _, p in rules], at_start=True)
        return cls(rules, by_first, any_first, prefilter)

    def select(self, block: str) -> _Rules:
        if not block:
            return self.rules
        first = block[0]
        hit = self.by_first.get(first)
        if hit is not None:
            return hit
        return self.any_first if first.isascii() else self.rules

    def candidates(self, blocks: Sequence[str], text: str) -> Sequence[int] | None:
        """Indexes of the blocks this kind may hit (None: all of them, no pre-check)."""
        if not self.rules:
            return ()
        if self.prefilter is None:
            return None
        return self.prefilter.candidates(blocks, text)  # type: ignore[union-attr]


@dataclass(frozen=True, slots=True)
class _Plan:
    """The applicable entries of a page compiled for the cleaner (cached per RuleSet)."""

    names: tuple[str, ...]
    lead: _Kind
    trailing: _Kind
    line: _Kind
    inline: _Kind
    lines_filter: _LineFilter | None = field(default=None, compare=False, repr=False)
    """Per-block pre-check over the line and inline patterns together (None: no pre-check,
    some pattern is outside what the filter can reason about)."""
    lines_memo: dict[str, _LineOutcome | None] = field(default_factory=dict, compare=False, repr=False)
    """Block -> what the line and inline patterns do to it (see :func:`_cut_lines_fast`)."""

    @classmethod
    def build(cls, entries: Sequence[PublisherRule]) -> _Plan:
        line = _Kind.build(entries, "line_patterns")
        inline = _Kind.build(entries, "inline_patterns")
        both = [p.regex for _, p in (*line.rules, *inline.rules)]
        lines_filter = _LineFilter.build(both, at_start=False) if both else None
        return cls(
            names=tuple(e.name for e in entries),
            lead=_Kind.build(entries, "lead_markers"),
            trailing=_Kind.build(entries, "trailing_markers"),
            line=line,
            inline=inline,
            lines_filter=lines_filter,
        )


@functools.cache
def _default_rules() -> RuleSet:
    source = resources.files("newsdedup").joinpath("data/publishers.toml")
    return RuleSet.from_toml(source.read_text(encoding="utf-8"), source="newsdedup/data/publishers.toml")


# "scheme://host" followed by the end of the URL or a path, query or fragment, with a host of
# plain ASCII name characters: urlsplit's hostname is then exactly ``host.lower()`` (no user
# info, port, brackets or percent sign to parse, nothing its clean-up of tabs and newlines or
# its non-ASCII check could change), so the slow general parse is skipped for almost every URL.
_PLAIN_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([A-Za-z0-9.-]+)(?:[/?#]|\Z)")


def check_rules(rules: object, learner: object) -> None:
    """TypeError unless ``rules`` is a :class:`RuleSet` (or None) and ``learner`` a
    :class:`BoilerplateLearner` (or None): a wrong object fails deep inside the cleaning
    otherwise, with an error that does not name the argument."""
    if rules is not None and not isinstance(rules, RuleSet):
        raise TypeError(f"rules must be a RuleSet or None, not {type(rules).__name__}")
    if learner is not None and not isinstance(learner, BoilerplateLearner):
        raise TypeError(f"learner must be a BoilerplateLearner or None, not {type(learner).__name__}")


def site_of(url: str | None) -> str | None:
    """Lower-case host of a URL without ``www.``, or None."""
    if not url:
        return None
    plain = _PLAIN_URL.match(url)
    if plain is not None:
        return plain.group(1).lower().rstrip(".").removeprefix("www.")
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
    # str.split() breaks at exactly the characters "\s" matches (U+00A0 among them), so this is
    # _WS.sub(" ", text).strip() without a regex call per whitespace run.
    return " ".join((text.replace("\u200b", "") if "\u200b" in text else text).split())


_DIGITS = re.compile(r"\d+")


_NORM_STRIP = " .,:;!?|-–—•·*\"'“”‘’()[]"
_NORM_EDGE = "".join(c for c in map(chr, range(128)) if c.isspace() or c in _NORM_STRIP)
"""The ASCII characters :func:`_norm` takes off a text's ends: whitespace, stripped punctuation."""


def _norm(text: str) -> str:
    """Comparison key: case-folded, digits collapsed, whitespace collapsed, edge punctuation off."""
    text = " ".join(text.split()).casefold()
    text = _DIGITS.sub("0", text)
    return text.strip(_NORM_STRIP)


def _norm_ends(text: str) -> str | None:
    """``_norm(text)[:1] + _norm(text)[-1:]`` for an ASCII text, without normalising it; None for
    other texts.

    On ASCII, the key starts (ends) with the first (last) character that is no whitespace and no
    stripped punctuation: lower-cased, or "0" for a digit (a run of digits becomes "0")."""
    if not text.isascii():
        return None
    core = text.strip(_NORM_EDGE)
    if not core:
        return ""
    first, last = core[0], core[-1]
    return ("0" if first.isdigit() else first.lower()) + ("0" if last.isdigit() else last.lower())


def _short(text: str) -> str:
    if not (text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " "):
        text = _clean_ws(text)  # (a printable text without those spaces is clean: see _clean_all)
    return text if len(text) <= _SHORT else text[: _SHORT - 1].rstrip() + "…"


def _words(text: str) -> int:
    return len(text.split())


def _headline_words(text: str) -> int:
    """:func:`_words`, where two letters of a script written without spaces (Chinese, Japanese,
    Thai) count as one word, about what a Chinese word holds: a Chinese headline is one "word"
    by its spaces."""
    if text.isascii() or not _has_unspaced(text):
        return len(text.split())
    unspaced = len(_UNSPACED_CHAR.findall(text))
    return len(_UNSPACED_CHAR.sub(" ", text).split()) + (unspaced + 1) // 2


def _ends_sentence(text: str) -> bool:
    core = text.rstrip().rstrip(_CLOSERS).rstrip()
    return bool(core) and core[-1] in ".!?"


def _is_prose(text: str) -> bool:
    """A story-like paragraph (as opposed to a heading, label, list item or teaser)."""
    if text.rstrip().endswith(("...", "…")):
        return False
    words = _words(text)
    return words >= 25 or (words >= 10 and _ends_sentence(text))


def _prose_len(block: str) -> int:
    """``len(block) if _is_prose(block) else 0`` for a block through ``_clean_ws`` (non-empty,
    words separated by single spaces, so the words are the spaces plus one)."""
    if block.endswith(("...", "…")):
        return 0
    words = block.count(" ") + 1
    return len(block) if words >= 25 or (words >= 10 and _ends_sentence(block)) else 0


def _leads_as_title(first: str, second: str) -> bool:
    """Whether a text export's first line is its headline: it looks like one, and the next line
    does not go on with its sentence. A hard-wrapped lede ("Leaders of Italy's five coalition
    parties" / "have agreed to meet ...") looks like a headline by itself; taken as the title,
    it left the story's text without its first words."""
    return _title_like(first) and not second[:1].islower()


def _title_like(text: str) -> bool:
    """A headline: short, several words, no sentence punctuation at the end."""
    text = text.strip()
    if not text or len(text) > 250 or text.startswith(("(", "[", "©", "#")):
        return False
    words = _headline_words(text)
    if words < 3 or words > 30:
        return False
    core = text.rstrip(_CLOSERS)
    if not core or core[-1] in ".!;:,…。！；：，" or core.endswith("..."):
        return False
    if core[-1] == "?" and words > 20:
        return False
    if _DIGIT.search(text) is not None and (parse_date_line(text) is not None or _DATE_ONLY.match(text)):
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


_DIGIT = re.compile(r"\d")


def parse_date_line(text: str) -> datetime | None:
    """Parse a line that is only a date (and time, and zone); None if it is anything else.

    A zone abbreviation (EDT, GMT, CET...) or offset gives an aware datetime; without one the
    result is naive (local time of the publisher, unknown to us).
    """
    if _DIGIT.search(text) is None:  # every form needs digits (cheap exact pre-check)
        return None
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
    fast: bool = True,
) -> CleanResult:
    """The cleaner; ``text_mode`` (plain-text exports) also recovers a title line and cuts an
    image alt line under it.

    ``fast=False`` runs the reference implementation (every pattern tried on every block); the
    default path gives the same result with whole-page pre-checks and cached rule plans (the
    tests compare the two)."""
    rules = rules if rules is not None else RuleSet.default()
    if fast:
        return _clean_fast(
            _clean_all(blocks),
            url=url,
            title=title,
            authors=authors,
            hints=hints,
            rules=rules,
            learner=learner,
            site=site,
            text_mode=text_mode,
        )
    page = _Page([b for b in (_clean_ws(x) for x in blocks) if b])
    entries = rules.match(url, lambda: "\n".join(page.blocks))
    if entries:
        logger.debug("boilerplate rules for %s: %s", url or "<no url>", ", ".join(e.name for e in entries))

    _cut_trailing(page, entries)
    _cut_lead(page, entries)
    found_title = ""
    if title:
        _cut_title_repeat(page, title)
    elif text_mode and len(page.blocks) >= 2 and _leads_as_title(page.blocks[0], page.blocks[1]):
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
    return _finish_clean(page, title, found_title, authors, hints, published, tuple(e.name for e in entries))


def _clean_all(blocks: Sequence[str]) -> list[str]:
    """``_clean_ws`` on every block, empty ones dropped, without re-splitting the blocks it
    would leave unchanged.

    ``str.isprintable`` is False for every whitespace character but the ASCII space (and for
    the zero-width space), so a printable block without a double space and without a space at
    either end is exactly what ``_clean_ws`` returns for it (the tests check both facts)."""
    out: list[str] = []
    for block in blocks:
        if block and block.isprintable() and "  " not in block and block[0] != " " and block[-1] != " ":
            out.append(block)
        else:
            block = _clean_ws(block)
            if block:
                out.append(block)
    return out


def _clean_fast(
    blocks: list[str],
    *,
    url: str | None,
    title: str,
    authors: Sequence[str],
    hints: Sequence[str],
    rules: RuleSet,
    learner: BoilerplateLearner | None,
    site: str | None,
    text_mode: bool,
) -> CleanResult:
    """:func:`_clean` on blocks already through ``_clean_ws`` (so none is empty or holds "\\n")."""
    page = _Page(blocks)
    lined = "\n" + "\n".join(blocks)  # the whole page, for the signature and marker scans
    plan = rules._plan(url, blocks, lined)
    if plan.names and logger.isEnabledFor(logging.DEBUG):
        logger.debug("boilerplate rules for %s: %s", url or "<no url>", ", ".join(plan.names))

    _cut_trailing_fast(page, plan.trailing, lined)
    _cut_lead_fast(page, plan.lead)
    found_title = ""
    if title:
        _cut_title_repeat(page, title)
    elif text_mode and len(page.blocks) >= 2 and _leads_as_title(page.blocks[0], page.blocks[1]):
        found_title = page.blocks.pop(0)
        _cut_lead_fast(page, plan.lead)
    _cut_lines_fast(page, plan)
    # Every block is through _clean_ws here, so _prose_len tells prose as _is_prose does.
    published = _cut_head(page, alt_lines=text_mode and bool(title or found_title), is_prose=_prose_len)
    _cut_teasers(page)
    if learner is not None:
        site_key = (site or site_of(url) or "").lower().removeprefix("www.") or None
        if site_key:
            _cut_learned(page, learner, site_key)
    return _finish_clean(page, title, found_title, authors, hints, published, plan.names)


def _marker_fast(kind: _Kind, blocks: list[str], index: int) -> tuple[str, re.Match[str]] | None:
    """:func:`_marker_at` through the kind's first-character index: (rule name, match) or None."""
    block = blocks[index]
    window: str | None = None
    for rule, pattern in kind.select(block):
        if pattern.max_len is not None and len(block) > pattern.max_len:
            continue
        if window is None:
            window = "\n".join(blocks[index : index + _WINDOW])
        match = pattern.regex.match(window)
        if match and match.end() > 0:
            return rule, match
    return None


def _cut_trailing_fast(page: _Page, kind: _Kind, lined: str) -> None:
    """:func:`_cut_trailing`, trying markers only at the blocks the pre-check cannot rule out;
    ``lined`` is ``"\\n" + "\\n".join(page.blocks)``."""
    blocks = page.blocks
    if len(blocks) < 2:
        return
    found = kind.candidates(blocks, lined)
    if found is None:
        todo: set[int] | None = None
        start = 1
    else:
        todo = {i for i in found if i >= 1}
        if not todo:
            return
        start = min(todo)

    # Every block before ``start`` is kept (no marker can match there), as the loop would.
    def rule_at(index: int) -> str | None:
        hit = _marker_fast(kind, blocks, index) if todo is None or index in todo else None
        return hit[0] if hit is not None else None

    _cut_from_trailing_marker(page, [_prose_len(b) for b in blocks], start, rule_at)


def _cut_lead_fast(page: _Page, kind: _Kind) -> None:
    """:func:`_cut_lead` through the kind's first-character index."""
    if not kind.rules:
        return
    blocks = page.blocks
    for _ in range(32):
        if not blocks:
            return
        hit = _marker_fast(kind, blocks, 0)
        if hit is None:
            return
        rule, match = hit
        end = match.end()
        _consume_lead(page, blocks, rule, end)


def _finish_clean(
    page: _Page,
    title: str | None,
    found_title: str,
    authors: Sequence[str],
    hints: Sequence[str],
    published: datetime | None,
    publishers: tuple[str, ...],
) -> CleanResult:
    """The last step both cleaning paths share: wire detection on what is left."""
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
        publishers=publishers,
    )


def _consume_lead(page: _Page, blocks: list[str], rule: str, end: int) -> None:
    """Cut the leading text up to offset ``end`` of the blocks joined by newlines: whole blocks
    before it, the head of the block it falls in (its rest stays as the first block)."""
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


# What the line and inline patterns do to one block: the cuts (each as its Removal and the
# cut text, for the wire evidence) and the block left (None: the block goes entirely).
_LineOutcome = tuple[tuple[tuple[Removal, str], ...], str | None]
_LINES_MEMO = 8192  # blocks remembered per plan (the memo starts over when full)
_MISS: Any = object()


def _cut_lines_fast(page: _Page, plan: _Plan) -> None:
    """:func:`_cut_lines`, with the outcome per distinct block remembered in the plan.

    A site's boilerplate lines, and the paragraphs of a syndicated story, repeat across pages;
    a block seen before costs one dict lookup. A new block goes through the per-block
    pre-checks (most blocks stop there) and then the exact patterns."""
    blocks = page.blocks
    line, inline = plan.line, plan.inline
    if not blocks or (not line.rules and not inline.rules):
        return
    memo = plan.lines_memo
    check = plan.lines_filter.may_match if plan.lines_filter is not None else None
    kept: list[str] = []
    for block in blocks:
        outcome = memo.get(block, _MISS)
        if outcome is _MISS:
            may = check is None or "\n" in block or check(block)
            outcome = _line_outcome(line, inline, block) if may else None
            if len(memo) >= _LINES_MEMO:
                memo.clear()
            memo[block] = outcome
        if outcome is None:
            kept.append(block)
            continue
        cuts, rest = outcome
        for removal, text in cuts:
            page.removed.append(removal)
            page.evidence.append(text)
        if rest:
            kept.append(rest)
    page.blocks = kept


def _line_outcome(line: _Kind, inline: _Kind, block: str) -> _LineOutcome | None:
    """What :func:`_cut_lines` does to one block (None: nothing)."""
    rule = _line_rule_fast(line, block)
    if rule is not None:
        return ((Removal(rule=rule, text=_short(block)), block),), None
    cuts: list[tuple[Removal, str]] = []
    for name, pattern in inline.rules:
        if pattern.max_len is not None and len(block) > pattern.max_len:
            continue
        pieces = [m.group(0) for m in pattern.regex.finditer(block) if m.group(0)]
        if pieces:
            cuts.extend((Removal(rule=name, text=_short(piece)), piece) for piece in pieces)
            block = _clean_ws(pattern.regex.sub(" ", block))
    return (tuple(cuts), block or None) if cuts else None


def _line_rule_fast(kind: _Kind, block: str) -> str | None:
    for rule, pattern in kind.select(block):
        if (pattern.max_len is None or len(block) <= pattern.max_len) and pattern.regex.search(block):
            return rule
    return None


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

    def rule_at(index: int) -> str | None:
        hit = _marker_at(entries, "trailing_markers", blocks, index)
        return f"{hit[0].name}:{hit[1].label}" if hit is not None else None

    _cut_from_trailing_marker(page, [len(b) if _is_prose(b) else 0 for b in blocks], 1, rule_at)


def _cut_from_trailing_marker(
    page: _Page, prose: list[int], start: int, rule_at: Callable[[int], str | None]
) -> None:
    """The trailing cut both rule paths share: from ``start`` on, the first block where
    ``rule_at`` names a marker ends the page when no more prose follows than precedes it;
    otherwise only that block is cut and the walk goes on."""
    blocks = page.blocks
    start = min(start, len(blocks))
    before = sum(prose[:start])
    after = sum(prose[start:])
    kept = blocks[:start]
    index = start
    while index < len(blocks):
        rule = rule_at(index)
        if rule is None:
            kept.append(blocks[index])
            before += prose[index]
            after -= prose[index]
            index += 1
            continue
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
        _consume_lead(page, blocks, rule, end)


def _cut_title_repeat(page: _Page, title: str) -> None:
    """Cut the first of the top three blocks that normalises to the title.

    The title's key is built only once a block passes the cheap pre-check (most pages have no
    such block)."""
    key: str | None = None
    ends = _norm_ends(title)
    if ends is None:
        key = _norm(title)
        ends = key[:1] + key[-1:]
    if not ends:
        return
    for index, block in enumerate(page.blocks[:3]):
        if not _may_norm_to(block, ends):
            continue
        if key is None:
            key = _norm(title)
        # _norm never lengthens an ASCII text.
        if not (block.isascii() and len(block) < len(key)) and _norm(block) == key:
            page.cut(f"{GENERIC}:title", page.blocks.pop(index))
            return


def _may_norm_to(block: str, ends: str) -> bool:
    """Cheap exact pre-check: False only when ``_norm(block)`` cannot be a key that starts with
    ``ends[0]`` and ends with ``ends[-1]`` (the ends of a non-empty ``_norm`` result).

    An ASCII block's key ends are told exactly by :func:`_norm_ends`. In other blocks an ASCII
    letter at either end stays there, lower-cased, through ``_norm`` (it is no whitespace, digit
    or stripped punctuation, and case folding maps it to one character). Story paragraphs under
    a title are rejected here without normalising them."""
    found = _norm_ends(block)
    if found is not None:
        return found == ends
    first, last = block[:1], block[-1:]
    if first.isascii() and first.isalpha() and first.lower() != ends[0]:
        return False
    return not (last.isascii() and last.isalpha() and last.lower() != ends[-1])


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


def _cut_head(
    page: _Page, *, alt_lines: bool, is_prose: Callable[[str], int | bool] = _is_prose
) -> datetime | None:
    """Date lines before the first story paragraph (the first one is the publication time) and an
    image alt/caption line directly under the title. ``is_prose``: :func:`_is_prose`, or a
    faster function that is truthy exactly where it is on these blocks."""
    blocks = page.blocks
    published: datetime | None = None
    index = 0
    while index < min(len(blocks), _HEAD) and not is_prose(blocks[index]):
        block = blocks[index]
        if _DIGIT.search(block) is None:  # every date line has digits (both regexes need one)
            index += 1
            continue
        when = parse_date_line(block)
        if when is not None or _DATE_ONLY.match(block):
            if published is None and when is not None:
                published = when
            page.cut(f"{GENERIC}:date", blocks.pop(index))
            continue
        index += 1
    if alt_lines and len(blocks) >= 2 and _alt_line(blocks[0]) and is_prose(blocks[1]):
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
