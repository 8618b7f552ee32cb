"""Pieces shared by the commands: atomic JSONL output and the options several commands take.

One definition each, so ``dedup``, ``crawl``, ``demo`` and ``export`` cannot drift apart in how
they write the contract files or spell an option.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from .._dedup import parse_window
from .._exceptions import ConfigError, MissingDependency, StoreError

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "Interrupt",
    "atomic_writer",
    "errors_option",
    "file_option",
    "open_state",
    "output_errors",
    "output_option",
    "parse_story_window",
    "progress_option",
    "state_option",
    "story_options",
    "window_option",
    "writable_path",
    "write_jsonl",
]


class ReadStopped(BaseException):
    """Raised by the first Ctrl-C into a read that is waiting for input (:attr:`Interrupt.waiting`):
    a pipe that stays open (``tail -f | newsdedup dedup -``) would otherwise keep the command
    waiting, the read resumed after the signal handler, until more input came. A BaseException,
    so that no reader's own ``except Exception`` takes it for a damaged input."""


class Interrupt:
    """Ctrl-C as a crawler takes it: the first SIGINT sets :attr:`event` (the command stops
    reading or fetching, and what it has is processed and written as usual; the command then
    exits with 130 if that left input unread), and a second one aborts at once. Installed in
    the main thread only (a signal handler cannot be set elsewhere); the previous handler is
    restored on exit."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.event = threading.Event()
        self._previous: Any = None
        self.waiting = False
        """Set by the reader around each read of the input: a Ctrl-C then stops that read
        (:class:`ReadStopped`) instead of waiting for it to return."""

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def __enter__(self) -> Interrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: object) -> None:
        self.event.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the next one aborts
        # os.write: the handler may run while a progress display is writing to stderr
        os.write(
            2,
            f"newsdedup {self.command}: interrupted: stopping; what was read is processed and "
            "written (Ctrl-C again to abort)\n".encode(),
        )
        if self.waiting:
            self.waiting = False
            raise ReadStopped


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[IO[str]]:
    """Write to a temp file next to ``path`` and rename it into place only on success, so a
    killed run never leaves a half-written output where the previous one was. A name ending in
    ``.gz`` (any case) is written gzip-compressed, as the readers take it back."""
    import gzip
    import io

    from .._io import atomic_path

    with atomic_path(path) as tmp:
        if path.name.lower().endswith(".gz"):
            # the header names the file as it ends up (gzip.open would name the temporary one)
            with (
                open(tmp, "wb") as raw,
                gzip.GzipFile(filename=path.name[:-3], mode="wb", fileobj=raw) as packed,
                io.TextIOWrapper(packed, encoding="utf-8", newline="\n") as fh,
            ):
                yield fh
        else:
            with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
                yield fh


@contextlib.contextmanager
def output_errors() -> Iterator[None]:
    """A write that fails after the run (a full disk, a folder removed meanwhile) becomes one
    line naming the file, exit 1, instead of a traceback; the folders are checked before the
    run by ``writable_path``."""
    try:
        yield
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise click.ClickException(f"cannot write output: {exc.strerror or exc}{where}") from exc


def write_jsonl(target: Path | None, rows: Iterable[dict[str, Any]]) -> None:
    """Rows as JSON lines to ``target`` (atomically) or, for None or ``-``, to stdout as UTF-8."""
    write_lines(target, (json.dumps(row, ensure_ascii=False) for row in rows))


def write_lines(target: Path | None, lines: Iterable[str]) -> None:
    """Text lines (each without its newline) to ``target`` (atomically) or, for None or ``-``,
    to stdout as UTF-8."""
    if target is None or str(target) == "-":
        if sys.stdout is None:  # started with stdout closed (">&-")
            raise OSError(errno.EBADF, "standard output is closed")
        # UTF-8 bytes whatever the locale says (a C locale would make stdout ASCII-only)
        sys.stdout.flush()
        binary = getattr(sys.stdout, "buffer", None)
        for line in lines:
            if binary is not None:
                binary.write((line + "\n").encode("utf-8"))
            else:
                sys.stdout.write(line + "\n")
        (binary or sys.stdout).flush()
        return
    with atomic_writer(target) as fh:
        for line in lines:
            fh.write(line + "\n")


def open_state(state: str, *, read_only: bool = False) -> Any:
    """Open the ``--state`` store, turning its failures into the CLI's messages and exit codes.

    ``read_only`` commands (export, explain) never create an SQLite file that is not there.
    """
    from .._store import open_store

    try:
        return open_store(state, create=False) if read_only and "://" not in state else open_store(state)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--state") from exc
    except MissingDependency as exc:
        raise click.ClickException(str(exc)) from exc
    except StoreError as exc:
        raise click.ClickException(f"state store: {exc}") from exc


def parse_story_window(value: str) -> float | None:
    """``--story-window``: a duration, or ``none``/``off``/``0`` for no time limit."""
    if value.strip().lower() in {"none", "off", "0"}:
        return None
    return parse_window(value)


def writable_path(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """A file option's value, refused at once when its folder is missing or not writable: the
    file is written after the whole run, and a run that ends unable to write loses all of it."""
    if value is None or str(value) == "-":
        return value
    folder = value.parent if str(value.parent) else Path(".")
    if not folder.is_dir():
        raise click.BadParameter(f"folder {str(folder)!r} does not exist", ctx=ctx, param=param)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise click.BadParameter(f"folder {str(folder)!r} is not writable", ctx=ctx, param=param)
    return value


def distinct_outputs(paths: dict[str, Path | None]) -> None:
    """A UsageError when two output options name one file: each is written whole at the end,
    so the last one written would silently replace the others (the clusters, say)."""
    seen: dict[str, str] = {}
    for option, path in paths.items():
        if path is None or str(path) == "-":
            continue
        key = os.path.realpath(path)
        if key in seen:
            raise click.UsageError(f"{seen[key]} and {option} name the same file: {str(path)!r}")
        seen[key] = option


def file_option(*decls: str, help: str, metavar: str | None = None) -> Callable[[F], F]:
    """An option naming a file the command writes, its folder checked first (:func:`writable_path`)."""
    return click.option(
        *decls,
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        callback=writable_path,
        metavar=metavar,
        help=help,
    )


def output_option(f: F) -> F:
    return file_option("-o", "--output", help="Write clusters here (atomically) instead of stdout.")(f)


def errors_option(help: str) -> Callable[[F], F]:
    return file_option("--errors", "errors_path", help=help)


def count_option(name: str, help: str) -> Callable[[F], F]:
    """An engine setting given as a count where 0 means none (None for the engine)."""
    return click.option(name, type=click.IntRange(min=0), default=None, metavar="N", help=help)


def state_option(help: str) -> Callable[[F], F]:
    return click.option("--state", "state", type=str, default=None, metavar="PATH|URL", help=help)


def window_option(f: F) -> F:
    return click.option(
        "--window",
        type=str,
        default=None,
        metavar="DURATION",
        help="Only match items published within this span of each other (30m, 72h, 7d); older "
        "items leave the index [default: no window].",
    )(f)


def progress_option(f: F) -> F:
    return click.option(
        "--progress/--no-progress",
        default=None,
        help="Progress on stderr [default: on when stderr is a terminal].",
    )(f)


def story_options(f: F) -> F:
    """``--story-window`` and ``--stories/--no-stories`` (shared by dedup, crawl, demo and export)."""
    f = click.option(
        "--stories/--no-stories",
        default=True,
        show_default=True,
        help="Give every cluster a story_id (clusters reporting the same event share one).",
    )(f)
    return click.option(
        "--story-window",
        type=str,
        default="72h",
        show_default=True,
        metavar="DURATION",
        help="Clusters published further apart are never one story (30m, 72h, 7d; 'none': no limit).",
    )(f)
