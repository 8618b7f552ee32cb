"""Wire-agency detection: which news agency a syndicated copy came from, and its attribution cut.

A Reuters story republished by fifty sites should collapse into one item labelled "Reuters", and
the attribution lines ("LONDON (Reuters) -", "© 2024 Thomson/Reuters. All rights reserved.",
"Reporting by ...; Editing by ...") differ from copy to copy, so they must leave the text before
hashing. Only *attribution* counts as evidence: a story that says "according to Reuters" or
"The Associated Press reported" is not a wire copy, and a lone "AP" line under a photo is a
picture credit (cut, but not evidence).

Signals, strongest first: copyright line, MENAFN source marker, dateline, credit line
("Reporting by ...; Editing by ..."), agency byline ("By Jane Doe | Reuters"), author field
(an author that *is* an agency), metadata hint (structured attribution only). The strongest
signal found names the wire; ties go to the earliest one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._models import Removal

if TYPE_CHECKING:
    from ._boilerplate import _LineFilter

__all__ = ["WIRES", "WireResult", "canonical_wire", "detect_wire"]

# Canonical name -> spellings seen in attribution (matched case-insensitively, whole words).
WIRES: dict[str, tuple[str, ...]] = {
    "Reuters": ("Thomson Reuters", "Thomson/Reuters", "Thomson-Reuters", "Reuters"),
    "AP": ("The Associated Press", "Associated Press", "AP"),
    "AFP": ("Agence France-Presse", "Agence France Presse", "AFP"),
    "Bloomberg": ("Bloomberg News", "Bloomberg L.P.", "Bloomberg LP", "Bloomberg"),
    "dpa": ("Deutsche Presse-Agentur", "dpa"),
    "UPI": ("United Press International", "UPI"),
    "ANI": ("Asian News International", "ANI"),
    "PTI": ("Press Trust of India", "PTI"),
    "IANS": ("Indo-Asian News Service", "IANS"),
    "Xinhua": ("Xinhua News Agency", "Xinhua"),
    "Kyodo": ("Kyodo News", "Kyodo"),
    "EFE": ("Agencia EFE", "EFE"),
    "ANSA": ("ANSA",),
    "Yonhap": ("Yonhap News Agency", "Yonhap"),
    "TASS": ("ITAR-TASS", "TASS"),
    "CNA": ("Central News Agency", "CNA"),
}

_ALIAS: dict[str, str] = {
    alias.casefold(): name for name, aliases in WIRES.items() for alias in (*aliases, name)
}
# Longest first so "Thomson Reuters" wins over "Reuters" inside one alternation.
_AGENCY = "|".join(
    re.escape(a) for a in sorted({a for al in WIRES.values() for a in al}, key=len, reverse=True)
)

_RANK = {
    "copyright": 0,
    "marker": 1,
    "dateline": 2,
    "credit": 3,
    "byline": 4,
    "author": 5,
    "hint": 6,
}


def canonical_wire(name: str) -> str | None:
    """Canonical agency name for a spelling ("Thomson Reuters" -> "Reuters"), or None."""
    key = _WS_RUN.sub(" ", name.strip().strip(".").strip()).casefold()
    key = key.removeprefix("by ").strip()
    return _ALIAS.get(key)


_WS_RUN = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")


# "© 2024 Thomson/Reuters. All rights reserved.", "Copyright 2024 The Associated Press. All ...",
# "(c) Copyright Thomson Reuters 2024", "© Agence France-Presse".
_COPYRIGHT = re.compile(
    r"^(?:(?:©|\(c\)|copyright)\s*)+(?:\(?\d{4}(?:\s*[-–]\s*\d{4})?\)?\s*)?"
    rf"(?P<agency>{_AGENCY})\b[^\n]{{0,240}}$",
    re.IGNORECASE,
)
# "(MENAFN- Reuters)": MENAFN names its source; only a wire agency makes the copy a wire copy.
_MARKER = re.compile(r"\(MENAFN\s*[-–]\s*(?P<source>[^)\n]{1,80})\)")
# "LONDON (Reuters) -", "WASHINGTON (AP) —", "New Delhi, Oct 17 (IANS)", "(Bloomberg) --",
# "BEIJING, Oct. 17 (Xinhua) --", "New Delhi [India], October 17 (ANI):", "Madrid, 17 Oct (EFE).-".
# Place words are capitalised (or numbers, or short particles as in "Rio de Janeiro"): a sentence
# such as "Officials told the Associated Press (AP) that ..." is not a dateline.
_PLACE_WORD = r"(?:[A-Z\[][\w.'’\]-]*|\d{1,4}[\w.]*|de|da|do|del|la|le|al|el|of|upon|am|an|sur)"
_DATELINE = re.compile(
    rf"^(?P<prefix>(?:[A-Z][\w.'’-]*(?:[ ,/]+{_PLACE_WORD}){{0,7}}\s*)?"
    rf"\((?P<agency>{_AGENCY})\)\s*(?P<sep>\.?-+|[-–—:]+|\.-)?\s*)(?=\S)",
)
_DATELINE_TASS = re.compile(r"^(?P<prefix>[A-Z][\w .'-]{1,40}, [\w .]{3,25}/(?P<agency>TASS)/\.?\s*)(?=\S)")
_DATELINE_ANSA = re.compile(
    r"^(?P<prefix>\((?P<agency>ANSA)\)\s*[-–—]\s*(?:[A-Z][A-Z .'-]{1,30},?\s*[A-Z]{3}\s*\d{1,2}\s*[-–—]\s*)?)(?=\S)"
)
# "(Reporting by Jane Doe in Kyiv; Editing by John Roe)", "Writing by ...; Editing by ...".
_CREDIT_REUTERS = re.compile(
    r"^\(?\s*(?:additional\s+)?(?:reporting|writing|compiled|reported)\s+by\b[^\n]{0,400}?"
    r"\b(?:editing|edited)\s+by\b[^\n]{0,200}$",
    re.IGNORECASE,
)
_CREDIT_TRUST = re.compile(r"^Our Standards:\s*The Thomson Reuters Trust Principles\.?$", re.IGNORECASE)
# "Associated Press writer Jane Doe in Kyiv contributed to this report." names contributors: cut, no
# wire (a local story with some agency reporting is not an agency copy).
_CONTRIB = re.compile(
    rf"^(?:The\s+)?(?:{_AGENCY})(?:\s+(?:writers?|reporters?|correspondents?|staff))?[^\n]{{0,200}}?"
    r"\bcontributed(?:\s+to\s+this\s+(?:report|story|article))?\.?$",
    re.IGNORECASE,
)
# "By Jane Doe | Reuters", "By Jane Doe, Reuters", "By Reuters Staff", "By The Associated Press".
_BYLINE = re.compile(
    rf"^By\s+(?:[^\n|]{{1,80}}?\s*(?:\||,|\(|-|–|—|\bof\b)\s*)?(?:the\s+)?(?P<agency>{_AGENCY})"
    r"(?:\s+(?:staff|news|reporters?))?\)?\.?$",
    re.IGNORECASE,
)
# A lone agency name (optionally with a photographer) under a picture: a picture credit.
_PHOTO_CREDIT = re.compile(
    rf"^(?:(?:{_AGENCY})(?:\s+Photos?|\s+Images)?(?:\s*/\s*[\w .'’-]{{1,60}})*|(?:{_AGENCY})\s+via\s+Getty\s+Images)$"
)


@dataclass(frozen=True, slots=True)
class WireResult:
    """The agency (or None), the blocks without attribution, and what was cut."""

    wire: str | None
    blocks: list[str]
    removed: list[Removal] = field(default_factory=list)


def _short(text: str, limit: int = 200) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _from_alias(text: str) -> str | None:
    return canonical_wire(text)


def _memoised(
    memo: dict[str, Any], text: str, compute: Callable[[str], Any], check: Callable[[str], Any] | None
) -> Any:
    """``compute(text)``, remembered per distinct text in a bounded memo (boilerplate lines and
    syndicated paragraphs repeat across pages); None without computing when the combined
    pre-check rules out every pattern."""
    found = memo.get(text, _MISS)
    if found is _MISS:
        may = check is None or _MARKER_LITERAL in text or "\n" in text or check(text)
        found = compute(text) if may else None
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[text] = found
    return found


def detect_wire(
    blocks: Sequence[str],
    *,
    title: str = "",
    authors: Sequence[str] = (),
    hints: Sequence[str] = (),
    evidence: Sequence[str] = (),
    dateline_window: int = 3,
) -> WireResult:
    """Find the wire agency of a page and cut its attribution lines.

    ``blocks`` are the body paragraphs (or lines) in order. ``evidence`` are texts already cut by
    other rules (a publisher footer rule may have removed the copyright line): they are scanned for
    the strong signals only and never changed. ``title`` is accepted for symmetry with the other
    cleaners; headlines carry no attribution and are not used as evidence.
    """
    del title
    found: list[tuple[int, int, str]] = []  # (rank, order, wire)
    kept: list[str] = []
    removed: list[Removal] = []
    order = 0

    def note(kind: str, wire: str | None) -> None:
        nonlocal order
        if wire is not None:
            found.append((_RANK[kind], order, wire))
        order += 1

    # Cheap exact pre-check (False only when no attribution pattern can match a line): the
    # anchored patterns at once (see _boilerplate._LineFilter), the MENAFN marker by its literal.
    prefilter = _prefilter()
    check = prefilter.may_match if prefilter is not None else None
    dateline_done = False
    last = len(blocks) - 1
    for position, raw in enumerate(blocks):
        block = raw.strip()
        if not block:
            continue
        if position == last and block == "Reuter":
            # The Reuters wire's sign-off line (as in the Reuters-21578 collection).
            note("credit", "Reuters")
            removed.append(Removal(rule="wire:signoff", text=block))
            continue
        hit = _memoised(_ATTRIBUTION, block, _attribution, check)
        if hit is not None:
            if hit.kind is not None:
                note(hit.kind, hit.wire)
            removed.append(hit.removal)
            if not hit.rest:
                continue
            block = hit.rest
        if not dateline_done and len(kept) < dateline_window:
            cut = _cut_dateline(block)
            if cut is not None:
                dateline_done = True
                prefix, agency, rest = cut
                note("dateline", agency)
                removed.append(Removal(rule="wire:dateline", text=_short(prefix)))
                if rest:
                    kept.append(rest)
                continue
        kept.append(block)
        if len(block) > 200:
            # Datelines open the story: once real prose has passed, stop looking for one.
            dateline_done = True

    for raw in evidence:
        text = raw.strip()
        signal = _memoised(_SIGNAL, text, _signal, check)
        if signal is not None:
            note(*signal)

    for author in authors:
        note("author", _author_wire(author))
    for hint in hints:
        note("hint", _hint_wire(hint))

    wire = min(found)[2] if found else None
    return WireResult(wire=wire, blocks=kept, removed=removed)


@dataclass(frozen=True, slots=True)
class _Attribution:
    """What an attribution line means: the cut, and the evidence it gives (if any)."""

    removal: Removal
    kind: str | None
    """The signal's rank name, or None for a cut that is no evidence (contributors, photo credit)."""
    wire: str | None
    rest: str | None = None
    """For a MENAFN marker: the block without it ("" when nothing is left)."""


def _attribution(block: str) -> _Attribution | None:
    """The attribution rules, strongest first, on one stripped block (the sign-off aside)."""
    match = _COPYRIGHT.match(block)
    if match and len(block) <= 400:
        return _Attribution(
            Removal(rule="wire:copyright", text=_short(block)),
            "copyright",
            _from_alias(match.group("agency")),
        )
    if (_CREDIT_REUTERS.match(block) and len(block) <= 500) or _CREDIT_TRUST.match(block):
        return _Attribution(Removal(rule="wire:credit", text=_short(block)), "credit", "Reuters")
    if _CONTRIB.match(block) and len(block) <= 300:
        return _Attribution(Removal(rule="wire:contributors", text=_short(block)), None, None)
    match = _BYLINE.match(block)
    if match and len(block) <= 120:
        return _Attribution(
            Removal(rule="wire:byline", text=_short(block)), "byline", _from_alias(match.group("agency"))
        )
    if _PHOTO_CREDIT.match(block) and len(block) <= 80:
        # A picture credit such as "AP" or "Reuters/Jane Doe": not an attribution of the text.
        return _Attribution(Removal(rule="wire:photo-credit", text=_short(block)), None, None)
    marker = _MARKER.search(block)
    if marker and marker.start() <= 3:
        rest = (block[: marker.start()] + block[marker.end() :]).strip(" -–—:")
        return _Attribution(
            Removal(rule="wire:marker", text=_short(marker.group(0))),
            "marker",
            canonical_wire(marker.group("source")),
            rest,
        )
    return None


def _signal(text: str) -> tuple[str, str | None] | None:
    """The strong signal (rank name, wire) of a text another rule already cut, or None."""
    match = _COPYRIGHT.match(text)
    if match and len(text) <= 400:
        return "copyright", _from_alias(match.group("agency"))
    marker = _MARKER.search(text)
    if marker:
        return "marker", canonical_wire(marker.group("source"))
    if _CREDIT_REUTERS.match(text) or _CREDIT_TRUST.match(text):
        return "credit", "Reuters"
    match = _BYLINE.match(text)
    if match and len(text) <= 120:
        return "byline", _from_alias(match.group("agency"))
    return None


# Every _MARKER match contains this string (checked by the tests against the pattern).
_MARKER_LITERAL = "(MENAFN"


# Attribution lines repeat on every copy of a wire story (and syndicated paragraphs on every
# copy): the outcome per distinct line is remembered. Bounded: a full memo starts over.
_MEMO_SIZE = 16384
_MISS: Any = object()
_ATTRIBUTION: dict[str, _Attribution | None] = {}
_SIGNAL: dict[str, tuple[str, str | None] | None] = {}


@functools.cache
def _prefilter() -> _LineFilter | None:
    from ._boilerplate import _LineFilter  # imported late: _boilerplate imports this module

    return _LineFilter.build(
        [_COPYRIGHT, _CREDIT_REUTERS, _CREDIT_TRUST, _CONTRIB, _BYLINE, _PHOTO_CREDIT],
        at_start=False,
    )


def _cut_dateline(block: str) -> tuple[str, str, str] | None:
    """Split "LONDON (Reuters) - Text" into (prefix, wire, "Text"), or None."""
    if "(" not in block and "/TASS/" not in block:
        return None  # every dateline form has "(agency)" or "/TASS/" (cheap exact pre-check)
    for pattern in (_DATELINE_ANSA, _DATELINE_TASS, _DATELINE):
        match = pattern.match(block)
        if not match:
            continue
        prefix = match.group("prefix")
        if len(prefix) > 90:
            continue
        groups = match.groupdict()
        place = prefix[: prefix.find("(")] if "(" in prefix else ""
        if (
            "sep" in groups
            and not groups["sep"]
            and place.strip()
            and not _DIGIT.search(place)
            and not place.isupper()
        ):
            # "New Delhi, Oct 17 (IANS) Text" carries a date; without a dash and without a date,
            # "Some Capitalised Words (AP) text" is more likely a sentence than a dateline.
            continue
        wire = canonical_wire(match.group("agency"))
        if wire is None:
            continue
        rest = block[match.end() :].lstrip(" -–—:")
        return prefix.strip(), wire, rest
    return None


_AUTHOR_PAREN = re.compile(rf"\((?P<agency>{_AGENCY})\)\s*$")


def _author_wire(author: str) -> str | None:
    """An author field that *is* an agency ("Reuters", "By AP", "Jane Doe (AP)") names the wire."""
    text = author.strip()
    wire = canonical_wire(text)
    if wire:
        return wire
    match = _AUTHOR_PAREN.search(text) or _BYLINE.match(
        text if text.lower().startswith("by ") else "By " + text
    )
    if match:
        return canonical_wire(match.group("agency"))
    return None


def _hint_wire(hint: str) -> str | None:
    """A metadata string that *attributes* the text to an agency.

    Only structured attribution counts (a copyright notice, a dateline, an agency byline, a MENAFN
    marker, a ``source=`` value): a bare "AP" or "Reuters" in page metadata is as likely to be a
    picture credit as a source, so it is not evidence on its own.
    """
    text = hint.strip()
    if len(text) > 400:
        return None
    key, sep, value = text.partition("=")
    if sep and "source" in key.lower() and len(key) < 40:
        return canonical_wire(value)
    match = _COPYRIGHT.match(text)
    if match:
        return canonical_wire(match.group("agency"))
    marker = _MARKER.search(text)
    if marker:
        return canonical_wire(marker.group("source"))
    cut = _cut_dateline(text + " .")
    if cut is not None:
        return cut[1]
    match = _BYLINE.match(text)
    if match and len(text) <= 120:
        return canonical_wire(match.group("agency"))
    return None
