"""Worker processes of the dedup engine (``--jobs``) and of the crawler (extraction): which
start method they use, and how a Ctrl-C reaches them.

A terminal's Ctrl-C sends SIGINT to the whole process group. The main process decides what it
means (the CLI finishes what it has read, see :mod:`newsdedup._cli`) and stops its workers
through their pools; a worker that took it itself would die mid-task and break its pool.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from multiprocessing.context import BaseContext

__all__ = ["ignore_sigint", "mp_context", "start_forkserver"]


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
