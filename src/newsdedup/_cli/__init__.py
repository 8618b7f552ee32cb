"""The ``newsdedup`` command line. Each command lives in its own module of this package."""

from __future__ import annotations

import atexit
import importlib
import logging
import os
import sys
from typing import Any

import click

from .._version import __version__

# name -> module that defines a click command called ``command``; imported lazily so that
# ``newsdedup extract`` does not pay for the crawler's imports.
_COMMANDS: dict[str, str] = {
    "copy-state": "newsdedup._cli.copy_state",
    "crawl": "newsdedup._cli.crawl",
    "dedup": "newsdedup._cli.dedup",
    "export": "newsdedup._cli.export",
    "demo": "newsdedup._cli.demo",
    "extract": "newsdedup._cli.extract",
    "explain": "newsdedup._cli.explain",
    "report": "newsdedup._cli.report",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _COMMANDS.get(cmd_name)
        if module is None:
            return None
        try:
            command = importlib.import_module(module).command
        except ModuleNotFoundError as exc:
            if exc.name == module:
                return None  # command not built in this checkout
            raise
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """A Ctrl-C that aborts a command (the second one, or one before the command took over
        SIGINT) exits with 130, as a shell reports a process SIGINT ended; click's own abort
        exits with 1, the code for an input that could not be read."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("\nAborted!", err=True)
            ctx.exit(130)


class _Stderr(logging.Handler):
    """The library's warnings on the command's stderr, as the bare message. The package gives
    its logger only a NullHandler (a library leaves handlers to the application), so the
    command line, an application, sets one. ``sys.stderr`` is looked up for each record, so
    whatever stands there (a test runner's capture) gets it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def _warnings_to_stderr() -> None:
    logger = logging.getLogger("newsdedup")
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        logger.addHandler(_Stderr(logging.WARNING))


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="newsdedup")
def main() -> None:
    """Turn a noisy stream of news pages into a clean stream of stories."""
    _warnings_to_stderr()


_held: list[object] | None = None
"""What :func:`keep_until_exit` holds; None outside :func:`console_main`."""


def keep_until_exit(obj: object) -> None:
    """Under :func:`console_main`, hold ``obj`` until the process ends, so that it is never
    freed object by object. Elsewhere (tests, an application calling :func:`main`) a no-op."""
    if _held is not None:
        _held.append(obj)


def console_main() -> None:
    """The ``newsdedup`` console script: :func:`main`, then, when a command held its state
    with :func:`keep_until_exit`, an exit that leaves that memory to the operating system.
    Freeing a million-item run's deduplicator one object at a time took about 2-3 s after
    its output was complete. The exit handlers still run and the streams are flushed; only
    the interpreter's teardown is skipped."""
    global _held
    _held = []
    try:
        main()
        code: str | int | None = 0
    except SystemExit as exc:
        code = exc.code
    if not _held:
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message") prints the message and exits with 1
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be written anyway
            status = status or 1
    atexit._run_exitfuncs()  # multiprocessing's clean-up, logging.shutdown, ...
    os._exit(status)


__all__ = ["console_main", "keep_until_exit", "main"]
