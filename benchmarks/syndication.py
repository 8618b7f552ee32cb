"""Syndication benchmark: newsdedup vs the pipeline a user would build today.

Usage::

    .venv/bin/python benchmarks/syndication.py [--stories 300] [--seed 7] [--data PATH]

Real Reuters-21578 stories are republished on publisher page templates (``_syndicate.py``) with
junk, teasers, ads, captions, truncation, headline/dateline/quote changes, plus the collection's
own look-alike pairs as hard negatives. Both systems get the same HTML pages in the same order:

* **newsdedup**: ``newsdedup.dedup(items)`` on ``{id, html, url, site, published}`` dicts;
* **baseline**: ``trafilatura.extract`` + datasketch ``MinHashLSH(threshold=0.5, num_perm=128)``
  on lower-cased word 5-shingles, connected components, first item of a component canonical.

Scores: pairwise precision/recall/F1, B-cubed F1, canonical-text token F1 against the clean wire
body, and the share of canonical texts still carrying injected junk.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _syndicate import Page, Story, build

_TOK = re.compile(r"\w+")


def _tokens(text: str) -> list[str]:
    return _TOK.findall(text.lower())


def pair_scores(pred: Sequence[Sequence[str]], gold_of: dict[str, str]) -> tuple[float, float, float]:
    pred_pairs: set[tuple[str, str]] = set()
    for c in pred:
        pred_pairs.update(combinations(sorted(c), 2))
    by_story: dict[str, list[str]] = defaultdict(list)
    for item, story in gold_of.items():
        by_story[story].append(item)
    gold_pairs: set[tuple[str, str]] = set()
    for members in by_story.values():
        gold_pairs.update(combinations(sorted(members), 2))
    tp = len(pred_pairs & gold_pairs)
    p = tp / len(pred_pairs) if pred_pairs else 1.0
    r = tp / len(gold_pairs) if gold_pairs else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def bcubed_f1(pred: Sequence[Sequence[str]], gold_of: dict[str, str]) -> float:
    cluster_of = {i: n for n, c in enumerate(pred) for i in c}
    pred_members: dict[int, list[str]] = defaultdict(list)
    for i, n in cluster_of.items():
        pred_members[n].append(i)
    gold_members: dict[str, list[str]] = defaultdict(list)
    for i, s in gold_of.items():
        gold_members[s].append(i)
    ps, rs = [], []
    for i in gold_of:
        pc = pred_members[cluster_of[i]]
        same = sum(1 for j in pc if gold_of[j] == gold_of[i])
        ps.append(same / len(pc))
        rs.append(same / len(gold_members[gold_of[i]]))
    p, r = sum(ps) / len(ps), sum(rs) / len(rs)
    return 2 * p * r / (p + r) if p + r else 0.0


def token_f1(pred: str, ref: str) -> float:
    a, b = Counter(_tokens(pred)), Counter(_tokens(ref))
    common = sum((a & b).values())
    if not common:
        return 0.0
    p, r = common / sum(a.values()), common / sum(b.values())
    return 2 * p * r / (p + r)


def evaluate(
    name: str,
    clusters: Sequence[tuple[Sequence[str], str]],
    pages: dict[str, Page],
    gold: dict[str, Story],
    all_junk: Sequence[str],
) -> dict[str, float]:
    """``clusters``: (member ids, canonical text)."""
    gold_of = {pid: p.story for pid, p in pages.items()}
    members = [list(m) for m, _ in clusters]
    assert sorted(i for m in members for i in m) == sorted(gold_of), f"{name}: ids lost or repeated"
    p, r, f = pair_scores(members, gold_of)
    b3 = bcubed_f1(members, gold_of)
    f1s, junky = [], 0
    junk_lc = [j.lower() for j in all_junk]
    for m, text in clusters:
        story = Counter(gold_of[i] for i in m).most_common(1)[0][0]
        f1s.append(token_f1(text, gold[story].body))
        low = " ".join(text.lower().split())
        own = " ".join(gold[story].body.lower().split())
        teasers = {" ".join(t.lower().split()) for i in m for t in pages[i].teasers}
        teasers = {t for t in teasers if t not in own}  # a teaser of the story itself is not junk
        if any(j in low for j in junk_lc) or any(t in low for t in teasers):
            junky += 1
    return {
        "pair_precision": p,
        "pair_recall": r,
        "pair_f1": f,
        "bcubed_f1": b3,
        "canonical_text_f1": sum(f1s) / len(f1s),
        "junk_share": junky / len(clusters),
        "clusters": len(clusters),
    }


def run_newsdedup(items: list[Page]) -> list[tuple[list[str], str]]:
    import newsdedup

    dedup = getattr(newsdedup, "dedup", None)
    if dedup is None:  # not exported yet in this checkout
        from newsdedup._dedup import dedup
    errors: list = []
    records = [
        {"id": p.id, "html": p.html, "url": p.url, "site": p.site, "published": p.published} for p in items
    ]
    clusters = dedup(records, errors=errors)
    out = [(list(c.member_ids), c.text) for c in clusters]
    for e in errors:  # unusable pages still count: each is its own (empty) cluster
        out.append(([e.id], ""))
    if errors:
        print(f"  newsdedup: {len(errors)} pages unusable: {Counter(e.reason for e in errors)}")
    return out


def run_baseline(items: list[Page]) -> list[tuple[list[str], str]]:
    import trafilatura
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    texts: dict[str, str] = {}
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in items:
        text = trafilatura.extract(p.html, url=p.url) or ""
        texts[p.id] = text
        parent[p.id] = p.id
        toks = _tokens(text)
        shingles = {" ".join(toks[i : i + 5]) for i in range(max(0, len(toks) - 4))}
        if not shingles:
            continue
        m = MinHash(num_perm=128)
        m.update_batch([s.encode("utf-8") for s in shingles])
        for other in lsh.query(m):
            ra, rb = find(p.id), find(other)
            if ra != rb:
                parent[ra] = rb
        lsh.insert(p.id, m)
    comps: dict[str, list[str]] = defaultdict(list)
    for p in items:  # input order: the first item of a component is its canonical
        comps[find(p.id)].append(p.id)
    return [(m, texts[m[0]]) for m in comps.values()]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stories", type=int, default=300, help="syndicated stories (default 300)")
    ap.add_argument("--seed", type=int, default=7)
    default_data = Path(__file__).resolve().parent.parent / ".." / "shared" / "data"
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("NEWSDEDUP_DATA", default_data)))
    ap.add_argument("--negative-pairs", type=int, default=None, help="hard-negative pairs (default all)")
    ap.add_argument("--skip-baseline", action="store_true")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    items, gold = build(args.data, stories=args.stories, seed=args.seed, negative_pairs=args.negative_pairs)
    pages = {p.id: p for p in items}
    all_junk = sorted({" ".join(j.split()) for p in items for j in p.junk})
    n_neg = sum(1 for p in items if p.id.endswith("-9"))
    print(
        f"set: {len(items)} pages, {len({p.story for p in items})} stories "
        f"({args.stories} syndicated, {n_neg} hard-negative pages), "
        f"{sum(p.truncated for p in items)} truncated copies, seed {args.seed}, "
        f"built in {time.perf_counter() - t0:.1f}s"
    )
    results = {}
    t = time.perf_counter()
    results["newsdedup"] = evaluate("newsdedup", run_newsdedup(items), pages, gold, all_junk)
    results["newsdedup"]["seconds"] = time.perf_counter() - t
    if not args.skip_baseline:
        t = time.perf_counter()
        results["baseline"] = evaluate("baseline", run_baseline(items), pages, gold, all_junk)
        results["baseline"]["seconds"] = time.perf_counter() - t
    keys = [
        "pair_precision",
        "pair_recall",
        "pair_f1",
        "bcubed_f1",
        "canonical_text_f1",
        "junk_share",
        "clusters",
        "seconds",
    ]
    print(f"{'metric':<20}" + "".join(f"{n:>12}" for n in results))
    for k in keys:
        print(
            f"{k:<20}"
            + "".join(f"{r[k]:>12.4f}" if k != "clusters" else f"{r[k]:>12d}" for r in results.values())
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
