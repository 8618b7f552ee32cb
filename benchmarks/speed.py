"""Whole-process speed: ``newsdedup dedup`` against a datasketch and a rensa pipeline.

Usage::

    .venv/bin/python benchmarks/speed.py [--items 20000] [--seed 1] [--repeat 1]
        [--only newsdedup,datasketch,rensa] [--newsdedup-args "--jobs 2"]
        [--threshold 0.5] [--cache /tmp/newsdedup-bench] [--json results.json] [--no-floor]

The corpus (``_corpus.py``: Reuters-21578 stories as perturbed syndicated text copies plus
look-alike hard negatives) is generated once per ``(items, seed)`` and cached. Every tool then
runs as its own fresh process, timed by wall clock from start to exit (interpreter start,
imports, reading, fingerprinting, clustering, writing JSONL); its peak RSS comes from
``os.wait4`` on that child. Pair precision/recall/F1 are scored against the gold stories.

The baselines are what a competent user of each library writes for this job: read the JSONL,
lowercase + word tokens, word 5-gram shingles, 128-permutation MinHash through the library's
batch path, LSH insert + query at the same threshold as newsdedup's default (0.5), candidate
pairs kept when their estimated Jaccard reaches the threshold (not checked again once both are
in one component), union-find, one JSONL line per cluster with the longest member as canonical
text. They do no boilerplate cleaning: that is part of what newsdedup is for. ``--baseline-no-verify`` keeps every LSH candidate pair instead.

Two floor runs (``FLOORS``, skipped with ``--no-floor``) time what every Python CLI run over the
same input pays before any deduplication: interpreter start and decoding the JSONL lines, and,
for newsdedup, importing its CLI and turning lines into records. They are printed beside the
goals' time budgets (the datasketch pipeline's wall / 20, the rensa pipeline's / 3).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TOOLS = ("newsdedup", "datasketch", "rensa")
NUM_PERM = 128
SHINGLE = 5
RENSA_BANDS = 32
"""rensa needs bands dividing 128; 32 x 4 rows puts the S-curve's midpoint (0.42) nearest the
0.5 threshold (datasketch picks 25 x 5 for 0.5; 16 x 8 would sit at 0.71)."""


# -- the baseline pipelines (run in their own process via ``--pipeline``) ----------------------

_WORD = re.compile(r"\w+")


def _shingles(text: str) -> list[str]:
    words = _WORD.findall(text.lower())
    if len(words) <= SHINGLE:
        return [" ".join(words)]
    return list({" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)})


def _read(path: Path) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                d = json.loads(line)
                ids.append(d["id"])
                texts.append(d.get("text") or "")
    return ids, texts


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _write_clusters(out: Path, ids: list[str], texts: list[str], parent: list[int]) -> None:
    groups: dict[int, list[int]] = {}
    for i in range(len(ids)):
        groups.setdefault(_find(parent, i), []).append(i)
    with out.open("w", encoding="utf-8") as fh:
        for n, members in enumerate(groups.values()):
            canon = max(members, key=lambda i: len(texts[i]))
            rec = {
                "cluster_id": f"c{n}",
                "canonical_id": ids[canon],
                "member_ids": [ids[i] for i in members],
                "text": texts[canon],
            }
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def _union_pairs(n: int, candidates: Any, similar: Any) -> list[int]:
    """Union-find over ``candidates[i]`` (keys), keeping pairs ``similar(i, j)`` accepts."""
    parent = list(range(n))
    for i, keys in enumerate(candidates):
        for j in keys:
            a, b = _find(parent, i), _find(parent, j)
            # Already joined: the check could not change anything (and large clusters would
            # make it quadratic).
            if a != b and similar(i, j):
                parent[b] = a
    return parent


def pipeline_datasketch(inp: Path, out: Path, threshold: float, verify: bool) -> None:
    from datasketch import MinHash, MinHashLSH

    ids, texts = _read(inp)
    sets = [[s.encode("utf-8") for s in _shingles(t)] for t in texts]
    mhs = MinHash.bulk(sets, num_perm=NUM_PERM)
    del sets
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    with lsh.insertion_session() as session:
        for i, m in enumerate(mhs):
            session.insert(i, m, check_duplication=False)
    candidates = (lsh.query(m) for m in mhs)
    parent = _union_pairs(
        len(ids), candidates, (lambda i, j: mhs[i].jaccard(mhs[j]) >= threshold) if verify else _always
    )
    _write_clusters(out, ids, texts, parent)


def pipeline_rensa(inp: Path, out: Path, threshold: float, verify: bool) -> None:
    from rensa import RMinHash, RMinHashLSH

    ids, texts = _read(inp)
    mhs = RMinHash.from_token_sets((_shingles(t) for t in texts), num_perm=NUM_PERM, seed=42)
    lsh = RMinHashLSH(threshold=threshold, num_perm=NUM_PERM, num_bands=RENSA_BANDS)
    lsh.insert_many(mhs)
    candidates = lsh.query_all(mhs)
    parent = _union_pairs(
        len(ids), candidates, (lambda i, j: mhs[i].jaccard(mhs[j]) >= threshold) if verify else _always
    )
    _write_clusters(out, ids, texts, parent)


def _always(i: int, j: int) -> bool:
    return True


PIPELINES = {"datasketch": pipeline_datasketch, "rensa": pipeline_rensa}

FLOORS = {
    "python": "import json, sys\nwith open(sys.argv[1], 'rb') as fh:\n    for raw in fh:\n        json.loads(raw)\n",
    "newsdedup": (
        "import sys\nimport newsdedup._cli\nfrom newsdedup._records import parse_line\n"
        "with open(sys.argv[1], 'rb') as fh:\n    for n, raw in enumerate(fh, 1):\n        parse_line(raw, line=n)\n"
    ),
}
"""What no run of a Python CLI over this input can go below, timed the same way as the tools:
``python`` starts the interpreter and decodes every JSONL line; ``newsdedup`` also imports the
CLI and turns each line into a record, and does nothing else (no cleaning, no fingerprints, no
output). Both are lower bounds, printed beside the goals' time budgets."""


# -- measuring --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    tool: str
    wall: float
    peak_rss_mb: float
    """The larger of the child's ``ru_maxrss`` and the polled sum over its process tree."""
    maxrss_mb: float
    tree_rss_mb: float
    returncode: int


def _poll_tree_rss(pid: int, stop: threading.Event, peak: list[float]) -> None:
    """Sum of RSS over the child and its workers every 50 ms: ``ru_maxrss`` alone only sees
    the largest single process, not workers running side by side (``--jobs``)."""
    import psutil

    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return
    while not stop.wait(0.05):
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):  # a worker that just exited
                total += p.memory_info().rss
        peak[0] = max(peak[0], total / 2**20)


def run_measured(cmd: list[str], log: Path) -> Run:
    """Run ``cmd`` as a fresh child: wall clock from spawn to exit; peak memory from ``wait4``
    (the child's own ``ru_maxrss``, so earlier runs cannot inflate it) and from polling."""
    peak = [0.0]
    stop = threading.Event()
    with log.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        poller = threading.Thread(target=_poll_tree_rss, args=(proc.pid, stop, peak), daemon=True)
        poller.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            stop.set()
        wall = time.perf_counter() - t0
    poller.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    maxrss = usage.ru_maxrss / 1024  # KiB on Linux
    return Run(cmd[0], wall, max(maxrss, peak[0]), maxrss, peak[0], proc.returncode)


def compile_package() -> None:
    """Write newsdedup's bytecode before it is timed, as a regular ``pip install`` does: from
    an editable install with ``PYTHONDONTWRITEBYTECODE`` set (as on the benchmark machine),
    every process of every run would compile each module changed since its last ``.pyc``
    (about 0.03 s for ``_dedup.py`` alone)."""
    import compileall

    import newsdedup

    compileall.compile_dir(str(Path(newsdedup.__file__).parent), quiet=1)


def newsdedup_command(extra: list[str]) -> list[str]:
    compile_package()
    script = Path(sys.executable).parent / "newsdedup"
    base = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from newsdedup._cli import main; main()"]
    )
    return [*base, "dedup", "--no-progress", *extra]


def tool_command(tool: str, inp: Path, out: Path, args: argparse.Namespace) -> list[str]:
    if tool == "newsdedup":
        return [*newsdedup_command(shlex.split(args.newsdedup_args)), str(inp), "-o", str(out)]
    cmd = [sys.executable, str(Path(__file__).resolve()), "--pipeline", tool, str(inp), str(out)]
    cmd += ["--threshold", str(args.threshold)]
    if args.baseline_no_verify:
        cmd.append("--baseline-no-verify")
    return cmd


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from _corpus import ensure_corpus, pair_scores

    t0 = time.perf_counter()
    corpus = ensure_corpus(args.cache, n=args.items, seed=args.seed, data=args.data)
    meta = corpus.meta()
    print(
        f"corpus {corpus.items} ({meta['items']} items, {meta['gold_stories']} gold stories, "
        f"{meta['gold_pairs']} gold pairs; ready in {time.perf_counter() - t0:.1f} s)",
        file=sys.stderr,
    )
    gold = corpus.gold()
    tools = [t.strip() for t in args.only.split(",") if t.strip()]
    results: dict[str, Any] = {}
    for tool in tools:
        walls, rss, maxrss, tree = [], [], [], []
        out = args.cache / f"out-{tool}-n{args.items}-s{args.seed}.jsonl"
        for _ in range(args.repeat):
            out.unlink(missing_ok=True)
            r = run_measured(tool_command(tool, corpus.items, out, args), out.with_suffix(".log"))
            if r.returncode != 0:
                tail = out.with_suffix(".log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"{tool} failed (exit {r.returncode}):\n{tail}")
            walls.append(r.wall)
            rss.append(r.peak_rss_mb)
            maxrss.append(r.maxrss_mb)
            tree.append(r.tree_rss_mb)
            print(f"  {tool}: {r.wall:.2f} s, {r.peak_rss_mb:.0f} MB", file=sys.stderr)
        scores = pair_scores(out, gold)
        wall = statistics.median(walls)
        results[tool] = {
            "wall_s": wall,
            "walls_s": walls,
            "items_per_s": args.items / wall,
            "peak_rss_mb": max(rss),
            "ru_maxrss_mb": max(maxrss),
            "polled_tree_rss_mb": max(tree),
            **scores.to_dict(),
        }
    floors: dict[str, Any] = {}
    if args.floor:
        for name, code in FLOORS.items():
            walls = []
            for _ in range(args.repeat):
                log = args.cache / f"floor-{name}-n{args.items}-s{args.seed}.log"
                r = run_measured([sys.executable, "-c", code, str(corpus.items)], log)
                if r.returncode != 0:
                    raise SystemExit(f"floor {name} failed (exit {r.returncode}):\n{log.read_text()[-2000:]}")
                walls.append(r.wall)
            floors[name] = {"wall_s": statistics.median(walls), "walls_s": walls}
            print(f"  floor {name}: {floors[name]['wall_s']:.2f} s", file=sys.stderr)
    return {
        "items": args.items,
        "seed": args.seed,
        "floors": floors,
        "corpus": meta,
        "threshold_baselines": args.threshold,
        "baseline_verify": not args.baseline_no_verify,
        "newsdedup_args": args.newsdedup_args,
        "repeat": args.repeat,
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load": os.getloadavg(),
        "tools": results,
    }


def print_table(res: dict[str, Any]) -> None:
    tools = res["tools"]
    print(f"{res['items']} items, seed {res['seed']}, {res['when']}, load {res['load'][0]:.2f}")
    print(
        f"{'tool':<11} {'wall s':>8} {'items/s':>9} {'peak MB':>8} {'P':>7} {'R':>7} {'F1':>7} {'clusters':>9}"
    )
    for name, t in tools.items():
        print(
            f"{name:<11} {t['wall_s']:>8.2f} {t['items_per_s']:>9.0f} {t['peak_rss_mb']:>8.0f} "
            f"{t['precision']:>7.4f} {t['recall']:>7.4f} {t['f1']:>7.4f} {t['clusters']:>9}"
        )
    if "newsdedup" in tools:
        for other in ("datasketch", "rensa"):
            if other in tools:
                ratio = tools[other]["wall_s"] / tools["newsdedup"]["wall_s"]
                print(f"newsdedup vs {other}: {ratio:.2f}x faster (wall, this run)")
    goals = {"datasketch": 20.0, "rensa": 3.0}
    for name, floor in res.get("floors", {}).items():
        budgets = ", ".join(
            f"{other}/{k:g} = {tools[other]['wall_s'] / k:.2f} s"
            for other, k in goals.items()
            if other in tools
        )
        print(
            f"floor {name} (start, {'imports, ' if name == 'newsdedup' else ''}read and parse the input): "
            f"{floor['wall_s']:.2f} s; goal budgets: {budgets or '-'}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", default=",".join(TOOLS), help="comma-separated subset of " + ",".join(TOOLS))
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool; the median wall is reported")
    ap.add_argument("--newsdedup-args", default="", help='extra CLI flags, e.g. "--jobs 2"')
    ap.add_argument("--threshold", type=float, default=0.5, help="baselines' LSH/Jaccard threshold")
    ap.add_argument("--baseline-no-verify", action="store_true", help="keep every LSH candidate pair")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/newsdedup-bench"))
    ap.add_argument("--data", type=Path, default=None, help="default: $NEWSDEDUP_DATA or ../shared/data")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--no-floor", dest="floor", action="store_false", help="skip the floor runs (FLOORS)")
    ap.add_argument("--pipeline", choices=sorted(PIPELINES), help=argparse.SUPPRESS)
    ap.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.pipeline:
        inp, out = args.paths
        PIPELINES[args.pipeline](inp, out, args.threshold, not args.baseline_no_verify)
        return 0
    unknown = set(args.only.split(",")) - set(TOOLS)
    if unknown:
        ap.error(f"unknown tools: {', '.join(sorted(unknown))}")
    sys.path.insert(0, str(HERE))
    args.cache.mkdir(parents=True, exist_ok=True)
    res = measure(args)
    print_table(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
