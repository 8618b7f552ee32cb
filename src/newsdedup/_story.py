"""Story grouping: clusters of copies that report the same event get one ``story_id``.

Copies (``_dedup``) share most of their *text*; different newsrooms writing about one event
share much less text but the same *facts*: the same quotations, the same people, places and
organisations, the same numbers, similar headlines and leads, and they appear within a few days
of each other. Every signal here is computed from the two texts alone (plus document
frequencies of the batch) and is reported by :func:`story_match`, so a decision can always be
explained:

* ``cosine``: TF-IDF cosine of the content words of title and body (stopwords dropped,
  sublinear term frequency, IDF from the batch's document frequencies);
* ``entities``: IDF-weighted overlap of the names (capitalised runs, acronyms) of both texts;
* ``quotes``: quotations of at least ``min_quote_words`` words in one text that rapidfuzz finds
  (``partial_ratio`` >= ``quote_min_ratio``) in the other: outlets quote the same sentence
  even when everything around it is rewritten (and some drop the quotation marks);
* vetoes: different result lines ("3-1" vs "2-2": another match of the same teams), two
  number-dense texts without a common number (template items), publication times further apart
  than ``window``;
* reported only: ``lead`` (cosine of title + lead), ``title`` (cosine of the headlines) and the
  shared numbers.

The decision (:func:`decide`) is a small, documented rule over those signals; its thresholds
were tuned on the SemEval-2022 Task 8 English pairs (see ``docs/stories.md``).

Grouping (:func:`group_stories`) is a pure function of the batch: candidate pairs come from an
inverted index of each profile's strongest terms, every candidate gets the decision
:func:`story_match` would give it (outside the time window never matches), and each connected component of
the "same story" graph is split against chaining like clusters of copies are: a centre (most
links) takes its neighbours, and a member stays only while it matches at least half of the
other members. ``story_id`` = ``"s"`` + xxh3 of the smallest cluster id of the story, so the
partition and the ids do not depend on input order. For speed the batch is decided with numpy
(:func:`_story_links`): candidates are paired only within the time window (exact pruning), and
the cosine and name overlap are computed with the same float operations in the same order as
:func:`story_match`, so the decisions are the same bit for bit (``tests/test_story.py``
compares the two on every candidate).

Incremental use (a state store): :func:`joins_story` is the pure "does this new cluster join
that story" test -- it must match the story's medoid and at least half of its representatives.
A store keeps ``cluster_id -> story_id``, each story's representatives (cluster ids, whose
profiles are rebuilt from the stored canonical text) and the document-frequency table
(:class:`TermStats` is a plain counter that can be saved and merged).
"""

from __future__ import annotations

import dataclasses
import functools
import heapq
import itertools
import math
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import EllipsisType, MappingProxyType
from typing import Any

import numpy as np
import xxhash
from rapidfuzz import fuzz

from ._arrays import unique_inverse
from ._exceptions import ConfigError, finite_number
from ._models import Article, Cluster, as_utc
from ._normalize import normalize_text, tokenize

__all__ = [
    "StoryConfig",
    "StoryMatch",
    "StoryProfile",
    "TermStats",
    "assign_stories",
    "decide",
    "group_stories",
    "joins_story",
    "medoid",
    "profile_from_cluster",
    "profile_from_text",
    "stories_from",
    "story_id_for",
    "story_match",
]

# Function words carry no information about the event; dropping them keeps the cosine about
# content. (Kept small and English: other languages still work through names, numbers, quotes.)
_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself said says say told tell according new one two
    year years time like get got make made many much may might must us per via since still yet
    week day days today yesterday monday tuesday wednesday thursday friday saturday sunday
    january february march april june july august september october november december
    mr mrs ms dr news reported report reports people including around another well even back
    """.split()  # noqa: SIM905 - a word list reads better as text
)  # fmt: skip

_QUOTE = re.compile(r"\"([^\"\n]{10,600})\"")
# A run of capitalised words (allowing short connectors inside: "Bank of England") or an acronym.
_NAME_RUN = re.compile(
    r"(?:\b[^\W\d_a-z][\w'\-]*)(?:[ \t]+(?:(?:of|de|del|da|van|von|al|bin|the|and|for|la|le)\s+)?"
    r"[^\W\d_a-z][\w'\-]*)*",
    re.UNICODE,
)
_CONNECTOR = r"(?:(?:of|de|del|da|van|von|al|bin|the|and|for|la|le)[^\S\n]+)?"
# what may precede a capital that only marks a sentence start
_OPENERS = frozenset(".!?:;\"'“”‘’()[]-–—•*")
# The same runs, found in a line at once (a connector's space may not be a line break), each
# telling whether it starts a sentence once blanks are single spaces: a group captures the run's
# first capital when the character before it, or before the one space before it, is neither an
# opener nor a line break; both stay empty at a sentence start. (The capital, not that character,
# is captured, so a cache keyed by the result sees few variants.) The first capital comes before
# the look-behinds (its word-boundary test too), so the regex engine can jump from capital to
# capital; for ASCII text the classes are spelled out ([A-Z] is what [^\W\d_a-z] means there),
# which is faster still.
_NOT_OPENER = "[^" + "".join(re.escape(c) for c in sorted(_OPENERS)) + r" \t\n]"
_AFTER = r"(?:(?<=" + _NOT_OPENER + r"([^\n]))|(?<=" + _NOT_OPENER + r" ([^\n])))?"
_NAME_CTX_TEXT = re.compile(
    r"([^\W\d_a-z](?<!\w\w)" + _AFTER + r"[\w'\-]*(?:[ \t]+" + _CONNECTOR + r"[^\W\d_a-z][\w'\-]*)*)"
)
_NAME_CTX_ASCII = re.compile(
    r"([A-Z](?<![A-Za-z0-9_][A-Z])"
    + _AFTER
    + r"[A-Za-z0-9_'\-]*(?:[ \t]+"
    + _CONNECTOR
    + r"[A-Z][A-Za-z0-9_'\-]*)*)"
)
_BLANKS = re.compile(r"[ \t]{2,}|\t")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_YEAR = re.compile(r"^(?:19|20)\d\d$")  # a year says little about which event it is
# A result line ("3-1", "2 - 2"): two reports of one match share it, two matches of the same
# teams almost never do. Not part of a longer number run (dates, phone numbers, "4-3-3").
# every result line contains this; the plain pattern rules most texts out much faster
_SCORE_HINT = re.compile(r"-(?:(?<=\d-)|(?<=\d -))(?= ?\d)")  # "\d ?- ?\d", found from the "-"
_SCORE = re.compile(
    r"(?<![\d\-./:])(\d{1,3}) ?- ?(\d{1,3})(?![\d\-./:]|\s?(?:year|month|week|day|hour|minute)s?\b)"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryConfig:
    """Every story-grouping setting, validated (a bad value raises :class:`ConfigError`).

    The decision thresholds were tuned on the SemEval-2022 Task 8 English pairs; see
    ``docs/stories.md`` for the numbers and a 2-fold check.
    """

    window: float | None = 72 * 3600.0
    """Seconds two clusters' publication times may be apart; None: no time constraint. A
    cluster without any dated member is compared without the time constraint."""
    min_quote_words: int = 6
    """A quotation needs this many words to count as a shared quote."""
    quote_min_ratio: float = 90.0
    """rapidfuzz ``partial_ratio`` a quote must reach inside the other text."""
    lead_tokens: int = 60
    """Content words of the lead (after the title) for the ``lead`` cosine."""
    cosine_min: float = 0.18
    """Below this TF-IDF cosine no other signal can join two texts."""
    score_min: float = 0.40
    """``cosine + names_weight * names`` at or above which two texts are one story."""
    names_weight: float = 1.0
    min_shared_quotes: int = 1
    """Shared quotes that, with ``cosine_min``, join two texts on their own."""
    candidate_terms: int = 25
    """Strongest terms per profile put in the candidate index (grouping only)."""
    min_numbers: int = 3
    number_density: float = 0.1
    """Two number-dense texts (at least ``min_numbers`` distinct numbers and this many per
    content word) without one number in common report different facts (template items:
    earnings tables, dividend notices). Narrative write-ups of one event often quote different
    figures, so the veto is kept to number-dense texts."""
    max_posting: int = 500
    """A term among the strongest terms of more profiles than this proposes no candidates
    (template words of formulaic items; the pairs they share find each other through rarer
    terms). Bounds the candidate pairs of a large batch."""
    max_representatives: int = 7
    """Story members :func:`joins_story` compares a newcomer with (medoid first)."""

    def __post_init__(self) -> None:
        def num(name: str, lo: float, hi: float) -> None:
            v = getattr(self, name)
            if not finite_number(v) or not lo <= v <= hi:
                raise ConfigError(f"story.{name} must be a number in [{lo}, {hi}], got {v!r}")

        def integer(name: str, lo: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ConfigError(f"story.{name} must be an int >= {lo}, got {v!r}")

        if self.window is not None:
            w = self.window
            if not finite_number(w) or not w > 0:
                raise ConfigError(f"story.window must be positive finite seconds or None, got {w!r}")
        num("cosine_min", 0.0, 1.0)
        num("score_min", 0.0, 3.0)
        num("names_weight", 0.0, 2.0)
        num("number_density", 0.0, 1.0)
        num("quote_min_ratio", 0.0, 100.0)
        integer("min_quote_words", 2)
        integer("lead_tokens", 1)
        integer("min_shared_quotes", 1)
        integer("candidate_terms", 1)
        integer("max_representatives", 1)
        integer("max_posting", 2)
        integer("min_numbers", 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryProfile:
    """What story matching needs of one cluster (or one text): built once, compared often."""

    key: str
    """The cluster id (or any unique id of the text)."""
    title: str
    title_terms: Mapping[str, int]
    """Content-word counts of the headline."""
    terms: Mapping[str, int]
    """Content-word counts of title and body."""
    lead: Mapping[str, int]
    """Content-word counts of the title and the first ``lead_tokens`` body words."""
    names: Mapping[str, int]
    """Case-folded words of capitalised runs and acronyms (likely names), with counts."""
    numbers: frozenset[str]
    """Numbers of two digits or more, years excluded."""
    scores: frozenset[str]
    """Result lines such as ``3-1`` (sports scores, vote tallies)."""
    quotes: tuple[str, ...]
    """Normalised quotations of at least ``min_quote_words`` words."""
    norm: str
    """Normalised full text (title + body) for fuzzy quote search."""
    start: float | None = None
    """Earliest publication time of a member (epoch seconds); None when no member is dated."""
    end: float | None = None

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Profiles come back from the CLI's worker processes by the thousand: their words are
        # interned again on arrival (unpickled, each profile would hold its own copy of every
        # word), and the shared empty values (which cannot be pickled) stay shared.
        return (
            _unpickle_profile,
            (
                self.key, self.title, _pack_counts(self.title_terms), _pack_counts(self.terms),
                _pack_counts(self.lead), _pack_counts(self.names), tuple(self.numbers),
                tuple(self.scores), self.quotes, self.norm, self.start, self.end,
            ),
        )  # fmt: skip


def _pack_counts(counts: Mapping[str, int]) -> tuple[tuple[str, ...], tuple[int, ...]] | None:
    return None if counts is _NO_COUNTS else (tuple(counts), tuple(counts.values()))


def _unpack_counts(packed: tuple[tuple[str, ...], tuple[int, ...]] | None) -> Mapping[str, int]:
    if packed is None:
        return _NO_COUNTS
    return Counter(dict(zip(map(_intern_word, packed[0]), packed[1], strict=True)))


def _unpickle_profile(
    key: str,
    title: str,
    title_terms: tuple[tuple[str, ...], tuple[int, ...]] | None,
    terms: tuple[tuple[str, ...], tuple[int, ...]] | None,
    lead: tuple[tuple[str, ...], tuple[int, ...]] | None,
    names: tuple[tuple[str, ...], tuple[int, ...]] | None,
    numbers: tuple[str, ...],
    scores: tuple[str, ...],
    quotes: tuple[str, ...],
    norm: str,
    start: float | None,
    end: float | None,
) -> StoryProfile:
    return StoryProfile(
        key=key, title=title, title_terms=_unpack_counts(title_terms), terms=_unpack_counts(terms),
        lead=_unpack_counts(lead), names=_unpack_counts(names),
        numbers=frozenset(numbers) if numbers else _NO_STRINGS,
        scores=frozenset(scores) if scores else _NO_STRINGS,
        quotes=quotes, norm=norm, start=start, end=end,
    )  # fmt: skip


@dataclass(slots=True)
class TermStats:
    """Document frequencies of a batch (or of everything a store has seen) for IDF weights.

    A plain counter so a store can persist and merge it; the IDF is smoothed
    (``ln((1 + N) / (1 + df)) + 1``) so unseen terms get the highest weight and a tiny batch
    still gives finite weights.
    """

    n_docs: int = 0
    df: Counter[str] = field(default_factory=Counter)
    _idf: dict[str, float] = field(default_factory=dict, repr=False, compare=False)
    _vectors: dict[int, tuple[Mapping[str, int], dict[str, float], float]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Unit TF-IDF vectors by ``id`` of the count mapping (which is kept alive with them)."""

    @classmethod
    def from_profiles(cls, profiles: Iterable[StoryProfile]) -> TermStats:
        """The statistics of ``profiles`` (the same as :meth:`add` one by one, in one pass)."""
        stats = cls()
        # each profile's terms, then its names that are not terms: its distinct words once
        seen = [(p.terms, p.names.keys() - p.terms.keys()) for p in profiles]
        stats.n_docs = len(seen)
        stats.df.update(itertools.chain.from_iterable(itertools.chain.from_iterable(seen)))
        return stats

    def add(self, profile: StoryProfile) -> None:
        self.n_docs += 1
        self.df.update(set(profile.terms) | set(profile.names))
        self._idf.clear()
        self._vectors.clear()

    def idf(self, term: str) -> float:
        value = self._idf.get(term)
        if value is None:
            value = math.log((1 + self.n_docs) / (1 + self.df.get(term, 0))) + 1.0
            self._idf[term] = value
        return value

    def vector(self, counts: Mapping[str, int]) -> dict[str, float]:
        """Unit-length sublinear TF-IDF weights of a term-count mapping (cached)."""
        hit = self._vectors.get(id(counts))
        if hit is not None and hit[0] is counts:
            return hit[1]
        weights = {t: (1.0 + math.log(tf)) * self.idf(t) for t, tf in counts.items() if tf > 0}
        norm = math.sqrt(sum(w * w for w in weights.values()))
        unit = {t: w / norm for t, w in weights.items()} if norm else {}
        self._vectors[id(counts)] = (counts, unit, norm)
        return unit


@dataclass(frozen=True, slots=True, kw_only=True)
class StoryMatch:
    """The decision for one pair of profiles, with every signal behind it."""

    same: bool
    rule: str
    """Which rule joined them (``text-and-names``, ``shared-quote``), or why not
    (``outside-window``, ``low-cosine``, ``scores-differ``, ``weak-evidence``)."""
    score: float
    """``cosine + names_weight * entities``, the number the main rule thresholds."""
    cosine: float
    lead: float
    title: float
    entities: float
    shared_names: tuple[str, ...]
    shared_numbers: tuple[str, ...]
    shared_quotes: tuple[str, ...]
    """Quotations found in both texts (only searched when the cosine reaches ``cosine_min``)."""
    scores_differ: bool
    """Both texts give result lines ("3-1") and none is shared."""
    numbers_differ: bool
    """Both texts are number-dense (see ``StoryConfig.number_density``) and share no number."""
    hours_apart: float | None
    """Gap between the two publication-time ranges; None when either side is undated."""

    @property
    def signals(self) -> list[str]:
        """The signals that speak for one story, in words (for explanations)."""
        out: list[str] = []
        if self.shared_quotes:
            out.append(f"{len(self.shared_quotes)} shared quote(s)")
        if self.cosine >= 0.2:
            out.append(f"text cosine {self.cosine:.2f}")
        if self.lead >= 0.2:
            out.append(f"lead cosine {self.lead:.2f}")
        if self.title >= 0.5:
            out.append(f"title similarity {self.title:.2f}")
        if self.shared_names:
            out.append(f"names {self.entities:.2f}: " + ", ".join(self.shared_names[:8]))
        if self.shared_numbers:
            out.append("numbers: " + ", ".join(self.shared_numbers[:8]))
        return out

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("score", "cosine", "lead", "title", "entities"):
            d[k] = round(d[k], 4)
        d["shared_names"] = list(self.shared_names)
        d["shared_numbers"] = list(self.shared_numbers)
        d["shared_quotes"] = list(self.shared_quotes)
        if self.hours_apart is not None:
            d["hours_apart"] = round(self.hours_apart, 2)
        return d


# -- profiles ----------------------------------------------------------------------------------


def _content(tokens: Iterable[str]) -> list[str]:
    """Content words, interned: a batch holds every profile at once, and one string per word
    instead of one per profile cuts what the term counters weigh by about a fifth."""
    words = [t for t in tokens if len(t) > 1 and t not in _STOPWORDS and not t[:1].isdigit()]
    shared = {t: _intern_word(t) for t in set(words)}
    return list(map(shared.__getitem__, words))


def _is_content(token: str) -> bool:
    """What :func:`_content` keeps."""
    return len(token) > 1 and token not in _STOPWORDS and not token[:1].isdigit()


class _Vocabulary(dict[str, str]):
    """Word chunk -> its interned content word, or ``""`` when it yields none.

    Shared by every profile of a batch: a word's test and interning run once per batch instead
    of once per occurrence, and a look-up that hits is a plain dict look-up (from C, through
    ``map``). A key is a token of :func:`tokenize` or, for ASCII text, a maximal run of ASCII
    letters and digits (see :func:`_chunks`): leading digits are a number token of their own, so
    the word is what follows them."""

    __slots__ = ("runs",)

    def __init__(self) -> None:
        super().__init__()
        self.runs = _RunWords()
        """The name words of the capitalised runs of the batch (see :func:`_names`)."""

    def __missing__(self, chunk: str) -> str:
        token = chunk
        if chunk[:1].isdigit():
            # an ASCII run's letters after its digits; a number token of tokenize() has none
            token = chunk.lstrip(_DIGITS)
            if not (token[:1].isascii() and token[:1].isalpha()):
                token = ""
        word = _intern_word(token) if _is_content(token) else ""
        self[chunk] = word
        return word


_DIGITS = "0123456789"
# every ASCII character that is not a letter or digit becomes a space (a bytes table: a
# ``bytes.translate`` pass is several times faster than a ``str.translate`` one)
_ASCII_SEPARATORS = bytes(c if c < 128 and chr(c).isalnum() else 32 for c in range(256))


def _chunks(normalized: str) -> list[str]:
    """For ASCII text, the maximal runs of letters and digits; else :func:`tokenize`.

    In ASCII text a letter token (``[A-Za-z][A-Za-z0-9]*``) always runs to the end of such a run
    and starts at its first letter; a number token can only cover digits (and the ``.``/``/``
    between them), so each run yields at most one letter token, the run without its leading
    digits, and number tokens are never content words."""
    if normalized.isascii():
        return normalized.encode("ascii").translate(_ASCII_SEPARATORS).decode("ascii").split()
    return tokenize(normalized)


def _content_counts(title_norm: str, body_norm: str, vocab: _Vocabulary) -> Counter[str]:
    """``Counter(_content(tokenize(title_norm)) + _content(tokenize(body_norm)))``, with the
    same keys in the same order and the same counts, counted in C: every chunk is mapped to its
    word (``""`` for none) and the words are counted in order ("52nd" and "nd" both count
    "nd", as their tokens do)."""
    counts = Counter(map(vocab.__getitem__, _chunks(title_norm)))
    counts.update(map(vocab.__getitem__, _chunks(body_norm)))
    counts.pop("", None)
    return counts


_intern_word = sys.intern
_ASCII_LETTERS = bytes(range(65, 91)) + bytes(range(97, 123))
_ASCII_UPPER = bytes(range(65, 91))


@functools.lru_cache(maxsize=1 << 16)
def _run_words(run: str) -> tuple[tuple[str, ...], bool]:
    """The name words of one capitalised run, and whether the run is a single word whose capital
    may only mark a sentence start. Depends on the run's text alone, so it is cached: the same
    names recur in every text of a batch."""
    # an ASCII word without an apostrophe normalises to its lower case (no fold, no comma)
    fast = run.isascii() and "'" not in run
    if fast and " " not in run and "\t" not in run:  # one ASCII word, the common run
        f = run.lower().strip("-")
        if len(f) > 1 and f not in _STOPWORDS and not f[:1].isdigit():
            return (f,), not (run.isupper() and len(run) >= 2)
        return (), False
    raw = run.split()
    words = [(w, (w.lower() if fast else normalize_text(w)).strip("'-")) for w in raw]
    words = [(w, f) for w, f in words if len(f) > 1 and f not in _STOPWORDS and not f[:1].isdigit()]
    opener = len(words) == 1 and words[0][0] == raw[0] and not (raw[0].isupper() and len(raw[0]) >= 2)
    return tuple(f for _w, f in words), opener


_MAX_RUNS = 1 << 16


class _RunWords(dict[tuple[str, str, str], tuple[str, ...]]):
    """A match of :data:`_NAME_CTX_ASCII` / :data:`_NAME_CTX_TEXT` -> its name words: none for a
    lone capitalised word that starts a sentence ("However", "Shares", "Pay April 1"; ``mid``
    or ``mid_after_space`` is set when the run does not start one).

    A batch shares one, so a run met again is one dict look-up (from C, through ``map``); it
    is emptied when it holds ``_MAX_RUNS`` runs, which bounds its size. Being the batch's cache,
    it computes a new run without the process-wide ones (which would only keep more objects
    alive for the garbage collector to scan)."""

    __slots__ = ()

    def __missing__(self, match: tuple[str, str, str]) -> tuple[str, ...]:
        run, mid, mid_after_space = match
        words, opener = _run_words.__wrapped__(run)
        value = () if opener and not (mid or mid_after_space) else words
        if len(self) >= _MAX_RUNS:
            self.clear()  # bounded: start afresh with the runs met from now on
        self[match] = value
        return value


def _mostly_capitals(line: str) -> bool:
    """No letters, or more than 60 % of them capitals: the line carries no case information.
    ASCII lines are counted with two ``bytes.translate`` passes (C speed)."""
    if line.isascii():
        raw = line.encode("ascii")
        n_letters = len(raw) - len(raw.translate(None, _ASCII_LETTERS))
        n_upper = len(raw) - len(raw.translate(None, _ASCII_UPPER))
    else:
        letters = list(filter(str.isalpha, line))  # the same per-character tests, looped in C
        n_letters = len(letters)
        n_upper = sum(map(str.isupper, letters))
    return not n_letters or n_upper > 0.6 * n_letters


def _names(text: str, runs: _RunWords | None = None) -> Counter[str]:
    """Words of capitalised runs that are not just a capitalised sentence start, and acronyms.

    Lines written mostly in capitals (wire headlines, tables) carry no case information and
    are skipped, or every word of them would look like a name. The runs are those of
    :data:`_NAME_RUN` on each line (a run never crosses a line break). Blanks are made single
    spaces first (a run's words and a line's letters stay the same), so one look-behind sees
    whether a run starts a sentence and ``findall`` gives each run with that context; ``runs``
    (a batch's :class:`_RunWords`) or :func:`_run_words_after` gives its words. ASCII text is
    searched whole once its capital lines are emptied (:func:`_case_lines`): a run or a
    look-behind that meets a line break fails as it does at the end of a line searched alone.
    """
    norm = unicodedata.normalize("NFKC", text)
    if "\t" in norm or "  " in norm:
        norm = _BLANKS.sub(" ", norm)
    if norm.isascii():
        matches = _NAME_CTX_ASCII.findall(_case_lines(norm))
    else:
        matches = []
        for line in norm.split("\n"):
            in_line = _NAME_CTX_TEXT.findall(line) if line else None
            if in_line and not _mostly_capitals(line):
                matches += in_line
    # the words in the order they are found (a Counter keeps its keys' first-seen order)
    if runs is not None:
        return Counter(itertools.chain.from_iterable(map(runs.__getitem__, matches)))
    return Counter(itertools.chain.from_iterable(itertools.starmap(_run_words_after, matches)))


@functools.lru_cache(maxsize=1 << 16)
def _run_words_after(run: str, mid: str, mid_after_space: str) -> tuple[str, ...]:
    """:class:`_RunWords` for texts that are not part of a batch (cached across calls)."""
    words, opener = _run_words(run)
    return () if opener and not (mid or mid_after_space) else words


_NOT_LETTER_OR_NL = bytes(c for c in range(256) if c != 10 and c not in _ASCII_LETTERS)
_NOT_UPPER_OR_NL = bytes(c for c in range(256) if c != 10 and c not in _ASCII_UPPER)


def _case_lines(norm: str) -> str:
    """ASCII text with every line that :func:`_mostly_capitals` skips (and holds a capital, so
    could hold a run) made empty. Each line's letters and capitals are counted from two
    ``bytes.translate`` passes over the whole text, split at the line breaks."""
    raw = norm.encode("ascii")
    upper = raw.translate(None, _NOT_UPPER_OR_NL)
    if len(upper) == upper.count(b"\n"):
        return ""  # no capital, no run
    letters = raw.translate(None, _NOT_LETTER_OR_NL).split(b"\n")
    lines = upper.split(b"\n")
    skip = [i for i, (u, a) in enumerate(zip(lines, letters, strict=True)) if u and len(u) > 0.6 * len(a)]
    if not skip:
        return norm
    kept = norm.split("\n")
    for i in skip:
        kept[i] = ""
    return "\n".join(kept)


def _quotes(folded: str, min_words: int) -> tuple[str, ...]:
    """Quotations of at least ``min_words`` words in an already normalised text."""
    found = []
    for m in _QUOTE.finditer(folded):
        q = m.group(1).strip(" ,.;:")
        if len(tokenize(q)) >= min_words:
            found.append(q)
    return tuple(sorted(set(found)))


def _ts(value: datetime | None) -> float | None:
    if value is None:
        return None
    return as_utc(value).timestamp()


def profile_from_text(
    key: str,
    title: str,
    text: str,
    *,
    published: Iterable[datetime | None] = (),
    config: StoryConfig | None = None,
) -> StoryProfile:
    """The story profile of one text (title + body); ``published`` are its members' dates."""
    return _profile(key, title, text, published, config or StoryConfig(), for_grouping=False)


def _profile(
    key: str,
    title: str,
    text: str,
    published: Iterable[datetime | None],
    cfg: StoryConfig,
    *,
    for_grouping: bool,
    vocab: _Vocabulary | None = None,
) -> StoryProfile:
    """:func:`profile_from_text`; ``for_grouping`` leaves out what no grouping decision reads
    (``lead`` and ``title_terms`` are only reported; the numbers of a text that is not
    number-dense can never veto), which halves the memory a batch of profiles takes. ``vocab``
    is the batch's shared :class:`_Vocabulary` (grouping only; a fresh one by default)."""
    full = f"{title}\n{text}" if title else text
    body_norm = normalize_text(text)
    title_norm = normalize_text(title)
    # == normalize_text(full): every step of the normalisation is character-local or stops at
    # the line break between title and body, and the result's whitespace is single spaces
    norm = " ".join(x for x in (title_norm, body_norm) if x)
    if for_grouping:
        terms = _content_counts(title_norm, body_norm, vocab if vocab is not None else _Vocabulary())
        n_words = sum(terms.values())
        title_terms: Mapping[str, int] = _NO_COUNTS
        lead: Mapping[str, int] = _NO_COUNTS
    else:
        body_tokens = _content(tokenize(body_norm))
        title_tokens = _content(tokenize(title_norm))
        terms = Counter(title_tokens + body_tokens)
        n_words = len(title_tokens) + len(body_tokens)
        title_terms = Counter(title_tokens)
        lead = Counter(title_tokens + body_tokens[: cfg.lead_tokens])
    numbers = _NO_STRINGS
    if not for_grouping or _dense(_max_numbers(text), n_words, cfg):
        numbers = frozenset(
            n
            for n in _NUMBER.findall(unicodedata.normalize("NFKC", text))
            # only digits, "." and "," in a match: the rest are digits
            if len(n) - n.count(".") - n.count(",") >= 2 and not _YEAR.match(n)
        )
        if for_grouping and not _dense(len(numbers), n_words, cfg):
            numbers = _NO_STRINGS
    times = [t for t in (_ts(p) for p in published) if t is not None]
    return StoryProfile(
        key=key,
        title=title,
        title_terms=title_terms,
        terms=terms,
        lead=lead,
        names=_names(full, vocab.runs if vocab is not None else None),
        numbers=numbers,
        scores=frozenset(f"{x}-{y}" for x, y in _SCORE.findall(body_norm))
        if _SCORE_HINT.search(body_norm)
        else _NO_STRINGS,
        quotes=_quotes(body_norm, cfg.min_quote_words),
        norm=norm,
        start=min(times) if times else None,
        end=max(times) if times else None,
    )


# Shared empty values: a batch holds a profile per cluster, and a new empty Counter or frozenset
# in each is one more object for the garbage collector to track and scan (they are immutable).
_NO_COUNTS: Mapping[str, int] = MappingProxyType({})
_NO_STRINGS: frozenset[str] = frozenset()


def _max_numbers(text: str) -> int:
    """An upper bound on the distinct numbers of a text (each has two digits or more): half its
    ASCII digits, counted with one ``bytes.translate`` pass; no bound for other text (NFKC may
    turn its characters into digits). Most texts are far from number-dense, and this rules
    them out without the number regex (:func:`_dense` grows with the count)."""
    if text.isascii():
        raw = text.encode("ascii")
        return (len(raw) - len(raw.translate(None, b"0123456789"))) // 2
    return len(text)


def _cluster_dates(cluster: Cluster, articles: Mapping[str, Article] | None) -> list[datetime | None]:
    dates: list[datetime | None] = [s.published for s in cluster.sources]
    if articles is not None:
        dates += [articles[m].published for m in cluster.member_ids if m in articles]
    return dates or [cluster.published]


def profile_from_cluster(
    cluster: Cluster, articles: Mapping[str, Article] | None = None, *, config: StoryConfig | None = None
) -> StoryProfile:
    """Profile of a cluster's canonical text; its time range comes from the members' real
    ``published`` dates (never ``first_seen``, which falls back to ingest time)."""
    dates = _cluster_dates(cluster, articles)
    return profile_from_text(cluster.cluster_id, cluster.title, cluster.text, published=dates, config=config)


# -- pairwise decision -------------------------------------------------------------------------


def _cosine(a: Mapping[str, int], b: Mapping[str, int], stats: TermStats) -> float:
    """TF-IDF cosine of two term-count mappings."""
    if not a or not b:
        return 0.0
    va, vb = stats.vector(a), stats.vector(b)
    if len(vb) < len(va):
        va, vb = vb, va
    return sum(w * vb[t] for t, w in va.items() if t in vb)


def _name_overlap(a: Mapping[str, int], b: Mapping[str, int], stats: TermStats) -> tuple[float, list[str]]:
    """IDF-weighted overlap coefficient of the two name sets (and the shared names)."""
    if not a or not b:
        return 0.0, []
    shared = sorted(set(a) & set(b), key=lambda t: (-stats.idf(t), t))
    wa = sum(stats.idf(t) for t in a)
    wb = sum(stats.idf(t) for t in b)
    ws = sum(stats.idf(t) for t in shared)
    return ws / min(wa, wb), shared


def _shared_quotes(a: StoryProfile, b: StoryProfile, min_ratio: float) -> list[str]:
    found: list[str] = []
    for q in a.quotes:
        if fuzz.partial_ratio(q, b.norm, score_cutoff=min_ratio):
            found.append(q)
    for q in b.quotes:
        if q not in found and fuzz.partial_ratio(q, a.norm, score_cutoff=min_ratio):
            found.append(q)
    return sorted(found)


def _gap_hours(a: StoryProfile, b: StoryProfile) -> float | None:
    if a.start is None or b.start is None or a.end is None or b.end is None:
        return None
    gap = max(0.0, max(a.start, b.start) - min(a.end, b.end))
    return gap / 3600.0


def story_match(
    a: StoryProfile, b: StoryProfile, stats: TermStats, *, config: StoryConfig | None = None
) -> StoryMatch:
    """Do two profiles report the same event? Symmetric; every signal is in the result.

    The signals are measured once and :func:`decide` applies the rule to them.
    """
    cfg = config or StoryConfig()
    if b.key < a.key:  # symmetric by construction
        a, b = b, a
    cos = _cosine(a.terms, b.terms, stats)
    ent, shared_names = _name_overlap(a.names, b.names, stats)
    measured = StoryMatch(
        same=False,
        rule="",
        score=cos + cfg.names_weight * ent,
        cosine=cos,
        lead=_cosine(a.lead, b.lead, stats),
        title=_cosine(a.title_terms, b.title_terms, stats),
        entities=ent,
        shared_names=tuple(shared_names),
        shared_numbers=tuple(sorted(a.numbers & b.numbers)),
        shared_quotes=tuple(_shared_quotes(a, b, cfg.quote_min_ratio)) if cos >= cfg.cosine_min else (),
        scores_differ=bool(a.scores and b.scores and not a.scores & b.scores),
        numbers_differ=_number_dense(a, cfg) and _number_dense(b, cfg) and not a.numbers & b.numbers,
        hours_apart=_gap_hours(a, b),
    )
    same, rule = decide(measured, cfg)
    return dataclasses.replace(measured, same=same, rule=rule)


def _number_dense(p: StoryProfile, cfg: StoryConfig) -> bool:
    """A text made mostly of figures (an earnings table, a dividend notice)."""
    return _dense(len(p.numbers), sum(p.terms.values()), cfg)


def _dense(n_numbers: int, n_words: int, cfg: StoryConfig) -> bool:
    return n_numbers >= cfg.min_numbers and n_numbers >= cfg.number_density * n_words


def decide(m: StoryMatch, config: StoryConfig) -> tuple[bool, str]:
    """The rule over measured signals, first match wins; returns ``(same, rule)``.

    outside the time window -> no (``outside-window``); cosine < ``cosine_min`` -> no
    (``low-cosine``); both texts give result lines ("3-1") and share none -> no
    (``scores-differ``: two matches of the same teams); both are number-dense and share no
    number -> no (``numbers-differ``: template items); at least one shared name and ``cosine +
    names_weight * names >= score_min`` -> yes (``text-and-names``); at least
    ``min_shared_quotes`` shared quotations -> yes (``shared-quote``); else no
    (``weak-evidence``).
    """
    if config.window is not None and m.hours_apart is not None and m.hours_apart * 3600.0 > config.window:
        return False, "outside-window"
    if m.cosine < config.cosine_min:
        return False, "low-cosine"
    if m.scores_differ:
        return False, "scores-differ"
    if m.numbers_differ:
        return False, "numbers-differ"
    if m.shared_names and m.cosine + config.names_weight * m.entities >= config.score_min:
        return True, "text-and-names"
    if len(m.shared_quotes) >= config.min_shared_quotes:
        return True, "shared-quote"
    return False, "weak-evidence"


# -- grouping ----------------------------------------------------------------------------------


def story_id_for(cluster_ids: Iterable[str]) -> str:
    """``s`` + 16 hex digits of xxh3-64 of the smallest cluster id: order independent."""
    return "s" + xxhash.xxh3_64_hexdigest(min(cluster_ids).encode("utf-8"))


def _top_terms(p: StoryProfile, stats: TermStats, k: int) -> list[str]:
    """The ``k`` strongest terms of one profile (sublinear TF x IDF, ties by the term)."""
    scored = sorted(p.terms, key=lambda t: (-(1.0 + math.log(p.terms[t])) * stats.idf(t), t))
    return scored[:k]


@dataclass(frozen=True, slots=True)
class _Sparse:
    """Rows of a batch as flat arrays: row ``r`` is entries ``offsets[r]:offsets[r + 1]``.

    ``weight`` is computed with the same float operations, in the same order, as the pure
    Python path (:meth:`TermStats.vector`, :func:`_name_overlap`), so the batch path reproduces
    its numbers bit for bit. ``probe`` is what a row contributes when another row looks its
    terms up (the weight itself for a dot product, 1.0 for a membership count).
    """

    offsets: np.ndarray
    ids: np.ndarray
    weight: np.ndarray
    probe: np.ndarray
    n_terms: int

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def entries(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Entry indices of the given rows, concatenated, and the position in ``rows`` of each."""
        starts, lens = self.offsets[rows], self.lengths[rows]
        owner = np.repeat(np.arange(len(rows)), lens)
        first = np.cumsum(lens) - lens
        return starts[owner] + (np.arange(int(lens.sum())) - first[owner]), owner


def _intern(rows: Iterable[Iterable[str]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Term ids (first-seen order) of every row's terms, in each row's order; row offsets."""
    lens: list[int] = []
    flat: list[str] = []
    for row in rows:
        before = len(flat)
        flat.extend(row)
        lens.append(len(flat) - before)
    words = list(dict.fromkeys(flat))
    index = {t: i for i, t in enumerate(words)}
    offsets = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    return offsets, np.fromiter(map(index.__getitem__, flat), dtype=np.int64, count=len(flat)), words


def _idf_array(stats: TermStats, words: list[str]) -> np.ndarray:
    """``stats.idf`` of every word, computed once per distinct document frequency (the same
    float operations, so the same values)."""
    df = np.fromiter(map(stats.df.get, words, itertools.repeat(0)), dtype=np.int64, count=len(words))
    uniq, inverse = unique_inverse(df)
    n = stats.n_docs
    per_df = np.array([math.log((1 + n) / (1 + int(d))) + 1.0 for d in uniq], dtype=np.float64)
    return per_df[inverse]


def _rank(words: list[str]) -> np.ndarray:
    """Position of each word in sorted (code point) order: the tie-break of the Python sorts."""
    rank = np.empty(len(words), dtype=np.int64)
    rank[np.array(sorted(range(len(words)), key=words.__getitem__), dtype=np.int64)] = np.arange(len(words))
    return rank


@dataclass(frozen=True, slots=True)
class _Words:
    """Every profile's terms and names as ids into one vocabulary (each row in its keys' order).

    Interned once per batch for the batch statistics, the term rows and the name rows alike;
    which id a word gets does not matter (ties are broken by :func:`_rank`)."""

    words: list[str]
    term_offsets: np.ndarray
    term_ids: np.ndarray
    name_offsets: np.ndarray
    name_ids: np.ndarray

    @classmethod
    def of(cls, ordered: Sequence[StoryProfile]) -> _Words:
        rows = itertools.chain((p.terms for p in ordered), (p.names for p in ordered))
        offsets, ids, words = _intern(rows)
        n = len(ordered)
        cut = int(offsets[n])
        return cls(words, offsets[: n + 1], ids[:cut], offsets[n:] - cut, ids[cut:])

    def stats(self) -> TermStats:
        """:meth:`TermStats.from_profiles` of the batch, counted with numpy: a word's document
        frequency is the number of rows holding it as a term or as a name (once)."""
        n, v = len(self.term_offsets) - 1, len(self.words)
        rows = np.arange(n, dtype=np.int64)
        term_codes = np.sort(np.repeat(rows, np.diff(self.term_offsets)) * v + self.term_ids)
        name_codes = np.repeat(rows, np.diff(self.name_offsets)) * v + self.name_ids
        # a name that is also a term of its row counts once, with the terms
        at = np.searchsorted(term_codes, name_codes)
        inside = at < len(term_codes)
        is_term = np.zeros(len(name_codes), dtype=bool)
        is_term[inside] = term_codes[at[inside]] == name_codes[inside]
        name_only = self.name_ids[~is_term]
        df = np.bincount(self.term_ids, minlength=v) + np.bincount(name_only, minlength=v)
        return TermStats(n_docs=n, df=Counter(dict(zip(self.words, df.tolist(), strict=True))))


def _strongest_first(row_of: np.ndarray, weight: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """``np.lexsort((rank, -weight, row_of))`` (by row, strongest first, ties by ``rank``) as one
    integer sort: each row holds a word once, so ``rank`` is unique within a row and the
    composite key is unique, and a weight's place among the distinct weights (few: they come
    from few term and document frequencies) orders it exactly as the float does."""
    if not len(weight):
        return np.zeros(0, dtype=np.int64)
    levels, place = unique_inverse(weight)
    n_levels, n_ranks = len(levels), int(rank.max()) + 1
    if (int(row_of.max()) + 1) * n_levels * n_ranks >= 1 << 62:  # would overflow: sort by keys
        return np.lexsort((rank, -weight, row_of))
    # (row * n_levels + (n_levels - 1 - place)) * n_ranks + rank, in place (large batches)
    key = row_of * n_levels
    key += n_levels - 1
    key -= place
    del place
    key *= n_ranks
    key += rank
    return np.argsort(key)


def _term_matrix(
    ordered: Sequence[StoryProfile], words: _Words, idf: np.ndarray
) -> tuple[_Sparse, np.ndarray, np.ndarray]:
    """Unit sublinear TF-IDF rows of ``terms``, the row of every entry and the raw weights
    ``(1 + log tf) * idf`` (which rank a profile's strongest terms); ``idf`` is per word."""
    offsets, ids = words.term_offsets, words.term_ids
    row_of = np.repeat(np.arange(len(ordered), dtype=np.int64), np.diff(offsets))
    tf = np.fromiter(
        itertools.chain.from_iterable(p.terms.values() for p in ordered), dtype=np.int64, count=len(ids)
    )
    uniq, inverse = unique_inverse(tf)
    sub = np.array([1.0 + math.log(int(x)) for x in uniq], dtype=np.float64)
    raw = sub[inverse] * idf[ids]  # (1 + log tf) * idf, as TermStats.vector
    # per-row sums in insertion order: np.bincount adds in input order, exactly as sum() does
    norm = np.sqrt(np.bincount(row_of, raw * raw, minlength=len(ordered)))
    with np.errstate(invalid="ignore", divide="ignore"):
        # a zero norm gives TermStats.vector an empty vector: every cosine with it is 0.0
        unit = np.where(norm[row_of] > 0.0, raw / norm[row_of], 0.0)
    return _Sparse(offsets, ids, unit, unit, max(1, len(words.words))), row_of, raw


_PAIR_CHUNK = 1 << 20
"""Candidate pairs spelled out per step of :func:`_candidate_pairs` (bounds its temporaries)."""


def _candidate_pairs(
    ordered: Sequence[StoryProfile],
    matrix: _Sparse,
    row_of: np.ndarray,
    rank: np.ndarray,
    raw: np.ndarray,
    cfg: StoryConfig,
    start: np.ndarray,
    end: np.ndarray,
) -> np.ndarray:
    """Pairs (``i < j``, as ``i * n + j``) sharing at least two of their ``candidate_terms``
    strongest terms, counted only in postings of at most ``max_posting`` profiles.

    Pairs that cannot be within the time window are never generated (exact pruning: each
    posting is sorted by start hour and a profile is paired only with those starting no later
    than its end + window, rounded outwards); :func:`_window_ok` then applies the exact test.
    """
    n = len(ordered)
    if n < 2 or not len(raw):
        return np.zeros(0, dtype=np.int64)
    ids = matrix.ids
    # per row: strongest first, ties by the term itself (as _top_terms sorts)
    order = _strongest_first(row_of, raw, rank[ids])
    within = np.arange(len(order)) - matrix.offsets[row_of[order]]
    top = order[within < cfg.candidate_terms]
    t_term, t_row = ids[top], row_of[top]
    df = np.bincount(t_term, minlength=matrix.n_terms)
    keep = (df[t_term] > 1) & (df[t_term] <= cfg.max_posting)
    t_term, t_row = t_term[keep], t_row[keep]
    if not len(t_term):
        return np.zeros(0, dtype=np.int64)
    dated = ~np.isnan(start)
    if cfg.window is None or not dated.any():
        hour = np.zeros(n, dtype=np.int64)
        bound = np.full(n, (1 << 32) - 1, dtype=np.int64)
    else:
        t0 = float(np.nanmin(start))
        with np.errstate(invalid="ignore"):
            hour = np.where(dated, np.floor((start - t0) / 3600.0) + 1, 0).astype(np.int64)
            reach = np.floor((end - t0 + float(cfg.window)) / 3600.0) + 2
        bound = np.where(dated, np.minimum(reach, (1 << 32) - 2), (1 << 32) - 1).astype(np.int64)
    # undated profiles sort first (hour 0) and reach everything after them
    srt = np.lexsort((t_row, hour[t_row], t_term))
    t_term, t_row = t_term[srt], t_row[srt]
    composite = (t_term << 32) + hour[t_row]
    hi = np.searchsorted(composite, (t_term << 32) + bound[t_row], side="right")
    fan = hi - np.arange(len(t_term)) - 1
    total = int(fan.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    # the pairs are spelled out a slice of postings entries at a time into one preallocated
    # array: 8 bytes per pair, where building them whole took five arrays of that length
    codes = np.empty(total, dtype=np.int64)
    ends = np.cumsum(fan)
    lo = 0
    while lo < len(fan):
        done = int(ends[lo - 1]) if lo else 0  # pairs spelled out so far
        hi = max(lo + 1, int(np.searchsorted(ends, done + _PAIR_CHUNK, side="right")))
        first = np.repeat(np.arange(lo, hi, dtype=np.int64), fan[lo:hi])
        starts = np.repeat(ends[lo:hi] - fan[lo:hi] - done, fan[lo:hi])
        second = first + 1 + (np.arange(len(first), dtype=np.int64) - starts)
        a, b = t_row[first], t_row[second]
        codes[done : done + len(first)] = np.minimum(a, b) * n + np.maximum(a, b)
        lo = hi
    codes.sort()
    # a code seen at least twice equals its predecessor; keep the first such of each run
    twice = codes[1:][codes[1:] == codes[:-1]]
    if not len(twice):
        return twice
    return twice[np.concatenate(([True], twice[1:] != twice[:-1]))]


def _window_ok(
    i: np.ndarray, j: np.ndarray, start: np.ndarray, end: np.ndarray, window: float | None
) -> np.ndarray:
    """Not ``outside-window``: the exact float test of :func:`decide` (undated: always)."""
    if window is None:
        return np.ones(len(i), dtype=bool)
    sa, sb, ea, eb = start[i], start[j], end[i], end[j]
    undated = np.isnan(sa) | np.isnan(sb) | np.isnan(ea) | np.isnan(eb)
    with np.errstate(invalid="ignore"):
        gap = np.maximum(0.0, np.maximum(sa, sb) - np.minimum(ea, eb)) / 3600.0
        outside = gap * 3600.0 > window
    return undated | ~outside


def _pair_dot(
    matrix: _Sparse, i: np.ndarray, j: np.ndarray, chunk: int = 1 << 20
) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: the sum over shared ids of ``weight`` (walked row) x ``probe`` (other row), and
    the number of shared ids.

    The row with fewer entries (``i`` on ties, as :func:`_cosine` does) is walked in its own
    order and the products are summed sequentially (``np.bincount``), so the sum equals the
    Python generator sum bit for bit (a missing id adds ``0.0``, which changes nothing). The
    other row is spread into a dense array once for all its pairs, so a look-up is one gather.
    """
    lens = matrix.lengths
    walk_j = lens[j] < lens[i]
    walk = np.where(walk_j, j, i)
    other = np.where(walk_j, i, j)
    by_other = np.argsort(other, kind="stable")
    walk, other = walk[by_other], other[by_other]
    dots = np.zeros(len(i))
    shared = np.zeros(len(i), dtype=np.int64)
    dense = np.zeros(matrix.n_terms)
    offsets, ids, probe = matrix.offsets, matrix.ids, matrix.probe
    cum = np.cumsum(lens[walk])
    lo = 0
    while lo < len(walk):  # chunks of about `chunk` entries bound the memory
        hi = int(np.searchsorted(cum, (cum[lo - 1] if lo else 0) + chunk, side="right"))
        hi = max(hi, lo + 1)
        entries, owner = matrix.entries(walk[lo:hi])
        look = ids[entries]
        got = np.zeros(len(entries))
        rows = other[lo:hi]
        heads = np.flatnonzero(np.concatenate(([True], rows[1:] != rows[:-1])))  # one per other row
        bounds = np.searchsorted(owner, np.append(heads, len(rows))).tolist()
        for g, row in enumerate(rows[heads].tolist()):
            e0, e1 = bounds[g], bounds[g + 1]
            if e0 != e1:
                mine = ids[offsets[row] : offsets[row + 1]]
                dense[mine] = probe[offsets[row] : offsets[row + 1]]
                got[e0:e1] = dense[look[e0:e1]]
                dense[mine] = 0.0
        dots[lo:hi] = np.bincount(owner, matrix.weight[entries] * got, minlength=hi - lo)
        # counts shared ids where the probe is never 0.0 (names: 1.0); unused for the cosine
        shared[lo:hi] = np.bincount(owner, got != 0.0, minlength=hi - lo)
        lo = hi
    out_dots = np.empty_like(dots)
    out_shared = np.empty_like(shared)
    out_dots[by_other] = dots
    out_shared[by_other] = shared
    return out_dots, out_shared


def _name_matrix(
    ordered: Sequence[StoryProfile], words: _Words, idf: np.ndarray, rank: np.ndarray
) -> tuple[_Sparse, np.ndarray]:
    """Names of every profile as rows of IDF weights, each row sorted strongest first (ties by
    name), which is the order :func:`_name_overlap` sums the shared names in; plus each row's
    total IDF summed in insertion order (its ``wa``)."""
    offsets, ids = words.name_offsets, words.name_ids
    row_of = np.repeat(np.arange(len(ordered), dtype=np.int64), np.diff(offsets))
    weight = idf[ids]
    total = np.bincount(row_of, weight, minlength=len(ordered))  # insertion order, like sum()
    order = _strongest_first(row_of, weight, rank[ids])
    ones = np.ones(len(ids))
    return _Sparse(offsets, ids[order], weight[order], ones, max(1, len(words.words))), total


def _story_links(
    ordered: Sequence[StoryProfile], stats: TermStats, cfg: StoryConfig, words: _Words | None = None
) -> list[tuple[int, int]]:
    """Every candidate pair (see :func:`_candidate_pairs`) that :func:`story_match` joins.

    The same decision as calling :func:`story_match` on each candidate, computed for the whole
    batch with numpy: the time window, the cosine and the name overlap are reproduced with the
    same float operations in the same order (bit-identical values, so no threshold can flip);
    the vetoes are set tests on the few pairs that need them and the quote search runs only for
    pairs that the other rules leave undecided. ``words`` is :meth:`_Words.of` ``ordered``, when
    the caller has it already.
    """
    n = len(ordered)
    if n < 2:
        return []
    start = np.array([np.nan if p.start is None else p.start for p in ordered], dtype=np.float64)
    end = np.array([np.nan if p.end is None else p.end for p in ordered], dtype=np.float64)
    words = words if words is not None else _Words.of(ordered)
    idf, rank = _idf_array(stats, words.words), _rank(words.words)
    matrix, row_of, raw = _term_matrix(ordered, words, idf)
    codes = _candidate_pairs(ordered, matrix, row_of, rank, raw, cfg, start, end)
    i, j = codes // n, codes % n
    keep = _window_ok(i, j, start, end, cfg.window)
    i, j = i[keep], j[keep]
    cos, _ = _pair_dot(matrix, i, j)
    keep = ~(cos < cfg.cosine_min)
    i, j, cos = i[keep], j[keep], cos[keep]
    if not len(i):
        return []
    names, total = _name_matrix(ordered, words, idf, rank)
    # each row is sorted strongest first, so whichever row is walked, the shared names are
    # summed in the order _name_overlap sorts them
    ws, n_shared = _pair_dot(names, i, j)
    with np.errstate(invalid="ignore", divide="ignore"):
        ent = ws / np.minimum(total[i], total[j])
    score = cos + cfg.names_weight * ent
    names_ok = (n_shared > 0) & (score >= cfg.score_min)
    # a zero total name weight (possible only with foreign statistics): the reference decides
    odd = (n_shared > 0) & ~np.isfinite(ent)
    has_scores = np.array([bool(p.scores) for p in ordered])
    dense = np.array([_number_dense(p, cfg) for p in ordered])
    has_quotes = np.array([bool(p.quotes) for p in ordered])
    links: list[tuple[int, int]] = []
    check = np.flatnonzero(
        names_ok
        | odd
        | has_quotes[i]
        | has_quotes[j]
        | (has_scores[i] & has_scores[j])
        | (dense[i] & dense[j])
    )
    for x in check.tolist():
        pair = (int(i[x]), int(j[x]))
        a, b = ordered[pair[0]], ordered[pair[1]]
        if odd[x]:
            same = story_match(a, b, stats, config=cfg).same
        elif a.scores and b.scores and not a.scores & b.scores:
            same = False  # scores-differ
        elif dense[pair[0]] and dense[pair[1]] and not a.numbers & b.numbers:
            same = False  # numbers-differ
        else:
            same = bool(names_ok[x]) or _has_shared_quotes(a, b, cfg.quote_min_ratio, cfg.min_shared_quotes)
        if same:
            links.append(pair)
    return links


def _has_shared_quotes(a: StoryProfile, b: StoryProfile, min_ratio: float, need: int) -> bool:
    """``len(_shared_quotes(a, b)) >= need``, stopping at the ``need``-th quote found."""
    found: list[str] = []
    for q in a.quotes:
        if fuzz.partial_ratio(q, b.norm, score_cutoff=min_ratio):
            found.append(q)
            if len(found) >= need:
                return True
    for q in b.quotes:
        if q not in found and fuzz.partial_ratio(q, a.norm, score_cutoff=min_ratio):
            found.append(q)
            if len(found) >= need:
                return True
    return False


def _split(comp: list[str], links: Mapping[str, set[str]]) -> list[list[str]]:
    """Chaining-resistant split of one connected component (see the module docstring)."""
    remaining = set(comp)
    out: list[list[str]] = []
    # links into `remaining`, kept up to date; the centre is the member with most of them
    # (ties: smallest id), taken from a heap whose stale entries are skipped
    degree = {n: len(links.get(n, set()) & remaining) for n in comp}
    heap = [(-d, n) for n, d in degree.items()]
    heapq.heapify(heap)
    while remaining:
        neg, center = heapq.heappop(heap)
        if center not in remaining or -neg != degree[center]:
            continue
        members = {center} | (links.get(center, set()) & remaining)
        while len(members) > 2:
            need = (len(members) - 1) / 2
            weak = {
                m: len(links.get(m, set()) & members)
                for m in members
                if m != center and len(links.get(m, set()) & members) < need
            }
            if not weak:
                break
            lowest = min(weak.values())
            members.discard(max(m for m, n in weak.items() if n == lowest))
        out.append(sorted(members))
        remaining -= members
        touched: set[str] = set()
        for m in members:
            for nb in links.get(m, ()):
                if nb in remaining:
                    degree[nb] -= 1
                    touched.add(nb)
        for nb in touched:
            heapq.heappush(heap, (-degree[nb], nb))
    return out


def group_stories(
    profiles: Sequence[StoryProfile],
    *,
    stats: TermStats | None = None,
    config: StoryConfig | None = None,
) -> list[list[str]]:
    """Partition profiles (by ``key``) into stories; deterministic and order independent.

    ``stats`` defaults to the document frequencies of ``profiles`` themselves.
    """
    cfg = config or StoryConfig()
    ordered = sorted(profiles, key=lambda p: p.key)
    keys = [p.key for p in ordered]
    if len(set(keys)) != len(keys):
        raise ConfigError("group_stories: profile keys must be unique")
    words = _Words.of(ordered)
    stats = stats if stats is not None else words.stats()
    links: dict[str, set[str]] = {}
    for i, j in _story_links(ordered, stats, cfg, words):
        links.setdefault(keys[i], set()).add(keys[j])
        links.setdefault(keys[j], set()).add(keys[i])
    stories: list[list[str]] = []
    seen: set[str] = set()
    for start in keys:  # connected components, iteratively
        if start in seen:
            continue
        seen.add(start)
        comp, stack = [start], [start]
        while stack:
            for nb in links.get(stack.pop(), ()):
                if nb not in seen:
                    seen.add(nb)
                    comp.append(nb)
                    stack.append(nb)
        comp.sort()
        members = set(comp)
        complete = all(len(links.get(n, set()) & members) == len(comp) - 1 for n in comp)
        stories.extend([comp] if complete else _split(comp, links))
    return sorted(stories, key=lambda s: s[0])


def medoid(members: Sequence[StoryProfile], stats: TermStats) -> StoryProfile:
    """The member with the highest total cosine to the others (ties: smallest key)."""
    if not members:
        raise ConfigError("medoid of an empty story")
    best = min(
        members,
        key=lambda m: (-sum(_cosine(m.terms, o.terms, stats) for o in members if o is not m), m.key),
    )
    return best


def joins_story(
    candidate: StoryProfile,
    members: Sequence[StoryProfile],
    stats: TermStats,
    *,
    config: StoryConfig | None = None,
) -> tuple[bool, list[StoryMatch]]:
    """Incremental test: does ``candidate`` join the story made of ``members``?

    It must match the story's medoid and at least half of the representatives (the medoid plus
    the members most similar to it, ``max_representatives`` in all): one bridge member is never
    enough. Returns the decision and the matches against each representative (medoid first).
    """
    cfg = config or StoryConfig()
    center = medoid(members, stats)
    others = sorted(
        (m for m in members if m is not center),
        key=lambda m: (-_cosine(center.terms, m.terms, stats), m.key),
    )
    reps = [center, *others[: cfg.max_representatives - 1]]
    matches = [story_match(candidate, r, stats, config=cfg) for r in reps]
    ok = matches[0].same and sum(m.same for m in matches) * 2 >= len(matches)
    return ok, matches


def assign_stories(
    clusters: Iterable[Cluster],
    articles: Mapping[str, Article] | None = None,
    *,
    config: StoryConfig | None = None,
    window: str | float | timedelta | EllipsisType | None = ...,
) -> list[Cluster]:
    """The clusters (same order) with ``extra["story_id"]`` set; nothing else changes.

    ``window`` (``"72h"``, seconds, a timedelta or None) overrides ``config.window``.
    ``articles`` (member id -> Article) is optional and only adds members' publication dates.
    ``clusters`` may be any iterable (``Deduplicator.iter_clusters()``): it is read into a
    list first, since the ids are found in one pass and set in another.
    """
    if not isinstance(clusters, list | tuple):
        clusters = list(clusters)
    story_of = story_ids(clusters, articles, config=config, window=window)
    return [dataclasses.replace(c, extra={**c.extra, "story_id": story_of[c.cluster_id]}) for c in clusters]


def story_ids(
    clusters: Iterable[Cluster],
    articles: Mapping[str, Article] | None = None,
    *,
    config: StoryConfig | None = None,
    window: str | float | timedelta | EllipsisType | None = ...,
) -> dict[str, str]:
    """Cluster id -> story id, as :func:`assign_stories` gives them. ``clusters`` is read once,
    one cluster at a time, and only its story profile is kept, not its members: a caller can
    stream a million members' clusters from disk and hold a profile per cluster."""
    profiler = GroupingProfiler(config, window=window)
    return profiler.story_ids([profiler(c, articles) for c in clusters])


class GroupingProfiler:
    """Clusters -> the story profiles :func:`story_ids` groups (only what grouping reads).

    Split from the grouping so the profiles can be taken elsewhere: the CLI's cluster-building
    worker processes take each cluster's profile as they build it, and the main process only
    groups. One profiler shares one word vocabulary across its profiles (a cache: the profiles
    are the same with a fresh one)."""

    def __init__(
        self,
        config: StoryConfig | None = None,
        *,
        window: str | float | timedelta | EllipsisType | None = ...,
    ) -> None:
        cfg = config or StoryConfig()
        if not isinstance(window, EllipsisType):
            from ._dedup import parse_window

            cfg = dataclasses.replace(cfg, window=parse_window(window))
        self.config = cfg
        self._vocab = _Vocabulary()

    def __call__(self, cluster: Cluster, articles: Mapping[str, Article] | None = None) -> StoryProfile:
        return _profile(
            cluster.cluster_id,
            cluster.title,
            cluster.text,
            _cluster_dates(cluster, articles),
            self.config,
            for_grouping=True,
            vocab=self._vocab,
        )

    def story_ids(self, profiles: Sequence[StoryProfile]) -> dict[str, str]:
        """Profile key (cluster id) -> story id."""
        story_of: dict[str, str] = {}
        for story in group_stories(profiles, config=self.config):
            sid = story_id_for(story)
            for key in story:
                story_of[key] = sid
        return story_of


def stories_from(
    clusters: Sequence[Cluster],
    everything: Iterable[Cluster],
    *,
    config: StoryConfig | None = None,
    window: str | float | timedelta | EllipsisType | None = ...,
) -> list[Cluster]:
    """``clusters`` (same order) with the ``story_id`` they get when stories are assigned over
    ``everything`` (e.g. every cluster of a state store), so ids written by incremental runs
    equal those of one run over all items. ``clusters`` missing from ``everything`` are added to
    it. Costs one :func:`story_ids` pass over the whole set per call (``everything`` is read
    once; a story profile per cluster is held)."""
    mine = {c.cluster_id for c in clusters}
    pool = itertools.chain((c for c in everything if c.cluster_id not in mine), clusters)
    story_of = story_ids(pool, config=config, window=window)
    return [dataclasses.replace(c, extra={**c.extra, "story_id": story_of[c.cluster_id]}) for c in clusters]
