"""Where pair recall goes on a generated corpus: missing edges or the chaining-resistant peel.

Usage::

    .venv/bin/python benchmarks/recall_loss.py [--items 200000] [--seed 1] [--caps 2,4,8,none]

Runs the local engine as the CLI does (``Deduplicator(spill=True)``, 256-item batches) over the
corpus of ``speed.py`` (``_corpus.py``), then scores against the gold stories, by pair
precision/recall/F1: the connected components of the graph clustering uses (accepted pairs kept
by the hub filter) and the partition (:func:`newsdedup._cluster.partition`) with each
``max_need`` cap in ``--caps`` (the engine passes ``max_verify // 4``). It also splits the gold
pairs the engine's own partition misses into those inside one component (the peel split them)
and those with no path of accepted pairs (missing edges). A diagnostic, not a speed benchmark.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import ensure_corpus

from newsdedup._cluster import components, partition
from newsdedup._dedup import Deduplicator
from newsdedup._io import read_records


def _pairs(*keys: np.ndarray) -> int:
    return sum(v * (v - 1) // 2 for v in Counter(zip(*keys, strict=True)).values())


def _labels(groups: list[list[str]], n: int) -> np.ndarray:
    out = np.full(n, -1, dtype=np.int64)
    for k, group in enumerate(groups):
        for item in group:
            out[int(item[2:])] = k  # corpus ids are "it<index>"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--caps", default="2,4,8,none", help="max_need caps to score (none: no cap)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/newsdedup-bench"))
    ap.add_argument("--data", type=Path, default=None)
    args = ap.parse_args(argv)
    corpus = ensure_corpus(args.cache, n=args.items, seed=args.seed, data=args.data)
    gold = corpus.gold()
    n = len(gold)

    t0 = time.perf_counter()
    d = Deduplicator(spill=True)
    d.add_stream(read_records(str(corpus.items)))
    print(f"{n} items matched in {time.perf_counter() - t0:.0f} s", flush=True)
    edges = d._hub_edges()
    nodes = list(d._state.meta.keys())
    gold_pairs = _pairs(gold)

    def score(name: str, groups: list[list[str]]) -> np.ndarray:
        lab = _labels(groups, n)
        tp, predicted = _pairs(gold, lab), _pairs(lab)
        p, r = tp / predicted, tp / gold_pairs
        print(
            f"{name:26s} P {p:.4f}  R {r:.4f}  F1 {2 * p * r / (p + r):.4f}  clusters {len(groups)}",
            flush=True,
        )
        return lab

    comp = score("components (no peel)", components(nodes, edges))
    engine = None
    for cap_text in args.caps.split(","):
        cap = None if cap_text.strip().lower() == "none" else int(cap_text)
        lab = score(f"partition max_need={cap}", partition(nodes, edges, d._priority, max_need=cap))
        if cap == d.config.max_need:
            engine = lab
    if engine is not None:
        found, together = _pairs(gold, engine), _pairs(gold, comp)
        print(
            f"gold pairs {gold_pairs}; missed by the engine's partition (max_need={d.config.max_need}): "
            f"{gold_pairs - found}, of which inside one component (split by the peel) {together - found}, "
            f"with no path of accepted pairs {gold_pairs - together}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
