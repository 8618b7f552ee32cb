"""The public API is a curated list: nothing exported by accident, nothing left out."""

from __future__ import annotations

import subprocess
import sys

import newsdedup


def test_all_is_complete_and_sorted() -> None:
    # the names imported on first use (newsdedup._LAZY) count as public attributes too
    public = sorted(name for name in {*vars(newsdedup), *newsdedup._LAZY} if not name.startswith("_"))
    exported = sorted(n for n in newsdedup.__all__ if not n.startswith("__"))
    # every public attribute that is not a submodule is exported
    import types

    public = [n for n in public if not isinstance(getattr(newsdedup, n), types.ModuleType)]
    assert public == exported


def test_exports_present_as_newsdedup_names() -> None:
    for name in newsdedup.__all__:
        obj = getattr(newsdedup, name)
        if isinstance(obj, type) or callable(obj):
            assert obj.__module__ == "newsdedup", name


def test_exception_hierarchy_has_one_root() -> None:
    errors = [
        getattr(newsdedup, n)
        for n in newsdedup.__all__
        if n.endswith(
            (
                "Error",
                "URL",
                "Disallowed",
                "Unreachable",
                "Timeout",
                "Redirects",
                "Large",
                "Content",
                "Dependency",
                "Busy",
                "Corrupt",
            )
        )
    ]
    assert errors
    for cls in errors:
        assert issubclass(cls, newsdedup.NewsdedupError), cls
    assert issubclass(newsdedup.ConfigError, ValueError)
    assert issubclass(newsdedup.MissingDependency, ImportError)


def test_import_adds_only_a_null_handler_and_configures_no_logging() -> None:
    """In a fresh interpreter (the suite's own logging setup would interfere): the "newsdedup"
    logger holds exactly one NullHandler and nothing else is set on it or on the root logger,
    so with no logging configured a warning is not printed by the last-resort handler, and
    once the application configures logging the warning reaches its handler."""
    code = """if True:
        import importlib, logging, sys
        import newsdedup
        newsdedup.CrawlConfig  # the modules imported on first use set nothing up either
        log = logging.getLogger("newsdedup")
        assert [type(h) for h in log.handlers] == [logging.NullHandler], log.handlers
        assert (log.level, log.propagate, log.disabled) == (logging.NOTSET, True, False)
        root = logging.getLogger()
        assert (root.handlers, root.level) == ([], logging.WARNING), (root.handlers, root.level)
        assert logging.Logger.manager.disable == logging.NOTSET
        importlib.reload(newsdedup)
        assert len(log.handlers) == 1, log.handlers
        logging.getLogger("newsdedup.x").warning("unconfigured: dropped")
        sys.stderr.flush()
        logging.basicConfig(format="%(name)s %(message)s")
        logging.getLogger("newsdedup.x").warning("configured: shown")
    """
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "newsdedup.x configured: shown\n"


def test_version() -> None:
    assert newsdedup.__version__.count(".") == 2


def test_the_dedup_command_does_not_import_the_crawler() -> None:
    """``newsdedup dedup`` and its worker processes skip httpx, asyncio and the crawler's
    modules (about 0.13 s per process); the crawler's public names still load on first use."""
    code = (
        "import sys, newsdedup._cli.dedup, newsdedup._dedup; "
        "heavy = [m for m in ('httpx', 'asyncio', 'rich', 'newsdedup._fetch', 'newsdedup._crawl') "
        "if m in sys.modules]; "
        "assert not heavy, heavy; "
        "import newsdedup; assert newsdedup.crawl.__module__ == 'newsdedup'; "
        "assert 'newsdedup._crawl' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
