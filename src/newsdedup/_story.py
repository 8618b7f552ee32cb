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
inverted index of each profile's strongest terms, every candidate is decided by
:func:`story_match` (outside the time window never matches), and each connected component of
the "same story" graph is split against chaining like clusters of copies are: a centre (most
links) takes its neighbours, and a member stays only while it matches at least half of the
other members. ``story_id`` = ``"s"`` + xxh3 of the smallest cluster id of the story, so the
partition and the ids do not depend on input order.

Incremental use (a state store): :func:`joins_story` is the pure "does this new cluster join
that story" test -- it must match the story's medoid and at least half of its representatives.
A store keeps ``cluster_id -> story_id``, each story's representatives (cluster ids, whose
profiles are rebuilt from the stored canonical text) and the document-frequency table
(:class:`TermStats` is a plain counter that can be saved and merged).
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import EllipsisType
from typing import Any

import xxhash
from rapidfuzz import fuzz

from ._exceptions import ConfigError
from ._models import Article, Cluster
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
# what may precede a capital that only marks a sentence start
_OPENERS = frozenset(".!?:;\"'“”‘’()[]-–—•*")
_DIGITS = re.compile(r"\d")
_YEAR = re.compile(r"^(?:19|20)\d\d$")  # a year says little about which event it is
# A result line ("3-1", "2 - 2"): two reports of one match share it, two matches of the same
# teams almost never do. Not part of a longer number run (dates, phone numbers, "4-3-3").
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
            if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
                raise ConfigError(f"story.{name} must be a number in [{lo}, {hi}], got {v!r}")

        def integer(name: str, lo: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ConfigError(f"story.{name} must be an int >= {lo}, got {v!r}")

        if self.window is not None:
            w = self.window
            if isinstance(w, bool) or not isinstance(w, int | float) or not w > 0:
                raise ConfigError(f"story.window must be positive seconds or None, got {w!r}")
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
        stats = cls()
        for p in profiles:
            stats.add(p)
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
    return [t for t in tokens if len(t) > 1 and t not in _STOPWORDS and not t[:1].isdigit()]


def _names(text: str) -> Counter[str]:
    """Words of capitalised runs that are not just a capitalised sentence start, and acronyms.

    Lines written mostly in capitals (wire headlines, tables) carry no case information and
    are skipped, or every word of them would look like a name.
    """
    out: Counter[str] = Counter()
    for line in unicodedata.normalize("NFKC", text).split("\n"):
        letters = [c for c in line if c.isalpha()]
        if not letters or sum(c.isupper() for c in letters) > 0.6 * len(letters):
            continue
        for m in _NAME_RUN.finditer(line):
            raw = m.group(0).split()
            words = [(w, normalize_text(w).strip("'-")) for w in raw]
            words = [(w, f) for w, f in words if len(f) > 1 and f not in _STOPWORDS and not f[:1].isdigit()]
            before = line[: m.start()].rstrip(" \t")
            sentence_start = not before or before[-1] in _OPENERS
            if (
                sentence_start
                and len(words) == 1
                and words[0][0] == raw[0]
                and not (raw[0].isupper() and len(raw[0]) >= 2)
            ):
                continue  # "The", "However", "Pay April 1": a capital because a line starts
            for _w, folded in words:
                out[folded] += 1
    return out


def _quotes(text: str, min_words: int) -> tuple[str, ...]:
    folded = normalize_text(text)
    found = []
    for m in _QUOTE.finditer(folded):
        q = m.group(1).strip(" ,.;:")
        if len(tokenize(q)) >= min_words:
            found.append(q)
    return tuple(sorted(set(found)))


def _ts(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


def profile_from_text(
    key: str,
    title: str,
    text: str,
    *,
    published: Iterable[datetime | None] = (),
    config: StoryConfig | None = None,
) -> StoryProfile:
    """The story profile of one text (title + body); ``published`` are its members' dates."""
    cfg = config or StoryConfig()
    full = f"{title}\n{text}" if title else text
    norm = normalize_text(full)
    body_tokens = _content(tokenize(normalize_text(text)))
    title_tokens = _content(tokenize(normalize_text(title)))
    times = [t for t in (_ts(p) for p in published) if t is not None]
    return StoryProfile(
        key=key,
        title=title,
        title_terms=Counter(title_tokens),
        terms=Counter(title_tokens + body_tokens),
        lead=Counter(title_tokens + body_tokens[: cfg.lead_tokens]),
        names=_names(full),
        numbers=frozenset(
            n
            for n in re.findall(r"\d+(?:[.,]\d+)*", unicodedata.normalize("NFKC", text))
            if len(_DIGITS.findall(n)) >= 2 and not _YEAR.match(n)
        ),
        scores=frozenset(f"{x}-{y}" for x, y in _SCORE.findall(normalize_text(text))),
        quotes=_quotes(text, cfg.min_quote_words),
        norm=norm,
        start=min(times) if times else None,
        end=max(times) if times else None,
    )


def profile_from_cluster(
    cluster: Cluster, articles: Mapping[str, Article] | None = None, *, config: StoryConfig | None = None
) -> StoryProfile:
    """Profile of a cluster's canonical text; its time range comes from the members' real
    ``published`` dates (never ``first_seen``, which falls back to ingest time)."""
    dates: list[datetime | None] = [s.published for s in cluster.sources]
    if articles is not None:
        dates += [articles[m].published for m in cluster.member_ids if m in articles]
    if not dates:
        dates = [cluster.published]
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
    n = len(p.numbers)
    return n >= cfg.min_numbers and n >= cfg.number_density * sum(p.terms.values())


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
    scored = sorted(p.terms, key=lambda t: (-(1.0 + math.log(p.terms[t])) * stats.idf(t), t))
    return scored[:k]


def _candidates(
    profiles: Sequence[StoryProfile], stats: TermStats, k: int, max_posting: int
) -> list[tuple[int, int]]:
    """Pairs sharing at least two strong terms (an inverted index instead of all pairs)."""
    index: dict[str, list[int]] = {}
    for i, p in enumerate(profiles):
        for t in _top_terms(p, stats, k):
            index.setdefault(t, []).append(i)
    counts: Counter[tuple[int, int]] = Counter()
    for posting in index.values():
        if 1 < len(posting) <= max_posting:
            for x in range(len(posting)):
                for y in range(x + 1, len(posting)):
                    counts[(posting[x], posting[y])] += 1
    return sorted(pair for pair, n in counts.items() if n >= 2)


def _split(comp: list[str], links: Mapping[str, set[str]]) -> list[list[str]]:
    """Chaining-resistant split of one connected component (see the module docstring)."""
    remaining = set(comp)
    out: list[list[str]] = []
    while remaining:
        center = min(remaining, key=lambda n: (-len(links.get(n, set()) & remaining), n))
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
    stats = stats if stats is not None else TermStats.from_profiles(ordered)
    links: dict[str, set[str]] = {}
    for i, j in _candidates(ordered, stats, cfg.candidate_terms, cfg.max_posting):
        a, b = ordered[i], ordered[j]
        gap = _gap_hours(a, b)
        if cfg.window is not None and gap is not None and gap * 3600.0 > cfg.window:
            continue  # the first two rules of decide(), checked before the costlier signals
        if _cosine(a.terms, b.terms, stats) < cfg.cosine_min:
            continue
        if story_match(a, b, stats, config=cfg).same:
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
        complete = all(len(links.get(n, set()) & set(comp)) == len(comp) - 1 for n in comp)
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
    clusters: Sequence[Cluster],
    articles: Mapping[str, Article] | None = None,
    *,
    config: StoryConfig | None = None,
    window: str | float | timedelta | EllipsisType | None = ...,
) -> list[Cluster]:
    """The clusters (same order) with ``extra["story_id"]`` set; nothing else changes.

    ``window`` (``"72h"``, seconds, a timedelta or None) overrides ``config.window``.
    ``articles`` (member id -> Article) is optional and only adds members' publication dates.
    """
    cfg = config or StoryConfig()
    if not isinstance(window, EllipsisType):
        from ._dedup import parse_window

        cfg = dataclasses.replace(cfg, window=parse_window(window))
    profiles = [profile_from_cluster(c, articles, config=cfg) for c in clusters]
    story_of: dict[str, str] = {}
    for story in group_stories(profiles, config=cfg):
        sid = story_id_for(story)
        for key in story:
            story_of[key] = sid
    return [dataclasses.replace(c, extra={**c.extra, "story_id": story_of[c.cluster_id]}) for c in clusters]


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
    it. Costs one :func:`assign_stories` over the whole set per call."""
    pool = {c.cluster_id: c for c in everything}
    for c in clusters:
        pool[c.cluster_id] = c
    ordered = [pool[k] for k in sorted(pool)]
    story_of = {
        c.cluster_id: c.extra["story_id"] for c in assign_stories(ordered, config=config, window=window)
    }
    return [dataclasses.replace(c, extra={**c.extra, "story_id": story_of[c.cluster_id]}) for c in clusters]
