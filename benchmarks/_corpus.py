"""Generated text corpus for ``benchmarks/speed.py`` and ``benchmarks/million.py``.

Reuters-21578 stories (loaded and cleaned by ``_syndicate.load_stories``) republished as plain
text the way aggregators carry wire copy: site header/footer lines, inline ad and "read more"
lines, MENAFN/Reuters leads, copyright footers, truncation to the first 40-90 % of paragraphs,
a dropped paragraph, a headline-style rewrite of the first sentence, typos, curly quotes,
dashes and non-breaking spaces, and a different title, url, site and time for every copy.

Gold: every base Reuters story is one gold story. Copy counts are skewed (about half the
stories are singletons, most others have 2-10 copies, a few have 12-80; 3.7 on average).
When the wanted number of items needs more stories than there are (9,968 usable ones, so from
about 37k items on), every story is used and all counts are scaled up to reach ``n``: at 1M items a
story has about 100 copies on average, each with its own perturbations; a reused story is
never counted as a new gold story. The Reuters look-alike pairs (template stories of
different news, ``load_stories`` negatives) are always in the corpus, each story as its own
gold story, so merging them costs precision.

The corpus is streamed to disk (1M items are never held in memory): ``items.jsonl`` in the
``newsdedup dedup`` input format, gold in side files the tools never read (``gold.npy``: the
gold story number of item ``i``, whose id is ``it<i>``; ``stories.json``: the story keys).
Deterministic for ``(n, seed)``.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _syndicate import Story, _curly, load_stories

__all__ = [
    "CORPUS_VERSION",
    "Corpus",
    "PairScores",
    "default_data",
    "ensure_corpus",
    "generate",
    "item_index",
    "pair_scores",
]

CORPUS_VERSION = 1
"""Bump when the generator changes, so cached corpora are rebuilt."""

REPO = Path(__file__).resolve().parent.parent
NBSP = "\u00a0"


def default_data() -> Path:
    return Path(os.environ.get("NEWSDEDUP_DATA", str(REPO.parent / "shared" / "data")))


# -- sites ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Site:
    domain: str
    name: str
    lead: str
    """Prefix of the first paragraph: ``{dl}`` dateline, ``{city}`` city; empty: none."""
    header: tuple[str, ...] = ()
    inline: tuple[str, ...] = ()
    """Lines one of which may be inserted between paragraphs (ads, read-more teasers)."""
    footer: tuple[str, ...] = ()
    curly: bool = False
    dashes: bool = False
    title: str = "{t}"
    weight: int = 1


_COPY = "© 2026 Thomson/Reuters. All rights reserved."
_NO_REDIST = "This material may not be published, broadcast, rewritten or redistributed."

SITES: tuple[Site, ...] = (
    Site("reuters.com", "Reuters", "{dl} (Reuters) - ",
         footer=("Reporting by Reuters staff; Editing by the desk",
                 "Our Standards: The Thomson Reuters Trust Principles."), weight=3),
    Site("menafn.com", "MENAFN", "(MENAFN- Reuters) ",
         footer=("Legal Disclaimer: MENAFN provides the information as is without warranty of any kind. We do "
                 "not accept any responsibility or liability for the accuracy, content, images, videos, "
                 "licenses, completeness, legality, or reliability of the information contained in this article.",),
         weight=2),
    Site("newsmax.com", "Newsmax", "", footer=(_COPY,),
         inline=("Get the Newsmax Daily Brief delivered to your inbox every morning, free.",), weight=2),
    Site("globalnews.ca", "Global News", "{dl} - ",
         inline=("Story continues below advertisement",), footer=(_NO_REDIST,), curly=True),
    Site("dailyglobe-news.com", "Daily Globe", "",
         header=("From Reuters",), inline=("Advertisement - scroll down to continue reading",
                                           "Click here to read more"),
         footer=("The Daily Globe is not responsible for the content of external sites.",)),
    Site("rivertown-courier.com", "Rivertown Courier", "{city} — ",
         header=("Subscribe today: get unlimited digital access for just 99 cents a week.",),
         footer=("Copyright 2026 Reuters. " + _NO_REDIST,), curly=True, dashes=True,
         title="Report: {t}"),
    Site("marketpulse-finance.com", "MarketPulse", "{dl} - ",
         header=("Source: Reuters",),
         footer=("This article is for information only and is not investment advice.",
                 "Market data provided by third parties and delayed by at least 15 minutes."),
         title="{t} | MarketPulse"),
    Site("newsbrief-hub.net", "NewsBrief Hub", "",
         inline=("Sign up for our free morning newsletter and never miss a story.",),
         footer=("Continue reading the full story at the original source.",
                 "NewsBrief Hub aggregates headlines from around the web."), title="UPDATE 1-{t}"),
    Site("investing-daily.com", "Investing Daily", "{dl} (Reuters) — ",
         header=("By Reuters",), footer=(_COPY,), dashes=True),
    Site("yahoo-finance-mirror.com", "Finance Mirror", "{dl} (Reuters) - ",
         inline=("Story continues below advertisement", "Click here to read more"),
         footer=(_COPY, "Sign up for our newsletter to get the day's top stories in your inbox."),
         curly=True, title="{t} - Reuters"),
    Site("worldwire-today.org", "WorldWire Today", "",
         header=("WorldWire Today | Wire copy",), footer=(_NO_REDIST,), title="WRAPUP-{t}"),
    Site("the-metro-ledger.com", "Metro Ledger", "{city}, (Reuters) -- ",
         inline=("RELATED: More business news from the Ledger",),
         footer=("Have a news tip? Email the Metro Ledger newsroom.",), dashes=True),
)  # fmt: skip

_SITE_WEIGHTS = [s.weight for s in SITES]


# -- perturbations ----------------------------------------------------------------------------

_SMALL = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "vs"}
_SENTENCE = re.compile(r"(?<=[a-z0-9)]{3}[.!?])\s+(?=[A-Z\"'])")
"""A sentence end: not after an abbreviation such as "U.S." or "Corp." (close enough here)."""
_WORDLIKE = re.compile(r"[A-Za-z]{4,}")
_SHORT_WORD = re.compile(r"\b\w{1,3}( )")


def _title_case(title: str) -> str:
    words = title.split()
    return " ".join(
        w.lower() if i and w.lower() in _SMALL else w.lower().capitalize() for i, w in enumerate(words)
    )


def _typo(text: str, rng: random.Random) -> str:
    """Swap two adjacent letters of one word, the commonest typing slip."""
    words = list(_WORDLIKE.finditer(text))
    if not words:
        return text
    m = rng.choice(words)
    w = m.group()
    k = rng.randrange(1, len(w) - 2)
    w = w[:k] + w[k + 1] + w[k] + w[k + 2 :]
    return text[: m.start()] + w + text[m.end() :]


def _nbsp(text: str, rng: random.Random, count: int) -> str:
    """Non-breaking spaces where publishers' CMSes put them: after numbers and short words."""
    spaces = [m.start(1) for m in _SHORT_WORD.finditer(text)]
    if not spaces:
        return text
    chars = list(text)
    for pos in rng.sample(spaces, min(count, len(spaces))):
        chars[pos] = NBSP
    return "".join(chars)


def _headline_lead(paragraph: str, title: str) -> str:
    """Replace the first sentence with a headline-style line built from the story's title."""
    parts = _SENTENCE.split(paragraph, maxsplit=1)
    head = _title_case(title).rstrip(".") + ":"
    # A one-sentence paragraph keeps its sentence, so no copy is left with a headline only.
    return head + " " + (parts[1] if len(parts) > 1 else paragraph)


def render(story: Story, index: int, seed: int) -> dict[str, Any]:
    """One copy of ``story`` as a ``newsdedup dedup`` input record (deterministic per index)."""
    rng = random.Random(seed * 1_000_003 + index)
    site = rng.choices(SITES, weights=_SITE_WEIGHTS)[0]
    paras = list(story.paragraphs)
    if len(paras) > 1 and rng.random() < 0.25:
        keep = max(1, round(len(paras) * rng.uniform(0.4, 0.9)))
        paras = paras[:keep]
    if len(paras) >= 4 and rng.random() < 0.1:
        del paras[rng.randrange(1, len(paras) - 1)]
    if rng.random() < 0.15:
        paras[0] = _headline_lead(paras[0], story.title)
    for _ in range(rng.choice((0, 0, 0, 0, 1, 1, 2))):
        k = rng.randrange(len(paras))
        paras[k] = _typo(paras[k], rng)
    dateline = story.dateline or "NEW YORK"
    city = dateline.split(",")[0].strip().title()
    if site.lead:
        paras[0] = site.lead.format(dl=dateline, city=city) + paras[0]
    if site.inline and len(paras) > 1 and rng.random() < 0.6:
        paras.insert(rng.randrange(1, len(paras)), rng.choice(site.inline))
    lines = [*site.header, *paras, *site.footer]
    text = "\n\n".join(lines)
    if site.curly:
        text = _curly(text)
    if site.dashes:
        text = text.replace(" - ", " — ").replace("--", "—")
    if rng.random() < 0.3:
        text = _nbsp(text, rng, rng.randint(1, 6))
    title = story.title if rng.random() < 0.3 else _title_case(story.title)
    title = site.title.format(t=title)
    slug = "-".join(re.findall(r"[a-z0-9]+", story.title.lower())[:8])
    published = story.date.replace(microsecond=0) + timedelta(
        minutes=rng.randint(0, 72 * 60), seconds=rng.randint(0, 59)
    )
    return {
        "id": f"it{index}",
        "text": text,
        "title": title,
        "url": f"https://www.{site.domain}/news/{slug}-{index}",
        "site": site.domain,
        "published": published.isoformat() + "Z",
    }


def item_index(item_id: str) -> int:
    """The item number in an id written by :func:`render` (``it<i>``)."""
    if not item_id.startswith("it"):
        raise ValueError(f"not a corpus id: {item_id!r}")
    return int(item_id[2:])


# -- copy counts ------------------------------------------------------------------------------


def _draw_count(rng: random.Random) -> int:
    u = rng.random()
    if u < 0.55:
        return 1
    if u < 0.96:
        return rng.randint(2, 10)
    return min(80, 10 + int(rng.paretovariate(1.1) * 2))


def plan(n: int, stories: int, rng: random.Random) -> list[int]:
    """Copy counts for the first stories in order, summing to ``n`` (see the module docstring)."""
    counts: list[int] = []
    total = 0
    while total < n and len(counts) < stories:
        c = _draw_count(rng)
        counts.append(c)
        total += c
    if total > n:
        counts[-1] -= total - n
    elif total < n:
        # Not enough stories: scale every count up (largest remainder keeps the sum exact).
        scale = n / total
        raw = [c * scale for c in counts]
        counts = [max(1, int(r)) for r in raw]
        rest = n - sum(counts)
        order = sorted(range(len(raw)), key=lambda i: raw[i] - int(raw[i]), reverse=True)
        for i in order[: max(rest, 0)]:
            counts[i] += 1
    return counts


# -- generation -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Corpus:
    folder: Path

    @property
    def items(self) -> Path:
        return self.folder / "items.jsonl"

    @property
    def gold_path(self) -> Path:
        return self.folder / "gold.npy"

    def gold(self) -> np.ndarray:
        return np.load(self.gold_path)

    def meta(self) -> dict[str, Any]:
        return json.loads((self.folder / "meta.json").read_text())


def generate(folder: Path, *, n: int, seed: int, data: Path) -> Corpus:
    """Write a corpus of ``n`` items to ``folder`` (streamed; gold kept aside)."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    positives, by_id, negatives = load_stories(data)
    neg_ids = list(dict.fromkeys(i for pair in negatives for i in pair))
    rng.shuffle(positives)
    # Look-alike stories come first, so every corpus holds all of them as separate gold stories.
    order: list[Story] = [by_id[i] for i in neg_ids] + positives
    counts = plan(n, len(order), rng)
    order = order[: len(counts)]
    assign = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    gold = np.random.default_rng(seed).permutation(assign)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "items.jsonl.part"
    with tmp.open("w", encoding="utf-8") as fh:
        buf: list[str] = []
        for i, s in enumerate(gold.tolist()):
            buf.append(json.dumps(render(order[s], i, seed), ensure_ascii=False))
            if len(buf) >= 2048:
                fh.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            fh.write("\n".join(buf) + "\n")
    np.save(folder / "gold.npy", gold)
    (folder / "stories.json").write_text(json.dumps([f"s{s.id}" for s in order]))
    sizes = np.bincount(np.asarray(counts))
    meta = {
        "version": CORPUS_VERSION,
        "items": n,
        "seed": seed,
        "gold_stories": len(order),
        "lookalike_stories": len(neg_ids),
        "singleton_stories": int(sizes[1]) if len(sizes) > 1 else 0,
        "largest_story": int(max(counts)),
        "gold_pairs": int(sum(c * (c - 1) // 2 for c in counts)),
        "bytes": tmp.stat().st_size,
        "generate_seconds": round(time.perf_counter() - t0, 1),
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))
    tmp.rename(folder / "items.jsonl")  # last: a folder with items.jsonl is complete
    return Corpus(folder)


def ensure_corpus(cache: Path, *, n: int, seed: int, data: Path | None = None) -> Corpus:
    """The cached corpus for ``(n, seed)``, generated first if missing or stale."""
    folder = cache / f"corpus-v{CORPUS_VERSION}-n{n}-s{seed}"
    if (folder / "items.jsonl").exists() and (folder / "meta.json").exists():
        return Corpus(folder)
    if folder.exists():
        shutil.rmtree(folder)
    return generate(folder, n=n, seed=seed, data=data or default_data())


# -- scoring ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PairScores:
    precision: float
    recall: float
    f1: float
    clusters: int
    missing: int
    """Gold items in no output cluster (scored as singletons)."""
    repeated: int
    """Ids found in more than one output cluster (the last one counts)."""

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


def _cluster_members(output: Path) -> Iterator[list[str]]:
    with output.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)["member_ids"]


def pair_scores(output: Path, gold: np.ndarray) -> PairScores:
    """Pair precision/recall/F1 of the clusters in ``output`` (JSONL with ``member_ids``).

    Computed from the contingency counts of (gold story, output cluster): a pair is a true
    positive when both items share both, so TP = sum C(n_ij, 2) -- no pair is enumerated and
    memory stays a few arrays of ``len(gold)`` integers, even at 1M items.
    """
    n = len(gold)
    pred = np.full(n, -1, dtype=np.int64)
    clusters = repeated = 0
    for members in _cluster_members(output):
        idx = np.fromiter((item_index(m) for m in members), dtype=np.int64, count=len(members))
        repeated += int(np.count_nonzero(pred[idx] >= 0))
        pred[idx] = clusters
        clusters += 1
    lost = pred < 0
    missing = int(lost.sum())
    pred[lost] = np.arange(clusters, clusters + missing)
    g = gold.astype(np.int64)
    _, joint = np.unique(g * (clusters + missing) + pred, return_counts=True)

    def pairs(c: np.ndarray) -> int:
        c = c.astype(np.int64)
        return int((c * (c - 1) // 2).sum())

    tp = pairs(joint)
    predicted = pairs(np.bincount(pred))
    actual = pairs(np.bincount(g))
    p = tp / predicted if predicted else 1.0
    r = tp / actual if actual else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return PairScores(p, r, f1, clusters, missing, repeated)
