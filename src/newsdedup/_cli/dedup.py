"""``newsdedup dedup INPUT... [-o OUT] [--errors ERRORS] [--threshold T]``: JSONL in, clusters out.

The contract (other tools depend on it; extend, never break):

* input lines: ``id`` (string), ``html`` or ``text``, optional ``url``, ``title``,
  ``published`` (ISO 8601), ``site``; files may be gzip (``.gz``) and ``-`` is stdin;
* other inputs (``--input-format``, by default chosen by extension; anything not listed is
  JSONL): WARC (``.warc``, ``.warc.gz``; the ``warc`` extra): each
  HTTP 200 HTML response is an item with ``id`` = its WARC-Record-ID (``urn:uuid:...``),
  ``url`` = WARC-Target-URI, ``html`` = the payload; Parquet (``.parquet``, ``.pq``; the
  ``parquet`` extra): the columns of the JSONL fields, one item per row. Every unusable WARC
  record or Parquet row goes to ``--errors`` like an unusable line, ``line`` being its 1-based
  record or row number (see docs/formats.md for the reasons);
* output: one JSON object per cluster with ``cluster_id``, ``canonical_id``, ``member_ids``,
  ``title``, ``text``, ``url``, ``published``, ``wire``, ``sources`` (plus extension fields,
  among them ``story_id`` unless ``--no-stories``); with ``-o OUT.parquet`` (or
  ``--output-format parquet``) the same fields as the columns of one Parquet row per cluster;
  every usable input id is in exactly one cluster (with ``--state``: every cluster that gained
  a member since the last output written from that store, new or grown);
* unusable lines go to ``--errors`` as ``{line, id, reason}`` (+ ``file`` with several inputs,
  + ``message``) and the run goes on; exit code 0 unless an input file cannot be read
  (missing, truncated gzip or WARC, damaged Parquet), in which case what was read so far is
  still deduplicated and written, and the exit code is 1. A format whose extra is not
  installed is an error with the ``pip install`` that fixes it, before anything is read.
  A store that cannot be used (``--state``: corrupt, foreign, busy, other configuration) is an
  error with a message and exit code 1; the store file is never overwritten.
* ``--pairs FILE`` writes every pair the run verified, merged or not, as
  ``{a, b, accepted, kind, jaccard, containment, align}`` lines (not with ``--engine dask``);
* ``--engine dask`` (the ``dask`` extra) gives the same clusters, errors file and exit code
  from a Dask cluster: ``--dask-scheduler ADDRESS``, or a local one of ``--dask-workers N``
  processes started for the run; it does not take ``--state`` or ``--window``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._dedup import DedupConfig, Deduplicator, parse_window, stored_settings
from .._exceptions import ConfigError, InputError, MissingDependency, StoreError
from .._io import input_format, output_format, read_jsonl_lines, read_records, require_format, write_parquet
from .._models import Cluster
from .._records import RawLine, Record, RecordError
from .._verify import Verdict
from . import keep_until_exit
from ._common import (
    Interrupt,
    ReadStopped,
    atomic_writer,
    count_option,
    distinct_outputs,
    errors_option,
    file_option,
    open_state,
    output_errors,
    output_option,
    parse_story_window,
    progress_option,
    state_option,
    story_options,
    window_option,
    write_jsonl,
    write_lines,
)

if TYPE_CHECKING:
    from .._story import StoryProfile

_BATCH = 256


def with_stories(
    deduper: Deduplicator, clusters: list[Cluster], window: float | None, enabled: bool = True
) -> list[Cluster]:
    """``clusters`` with their ``story_id``. Without a store they are all the clusters; with one,
    stories are assigned over every stored cluster (the deduplicator's current replica) and
    copied onto ``clusters``, so ids equal those of one run over everything -- at the cost of
    one story grouping over the whole store per run."""
    if not enabled:
        return clusters
    from .._story import assign_stories, stories_from

    if deduper.store is None:
        return assign_stories(clusters, window=window)
    return stories_from(clusters, deduper.iter_clusters(refresh=False), window=window)


def _write_clusters(output: Path | None, out_format: str, clusters: Iterable[Cluster]) -> None:
    if out_format == "parquet":
        assert output is not None
        write_parquet(output, clusters)
    else:
        write_jsonl(output, (c.to_dict() for c in clusters))


def _write_all(
    deduper: Deduplicator, output: Path | None, out_format: str, window: float | None, stories: bool
) -> int:
    """Without a store: every cluster to ``output``, built a chunk of groups at a time; returns
    how many. Story ids need every cluster before the first is written, so each cluster's JSON
    line is spooled to an anonymous temporary file and only its story profile is kept, and the
    lines are read back with their ids: memory holds a profile per cluster, never the members
    of every cluster (at a million items, the clusters alone took about 0.8 GB). The lines and
    profiles are made where the clusters are built (in the worker processes with ``--jobs``)."""
    from .._story import GroupingProfiler

    profiler = GroupingProfiler(window=window) if stories else None
    order: list[str] = []

    def lines() -> Iterator[tuple[str, StoryProfile | None]]:
        for key, line, profile in deduper._cluster_lines(profiler.config if profiler is not None else None):
            order.append(key)
            yield line, profile

    if profiler is None:
        _write_lines(output, out_format, (line for line, _ in lines()))
        return len(order)
    import tempfile

    with tempfile.TemporaryFile("w+", encoding="utf-8", prefix="newsdedup-clusters-") as spool:
        profiles: list[StoryProfile] = []
        for line, profile in lines():
            assert profile is not None
            spool.write(line + "\n")
            profiles.append(profile)
        story_of = profiler.story_ids(profiles)
        del profiles
        spool.seek(0)
        # a line plus its story id: story_id is the last key of Cluster.to_dict() when it is
        # the only extension, so the line only gains it before its closing brace
        _write_lines(
            output,
            out_format,
            (
                f'{line[:-2]}, "story_id": {json.dumps(story_of[key])}}}'
                for line, key in zip(spool, order, strict=True)
            ),
        )
    return len(order)


def _write_lines(output: Path | None, out_format: str, lines: Iterable[str]) -> None:
    """Clusters' JSON lines to ``output`` as JSONL or Parquet."""
    if out_format == "parquet":
        assert output is not None
        write_parquet(output, (json.loads(line) for line in lines))
    else:
        write_lines(output, lines)


class _NoProgress:
    """What :func:`_progress` gives when it is off: the same calls, doing nothing, without
    importing rich (about 0.06 s before the first batch of every run)."""

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        pass

    def advance(self, *args: Any, **kwargs: Any) -> None:
        pass


def _progress(enabled: bool) -> Any:
    if not enabled:
        return _NoProgress()
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed} records"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=True,
    )


@click.command("dedup")
@click.argument("inputs", nargs=-1, required=True, type=str, metavar="INPUT...")
@output_option
@click.option(
    "--input-format",
    "input_format_name",
    type=click.Choice(["auto", "jsonl", "warc", "parquet"]),
    default="auto",
    metavar="FORMAT",
    help="jsonl, warc or parquet, for every INPUT [default: auto: .warc[.gz], .parquet, .pq; else jsonl].",
)
@click.option(
    "--output-format",
    "output_format_name",
    type=click.Choice(["auto", "jsonl", "parquet"]),
    default="auto",
    metavar="FORMAT",
    help="jsonl or parquet [default: auto: parquet for -o *.parquet or *.pq, else jsonl].",
)
@errors_option("Write unusable input lines here as {line, id, reason}.")
@file_option(
    "--pairs",
    "pairs_path",
    metavar="FILE",
    help="Write every pair this run verified, merged or not, here as JSONL {a, b, accepted, kind, "
    "jaccard, containment, align}: why a candidate pair was rejected, and with what scores.",
)
@click.option(
    "--threshold", type=float, default=None, help="Word-shingle Jaccard for near-duplicates [default: 0.5]."
)
@click.option(
    "--containment", type=float, default=None, help="Containment for truncated copies [default: 0.7]."
)
@click.option("--num-perm", type=int, default=None, help="MinHash permutations [default: 128].")
@click.option("--shingle-size", type=int, default=None, help="Words per shingle [default: 5].")
@click.option(
    "--min-chars", type=int, default=None, help="Texts shorter than this stay singletons [default: 150]."
)
@count_option(
    "--max-verify",
    "Bound the verifications per item in big stories: each item is verified against its N "
    "lowest-ranked candidates (a fixed rank per id), the same clusters in any input order; 0 "
    "verifies every candidate, else N >= 4 [default: 8].",
)
@count_option(
    "--settle-after",
    "With --max-verify: an item whose N lowest-ranked candidates all verify as copies of "
    "it is not verified against (nor clustered on) its other ones; 0 keeps every pair "
    "[default: 3].",
)
@state_option(
    "Persistent state: an SQLite file (created if missing) or redis://host:port/db[?name=N]. "
    "Items are matched against everything stored; OUT gets only new or grown clusters."
)
@window_option
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Worker processes for extraction and fingerprints, and N-1 more for pair verification "
    "(0: one per CPU). Matching stays in this process, in input order, so the result does not "
    "depend on it.",
)
@click.option(
    "--extract-timeout",
    type=float,
    default=120.0,
    show_default=True,
    metavar="SECONDS",
    help="With --jobs 2 or more or --engine dask: seconds a worker may spend on one batch of 256 "
    "items before it is stopped and they are prepared one by one; an item that overruns alone "
    "is an extract-timeout error (a page that hangs the HTML parser).",
)
@click.option(
    "--verify-as-read",
    is_flag=True,
    help="Verify each batch's pairs as it is matched. By default (without --state or --window) "
    "they are verified once an input is read, and only the pairs clustering keeps: the same "
    "clusters with less work.",
)
@story_options
@progress_option
@click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default="local",
    help="local: this process; dask: a Dask cluster (the dask extra; not with --state or --window).",
)
@click.option(
    "--dask-scheduler",
    default=None,
    metavar="ADDRESS",
    help="With --engine dask: the scheduler to use (tcp://host:8786) [default: start a local cluster].",
)
@click.option(
    "--dask-workers",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="With --engine dask: worker processes of the local cluster [default: one per CPU].",
)
def command(
    inputs: tuple[str, ...],
    output: Path | None,
    input_format_name: str,
    output_format_name: str,
    errors_path: Path | None,
    pairs_path: Path | None,
    threshold: float | None,
    containment: float | None,
    num_perm: int | None,
    shingle_size: int | None,
    min_chars: int | None,
    max_verify: int | None,
    settle_after: int | None,
    state: str | None,
    window: str | None,
    jobs: int,
    extract_timeout: float,
    verify_as_read: bool,
    story_window: str,
    stories: bool,
    progress: bool | None,
    engine: str,
    dask_scheduler: str | None,
    dask_workers: int | None,
) -> None:
    """Group syndicated copies in JSONL INPUT files (.gz ok, - for stdin) into clusters.

    Each line: {"id", "html" or "text", "url", "title", "published", "site"}. WARC files
    (.warc, .warc.gz: each HTTP 200 HTML capture is an item, its id the WARC-Record-ID) and
    Parquet files (.parquet, .pq: columns named like the JSONL fields) are read too, and -o
    OUT.parquet writes Parquet; see docs/formats.md. Each output line
    is one cluster with its canonical clean text and every member outlet. An id seen again on
    a later line is ignored (the first line wins) and reported as "duplicate-id" unless its
    text is identical. Texts too short to fingerprint are output as singleton clusters.

    With --state, runs continue each other: an id already in the store is not added again, and
    the output holds the clusters that gained a member since the last output (use
    "newsdedup export" for all of them). A killed run loses at most its last batch.

    Every cluster gets a story_id (clusters reporting the same event share it; with --state it
    is computed over every stored cluster, so it equals a one-shot run's); --no-stories skips it.
    """
    settings = {
        "threshold": threshold,
        "containment_threshold": containment,
        "num_perm": num_perm,
        "shingle_size": shingle_size,
        "min_chars": min_chars,
        "max_verify": max_verify,
        "settle_after": settle_after,
    }
    try:
        window_seconds = parse_window(window)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--window") from exc
    try:
        story_seconds = parse_story_window(story_window)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--story-window") from exc
    try:
        formats = [input_format(name, input_format_name) for name in inputs]
        out_format = output_format(output, output_format_name)
        for fmt in {*formats, out_format}:
            require_format(fmt)
    except MissingDependency as exc:
        raise click.ClickException(str(exc)) from exc
    if any(str(name) == "-" and fmt == "parquet" for name, fmt in zip(inputs, formats, strict=True)):
        raise click.BadParameter(
            "Parquet cannot be read from stdin (it needs a seekable file); pass a path",
            param_hint="--input-format",
        )
    if out_format == "parquet" and (output is None or str(output) == "-"):
        raise click.BadParameter("Parquet output needs a file: -o OUT.parquet", param_hint="--output-format")
    if pairs_path is not None and str(pairs_path) == "-":
        raise click.BadParameter("--pairs needs a file (stdout holds the clusters)", param_hint="--pairs")
    distinct_outputs({"--output": output, "--errors": errors_path, "--pairs": pairs_path})
    if engine == "dask":
        if pairs_path is not None:
            raise click.UsageError("--pairs is not supported with --engine dask")
        _run_dask(
            inputs, output, errors_path, settings, formats, out_format, state, window,
            story_seconds if stories else False, dask_scheduler, dask_workers, extract_timeout,
        )  # fmt: skip
        return
    if dask_scheduler is not None or dask_workers is not None:
        raise click.UsageError("--dask-scheduler and --dask-workers need --engine dask")
    store = None
    try:
        base: dict[str, Any] = {}
        if state is not None:
            store = open_state(state)
            base = stored_settings(store.stored_config() or {})
        workers = jobs or os.cpu_count() or 1
        try:
            config = _config(base, settings)
            # without a store, texts are spilled to a temporary file: memory stays bounded
            deduper = Deduplicator(config=config, store=store, window=window_seconds, jobs=workers, spill=True,
                                   extract_timeout=extract_timeout)  # fmt: skip
        except ConfigError as exc:
            raise _bad_setting(exc) from exc
        keep_until_exit(deduper)  # the console script's exit does not free it piece by piece
        with contextlib.ExitStack() as stack:
            if pairs_path is not None:
                deduper.on_verdict = stack.enter_context(_PairLog(pairs_path))
            _run(
                deduper,
                inputs,
                output,
                errors_path,
                progress,
                story_seconds if stories else False,
                formats=formats,
                out_format=out_format,
                postpone=not verify_as_read,
            )
    except StoreError as exc:
        raise click.ClickException(f"state store: {exc}") from exc
    finally:
        if store is not None:
            store.close()


class _PairLog:
    """``--pairs``: each verified pair as a JSON line, written as the verdicts come (memory does
    not grow with the run) to a temporary file that replaces FILE when the run ends, also when
    it ends with exit 1 or 130 after writing what it read; a crash leaves no partial FILE."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stack = contextlib.ExitStack()
        self.failed: OSError | None = None

    def __enter__(self) -> _PairLog:
        self._fh = self._stack.enter_context(atomic_writer(self._path))
        return self

    def __call__(self, a: str, b: str, verdict: Verdict) -> None:
        try:
            self._fh.write(json.dumps({"a": a, "b": b, **verdict.to_dict()}, ensure_ascii=False) + "\n")
        except OSError as exc:  # a full disk: reported as the file's write error (__exit__)
            self.failed = exc
            raise

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, SystemExit):  # _finish wrote everything read, then chose the exit code
            kind = exc = tb = None
        with output_errors():  # a failed write (a full disk) during the run or at the rename
            self._stack.__exit__(kind, exc, tb)  # (the temporary file is removed on an error)
            if self.failed is not None and exc is self.failed:
                raise self.failed


_OPTION_OF = {
    "threshold": "--threshold",
    "containment_threshold": "--containment",
    "num_perm": "--num-perm",
    "shingle_size": "--shingle-size",
    "min_chars": "--min-chars",
    "max_verify": "--max-verify",
    "settle_after": "--settle-after",
}
"""The flag that sets each engine setting (:func:`_bad_setting`)."""


def _bad_setting(exc: ConfigError) -> click.BadParameter:
    """A refused engine setting as the flag that gave it: the engine names its field
    (``dedup.max_verify ... None``), where the command line has ``--max-verify ... 0``."""
    message = str(exc)
    for field, option in _OPTION_OF.items():
        name = f"dedup.{field} "
        if message.startswith(name):
            text = message[len(name) :]
            if field in ("max_verify", "settle_after"):
                text = text.replace("must be None (", "must be 0 (", 1)
            return click.BadParameter(text, param_hint=f"'{option}'")
    return click.BadParameter(message)


def _config(base: dict[str, Any], settings: dict[str, Any]) -> DedupConfig:
    """Stored settings overridden by the flags given (``--max-verify 0``: no limit;
    ``--settle-after 0``: every hub pair kept)."""
    given = {k: v for k, v in settings.items() if v is not None}
    for name in ("max_verify", "settle_after"):
        if given.get(name) == 0:
            given[name] = None
    return DedupConfig(**{**base, **given})


class _Source:
    """The records of one input; a read failure ends it and is kept in ``failure``, so the
    records before it are still deduplicated and written. An interrupt ends it too."""

    def __init__(self, name: str, fmt: str, interrupt: Interrupt) -> None:
        self.name, self.fmt = name, fmt
        self.failure: str | None = None
        self.stopped = False  # an interrupt ended it before its end
        self._interrupt = interrupt

    def __iter__(self) -> Iterator[Record | RecordError | RawLine]:
        interrupt = self._interrupt
        try:
            if input_format(self.name, self.fmt) == "jsonl":  # parsed where prepared (a worker)
                items: Iterator[Record | RecordError | RawLine] = read_jsonl_lines(self.name)
            else:
                items = read_records(self.name, format=self.fmt)
            reading = iter(items)
            while not interrupt.requested:
                try:
                    interrupt.waiting = True  # a Ctrl-C now stops the read (ReadStopped)
                    item = next(reading)
                except StopIteration:
                    return
                finally:
                    interrupt.waiting = False
                yield item
            self.stopped = True
        except ReadStopped:  # the Ctrl-C came while a read waited: what was read before it counts
            self.stopped = True
        except InputError as exc:
            self.failure = str(exc)


def _run_dask(
    inputs: tuple[str, ...],
    output: Path | None,
    errors_path: Path | None,
    settings: dict[str, Any],
    formats: list[str],
    out_format: str,
    state: str | None,
    window: str | None,
    story_window: float | bool | None,
    scheduler: str | None,
    workers: int | None,
    extract_timeout: float,
) -> None:
    """``--engine dask``: the same output and exit code from a Dask cluster (newsdedup.dask)."""
    if state is not None or window is not None:
        raise click.UsageError("--state and --window are not supported with --engine dask")
    try:
        config = _config({}, settings)
    except ConfigError as exc:
        raise _bad_setting(exc) from exc
    try:
        from ..dask import run_cli

        code = run_cli(
            list(inputs), output, errors_path, config, workers=workers, scheduler=scheduler,
            story_window=story_window, formats=formats, out_format=out_format, extract_timeout=extract_timeout,
        )  # fmt: skip
    except MissingDependency as exc:
        raise click.ClickException(str(exc)) from exc
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    if code:
        sys.exit(code)


@contextlib.contextmanager
def _collector_spared() -> Iterator[Callable[[], None]]:
    """A function to call after each batch read and after each input: everything alive then
    (the run's state, most of it kept to the end) moves out of the cyclic collector's
    generations (``gc.freeze``), so that its full collections, each time the kept objects
    grew by a quarter, no longer walk all of them again: at a million items they took about
    4.4 s of the main process, one of them 1 s on one core once the input was verified, plus
    3.4 s of young collections (*ad hoc*). Cycles made later are still collected; the frozen
    objects go back to the collector when the run ends."""
    try:
        yield gc.freeze
    finally:
        gc.unfreeze()


def _run(
    deduper: Deduplicator,
    inputs: tuple[str, ...],
    output: Path | None,
    errors_path: Path | None,
    progress: bool | None,
    story_window: float | bool | None = False,
    *,
    formats: list[str] | None = None,
    out_format: str = "jsonl",
    postpone: bool = True,
) -> None:
    """``story_window`` False: no story ids; otherwise the story window (None: no limit).
    ``formats``: the reader of each input (default: chosen by extension). ``postpone``: see
    :meth:`Deduplicator.add_stream`."""
    several = len(inputs) > 1
    failure: str | None = None
    cut = False  # an interrupt left input unread (one that came later changes nothing written)
    show = progress if progress is not None else sys.stderr.isatty()

    with Interrupt("dedup") as interrupt, _collector_spared() as spare:
        with _progress(show) as bar:
            task = bar.add_task("dedup", total=None)

            def batch_read(k: int) -> None:
                bar.advance(task, k)
                spare()

            for n, name in enumerate(inputs):
                file_key = name if several else None
                bar.update(task, description=name)
                source = _Source(name, formats[n] if formats else "auto", interrupt)
                deduper.add_stream(
                    source,
                    file=file_key,
                    batch_size=_BATCH,
                    on_batch=batch_read,
                    postpone=postpone,
                )
                spare()
                if source.failure is not None:
                    failure = source.failure
                    break
                if interrupt.requested:
                    cut = source.stopped or n < len(inputs) - 1
                    break
        _finish(deduper, output, errors_path, story_window, out_format, failure, cut)
        if interrupt.requested and not cut:
            click.echo(
                "newsdedup dedup: the interrupt came after the whole input was read; the output is complete",
                err=True,
            )


def _finish(
    deduper: Deduplicator,
    output: Path | None,
    errors_path: Path | None,
    story_window: float | bool | None,
    out_format: str,
    failure: str | None,
    interrupted: bool,
) -> None:
    """Everything read is written: the errors, then the clusters; the exit code says whether
    the input was read to its end (1: it broke, 130: an interrupt stopped the reading before
    it, ``interrupted``)."""
    deduper.release_caches()  # nothing more is added: the output needs no cached article or doc
    # with a store, clusters are recorded as emitted only after OUT was written
    enabled = story_window is not False
    story_seconds = None if isinstance(story_window, bool) else story_window

    def write_out(clusters: list[Cluster]) -> None:
        _write_clusters(output, out_format, with_stories(deduper, clusters, story_seconds, enabled))

    with output_errors():
        if errors_path is not None:
            write_jsonl(errors_path, [e.to_dict() for e in deduper.errors])
        if deduper.store is None:
            emitted = _write_all(deduper, output, out_format, story_seconds, enabled)
        else:
            emitted = len(deduper.emit_changed(write_out))
    n_err = len(deduper.errors)
    what = "new or grown clusters" if deduper.store is not None else "clusters"
    click.echo(
        f"newsdedup dedup: {len(deduper)} items, {emitted} {what}, {n_err} unusable lines",
        err=True,
    )
    if failure is not None:
        click.echo(f"Error: {failure}; the {len(deduper)} items read before it were written.", err=True)
        sys.exit(1)
    if interrupted:
        click.echo(f"Interrupted: the {len(deduper)} items read before it were written.", err=True)
        sys.exit(130)
