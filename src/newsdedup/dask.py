"""Scale-out deduplication on Dask (the ``dask`` extra): same clusters as the local engine.

:func:`dedup_bag`, :func:`dedup_dataframe` and :func:`dedup_files` take items spread over Dask
partitions and return the same partition into clusters, with the same canonical items and
texts, as ``Deduplicator().add_many(items)`` over the items in partition order (with
``max_verify`` each item's hub list is computed before verification, and only the pairs in the
final hub relation -- the pairs the local engine clusters on -- are listed and verified). What
runs where:

1. **Prepare** (one Dask task per input partition, kept in worker memory with ``persist``):
   records -> clean articles (HTML extraction, the expensive part) -> each text's normal form
   and LSH band keys (what the local engine's preparing workers send once their caches are
   full); no verification doc is kept (see :class:`_Row`). Unusable items become
   :class:`~newsdedup.ErrorRecord` s exactly as in the local engine. On a ``distributed``
   cluster a partition whose task kills its worker (a page that crashes the HTML parser, an
   abort, the out-of-memory killer) is prepared again one item per task, and an item that
   kills a worker again is an ``extract-crashed`` error in its place, as with ``--jobs``
   (:func:`_isolating`). A task whose current batch of 256 items has run longer than
   ``extract_timeout`` (a page that hangs the parser) is stopped with its worker and handled
   the same way; the item that overruns alone is an ``extract-timeout`` error.
2. **Ids** (client): a small summary per item (id, text hash, line) is gathered; the first
   occurrence of an id in input order wins, a later one with another text is a
   ``duplicate-id`` error, with the same text it is ignored (``already-seen``).
3. **Candidates** (Dask shuffle): every eligible item emits one ``(bucket, item)`` row per LSH
   band (whole-text and lead index; 16 bytes a row, 24 with ``max_verify``: the item's rank),
   routed by bucket hash to ``groups`` tasks that sort their rows. Without ``max_verify`` they
   pair the members of every bucket holding two or more items (``m(m-1)/2`` pairs for a bucket
   of ``m``). With ``max_verify = K`` no bucket's pairs are listed: each member is paired only
   with the bucket's ``K + 1`` lowest-ranked members (:func:`newsdedup._hubs._bucket_lows`), which is enough to
   find every item's ``K`` lowest-ranked candidates; a group task keeps those per item
   (:func:`_hub_rows`), tasks merge them into hub lists (:func:`_merge_ranks`; the client
   receives 24 bytes per item and hub), and the client lists the pairs of the final hub
   relation from them (:class:`_Relation`): at most ``K`` per item.
4. **Verification** (Dask tasks): the client orders the pairs by connected component and cuts
   them into equal runs, at least four tasks per worker thread (:func:`_bins`); each partition
   sends the id, text and normal form of the items a task's pairs name to that task
   (:func:`_route`), which rebuilds their docs a window of pairs at a time
   (:func:`_docs_of`) and verifies its pairs with :meth:`Deduplicator.verify`. Only the accepted
   pairs (two item positions each) come back to the client. With ``settle_after``, in two rounds:
   the client finds the settled items from the first round's edges.
5. **Partition** (client): from the ids, shingle counts and accepted edges only (a few dozen
   bytes per item, no texts), the same chaining-resistant partition as the local engine.
6. **Site boilerplate** (Dask shuffle): every partition emits ``(site, paragraph, cluster)``
   rows, routed by ``(site, paragraph)`` to tasks that count the clusters each paragraph of a
   site is printed under; the pairs at ``site_repeat_min`` or more come back (a few per site).
7. **Clusters** (Dask tasks): single-item clusters are built in their own partition; members of
   bigger clusters (the article) are routed by cluster number to tasks that
   rebuild their shingle sets and make the canonical choice and the output cluster
   (:func:`newsdedup._cluster.build_cluster`, the local engine's code). Only the clusters come
   back to the client, which sorts them by id.

``window`` and ``store`` are not supported here (they make matching depend on arrival order and
on state outside the run): passing them raises :class:`ConfigError`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import logging
import math
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from ._arrays import in_sorted, sorted_unique, unique_inverse, unique_rows
from ._cluster import (
    _component_labels,
    build_cluster,
    partition_pairs,
    repeat_rows,
    repeated_keys,
    repeats_from,
    size_priority,
    stored_paras,
)
from ._dedup import DedupConfig, Deduplicator, ErrorRecord, _lost, _one_alphabet
from ._exceptions import ConfigError, InputError, MissingDependency
from ._hubs import _MAX_RANK, _lowest, _runs, _within, hub_rows, item_rank, kept_pairs, ranks_of, settled
from ._models import Article, Cluster
from ._records import _GZIP_MAGIC, _UTF8_BOM, Record, RecordError, junk_page_reason, parse_line, to_article
from ._verify import Doc

__all__ = ["DaskResult", "dedup_bag", "dedup_dataframe", "dedup_files", "local_cluster", "run_cli"]

logger = logging.getLogger("newsdedup")

DEFAULT_BLOCKSIZE = 16 * 1024 * 1024
"""Bytes of an uncompressed JSONL file read by one prepare task."""

_JUNK_MESSAGE = "a bot challenge, consent/paywall wall or error page, not an article"
_MAIN, _LEAD = 0, 1


def _require_dask() -> Any:
    try:
        import dask
        import dask.delayed
    except ImportError as exc:
        raise MissingDependency(f'the Dask engine needs dask: pip install "newsdedup[dask]" ({exc})') from exc
    return dask


# --------------------------------------------------------------------------------------------
# Data passed between tasks


@dataclass(frozen=True, slots=True)
class _Chunk:
    """Raw items of one input partition. ``lines``: lines (or records) of the file the chunk
    covers, to number the next chunk of the same file; ``failure``: why reading stopped early."""

    items: list[Any]
    file: str | None = None
    """The ``file`` of error records (the input name when there are several inputs)."""
    source: str | None = None
    """Which input the chunk is of (``"<input number>:<path>"``; None: a bag partition):
    consecutive chunks of one input continue its line numbers."""
    from_file: bool = False
    lines: int = 0
    failure: str | None = None


@dataclass(slots=True)
class _Row:
    """A usable item of a prepared partition. It keeps no verification doc: a doc is about
    three times the size of the article (token ids, spans and shingles), and partitions stay
    in worker memory for the whole run. The verification tasks rebuild the docs of the items
    their pairs name from the text and its stored normal form, which the partition sends
    them (:func:`_route`, :func:`_docs_of`), as the local engine rebuilds docs from its spill
    file."""

    seq: int
    line: int | None
    relative: bool
    article: Article
    text_hash: str
    norm: str | None = None
    """The text's normal form (None: too short to match)."""
    shingles: int = 0
    """How many shingles the text has (0: too short to match)."""
    keys: tuple[bytes, bytes] | None = None
    """Whole-text and lead band keys as uint32 bytes (lead ``b""`` without a lead index);
    None: too short to match. Bytes, not lists of ints: about 0.3 KB an item instead of 2.7."""


@dataclass(slots=True)
class _Part:
    """A prepared input partition (lives on a worker)."""

    index: int
    items: int
    lines: int
    from_file: bool
    failure: str | None
    file: str | None
    source: str | None
    rows: list[_Row]
    errors: list[tuple[int, bool, ErrorRecord]]
    """(seq, line is relative, error) in item order."""
    nbytes: int = -1
    """Its size for dask, once :func:`_part_nbytes` has counted it (-1: not yet)."""


def _part_nbytes(part: _Part) -> int:
    """Roughly the bytes a prepared partition holds: texts and arrays, plus a few hundred bytes
    of objects per item. Registered as its ``dask.sizeof``: the fallback, ``sys.getsizeof``,
    counts about a hundred bytes for a whole partition, so the scheduler saw nothing to gain
    from running a task where its partitions already were."""
    if part.nbytes >= 0:
        return part.nbytes
    total = 200 * len(part.errors)
    for row in part.rows:
        article = row.article
        total += 600 + len(article.text) + len(article.title) + len(article.url or "") + len(row.norm or "")
        if row.keys is not None:
            total += len(row.keys[0]) + len(row.keys[1])
    part.nbytes = total  # dask asks again each time it stores or sends the partition
    return total


def _register_sizeof() -> None:
    """Tell dask how big a prepared partition is (in the client and in every worker, each of
    which imports this module to run its tasks); nothing without dask installed."""
    try:
        from dask.sizeof import sizeof
    except ImportError:
        return
    sizeof.register(_Part)(_part_nbytes)


@dataclass(frozen=True, slots=True)
class _Summary:
    index: int
    items: int
    lines: int
    from_file: bool
    failure: str | None
    file: str | None
    source: str | None
    rows: list[tuple[int, str, str, int | None, bool, int]]
    """(seq, id, text hash, line, relative, shingle count: 0 when too short) of every usable
    item."""
    errors: list[tuple[int, bool, ErrorRecord]]


@dataclass(frozen=True, slots=True)
class DaskResult:
    """What :func:`dedup_files` produced: clusters, unusable items, and whether an input could
    not be read to its end (``failure``; inputs after it were not used, as in the local CLI)."""

    clusters: list[Cluster]
    errors: list[ErrorRecord]
    items: int
    """Usable items (each in exactly one cluster)."""
    failure: str | None = None
    stats: dict[str, float] = dataclasses.field(default_factory=dict)
    """Sizes and phase timings of the run, for capacity planning: ``bucket_rows`` (one per
    item and band), ``bucket_pairs`` (``m(m-1)/2`` per bucket of ``m``: a pair once per
    bucket it shares, counted from the bucket sizes), ``listed_rows`` (rows the candidate
    step materialised: the bucket pairs without ``max_verify``, at most ``K + 1`` per bucket
    row with it), ``candidate_pairs`` (without ``max_verify`` the distinct candidate pairs
    summed over bucket groups, a pair once per group that proposes it; with it they are not
    listed, and this is ``bucket_pairs``, an upper bound), ``hub_rows`` and ``hub_pairs``
    (``max_verify``: each item's lowest-ranked candidates kept per group, and the hub
    relation's distinct pairs, both rounds' -- summed over bucket groups until the thirty-third
    session; 0 without), ``verified_pairs``, ``verify_tasks``,
    ``doc_rebuilds`` (verification docs the tasks rebuilt from texts: an item once per task
    that verifies a pair of it), ``edges``, ``clusters`` and the seconds of each phase."""


# --------------------------------------------------------------------------------------------
# Worker side


@functools.lru_cache(maxsize=4)
def _deduper(config: DedupConfig) -> Deduplicator:
    """One stateless deduplicator per config and worker process (only ``fingerprint`` and
    ``verify`` are used, neither reads or changes state)."""
    return Deduplicator(config=config)


def _text_hash(text: str) -> str:
    return xxhash.xxh3_128_hexdigest(text.encode("utf-8"))


def _frame_items(frame: Any) -> list[dict[str, Any]]:
    """A pandas partition as record dicts; missing cells (None, NaN, NaT) are left out, as a
    JSONL line would leave the field out, and timestamps become datetimes."""
    import pandas as pd

    out: list[dict[str, Any]] = []
    for row in frame.to_dict("records"):
        item: dict[str, Any] = {}
        for key, value in row.items():
            if value is None or (not isinstance(value, str | bytes) and bool(pd.isna(value))):
                continue
            if isinstance(value, pd.Timestamp):
                value = value.to_pydatetime()
            item[str(key)] = value
        out.append(item)
    return out


def _bag_chunk(items: Any) -> _Chunk:
    if not isinstance(items, list):
        items = _frame_items(items) if hasattr(items, "to_dict") else list(items)
    return _Chunk(items)


def _read_block(name: str, start: int, end: int, file: str | None, source: str) -> _Chunk:
    """The JSONL lines that *start* in bytes ``[start, end)`` of an uncompressed file, parsed;
    line numbers are relative to the block (fixed on the client)."""
    items: list[Any] = []
    number = 0
    failure = None
    try:
        with open(name, "rb") as fh:
            if start > 0:
                fh.seek(start - 1)
                if fh.read(1) != b"\n":
                    fh.readline()  # the rest of a line that started in the previous block
            elif fh.peek(len(_UTF8_BOM))[: len(_UTF8_BOM)] == _UTF8_BOM:
                fh.read(len(_UTF8_BOM))  # a byte order mark opening the file, as the local reader drops it
            while fh.tell() < end:
                raw = fh.readline()
                if not raw:
                    break
                number += 1
                if not raw.strip():
                    continue
                try:
                    items.append(parse_line(raw, line=number))
                except RecordError as exc:
                    items.append(exc)
    except OSError as exc:
        failure = f"cannot read {name}: after line {number} of a block: {exc.strerror or exc}"
    return _Chunk(items, file=file, source=source, from_file=True, lines=number, failure=failure)


def _read_whole(name: str, fmt: str, file: str | None, source: str) -> _Chunk:
    """A compressed JSONL, WARC or Parquet file in one task, with the local engine's reader."""
    from ._io import read_records

    items: list[Any] = []
    failure = None
    try:
        items.extend(read_records(name, format=fmt))
    except InputError as exc:
        failure = str(exc)
    return _Chunk(items, file=file, source=source, from_file=True, lines=0, failure=failure)


def _prepare(
    chunk: _Chunk, index: int, config: DedupConfig, first: int = 0, topic: str | None = None
) -> _Part:
    """Records -> articles -> docs and band keys, with the local engine's per-item rules.
    ``first``: the position of the chunk's first item in its partition (a partition prepared
    item by item, :func:`_isolating`, gives each task a chunk of one item). ``topic``: on a
    ``distributed`` worker, say on this event topic when each batch of :data:`_BATCH` items
    starts (:func:`_batch_started`), so that a hang is told from a big partition."""
    deduper = _deduper(config)
    started = _batch_started(topic) if topic is not None else None
    rows: list[_Row] = []
    errors: list[tuple[int, bool, ErrorRecord]] = []
    for start in range(0, len(chunk.items), _BATCH):
        if started is not None:
            started()
        batch: list[_Row] = []
        for seq, item in enumerate(chunk.items[start : start + _BATCH], start=first + start):
            if isinstance(item, RecordError):
                rec = ErrorRecord(
                    line=item.line, id=item.id, reason=item.reason, message=str(item), file=chunk.file
                )
                errors.append((seq, chunk.from_file, rec))
                continue
            # a file's records carry block-relative lines; a bag item is numbered by its position
            # unless it is a Record with its own line (as ``add_many(first_line=...)`` does)
            line: int | None
            if isinstance(item, Record) and item.line is not None:
                line, relative = item.line, chunk.from_file
            else:
                line, relative = seq, True
            try:
                article = to_article(item)
            except RecordError as exc:
                rec = ErrorRecord(
                    line=exc.line or line, id=exc.id, reason=exc.reason, message=str(exc), file=chunk.file
                )
                errors.append((seq, relative, rec))
                continue
            assert article.id is not None
            junk = junk_page_reason(article) if config.reject_junk_pages else None
            if junk is not None:
                rec = ErrorRecord(
                    line=line, id=article.id, reason=junk, message=_JUNK_MESSAGE, file=chunk.file
                )
                errors.append((seq, relative, rec))
                continue
            batch.append(_Row(seq, line, relative, article, _text_hash(article.text)))
        if batch:
            _add_keys(deduper, batch)
        rows.extend(batch)
    return _Part(
        index,
        len(chunk.items),
        chunk.lines,
        chunk.from_file,
        chunk.failure,
        chunk.file,
        chunk.source,
        rows,
        errors,
    )


def _add_keys(deduper: Deduplicator, batch: list[_Row]) -> None:
    """Each matchable row's normal form, shingle count and band keys (the local engine's
    :meth:`Deduplicator._sizes`, what its preparing workers send once their caches are full)."""
    sizes, main, lead = deduper._sizes([r.article for r in batch])
    main32 = main.astype(np.uint32)
    lead32 = lead.astype(np.uint32) if lead is not None else None
    for i, (row, size) in enumerate(zip(batch, sizes, strict=True)):
        if size is not None:
            row.norm, row.shingles = size
            row.keys = (main32[i].tobytes(), lead32[i].tobytes() if lead32 is not None else b"")


_REBUILD_BATCH = 2048
"""Docs or shingle sets a worker rebuilds from texts in one batch."""


def _docs_of(
    deduper: Deduplicator, keys: Sequence[str], texts: Sequence[str], norms: Sequence[str | None]
) -> list[Doc]:
    """The verification docs of matchable items (distinct ids), rebuilt from their texts and
    stored normal forms as the local engine rebuilds spilled items (:meth:`Deduplicator._rebuild`,
    in batches of :data:`_REBUILD_BATCH`, nothing cached)."""
    docs: list[Doc] = []
    for start in range(0, len(keys), _REBUILD_BATCH):
        end = start + _REBUILD_BATCH
        chunk = keys[start:end]
        found = deduper._rebuild(
            dict(zip(chunk, texts[start:end], strict=True)),
            cache=False,
            norms=dict(zip(chunk, norms[start:end], strict=True)),
        )
        docs.extend(map(found.__getitem__, chunk))
    return docs


_BATCH = 256
"""Items a prepare task extracts and fingerprints at a time: the local engine's batch, which
``extract_timeout`` bounds there too."""

_STARTED = "newsdedup-prepare-batch"
"""The prefix of the scheduler event topic under which a timed prepare task logs its key and
worker as each batch starts (one topic per run: :class:`_Isolation`)."""


def _ignore(event: Any) -> None:
    """The handler left on a finished run's topic (see :meth:`_Isolation.run`)."""


def _forget_topic(topic: str, dask_scheduler: Any = None) -> None:
    """Run on the scheduler: drop a finished run's event topic (the scheduler keeps every topic
    it saw, with up to 1,000 events each, for as long as it runs). A private structure of
    ``distributed``: where it is not as expected, the topic stays."""
    topics = getattr(getattr(dask_scheduler, "_broker", None), "_topics", None)
    if isinstance(topics, dict):
        topics.pop(topic, None)


def _batch_started(topic: str) -> Callable[[], None] | None:
    """What a prepare task calls as each batch starts, on a ``distributed`` worker: an event
    ``(task key, worker address)`` on ``topic``, which the client running the step receives
    and times the batch from (:meth:`_Isolation.on_started`, :func:`_running`); None elsewhere."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        worker = distributed.get_worker()
        key = str(worker.get_current_task())
    except (ValueError, KeyError):  # not in a worker's task
        return None
    where = str(worker.address)
    return lambda: worker.log_event(topic, [key, where])


def _crash_error(
    chunk: _Chunk, seq: int, timed_out: bool = False, limit: float = 0.0
) -> tuple[int, bool, ErrorRecord]:
    """The ``extract-crashed`` (``timed_out``: ``extract-timeout``, over ``limit`` seconds) error
    in place of item ``seq`` of a partition, which killed (or held) the worker preparing it: the
    local engine's record, with the line :func:`_prepare` would give the item."""
    item = chunk.items[seq]
    rec = _lost(item, chunk.file, timed_out=timed_out, limit=limit).errors[0]
    if isinstance(item, RecordError | Record) and item.line is not None:
        line, relative = item.line, chunk.from_file
    else:
        line, relative = seq, True
    return seq, relative, dataclasses.replace(rec, line=line)


def _join(
    pieces: Sequence[_Part],
    index: int,
    chunk: _Chunk,
    items: int,
    crashed: Sequence[tuple[int, bool, ErrorRecord]],
) -> _Part:
    """A partition prepared item by item (``pieces``, one item each, and the errors of the
    items that killed their worker), as :func:`_prepare` gives it in one task. ``chunk``: the
    partition's chunk without its items. ``pieces`` come first for :func:`_flat_call`."""
    rows = sorted((r for p in pieces for r in p.rows), key=lambda r: r.seq)
    errors = sorted([*(e for p in pieces for e in p.errors), *crashed], key=lambda e: e[0])
    return _Part(
        index, items, chunk.lines, chunk.from_file, chunk.failure, chunk.file, chunk.source, rows, errors
    )


def _summary(part: _Part) -> _Summary:
    rows = [(r.seq, r.article.id or "", r.text_hash, r.line, r.relative, r.shingles) for r in part.rows]
    return _Summary(
        part.index,
        part.items,
        part.lines,
        part.from_file,
        part.failure,
        part.file,
        part.source,
        rows,
        part.errors,
    )


_GROUP_ROWS = 8_000_000
"""Bucket rows a candidate group task is sized for (24 bytes each with ``max_verify``)."""


def _groups_for(items: int, config: DedupConfig, threads: int) -> int:
    """How many bucket groups the candidate shuffle of ``items`` matchable items uses: as few as
    keep each group near :data:`_GROUP_ROWS` bucket rows, and two per thread at least.

    With ``max_verify = K`` each group keeps up to K candidates per item, so the hub rows
    (persisted until the pairs are listed, and merged into hub lists) grow with the groups
    times the items: at 400k items, 22 groups (about twice the square root of the
    partitions, as they were chosen before) kept 62M rows, 155 per item."""
    bands = config.bands()[0] + (config.lead_bands()[0] if config.lead_tokens else 0)
    return max(2 * max(1, threads), -(-items * bands // _GROUP_ROWS))


def _mix(codes: np.ndarray) -> np.ndarray:
    """A well-spread 64-bit hash of bucket codes (routing must not follow band order)."""
    x = codes * np.uint64(0x9E3779B97F4A7C15)
    return x ^ (x >> np.uint64(29))


def _bucket_rows(
    part: _Part, keep: frozenset[int] | None, groups: int, ranked: bool = False
) -> tuple[tuple[np.ndarray, ...], ...]:
    """``(bucket code, item position)`` rows of the kept eligible items, split by bucket group;
    ``ranked`` (``max_verify``) adds each item's :func:`item_rank` as a third column, computed
    here from the id so that bucket groups need no client-side rank table.

    A code is ``index kind << 47 | band << 32 | 32-bit key``: two items are candidates iff
    they share a code. A position is ``partition << 32 | seq``."""
    chunks_c: list[np.ndarray] = []
    chunks_q: list[np.ndarray] = []
    chunks_r: list[np.ndarray] = []
    rows = [r for r in part.rows if r.keys is not None and (keep is None or r.seq in keep)]
    seqs = np.asarray([r.seq for r in rows], dtype=np.int64) | np.int64(part.index << 32)
    ids = (item_rank(r.article.id or "") for r in rows) if ranked else iter(())
    ranks = np.fromiter(ids, dtype=np.uint64, count=len(rows) if ranked else 0)
    for kind in (_MAIN, _LEAD):
        keys = [r.keys[kind] for r in rows if r.keys is not None]
        if not keys or not keys[0]:
            continue
        table = np.frombuffer(b"".join(keys), dtype=np.uint32).reshape(len(keys), -1).astype(np.uint64)
        bands = np.arange(table.shape[1], dtype=np.uint64) << np.uint64(32)
        chunks_c.append((table | bands[None, :] | np.uint64(kind << 47)).ravel())
        chunks_q.append(np.repeat(seqs, table.shape[1]))
        if ranked:
            chunks_r.append(np.repeat(ranks, table.shape[1]))
    c = np.concatenate(chunks_c) if chunks_c else np.empty(0, dtype=np.uint64)
    q = np.concatenate(chunks_q) if chunks_q else np.empty(0, dtype=np.int64)
    r = np.concatenate(chunks_r) if chunks_r else np.empty(0, dtype=np.uint64)
    group = (_mix(c) % np.uint64(groups)).astype(np.int64) if len(c) else np.empty(0, dtype=np.int64)
    order = np.argsort(group, kind="stable")
    cols = (c[order], q[order], r[order]) if ranked else (c[order], q[order])
    bounds = np.searchsorted(group[order], np.arange(groups + 1)).tolist()
    return tuple(tuple(x[bounds[g] : bounds[g + 1]] for x in cols) for g in range(groups))


def _columns(pieces: Sequence[tuple[np.ndarray, ...]], dtypes: Sequence[Any]) -> list[np.ndarray]:
    """The bucket rows one group got from every partition, column by column."""
    return [
        np.concatenate([p[k] for p in pieces]) if pieces else np.empty(0, dtype=dtype)
        for k, dtype in enumerate(dtypes)
    ]


_Counts = dict[str, int]
"""Row counts of one bucket group (summed into :attr:`DaskResult.stats`)."""


def _pairs(pieces: Sequence[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, _Counts]:
    """Without ``max_verify``: every candidate pair of one bucket group as distinct rows of item
    positions ``(a, b)``, ``a < b`` (a bucket of ``m`` items lists ``m(m-1)/2`` rows)."""
    codes, pos = _columns(pieces, (np.uint64, np.int64))
    order = np.lexsort((pos, codes))
    codes, pos = codes[order], pos[order]
    starts, sizes = _runs(codes)
    i, j = _within(starts, sizes)
    counts = {"bucket_rows": len(codes), "bucket_pairs": len(i), "listed_rows": len(i)}
    # a bucket's members are in position order, so pos[i] < pos[j]
    return unique_rows(np.stack([pos[i], pos[j]], axis=1))[0], counts


_Hubs = tuple[np.ndarray, _Counts]
"""One bucket group's hub rows ``(item, candidate rank, candidate)`` and counts."""


def _hub_rows(pieces: Sequence[tuple[np.ndarray, ...]], limit: int) -> _Hubs:
    """With ``max_verify = limit``: per item of one bucket group, its ``limit`` lowest-ranked
    candidates there, as :func:`newsdedup._hubs.hub_rows` gives them."""
    codes, pos, rank = _columns(pieces, (np.uint64, np.int64, np.uint64))
    return hub_rows(codes, pos, rank, limit)


def _hub_counts(hubs: _Hubs) -> _Counts:
    return hubs[1]


def _hub_ranks(hubs: _Hubs, bounds: np.ndarray) -> tuple[np.ndarray, ...]:
    """What is merged into hub lists: one group's ``(item, rank, candidate)`` rows, cut into the
    ranges of item positions that ``bounds`` (sorted) separate, one per merging task."""
    rows = hubs[0]
    cuts = [0, *np.searchsorted(rows[0], bounds).tolist(), rows.shape[1]]
    return tuple(rows[:, a:b].copy() for a, b in itertools.pairwise(cuts))


def _merge_ranks(rows: Sequence[np.ndarray], limit: int) -> np.ndarray:
    """The groups' ``(item, rank, candidate)`` rows merged into hub lists: each item keeps the
    rows of its ``limit`` lowest ranks. Keeping the lowest ranks of a union is the same as
    keeping those of the kept ones, so merged rows can be merged again."""
    if not rows:
        return np.empty((3, 0), dtype=np.uint64)
    return _lowest(np.concatenate(list(rows), axis=1), limit)


@dataclass(slots=True)
class _Relation:
    """The hub relation as the client holds it once the hub lists are merged: the ranked items
    (sorted positions, ids, :func:`item_rank`), each one's ``K``-th and ``settle_after``-th hub
    rank (the highest uint64 where its list is not that long), and the rows of every hub list as
    node numbers (item, candidate) with the candidate's rank."""

    pos: np.ndarray
    names: list[str]
    rank: np.ndarray
    kth: np.ndarray
    settle: np.ndarray | None
    item: np.ndarray
    cand: np.ndarray
    cand_rank: np.ndarray

    @classmethod
    def of(cls, merged: np.ndarray, ids: dict[int, str], limit: int, settle_after: int | None) -> _Relation:
        """From the merged ``(item, rank, candidate)`` rows (sorted; candidates that share a rank
        are rows of their own) and the ranked items' ids by position."""
        pos = np.array(sorted(ids), dtype=np.int64)
        names = [ids[p] for p in pos.tolist()]
        item = np.searchsorted(pos, merged[0].astype(np.int64))
        cand = np.searchsorted(pos, merged[2].astype(np.int64))
        cand_rank = merged[1]
        # the lists' lengths and bounds count distinct ranks, as the hub lists do
        distinct = (
            np.r_[True, (item[1:] != item[:-1]) | (cand_rank[1:] != cand_rank[:-1])] if len(item) else item
        )
        at, ranks = item[distinct], cand_rank[distinct]
        count = np.bincount(at, minlength=len(pos))
        ends = np.cumsum(count)
        kth = np.full(len(pos), _MAX_RANK, dtype=np.uint64)  # a list that is not full: no bound
        full = count == limit
        kth[full] = ranks[ends[full] - 1]
        settle = None
        if settle_after is not None:
            settle = np.full(len(pos), _MAX_RANK, dtype=np.uint64)
            longer = count > settle_after
            settle[longer] = ranks[(ends - count)[longer] + settle_after - 1]
        return cls(pos, names, ranks_of(names), kth, settle, item, cand, cand_rank)

    def first(self) -> np.ndarray:
        """Per row, whether it is among its item's first hubs (all rows without ``settle_after``)."""
        if self.settle is None:
            return np.ones(len(self.item), dtype=bool)
        return self.cand_rank <= self.settle[self.item]

    def codes(self, rows: np.ndarray) -> np.ndarray:
        """The distinct pairs of the rows selected by ``rows`` (a mask), each as one sorted
        int64 code ``low * n + high`` of node numbers."""
        a, b = self.item[rows], self.cand[rows]
        n = np.int64(len(self.pos))
        return sorted_unique(np.minimum(a, b) * n + np.maximum(a, b), in_place=True)

    def nodes(self, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of item positions (of ranked items) as the node numbers of their two ends."""
        return np.searchsorted(self.pos, pairs[:, 0]), np.searchsorted(self.pos, pairs[:, 1])

    def positions(self, codes: np.ndarray) -> np.ndarray:
        """Pair codes as rows of item positions."""
        n = np.int64(len(self.pos))
        return np.stack([self.pos[codes // n], self.pos[codes % n]], axis=1)


_BIN_ITEMS = 100_000
"""About the most items whose texts one verification task receives (it gets no fewer than four
tasks per worker thread): the texts of 100,000 items are about 250 MB in a worker's memory on the
speed corpus, and a task rebuilds their docs a window of pairs at a time."""

_WINDOW = 8192
"""Pairs a verification task verifies with one batch of rebuilt docs (pairs of one connected
component are consecutive, so a window holds whole stories: about 2,000-4,000 docs)."""


def _bins(pairs: np.ndarray, threads: int, max_items: int = _BIN_ITEMS) -> list[np.ndarray]:
    """Pairs of item positions cut into the verification tasks' shares: ordered by connected
    component, then cut into equal runs, so a component (a story and its look-alikes) goes to
    one task, except the few cut at a run's end, and each item's text goes to one task."""
    nodes, inverse = unique_inverse(pairs.ravel())
    ends = inverse.reshape(-1, 2)
    label = _component_labels(len(nodes), ends[:, 0], ends[:, 1])
    pairs = pairs[np.argsort(label[ends[:, 0]], kind="stable")]
    n = max(1, min(len(pairs), max(4 * max(1, threads), -(-len(nodes) // max(1, max_items)))))
    cuts = ((np.arange(n + 1, dtype=np.int64) * len(pairs)) // n).tolist()
    return [pairs[a:b] for a, b in itertools.pairwise(cuts)]


def _routes(bins: Sequence[np.ndarray]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per input partition (by index), the items of it some task's pairs name: their sequence
    numbers and the task (bin) each goes to (an item named in two bins, twice)."""
    named = [sorted_unique(b.ravel()) for b in bins]
    where = np.concatenate(named) if named else np.empty(0, dtype=np.int64)
    which = np.repeat(np.arange(len(named), dtype=np.int32), [len(x) for x in named])
    order = np.argsort(where, kind="stable")
    where, which = where[order], which[order]
    part = where >> np.int64(32)
    starts = np.flatnonzero(np.r_[True, part[1:] != part[:-1]]) if len(part) else part
    return {
        int(part[s]): (where[s:e] & np.int64(0xFFFFFFFF), which[s:e])
        for s, e in itertools.pairwise([*starts.tolist(), len(part)])
    }


_Texts = tuple[np.ndarray, list[str], list[str], list[str | None]]
"""Items routed to one verification task: positions, ids, texts and normal forms."""


def _route(part: _Part, table: tuple[np.ndarray, np.ndarray], n: int) -> tuple[_Texts, ...]:
    """One partition's named items, cut into what each of the ``n`` verification tasks gets:
    only the id, text and normal form travel (a whole prepared partition, articles and band
    keys, had gone to every task of its tile, and stayed on every worker that ran one)."""
    seqs, which = table
    rows = {r.seq: r for r in part.rows}
    out: list[tuple[list[int], list[str], list[str], list[str | None]]] = [([], [], [], []) for _ in range(n)]
    base = part.index << 32
    for seq, k in zip(seqs.tolist(), which.tolist(), strict=True):
        row = rows[seq]
        pos, keys, texts, norms = out[k]
        pos.append(base | seq)
        keys.append(row.article.id or "")
        texts.append(row.article.text)
        norms.append(row.norm)
    return tuple((np.array(p, dtype=np.int64), k, t, m) for p, k, t, m in out)


_Verified = tuple[np.ndarray, int, int]
"""The accepted pairs of a task (rows of item positions), how many pairs it verified, and how
many docs it rebuilt. Positions, not ids and verdicts: the client reads nothing else of an
edge, and at 1M items 3.2M edges as tuples of two ids and a verdict were pickled on the
workers and unpickled on the client between the rounds."""


def _verify_bin(texts: Sequence[_Texts], pairs: np.ndarray, config: DedupConfig) -> _Verified:
    """Verify one task's pairs (rows of item positions, ordered by component) with the texts
    routed to it, a window of pairs at a time: the window's docs are rebuilt in one batch and
    aligned in one alphabet, as the local engine verifies a unit of pairs."""
    deduper = _deduper(config)
    pos = np.concatenate([t[0] for t in texts]) if texts else np.empty(0, dtype=np.int64)
    keys = [k for t in texts for k in t[1]]
    bodies = [x for t in texts for x in t[2]]
    norms = [m for t in texts for m in t[3]]
    order = np.argsort(pos)
    pos = pos[order]
    slots = order.tolist()
    accepted: list[int] = []
    rebuilt = 0
    for start in range(0, len(pairs), _WINDOW):
        window = pairs[start : start + _WINDOW]
        named = sorted_unique(window.ravel())
        at = [slots[i] for i in np.searchsorted(pos, named).tolist()]
        docs = dict(
            zip(
                named.tolist(),
                _docs_of(deduper, [keys[i] for i in at], [bodies[i] for i in at], [norms[i] for i in at]),
                strict=True,
            )
        )
        rebuilt += len(at)
        with _one_alphabet(docs.values()):
            for n, (x, y) in enumerate(window.tolist(), start):
                if deduper.verify(docs[x], docs[y]).accepted:
                    accepted.append(n)
    return pairs[np.array(accepted, dtype=np.int64)].reshape(-1, 2), len(pairs), rebuilt


def _shared(value: Any, opts: dict[str, Any]) -> Any:
    """``value`` for the tasks of a step, sent from this process once: on a ``distributed``
    cluster scattered to a worker (the others fetch it from there, once each), else one key of
    the graph. Put in the graph as data, it went through the scheduler in the graph itself (the
    hub step's tables of K-th ranks made a 69 MiB graph at 200k items, and a warning)."""
    return _shared_each([value], opts)[0]  # in a list: a tuple is not cut up


class _Whole:
    """A value scattered as one pickle, which the worker unpickles as the value itself.
    ``Client.scatter`` walks a dict or list it is given item by item: 72 dicts of 2,800 ints
    took 5.7 s, wrapped 0.03 s (*ad hoc*), and at 1M items the cluster step's numbers are a
    million entries."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __reduce__(self) -> tuple[Callable[[Any], Any], tuple[Any]]:
        return _same, (self.value,)


def _same(value: Any) -> Any:
    return value


def _shared_each(values: Sequence[Any], opts: dict[str, Any], near: Sequence[Any] | None = None) -> list[Any]:
    """:func:`_shared` for several values, each its own key. ``near``: per value, a persisted
    partition whose worker should hold it (a partition's cluster numbers, a partition's routing
    table): a worker fetching a value from a worker whose thread is computing waits for that
    thread's GIL, 0.5-1.8 s a fetch in the cluster step of a 200k run (*ad hoc*, the task
    stream), though the values are small."""
    client = _client(opts.get("scheduler"))
    if client is None or not values:
        return [_require_dask().delayed(v, pure=True) for v in values]
    if near is None:
        return list(client.scatter([_Whole(v) for v in values], hash=False))
    from distributed import futures_of

    found = [futures_of(x) for x in near]
    holders = client.who_has([f[0] for f in found if f])
    by_worker: dict[str | None, list[int]] = {}
    for n, f in enumerate(found):
        where = holders.get(f[0].key) if f else None
        by_worker.setdefault(where[0] if where else None, []).append(n)
    out: list[Any] = [None] * len(values)
    for worker, at in by_worker.items():
        sent = client.scatter(
            [_Whole(values[n]) for n in at], hash=False, workers=None if worker is None else [worker]
        )
        for n, future in zip(at, sent, strict=True):
            out[n] = future
    return out


def _flat_call(func: Callable[..., Any], lists: Sequence[Sequence[Any]], *rest: Any) -> Any:
    """``delayed(func)(*lists, *rest)`` with the lists' delayed items passed one by one.

    Dask finalises a list of delayed arguments by optimising the graph of all of them and then
    culling it once per item: quadratic in the list's length (a list of one piece per
    partition, at thousands of partitions). Passed one by one, each is only a key."""
    dask = _require_dask()
    sizes = tuple(len(x) for x in lists)
    return dask.delayed(_regrouped)(func, sizes, *(item for x in lists for item in x), *rest)


def _regrouped(func: Callable[..., Any], sizes: tuple[int, ...], *args: Any) -> Any:
    """On the worker: ``func`` called with ``args`` cut back into lists (see :func:`_flat_call`)."""
    lists: list[Any] = []
    at = 0
    for n in sizes:
        lists.append(list(args[at : at + n]))
        at += n
    return func(*lists, *args[at:])


def _verify_pairs(
    config: DedupConfig, parts: list[Any], pairs: np.ndarray, threads: int, opts: dict[str, Any]
) -> tuple[np.ndarray, int, int, int]:
    """Verify ``pairs`` (distinct rows of item positions) on the workers: the pairs cut into
    tasks by connected component (:func:`_bins`), and each partition's named items routed to
    the tasks that name them (:func:`_route`); the accepted pairs (rows of item positions),
    how many pairs were verified, how many tasks did it, and how many docs they rebuilt.

    Tiles of partitions, the step's earlier shape, sent whole partitions to every task of
    their tile pairs and rebuilt an item's doc in each of them (4.3 times per item at 1M)."""
    if not len(pairs):
        return np.empty((0, 2), dtype=np.int64), 0, 0, 0
    dask = _require_dask()
    delayed = dask.delayed
    bins = _bins(pairs, threads)
    routes = _routes(bins)
    held = sorted(routes)
    sent = _shared_each(bins, opts)
    tables = dict(
        zip(held, _shared_each([routes[p] for p in held], opts, [parts[p] for p in held]), strict=True)
    )
    routed = {p: delayed(_route, nout=len(bins), pure=True)(parts[p], tables[p], len(bins)) for p in held}
    holders: dict[int, list[int]] = {}
    for p in held:
        for k in np.unique(routes[p][1]).tolist():
            holders.setdefault(k, []).append(p)
    tasks = [
        _flat_call(_verify_bin, ([routed[p][k] for p in holders.get(k, [])],), sent[k], config)
        for k in range(len(bins))
    ]
    results: Sequence[_Verified] = dask.compute(*tasks, **opts)
    edges = np.concatenate([r[0] for r in results]) if results else np.empty((0, 2), dtype=np.int64)
    return edges, sum(r[1] for r in results), len(tasks), sum(r[2] for r in results)


def _kept_rows(part: _Part, keep: frozenset[int] | None) -> list[_Row]:
    return [r for r in part.rows if keep is None or r.seq in keep]


def _repeat_rows(
    part: _Part, keep: frozenset[int] | None, assign: dict[int, int], singles: int, shards: int
) -> tuple[np.ndarray, ...]:
    """Site-boilerplate rows (:func:`repeat_rows`) of a partition's kept items, split by
    ``(site, paragraph)`` into ``shards``: every row of one pair lands in one shard. A member
    of a cluster of two or more carries the cluster's number; a single item a number of its
    own (``singles`` + its global position, above every cluster number)."""
    members = [
        (r.article.site, stored_paras(r.article), assign.get(r.seq, singles + ((part.index << 32) | r.seq)))
        for r in _kept_rows(part, keep)
    ]
    rows = repeat_rows(members)
    shard = (_mix(rows[:, 0] ^ _mix(rows[:, 1])) % np.uint64(shards)).astype(np.int64)
    return tuple(rows[shard == k] for k in range(shards))


def _repeat_keys(pieces: Sequence[np.ndarray], min_clusters: int) -> np.ndarray:
    """Rows of one shard from every partition: a cluster spread over several partitions sent
    its row from each, so they are made unique before counting."""
    rows = unique_rows(np.concatenate(pieces))[0] if pieces else np.empty((0, 3), dtype=np.uint64)
    return repeated_keys(rows, min_clusters)


_Member = tuple[Article, bool]
"""A member of a bigger cluster as sent to its shard: the article, and whether its text is long
enough to match (the shard rebuilds the shingle set of such a text from the text alone: its
normal form, about as many bytes as the text, costs more to send than to compute again)."""


def _member_rows(
    part: _Part,
    keep: frozenset[int] | None,
    assign: dict[int, int],
    shards: int,
    keys: np.ndarray,
    ingested: float,
    config: DedupConfig,
) -> tuple[list[Cluster], tuple[dict[str, _Member], ...]]:
    """A partition's single-item clusters, built here, and the members of bigger clusters
    (:data:`_Member`) split by cluster number into ``shards``."""
    repeated = repeats_from(keys)
    singles: list[Cluster] = []
    out: tuple[dict[str, _Member], ...] = tuple({} for _ in range(shards))
    empty = np.empty(0, dtype=np.uint64)
    for row in _kept_rows(part, keep):
        key = row.article.id or ""
        number = assign.get(row.seq)
        if number is None:
            singles.append(
                build_cluster(
                    [key], {key: row.article}, lambda _: empty, lambda _: ingested, repeated, config
                )
            )
        else:
            out[number % shards][key] = (row.article, row.norm is not None)
    return singles, out


def _build_clusters(
    pieces: Sequence[dict[str, _Member]],
    groups: list[list[str]],
    keys: np.ndarray,
    ingested: float,
    config: DedupConfig,
) -> list[Cluster]:
    """The clusters of two or more members whose numbers fall in one shard."""
    repeated = repeats_from(keys)
    members: dict[str, _Member] = {}
    for piece in pieces:
        members.update(piece)
    articles = {k: m[0] for k, m in members.items()}
    # the shingle sets the canonical choice compares, rebuilt here (the partitions keep no docs)
    deduper = _deduper(config)
    matchable = [k for k, m in members.items() if m[1]]
    shingles: dict[str, np.ndarray] = {}
    for start in range(0, len(matchable), _REBUILD_BATCH):
        chunk = matchable[start : start + _REBUILD_BATCH]
        shingles.update(deduper._shingle_sets({k: articles[k].text for k in chunk}))
    empty = np.empty(0, dtype=np.uint64)
    return [
        build_cluster(ids, articles, lambda i: shingles.get(i, empty), lambda _: ingested, repeated, config)
        for ids in groups
    ]


# --------------------------------------------------------------------------------------------
# Client side


def _config(
    config: DedupConfig | None, settings: dict[str, Any], extract_timeout: float = 120.0
) -> tuple[DedupConfig, float]:
    """The run's config and ``extract_timeout``, checked as ``Deduplicator`` checks them."""
    for name in ("window", "store", "state"):
        if settings.get(name) is not None:
            raise ConfigError(
                f"the Dask engine does not support {name}= (matching would depend on arrival order "
                "or on state outside the run); use the local engine"
            )
        settings.pop(name, None)
    deduper = Deduplicator(config=config, extract_timeout=extract_timeout, **settings)
    return deduper.config, deduper.extract_timeout


def _resolve_ids(
    summaries: list[_Summary], first_line: int | None
) -> tuple[list[frozenset[int] | None], list[ErrorRecord], int, str | None, int]:
    """First occurrence of an id wins (input order = partition order, then item order).

    Returns per-partition kept seqs (None: every usable item; empty for partitions past a read
    failure), the errors in input order with absolute line numbers, the number of kept items,
    the first read failure and how many partitions are used (those up to the failing one, as
    the local CLI stops reading at a failing file)."""
    seen: dict[str, str] = {}
    errors: list[ErrorRecord] = []
    keeps: list[frozenset[int] | None] = []
    kept = 0
    failure: str | None = None
    used = len(summaries)
    file_lines: dict[str, int] = {}
    items_before = 0
    for s in summaries:
        if failure is not None:
            keeps.append(frozenset())
            continue
        if s.source is not None:  # file partitions number lines 1.. within their block
            base: int | None = file_lines.get(s.source, 0)
            file_lines[s.source] = (base or 0) + s.lines
        else:  # bag items are numbered 0.. within their partition
            base = first_line + items_before if first_line is not None else None
        items_before += s.items

        def fix(line: int | None, relative: bool, base: int | None = base) -> int | None:
            if line is None or not relative:
                return line
            return None if base is None else base + line

        events: list[tuple[int, int, Any]] = [(seq, 0, (rel, rec)) for seq, rel, rec in s.errors]
        events.extend((r[0], 1, r) for r in s.rows)
        events.sort(key=lambda e: (e[0], e[1]))
        drop: set[int] = set()
        for _, kind, payload in events:
            if kind == 0:
                relative, rec = payload
                errors.append(dataclasses.replace(rec, line=fix(rec.line, relative)))
                continue
            seq, item_id, text_hash, line, relative, _ = payload
            known = seen.get(item_id)
            if known is None:
                seen[item_id] = text_hash
                kept += 1
                continue
            drop.add(seq)
            if known != text_hash:
                errors.append(
                    ErrorRecord(
                        line=fix(line, relative),
                        id=item_id,
                        reason="duplicate-id",
                        message="id already added with a different text; first one kept",
                        file=s.file,
                    )
                )
        keeps.append(frozenset(r[0] for r in s.rows if r[0] not in drop) if drop else None)
        if s.failure is not None:
            failure = s.failure
            used = s.index + 1
    return keeps, errors, kept, failure, used


def _client(scheduler: Any) -> Any:
    """The ``distributed`` client ``dask.compute(scheduler=scheduler)`` would run on, else None
    (a local scheduler: a worker that dies there is this process)."""
    distributed = sys.modules.get("distributed")
    if distributed is None:  # not imported: there is no client
        return None
    from dask.base import get_scheduler

    owner = getattr(get_scheduler(scheduler=scheduler), "__self__", None)
    return owner if isinstance(owner, distributed.Client) else None


def _allowed_failures(value: int, dask_scheduler: Any = None) -> int:
    """Set the scheduler's ``allowed_failures`` (how many workers may die running a task before
    it fails with ``KilledWorker``); returns the previous value. Run on the scheduler."""
    old = int(dask_scheduler.allowed_failures)
    dask_scheduler.allowed_failures = value
    return old


def _running(
    keys: list[Any], started: dict[str, tuple[float, str]], dask_scheduler: Any = None
) -> dict[Any, tuple[str, float | None, float]]:
    """Run on the scheduler: for each of ``keys`` a worker is running, ``(worker address,
    seconds since the task's current batch started (None: not known to have started: it may
    wait behind another task on that worker), seconds since the scheduler last heard from the
    worker)``.
    A batch's start is the latest batch event of the task on the worker now running it
    (``started``: key -> (time, worker), as the client received them; an event from an earlier
    try on another worker does not count), else the task's start as the worker's last
    heartbeat reported it (a task waiting in the worker's queue has none). Times are the
    scheduler's clock."""
    from distributed.metrics import time as clock

    now = clock()
    out: dict[Any, tuple[str, float | None, float]] = {}
    for key in keys:
        ts = dask_scheduler.tasks.get(key)
        ws = ts.processing_on if ts is not None and ts.state == "processing" else None
        if ws is None:
            continue
        event = started.get(str(key))
        running = ws.executing.get(ts)
        begun = [
            t
            for t in (
                event[0] if event is not None and event[1] == ws.address else None,
                None if running is None else ws.last_seen - running,
            )
            if t is not None
        ]
        out[key] = (ws.address, None if not begun else now - max(begun), now - ws.last_seen)
    return out


def _overruns(
    running: dict[Any, tuple[str, float | None, float]], limit: float
) -> dict[Any, tuple[str, str]]:
    """The tasks of :func:`_running`'s answer to stop, with their worker and why: the current
    batch ran longer than ``limit`` seconds, or the worker has not been heard from for
    ``limit`` and :data:`_SILENT` more (a task not known to have started counts then too: its
    worker may be frozen since before it could say so)."""
    out: dict[Any, tuple[str, str]] = {}
    for key, (address, ran, silent) in running.items():
        if ran is not None and ran > limit:
            out[key] = address, f"ran over {limit:g} s"
        elif silent > limit + _SILENT:
            out[key] = address, f"ran while its worker was not heard from for {silent:.0f} s"
    return out


async def _stop_workers(addresses: list[str], dask_scheduler: Any = None) -> None:
    """Run on the scheduler: kill the worker processes at ``addresses`` through their nannies,
    which start them again, as ``Client.restart_workers`` does but without its seconds of
    waiting for a graceful close (a worker whose thread is stuck in a page does not close);
    a worker without a nanny is removed and closed, as ``restart_workers`` does."""
    import asyncio

    async def stop(address: str) -> None:
        ws = dask_scheduler.workers.get(address)
        if ws is None:  # gone already
            return
        if ws.nanny:
            try:
                await dask_scheduler.rpc(ws.nanny).kill(timeout=_KILL, reason="newsdedup-extract-timeout")
                return
            except (OSError, TimeoutError) as exc:  # the nanny is gone or did not answer: let it go
                logger.warning("dask dedup: could not stop the worker %s: %s", address, exc)
        await dask_scheduler.remove_worker(address, stimulus_id=f"newsdedup-extract-timeout-{time.time()}")

    await asyncio.gather(*(stop(a) for a in addresses))


_LOST_WORKER = "1 day"
"""``distributed.deploy.lost-worker-timeout`` while ``run_cli`` runs on a local cluster of its own
(distributed's default, 15 s, races with the deaths of the isolation: see :func:`run_cli`)."""

_KILL = 1.0
"""Seconds a nanny gives a worker stopped for an overrun to close before it kills it (most of
it waiting for a graceful close, which a worker whose thread is stuck does not manage)."""


def _fresh(chunk: Any) -> Any:
    """The delayed chunk under new keys: read again, whatever became of the first read."""
    from dask.core import get_dependencies
    from dask.delayed import Delayed
    from dask.graph_manipulation import clone

    copy = clone(chunk, seed=os.urandom(16).hex())
    graph = dict(copy.__dask_graph__())
    # the clone of a partition of a bag still names the bag's original partition (the
    # installed dask renames the partition, not the reference to it), which the scheduler
    # forgets once the task that used it is cancelled (a hang, see _Isolation.stop): that
    # task goes along, so the scheduler can compute it again
    original = dict(chunk.__dask_graph__())

    def needs(dsk: dict[Any, Any], key: Any) -> set[Any]:
        deps = getattr(dsk[key], "dependencies", None)  # a task spec names them, a tuple does not
        return set(deps) if deps is not None else get_dependencies(dsk, key)

    todo = [d for k in graph for d in needs(graph, k) if d not in graph]
    while todo:
        key = todo.pop()
        if key not in graph and key in original:
            graph[key] = original[key]
            todo.extend(needs(original, key))
    return Delayed(copy.key, graph)


_Unit = tuple[int, int | None]
"""What one prepare task covers: ``(partition, None)``, the whole partition, or ``(partition,
position)``, one item of a partition prepared item by item."""


_Death = tuple[str, int]
"""How a worker death failed a task: the dead worker's address and the scheduler's
``allowed_failures`` (0: the task failed on the first death of a worker holding it)."""

_RETRIES = 2
"""How many times a task that had finished is run again after a worker death failed it while
it was being recomputed (its worker held its result), before it is suspected itself."""

_LONELY = 120
"""Seconds without any worker, once a page killed one, after which the Dask engine gives up."""

_SILENT = 10.0
"""Seconds, on top of ``extract_timeout``, that a worker running a prepare task may go unheard
(no heartbeat: a page holds the GIL in C code, as a regular expression that backtracks does)
before the task is taken for a hang."""

_SETTLE = 0.25
"""Seconds to let a restarted worker settle before work is sent to it again: distributed's nanny
does not restart a worker that dies right after it started, before the nanny knows it is up
(dask/distributed#7312), and a worker lost that way leaves the cluster smaller, or with no
worker at all."""


class _Isolation:
    """The prepared partitions (persisted) on a ``distributed`` cluster, where a page can kill
    the worker preparing it (a parser crash, an abort, the out-of-memory killer).

    Without a worker death this is ``dask.persist`` of one task per partition. A task that
    fails with ``KilledWorker`` may not be the one that killed: a worker that dies takes with
    it every task it holds, and the scheduler counts the death against each of them. It is
    the culprit when it is the only task of this step that failed, or, when the scheduler
    fails a task on its first death (``allowed-failures`` 0), the only one that failed with
    its worker; tasks left unclear are run again no more at a time than the cluster has
    threads, then each alone. A partition that killed is prepared again one item per task
    (the same way); an item that killed is an ``extract-crashed`` error in its place, as in
    the local engine. A task that had finished and was killed while being recomputed (its
    worker held its result) is only run again (:data:`_RETRIES`). After a death, work is sent
    once the cluster has its workers back (:data:`_SETTLE`).

    A page that hangs the parser is a death too: a task whose current batch of :data:`_BATCH`
    items (one item, for a task of one item) has run longer than ``limit`` seconds
    (``extract_timeout``; timed from the scheduler's view of the task, :func:`_running`, so a
    task waiting for a thread does not count) is cancelled and its worker restarted through its
    nanny (:meth:`stop`); the other tasks that worker held are only run again. An item whose
    own task overruns is an ``extract-timeout`` error in its place."""

    def __init__(
        self, client: Any, chunks: list[Any], config: DedupConfig, opts: dict[str, Any], limit: float
    ) -> None:
        self.client = client
        self.limit = limit
        self.poll = min(5.0, max(0.1, limit / 4))  # seconds between looks at the running tasks
        # the batch events come to this client as they are logged: the scheduler keeps only
        # the last 1,000 of a topic, fewer than a big cluster's tasks log between two looks
        self.topic = f"{_STARTED}-{uuid.uuid4().hex}"
        self.started: dict[str, tuple[float, str]] = {}  # task key -> its latest batch event
        self.keys: dict[Any, _Unit] = {}  # the unit of each submitted task's key
        self.hung: dict[_Unit, str] = {}  # units whose task overran, and the worker stopped for it
        self.stopped: set[str] = set()  # addresses of the workers stopped for an overrun
        self.chunks = chunks
        self.config = config
        self.opts = opts
        self.dask = _require_dask()
        self.workers = max(1, len(client.nthreads()))  # how many to wait for after a death
        self.live: dict[_Unit, Any] = {}  # each unit's persisted task, the latest submitted
        self.finished: set[_Unit] = set()  # units whose task was seen finished
        self.tries: Counter[_Unit] = Counter()  # how many times each unit's task was submitted
        self.dead: set[str] = set()  # addresses of the workers that died
        self.split: dict[int, _Chunk] = {}  # partitions prepared item by item: their chunk without items
        self.items: dict[int, list[Any]] = {}  # the items of the partitions prepared item by item
        self.crashed: dict[int, list[tuple[int, bool, ErrorRecord]]] = {}  # their extract-crashed errors

    def task(self, unit: _Unit, again: bool) -> Any:
        """The unit's delayed prepare task (``again``: the partition read again, under new keys)."""
        delayed = self.dask.delayed
        i, seq = unit
        if seq is None:
            return delayed(_prepare, pure=False)(
                _fresh(self.chunks[i]) if again else self.chunks[i], i, self.config, 0, self.topic
            )
        one = dataclasses.replace(self.split[i], items=[self.items[i][seq]])
        return delayed(_prepare, pure=False)(one, i, self.config, seq, self.topic)

    def on_started(self, event: tuple[float, Any]) -> None:
        """A prepare task's batch event ``(time, [key, worker])``: kept if it is the task's latest."""
        stamp, (key, where) = event
        if stamp >= self.started.get(key, (float("-inf"), ""))[0]:
            self.started[key] = (float(stamp), str(where))

    def submit(self, units: Sequence[_Unit], again: bool = False) -> list[Any]:
        """Persists the units' tasks (each a try more); their futures."""
        from distributed import futures_of

        self.tries.update(units)
        if not units:
            return []
        for unit in units:
            self.hung.pop(unit, None)
        self.live.update(
            zip(units, self.dask.persist(*[self.task(u, again) for u in units], **self.opts), strict=True)
        )
        futures = [futures_of(self.live[u])[0] for u in units]
        self.keys.update((f.key, u) for f, u in zip(futures, units, strict=True))
        return futures

    def died(self, unit: _Unit, future: Any) -> _Death | None:
        """How a worker death failed the unit's task; None when it finished or is running again
        (its result was lost with a worker since: "lost", then "pending"). Any other error is
        raised, as ``dask.compute`` raises it."""
        from distributed.scheduler import KilledWorker

        status = future.status
        if status == "finished":
            self.finished.add(unit)
        if status in ("finished", "pending", "lost"):
            return None
        if status == "cancelled" and unit in self.hung:  # cancelled by stop(): it overran
            del self.live[unit]
            return self.hung[unit], 0
        if status != "error":
            raise RuntimeError(f"dask dedup: task {future.key!r} is {status}")
        error = future.exception()
        if not isinstance(error, KilledWorker):
            future.result()  # raises the task's error with its traceback, as dask.compute does
            raise error
        del self.live[unit]
        self.dead.add(str(error.last_worker.address))
        return str(error.last_worker.address), int(error.allowed_failures)

    def ended(self, futures: Sequence[Any], first: bool = False) -> None:
        """Waits until every future (``first``: one of them) has ended. Once a worker died,
        raises when the cluster has had no worker for :data:`_LONELY` seconds."""
        from distributed import wait
        from distributed.client import FuturesCancelledError

        since: float | None = None
        while True:
            live = [f for f in futures if not f.cancelled()]  # cancelled: stopped by watch()
            if not live or (first and len(live) < len(futures)):
                return
            try:
                with self.client.as_current():
                    wait(live, timeout=self.poll, return_when="FIRST_COMPLETED" if first else "ALL_COMPLETED")
                return
            except FuturesCancelledError:  # watch() stopped one while it ran: look again
                continue
            except TimeoutError:
                self.watch(futures)
                if not self.dead or self.client.nthreads():
                    since = None
                elif since is None:
                    since = time.monotonic()
                elif time.monotonic() - since > _LONELY:
                    raise RuntimeError(
                        f"dask dedup: the cluster has had no worker for {_LONELY} s since pages killed "
                        "workers (distributed's nanny does not restart a worker that dies right after "
                        "it started: dask/distributed#7312)"
                    ) from None

    def watch(self, futures: Sequence[Any]) -> None:
        """Stops the tasks among ``futures`` that overran (:meth:`stop`): their current batch ran
        longer than the limit, or their worker has not been heard from for the limit and
        :data:`_SILENT` more seconds."""
        keys = [f.key for f in futures if f.status == "pending"]
        if not keys:
            return
        over: dict[_Unit, str] = {}
        why: dict[_Unit, str] = {}
        started = {str(k): self.started[str(k)] for k in keys if str(k) in self.started}
        for key, (address, reason) in _overruns(
            self.client.run_on_scheduler(_running, keys, started), self.limit
        ).items():
            unit = self.keys.get(key)
            if unit is not None and unit in self.live:
                over[unit], why[unit] = address, reason
        if over:
            self.stop(over, why)

    def stop(self, over: dict[_Unit, str], why: dict[_Unit, str]) -> None:
        """Cancels the units' tasks (so that the scheduler does not run them again elsewhere)
        and restarts the workers running them (:func:`_stop_workers`): a thread cannot be
        interrupted, so the process goes. The other tasks those workers held die with them
        (:meth:`blame` does not blame them)."""
        from distributed import futures_of

        self.client.cancel([futures_of(self.live[u])[0] for u in over])
        self.hung.update(over)
        addresses = sorted(set(over.values()))
        self.stopped.update(addresses)
        self.dead.update(addresses)
        for (i, seq), address in sorted(over.items(), key=lambda x: (x[0][0], x[0][1] or -1)):
            what = f"partition {i}" if seq is None else f"item {seq} of partition {i}"
            logger.warning(
                "dask dedup: preparing %s %s (extract_timeout; a parser hang?): restarting its worker %s",
                what,
                why[(i, seq)],
                address,
            )
        self.client.run_on_scheduler(_stop_workers, addresses)

    def settle(self) -> None:
        """Waits for the cluster's workers to be back after a death, then :data:`_SETTLE` seconds."""
        try:
            self.client.wait_for_workers(self.workers, timeout=30)
        except TimeoutError:  # fewer came back (or the cluster shrank): go on with those
            logger.warning(
                "dask dedup: the cluster has not got its %d workers back after a death", self.workers
            )
            self.workers = max(1, len(self.client.nthreads()))
        time.sleep(_SETTLE)

    def windowed(self, units: Sequence[_Unit], again: bool) -> dict[_Unit, _Death]:
        """Runs the units' tasks, no more at a time than the cluster has threads (a worker
        then holds one of them); those a worker death failed."""
        window = max(1, sum(self.client.nthreads().values()))
        todo = list(reversed(units))
        running: dict[_Unit, Any] = {}
        out: dict[_Unit, _Death] = {}
        while todo or running:
            while todo and len(running) < window:
                unit = todo.pop()
                (running[unit],) = self.submit([unit], again)
            self.ended(list(running.values()), first=True)
            deaths = 0
            for unit, future in list(running.items()):
                if future.status not in ("pending", "lost"):
                    del running[unit]
                    if (death := self.died(unit, future)) is not None:
                        out[unit], deaths = death, deaths + 1
            if deaths:
                self.settle()
        return out

    def alone(self, unit: _Unit) -> bool:
        """Whether the unit's task, run with no other task of this step, kills its worker."""
        self.settle()
        (future,) = self.submit([unit], again=True)
        self.ended([future])
        return self.died(unit, future) is not None

    def blame(self, killed: dict[_Unit, _Death]) -> tuple[list[_Unit], list[_Unit]]:
        """The units that surely killed their worker, and those left unclear."""
        where = Counter(address for address, _ in killed.values())
        hung = Counter(self.hung[u] for u in killed if u in self.hung)
        sure: list[_Unit] = []
        unclear: list[_Unit] = []
        for unit, (address, allowed) in killed.items():
            if unit in self.hung:  # found running over the limit: it, unless its worker ran another
                one = hung[self.hung[unit]] == 1
            elif address in self.stopped:  # its worker was stopped for another task's overrun
                one = False
            else:
                one = len(killed) == 1 or (allowed == 0 and where[address] == 1)
            (sure if one and unit not in self.finished else unclear).append(unit)
        return sure, unclear

    def isolate(self, killed: dict[_Unit, _Death], ran_windowed: bool = False) -> None:
        """Splits the partitions and skips the items that killed their worker."""
        sure, unclear = self.blame(killed)
        whole = [u for u in unclear if u[1] is None]
        if whole and (ran_windowed or any(killed[u][1] for u in whole)):
            sure += whole  # splitting a partition costs time only; another death costs more
        elif whole:
            self.isolate(self.windowed(whole, again=True), ran_windowed=True)
        sure += [u for u in unclear if u[1] is not None and self.alone(u)]
        parts = [i for i, seq in sure if seq is None]
        if parts:
            logger.warning(
                "dask dedup: the worker preparing %d partition(s) died; preparing them item by item",
                len(parts),
            )
        fresh = self.dask.compute(*[_fresh(self.chunks[i]) for i in parts], **self.opts)
        for i, chunk in zip(parts, fresh, strict=True):
            self.split[i], self.items[i], self.crashed[i] = (
                dataclasses.replace(chunk, items=[]),
                list(chunk.items),
                [],
            )
        for i, seq in sure:
            if seq is None:
                continue
            hung = (i, seq) in self.hung
            chunk = dataclasses.replace(self.split[i], items=self.items[i])
            error = _crash_error(chunk, seq, timed_out=hung, limit=self.limit)
            self.crashed[i].append(error)
            logger.warning(
                "dask dedup: item %s (position %d of partition %d) %s: skipped (%s)",
                error[2].id,
                seq,
                i,
                f"held the worker preparing it over {self.limit:g} s"
                if hung
                else "killed the worker preparing it",
                error[2].reason,
            )
        if parts:
            units = [(i, seq) for i in parts for seq in range(len(self.items[i]))]
            self.isolate(self.windowed(units, again=False), True)

    def run(self) -> list[Any]:
        """Prepares every partition, isolating the pages that kill their worker; the persisted
        prepared partitions, in input order."""
        self.client.subscribe_topic(self.topic, self.on_started)
        try:
            return self._run()
        finally:
            self.client.unsubscribe_topic(self.topic)
            # distributed's unsubscribe_topic tells the scheduler but keeps the handler, which
            # would keep this object (and its partitions) alive as long as the client; a no-op
            # takes its place (an event still in flight would otherwise log a traceback)
            handlers = getattr(self.client, "_event_handlers", None)
            if isinstance(handlers, dict):
                handlers[self.topic] = _ignore
            self.started.clear()
            with contextlib.suppress(Exception):  # only housekeeping: the run's result stands
                self.client.run_on_scheduler(_forget_topic, self.topic)

    def _run(self) -> list[Any]:
        from distributed import futures_of

        self.submit([(i, None) for i in range(len(self.chunks))])
        while True:
            futures = {u: futures_of(d)[0] for u, d in self.live.items()}
            self.ended(list(futures.values()))
            killed = {u: d for u, f in futures.items() if (d := self.died(u, f)) is not None}
            if not killed:
                break
            self.settle()
            # lost with a dead worker and killed while being recomputed: run again as it was
            again = [u for u in killed if u in self.finished and self.tries[u] <= _RETRIES]
            self.submit(again, again=True)
            self.isolate({u: d for u, d in killed.items() if u not in again})

        joined = {
            # the pieces one by one (_flat_call): as a list, dask would cull the graph once per piece
            i: _flat_call(
                _join,
                [[self.live[(i, seq)] for seq in range(len(self.items[i])) if (i, seq) in self.live]],
                i,
                self.split[i],
                len(self.items[i]),
                self.crashed[i],
            )
            for i in self.split
        }
        if joined:
            self.live.update(
                zip(
                    [(i, None) for i in joined], self.dask.persist(*joined.values(), **self.opts), strict=True
                )
            )
        return [self.live[(i, None)] for i in range(len(self.chunks))]


def _isolating(
    client: Any, chunks: list[Any], config: DedupConfig, opts: dict[str, Any], limit: float
) -> list[Any]:
    """The prepared partitions (persisted) on a ``distributed`` cluster (:class:`_Isolation`)."""
    return _Isolation(client, chunks, config, opts, limit).run()


def _prepared(
    chunks: list[Any], config: DedupConfig, opts: dict[str, Any], isolate_at_once: bool, limit: float
) -> list[Any]:
    """Every input partition prepared and persisted; on a ``distributed`` cluster a page that
    kills its worker, or holds it over ``limit`` seconds, costs only its own item
    (:func:`_isolating`; a local scheduler cannot stop a task). ``isolate_at_once``: the
    cluster is the run's own, so its scheduler fails a prepare task on the first worker death
    (``allowed_failures`` 0, restored after this step) instead of retrying it on
    ``allowed-failures`` more workers before the partition is prepared item by item."""
    dask = _require_dask()
    client = _client(opts.get("scheduler"))
    if client is None or not chunks:
        parts = [dask.delayed(_prepare, pure=False)(c, i, config) for i, c in enumerate(chunks)]
        return list(dask.persist(*parts, **opts)) if parts else []
    old = client.run_on_scheduler(_allowed_failures, 0) if isolate_at_once else None
    try:
        return _isolating(client, chunks, config, opts, limit)
    finally:
        if old is not None:
            client.run_on_scheduler(_allowed_failures, old)


def _run(
    chunks: list[Any],
    config: DedupConfig,
    *,
    first_line: int | None,
    groups: int | None,
    scheduler: Any,
    extract_timeout: float,
    isolate_at_once: bool = False,
) -> DaskResult:
    """The whole pipeline over delayed ``_Chunk`` objects, one per input partition."""
    dask = _require_dask()
    delayed = dask.delayed
    # every graph below holds only tasks that are wanted, so the optimizer's cull has nothing to
    # drop; and it is quadratic here: it copies the set of wanted keys once per layer, and each
    # delayed call is a layer (at 200k items the second verification round's graph spent over
    # ten minutes in it on the scheduler, with the workers idle)
    opts: dict[str, Any] = {"optimize_graph": False}
    if scheduler is not None:
        opts["scheduler"] = scheduler
    ingested = time.time()
    t0 = time.perf_counter()
    parts = _prepared(chunks, config, opts, isolate_at_once, extract_timeout)
    summaries = list(dask.compute(*[delayed(_summary)(p) for p in parts], **opts))
    keeps, errors, kept, failure, used = _resolve_ids(summaries, first_line)
    t1 = time.perf_counter()

    live = [i for i in range(len(parts)) if i < used]
    limit = config.max_verify

    # every kept item: its shingle count (cluster priority; 0 when too short) and where it lives
    sizes: dict[str, int] = {}
    where: dict[str, tuple[int, int]] = {}
    for s in summaries[:used]:
        keep = keeps[s.index]
        for seq, item_id, _, _, _, n in s.rows:
            if keep is None or seq in keep:
                sizes[item_id] = n
                where[item_id] = (s.index, seq)
    client = _client(opts.get("scheduler"))
    threads = sum(client.nthreads().values()) if client is not None else os.cpu_count() or 1
    n_groups = groups or _groups_for(sum(1 for n in sizes.values() if n), config, threads)

    ranked = limit is not None
    rows = {
        i: delayed(_bucket_rows, nout=n_groups, pure=True)(parts[i], keeps[i], n_groups, ranked) for i in live
    }
    pieces_of = [[rows[i][g] for i in live] for g in range(n_groups)]
    totals: dict[str, int] = {"bucket_rows": 0, "bucket_pairs": 0, "listed_rows": 0, "hub_rows": 0}
    relation: _Relation | None = None
    names: list[str] = []
    if limit is None:  # every candidate pair is verified: list them all
        found = dask.compute(*[_flat_call(_pairs, (p,)) for p in pieces_of], **opts)
        for _, counts in found:
            for key, n in counts.items():
                totals[key] += n
        n_pairs = sum(len(p) for p, _ in found)  # a pair once per bucket group that proposes it
        listed = [p for p, _ in found if len(p)]
        first = unique_rows(np.concatenate(listed))[0] if listed else np.empty((0, 2), dtype=np.int64)
        del found, listed
        n_hub_pairs = 0
    else:
        # with max_verify = K: every item's hub list (the K lowest ranks among its candidates,
        # the same list the local engine ends with) before verification, from each bucket's
        # K + 1 lowest-ranked members only (no bucket's pairs are listed); the pairs verified
        # are those of the final hub relation -- those the local engine clusters on
        hub_groups = [_flat_call(_hub_rows, (p,), limit) for p in pieces_of]
        hub_groups = list(dask.persist(*hub_groups, **opts)) if hub_groups else []
        # the groups' (item, rank, candidate) rows merged into hub lists by tasks on the
        # workers, each for a range of partitions, so this process receives the K lowest rows
        # per item instead of K per item and group (at 200k items its peak fell from 1.36 to
        # 0.79 GB), and no task holds every group's rows (with one merge task for the whole
        # run, a 1M-item run lost a worker of 12 GB in this step, twice)
        n_shards = max(1, min(n_groups, len(parts)))
        bounds = np.array([(k * len(parts) // n_shards) << 32 for k in range(1, n_shards)], dtype=np.uint64)
        cut = [delayed(_hub_ranks, nout=n_shards)(h, bounds) for h in hub_groups]
        merge = [_flat_call(_merge_ranks, ([c[k] for c in cut],), limit) for k in range(n_shards)]
        computed = dask.compute(*merge, *[delayed(_hub_counts)(h) for h in hub_groups], **opts)
        del hub_groups, cut, merge
        for counts in computed[n_shards:]:
            for key, n in counts.items():
                totals[key] += n
        # sorted by item, then rank (the shards are ranges of items, in order)
        merged = np.concatenate(computed[:n_shards], axis=1)
        del computed
        ids = {(i << 32) | seq: item_id for item_id, (i, seq) in where.items() if sizes[item_id]}
        relation = _Relation.of(merged, ids, limit, config.settle)
        del merged, ids
        names = relation.names  # the ranked items, the partition's nodes
        n_pairs = totals["bucket_pairs"]  # hub pairs, not candidates: counted from the bucket sizes
        n_hub_pairs = len(relation.codes(np.ones(len(relation.item), dtype=bool)))
        in_first = relation.first()
        first_codes = relation.codes(in_first)  # with settle_after: the first round's pairs
        first = relation.positions(first_codes)
    t2 = time.perf_counter()

    edges, n_verified, n_tasks, n_docs = _verify_pairs(config, parts, first, threads, opts)
    del first
    if relation is not None and relation.settle is not None:
        # the second round: the other hub pairs of the items the first did not settle, less
        # the pairs the first verified (from the other side's list)
        done = settled(*relation.nodes(edges), relation.rank, relation.settle, config.settle or 0)
        second = relation.codes(~in_first & ~done[relation.item])
        second = second[~in_sorted(second, first_codes)]
        more, n_more, n_tasks2, n_docs2 = _verify_pairs(
            config, parts, relation.positions(second), threads, opts
        )
        edges = np.concatenate([edges, more])
        n_verified += n_more
        n_tasks += n_tasks2
        n_docs += n_docs2
    t3 = time.perf_counter()

    # the partition is computed here from ids, shingle counts and accepted edges only;
    # canonical choice and the output texts are built on the workers. With max_verify the
    # nodes are the ranked items, so the hub filter reads the ranks and hub lists above
    if relation is not None:
        a, b = kept_pairs(
            *relation.nodes(edges), relation.rank, relation.kth, relation.settle, config.settle or 0
        )
        del relation
    else:  # the nodes are the items of some edge, in id order
        ends, inverse = unique_inverse(edges.ravel().astype(np.uint64))
        id_of = {(i << 32) | seq: item_id for item_id, (i, seq) in where.items()}
        found = [id_of[p] for p in ends.astype(np.int64).tolist()]
        order = sorted(range(len(found)), key=found.__getitem__)
        names = [found[n] for n in order]
        node = np.empty(len(order), dtype=np.int64)
        node[np.array(order, dtype=np.int64)] = np.arange(len(order), dtype=np.int64)
        a, b = node[inverse.reshape(-1, 2)].T
    groups_all = partition_pairs(
        sizes, names, a, b, size_priority(sizes.__getitem__), max_need=config.max_need
    )
    assign: dict[int, dict[int, int]] = {i: {} for i in live}
    shard_groups: list[list[list[str]]] = [[] for _ in range(n_groups)]
    n_multi = 0
    for group in groups_all:
        if len(group) < 2:
            continue
        for item_id in group:
            i, seq = where[item_id]
            assign[i][seq] = n_multi
        shard_groups[n_multi % n_groups].append(group)
        n_multi += 1
    del where, a, b, names
    # each partition's cluster numbers (to the partition's worker) and each shard's member ids,
    # sent to the cluster once (as data in the graph they went through the scheduler, twice for
    # the numbers: a 16.7 MiB graph and distributed's warning at 1M items)
    numbers = dict(
        zip(live, _shared_each([assign[i] for i in live], opts, [parts[i] for i in live]), strict=True)
    )
    shard_ids = _shared_each(shard_groups, opts)
    if config.site_repeat_min:
        shards = {
            i: delayed(_repeat_rows, nout=n_groups)(parts[i], keeps[i], numbers[i], n_multi, n_groups)
            for i in live
        }
        found = [
            _flat_call(_repeat_keys, ([shards[i][g] for i in live],), config.site_repeat_min)
            for g in range(n_groups)
        ]
        found_keys = [k for k in dask.compute(*found, **opts) if len(k)]
        keys = np.concatenate(found_keys) if found_keys else np.empty((0, 2), dtype=np.uint64)
    else:
        keys = np.empty((0, 2), dtype=np.uint64)
    members = {
        i: delayed(_member_rows, nout=2)(parts[i], keeps[i], numbers[i], n_groups, keys, ingested, config)
        for i in live
    }
    built = [
        _flat_call(_build_clusters, ([members[i][1][g] for i in live],), shard_ids[g], keys, ingested, config)
        for g in range(n_groups)
        if shard_groups[g]
    ]
    pieces = dask.compute(*[members[i][0] for i in live], *built, **opts)
    del parts, members
    clusters = sorted((c for piece in pieces for c in piece), key=lambda c: c.cluster_id)
    t4 = time.perf_counter()
    logger.info(
        "dask dedup: %d partitions, %d items kept, %d candidate pairs, %d edges, %d clusters; "
        "prepare %.1fs, candidates %.1fs, verify %.1fs, clusters %.1fs",
        len(chunks), kept, n_pairs, len(edges), len(clusters), t1 - t0, t2 - t1, t3 - t2, t4 - t3,
    )  # fmt: skip
    stats = {
        "partitions": len(chunks),
        "groups": n_groups,
        "items": kept,
        "bucket_rows": totals["bucket_rows"],
        "bucket_pairs": totals["bucket_pairs"],
        "candidate_pairs": n_pairs,
        "listed_rows": totals["listed_rows"],
        "hub_rows": totals["hub_rows"],
        "hub_pairs": n_hub_pairs,
        "verified_pairs": n_verified,
        "verify_tasks": n_tasks,
        "doc_rebuilds": n_docs,
        "edges": len(edges),
        "clusters": len(clusters),
        "prepare_seconds": round(t1 - t0, 3),
        "candidates_seconds": round(t2 - t1, 3),
        "verify_seconds": round(t3 - t2, 3),
        "clusters_seconds": round(t4 - t3, 3),
    }
    return DaskResult(clusters, errors, kept, failure, stats)


# --------------------------------------------------------------------------------------------
# Public entry points


def _finish(
    clusters: list[Cluster], stories: bool, story_window: str | float | timedelta | None
) -> list[Cluster]:
    if not stories:
        return clusters
    from ._story import assign_stories

    return assign_stories(clusters, window=story_window)


def _dedup_partitions(
    partitions: Sequence[Any],
    cfg: tuple[DedupConfig, float],
    errors: list[ErrorRecord] | None,
    first_line: int | None,
    stories: bool,
    story_window: str | float | timedelta | None,
    groups: int | None,
    scheduler: Any,
) -> list[Cluster]:
    """What :func:`dedup_bag` and :func:`dedup_dataframe` share: their partitions as delayed
    objects, prepared, matched and clustered."""
    delayed = _require_dask().delayed
    chunks = [delayed(_bag_chunk)(p) for p in partitions]
    result = _run(
        chunks, cfg[0], first_line=first_line, groups=groups, scheduler=scheduler, extract_timeout=cfg[1]
    )
    if errors is not None:
        errors.extend(result.errors)
    return _finish(result.clusters, stories, story_window)


def dedup_bag(
    bag: Any,
    *,
    config: DedupConfig | None = None,
    errors: list[ErrorRecord] | None = None,
    first_line: int | None = None,
    stories: bool = True,
    story_window: str | float | timedelta | None = "72h",
    groups: int | None = None,
    scheduler: Any = None,
    extract_timeout: float = 120.0,
    **settings: Any,
) -> list[Cluster]:
    """Deduplicate a Dask bag of items (dicts, :class:`~newsdedup.Record` s or
    :class:`~newsdedup.Article` s with ids): the clusters ``Deduplicator().add_many`` gives over
    the items in partition order, with stories as :func:`newsdedup.dedup` adds them.

    Unusable items go to ``errors`` (when a list is given) in input order; their ``line`` is the
    item's position counted from ``first_line`` (None: no line), as in ``add_many``. ``groups``
    is the number of bucket groups of the candidate shuffle (default: enough for about 8
    million bucket rows each, 73 per matchable item, and at least two per worker thread).
    ``scheduler`` is passed to ``dask.compute`` (default: the active distributed client, else
    Dask's default). ``settings`` are :class:`DedupConfig` fields.

    On a ``distributed`` cluster a prepare task whose current batch of 256 items (or single
    item, once its partition is prepared item by item) runs longer than ``extract_timeout``
    seconds is stopped with its worker, as ``Deduplicator(extract_timeout=...)`` stops a
    ``jobs`` worker: the item that overruns alone is an ``extract-timeout`` error (a page that
    hangs the HTML parser), one that kills its worker an ``extract-crashed`` error.
    """
    _require_dask()  # a missing extra is reported before the input is touched
    return _dedup_partitions(
        bag.to_delayed(),
        _config(config, settings, extract_timeout),
        errors,
        first_line,
        stories,
        story_window,
        groups,
        scheduler,
    )


def dedup_dataframe(
    df: Any,
    *,
    config: DedupConfig | None = None,
    errors: list[ErrorRecord] | None = None,
    first_line: int | None = None,
    stories: bool = True,
    story_window: str | float | timedelta | None = "72h",
    groups: int | None = None,
    scheduler: Any = None,
    extract_timeout: float = 120.0,
    **settings: Any,
) -> list[Cluster]:
    """:func:`dedup_bag` for a Dask dataframe whose columns are the item fields (``id``,
    ``html`` or ``text``, ``url``, ``title``, ``published``, ``site``); an empty cell (None,
    NaN, NaT) is a missing field, as an absent key in a JSONL line."""
    _require_dask()  # a missing extra is reported before the input is touched
    return _dedup_partitions(
        df.to_delayed(),
        _config(config, settings, extract_timeout),
        errors,
        first_line,
        stories,
        story_window,
        groups,
        scheduler,
    )


def _gzipped(name: str) -> bool:
    """Whether a file starts as gzip does (the local engine's reader decides by these bytes
    too): such a file cannot be cut into byte ranges, and is read whole by one task."""
    try:
        with open(name, "rb") as fh:
            return fh.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC
    except OSError:
        return False


def _file_chunks(inputs: Sequence[str], formats: Sequence[str] | None, blocksize: int) -> Iterator[Any]:
    """One delayed chunk per block of an uncompressed JSONL file, one per other input file;
    stdin (``-``) is read on the client."""
    from ._io import input_format, read_records

    delayed = _require_dask().delayed
    several = len(inputs) > 1
    for n, name in enumerate(inputs):
        fmt = formats[n] if formats else input_format(name)
        key = name if several else None
        if name == "-":
            items: list[Any] = []
            failure = None
            try:
                items.extend(read_records(name, format=fmt))
            except InputError as exc:
                failure = str(exc)
            yield delayed(_Chunk(items, file=key, source=f"{n}:{name}", from_file=True, failure=failure))
            continue
        size = None
        if fmt == "jsonl" and not name.lower().endswith(".gz") and not _gzipped(name):
            try:
                size = os.path.getsize(name)
            except OSError:
                size = None  # the reader task reports it as the local engine does
        if size is None:
            yield delayed(_read_whole, pure=False)(name, fmt, key, f"{n}:{name}")
            continue
        for b in range(max(1, math.ceil(size / blocksize))):
            yield delayed(_read_block, pure=False)(
                name, b * blocksize, min(size, (b + 1) * blocksize), key, f"{n}:{name}"
            )


def dedup_files(
    inputs: Sequence[str | os.PathLike[str]],
    *,
    config: DedupConfig | None = None,
    formats: Sequence[str] | None = None,
    blocksize: int = DEFAULT_BLOCKSIZE,
    groups: int | None = None,
    scheduler: Any = None,
    extract_timeout: float = 120.0,
    **settings: Any,
) -> DaskResult:
    """Deduplicate input files (the ``newsdedup dedup`` formats; ``formats[i]``: the reader of
    ``inputs[i]``, default by extension) on Dask, as the local CLI does (without stories).

    Uncompressed JSONL is split into ``blocksize`` byte ranges read by the workers (a worker
    must see the same path); gzip JSONL (known by its first bytes, as the local reader knows
    it), WARC and Parquet files are one task each. Errors
    carry the same ``line`` (and ``file`` with several inputs) as the local CLI's. An input that
    cannot be read to its end stops the run there as in the local CLI: what was read before is
    used, later inputs are not, and ``failure`` says why. ``extract_timeout``: as in
    :func:`dedup_bag`.
    """
    return _dedup_files(inputs, config, settings, formats, blocksize, groups, scheduler, extract_timeout)


def _dedup_files(
    inputs: Sequence[str | os.PathLike[str]],
    config: DedupConfig | None,
    settings: dict[str, Any],
    formats: Sequence[str] | None,
    blocksize: int,
    groups: int | None,
    scheduler: Any,
    extract_timeout: float = 120.0,
    isolate_at_once: bool = False,
) -> DaskResult:
    """:func:`dedup_files`; ``isolate_at_once``: the scheduler is the run's own (:func:`_prepared`)."""
    if not isinstance(blocksize, int) or blocksize < 1024:
        raise ConfigError(f"blocksize must be an int >= 1024, got {blocksize!r}")
    _require_dask()
    cfg, limit = _config(config, settings, extract_timeout)
    chunks = list(_file_chunks([str(i) for i in inputs], formats, blocksize))
    return _run(
        chunks,
        cfg,
        first_line=None,
        groups=groups,
        scheduler=scheduler,
        extract_timeout=limit,
        isolate_at_once=isolate_at_once,
    )


def local_cluster(workers: int, **kwargs: Any) -> Any:
    """A ``distributed.LocalCluster`` of ``workers`` single-threaded processes with no
    dashboard. Its scheduler's HTTP endpoint (which distributed starts even without the
    dashboard, on port 8787 by default) takes a free port, so two runs, or a run next to a
    user's own cluster, never fail with "port 8787 is already in use"."""
    try:
        from distributed import LocalCluster
    except ImportError as exc:
        raise MissingDependency(
            f'the Dask engine needs distributed: pip install "newsdedup[dask]" ({exc})'
        ) from exc
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": ":0"},
        **kwargs,
    )


def run_cli(
    inputs: Sequence[str],
    output: Path | None,
    errors_path: Path | None,
    config: DedupConfig,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    story_window: float | bool | None = False,
    formats: Sequence[str] | None = None,
    out_format: str = "jsonl",
    window: str | float | None = None,
    state: str | None = None,
    blocksize: int = DEFAULT_BLOCKSIZE,
    extract_timeout: float = 120.0,
) -> int:
    """``newsdedup dedup --engine dask``: the same files, output and exit code as the local
    engine. Connects to ``scheduler`` (a ``tcp://host:port`` address) or starts a
    ``LocalCluster`` of ``workers`` single-threaded processes (default: one per CPU) for the
    run. ``story_window`` False: no story ids, else the story window (None: no limit).
    On the cluster it starts, a prepare task that kills its worker fails at once (the
    scheduler's ``allowed_failures`` is 0 during that step) and its partition is prepared
    again item by item; a page that kills a worker is an ``extract-crashed`` error, and one that
    holds it over ``extract_timeout`` seconds (``--extract-timeout``) an ``extract-timeout``
    error. Returns the exit code (1 when an input could not be read to its end)."""
    import click

    if state is not None:
        raise ConfigError("--state is not supported with --engine dask (use the local engine)")
    if window is not None:
        raise ConfigError("--window is not supported with --engine dask (use the local engine)")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"--dask-workers must be an int >= 1, got {workers!r}")
    _config(config, {}, extract_timeout)  # before a cluster is started for the run
    _require_dask()
    try:
        from distributed import Client
    except ImportError as exc:
        raise MissingDependency(
            f'the Dask engine needs distributed: pip install "newsdedup[dask]" ({exc})'
        ) from exc
    from ._cli._common import write_jsonl
    from ._io import write_parquet

    dask = _require_dask()
    # the local cluster (a SpecCluster) closes a worker's nanny for good when, 15 s after one of
    # its worker processes died, none of that name is registered: a page that kills or holds
    # workers again and again could land a later death in that moment and shrink the cluster
    # (the nanny restarts its worker; a worker really gone is the isolation's concern)
    with dask.config.set({"distributed.deploy.lost-worker-timeout": _LOST_WORKER}):
        if scheduler is not None:
            client = Client(scheduler)
            cluster = None
        else:
            cluster = local_cluster(workers or max(1, os.cpu_count() or 1))
            client = Client(cluster)
        try:
            # a cluster of its own: a prepare task that kills a worker fails at once (and its
            # partition is prepared item by item), see _prepared
            own = cluster is not None
            result = _dedup_files(
                inputs, config, {}, formats, blocksize, None, client, extract_timeout, isolate_at_once=own
            )
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    if errors_path is not None:
        write_jsonl(errors_path, [e.to_dict() for e in result.errors])
    clusters = result.clusters
    if story_window is not False:
        clusters = _finish(clusters, True, None if isinstance(story_window, bool) else story_window)
    if out_format == "parquet":
        if output is None:
            raise ConfigError("Parquet output needs a file: -o OUT.parquet")
        write_parquet(output, clusters)
    else:
        write_jsonl(output, [c.to_dict() for c in clusters])
    click.echo(
        f"newsdedup dedup: {result.items} items, {len(clusters)} clusters, {len(result.errors)} unusable lines",
        err=True,
    )
    if result.failure is not None:
        click.echo(
            f"Error: {result.failure}; the {result.items} items read before it were written.", err=True
        )
        return 1
    return 0


_register_sizeof()
