"""Pages that crash or hang the HTML extractor, for the isolation tests of the crawler and of
``newsdedup dedup --jobs``: a ``sitecustomize`` that every process of a run loads (PYTHONPATH),
in which the extractor aborts the process on a page holding POISON-ABORT (as a parser segfault
would) and never returns on one holding POISON-HANG (asleep) or POISON-SPIN (in C code that
holds the GIL, as a regular expression that backtracks does)."""

from __future__ import annotations

import os
from pathlib import Path

SITECUSTOMIZE = '''
"""Loaded by every process of the run (PYTHONPATH): the HTML extractor aborts the
process on a page holding POISON-ABORT, as a parser segfault would, and never returns on one
holding POISON-HANG (asleep) or POISON-SPIN (in a regular expression, holding the GIL)."""
import os
import re
import time

import newsdedup._extract as _extract

_real = _extract.extract


def extract(page, *args, **kwargs):
    text = page if isinstance(page, str) else bytes(page).decode("utf-8", "replace")
    if "POISON-ABORT" in text:
        os.abort()
    if "POISON-HANG" in text:
        time.sleep(3600)
    if "POISON-SPIN" in text:  # backtracks for ages in C code holding the GIL
        re.match(r"(a+)+$", "a" * 64 + "!")
    return _real(page, *args, **kwargs)


_extract.extract = extract
'''


def poisoned_env(folder: Path) -> dict[str, str]:
    """The environment for a subprocess whose every process loads the poisoned extractor."""
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])}
