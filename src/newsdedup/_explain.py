"""Why two items were (or were not) merged, and why they share a story: explanations.

Every number the dedup engine decides on is recomputed here for one pair, with the same
settings: the MinHash estimate (what LSH saw), the exact shingle Jaccard and containment and
the verifier's verdict (what decided), the passages both texts share (aligned side by side with
``difflib.SequenceMatcher`` over word tokens), what the clean-article stage cut from each
(``Article.removed``) and the story signals of :func:`newsdedup._story.story_match`. When the
pair is explained inside a run (``cluster_of``), the clusters and the rule that picked the
canonical item (``Cluster.canonical_reason``) are reported too.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._dedup import DedupConfig
from ._fingerprint import MinHashSigner, WordShingler, estimate_jaccard
from ._models import Article, Cluster, Removal
from ._normalize import normalize_text, tokenize
from ._records import read_lines
from ._story import StoryConfig, StoryMatch, TermStats, profile_from_text, story_match
from ._verify import Doc, Verdict

__all__ = [
    "ClusterExplanation",
    "Explanation",
    "SharedPassage",
    "aligned_passages",
    "cluster_index",
    "explain_cluster",
    "explain_pair",
    "read_jsonl",
]

logger = logging.getLogger("newsdedup")

_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedPassage:
    """A run of words both texts contain, in each text's own spelling."""

    a: str
    b: str
    words: int
    a_start: int
    """Word offset in text A (and B below): where the passage sits in each text."""
    b_start: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "words": self.words,
            "a_start": self.a_start,
            "b_start": self.b_start,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Explanation:
    """Everything that decided whether two items are copies, and whether they share a story."""

    a: str
    b: str
    merged: bool
    """True when the two items are in one cluster (inside a run) -- or, explained on their
    own, when the verifier accepts the pair."""
    verdict: str
    """The verifier's ``kind``: ``near-duplicate`` / ``truncated``, or why it refused
    (``low-similarity``, ``misaligned``, ``not-a-prefix``, ``numbers-differ``, ``names-differ``,
    ``too-short``, ``empty``)."""
    reason: str
    """One sentence in words."""
    estimated_jaccard: float | None
    jaccard: float
    containment: float
    align: float
    threshold: float
    containment_threshold: float
    shared: tuple[SharedPassage, ...]
    shared_words: int
    words_a: int
    words_b: int
    removed_a: tuple[Removal, ...]
    removed_b: tuple[Removal, ...]
    story: StoryMatch | None
    cluster_a: str | None = None
    cluster_b: str | None = None
    canonical_id: str | None = None
    canonical_reason: str | None = None
    story_a: str | None = None
    story_b: str | None = None

    @property
    def same_story(self) -> bool | None:
        if self.story_a is not None and self.story_b is not None:
            return self.story_a == self.story_b
        return self.story.same if self.story is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "merged": self.merged,
            "verdict": self.verdict,
            "reason": self.reason,
            "estimated_jaccard": None if self.estimated_jaccard is None else round(self.estimated_jaccard, 4),
            "jaccard": round(self.jaccard, 4),
            "containment": round(self.containment, 4),
            "align": round(self.align, 2),
            "threshold": self.threshold,
            "containment_threshold": self.containment_threshold,
            "shared_words": self.shared_words,
            "words_a": self.words_a,
            "words_b": self.words_b,
            "shared": [p.to_dict() for p in self.shared],
            "removed_a": [r.to_dict() for r in self.removed_a],
            "removed_b": [r.to_dict() for r in self.removed_b],
            "cluster_a": self.cluster_a,
            "cluster_b": self.cluster_b,
            "canonical_id": self.canonical_id,
            "canonical_reason": self.canonical_reason,
            "same_story": self.same_story,
            "story_a": self.story_a,
            "story_b": self.story_b,
            "story": self.story.to_dict() if self.story is not None else None,
        }

    def format_text(self, *, width: int = 72, max_passages: int = 5) -> str:
        """Human-readable report (what ``newsdedup explain`` prints)."""
        lines = [f"{self.a}  vs  {self.b}", ""]
        lines.append(f"copies:     {'MERGED' if self.merged else 'NOT MERGED'} ({self.verdict})")
        lines.append(f"            {self.reason}")
        est = "n/a" if self.estimated_jaccard is None else f"{self.estimated_jaccard:.3f}"
        lines.append(f"similarity: MinHash estimate {est}, exact Jaccard {self.jaccard:.3f} "
                     f"(threshold {self.threshold:g}), containment {self.containment:.3f} "
                     f"(threshold {self.containment_threshold:g}), alignment {self.align:.0f}/100")  # fmt: skip
        if self.cluster_a is not None:
            where = "same cluster" if self.cluster_a == self.cluster_b else "different clusters"
            lines.append(f"clusters:   {self.cluster_a} / {self.cluster_b} ({where})")
        if self.canonical_id is not None:
            lines.append(f"canonical:  {self.canonical_id} (rule: {self.canonical_reason})")
        same = self.same_story
        if self.story is not None:
            verdict = "SAME STORY" if same else "DIFFERENT STORIES"
            ids = f" {self.story_a} / {self.story_b}" if self.story_a else ""
            lines.append(
                f"story:      {verdict}{ids} (rule: {self.story.rule}, score {self.story.score:.2f})"
            )
            for s in self.story.signals:
                lines.append(f"            - {s}")
            for q in self.story.shared_quotes[:3]:
                lines.append(f'            quote: "{_short(q, width)}"')
        lines.append("")
        lines.append(f"shared passages: {self.shared_words} shared words of {self.words_a} / {self.words_b}")
        for p in self.shared[:max_passages]:
            lines.append(f"  A@{p.a_start}: {_short(p.a, width)}")
            lines.append(f"  B@{p.b_start}: {_short(p.b, width)}")
        if len(self.shared) > max_passages:
            lines.append(f"  ... {len(self.shared) - max_passages} more")
        for label, removed in (("A", self.removed_a), ("B", self.removed_b)):
            lines.append("")
            lines.append(f"boilerplate cut from {label}: {len(removed)}")
            for r in removed[:8]:
                lines.append(f"  [{r.rule}] {_short(r.text, width)}")
        return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterExplanation:
    """Why a cluster holds its members and which rule chose its canonical item."""

    cluster_id: str
    canonical_id: str
    canonical_reason: str
    story_id: str | None
    members: tuple[Explanation, ...] = field(default_factory=tuple)
    """Each non-canonical member explained against the canonical item."""
    missing: tuple[str, ...] = ()
    """Member ids whose articles were not given."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster_id": self.cluster_id,
            "canonical_id": self.canonical_id,
            "canonical_reason": self.canonical_reason,
            "story_id": self.story_id,
            "members": [m.to_dict() for m in self.members],
            "missing": list(self.missing),
        }

    def format_text(self) -> str:
        head = [
            f"cluster {self.cluster_id}: canonical {self.canonical_id} (rule: {self.canonical_reason})",
        ]
        if self.story_id:
            head.append(f"story {self.story_id}")
        if self.missing:
            head.append("no text for: " + ", ".join(self.missing))
        parts = ["\n".join(head) + "\n"]
        parts.extend(m.format_text() for m in self.members)
        return "\n".join(parts)


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _words(text: str) -> tuple[list[str], list[str]]:
    """(original words, their comparison keys) -- keys are normalised word tokens."""
    raw = _WORD.findall(text)
    keys = [" ".join(tokenize(normalize_text(w))) for w in raw]
    return raw, keys


def aligned_passages(a: str, b: str, *, min_words: int = 6) -> tuple[list[SharedPassage], int, int, int]:
    """Runs of at least ``min_words`` words both texts share, in order of text A.

    Returns ``(passages, shared words, words of A, words of B)``. Words are compared after the
    same normalisation the dedup engine uses, so curly quotes or a case change do not split a
    passage; each side is shown in its own spelling.
    """
    raw_a, keys_a = _words(a)
    raw_b, keys_b = _words(b)
    matcher = difflib.SequenceMatcher(None, keys_a, keys_b, autojunk=False)
    out: list[SharedPassage] = []
    shared = 0
    for block in matcher.get_matching_blocks():
        if block.size < min_words:
            continue
        shared += block.size
        out.append(
            SharedPassage(
                a=" ".join(raw_a[block.a : block.a + block.size]),
                b=" ".join(raw_b[block.b : block.b + block.size]),
                words=block.size,
                a_start=block.a,
                b_start=block.b,
            )
        )
    return out, shared, len(raw_a), len(raw_b)


_REASONS = {
    "near-duplicate": "exact shingle Jaccard {j:.2f} reaches the threshold {t:g} and the texts align",
    "truncated": "{c:.0%} of the shorter text's shingles are in the longer one and it starts at its top",
    "low-similarity": "Jaccard {j:.2f} < {t:g} and containment {c:.2f} < {ct:g}: not copies of one text",
    "misaligned": "enough shared shingles, but the shorter text's head is not found in the other",
    "not-a-prefix": "the shorter text is contained, but in the middle of the other (a quote, not a copy)",
    "numbers-differ": "same template but different numbers (formulaic-story guard)",
    "names-differ": "same template but different names (formulaic-story guard)",
    "too-short": "one text is too short to be fingerprinted; short texts are never matched",
    "empty": "one text has no shingles",
}


def explain_pair(
    a: Article,
    b: Article,
    *,
    config: DedupConfig | None = None,
    story_config: StoryConfig | None = None,
    stats: TermStats | None = None,
    cluster_of: Mapping[str, Cluster] | None = None,
    min_passage_words: int = 6,
) -> Explanation:
    """Explain one pair of clean articles with the dedup settings ``config``.

    ``cluster_of`` (member id -> its cluster, as from one run) adds the clusters, the canonical
    rule and the story ids (``Cluster.extra["story_id"]``); ``stats`` are the document
    frequencies for the story cosine (default: just the two texts).
    """
    for art in (a, b):
        if not isinstance(art, Article):
            raise TypeError(
                f"explain_pair takes two Articles (e.g. from clean_text or extract), got {type(art).__name__}"
            )
    cfg = config or DedupConfig()
    a_id, b_id = a.id or "A", b.id or "B"
    shingler = WordShingler(cfg.shingle_size, seed=cfg.seed)
    eligible = True
    docs: list[Doc] = []
    for art in (a, b):
        norm = normalize_text(art.text)
        tokens = tokenize(norm)
        if len(art.text.strip()) < cfg.min_chars or len(tokens) < cfg.min_tokens:
            eligible = False
        docs.append(Doc.from_text(art.id or "", art.text, shingler, norm=norm, tokens=tokens))
    if eligible:
        verdict = cfg.verifier().verify(docs[0], docs[1])
        signer = MinHashSigner(cfg.num_perm, seed=cfg.seed)
        sigs = signer.sign_many([docs[0].shingles, docs[1].shingles])
        estimate: float | None = float(estimate_jaccard(sigs[0], sigs[1]))
    else:
        base = cfg.verifier().verify(docs[0], docs[1])
        verdict = Verdict(False, "too-short", base.jaccard, base.containment, base.align)
        estimate = None
    passages, shared, na, nb = aligned_passages(a.text, b.text, min_words=min_passage_words)

    pa = profile_from_text(a_id, a.title, a.text, published=[a.published], config=story_config)
    pb = profile_from_text(b_id, b.title, b.text, published=[b.published], config=story_config)
    if stats is None:
        stats = TermStats.from_profiles([pa, pb])
    story = story_match(pa, pb, stats, config=story_config)

    merged = verdict.accepted
    ca = cb = None
    canonical_id = canonical_reason = story_a = story_b = None
    if cluster_of is not None:
        ca, cb = cluster_of.get(a_id), cluster_of.get(b_id)
        if ca is not None and cb is not None:
            merged = ca.cluster_id == cb.cluster_id
            if merged:
                canonical_id, canonical_reason = ca.canonical_id, ca.canonical_reason
            sa, sb = ca.extra.get("story_id"), cb.extra.get("story_id")
            story_a = str(sa) if sa is not None else None
            story_b = str(sb) if sb is not None else None
    reason = _REASONS.get(verdict.kind, verdict.kind).format(
        j=verdict.jaccard, t=cfg.threshold, c=verdict.containment, ct=cfg.containment_threshold
    )
    if cluster_of is not None and verdict.accepted and not merged:
        reason += "; but the clustering kept them apart (each belongs to a different group of copies)"
    elif cluster_of is not None and merged and not verdict.accepted:
        reason = f"not copies of each other directly ({verdict.kind}), but both are copies of the cluster's other members"
    return Explanation(
        a=a_id,
        b=b_id,
        merged=merged,
        verdict=verdict.kind,
        reason=reason,
        estimated_jaccard=estimate,
        jaccard=verdict.jaccard,
        containment=verdict.containment,
        align=verdict.align,
        threshold=cfg.threshold,
        containment_threshold=cfg.containment_threshold,
        shared=tuple(passages),
        shared_words=shared,
        words_a=na,
        words_b=nb,
        removed_a=a.removed,
        removed_b=b.removed,
        story=story,
        cluster_a=ca.cluster_id if ca is not None else None,
        cluster_b=cb.cluster_id if cb is not None else None,
        canonical_id=canonical_id,
        canonical_reason=canonical_reason,
        story_a=story_a,
        story_b=story_b,
    )


def explain_cluster(
    cluster: Cluster,
    articles: Mapping[str, Article],
    *,
    config: DedupConfig | None = None,
    story_config: StoryConfig | None = None,
) -> ClusterExplanation:
    """Each member of ``cluster`` explained against its canonical item (``articles``: id ->
    clean Article; members without one are listed in ``missing``)."""
    missing = tuple(m for m in cluster.member_ids if m not in articles)
    members: list[Explanation] = []
    canon = articles.get(cluster.canonical_id)
    if canon is not None:
        cluster_of = dict.fromkeys(cluster.member_ids, cluster)
        for m in cluster.member_ids:
            if m == cluster.canonical_id or m not in articles:
                continue
            members.append(
                explain_pair(
                    canon, articles[m], config=config, story_config=story_config, cluster_of=cluster_of
                )
            )
    sid = cluster.extra.get("story_id")
    return ClusterExplanation(
        cluster_id=cluster.cluster_id,
        canonical_id=cluster.canonical_id,
        canonical_reason=cluster.canonical_reason,
        story_id=str(sid) if sid is not None else None,
        members=tuple(members),
        missing=missing,
    )


def cluster_index(clusters: Sequence[Cluster]) -> dict[str, Cluster]:
    """member id -> its cluster."""
    return {m: c for c in clusters for m in c.member_ids}


def read_jsonl(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of a JSONL file (``.gz`` ok, ``-`` for stdin); blank lines and
    lines that are not JSON objects are skipped with a log message. Raises :class:`InputError`
    when the file cannot be read."""
    for number, raw in read_lines(path):
        if raw is None:
            logger.info("%s:%d: line too long, skipped", path, number)
            continue
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            logger.info("%s:%d: not JSON, skipped", path, number)
            continue
        if isinstance(data, dict):
            yield number, data
        else:
            logger.info("%s:%d: not a JSON object, skipped", path, number)
