"""Dedup engine speed: ``Deduplicator.add_many`` + ``clusters()`` on already-extracted articles.

Usage::

    .venv/bin/python benchmarks/dedup_profile.py [--stories 800] [--seed 7] [--repeat 3]
        [--profile] [--dump clusters.json] [--cache /tmp/articles.jsonl]

Pages come from ``_syndicate.py`` (Reuters-21578 stories republished on publisher templates,
plus hard-negative look-alikes). They are extracted once, outside the timed region (optionally
cached with ``--cache``), so the numbers measure the engine alone: normalisation, shingles,
MinHash, LSH, verification, clustering and canonical choice. ``--dump`` writes every cluster's
members and canonical plus every decision, to check that a speed-up changed no result.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from newsdedup import Article


def load_articles(data: Path, stories: int, seed: int, cache: Path | None) -> list:
    if cache is not None and cache.exists():
        with cache.open(encoding="utf-8") as fh:
            return [Article.from_dict(json.loads(line)) for line in fh]
    from _syndicate import build

    from newsdedup._records import to_article

    pages, _gold = build(data, stories=stories, seed=seed)
    articles = []
    for p in pages:
        rec = {"id": p.id, "html": p.html, "url": p.url, "site": p.site, "published": p.published}
        articles.append(to_article(rec))
    if cache is not None:
        with cache.open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(a.to_dict(), ensure_ascii=False) + "\n" for a in articles)
    return articles


def run(articles: list) -> tuple[float, float, object]:
    """One timed run: (wall seconds, CPU seconds of this process, the deduplicator)."""
    from newsdedup import Deduplicator

    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    d = Deduplicator()
    d.add_many(articles)
    d.clusters()
    return time.perf_counter() - t0, time.process_time() - c0, d


def dump(d: object, path: Path) -> None:
    clusters = d.clusters()  # type: ignore[attr-defined]
    out = {
        "clusters": [[c.canonical_id, c.canonical_reason, list(c.member_ids)] for c in clusters],
        "decisions": {
            k: [v.status, v.duplicate_of, v.kind, v.jaccard]
            for k, v in sorted(d.decisions.items())  # type: ignore[attr-defined]
        },
        "verdicts": sorted(
            [a, b, v.kind, round(v.jaccard, 9), round(v.containment, 9), v.align]
            for a, b, v in d._state.edges.items()  # type: ignore[attr-defined]
        ),
    }
    path.write_text(json.dumps(out, indent=0, sort_keys=True))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stories", type=int, default=800)
    ap.add_argument("--seed", type=int, default=7)
    default_data = Path(__file__).resolve().parent.parent / ".." / "shared" / "data"
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("NEWSDEDUP_DATA", default_data)))
    ap.add_argument("--repeat", type=int, default=3, help="timed runs; the best is reported")
    ap.add_argument("--profile", action="store_true", help="print the top cProfile entries of one run")
    ap.add_argument("--dump", type=Path, default=None, help="write clusters/decisions as JSON")
    ap.add_argument("--cache", type=Path, default=None, help="JSONL cache of the extracted articles")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    articles = load_articles(args.data, args.stories, args.seed, args.cache)
    print(f"{len(articles)} articles ready in {time.perf_counter() - t:.1f}s (not timed)")
    best = best_cpu = float("inf")
    d = None
    n = len(articles)
    for _ in range(max(1, args.repeat)):
        secs, cpu, d = run(articles)
        best, best_cpu = min(best, secs), min(best_cpu, cpu)
        print(f"  run: {secs:.3f}s wall ({n / secs:,.0f} items/s), {cpu:.3f}s CPU ({n / cpu:,.0f} items/s)")
    print(
        f"best: {best:.3f}s wall, {n / best:,.0f} items/s ({best / n * 1e3:.2f} ms/item); "
        f"CPU {best_cpu:.3f}s, {n / best_cpu:,.0f} items/s ({best_cpu / n * 1e3:.2f} ms/item)"
    )
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        run(articles)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    if args.dump is not None and d is not None:
        dump(d, args.dump)
        print(f"dumped {args.dump}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
