"""Fingerprinting speed: tokens, shingles and signatures per document, against datasketch and rensa.

Usage::

    .venv/bin/python benchmarks/fingerprint.py [--docs 5000] [--repeat 3]

Documents are Reuters-21578 bodies (``$NEWSDEDUP_DATA/reuters21578``, about 130 words each),
normalised once outside the timed region. Timed, best of ``--repeat`` rounds, in microseconds
per document:

* ``newsdedup batch``: :class:`BatchShingler` tokens + word 5-shingles for the whole batch as
  byte arrays, then :class:`OnePermSigner` (128 slots) -- the engine's path;
* ``newsdedup per-text``: the regex tokenizer, :class:`WordShingler` and the k-permutation
  :class:`MinHashSigner` (128 permutations), one text at a time -- the reference path;
* ``datasketch``: ``MinHash.bulk`` over the same word 5-shingles (as UTF-8 bytes), 128 permutations;
* ``rensa``: ``RMinHash.from_token_sets`` over the same shingles (as strings), 128 permutations.

The baselines get their shingles from Python (the regex tokenizer, then joined 5-word
strings), inside the timed region: that is part of their cost in any pipeline that uses them;
the time of that step alone is printed too. Also printed: the estimator error of the one-permutation
signatures against exact Jaccard on perturbed copies of the same documents.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from newsdedup._fingerprint import (
    BatchShingler,
    MinHashSigner,
    OnePermSigner,
    WordShingler,
    estimate_jaccard,
    exact_jaccard,
)
from newsdedup._normalize import normalize_text, tokenize

ROOT = Path(__file__).resolve().parent.parent


def load(data: Path, n: int) -> list[str]:
    texts = []
    with gzip.open(data / "reuters21578" / "reuters21578.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            body = json.loads(line).get("body") or ""
            if len(body.split()) >= 20:
                texts.append(normalize_text(body))
            if len(texts) >= n:
                break
    return texts


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--data", default=os.environ.get("NEWSDEDUP_DATA") or str(ROOT.parent / "shared" / "data")
    )
    args = parser.parse_args(argv)
    if not (Path(args.data) / "reuters21578").is_dir():
        print(f"missing {args.data}/reuters21578; set NEWSDEDUP_DATA", file=sys.stderr)
        return 2
    norms = load(Path(args.data), args.docs)
    n = len(norms)
    words = sum(len(t.split()) for t in norms) / n

    batch, oph = BatchShingler(5), OnePermSigner(128)
    single, kperm = WordShingler(5), MinHashSigner(128)

    def newsdedup_batch() -> None:
        sb = batch.shingles(batch.tokens(norms))
        oph.sign_flat(sb.hashes, sb.offsets)

    def newsdedup_tokens() -> None:
        batch.tokens(norms)

    def per_text() -> None:
        kperm.sign_many([single.shingles(tokenize(t)) for t in norms])

    def regex_tokens() -> None:
        for t in norms:
            tokenize(t)

    def shingle_strings() -> list[list[str]]:
        out = []
        for t in norms:
            toks = tokenize(t)
            out.append([" ".join(toks[i : i + 5]) for i in range(max(1, len(toks) - 4))])
        return out

    rows: list[tuple[str, float]] = [
        ("newsdedup batch (tokens + shingles + one-permutation)", best(newsdedup_batch, args.repeat)),
        ("  of which batch tokens", best(newsdedup_tokens, args.repeat)),
        ("newsdedup per-text (regex + k-permutation)", best(per_text, args.repeat)),
        ("  regex tokenizer alone", best(regex_tokens, args.repeat)),
    ]
    try:
        from datasketch import MinHash

        def ds() -> None:
            encoded = [[s.encode("utf-8") for s in sh] for sh in shingle_strings()]
            MinHash.bulk(encoded, num_perm=128)

        rows.append(("datasketch MinHash.bulk", best(ds, args.repeat)))
    except ImportError:
        pass
    try:
        from rensa import RMinHash

        def rs() -> None:
            RMinHash.from_token_sets(shingle_strings(), num_perm=128, seed=42)

        rows.append(("rensa RMinHash.from_token_sets", best(rs, args.repeat)))
    except (ImportError, AttributeError):
        pass
    rows.append(
        ("  Python tokens + shingle strings (the baselines' input)", best(shingle_strings, args.repeat))
    )

    print(f"{n} Reuters-21578 documents, {words:.0f} words on average, CPU time, best of {args.repeat}")
    ours = rows[0][1]
    for name, seconds in rows:
        per_doc = seconds / n * 1e6
        ratio = "" if name.startswith("  ") else f"   {seconds / ours:6.1f}x the batch path's time"
        print(f"{name:55s} {per_doc:8.1f} us/doc{ratio}")

    rng = random.Random(1)
    errors = []
    for t in norms[:2000]:
        a = t.split()
        if len(a) < 30:
            continue
        b = list(a)
        for _ in range(rng.randint(0, len(a) // 5)):
            b[rng.randrange(len(b))] = f"zz{rng.randrange(10**6)}"
        if rng.random() < 0.3:
            b = b[: int(len(b) * rng.uniform(0.3, 1.0))]
        sb = batch.shingles(batch.tokens([" ".join(a), " ".join(b)]))
        sig = oph.sign_flat(sb.hashes, sb.offsets)
        errors.append(estimate_jaccard(sig[0], sig[1]) - exact_jaccard(sb.shingle_set(0), sb.shingle_set(1)))
    err = np.array(errors)
    print(
        f"one-permutation estimate - exact Jaccard over {len(err)} perturbed pairs: mean {err.mean():+.4f}, "
        f"mean absolute {np.abs(err).mean():.4f}, sd {err.std():.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
