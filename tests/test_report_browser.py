"""The report in a real headless browser (Debian's chromium): it renders and shows the story.

Skipped with a message when no chromium binary is installed (``apt-get install -y chromium``).
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from newsdedup import dedup
from newsdedup._records import to_article
from newsdedup._report import write_report
from newsdedup._story import assign_stories

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = sorted((FIXTURES / "seeds").glob("*.txt"))
CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome", "chrome")) if p), None
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if CHROMIUM is None:
        pytest.skip("chromium not found (apt-get install -y chromium); browser test skipped")
    items = [{"id": f"seed-{p.stem[:3]}", "text": p.read_text(encoding="utf-8")} for p in SEEDS]
    for line in (FIXTURES / "stories" / "hard_cases.jsonl").read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        data.pop("event")
        items.append({k: v for k, v in data.items() if v is not None})
    items.append(
        {"id": "xss", "text": "<script>document.title='pwned'</script> " * 20, "title": "<b>bold</b>"}
    )
    clusters = assign_stories(dedup(items))
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(path, clusters, {i["id"]: to_article(i) for i in items})
    return path


def _run(args: list[str], profile: Path) -> subprocess.CompletedProcess[bytes]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_dom_shows_the_seeds_story(report: Path, tmp_path: Path) -> None:
    done = _run(["--dump-dom", report.as_uri()], tmp_path / "profile")
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout.decode("utf-8")
    assert "<title>newsdedup report</title>" in dom  # the injected script never ran
    assert dom.count('<section class="story"') == 7  # seeds, 2 NATO, 2 Apple, league, cup, xss
    first = dom.split('<section class="story"')[1]
    assert "Story 1:" in first
    assert "5 clusters" in first
    for title in (
        "Rutte: NATO has no evidence of DPRK soldiers' involvement in war in Ukraine",
        "Zelenskyy: NKorean Officers Deployed Alongside Russians",
        "NATO chief Rutte calls rumours that North Korea is active in Ukraine worrying",
        "Ukraine Issues Update on North Koreans Fighting For Russia",
    ):
        assert title.replace("'", "&#x27;") in first or title in first
    assert "&lt;b&gt;bold&lt;/b&gt;" in dom
    assert "<b>bold</b>" not in dom


def test_screenshot_renders(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    done = _run(
        ["--screenshot=" + str(shot), "--window-size=1280,2000", report.as_uri()], tmp_path / "profile"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2000)
    assert len(data) > 50_000  # a blank page compresses to a few kilobytes
