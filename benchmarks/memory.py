"""Memory of the local engine per item: what stays in memory when texts are spilled to disk.

Usage::

    .venv/bin/python benchmarks/memory.py [--items 20000] [--cache-items 1000]

Reads the generated corpus of ``speed.py`` (``_corpus.py``, cached under ``/tmp/newsdedup-bench``),
adds it to ``Deduplicator(spill=True, cache_items=N)`` in 256-item batches (as the CLI does
without ``--state``) and prints the resident set size before and after, the growth per item,
the accepted pairs per item (each one an edge and a verdict kept in memory) and the bytes of the
array LSH index. Clusters are not built: this is the state a long stream keeps.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import ensure_corpus

from newsdedup import Deduplicator
from newsdedup._records import RecordError, parse_line


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache-items", type=int, default=1000)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/newsdedup-bench"))
    ap.add_argument("--data", type=Path, default=None)
    args = ap.parse_args(argv)
    corpus = ensure_corpus(args.cache, n=args.items, seed=args.seed, data=args.data)
    proc = psutil.Process()

    def records():
        with corpus.items.open("rb") as fh:
            for number, raw in enumerate(fh, 1):
                try:
                    yield parse_line(raw, line=number)
                except RecordError as exc:
                    yield exc

    d = Deduplicator(spill=True, cache_items=args.cache_items)
    gc.collect()
    before = proc.memory_info().rss
    t0 = time.perf_counter()
    n = d.add_stream(records())
    seconds = time.perf_counter() - t0
    gc.collect()
    after = proc.memory_info().rss
    state = d._state
    pairs = len(state.verdicts)
    lsh = (state.main.nbytes() if state.main else 0) + (state.lead.nbytes() if state.lead else 0)
    print(f"{n} items of {corpus.items} in {seconds:.1f} s; cache_items {args.cache_items}; spill on")
    print(f"RSS before {before / 1e6:.0f} MB, after {after / 1e6:.0f} MB: {(after - before) / n:.0f} B per item")
    print(f"accepted pairs kept: {pairs} ({pairs / n:.2f} per item); array LSH: {lsh / n:.0f} B per item")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
