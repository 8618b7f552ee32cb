"""One ``newsdedup dedup`` run over a million generated items: wall time, peak memory, items/s.

Usage::

    .venv/bin/python benchmarks/million.py [--items 1000000] [--seed 1]
        [--newsdedup-args "--jobs 2"] [--cache /tmp/newsdedup-bench] [--json million.json]

The corpus is the one ``speed.py`` uses (``_corpus.py``: Reuters-21578 stories republished as
perturbed text copies; at 1M items each of the ~10k base stories has about 100 copies), streamed
to disk once per ``(items, seed)`` and cached (about 1.5 GB at 1M items). Generation is not
timed. The timed part is one fresh ``newsdedup dedup ITEMS -o OUT`` process: wall clock from
spawn to exit; peak memory the larger of its ``ru_maxrss`` (``os.wait4``) and the polled RSS
sum of its process tree (workers with ``--jobs``). Pair precision/recall/F1 against the gold
stories are computed afterwards from contingency counts (a few arrays of 1M integers). Goal of
the issue: at most 5 minutes and 4 GB on the development machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import ensure_corpus, pair_scores
from speed import newsdedup_command, run_measured


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--newsdedup-args", default="", help='extra CLI flags, e.g. "--jobs 2"')
    ap.add_argument("--cache", type=Path, default=Path("/tmp/newsdedup-bench"))
    ap.add_argument("--data", type=Path, default=None, help="default: $NEWSDEDUP_DATA or ../shared/data")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop the run after this long and report how far it got (items read, from the "
        "input file offset, and memory every 15 s) instead of the final scores; runs with "
        "--verify-as-read, so that the items read are items verified",
    )
    args = ap.parse_args(argv)

    args.cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    corpus = ensure_corpus(args.cache, n=args.items, seed=args.seed, data=args.data)
    meta = corpus.meta()
    print(
        f"corpus {corpus.items}: {meta['items']} items, {meta['bytes'] / 1e6:.0f} MB, "
        f"{meta['gold_stories']} gold stories (ready in {time.perf_counter() - t0:.1f} s)",
        file=sys.stderr,
    )
    out = args.cache / f"million-out-n{args.items}-s{args.seed}.jsonl"
    out.unlink(missing_ok=True)
    cmd = [*newsdedup_command(shlex.split(args.newsdedup_args)), str(corpus.items), "-o", str(out)]
    load_before = os.getloadavg()
    if args.time_limit is not None:
        # the file offset counts items verified only when each batch is verified as it is read
        # (by default verification waits for the end of the input: see docs/dedup.md)
        if "--verify-as-read" not in cmd:
            cmd.insert(len(cmd) - 3, "--verify-as-read")
        return run_limited(cmd, corpus.items, args.items, args.time_limit, args.json, out, corpus.gold())
    run = run_measured(cmd, out.with_suffix(".log"))
    if run.returncode != 0:
        tail = out.with_suffix(".log").read_text(errors="replace")[-2000:]
        raise SystemExit(f"newsdedup failed (exit {run.returncode}):\n{tail}")
    scores = pair_scores(out, corpus.gold())
    res = {
        "items": args.items,
        "seed": args.seed,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_before": load_before,
        "newsdedup_args": args.newsdedup_args,
        "wall_s": run.wall,
        "peak_rss_mb": run.peak_rss_mb,
        "ru_maxrss_mb": run.maxrss_mb,
        "polled_tree_rss_mb": run.tree_rss_mb,
        "items_per_s": args.items / run.wall,
        "corpus": meta,
        **scores.to_dict(),
    }
    print(f"{args.items} items, seed {args.seed}, {res['when']}, load before {load_before[0]:.2f}")
    print(f"wall        {run.wall:10.1f} s   (goal <= 300 s)")
    print(
        f"peak RSS    {run.peak_rss_mb:10.0f} MB  (goal <= 4096 MB; ru_maxrss {run.maxrss_mb:.0f}, "
        f"polled process tree {run.tree_rss_mb:.0f})"
    )
    print(f"items/s     {res['items_per_s']:10.0f}")
    print(f"clusters    {scores.clusters:10d}   (gold stories {meta['gold_stories']})")
    print(f"pair P/R/F1 {scores.precision:.4f} / {scores.recall:.4f} / {scores.f1:.4f}")
    if scores.missing or scores.repeated:
        print(f"ids missing from the output: {scores.missing}, in several clusters: {scores.repeated}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


def run_limited(
    cmd: list[str], items_path: Path, items: int, limit: float, json_path: Path | None, out: Path, gold: Any
) -> int:
    """Run ``cmd`` for at most ``limit`` seconds, sampling every 15 s the process tree's RSS and
    how far the child has read its input (the file offset, as a share of the items); a run that
    finishes in time is scored like a full one."""
    import subprocess

    import psutil

    size = items_path.stat().st_size
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ps = psutil.Process(proc.pid)
    samples: list[tuple[float, float, int]] = []
    print("elapsed s   RSS MB   items read (from the file offset)")
    while proc.poll() is None and time.perf_counter() - t0 < limit:
        time.sleep(15)
        try:
            tree = [ps, *ps.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in tree) / 1e6
            offset = max((f.position for f in ps.open_files() if Path(f.path) == items_path), default=0)
        except psutil.Error:
            continue
        samples.append((time.perf_counter() - t0, rss, round(offset / size * items)))
        print(f"{samples[-1][0]:9.0f} {rss:8.0f}   {samples[-1][2]:9d}", flush=True)
    finished = proc.poll() is not None
    if not finished:  # the whole tree: --jobs workers are the forkserver's children, not the CLI's
        tree = ps.children(recursive=True)
        proc.kill()
        proc.wait()
        for child in tree:
            with contextlib.suppress(psutil.Error):
                child.kill()
    wall = time.perf_counter() - t0
    status = (
        f"finished in {wall:.0f} s (exit {proc.returncode})" if finished else f"stopped after {wall:.0f} s"
    )
    print(f"{status}; peak RSS {max((s[1] for s in samples), default=0):.0f} MB (sampled every 15 s)")
    result: dict[str, Any] = {"status": status, "samples": samples}
    if finished and proc.returncode == 0:
        scores = pair_scores(out, gold)
        print(f"items/s     {items / wall:10.0f}")
        print(f"clusters    {scores.clusters:10d}")
        print(f"pair P/R/F1 {scores.precision:.4f} / {scores.recall:.4f} / {scores.f1:.4f}")
        result.update(wall_s=wall, **scores.to_dict())
    if json_path:
        json_path.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
