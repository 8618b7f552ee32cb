"""Per-item cost of the SQLite state store against the in-memory deduplicator, and store size.

Items are generated cheaply: Reuters-21578 bodies (``$NEWSDEDUP_DATA/reuters21578``, default
``../shared/data``), each used as a story and republished with small perturbations (a dropped
sentence, a changed word, a site footer, a truncated copy); without the data, synthetic text
from a fixed vocabulary. Items are :class:`Article` objects, so extraction is not measured --
only fingerprinting, matching and (for the store) persistence.

    .venv/bin/python benchmarks/store.py --items 100000
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from newsdedup._dedup import Deduplicator
from newsdedup._models import Article
from newsdedup._store import SQLiteStore

_FOOTERS = [
    "Subscribe to our newsletter for the day's top stories.",
    "Copyright Valley Post Media. All rights reserved.",
    "Follow us for breaking news alerts.",
]
_SITES = [f"site{n}.example" for n in range(40)]


def _bodies(data: Path, limit: int) -> list[str]:
    path = data / "reuters21578" / "reuters21578.jsonl.gz"
    out: list[str] = []
    if path.exists():
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                body = (json.loads(line).get("body") or "").strip()
                if len(body.split()) >= 60:
                    paras = [" ".join(p.split()) for p in body.split("\n    ") if p.strip()]
                    out.append("\n\n".join(paras))
                if len(out) >= limit:
                    break
    if not out:
        print("note: Reuters data not found, using synthetic text", file=sys.stderr)
        rng = random.Random(3)
        words = [f"w{n}" for n in range(5000)]
        for _ in range(limit):
            paras = [" ".join(rng.choice(words) for _ in range(40)) + "." for _ in range(4)]
            out.append("\n\n".join(paras))
    return out


def make_items(n: int, data: Path, seed: int = 1) -> list[Article]:
    """About 40 % stories, 60 % copies of them (perturbed, footered or truncated)."""
    rng = random.Random(seed)
    bodies = _bodies(data, 20_000)
    items: list[Article] = []
    stories: list[str] = []
    while len(items) < n:
        k = len(items)
        if not stories or rng.random() < 0.4:
            body = bodies[len(stories) % len(bodies)]
            if len(stories) >= len(bodies):  # reused body: make it a different story
                body = f"Update {len(stories)}: " + body.replace(" the ", f" the {len(stories)} ", 3)
            stories.append(body)
            text = body
        else:
            body = stories[-1 - min(int(rng.expovariate(0.05)), len(stories) - 1)]
            paras = body.split("\n\n")
            kind = rng.random()
            if kind < 0.3:
                text = body + "\n\n" + rng.choice(_FOOTERS)
            elif kind < 0.55 and len(paras) >= 3:
                text = "\n\n".join(paras[: max(2, len(paras) // 3)])
            else:
                words = body.split(" ")
                words[rng.randrange(len(words))] = "reportedly"
                text = " ".join(words)
        site = rng.choice(_SITES)
        items.append(
            Article(
                id=f"i{k:07d}",
                text=text,
                site=site,
                url=f"https://{site}/a/{k}",
                title=f"Story {k}",
                published=None,
                source_format="text",
            )
        )
    return items


def _run(items: list[Article], store: SQLiteStore | None, batch: int) -> tuple[float, float, float, int]:
    """(wall seconds to add, CPU seconds to add, wall seconds to emit, clusters)."""
    t0, c0 = time.perf_counter(), time.process_time()
    d = Deduplicator(store=store)
    for start in range(0, len(items), batch):
        d.add_many(items[start : start + batch])
    t_add, c_add = time.perf_counter() - t0, time.process_time() - c0
    t1 = time.perf_counter()
    emitted = d.emit_changed(lambda clusters: None)
    return t_add, c_add, time.perf_counter() - t1, len(emitted)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=256, help="items per add_many (one transaction each)")
    ap.add_argument("--synchronous", default="NORMAL")
    default_data = Path(__file__).resolve().parent.parent / ".." / "shared" / "data"
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("NEWSDEDUP_DATA", default_data)))
    args = ap.parse_args(argv)

    items = make_items(args.items, args.data)
    text_bytes = sum(len(a.text.encode("utf-8")) for a in items)
    print(f"items: {len(items)}  mean text: {text_bytes / len(items):.0f} bytes  batch: {args.batch}")

    mem_add, mem_cpu, mem_out, mem_clusters = _run(items, None, args.batch)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.db"
        store = SQLiteStore(path, synchronous=args.synchronous)
        db_add, db_cpu, db_out, db_clusters = _run(items, store, args.batch)
        t0 = time.perf_counter()
        reopened = Deduplicator(store=store)
        t_reopen = time.perf_counter() - t0
        assert len(reopened) == len(items)
        store.close()
        con = sqlite3.connect(path)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        article_bytes = con.execute("SELECT sum(length(article)) FROM items").fetchone()[0]
        con.close()
        size = path.stat().st_size
    assert mem_clusters == db_clusters, (mem_clusters, db_clusters)

    n = len(items)
    print(f"{'':24}{'memory':>10}{'sqlite':>10}{'ratio':>8}")
    print(f"{'add, wall (s)':24}{mem_add:10.2f}{db_add:10.2f}{db_add / mem_add:8.2f}")
    print(f"{'add, CPU (s)':24}{mem_cpu:10.2f}{db_cpu:10.2f}{db_cpu / mem_cpu:8.2f}")
    print(f"{'clusters/emit (s)':24}{mem_out:10.2f}{db_out:10.2f}{db_out / mem_out:8.2f}")
    total_m, total_d = mem_add + mem_out, db_add + db_out
    print(f"{'total (s)':24}{total_m:10.2f}{total_d:10.2f}{total_d / total_m:8.2f}")
    print(f"{'us per item (add, CPU)':24}{1e6 * mem_cpu / n:10.0f}{1e6 * db_cpu / n:10.0f}")
    print(f"clusters: {db_clusters}   reopen (load {n} items into the replica): {t_reopen:.2f} s")
    print(f"store size: {size / n:.0f} bytes/item with text; {(size - article_bytes) / n:.0f} bytes/item without "
          f"the compressed articles ({article_bytes / n:.0f} bytes/item)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
