"""Worker processes of the dedup engine (``--jobs``) and of the crawler (extraction): which
start method they use, how a Ctrl-C reaches them, and where their log records go.

A terminal's Ctrl-C sends SIGINT to the whole process group. The main process decides what it
means (the CLI finishes what it has read, see :mod:`newsdedup._cli`) and stops its workers
through their pools; a worker that took it itself would die mid-task and break its pool.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import multiprocessing
import signal
import threading
from concurrent.futures import Executor
from multiprocessing.context import BaseContext
from typing import Any

__all__ = [
    "LogSetup",
    "forward_logs",
    "ignore_sigint",
    "log_setup",
    "mp_context",
    "start_forkserver",
    "worker_start",
]

LogSetup = tuple[Any, int]
"""What a worker needs to send its log records to the main process: the queue, and the level of
the main process's ``newsdedup`` logger."""

_relay: tuple[BaseContext, Any, logging.handlers.QueueListener] | None = None
_relay_lock = threading.Lock()


class _Dispatch(logging.Handler):
    """Hands a worker's record to the main process's logger of the same name, so it meets the
    handlers (and filters) the application set up there: the CLI's stderr, a host's files."""

    def handle(self, record: logging.LogRecord) -> bool:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:  # pragma: no cover - handle() does it
        self.handle(record)


def log_setup(ctx: BaseContext) -> LogSetup:
    """The queue workers of ``ctx`` send their records to (one per process and start method,
    drained by a listener thread of this process), with this process's ``newsdedup`` level: a
    worker does not even build a record that would be dropped here. Without it, a worker's
    warnings (the cluster-size alarm of a cluster built there) went to its own logging, which
    has no handler."""
    global _relay
    with _relay_lock:
        if _relay is None or _relay[0] is not ctx:
            if _relay is not None:
                _relay[2].stop()
            queue = ctx.Queue()
            listener = logging.handlers.QueueListener(queue, _Dispatch())
            listener.start()
            _relay = (ctx, queue, listener)
        return _relay[1], logging.getLogger("newsdedup").getEffectiveLevel()


def forward_logs(setup: LogSetup | None) -> None:
    """In a worker: send the ``newsdedup`` records at or above the main process's level to it
    (:func:`log_setup`) instead of this process's handlers."""
    if setup is None:
        return
    queue, level = setup
    logger = logging.getLogger("newsdedup")
    logger.handlers[:] = [logging.handlers.QueueHandler(queue)]
    logger.setLevel(level)
    logger.propagate = False


def worker_start(setup: LogSetup | None = None) -> None:
    """A worker's first steps (pool initializer): ignore SIGINT, forward the log records."""
    ignore_sigint()
    forward_logs(setup)


def mp_context() -> BaseContext:
    """The forkserver where the platform has it, else spawn; never plain fork (the callers may
    run beside threads, and forking those is unsafe). Start it with :func:`start_forkserver`,
    after setting any modules to preload (a running forkserver keeps what it started with)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def start_forkserver(ctx: BaseContext) -> None:
    """Start ``ctx``'s forkserver (if it is one) with SIGINT ignored, so that it and every
    worker it forks ignore SIGINT from their first instruction: an ignored signal stays ignored
    across ``exec``, and Python then installs no KeyboardInterrupt handler (a worker killed
    while it started, before any initializer ran, broke its pool). From the main thread only
    (elsewhere a signal handler cannot be set); nothing changes once the forkserver runs."""
    if ctx.get_start_method() != "forkserver" or threading.current_thread() is not threading.main_thread():
        return
    from multiprocessing import forkserver

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


def ignore_sigint() -> None:
    """A worker's first step (pool initializer): ignore SIGINT. Forked workers already do (see
    :func:`start_forkserver`); spawned ones start with Python's KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_workers(pool: Executor) -> None:
    """Kill a process pool's workers and shut it down: a page that hangs the parser holds its
    worker forever, and the executor has no public way to stop a running call (Python 3.14
    adds ``kill_workers``; before, the pool's ``_processes``)."""
    kill = getattr(pool, "kill_workers", None)
    if callable(kill):
        with contextlib.suppress(Exception):
            kill()
    else:
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                proc.kill()
    with contextlib.suppress(Exception):
        pool.shutdown(wait=False, cancel_futures=True)
