"""Where a whole ``newsdedup dedup`` run spends its time, phase by phase, and how pairs were decided.

Usage::

    .venv/bin/python benchmarks/engine_phases.py [--items 20000] [--seed 1] [--max-verify 8]
        [--corpus-items 1000000] [--cache-items 20000]

Reads the generated corpus of ``speed.py`` (``_corpus.py``, cached under ``/tmp/newsdedup-bench``)
and runs the CLI's steps one after the other in this process, timing each by CPU time: parsing
the JSONL lines, turning records into clean articles (``clean_text``), fingerprinting and
matching (``Deduplicator.add_many`` in 256-item batches), building clusters, story ids, and
JSON output. Then it prints the verification counts: every verified candidate pair by verdict,
and how many accepted pairs were decided on the shingles alone (``align == 0``). The deduplicator
spills texts to disk as the CLI does (``cache_items`` docs and articles in memory); with
``--corpus-items`` it reads the first ``--items`` items of a bigger corpus (e.g. the 1M one, where
old copies' docs leave the cache), and it prints how many verifications were decided on an
evicted candidate's sketch and how many docs were rebuilt from stored text.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import ensure_corpus

from newsdedup import Deduplicator
from newsdedup._records import parse_line, to_article
from newsdedup._story import assign_stories


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-verify", type=int, default=8, help="DedupConfig.max_verify (0: every candidate)")
    ap.add_argument("--corpus-items", type=int, default=None, help="read the first --items of this corpus")
    ap.add_argument("--cache-items", type=int, default=20_000, help="Deduplicator(cache_items=...)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/newsdedup-bench"))
    ap.add_argument("--data", type=Path, default=None)
    args = ap.parse_args(argv)
    corpus = ensure_corpus(args.cache, n=args.corpus_items or args.items, seed=args.seed, data=args.data)

    times: list[tuple[str, float]] = []

    def phase(name: str, start: float) -> float:
        now = time.process_time()
        times.append((name, now - start))
        return now

    t = time.process_time()
    with corpus.items.open("rb") as fh:
        records = [parse_line(raw, line=n) for n, raw in zip(range(1, args.items + 1), fh, strict=False)]
    t = phase("parse JSONL", t)
    articles = [to_article(r) for r in records]
    t = phase("clean articles (clean_text)", t)
    d = Deduplicator(max_verify=args.max_verify or None, spill=True, cache_items=args.cache_items)
    for start in range(0, len(articles), 256):
        d.add_many(articles[start : start + 256])
    t = phase("fingerprint + match", t)
    clusters = d.clusters()
    t = phase("clusters and canonical items", t)
    clusters = assign_stories(clusters, window=72 * 3600)
    t = phase("story ids", t)
    for c in clusters:
        json.dumps(c.to_dict())
    phase("JSON output", t)

    n = len(records)
    total = sum(s for _, s in times)
    print(f"{n} items, {len(clusters)} clusters, CPU {total:.1f} s")
    for name, seconds in times:
        print(
            f"  {name:30s} {seconds:7.2f} s {seconds / n * 1e6:8.0f} us/item {seconds / total * 100:5.1f} %"
        )
    verified = {k.split(":", 1)[1]: v for k, v in sorted(d.stats.items()) if k.startswith("verified:")}
    accepted = Counter((v.kind, v.align == 0.0) for _, _, v in d._state.edges.items())
    print(f"verified pairs: {sum(verified.values())} {verified}")
    shortcut = sum(v for (_, quick), v in accepted.items() if quick)
    print(f"accepted pairs: {sum(accepted.values())}, decided on the shingles alone: {shortcut}")
    print(
        f"candidates whose doc had left the cache: {d.stats['decided-on-sketch']} decided on their sketch, "
        f"{d.stats['doc-rebuilds']} docs rebuilt from the stored text"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
