"""Memory of the local engine per item: what stays in memory when texts are spilled to disk.

Usage::

    .venv/bin/python benchmarks/memory.py [--items 20000] [--cache-items 1000] [--max-verify 8]
        [--breakdown]

Reads the generated corpus of ``speed.py`` (``_corpus.py``, cached under ``/tmp/newsdedup-bench``),
adds it to ``Deduplicator(spill=True, cache_items=N)`` in 256-item batches (as the CLI does
without ``--state``) and prints the resident set size before and after, the growth per item,
the accepted pairs per item (each one an edge and a verdict kept in memory) and the bytes of the
array LSH index. Clusters are not built: this is the state a long stream keeps.

The engine's caches are bounded (``cache_items`` articles and verification docs, ten times as
many shingle sets) and fill during the first ``10 * cache_items`` items, so the growth over the
whole run overstates what each further item costs. The script therefore also prints the RSS
every ~10 % of the run and the growth per item over the second half (after the caches are
full when ``items >= 20 * cache_items``): the slope a longer stream keeps. ``--breakdown`` also
prints, per part of the engine's state, its deep size (``sys.getsizeof`` over the containers,
objects and arrays it holds, each object counted once) divided by the items: what grows with the
stream and what the bounded caches hold. ``edges`` (the accepted pairs with their verdicts) is
measured as a stream leaves it; the sorted index :meth:`Deduplicator.verdict` builds on its first
call is printed on its own line.
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


def _deep_size(obj: object, seen: set[int]) -> int:
    """Bytes of ``obj`` and everything it references that ``seen`` does not hold yet."""
    import numpy as np

    total = 0
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        total += sys.getsizeof(o)
        if isinstance(o, np.ndarray):
            if o.base is not None:
                stack.append(o.base)
        elif isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, list | tuple | set | frozenset):
            stack.extend(o)
        elif hasattr(o, "__slots__"):
            stack.extend(
                getattr(o, n) for c in type(o).__mro__ for n in getattr(c, "__slots__", ()) if hasattr(o, n)
            )
        elif hasattr(o, "__dict__") and not isinstance(o, type):
            stack.append(vars(o))
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache-items", type=int, default=1000)
    ap.add_argument("--max-verify", type=int, default=8, help="DedupConfig.max_verify (0: every candidate)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/newsdedup-bench"))
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--breakdown", action="store_true", help="deep size of each part of the state")
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

    d = Deduplicator(spill=True, cache_items=args.cache_items, max_verify=args.max_verify or None)
    gc.collect()
    before = proc.memory_info().rss
    t0 = time.perf_counter()
    marks: list[tuple[int, int]] = []
    seen = 0
    step = max(1, args.items // 10)

    def on_batch(size: int) -> None:
        nonlocal seen
        seen += size
        if not marks or seen - marks[-1][0] >= step:
            marks.append((seen, proc.memory_info().rss))

    n = d.add_stream(records(), on_batch=on_batch)
    seconds = time.perf_counter() - t0
    gc.collect()
    after = proc.memory_info().rss
    state = d._state
    sizes: list[tuple[str, int]] = []
    if args.breakdown:  # before anything builds the pairs' lookup index
        counted: set[int] = set()  # ``seen`` counts the items read
        parts = [(name, getattr(state, name)) for name in ("meta", "edges", "hubs", "main", "lead")]
        spill = (d._spill._where, d._spill._sketch_where) if d._spill else ({}, {})
        parts += [("decisions", d.decisions), ("spill offsets", spill)]
        parts += [(f"{name} (cache)", getattr(state, name)) for name in ("sketches", "docs", "articles")]
        sizes = [(name, _deep_size(obj, counted)) for name, obj in parts]
    pairs = len(state.edges)  # builds the index
    if args.breakdown:
        sizes.append(("edges index", _deep_size(state.edges._index, counted)))
    lsh = (state.main.nbytes() if state.main else 0) + (state.lead.nbytes() if state.lead else 0)
    print(
        f"{n} items of {corpus.items} in {seconds:.1f} s; cache_items {args.cache_items}; spill on; "
        f"max_verify {args.max_verify or None}"
    )
    print(
        f"RSS before {before / 1e6:.0f} MB, after {after / 1e6:.0f} MB: {(after - before) / n:.0f} B per item"
    )
    print("items read   RSS MB")
    for count, rss in marks:
        print(f"{count:10d} {rss / 1e6:8.0f}")
    half = [(c, r) for c, r in marks if c >= n // 2]
    if len(half) >= 2 and half[-1][0] > half[0][0]:
        (c0, r0), (c1, r1) = half[0], half[-1]
        print(f"growth per item over the second half ({c0} -> {c1} items): {(r1 - r0) / (c1 - c0):.0f} B")
    print(f"accepted pairs kept: {pairs} ({pairs / n:.2f} per item); array LSH: {lsh / n:.0f} B per item")
    if args.breakdown:
        print("deep size per item (each object counted once, in this order):")
        for name, size in sizes:
            print(f"  {name:18s} {size / n:8.0f} B")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
