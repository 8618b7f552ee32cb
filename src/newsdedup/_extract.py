"""HTML page to clean :class:`Article`: metadata, main-text detection, boilerplate removal.

The extractor does not trust any single signal. It (1) reads metadata and JSON-LD; (2) scores
containers by the paragraphs they hold (length, commas, link density, class words) to find the
likely article containers, which are protected; (3) cuts boilerplate elements by tag, ARIA role
or class/id words (navigation, share bars, cookie banners, newsletter boxes, related/trending
lists, comments, captions...), except protected ones and ones holding most of the page's text;
(4) walks the remaining body once into text blocks, scores again, climbs from the best container
to an ancestor holding clearly more prose (bodies split over several boxes), adds content
siblings and a detached lead, and drops link lists and widget lines; (5) compares the result with
the JSON-LD ``articleBody`` and uses that when it checks out and the DOM result is clearly worse;
(6) hands the blocks to the publisher-rule stage (:func:`newsdedup._boilerplate.clean_blocks`).

Every walk is iterative and every per-page cost is bounded by ``ExtractConfig`` limits, so hostile
pages (100k nested elements, 50 MB bodies, binary blobs) end with an empty article and a
``reason`` instead of a crash or a hang.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from itertools import accumulate
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ._boilerplate import BoilerplateLearner, RuleSet, check_rules, clean_blocks, dom_selectors
from ._decode import decode_bytes, looks_binary
from ._exceptions import ConfigError, ExtractError, finite_number
from ._extract_rules import CANDIDATE_SELECTOR, LANDMARK_SELECTOR, ClassCache, class_weight, classify
from ._metadata import PageMeta, read_metadata
from ._models import Article, Removal
from ._text import MAX_TEXT_CHARS, drop_invisible, scrub_text

__all__ = ["ExtractConfig", "extract"]

logger = logging.getLogger("newsdedup")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtractConfig:
    """Limits and switches for :func:`extract`; validated on construction."""

    max_bytes: int = MAX_TEXT_CHARS
    """Inputs larger than this (bytes, or characters for ``str``) are not parsed: ``reason="too-large"``
    (20 million by default, the limit :func:`newsdedup.clean_text` has for a plain text)."""
    max_nodes: int = 500_000
    """Pages with more elements than this are not analysed: ``reason="too-many-nodes"``."""
    max_depth: int = 4_000
    """Pages nested deeper than this are not parsed (HTML tree building slows down quadratically
    with depth): ``reason="too-deep"``."""
    min_text_chars: int = 60
    """Body text shorter than this is treated as no text found: ``reason="no-main-text"``."""
    min_paragraph_chars: int = 25
    """Paragraphs shorter than this do not vote for their container."""
    max_link_density: float = 0.5
    """Blocks whose share of link text is above this are dropped as link lists."""
    include_comments: bool = False
    """Keep reader-comment sections (normally cut as boilerplate)."""
    include_tables: bool = True
    """Keep text of tables inside the article body."""
    use_json_ld: bool = True
    """Consider the JSON-LD ``articleBody`` as the body when it checks out against the page."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("bool",) or isinstance(f.default, bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"ExtractConfig.{f.name} must be a bool, got {value!r}")
            elif isinstance(f.default, int):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ConfigError(f"ExtractConfig.{f.name} must be a non-negative int, got {value!r}")
            elif isinstance(f.default, float) and (not finite_number(value) or not 0.0 <= value <= 1.0):
                raise ConfigError(f"ExtractConfig.{f.name} must be a number in [0, 1], got {value!r}")
        if self.max_bytes == 0:
            raise ConfigError("ExtractConfig.max_bytes must be positive")
        if self.max_nodes == 0:
            raise ConfigError("ExtractConfig.max_nodes must be positive")
        if self.max_depth == 0:
            raise ConfigError("ExtractConfig.max_depth must be positive")


_DEFAULT_CONFIG = ExtractConfig()

# --------------------------------------------------------------------------- boilerplate selectors

_STRIP_TAGS = [
    "script", "style", "template", "svg", "math", "iframe", "object", "embed", "canvas",
    "video", "audio", "select", "button", "input", "textarea", "link", "meta", "head", "map", "dialog",
]  # fmt: skip

_STRIP_SELECTOR = f"*:is(noscript, {', '.join(_STRIP_TAGS)})"

_BLOCK_TAGS = frozenset([
    "p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "dl",
    "dt", "dd", "blockquote", "pre", "table", "tr", "td", "th", "tbody", "thead", "tfoot", "caption",
    "figure", "figcaption", "header", "footer", "aside", "nav", "address", "hr", "center", "body", "html",
    "details", "summary",
])  # fmt: skip
_HEADINGS = frozenset(["h1", "h2", "h3", "h4", "h5", "h6"])
_SUBHEADINGS = frozenset(["h2", "h3", "h4", "h5", "h6"])
_PARA_SELECTOR = "p, pre, td, blockquote"
_PARA_TAGS = frozenset(["p", "pre", "td", "blockquote"])
_INNER_BLOCKS = "div, p, section, article, main, ul, ol, dl, table, h1, h2, h3, h4, li, blockquote, pre, form"
_LEAF_SELECTOR = ", ".join(
    f"{t}:not(:has({_INNER_BLOCKS}))" for t in ("div", "section", "article", "main", "font", "center")
)
_PENALISED = frozenset(["dom:comments", "dom:related", "dom:footer", "dom:cookie"])
_SENTENCE_END = re.compile(r"[.!?…。！？]\W*$")
_JUNK_LINE = re.compile(
    r"^(?:advertisement|advertising|anzeige|publicité|publicidad|werbung|sponsored(?: content)?|"
    r"scroll to continue(?: with content)?|story continues below(?: advertisement)?|"
    r"continue reading(?: below| the main story)?|read more|share(?: this)?(?: article| story| post)?|"
    r"click here|loading\.{0,3}|related(?: articles| stories| posts| coverage)?|more on this story|"
    r"top stories|most read|trending(?: now)?|you may also like|recommended(?: for you)?|"
    # The same widget headings in the languages of the evaluation sets (de, fr, es, it, pl, nl).
    r"mehr zum thema|zum weiterlesen|weiterlesen|lesen sie auch|auch interessant|"
    r"das könnte sie auch interessieren|weitere artikel|kommentieren|"
    r"lire aussi|à lire aussi|sur le même sujet|lee también|te puede interesar|leggi anche|"
    r"czytaj (?:też|także)|zobacz (?:też|także)|lees ook|"
    # Reader-service lines: "was this helpful", "share this page", print / image controls.
    r"schon gelesen|neueste (?:artikel|beiträge|nachrichten)|mehr themen|lesen sie auch(?: die folgenden \w+)?|"
    r"das (?:thema|könnte dich) (?:könnte dich auch|auch) interessieren|"
    r"war (?:der|dieser) (?:artikel|beitrag) (?:hilfreich|nützlich)|(?:möchten sie )?(?:den|diesen) artikel teilen|"
    r"seite teilen|artikel teilen|zum shop|quellen (?:ein|aus)blenden|rezept drucken(?: bei pinterest speichern)?|"
    r"bild (?:anzeigen|vergrößern)(?: bild schließen)?|vous aimerez aussi|(?:audios et )?vidéos sur le sujet|"
    r"veja também|leia também|was this (?:article|story|page) (?:helpful|useful)|share this page|"
    r"latest (?:news|articles|posts|stories)|more (?:news|stories|articles)|you might also like|"
    r"(?:permalink|permalien)(?::? https?://\S+)?)\W*$",
    re.IGNORECASE,
)
# A short "Updated: 3 April 2020" / "Aktualisiert am 03.04.2020" line is a timestamp, not prose.
_DATE_LINE = re.compile(
    r"^(?:updated|last updated|published|posted|aktualisiert|veröffentlicht|stand|erstellt|mis à jour|"
    r"publié le|actualizado|publicado|aggiornato|pubblicato|zaktualizowano|opublikowano)\b[^.!?]{0,60}\d",
    re.IGNORECASE,
)

# Metadata lines that the page template prints above or below the story: "By Jane Doe | Reuters |
# 4 min read", "Source: Reuters · Mar 25, 1987 15:50 ET", "Posted 1987-03-25 | 3 min read". A line
# is split at separators (| · • and spaced dashes); it is metadata when every part is a byline,
# a date or time, a reading time, a "Source:" credit or an "Updated ..." stamp, or a short name
# next to one of those. Parts that read as a sentence ("By the end of the day, ...") never match.
_META_SPLIT = re.compile(r"\s*[|·•]\s*|\s+[–—-]\s+")
_NAME = r"[A-ZÀ-ÖØ-Þ][\w.'’-]*(?:\s+(?:[A-ZÀ-ÖØ-Þ][\w.'’-]*|de|da|di|del|van|von|der|den|la|le|bin|al|y))*"
_BYLINE_PART = re.compile(
    rf"^(?i:by|von|par|por|di|door|przez|written by|reporting by|words by)\s+(?:(?i:the)\s+)?"
    rf"{_NAME}(?:\s*(?:,|&|\band\b|\bund\b|\bet\b|\by\b|\be\b|\bi\b|\ben\b)\s*{_NAME})*"
    r"(?:,?\s+(?i:staff writer|staff reporter|correspondent|reporter|editor|contributor|in [A-Z][\w ]{0,30}))?\.?$"
)
_MONTH = (
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|july|"
    r"august|september|october|november|december|januar|februar|märz|mai|juni|juli|oktober|dezember|"
    r"janvier|février|mars|avril|juin|juillet|août|septembre|octobre|novembre|décembre|enero|febrero|"
    r"marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre)\.?"
)
_WEEKDAY = (
    r"(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|sday|urday|rsday)?\.?|"
    r"montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|lundi|mardi|mercredi|jeudi|vendredi|"
    r"samedi|dimanche|lunes|martes|miércoles|jueves|viernes|sábado|domingo"
)
_TIME = (
    r"\d{1,2}[:.h]\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?|uhr|h)?"
    r"(?:\s*\(?(?:ET|EST|EDT|CT|CST|CDT|PT|PST|PDT|GMT|UTC|BST|CET|CEST|MEZ|MESZ|IST|JST|AEST|AEDT)\)?)?"
)
_DATE_PART = re.compile(
    rf"^(?:(?:{_WEEKDAY}),?\s+)?(?:"
    rf"\d{{4}}-\d{{2}}-\d{{2}}(?:[T ]{_TIME}(?:Z|[+-]\d{{2}}:?\d{{2}})?)?|"
    rf"\d{{1,2}}[./]\d{{1,2}}[./]\d{{2,4}}|"
    rf"\d{{1,2}}\.?\s+{_MONTH}(?:\s+\d{{4}})?|"
    rf"{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?(?:\s+\d{{4}})?|"
    rf"{_MONTH}\s+\d{{4}}"
    rf")(?:,?\s+(?:at\s+|um\s+|à\s+|a las\s+)?{_TIME})?$|^(?:at\s+)?{_TIME}$",
    re.IGNORECASE,
)
_READING_PART = re.compile(
    r"^(?:(?:reading|read|lese|lesedauer|lesezeit|temps de lecture|tiempo de lectura)\s*(?:time)?\s*:?\s*)?"
    r"(?:about\s+|ca\.\s+|~\s*)?\d{1,3}\s*(?:-\s*)?(?:min(?:ute)?s?|minuten|minutes?|minutos?)\.?"
    r"(?:\s+(?:read|reading|read time|lesezeit|lesedauer|de lecture|de lectura))?$",
    re.IGNORECASE,
)
_SOURCE_PART = re.compile(
    r"^(?:source|sources|quelle|fuente|fonte|źródło|bron)\s*:\s*(?P<name>[^.!?:]{2,60})$", re.IGNORECASE
)
# Every strong part has a digit or starts with a byline or source word: a cheap first test.
_META_HINT = re.compile(
    r"\d|(?:^|[|·•–—-]\s*)(?:by|von|par|por|di|door|przez|written|reporting|words|source|sources|quelle|fuente|"
    r"fonte|źródło|bron)\b",
    re.IGNORECASE,
)
_SHORT_NAME_PART = re.compile(rf"^(?:{_NAME}|[A-Z]{{2,6}}(?:/[A-Z]{{2,6}})?)$")


def _meta_line(text: str) -> str | None:
    """If ``text`` is a byline/dateline/reading-time/source line, the producer it names (or "")."""
    if len(text) > 160 or (_META_HINT.search(text) is None):
        return None
    parts = [part for part in _META_SPLIT.split(text) if part]
    if not parts or len(parts) > 6:
        return None
    strong = False
    names: list[str] = []
    for part in parts:
        if len(part) > 80:
            return None
        if _BYLINE_PART.match(part) or _READING_PART.match(part) or _DATE_PART.match(part):
            strong = True
        elif (source := _SOURCE_PART.match(part)) is not None:
            strong = True
            names.append(source.group("name").strip())
        elif _DATE_LINE.match(part) and len(part) < 70:
            strong = True
        elif _SHORT_NAME_PART.match(part) and len(part) <= 40 and len(parts) > 1:
            names.append(part)
        else:
            return None
    return ", ".join(names) if strong else None


@dataclass(slots=True)
class _Block:
    """A paragraph being collected: lines (split at <br>) of text pieces, link characters per line."""

    lines: list[list[str]]
    links: list[int]
    kind: str
    owner: int


@dataclass(slots=True)
class _TextBlock:
    """One line of a block. Not frozen: a frozen dataclass's ``__init__`` goes through
    ``object.__setattr__`` per field, several times slower, and pages have hundreds of these
    (nothing mutates them)."""

    text: str
    link_chars: int
    kind: str
    owner: int
    """mem_id of the block element the text belongs to."""


_SKIPPED = -3


def _short(text: str, limit: int = 200) -> str:
    """Whitespace-collapsed text cut to ``limit`` characters (only the head is normalised)."""
    text = " ".join(text[: limit * 4].split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _attached(node: LexborNode, root_id: int, limit: int = 400) -> bool:
    """True if ``node`` still hangs below the document root (bounded walk; deep trees say True)."""
    cur: LexborNode | None = node
    for _ in range(limit):
        if cur is None:
            return False
        if cur.mem_id == root_id:
            return True
        cur = cur.parent
    return True


def _remove_boilerplate(
    body: LexborNode,
    config: ExtractConfig,
    extra: Sequence[str],
    protected: set[int],
    body_len: int,
    removed: list[Removal],
    light: bool = False,
) -> None:
    """Cut boilerplate elements (``light``: only the unambiguous kinds, for the second attempt).

    Publisher selectors always apply. Structural rules spare the elements in ``protected`` (the
    likely article container and its ancestors: a wrapper with class "comments-open" is not a
    comment box) and any element holding most of the page's text.
    """
    root_id = body.mem_id
    guard = max(600, int(body_len * 0.6))
    for selector in extra:
        try:
            matches = body.css(selector)
        except Exception as exc:  # a malformed publisher selector must not fail the page
            logger.debug("skipping publisher selector %r: %s", selector, exc)
            continue
        for node in matches:
            if node.mem_id != root_id and _attached(node, root_id):
                text = node.text(separator=" ")
                node.remove()
                if text.strip():
                    removed.append(Removal(rule="rules:dom", text=_short(text)))
    cache: ClassCache = {}
    include_comments = config.include_comments
    # Big landmarks first (cheap tag/role selector), so the class pass sees a smaller tree. Lexbor
    # returns matches in document order: ":is()" gives each element once, a plain selector list
    # (cheaper to evaluate) once per selector it matches, so repeats are skipped. ``remove()``
    # unlinks every node of the removed subtree, so a match inside an element cut earlier has no
    # parent: it is skipped with one pointer test instead of a walk up the tree or a second run.
    for selector in (LANDMARK_SELECTOR, _CANDIDATES_IN_ORDER):
        seen: set[int] = set()
        for node in body.css(selector):
            key = node.mem_id
            if key in seen or key in protected or key == root_id or node.parent is None:
                continue
            seen.add(key)
            rule = classify(node, include_comments=include_comments, cache=cache)
            if rule is None or (light and rule not in _LIGHT_RULES):
                continue
            if rule == "dom:header" and _inside(node, _ARTICLE_TAGS):
                continue  # an article's own header holds the standfirst; its byline goes by class
            text = node.text(separator=" ")
            size = len(text.strip())
            if size > guard:
                continue
            node.remove()
            if size:
                removed.append(Removal(rule=rule, text=_short(text)))


# Kinds cut on the second attempt, when the first found no text: hidden elements, captions and
# slideshows, bylines and tag lists are kept then (pages whose story sits in a slideshow or in
# "load more" panels hidden by CSS).
_LIGHT_RULES = frozenset([
    "dom:nav", "dom:header", "dom:footer", "dom:aside", "dom:form", "dom:cookie", "dom:comments",
    "dom:share", "dom:newsletter", "dom:ad", "dom:related",
])  # fmt: skip
_CANDIDATES_IN_ORDER = f"*:is({CANDIDATE_SELECTOR}):not(img, picture, source, br, hr)"  # no text to cut
_ARTICLE_TAGS = frozenset(["article", "main"])
_DECLARED_BODY = '[itemprop="articleBody" i], .hentry .entry-content, .post-body.entry-content'


def _inside(node: LexborNode, tags: frozenset[str], limit: int = 30) -> bool:
    cur = node.parent
    for _ in range(limit):
        if cur is None:
            return False
        if cur.tag in tags:
            return True
        cur = cur.parent
    return False


def _ancestors(
    node: LexborNode | None, limit: int = 2000, comments: dict[int, bool] | None = None
) -> set[int]:
    """mem_ids of the node and its ancestors, except comment sections (never worth protecting).

    ``comments`` memoises the comment-section test by mem_id across calls (candidates share
    most of their ancestors)."""
    out: set[int] = set()
    cache: ClassCache = {}
    memo: dict[int, bool] = comments if comments is not None else {}
    steps = 0
    while node is not None and steps < limit:
        steps += 1
        key = node.mem_id
        if steps > 30:
            out.add(key)
        else:
            is_comments = memo.get(key)
            if is_comments is None:
                is_comments = memo[key] = classify(node, cache=cache) == "dom:comments"
            if not is_comments:
                out.add(key)
        node = node.parent
    return out


# --------------------------------------------------------------------------- candidate scoring


def _commas(text: str) -> int:
    """Commas, including the Arabic and ideographic ones (a sign of sentences, not menus)."""
    if text.isascii():
        return text.count(",")
    return text.count(",") + text.count("،") + text.count("、") + text.count("，")


def _link_density(node: LexborNode, text_len: int, links: dict[int, int] | None = None) -> float:
    """Share of the text that sits in links. ``links`` memoises each link's text length by
    mem_id while the tree does not change (nested candidates share their links)."""
    if text_len <= 0:
        return 1.0
    if links is None:
        total = sum(len(a.text(separator=" ").strip()) for a in node.css("a"))
    else:
        total = 0
        for a in node.css("a"):
            key = a.mem_id
            size = links.get(key)
            if size is None:
                size = links[key] = len(a.text(separator=" ").strip())
            total += size
    return min(1.0, total / text_len)


def _score(body: LexborNode, config: ExtractConfig) -> tuple[dict[int, float], dict[int, LexborNode]]:
    """Readability-style votes: each paragraph adds to its container, less to the ones above."""
    scores: dict[int, float] = {}
    nodes: dict[int, LexborNode] = {}
    min_chars = config.min_paragraph_chars
    paragraphs = body.css(_PARA_SELECTOR)
    # Text outside <p> votes too: containers that hold only inline text (spans, <br>s, links).
    paragraphs.extend(body.css(_LEAF_SELECTOR))
    for para in paragraphs:
        is_div = para.tag not in _PARA_TAGS
        text = para.text(separator=" ").strip()
        length = len(text)
        if length < min_chars:
            continue
        score = 1.0 + _commas(text) + min(length / 100.0, 3.0)
        holder: LexborNode | None = para if is_div else para.parent
        level = 0
        while holder is not None and level < 3:
            key = holder.mem_id
            if key not in nodes:
                nodes[key] = holder
                scores[key] = 0.0
            scores[key] += score if level == 0 else score / (2.0 if level == 1 else level * 3.0)
            holder = holder.parent
            level += 1
    return scores, nodes


def _adjusted(node: LexborNode, score: float, links: dict[int, int] | None = None) -> float:
    text_len = len(node.text(separator=" ").strip())
    return score * (1.0 - _link_density(node, text_len, links))


def _is_widget(node: LexborNode, cache: ClassCache) -> bool:
    return node.tag in ("aside", "nav", "footer") or classify(node, cache=cache) in _PENALISED


def _in_widget(
    node: LexborNode, cache: ClassCache, levels: int = 5, memo: dict[int, int] | None = None
) -> bool:
    """True if the node or one of its near ancestors is a comment box, sidebar, related list...

    ``memo`` keeps each element's verdict by mem_id (0: body/html, the walk stops; 1: a widget;
    2: neither), for candidates that share ancestors."""
    cur: LexborNode | None = node
    for _ in range(levels):
        if cur is None:
            return False
        key = cur.mem_id
        kind = memo.get(key) if memo is not None else None
        if kind is None:
            tag = cur.tag
            if tag in ("body", "html"):
                kind = 0
            elif tag in ("aside", "nav", "footer") or classify(cur, cache=cache) in _PENALISED:
                kind = 1
            else:
                kind = 2
            if memo is not None:
                memo[key] = kind
        if kind != 2:
            return kind == 1
        cur = cur.parent
    return False


def _ranked(
    scores: dict[int, float],
    nodes: dict[int, LexborNode],
    floor: float = 1.0,
    links: dict[int, int] | None = None,
) -> list[tuple[float, int, bool]]:
    """Best containers first: (score after link density and widget penalty, mem_id, in a widget).

    Penalties only lower a score, so candidates whose raw score is below ``floor`` times the best
    adjusted score so far cannot matter and are not measured (link density costs a text pass).
    """
    out: list[tuple[float, int, bool]] = []
    cache: ClassCache = {}
    widgets: dict[int, int] = {}
    # sorted(...)[:10] is what heapq.nlargest(10, ...) is specified to equal (ties included), and
    # is faster here: the sort runs in C with a C key function.
    raw = {
        key: scores[key] + class_weight(nodes[key])
        for key in sorted(scores, key=scores.__getitem__, reverse=True)[:10]
    }
    best = float("-inf")
    for key in sorted(raw, key=raw.__getitem__, reverse=True)[:6]:
        if out and raw[key] <= floor * best:
            break
        adjusted = _adjusted(nodes[key], raw[key], links)
        widget = _in_widget(nodes[key], cache, memo=widgets)
        if widget:
            adjusted *= 0.25
        out.append((adjusted, key, widget))
        best = max(best, adjusted)
    out.sort(key=lambda item: item[0], reverse=True)
    return out


def _top(
    scores: dict[int, float], nodes: dict[int, LexborNode], links: dict[int, int] | None = None
) -> tuple[LexborNode | None, float]:
    ranked = _ranked(scores, nodes, links=links)
    if not ranked:
        return None, 0.0
    return nodes[ranked[0][1]], ranked[0][0]


def _protected(scores: dict[int, float], nodes: dict[int, LexborNode]) -> set[int]:
    """Ancestors of the likely article containers: structural rules may not cut them.

    Several candidates are protected because a class keyword can sit on the real article
    ("js-truncate-related", "non-paywall"); the final choice happens after the cut anyway.
    """
    ranked = _ranked(scores, nodes, floor=0.5, links={})
    out: set[int] = set()
    if not ranked:
        return out
    best = ranked[0][0]
    comments: dict[int, bool] = {}
    for adjusted, key, widget in ranked[:3]:
        if key == ranked[0][1] or (not widget and adjusted >= 0.5 * best):
            out |= _ancestors(nodes[key], comments=comments)
    return out


def _final_roots(body: LexborNode, config: ExtractConfig) -> tuple[list[LexborNode], list[_TextBlock]]:
    """After the boilerplate cut: the article container (climbing to a parent that holds clearly
    more prose, for bodies split into several boxes), plus sibling containers that are content too.

    Scoring here uses text blocks from a full walk, so text in ``<div>``/``<span>`` soup or between
    ``<br>``s counts like ``<p>`` text.
    """
    owners: dict[int, LexborNode] = {}
    parents: dict[int, int] = {}
    blocks = _blocks([body], config, owners, parents)
    roots, excluded = _choose_roots(body, blocks, owners, parents, config)
    return roots, _blocks_within(roots, excluded, body, blocks, parents)


def _blocks_within(
    roots: list[LexborNode],
    excluded: set[int],
    body: LexborNode,
    blocks: list[_TextBlock],
    parents: dict[int, int],
) -> list[_TextBlock]:
    """The blocks whose element lies inside one of ``roots`` but not in an excluded subtree."""
    if not roots:
        return blocks
    inside: dict[int, bool] = dict.fromkeys(excluded, False)
    inside.update((r.mem_id, True) for r in roots)
    inside[body.mem_id] = inside.get(body.mem_id, False)
    out: list[_TextBlock] = []
    for block in blocks:
        verdict = inside.get(block.owner)
        if verdict is None:
            path: list[int] = []
            key: int | None = block.owner
            while key is not None and len(path) < 4000:
                if key in inside:
                    verdict = inside[key]
                    break
                path.append(key)
                key = parents.get(key)
            verdict = bool(verdict)
            for key in path:
                inside[key] = verdict
        if verdict:
            out.append(block)
    return out


def _choose_roots(
    body: LexborNode,
    blocks: list[_TextBlock],
    owners: dict[int, LexborNode],
    parents: dict[int, int],
    config: ExtractConfig,
) -> tuple[list[LexborNode], set[int]]:
    """The article containers, and the widget subtrees inside them to leave out."""
    scores: dict[int, float] = {}
    mass: dict[int, float] = {}
    body_id = body.mem_id
    min_chars = config.min_paragraph_chars
    # A block votes for the chain of elements above its start (at most 17). Most blocks share
    # their start with the one before (paragraphs of one container), so each chain is walked once
    # and kept; mass (whole character counts, so the order of the additions does not matter) is
    # summed per start and spread over the chain at the end. Scores are added block by block as
    # before, since float sums depend on their order.
    chains: dict[int | None, list[int]] = {}
    pending: dict[int | None, float] = {}
    for block in blocks:
        length = len(block.text)
        if length < min_chars or block.kind in _HEADINGS:
            continue
        prose = length - block.link_chars
        if prose < min_chars:
            continue
        text = block.text
        score = 1.0 + _commas(text) + min(length / 100.0, 3.0)
        # Mass counts sentences only: teaser lists (headline, author, date) do not end in stops.
        weight = prose if _SENTENCE_END.search(text) is not None else 0.0
        start: int | None = block.owner
        if block.kind in _PARA_TAGS:
            start = parents.get(block.owner)  # a <p> votes for its container
        chain = chains.get(start)
        if chain is None:
            chain = chains[start] = []
            pending[start] = 0.0
            key = start
            level = 0
            while key is not None and key in owners:
                chain.append(key)
                if key not in mass:
                    scores[key] = 0.0
                    mass[key] = 0.0
                # Mass is only read up to 12 levels above the chosen container: bound the walk.
                if key == body_id or level >= 16:
                    break
                key = parents.get(key)
                level += 1
        for level, key in enumerate(chain[:3]):
            scores[key] += score if level == 0 else score / (2.0 if level == 1 else level * 3.0)
        pending[start] += weight
    for start, weight in pending.items():
        if weight:
            for key in chains[start]:
                mass[key] += weight
    scores.pop(body_id, None)
    nodes = {key: owners[key] for key in scores}
    links: dict[int, int] = {}  # link text lengths; the tree does not change from here on
    top, best_score = _top(scores, nodes, links)
    if top is None:
        return [], set()
    # Climb to an ancestor that holds clearly more prose (bodies split into several boxes), passing
    # through wrappers that add little; a link-heavy ancestor ends the climb. Widget children met
    # on the way (comments, related lists) are excluded and do not count.
    excluded: set[int] = set()
    excluded_mass = 0.0
    cache: ClassCache = {}
    node, path = top.parent, top
    top_clean = mass.get(top.mem_id, 0.0)
    for _ in range(12):
        if node is None or node.mem_id == body_id or node.mem_id not in mass:
            break
        child = node.child
        while child is not None:
            key = child.mem_id
            if key != path.mem_id and key in mass and key not in excluded and _is_widget(child, cache):
                excluded.add(key)
                excluded_mass += mass[key]
            child = child.next
        grown = mass[node.mem_id] - excluded_mass
        if grown >= 1.25 * top_clean:
            if _link_density(node, len(node.text(separator=" ").strip()), links) > 0.45:
                break
            top, top_clean = node, grown
        path = node
        node = node.parent
    excluded = {key for key in excluded if key != top.mem_id}
    parent = top.parent
    if top.tag in ("html", "body") or parent is None:
        return [top], excluded
    threshold = max(10.0, best_score * 0.2)
    out: list[LexborNode] = []
    child = parent.child
    while child is not None:
        tag = child.tag or ""
        if child.mem_id == top.mem_id:
            out.append(child)
        elif not tag.startswith("-"):
            append = False
            key = child.mem_id
            if key in scores:
                append = _adjusted(child, scores[key], links) >= threshold
            if not append and mass.get(key, 0.0) >= 150:
                # A sibling box with real prose of its own (CMS "content elements" one per paragraph).
                append = _link_density(child, len(child.text(separator=" ").strip()), links) < 0.3
            if not append and tag == "p":
                text = child.text(separator=" ").strip()
                ld = _link_density(child, len(text), links)
                append = (len(text) > 80 and ld < 0.25) or (
                    0 < len(text) <= 80 and ld == 0 and _SENTENCE_END.search(text) is not None
                )
            elif not append and tag in _SUBHEADINGS:
                # A subheading beside the body (a heading with nothing after it is dropped later).
                text = child.text(separator=" ").strip()
                append = 0 < len(text) <= 200 and _link_density(child, len(text), links) == 0
            if append and not _is_widget(child, cache):
                out.append(child)
        child = child.next
    out.extend(_lead_elements(top, out, body_id, cache, links))
    return out, excluded


_LEAD_CLASS_WORDS = (
    "lead", "intro", "summary", "standfirst", "excerpt", "subtitle", "subline", "deck", "abstract", "teaser",
    "subhead", "chapo", "chapeau", "vorspann", "einleitung",
)  # fmt: skip
_LEAD_SELECTOR = ", ".join(
    [
        *(f'[class*="{word}" i]' for word in _LEAD_CLASS_WORDS),
        '[itemprop="description" i]',
        '[itemprop="abstract" i]',
    ]
)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_LEAD_WORDS = re.compile(
    r"(?<![a-z0-9])(?:lead(?:text|-text|_text|in)?|intro|summary|standfirst|excerpt|subtitle|subline|"
    r"deck|dek|abstract|article-?lead|story-?lead|teaser(?:-?text)?|sub-?head(?:line|ing)?|chapo|chapeau|vorspann|einleitung)(?![a-z0-9])"
)


def _lead_elements(
    top: LexborNode,
    roots: list[LexborNode],
    body_id: int,
    cache: ClassCache,
    links: dict[int, int] | None = None,
) -> list[LexborNode]:
    """The article's lead/standfirst when it sits outside the body container (in the article header).

    Looked for inside the nearest ``<article>``/``<main>`` above the container (at most 4 levels).
    """
    container: LexborNode | None = None
    node = top.parent
    for _ in range(4):
        if node is None or node.mem_id == body_id:
            break
        if node.tag in ("article", "main"):
            container = node
            break
        node = node.parent
    if container is None and top.parent is not None and top.parent.mem_id != body_id:
        container = top.parent.parent if top.parent.parent is not None else top.parent
    if container is None or container.mem_id == body_id:
        return []
    matches = container.css(_LEAD_SELECTOR)
    if not matches:
        return []
    root_ids = {r.mem_id for r in roots}
    # The container and what lies above it are never a lead. (Comment boxes among them need no
    # exception: they fail the widget test below anyway.)
    top_ancestors: set[int] = set()
    cur: LexborNode | None = top
    while cur is not None and len(top_ancestors) < 60:
        top_ancestors.add(cur.mem_id)
        cur = cur.parent
    found: list[LexborNode] = []
    for node in matches:
        key = node.mem_id
        if key in root_ids or key in top_ancestors or _inside_any(node, root_ids):
            continue
        attrs = node.attributes
        # camelCase class names ("DefaultEinleitung") are split into words first.
        words = _CAMEL.sub("-", f"{attrs.get('class') or ''} {attrs.get('itemprop') or ''}").lower()
        if not _LEAD_WORDS.search(words) or _is_widget(node, cache):
            continue
        text = node.text(separator=" ").strip()
        if (
            30 <= len(text) <= 1500
            and _link_density(node, len(text), links) < 0.3
            and not any(_inside_any(node, {f.mem_id}) for f in found)
        ):
            found.append(node)
    return found[:2]


def _inside_any(node: LexborNode, ids: set[int], limit: int = 40) -> bool:
    cur = node.parent
    for _ in range(limit):
        if cur is None:
            return False
        if cur.mem_id in ids:
            return True
        cur = cur.parent
    return False


# --------------------------------------------------------------------------- blocks


def _blocks(
    roots: Iterable[LexborNode],
    config: ExtractConfig,
    owners: dict[int, LexborNode] | None = None,
    parents: dict[int, int] | None = None,
) -> list[_TextBlock]:
    """Text blocks of the given subtrees, in document order (iterative pre-order walk).

    A block is the text between block-level boundaries; ``<br>`` splits it into lines. When
    ``owners`` is given it receives the element nodes by mem_id and ``parents`` the mem_id of each
    element's parent, so that scoring can climb the tree without creating node objects again.
    """
    blocks: list[_Block] = []
    skip_tables = not config.include_tables
    block_tags = _BLOCK_TAGS
    for root in roots:
        parent = root.parent
        root_parent = parent.mem_id if parent is not None else -1
        current: _Block | None = None
        current_id = -2
        # A stack of child iterators, one per open element, each with what its children inherit:
        # (children, mem_id of the block they belong to, inside a link, that block's kind, mem_id
        # of the element). The parent's state is at hand, with no lookup per node.
        stack: list[tuple[Iterator[LexborNode], int, bool, str, int]] = [
            (iter((root,)), root_parent, False, "div", root_parent)
        ]
        while stack:
            children, bid, linked, kind, pid = stack[-1]
            for node in children:
                # None for every node but text: one call tells text from elements and gives the data.
                text = node.text_content
                if text:
                    if bid != current_id or current is None:
                        if text.isspace():
                            continue
                        current = _Block([[]], [0], kind, bid)
                        current_id = bid
                        blocks.append(current)
                    current.lines[-1].append(text)
                    if linked:
                        current.links[-1] += len(text.strip())
                    continue
                tag = node.tag
                if tag is None or tag[0] == "-":
                    # Comments and the like; one with children (not produced for HTML bodies)
                    # would pass them the state of the root's parent.
                    if node.first_child is not None:
                        stack.append((node.iter(include_text=True), root_parent, False, "div", node.mem_id))
                        break
                    continue
                mid = node.mem_id
                if owners is not None:
                    owners[mid] = node
                    if parents is not None:
                        parents[mid] = pid
                if tag in block_tags:
                    if bid == _SKIPPED or (skip_tables and tag == "table"):
                        # Everything inside a left-out table stays out.
                        stack.append((node.iter(include_text=True), _SKIPPED, False, "skip", mid))
                    else:
                        stack.append((node.iter(include_text=True), mid, linked, tag, mid))
                elif tag == "br":
                    if current is not None and current_id == bid:
                        current.lines.append([])
                        current.links.append(0)
                    stack.append((node.iter(include_text=True), root_parent, False, "div", mid))
                else:
                    stack.append((node.iter(include_text=True), bid, linked or tag == "a", kind, mid))
                break
            else:
                stack.pop()
    out: list[_TextBlock] = []
    for block in blocks:
        if block.kind == "skip":
            continue
        for parts, link_chars in zip(block.lines, block.links, strict=True):
            # invisible word splitters go before lines are compared with the publisher rules
            text = " ".join(drop_invisible("".join(parts)).split())
            if text:
                out.append(_TextBlock(text, min(link_chars, len(text)), block.kind, block.owner))
    return out


def _filter_blocks(
    blocks: list[_TextBlock],
    meta: PageMeta,
    config: ExtractConfig,
    removed: list[Removal],
    meta_lines: list[str] | None = None,
) -> list[str]:
    """Drop link lists, widget one-liners, byline and date lines, a repeated headline and duplicates.

    Dropped byline/source lines are appended to ``meta_lines``: they still name the producer.
    """
    if meta_lines is None:
        meta_lines = []
    title_key = " ".join(meta.title.split()).lower()
    kept: list[_TextBlock] = []
    seen: set[str] = set()
    for block in blocks:
        text = block.text
        length = len(text)
        density = block.link_chars / length if length else 1.0
        if density > config.max_link_density and (length < 300 or density > 0.8):
            removed.append(Removal(rule="dom:links", text=_short(text)))
            continue
        if _JUNK_LINE.match(text):
            removed.append(Removal(rule="dom:widget", text=_short(text)))
            continue
        if length < 90 and _DATE_LINE.match(text):
            removed.append(Removal(rule="dom:byline", text=_short(text)))
            continue
        if length <= 160 and block.kind not in _HEADINGS and (producer := _meta_line(text)) is not None:
            removed.append(Removal(rule="dom:byline", text=_short(text)))
            meta_lines.append(text)
            if producer:
                meta_lines.append(f"source={producer}")
            continue
        if title_key and block.kind in _HEADINGS and text.lower() == title_key:
            continue
        key = text.lower()
        if length > 60 and key in seen:
            removed.append(Removal(rule="dom:duplicate", text=_short(text)))
            continue
        seen.add(key)
        kept.append(block)
    # A heading with nothing of its own after it (its list was cut, or it ends the text) is a
    # widget title ("More on this", "Teilnehmende Blogs") rather than part of the article.
    out: list[str] = []
    for i, block in enumerate(kept):
        nxt = kept[i + 1] if i + 1 < len(kept) else None
        if block.kind in _HEADINGS and (nxt is None or nxt.kind in _HEADINGS) and len(block.text) < 120:
            removed.append(Removal(rule="dom:orphan-heading", text=_short(block.text)))
            continue
        out.append(block.text)
    return out


# --------------------------------------------------------------------------- JSON-LD body


_TOKEN = re.compile(r"\w+")
_TAG = re.compile(r"<[^>]{0,500}>")


def _json_ld_blocks(body: str) -> list[str]:
    """JSON-LD articleBody as blocks; HTML inside it (some CMSs put markup there) is parsed out."""
    if "<" in body and _TAG.search(body):
        tree = LexborHTMLParser(body)
        root = tree.body
        if root is None:
            return []
        blocks = [b.text for b in _blocks([root], _DEFAULT_CONFIG)]
    else:
        import html as _html

        text = _html.unescape(body) if "&" in body else body
        blocks = [" ".join(line.split()) for line in re.split(r"\n\s*\n|\n", text)]
    return [b for b in blocks if b]


def _token_set(text: str) -> set[str]:
    """``set(_TOKEN.findall(text))``, about twice as fast on page-sized text.

    No whitespace character is a word character, so every ``\\w+`` token lies inside one
    whitespace-separated piece; a piece that is all letters and digits (``str.isalnum``: the
    characters ``\\w`` matches, less "_") is one whole token. Only the other pieces need the regex.
    """
    pieces = set(text.split())
    tokens = {piece for piece in pieces if piece.isalnum()}
    rest = pieces - tokens
    if rest:
        tokens.update(_TOKEN.findall(" ".join(rest)))
    return tokens


def _coverage(part: Sequence[str], whole: set[str]) -> float:
    if not part:
        return 0.0
    return sum(map(whole.__contains__, part)) / len(part)  # count of True, without a Python loop


def _choose_body(
    dom_blocks: list[str], ld_body: str | None, page_text: str, config: ExtractConfig
) -> tuple[list[str], str]:
    """DOM blocks or JSON-LD blocks, and which was used ("dom" / "json-ld")."""
    if not config.use_json_ld or not ld_body or len(ld_body) < 200:
        return dom_blocks, "dom"
    ld_blocks = _json_ld_blocks(ld_body)
    ld_text = " ".join(ld_blocks)
    ld_tokens = _TOKEN.findall(ld_text.lower())
    if len(ld_tokens) < 40:
        return dom_blocks, "dom"
    dom_tokens = _TOKEN.findall(" ".join(dom_blocks).lower())
    # Sanity: the declared body must start with text this page shows (not a stale or foreign
    # text); the window is no longer than what the DOM result has, for paywalled teasers.
    page_tokens = _token_set(page_text.lower())
    if _coverage(ld_tokens[: max(15, min(40, len(dom_tokens)))], page_tokens) < 0.8:
        return dom_blocks, "dom"
    if ld_text.rstrip().endswith(("...", "…")) and len(ld_text) < 1000:
        return dom_blocks, "dom"  # a teaser, not the body
    if not dom_tokens:
        return ld_blocks, "json-ld"
    ld_set = set(ld_tokens)
    dom_in_ld = _coverage(dom_tokens, ld_set)
    if _coverage(ld_tokens, page_tokens) < 0.9:
        # The declared body goes beyond what the page shows (paywall, "read more" loaders): use it
        # when the DOM result is a part of it and clearly shorter.
        if dom_in_ld >= 0.8 and len(ld_tokens) >= 1.3 * len(dom_tokens):
            return ld_blocks, "json-ld"
        return dom_blocks, "dom"
    ld_in_dom = _coverage(ld_tokens, set(dom_tokens))
    # The DOM result missed much of the declared body, or carries much that it does not have.
    if ld_in_dom < 0.8 or (dom_in_ld < 0.75 and len(ld_tokens) > 0.5 * len(dom_tokens)):
        return ld_blocks, "json-ld"
    return dom_blocks, "dom"


# --------------------------------------------------------------------------- entry point


_NESTING_TAG = re.compile(
    r"<(/?)(?:div|span|section|article|main|aside|nav|header|footer|table|tbody|tr|td|ul|ol|dl|blockquote|"
    r"form|fieldset|a|b|i|u|s|em|strong|font|small|big|center|code|nobr|tt|q|sub|sup|label)(?=[\s>/])",
    re.IGNORECASE,
)
_STEP = {"": 1, "/": -1}


def _too_deep(html: str, max_depth: int, tags: int) -> bool:
    """Whether tags nest deeper than ``max_depth`` (an upper-bound count of open containers).

    Only run when the page has more than ``2 * max_depth`` tags: below that, even the worst
    nesting parses in bounded time. Counting is C-level (regex, map, accumulate, max).
    """
    if tags <= 2 * max_depth:
        return False
    steps = map(_STEP.__getitem__, _NESTING_TAG.findall(html))
    return max(accumulate(steps), default=0) > max_depth


# ``Decoded.source`` values for which the text came from a strict (error-raising) decode.
_STRICT_UTF8_SOURCES = frozenset(["header", "meta", "utf-8"])


def _strip_non_text(tree: LexborHTMLParser) -> None:
    """Remove scripts, styles, media, form controls and ``<head>``; unwrap text-rich ``<noscript>``.

    A noscript usually holds tracking pixels or "enable JavaScript" notes, but some sites put the
    whole no-JS page in it: the content of one with real text is kept, the rest dropped. One
    selector pass in document order does it all (the same result as handling every noscript
    first and then stripping tag by tag): a noscript is measured before anything inside it is
    stripped, and a match inside an element removed earlier is already unlinked (no parent).
    """
    for node in tree.css(_STRIP_SELECTOR):
        if node.parent is None:
            continue
        if node.tag == "noscript" and len(node.text(separator=" ").strip()) > 200:
            node.unwrap()
        else:
            node.remove()


def _count_elements(tags: int, tree: LexborHTMLParser, cap: int) -> int:
    """Element count, computed only when the cheap upper bound (number of '<') exceeds the cap."""
    if tags <= cap:
        return 0
    return len(tree.css("*"))


def extract(
    html: str | bytes,
    url: str | None = None,
    *,
    content_type: str | None = None,
    config: ExtractConfig | None = None,
    rules: RuleSet | None = None,
    learner: BoilerplateLearner | None = None,
) -> Article:
    """Extract the clean article from one HTML page.

    Bad input gives an :class:`Article` with empty ``text`` and a ``reason`` (``"empty-input"``,
    ``"binary"``, ``"too-large"``, ``"too-many-nodes"``, ``"no-main-text"``); a non-str/bytes input
    raises ``TypeError``; :class:`ExtractError` is raised only if the HTML parser itself fails.
    """
    if not isinstance(html, str | bytes | bytearray | memoryview):
        raise TypeError(f"extract() needs str or bytes, not {type(html).__name__}")
    if url is not None and not isinstance(url, str):
        raise TypeError(f"url must be a str or None, not {type(url).__name__}")
    cfg = config if config is not None else _DEFAULT_CONFIG
    if not isinstance(cfg, ExtractConfig):
        raise TypeError(f"config must be an ExtractConfig, not {type(cfg).__name__}")
    check_rules(rules, learner)

    utf8: bytes | None = None
    if not isinstance(html, str):
        data = bytes(html)
        if len(data) > cfg.max_bytes:
            return Article(url=url, reason="too-large")
        if not data or data.isspace():  # what ``not data.strip()`` says, without the copy
            return Article(url=url, reason="empty-input")
        kind = looks_binary(data)
        if kind:
            logger.debug("not extracting %s: binary (%s)", url, kind)
            return Article(url=url, reason="binary")
        decoded = decode_bytes(data, content_type=content_type)
        html = decoded.text
        if decoded.encoding == "utf-8" and decoded.source in _STRICT_UTF8_SOURCES:
            utf8 = data  # strictly decoded UTF-8 encodes back to exactly these bytes
    elif len(html) > cfg.max_bytes:
        return Article(url=url, reason="too-large")
    if not html or html.isspace():
        return Article(url=url, reason="empty-input")
    # The parser is fed the UTF-8 bytes a ``str`` turns into inside it anyway (lone surrogates
    # dropped): NUL bytes and '<' are found faster there than in a wide ``str``, and the text is
    # encoded once for both parses. NUL and '<' are single bytes in UTF-8 and never part of a
    # multi-byte sequence, so the counts are the same as on the text.
    if utf8 is None:
        utf8 = html.encode("utf-8", "ignore")
    if b"\x00" in utf8:
        if html.count("\x00") > max(1, len(html) // 100):
            return Article(url=url, reason="binary")
        html = html.replace("\x00", "")
        utf8 = html.encode("utf-8", "ignore")

    tags = utf8.count(b"<")
    if _too_deep(html, cfg.max_depth, tags):
        return Article(url=url, reason="too-deep")
    try:
        tree = LexborHTMLParser(utf8)
    except Exception as exc:  # lexbor is total over text; this guards against internal failures
        raise ExtractError(f"HTML parser failed: {exc}", reason="parse-failed", url=url) from exc

    if _count_elements(tags, tree, cfg.max_nodes) > cfg.max_nodes:
        return Article(url=url, reason="too-many-nodes")

    meta = read_metadata(tree, url)
    article = _extract_body(tree, html, url, meta, cfg, rules, learner)
    if article.reason == "no-main-text" and len(html) > 2000:
        # Nothing left after the structural cut: try once more on a fresh tree, cutting only the
        # unambiguous boilerplate (the story may sit in a slideshow or in CSS-hidden panels).
        retry = _extract_body(LexborHTMLParser(utf8), html, url, meta, cfg, rules, learner, light=True)
        if retry.reason is None:
            logger.debug("extract %s: text found only with the light boilerplate cut", url)
            return retry
    return article


def _extract_body(
    tree: LexborHTMLParser,
    html: str,
    url: str | None,
    meta: PageMeta,
    cfg: ExtractConfig,
    rules: RuleSet | None,
    learner: BoilerplateLearner | None,
    light: bool = False,
) -> Article:
    removed: list[Removal] = []
    base: dict[str, Any] = {
        "url": url,
        "canonical_url": meta.canonical_url,
        "site": meta.site,
        "title": meta.title,
        "published": meta.published,
        "authors": meta.authors,
        "lang": meta.lang,
        "description": meta.description,
        "source_format": "html",
    }
    _strip_non_text(tree)
    body = tree.body
    if body is None:
        return Article(**base, reason="no-main-text")

    publisher_selectors = dom_selectors(url, html, rules=rules)
    full_text = body.text(separator=" ")
    scores, nodes = _score(body, cfg)
    protected = _protected(scores, nodes)
    # A body declared by schema.org microdata or the hAtom microformat ("entry-content", used by
    # WordPress and Blogger themes) is protected too, whatever widget class wraps it.
    declared = body.css_first(_DECLARED_BODY)
    if declared is not None:
        protected |= _ancestors(declared)
    _remove_boilerplate(body, cfg, publisher_selectors, protected, len(full_text.strip()), removed, light)

    _, candidate_blocks = _final_roots(body, cfg)
    meta_lines: list[str] = []
    dom_blocks = _filter_blocks(candidate_blocks, meta, cfg, removed, meta_lines)

    # The declared body is checked against the whole page text, before anything was cut.
    blocks, source = _choose_body(dom_blocks, meta.article_body, full_text, cfg)
    logger.debug("extract %s: body from %s, %d blocks", url, source, len(blocks))

    result = clean_blocks(
        blocks,
        url=url,
        title=meta.title,
        authors=meta.authors,
        hints=(*meta.hints, *meta_lines[:6]),
        rules=rules,
        learner=learner,
    )
    removed.extend(result.removed)
    # the controls a text node can still hold (the parser passes them through); the metadata
    # strings were scrubbed as they were read (newsdedup._metadata)
    text = scrub_text("\n\n".join(b.strip() for b in result.blocks if b and b.strip()))
    if len(text) < cfg.min_text_chars:
        return Article(**base, wire=result.wire, removed=tuple(removed), reason="no-main-text")
    return Article(**base, text=text, wire=result.wire, removed=tuple(removed), reason=None)
