"""Main-text extraction benchmark: newsdedup.extract vs trafilatura on the same pages.

Datasets (read from ``$NEWSDEDUP_DATA``, default ``../shared/data`` relative to the repo root):

* ``scrapinghub_aeb``: 181 pages with a gold ``articleBody``. Scored like the
  scrapinghub/article-extraction-benchmark: token 4-gram shingles of predicted vs gold text,
  per-page precision / recall / F1 from the shingle multiset overlap, averaged over pages.
* ``trafilatura_eval``: 990 pages with ``with`` snippets (must be in the output) and ``without``
  snippets (must not be). A ``with`` found is a TP, missing a FN; a ``without`` found is a FP,
  absent a TN; precision / recall / F1 over all snippets (as that repository scores it).

Only extraction is timed: pages are loaded into memory first and both tools get the same input
(``str`` for scrapinghub, whose pages are UTF-8; raw ``bytes`` for trafilatura_eval, whose pages
come in several encodings).

Usage::

    .venv/bin/python benchmarks/extraction.py [--dataset scrapinghub|trafilatura|all] [--limit N] [--repeat R]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import re
import sys
import tarfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Page:
    id: str
    url: str | None
    html: str | bytes
    gold: Any


@dataclass(frozen=True, slots=True)
class Result:
    tool: str
    precision: float
    recall: float
    f1: float
    seconds: float
    pages: int

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else float("inf")


def data_dir() -> Path:
    return Path(os.environ.get("NEWSDEDUP_DATA", str(REPO.parent / "shared" / "data")))


# --------------------------------------------------------------------------- scoring


def shingles(text: str, n: int = 4) -> Counter[str]:
    """Multiset of n-token shingles; a text shorter than n tokens is one shingle."""
    tokens = _TOKEN.findall(text or "")
    count = max(1, len(tokens) - n + 1)
    out: Counter[str] = Counter()
    for i in range(count):
        gram = " ".join(tokens[i : i + n])
        if gram:
            out[gram] += 1
    return out


def shingle_counts(gold: str, pred: str) -> tuple[float, float, float]:
    """Per-page (tp, fp, fn) over shingle multisets, normalised to sum to 1 so every page weighs the same."""
    g = shingles(gold)
    p = shingles(pred)
    tp = sum((g & p).values())
    fp = sum(p.values()) - tp
    fn = sum(g.values()) - tp
    total = tp + fp + fn
    if total == 0:
        return 0.0, 0.0, 0.0
    return tp / total, fp / total, fn / total


def page_precision(tp: float, fp: float, fn: float) -> float | None:
    """None when the page has no predicted shingles (it then does not enter the precision mean)."""
    if tp + fp == 0:
        return 1.0 if fn == 0 else None
    return tp / (tp + fp)


def page_recall(tp: float, fp: float, fn: float) -> float | None:
    if tp + fn == 0:
        return 1.0 if fp == 0 else None
    return tp / (tp + fn)


def averaged_prf(counts: Sequence[tuple[float, float, float]]) -> tuple[float, float, float]:
    """Mean per-page precision and recall, and F1 as their harmonic mean (the benchmark's method)."""
    ps = [v for v in (page_precision(*c) for c in counts) if v is not None]
    rs = [v for v in (page_recall(*c) for c in counts) if v is not None]
    precision = sum(ps) / len(ps) if ps else 0.0
    recall = sum(rs) / len(rs) if rs else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def shingle_prf(gold: str, pred: str) -> tuple[float, float, float]:
    """Precision, recall and F1 of a single page (for listing the worst pages)."""
    tp, fp, fn = shingle_counts(gold, pred)
    p = page_precision(tp, fp, fn) or 0.0
    r = page_recall(tp, fp, fn) or 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def snippet_counts(text: str, with_: Sequence[str], without: Sequence[str]) -> tuple[int, int, int, int]:
    """(tp, fn, fp, tn) for one trafilatura_eval page: plain substring tests."""
    tp = sum(1 for s in with_ if s in text)
    fp = sum(1 for s in without if s in text)
    return tp, len(with_) - tp, fp, len(without) - fp


# --------------------------------------------------------------------------- loading


def load_scrapinghub(root: Path, limit: int | None) -> list[Page]:
    base = root / "scrapinghub_aeb"
    truth = json.loads((base / "ground-truth.json").read_text("utf-8"))
    pages = []
    for page_id in sorted(truth)[:limit]:
        raw = gzip.decompress((base / "html" / f"{page_id}.html.gz").read_bytes())
        entry = truth[page_id]
        pages.append(
            Page(page_id, entry.get("url"), raw.decode("utf-8", "replace"), entry.get("articleBody") or "")
        )
    return pages


def load_trafilatura(root: Path, limit: int | None) -> list[Page]:
    base = root / "trafilatura_eval"
    with gzip.open(base / "evaldata.json.gz", "rt", encoding="utf-8") as fh:
        evaldata = json.load(fh)
    by_name: dict[str, str] = {}
    for url, entry in evaldata.items():
        by_name[entry["file"]] = url
    wanted = dict(sorted(by_name.items())[:limit]) if limit else by_name
    blobs: dict[str, bytes] = {}
    with tarfile.open(base / "html.tar.xz", "r:xz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = member.name.rsplit("/", 1)[-1]
            if name in wanted and name not in blobs:
                fh = tar.extractfile(member)
                if fh is not None:
                    blobs[name] = fh.read()
    pages = []
    for name, url in sorted(wanted.items()):
        if name in blobs:
            entry = evaldata[url]
            pages.append(Page(name, url, blobs[name], (entry.get("with") or [], entry.get("without") or [])))
    return pages


# --------------------------------------------------------------------------- tools


def newsdedup_tool() -> Callable[[str | bytes, str | None], str]:
    from newsdedup import extract

    def run(html: str | bytes, url: str | None) -> str:
        return extract(html, url).text

    return run


def trafilatura_tool() -> Callable[[str | bytes, str | None], str]:
    import trafilatura

    def run(html: str | bytes, url: str | None) -> str:
        return trafilatura.extract(html, url=url, output_format="txt") or ""

    return run


def run_tool(run: Callable[[str | bytes, str | None], str], pages: Sequence[Page]) -> tuple[list[str], float]:
    # Collect the garbage the previous round left (either tool's) before the clock starts: in one
    # process, pending cyclic garbage from one tool's round otherwise slows the next round of the
    # other tool through the collector (measured: newsdedup on scrapinghub 109 pages/s right after
    # a trafilatura pass, 155 pages/s after gc.collect()).
    gc.collect()
    outputs: list[str] = []
    start = time.perf_counter()
    for page in pages:
        outputs.append(run(page.html, page.url))
    return outputs, time.perf_counter() - start


def score_scrapinghub(tool: str, pages: Sequence[Page], outputs: Sequence[str], seconds: float) -> Result:
    counts = [shingle_counts(p.gold, out) for p, out in zip(pages, outputs, strict=True)]
    precision, recall, f1 = averaged_prf(counts)
    return Result(tool, precision, recall, f1, seconds, len(pages))


def score_trafilatura(tool: str, pages: Sequence[Page], outputs: Sequence[str], seconds: float) -> Result:
    tp = fn = fp = 0
    for page, out in zip(pages, outputs, strict=True):
        with_, without = page.gold
        a, b, c, _ = snippet_counts(out, with_, without)
        tp, fn, fp = tp + a, fn + b, fp + c
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Result(tool, precision, recall, f1, seconds, len(pages))


def worst_pages(pages: Sequence[Page], outputs: Sequence[str], k: int) -> list[tuple[float, str, str]]:
    rows = []
    for page, out in zip(pages, outputs, strict=True):
        p, r, f = shingle_prf(page.gold, out)
        rows.append((f, page.id[:16], f"P={p:.2f} R={r:.2f} {page.url}"))
    return sorted(rows)[:k]


def print_table(name: str, results: Sequence[Result]) -> None:
    print(f"\n## {name} ({results[0].pages} pages)\n")
    print("| tool | precision | recall | F1 | pages/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in results:
        print(f"| {r.tool} | {r.precision:.3f} | {r.recall:.3f} | {r.f1:.4f} | {r.pages_per_second:.1f} |")
    if len(results) == 2 and results[1].f1 > 0:
        a, b = results
        print(
            f"\nratio newsdedup/trafilatura: F1 {a.f1 / b.f1:.3f}, "
            f"speed {a.pages_per_second / b.pages_per_second:.1f}x"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["scrapinghub", "trafilatura", "all"], default="all")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages of each set")
    parser.add_argument("--tools", default="newsdedup,trafilatura", help="comma-separated subset")
    parser.add_argument("--worst", type=int, default=0, help="list the N worst scrapinghub pages")
    parser.add_argument(
        "--repeat", type=int, default=3, help="timing rounds, tools alternating; the fastest round counts"
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    root = data_dir()
    if not root.is_dir():
        print(f"data folder not found: {root} (set NEWSDEDUP_DATA)", file=sys.stderr)
        return 2
    factories = {"newsdedup": newsdedup_tool, "trafilatura": trafilatura_tool}
    tools = [(name, factories[name]()) for name in args.tools.split(",") if name]
    sets = ["scrapinghub", "trafilatura"] if args.dataset == "all" else [args.dataset]
    for name in sets:
        pages = (
            load_scrapinghub(root, args.limit)
            if name == "scrapinghub"
            else load_trafilatura(root, args.limit)
        )
        scorer = score_scrapinghub if name == "scrapinghub" else score_trafilatura
        for _, run in tools:
            run(pages[0].html, pages[0].url)  # warm-up: imports and caches outside the timing
        outputs: dict[str, list[str]] = {}
        best: dict[str, float] = {}
        # Rounds alternate between tools so a load spike on this shared machine hits both alike;
        # the fastest round of each tool is reported (as timeit does).
        for _ in range(max(1, args.repeat)):
            for tool, run in tools:
                out, seconds = run_tool(run, pages)
                outputs.setdefault(tool, out)
                best[tool] = min(best.get(tool, float("inf")), seconds)
        results = [scorer(tool, pages, outputs[tool], best[tool]) for tool, _ in tools]
        if args.worst and name == "scrapinghub" and "newsdedup" in outputs:
            for f, pid, info in worst_pages(pages, outputs["newsdedup"], args.worst):
                print(f"  worst F1={f:.3f} {pid} {info}")
        print_table(name, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
