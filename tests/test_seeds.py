"""The five seed exports the project started from, cleaned by ``clean_text``.

The expected texts in ``fixtures/publishers/expected/`` were written by hand from the seeds: every
story sentence kept verbatim, every junk line dropped. The comparison is exact.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsdedup import Article, clean_text

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = sorted((FIXTURES / "seeds").glob("*.txt"))


def _clean(stem: str) -> Article:
    return clean_text((FIXTURES / "seeds" / f"{stem}.txt").read_text(encoding="utf-8"))


def _expected(stem: str) -> str:
    return (FIXTURES / "publishers" / "expected" / f"{stem}.txt").read_text(encoding="utf-8").rstrip("\n")


def test_all_five_seeds_are_present() -> None:
    assert len(SEEDS) == 5


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem[:3])
def test_seed_text_matches_hand_written_golden(path: Path) -> None:
    article = _clean(path.stem)
    assert article.text == _expected(path.stem)
    assert article.ok
    assert article.source_format == "text"


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem[:3])
def test_every_story_line_of_the_golden_is_a_seed_line(path: Path) -> None:
    """Guard on the goldens themselves: they only drop lines, never edit story text."""
    seed = path.read_text(encoding="utf-8")
    for paragraph in _expected(path.stem).split("\n\n"):
        assert paragraph in seed


def test_seed_000_unn_title_date_and_dateline() -> None:
    article = _clean("000_b1ac101bd35f63a9")
    assert article.title == "Rutte: NATO has no evidence of DPRK soldiers' involvement in war in Ukraine"
    assert article.published == datetime(2024, 10, 17, tzinfo=UTC)
    assert "Kyiv • UNN" not in article.text
    assert article.wire is None  # UNN is the original publisher, not a wire copy
    assert article.text.startswith("NATO Secretary General Rutte says there is no evidence")
    assert "Sources of UNN reportedthat Russia is forming" in article.text


def test_seed_001_menafn_no_title_line() -> None:
    article = _clean("001_a74b863854a7b61d")
    assert article.title == ""
    assert article.published == datetime(2024, 10, 20, tzinfo=UTC)
    assert "(MENAFN)" not in article.text
    assert article.text.startswith("Secretary General Mark Rutte has stated")
    assert article.wire is None
    assert len(article.paragraphs) == 5


def test_seed_002_newsmax_reuters_copy() -> None:
    article = _clean("002_a05adf3270c9401d")
    assert article.title == "Zelenskyy: NKorean Officers Deployed Alongside Russians"
    assert article.wire == "Reuters"
    assert article.published == datetime(2024, 10, 17, 17, 13, tzinfo=timezone(timedelta(hours=-4)))
    assert article.published.utcoffset() == timedelta(hours=-4)
    text = article.text
    for junk in (
        "Tags:",
        "Thursday, 17 October 2024",
        "Thomson/Reuters",
        "GlobalTalk",
        "ukraine, russia, war",
        "2024-13-17",
        "Newsmax Media, Inc.",
        "Daily Newsletter",
        "Receive breaking news",
        "Optional for Local News",
        "Privacy:",
        "Join the Newsmax Community",
        "Read and Post Comments",
        "Community Guidelines",
        "TOP",
        "registered trademarks",
        "NEWSMAX.COM",
        "All Rights Reserved",
    ):
        assert junk not in text, junk
    assert text.endswith("including by imposing new sanctions and further isolating Pyongyang.")
    # The GlobalTalk teaser repeats the lede: the lede itself must stay, once.
    assert text.count("Ukraine's president accused North Korea on Thursday") == 1


def test_seed_003_weather_header_and_trending_tail() -> None:
    article = _clean("003_ed9d85bc5fdaf6cb")
    assert article.title == "NATO chief Rutte calls rumours that North Korea is active in Ukraine worrying"
    # The date in the weather widget is the day the page was viewed, not the publication date.
    assert article.published is None
    for junk in ("5.8 C", "Amsterdam\n", "Sunday, January 12, 2025", "What to Read Next", "Trending Stories"):
        assert junk not in article.text
    assert "according to Reuters ." in article.text
    assert article.wire is None  # a mention is not a wire attribution
    assert "North Korea-Russia cooperation has intensified" in article.paragraphs


def test_seed_004_scraper_site_and_captions() -> None:
    article = _clean("004_c660a855ca50e628")
    assert article.title == "Ukraine Issues Update on North Koreans Fighting For Russia"
    assert article.wire is None  # "The Associated Press reported" and an "AP" photo credit
    assert "AP" not in article.paragraphs
    for junk in (
        "N Korean troops",
        "In this photo provided by",
        "Source link",
        "Visited 1 times",
        "Leave a Reply",
        "Your email address will not be published",
    ):
        assert junk not in article.text
    assert "The Associated Press reported." in article.text
    rules = {r.rule for r in article.removed}
    assert {"generic:alt", "generic:caption", "generic:credit", "generic:autoblog"} <= rules
