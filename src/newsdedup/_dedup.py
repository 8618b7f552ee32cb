"""The deduplicator: clean articles in, clusters of syndicated copies out.

Per item: extraction (HTML or text) -> eligibility (``min_chars`` / ``min_tokens``) ->
normalisation and word shingles -> two MinHash signatures (whole text, and the lead) -> LSH
candidates from both indexes -> verification of *every* candidate -> verified edges. Clusters
are computed from the edge graph on demand (:meth:`Deduplicator.clusters`), so they can be
queried at any time and do not depend on the order items arrived in.

Why two indexes: a copy that keeps only the first third of a story has a Jaccard of about 1/3
with the original, far below any sane near-duplicate threshold, so the whole-text LSH cannot be
relied on to propose it. Its *lead* however is identical, so a second, small signature over the
first ``lead_tokens`` tokens makes truncated copies candidates; verification then accepts them
by containment. The whole-text index also over-recalls (``candidate_threshold`` below
``threshold``); verification is exact and cheap, so extra candidates cost little.

All mutable matching state (articles, verification docs, LSH buckets, verified edges) lives in
:class:`MemoryState`, so a persistent store can replace it.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import xxhash

from ._cluster import MemberInfo, choose_canonical, partition
from ._exceptions import ConfigError
from ._fingerprint import MinHashSigner, WordShingler
from ._index import BandedLSH, optimal_bands
from ._models import Article, Cluster, Source
from ._normalize import normalize_text, tokenize
from ._records import Record, RecordError, junk_page_reason, to_article
from ._verify import Doc, PairVerifier, Verdict

__all__ = ["Decision", "DedupConfig", "Deduplicator", "ErrorRecord", "MemoryState", "dedup"]

logger = logging.getLogger("newsdedup")

Item = Record | Mapping[str, Any] | Article


@dataclass(frozen=True, slots=True, kw_only=True)
class DedupConfig:
    """Every dedup setting, validated; a bad value raises :class:`ConfigError` naming the field."""

    threshold: float = 0.5
    """Exact word-shingle Jaccard at or above which two texts are near-duplicates."""
    containment_threshold: float = 0.7
    """Share of the smaller text's shingles found in the larger for a truncated copy."""
    num_perm: int = 128
    shingle_size: int = 5
    seed: int = 1
    min_chars: int = 150
    """Shorter clean texts are never fingerprinted or matched (they stay singletons)."""
    min_tokens: int = 20
    candidate_threshold: float | None = None
    """Jaccard the whole-text LSH is tuned for; default ``0.7 * threshold`` (over-recall)."""
    lead_tokens: int = 80
    """Tokens of the lead signature for truncated copies; 0 turns the lead index off."""
    lead_threshold: float = 0.4
    min_align: float = 80.0
    """rapidfuzz ``partial_ratio`` the smaller text's head must reach inside the larger text."""
    max_number_mismatch: float = 0.05
    """Share of the smaller text's numbers that may be substituted (see ``_verify``)."""
    max_name_mismatch: float = 0.1
    tokens_per_substitution: int = 100
    """Number substitutions are tolerated while the smaller text has this many tokens per
    substitution (a stray junk number on long copies); template stories are short."""
    reject_junk_pages: bool = True
    """Short texts that are bot challenges, consent/paywall walls or error pages go to
    ``errors`` as ``junk-page`` instead of clustering with every other host's copy."""
    cluster_size_alarm: int = 200
    """Log a warning for any cluster with more members than this (nothing is capped)."""
    site_repeat_min: int = 3
    """A paragraph one site prints in this many different clusters is dropped from canonical
    texts (site boilerplate the extractor kept); 0 turns this off."""
    fp_weight: float = 0.2
    fn_weight: float = 0.8

    def __post_init__(self) -> None:
        def check(name: str, ok: bool, what: str) -> None:
            if not ok:
                raise ConfigError(f"dedup.{name} {what}, got {getattr(self, name)!r}")

        def is_num(v: object) -> bool:
            return isinstance(v, int | float) and not isinstance(v, bool)

        def is_int(v: object) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        for name in ("threshold", "containment_threshold", "lead_threshold"):
            v = getattr(self, name)
            check(name, is_num(v) and 0.0 < v <= 1.0, "must be a number in (0, 1]")
        if self.candidate_threshold is not None:
            v = self.candidate_threshold
            check("candidate_threshold", is_num(v) and 0.0 < v < 1.0, "must be a number in (0, 1)")
        check("num_perm", is_int(self.num_perm) and 2 <= self.num_perm <= 4096, "must be an int in [2, 4096]")
        check(
            "shingle_size", is_int(self.shingle_size) and 1 <= self.shingle_size <= 32, "must be in [1, 32]"
        )
        check("seed", is_int(self.seed) and self.seed >= 0, "must be an int >= 0")
        check("min_chars", is_int(self.min_chars) and self.min_chars >= 1, "must be an int >= 1")
        check("min_tokens", is_int(self.min_tokens) and self.min_tokens >= 1, "must be an int >= 1")
        check("lead_tokens", is_int(self.lead_tokens) and self.lead_tokens >= 0, "must be an int >= 0")
        check("reject_junk_pages", isinstance(self.reject_junk_pages, bool), "must be a bool")
        check(
            "cluster_size_alarm",
            is_int(self.cluster_size_alarm) and self.cluster_size_alarm >= 2,
            "must be an int >= 2",
        )
        check(
            "site_repeat_min",
            is_int(self.site_repeat_min) and (self.site_repeat_min == 0 or self.site_repeat_min >= 2),
            "must be 0 (off) or an int >= 2",
        )
        check(
            "tokens_per_substitution",
            is_int(self.tokens_per_substitution) and self.tokens_per_substitution >= 1,
            "must be an int >= 1",
        )
        check("min_align", is_num(self.min_align) and 0 <= self.min_align <= 100, "must be in [0, 100]")
        for name in ("max_number_mismatch", "max_name_mismatch"):
            v = getattr(self, name)
            check(name, is_num(v) and 0.0 <= v <= 1.0, "must be a number in [0, 1]")
        for name in ("fp_weight", "fn_weight"):
            v = getattr(self, name)
            check(name, is_num(v) and v >= 0, "must be a number >= 0")
        if self.fp_weight + self.fn_weight <= 0:
            raise ConfigError("dedup.fp_weight and dedup.fn_weight must not both be 0")

    @property
    def lsh_threshold(self) -> float:
        if self.candidate_threshold is not None:
            return self.candidate_threshold
        return min(0.99, max(0.05, 0.7 * self.threshold))

    def bands(self) -> tuple[int, int]:
        """``(bands, rows)`` of the whole-text index, derived from :attr:`lsh_threshold`."""
        return optimal_bands(self.lsh_threshold, self.num_perm, self.fp_weight, self.fn_weight)

    def lead_bands(self) -> tuple[int, int]:
        return optimal_bands(min(self.lead_threshold, 0.99), self.num_perm, self.fp_weight, self.fn_weight)

    def fingerprint(self) -> str:
        """Short hash of everything that changes signatures or buckets (for stores)."""
        parts = (
            self.num_perm,
            self.shingle_size,
            self.seed,
            self.lead_tokens,
            self.bands(),
            self.lead_bands(),
        )
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """What happened to one added item."""

    id: str | None
    status: str
    """``new`` (no verified copy yet), ``duplicate`` (verified against ``duplicate_of``),
    ``too-short`` (kept as a singleton, never matched), ``already-seen`` (same id and text
    again: ignored), ``error`` (unusable; see ``reason`` and :attr:`Deduplicator.errors`)."""
    duplicate_of: str | None = None
    kind: str | None = None
    """``near-duplicate`` or ``truncated`` for a duplicate."""
    jaccard: float | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorRecord:
    """An unusable input item, as written to the errors file."""

    line: int | None
    id: str | None
    reason: str
    message: str = ""
    file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"line": self.line, "id": self.id, "reason": self.reason}
        if self.file is not None:
            out["file"] = self.file
        if self.message:
            out["message"] = self.message
        return out


@dataclass(slots=True)
class _Entry:
    article: Article
    doc: Doc | None
    """None for too-short items (kept, never matched)."""
    ingested: datetime


@dataclass(slots=True)
class MemoryState:
    """All mutable dedup state, in memory. A store implements the same attributes."""

    entries: dict[str, _Entry] = field(default_factory=dict)
    edges: dict[str, set[str]] = field(default_factory=dict)
    verdicts: dict[tuple[str, str], Verdict] = field(default_factory=dict)
    main: BandedLSH | None = None
    lead: BandedLSH | None = None

    def add_edge(self, a: str, b: str, verdict: Verdict) -> None:
        self.edges.setdefault(a, set()).add(b)
        self.edges.setdefault(b, set()).add(a)
        self.verdicts[(a, b) if a < b else (b, a)] = verdict


class Deduplicator:
    """Streaming deduplicator. ``add`` items one by one or in batches; ask for clusters any time.

    ``Deduplicator(0.6)`` or ``Deduplicator(config=DedupConfig(threshold=0.6))``; keywords
    override fields of ``config``.
    """

    def __init__(
        self, threshold: float | None = None, *, config: DedupConfig | None = None, **overrides: Any
    ) -> None:
        base = config or DedupConfig()
        if threshold is not None:
            overrides["threshold"] = threshold
        unknown = set(overrides) - set(DedupConfig.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown dedup setting(s): {', '.join(sorted(unknown))}")
        self.config = DedupConfig(**{**base.to_dict(), **overrides}) if overrides else base
        cfg = self.config
        self._shingler = WordShingler(cfg.shingle_size, seed=cfg.seed)
        self._signer = MinHashSigner(cfg.num_perm, seed=cfg.seed)
        self._verifier = PairVerifier(
            threshold=cfg.threshold,
            containment_threshold=cfg.containment_threshold,
            min_align=cfg.min_align,
            max_number_mismatch=cfg.max_number_mismatch,
            max_name_mismatch=cfg.max_name_mismatch,
            tokens_per_substitution=cfg.tokens_per_substitution,
        )
        b, r = cfg.bands()
        lb, lr = cfg.lead_bands()
        self._state = MemoryState(
            main=BandedLSH(bands=b, rows=r),
            lead=BandedLSH(bands=lb, rows=lr) if cfg.lead_tokens else None,
        )
        self.errors: list[ErrorRecord] = []
        self.decisions: dict[str, Decision] = {}
        self.stats: Counter[str] = Counter()
        self._clusters: list[Cluster] | None = None

    # -- input ---------------------------------------------------------------------------

    def _prepare(self, item: Item, line: int | None, file: str | None) -> Article | Decision:
        try:
            article = to_article(item)
        except RecordError as exc:
            rec = ErrorRecord(
                line=exc.line or line, id=exc.id, reason=exc.reason, message=str(exc), file=file
            )
            self.errors.append(rec)
            self.stats["error:" + exc.reason] += 1
            return Decision(id=exc.id, status="error", reason=exc.reason)
        assert article.id is not None
        junk = junk_page_reason(article) if self.config.reject_junk_pages else None
        if junk is not None:
            message = "a bot challenge, consent/paywall wall or error page, not an article"
            self.errors.append(ErrorRecord(line=line, id=article.id, reason=junk, message=message, file=file))
            self.stats["error:" + junk] += 1
            return Decision(id=article.id, status="error", reason=junk)
        existing = self._state.entries.get(article.id)
        if existing is not None:
            if existing.article.text == article.text:
                self.stats["already-seen"] += 1
                return Decision(id=article.id, status="already-seen")
            rec = ErrorRecord(
                line=line,
                id=article.id,
                reason="duplicate-id",
                message="id already added with a different text; first one kept",
                file=file,
            )
            self.errors.append(rec)
            self.stats["error:duplicate-id"] += 1
            return Decision(id=article.id, status="error", reason="duplicate-id")
        return article

    def _doc_parts(self, article: Article) -> tuple[str, list[str]] | None:
        norm = normalize_text(article.text)
        tokens = tokenize(norm)
        if len(article.text.strip()) < self.config.min_chars or len(tokens) < self.config.min_tokens:
            return None
        return norm, tokens

    def add(self, item: Item, *, line: int | None = None, file: str | None = None) -> Decision:
        """Add one item (dict, :class:`Record` or :class:`Article` with an id)."""
        return self.add_many([item], first_line=line, file=file)[0]

    def add_many(
        self, items: Iterable[Item], *, first_line: int | None = None, file: str | None = None
    ) -> list[Decision]:
        """Add items; their signatures are computed in one numpy batch."""
        out: list[Decision | None] = []
        pending: list[tuple[int, Article, str, list[str]]] = []
        batch_ids: set[str] = set()
        for n, item in enumerate(items):
            line = first_line + n if first_line is not None else None
            if isinstance(item, Record) and item.line is not None:
                line = item.line
            prepared = self._prepare(item, line, file)
            if isinstance(prepared, Decision):
                out.append(prepared)
                continue
            assert prepared.id is not None
            if prepared.id in batch_ids:  # same id twice inside this batch: handled one by one
                self._flush(pending, out)
                pending, batch_ids = [], set()
                prepared2 = self._prepare(prepared, line, file)
                if isinstance(prepared2, Decision):
                    out.append(prepared2)
                    continue
            parts = self._doc_parts(prepared)
            if parts is None:
                self._store(prepared, None)
                decision = Decision(id=prepared.id, status="too-short", reason="too-short")
                self.decisions[prepared.id] = decision
                self.stats["too-short"] += 1
                out.append(decision)
                continue
            out.append(None)
            pending.append((len(out) - 1, prepared, *parts))
            batch_ids.add(prepared.id)
        self._flush(pending, out)
        assert all(d is not None for d in out)
        return out  # type: ignore[return-value]

    def _store(self, article: Article, doc: Doc | None) -> None:
        assert article.id is not None
        self._state.entries[article.id] = _Entry(article, doc, datetime.now(UTC))
        self._clusters = None

    def _flush(self, pending: list[tuple[int, Article, str, list[str]]], out: list[Decision | None]) -> None:
        if not pending:
            return
        cfg = self.config
        docs = [
            Doc.from_text(article.id or "", article.text, self._shingler, norm=norm, tokens=tokens)
            for _, article, norm, tokens in pending
        ]
        shingle_sets = [doc.shingles for doc in docs]
        lead_sets = [self._shingler.shingles(tokens[: cfg.lead_tokens]) for _, _, _, tokens in pending]
        sigs = self._signer.sign_many(shingle_sets + (lead_sets if cfg.lead_tokens else []))
        n = len(pending)
        for i, (slot, article, _norm, _tokens) in enumerate(pending):
            doc = docs[i]
            out[slot] = self._insert(article, doc, sigs[i], sigs[n + i] if cfg.lead_tokens else None)

    def _insert(self, article: Article, doc: Doc, sig: np.ndarray, lead_sig: np.ndarray | None) -> Decision:
        state = self._state
        assert state.main is not None
        assert article.id is not None
        candidates = state.main.query(sig)
        if lead_sig is not None and state.lead is not None:
            candidates |= state.lead.query(lead_sig)
        best: tuple[float, str, Verdict] | None = None
        for key in sorted(candidates):  # type: ignore[type-var]
            other = state.entries[key].doc  # type: ignore[index]
            assert other is not None
            verdict = self._verifier.verify(doc, other)
            self.stats["verified:" + verdict.kind] += 1
            if verdict.accepted:
                state.add_edge(article.id, other.key, verdict)
                score = max(verdict.jaccard, verdict.containment)
                if best is None or score > best[0]:
                    best = (score, other.key, verdict)
        self._store(article, doc)
        state.main.insert(article.id, sig)
        if lead_sig is not None and state.lead is not None:
            state.lead.insert(article.id, lead_sig)
        if best is None:
            decision = Decision(id=article.id, status="new")
        else:
            decision = Decision(
                id=article.id,
                status="duplicate",
                duplicate_of=best[1],
                kind=best[2].kind,
                jaccard=round(best[2].jaccard, 4),
            )
        self.stats[decision.status] += 1
        self.decisions[article.id] = decision
        logger.debug("dedup %s: %s", article.id, decision)
        return decision

    # -- output --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._state.entries)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._state.entries

    def article(self, item_id: str) -> Article:
        return self._state.entries[item_id].article

    def verdict(self, a: str, b: str) -> Verdict | None:
        """The accepted verification of a pair, if any."""
        return self._state.verdicts.get((a, b) if a < b else (b, a))

    def clusters(self) -> list[Cluster]:
        """Every added item in exactly one cluster, sorted by cluster id."""
        if self._clusters is None:
            self._clusters = self._build_clusters()
        return list(self._clusters)

    def _priority(self, key: str) -> tuple[object, ...]:
        doc = self._state.entries[key].doc
        return (-(len(doc.shingles) if doc is not None else 0), key)

    def _build_clusters(self) -> list[Cluster]:
        state = self._state
        groups = partition(state.entries.keys(), state.edges, self._priority)
        repeated = self._site_repeats(groups)
        clusters = [self._make_cluster(g, repeated) for g in groups]
        clusters.sort(key=lambda c: c.cluster_id)
        for c in clusters:
            if c.size > self.config.cluster_size_alarm:
                # an abnormally large cluster usually means junk pages or a template slipped
                # through; nothing is capped, so say so loudly
                logger.warning(
                    "dedup: cluster %s has %d members (alarm above %d); canonical %s",
                    c.cluster_id, c.size, self.config.cluster_size_alarm, c.canonical_id,
                )  # fmt: skip
        return clusters

    def _site_repeats(self, groups: list[list[str]]) -> set[tuple[str, int]]:
        """(site, paragraph hash) pairs seen in at least ``site_repeat_min`` different clusters.

        A paragraph that one site prints under several *different* stories (a disclaimer, a
        subscription pitch the extractor kept) is that site's boilerplate, not story text.
        Computed over everything added so far, so it does not depend on input order.
        """
        min_clusters = self.config.site_repeat_min
        if not min_clusters:
            return set()
        seen: dict[tuple[str, int], set[int]] = {}
        for n, group in enumerate(groups):
            for i in group:
                article = self._state.entries[i].article
                if not article.site:
                    continue
                for para in article.paragraphs:
                    seen.setdefault((article.site, _para_hash(para)), set()).add(n)
        return {key for key, where in seen.items() if len(where) >= min_clusters}

    def _clean_canonical(self, article: Article, repeated: set[tuple[str, int]]) -> str:
        if not repeated or not article.site:
            return article.text
        paras = article.paragraphs
        kept = [p for p in paras if (article.site, _para_hash(p)) not in repeated]
        if not kept:  # never empty a text: keep it whole rather than return nothing
            return article.text
        return "\n\n".join(kept) if len(kept) < len(paras) else article.text

    def _make_cluster(self, ids: list[str], repeated: set[tuple[str, int]] | None = None) -> Cluster:
        entries = self._state.entries
        infos = []
        for i in ids:
            e = entries[i]
            a = e.article
            shingles = e.doc.shingles if e.doc is not None else np.empty(0, dtype=np.uint64)
            infos.append(
                MemberInfo(
                    id=i, shingles=shingles, text_len=len(a.text), wire=a.wire, site=a.site, url=a.url,
                    published=a.published,
                )
            )  # fmt: skip
        canonical_id, reason = choose_canonical(
            infos, containment_threshold=self.config.containment_threshold
        )
        canon = entries[canonical_id].article
        times = [_aware(entries[i].article.published or entries[i].ingested) for i in ids]
        wires = Counter(entries[i].article.wire for i in ids if entries[i].article.wire)
        wire = canon.wire or (min(wires, key=lambda w: (-wires[w], w)) if wires else None)
        sources = tuple(
            Source(id=i, url=entries[i].article.url, site=entries[i].article.site,
                   title=entries[i].article.title, published=entries[i].article.published)
            for i in ids
        )  # fmt: skip
        return Cluster(
            cluster_id=cluster_id_for(ids),
            canonical_id=canonical_id,
            member_ids=tuple(ids),
            title=canon.title,
            text=self._clean_canonical(canon, repeated or set()),
            url=canon.url,
            published=canon.published,
            wire=wire,
            sources=sources,
            first_seen=min(times),
            last_seen=max(times),
            canonical_reason=reason,
        )


def _para_hash(paragraph: str) -> int:
    return xxhash.xxh3_64_intdigest(normalize_text(paragraph).encode("utf-8"))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def cluster_id_for(member_ids: Iterable[str]) -> str:
    """``c`` + 16 hex digits of xxh3-64 of the smallest member id: order-independent, and it
    only changes when an item with a smaller id joins the cluster."""
    return "c" + xxhash.xxh3_64_hexdigest(min(member_ids).encode("utf-8"))


def dedup(
    items: Iterable[Item], *, errors: list[ErrorRecord] | None = None, **settings: Any
) -> list[Cluster]:
    """One call: items in, clusters out. Unusable items are skipped (and appended to ``errors``
    when a list is given); ``settings`` are :class:`DedupConfig` fields."""
    config = settings.pop("config", None)
    threshold = settings.pop("threshold", None)
    deduper = Deduplicator(threshold, config=config, **settings)
    deduper.add_many(items, first_line=1)
    if errors is not None:
        errors.extend(deduper.errors)
    return deduper.clusters()
