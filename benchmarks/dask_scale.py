"""The Dask engine against the local engine on the generated corpus (``_corpus.py``).

Usage::

    .venv/bin/python benchmarks/dask_scale.py [--items 20000] [--seed 1] [--workers 2]
        [--blocksize 4194304] [--cache /tmp/newsdedup-bench] [--json results.json]

The local engine runs as ``newsdedup dedup ITEMS --no-stories`` in a child process (wall time
and peak RSS from ``os.wait4``). The Dask engine runs :func:`newsdedup.dask.dedup_files` in
this process against a ``LocalCluster`` of ``--workers`` single-threaded worker processes;
cluster start-up and a 50-item warm-up run (workers importing the extraction and engine
modules) are timed apart. A thread samples every worker's RSS once a second (peak per
worker); ``cpu_seconds`` is user+system CPU of the workers and this process (client and
scheduler) during the run, which unlike wall time means something on a busy machine. Both outputs are compared: same partition, same canonical ids, same canonical texts.

``--story-group COPIES [--shared 10]`` instead times one bucket group task in this process on
a synthetic story of ``COPIES`` copies sharing ``--shared`` of their 70 buckets: listing every
pair of a bucket (``_pairs``, the path without ``max_verify``) against each item's lowest-ranked
candidates from each bucket's ``K + 1`` lowest members (``_hub_rows``, ``max_verify`` 8), with
the peak of traced (numpy) memory.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _corpus import ensure_corpus  # noqa: E402


def _local(items: Path, out: Path) -> dict[str, Any]:
    exe = Path(sys.executable).with_name("newsdedup")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(exe), "dedup", str(items), "-o", str(out), "--no-stories"], stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    cpu = usage.ru_utime + usage.ru_stime
    if status != 0:
        raise SystemExit(f"local engine failed: {proc.stderr.read().decode() if proc.stderr else status}")
    return {
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def _per_item_sizes(items: Path, n: int = 1000) -> dict[str, float]:
    """Pickled bytes per item of a prepared partition (what verification tasks move between
    workers), of the site-boilerplate shuffle rows, of a clustered item's member record (article
    and normal form, routed to its cluster's task) and of a single-item output cluster."""
    import numpy as np

    from newsdedup._dedup import DedupConfig
    from newsdedup._records import parse_line
    from newsdedup.dask import _Chunk, _member_rows, _prepare, _repeat_rows

    lines = []
    with items.open("rb") as fh:
        for _ in range(n):
            lines.append(parse_line(fh.readline(), line=len(lines) + 1))
    cfg = DedupConfig()
    part = _prepare(_Chunk(lines, source=f"0:{items}", from_file=True), 0, cfg)
    keys = np.empty((0, 2), dtype=np.uint64)
    every = {r.seq: r.seq for r in part.rows}  # as if every item were in a cluster of two or more

    def size(obj: object) -> float:
        return round(len(pickle.dumps(obj, protocol=5)) / n, 1)

    return {
        "raw_line_bytes": round(sum(len(json.dumps({"text": r.text})) for r in lines) / n, 1),
        "prepared_bytes": size(part),
        "repeat_row_bytes": size(_repeat_rows(part, None, every, len(every), 1)),
        "member_bytes": size(_member_rows(part, None, every, 1, keys, 0.0, cfg)[1]),
        "single_cluster_bytes": size(_member_rows(part, None, {}, 1, keys, 0.0, cfg)[0]),
    }


def _story_group(copies: int, shared: int, limit: int = 8) -> dict[str, Any]:
    """Time and traced peak memory of one bucket group's candidate task on a synthetic story."""
    import tracemalloc

    import numpy as np

    from newsdedup.dask import _hub_rows, _pairs

    rng = np.random.default_rng(1)
    per_item = 70
    pos = np.repeat(np.arange(copies, dtype=np.int64), per_item)
    codes = rng.integers(1 << 40, 1 << 50, size=copies * per_item).astype(np.uint64)
    codes.reshape(copies, per_item)[:, :shared] = np.arange(shared, dtype=np.uint64)
    rank = rng.integers(0, 1 << 63, size=copies).astype(np.uint64)[pos]
    out: dict[str, Any] = {"copies": copies, "shared_buckets": shared, "bucket_rows": len(codes)}
    for name, run in (
        ("every_pair", lambda: _pairs([(codes, pos)])[1]),
        ("hub_rows", lambda: _hub_rows([(codes, pos, rank)], limit)[1]),
    ):
        tracemalloc.start()
        t0 = time.perf_counter()
        counts = run()
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out[name] = {"seconds": round(seconds, 3), "peak_mib": round(peak / 2**20, 1), **counts}
    return out


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _cpu() -> float:
    import psutil

    t = psutil.Process().cpu_times()
    return t.user + t.system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--blocksize", type=int, default=4 * 1024 * 1024)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/newsdedup-bench"))
    ap.add_argument("--skip-local", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--story-group", type=int, default=None, metavar="COPIES")
    ap.add_argument("--shared", type=int, default=10)
    args = ap.parse_args()
    if args.story_group is not None:
        print(json.dumps(_story_group(args.story_group, args.shared)))
        return

    from distributed import Client

    from newsdedup.dask import dedup_files, local_cluster

    corpus = ensure_corpus(args.cache, n=args.items, seed=args.seed)
    out_local = args.cache / f"dask-bench-local-n{args.items}-s{args.seed}.jsonl"
    result: dict[str, Any] = {
        "items": args.items,
        "bytes": corpus.items.stat().st_size,
        "workers": args.workers,
    }
    if not args.skip_local or not out_local.exists():
        result["local"] = _local(corpus.items, out_local)
        print("local:", result["local"], flush=True)

    t0 = time.perf_counter()
    cluster = local_cluster(args.workers, silence_logs=40)
    client = Client(cluster)
    startup = time.perf_counter() - t0
    # warm-up: workers import the extraction and engine modules once (a few CPU-seconds each),
    # which a long-lived cluster pays only at start
    t0 = time.perf_counter()
    with corpus.items.open("rb") as fh:
        head = [fh.readline() for _ in range(50)]
    warm = args.cache / "dask-bench-warmup.jsonl"
    warm.write_bytes(b"".join(head))
    dedup_files([warm], scheduler=client)
    warmup = time.perf_counter() - t0
    peaks: dict[str, int] = {}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                for worker, rss in client.run(_rss).items():
                    peaks[worker] = max(peaks.get(worker, 0), rss)
            except Exception:
                pass
            stop.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu0 = sum(client.run(_cpu).values()) + _cpu()
    t1 = time.perf_counter()
    res = dedup_files([corpus.items], blocksize=args.blocksize, scheduler=client)
    wall = time.perf_counter() - t1
    stop.set()
    sampler.join()
    worker_cpu = client.run(_cpu)
    cpu = sum(worker_cpu.values()) + _cpu() - cpu0
    client.close()
    cluster.close()
    result["dask"] = {
        "startup_seconds": round(startup, 2),
        "warmup_seconds": round(warmup, 2),
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "worker_peak_rss_mb": sorted(round(v / 2**20, 1) for v in peaks.values()),
        "client_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        **res.stats,
    }
    print("dask:", result["dask"], flush=True)

    local = [json.loads(line) for line in out_local.read_text(encoding="utf-8").splitlines()]
    key_local = sorted((c["cluster_id"], c["canonical_id"], tuple(c["member_ids"]), c["text"]) for c in local)
    key_dask = sorted((c.cluster_id, c.canonical_id, c.member_ids, c.text) for c in res.clusters)
    result["same_partition_as_local"] = {k[2] for k in key_local} == {k[2] for k in key_dask}
    result["same_as_local"] = key_local == key_dask
    out_dask = args.cache / f"dask-bench-dask-n{args.items}-s{args.seed}.jsonl"
    out_dask.write_text("".join(json.dumps(c.to_dict()) + "\n" for c in res.clusters), encoding="utf-8")
    result["per_item"] = _per_item_sizes(corpus.items)
    print("same partition as local:", result["same_partition_as_local"])
    print("same clusters, canonical ids and texts as local:", result["same_as_local"])
    print("per item:", result["per_item"])
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
