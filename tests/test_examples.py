"""The example crawler script runs as documented (against the offline demo site)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_example_crawl_demo(tmp_path: Path) -> None:
    out, errs = tmp_path / "stories.jsonl", tmp_path / "errors.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "crawl.py"),
            "--demo",
            "-o",
            str(out),
            "--errors",
            str(errs),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "stories" in proc.stdout
    assert "Capitol Dispatch" in proc.stdout
    clusters = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(clusters) == 11
    assert max(len(c["member_ids"]) for c in clusters) == 4
    assert {json.loads(line)["error"] for line in errs.read_text().splitlines()} == {
        "http-status",
        "robots-disallowed",
    }


def test_example_help() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "crawl.py"), "--help"],
                          capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert proc.returncode == 0
    assert "--demo" in proc.stdout
