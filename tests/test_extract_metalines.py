"""newsdedup.extract: byline / dateline / reading-time / source lines, disclaimers, tickers, the light retry,
left-out tables and the one-removal-per-cut log."""

from __future__ import annotations

import pytest

from newsdedup import ExtractConfig, extract
from newsdedup._extract import _meta_line

URL = "https://www.dailyledger.example/markets/2024/03/oil-prices-rise"

STORY = [
    "LONDON (Reuters) - Oil prices rose on Wednesday after producers agreed to hold output steady, "
    "traders said, with Brent crude up 40 cents at $18.20 a barrel.",
    "By the end of the session, volumes were thin, as many dealers stayed away ahead of a long "
    "holiday weekend in Europe and the United States.",
    "Analysts said the agreement, reached late on Tuesday, removed a source of uncertainty that had "
    "weighed on the market for weeks.",
    '"The market had been waiting for this," said one trader in London. "Now the focus shifts to demand."',
]


def _page(article: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Oil prices rise after OPEC talks - Daily Ledger</title>"
        '<meta property="og:site_name" content="Daily Ledger"></head><body>'
        '<header class="site-header"><a href="/">Daily Ledger</a> <a href="/markets">Markets</a></header>'
        f"<main><article>{article}</article></main>"
        '<footer class="site-footer"><p>© 2024 Daily Ledger. All rights reserved.</p></footer>'
        "</body></html>"
    )


def _story_html() -> str:
    return "".join(f"<p>{p}</p>" for p in STORY)


def test_byline_dateline_reading_time_and_source_lines_are_dropped() -> None:
    html = _page(
        "<h1>Oil prices rise after OPEC talks</h1>"
        '<p class="disclaimer">The views expressed in this article are those of the author and do not '
        "necessarily reflect the views of Daily Ledger.</p>"
        '<div class="story-info"><span>Source: Reuters · Mar 25, 1987 15:50 ET</span></div>'
        "<div>Posted 1987-03-25 | 3 min read</div>"
        "<p>By Jane Doe | Reuters | 4 min read</p>" + _story_html()
    )
    article = extract(html, URL)
    assert article.ok
    for leaked in ("Source: Reuters", "Posted 1987", "min read", "Jane Doe", "views expressed"):
        assert leaked not in article.text
    # Story sentences that merely start like a byline stay.
    assert STORY[1] in article.text
    assert article.text.startswith("Oil prices rose on Wednesday")
    cut = [r.text for r in article.removed if r.rule == "dom:byline"]
    assert "Source: Reuters · Mar 25, 1987 15:50 ET" in cut
    assert "By Jane Doe | Reuters | 4 min read" in cut
    assert any("views expressed" in r.text for r in article.removed if r.rule == "dom:footer")
    # With the metadata lines gone the dateline is first again, and the dropped lines still
    # reach the wire detector as hints.
    assert article.wire == "Reuters"


@pytest.mark.parametrize(
    "line",
    [
        "By Jane Doe | Reuters | 4 min read",
        "Source: Reuters · Mar 25, 1987 15:50 ET",
        "Posted 1987-03-25 | 3 min read",
        "By Jane Doe and John Smith",
        "Written by Maria de la Cruz, Staff Writer",
        "Thursday, 28 April 2022 – 3:55pm",
        "19.03.2019 11:45 | von Inga Buller",
        "Von Volkmar Kabisch, Jan Lukas Strozyk und Benedikt Strunz",
        "5 min read",
        "Lesezeit: 4 Minuten",
        "Aug. 16, 2020",
        "Par Jacques Munier",
        "Quelle: dpa-AFX",
        "Daily Ledger | By Jane Doe",
        "2019-11-19T08:57:40+01:00",
    ],
)
def test_metadata_lines_are_recognised(line: str) -> None:
    assert _meta_line(line) is not None


@pytest.mark.parametrize(
    "line",
    [
        "By the end of the session, volumes were thin.",
        "By Monday, the storm had moved east and the roads were open again.",
        "Source of the leak: a cracked pipe under the main road, engineers said.",
        "The vote is on March 3, and results are expected within 24 hours.",
        "1.27 MB",
        "Jane Doe | Daily Ledger",
        "LONDON (Reuters) - Oil prices rose on Wednesday.",
        "Posted by a reader who asked not to be named, this photo went viral within an hour of the storm hitting.",
    ],
)
def test_story_lines_are_not_metadata(line: str) -> None:
    assert _meta_line(line) is None


def test_source_line_names_the_producer() -> None:
    assert _meta_line("Source: Reuters · Mar 25, 1987 15:50 ET") == "Reuters"
    assert _meta_line("By Jane Doe | 4 min read") == ""


def test_story_in_css_hidden_panels_is_found_by_the_light_retry() -> None:
    # A paginated list story: every item is hidden by CSS until a script shows it, so the first
    # structural cut removes all of them; the second attempt keeps hidden elements.
    items = "".join(
        f'<div class="list-item" style="display: none"><h2>{i + 1}.</h2><p>{p}</p></div>'
        for i, p in enumerate(STORY)
    )
    html = _page(
        '<nav class="breadcrumb"><a href="/">Home</a> › <a href="/markets">Markets</a></nav>'
        f'<div class="story-list">{items}</div>'
        "<!-- " + "x" * 2000 + " -->"
    )
    article = extract(html, URL)
    assert article.ok, article.removed
    assert STORY[2] in article.text
    assert "Home" not in article.text  # the light cut still removes navigation
    assert not any(r.rule == "dom:hidden" for r in article.removed)


def test_tables_can_be_left_out() -> None:
    table = (
        "<table><tr><th>Grade</th><th>Price per barrel, in US dollars</th></tr>"
        "<tr><td>Brent crude, front month</td><td>18.20 dollars, up 40 cents on the day</td></tr></table>"
    )
    html = _page(_story_html() + table)
    with_tables = extract(html, URL)
    without = extract(html, URL, config=ExtractConfig(include_tables=False))
    assert "Brent crude, front month" in with_tables.text
    assert "Brent crude, front month" not in without.text
    assert STORY[2] in without.text


def test_a_cut_element_is_logged_once_not_its_nested_widgets_again() -> None:
    sidebar = (
        '<div class="sidebar"><div class="share-bar"><a href="/s">Share on Facebook</a></div>'
        '<div class="newsletter-box"><p>Sign up for our morning briefing</p></div></div>'
    )
    article = extract(_page(_story_html() + sidebar), URL)
    texts = [r.text for r in article.removed]
    assert sum("Share on Facebook" in t for t in texts) == 1
    assert sum("morning briefing" in t for t in texts) == 1
    assert "morning briefing" not in article.text


def test_breaking_news_ticker_is_cut_but_a_breaking_story_is_kept() -> None:
    ticker = (
        '<div class="breaking-news"><div class="breaking-title"><b>Breaking News</b></div><ul>'
        '<li><a href="/a">Court delays ruling on port expansion</a> The decision is now expected next week.</li>'
        '<li><a href="/b">Storm warning for the north coast</a> Forecasters expect gusts of up to 90 km/h.</li>'
        "</ul></div>"
    )
    article = extract(_page(ticker + _story_html()), URL)
    assert "Storm warning" not in article.text
    assert any("Storm warning" in r.text for r in article.removed if r.rule == "dom:related")
    assert STORY[2] in article.text
    # The same class on the story itself: it is the article container and is protected.
    story = extract(_page(f'<div class="breaking-news">{_story_html()}</div>'), URL)
    assert STORY[2] in story.text
