"""Bot-challenge and paywall pages (Cloudflare, DataDome, PerimeterX / HUMAN, paywall stubs)
served by several hosts are ``junk-page`` errors, not a cross-site cluster; short news stories
that talk about (and quote) such pages are articles.

The fixtures under ``fixtures/junk`` are invented pages in the shape these services serve:
``*.html`` as fetched, ``*.txt`` as a text record carries them (the page as a browser shows it);
``__HOST__`` and ``__RAY__`` are filled in per host. ``fixtures/junk/articles`` holds short
invented news stories about outages, bot checks and paywalls."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

import newsdedup
from newsdedup import Article, Deduplicator, ErrorRecord, extract
from newsdedup._boilerplate import ascii_fold_lower
from newsdedup._cli import main
from newsdedup._records import _JUNK_PAGE, _JUNK_PAGE_FOLDED, _JUNK_PAGE_MAX_CHARS, junk_page_reason

JUNK = Path(__file__).parent / "fixtures" / "junk"
ARTICLES = sorted((JUNK / "articles").glob("*.txt"))
TEXT_PAGES = sorted(JUNK.glob("*.txt"))
HOSTS = {
    "www.ridgeline-gazette.com": "8e6b1d2f9c0a4e37",
    "news.harborview-daily.net": "8e6b1d3a77c24f10",
    "www.lakeshoretimes.org": "8e6b1d4c0b9e2a5d",
    "eveningpost.example.co.uk": "8e6b1d51f3a86c02",
}
# What the fetched page gives: the extractor keeps the challenge text of some pages (then the
# junk check must catch it) and finds no main text in others (an error either way).
HTML_PAGES = {
    "cloudflare_managed_challenge.html": "junk-page",
    "cloudflare_connection_check.html": "junk-page",
    "perimeterx_access_denied.html": "junk-page",
    "perimeterx_press_and_hold.html": "no-main-text",
    "datadome_block.html": "no-main-text",
    "paywall_exclusive.html": "junk-page",
    "paywall_meter.html": "no-main-text",
}


def _fill(template: str, host: str) -> str:
    return template.replace("__HOST__", host).replace("__RAY__", HOSTS[host])


def _article_records() -> list[dict[str, str]]:
    return [
        {
            "id": p.stem,
            "url": f"https://www.valleycourier.example/news/{p.stem}",
            "text": p.read_text("utf-8"),
        }
        for p in ARTICLES
    ]


def _page_records(name: str) -> list[dict[str, str]]:
    """The page as served by every host, each time for a different story of that host's feed."""
    template = (JUNK / name).read_text(encoding="utf-8")
    field = "html" if name.endswith(".html") else "text"
    return [
        {
            "id": f"https://{host}/news/2024/11/story-{n}",
            "url": f"https://{host}/news/2024/11/story-{n}",
            "title": f"Council approves flood plan, part {n}",
            field: _fill(template, host),
        }
        for n, host in enumerate(HOSTS)
    ]


def _clustered_ids(clusters: list[newsdedup.Cluster]) -> set[str]:
    return {m for c in clusters for m in c.member_ids}


def test_fixtures_are_there() -> None:
    assert len(ARTICLES) == 3
    assert len(TEXT_PAGES) >= 7
    assert {p.name for p in JUNK.glob("*.html")} == set(HTML_PAGES)


@pytest.mark.parametrize("page", TEXT_PAGES, ids=lambda p: p.stem)
def test_challenge_and_paywall_text_from_four_hosts_is_junk_not_a_cluster(page: Path) -> None:
    """``newsdedup.dedup`` on text records (as ``newsdedup dedup`` reads them), next to real
    stories: every host's copy is a ``junk-page`` error and none of them is in the output."""
    pages = _page_records(page.name)
    errors: list[ErrorRecord] = []
    clusters = newsdedup.dedup([*pages, *_article_records()], errors=errors)
    assert {(e.id, e.reason) for e in errors} == {(r["id"], "junk-page") for r in pages}
    assert _clustered_ids(clusters) == {p.stem for p in ARTICLES}


@pytest.mark.parametrize(("name", "reason"), sorted(HTML_PAGES.items()))
def test_challenge_and_paywall_pages_from_four_hosts_are_errors_not_a_cluster(name: str, reason: str) -> None:
    """HTML records (``newsdedup dedup``) and extracted articles handed to a
    :class:`Deduplicator` (what the crawler does) take the same check."""
    pages = _page_records(name)
    errors: list[ErrorRecord] = []
    clusters = newsdedup.dedup([*pages, *_article_records()], errors=errors)
    assert {(e.id, e.reason) for e in errors} == {(r["id"], reason) for r in pages}
    assert _clustered_ids(clusters) == {p.stem for p in ARTICLES}

    if reason == "junk-page":
        deduper = Deduplicator()
        crawled = []
        for record in pages:
            article = extract(record["html"], url=record["url"])
            assert article.text.strip()
            crawled.append(
                Article(id=record["url"], url=record["url"], text=article.text, title=article.title)
            )
        decisions = deduper.add_many(crawled)
        assert [(d.status, d.reason) for d in decisions] == [("error", "junk-page")] * len(HOSTS)
        assert deduper.clusters() == []


def test_the_command_writes_every_host_s_challenge_page_to_the_errors_file(tmp_path: Path) -> None:
    """``newsdedup dedup`` end to end: one input with every family from four hosts (text and
    HTML records) and the three stories; the errors file names every page, the output holds
    the stories only."""
    names = [p.name for p in TEXT_PAGES] + [n for n, reason in HTML_PAGES.items() if reason == "junk-page"]
    pages = [{**r, "id": r["id"] + "#" + name} for name in names for r in _page_records(name)]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in [*pages, *_article_records()]), encoding="utf-8")
    out, err = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    result = CliRunner().invoke(main, ["dedup", str(src), "-o", str(out), "--errors", str(err)])
    assert result.exit_code == 0, result.output
    errors = [json.loads(line) for line in err.read_text(encoding="utf-8").splitlines()]
    assert sorted((e["id"], e["reason"]) for e in errors) == sorted((r["id"], "junk-page") for r in pages)
    output = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(m for row in output for m in row["member_ids"]) == [p.stem for p in ARTICLES]


@pytest.mark.parametrize("story", ARTICLES, ids=lambda p: p.stem)
def test_short_stories_about_outages_bot_checks_and_paywalls_are_articles(story: Path) -> None:
    """Each story is short enough for the check to read it (the length limit does not save it)
    and names the pages' words in its prose or quotes them: it is not junk, alone or in a run."""
    text = story.read_text(encoding="utf-8")
    assert len(text.strip()) <= _JUNK_PAGE_MAX_CHARS
    assert junk_page_reason(Article(id="a", text=text)) is None
    errors: list[ErrorRecord] = []
    records = [{"id": story.stem, "text": text, "url": "https://www.valleycourier.example/news/1"}]
    assert _clustered_ids(newsdedup.dedup(records, errors=errors)) == {story.stem}
    assert errors == []


# One page line per new pattern alternative: each alone makes a short text junk.
PAGE_LINES = [
    "Verifying you are human. This may take a few seconds.",
    "www.ridgeline-gazette.com needs to review the security of your connection before proceeding.",
    "Ray ID: 8e6b1d2f9c0a4e37",
    "Performance & security by Cloudflare",
    "Please enable JS and disable any ad blocker",
    "Press & Hold to confirm you are a human (and not a bot).",
    "We believe you are using automation tools to browse the website.",
    "This content is available exclusively to subscribers",
    "This article is only available to paying subscribers.",
    "You have reached your limit of free articles",
    "You\u2019ve reached your free article limit.",
    "Already a subscriber? Log in",
    "Already a subscriber? Sign in",
]


@pytest.mark.parametrize("line", PAGE_LINES)
def test_each_page_line_alone_makes_a_short_text_junk(line: str) -> None:
    assert junk_page_reason(Article(id="x", text=line)) == "junk-page"
    assert junk_page_reason(Article(id="x", text=line.upper() + " \u2014 \u00fc")) == "junk-page"
    assert junk_page_reason(Article(id="x", text="A story.", title=line)) == "junk-page"
    # the phrase quoted from its start in a sentence of a story is not the page speaking
    match = _JUNK_PAGE.search(line)
    assert match is not None
    for open_, close in ('""', "\u201c\u201d", "''", "\u2018\u2019", "\u00ab\u00bb"):
        quoted = f"Readers said the site showed them {open_}{line[match.start() :]}{close} all morning."
        assert junk_page_reason(Article(id="x", text=quoted)) is None, quoted


@pytest.mark.parametrize(
    "text",
    [
        "Cloudflare shares rose after the company said its security business grew 30 percent.",
        "Press and hold the power button for ten seconds to reset the router.",
        "The paper has 40,000 digital subscribers and wants to reach 60,000 by 2026.",
        "Subscribers can read the full report on our website.",
        "The ray identified by divers was 2 metres across.",
        "She reached the limit of what the old bridge could carry.",
    ],
)
def test_the_families_words_in_plain_prose_are_not_junk(text: str) -> None:
    assert junk_page_reason(Article(id="x", text=text)) is None


@pytest.mark.parametrize(
    "player",
    [
        "Please enable JavaScript to watch this video",
        "To view this video please enable JavaScript, and consider upgrading to a web browser that"
        " supports HTML5 video",
        "Please enable JavaScript to view the comments powered by Disqus.",
    ],
)
def test_a_player_placeholder_left_in_a_short_story_is_not_junk(player: str) -> None:
    """Video and comment players say "enable JavaScript" too: a short story that kept that line
    is an article, while a page that asks for JavaScript (and cookies) to go on is junk."""
    story = (
        "Two teenagers have spent their weekends clearing litter from riverside parks, and say"
        " more than 40 neighbours have now joined them.\n\n" + player + "\n\nThe group meets"
        " every Saturday at 9am and the city has offered gloves, bags and a skip."
    )
    assert junk_page_reason(Article(id="x", text=story)) is None
    for page in ("Enable JavaScript and cookies to continue", "Please enable JavaScript to continue."):
        assert junk_page_reason(Article(id="x", text=page)) == "junk-page"


def test_the_folded_pattern_finds_what_the_case_insensitive_one_finds_on_the_new_lines() -> None:
    """The new alternatives hold punctuation ("&", "?", ".", an apostrophe), a class of hex
    digits, ``\\s`` and ``\\d``, and the whole pattern a lookbehind for quotation marks: on
    mixed-case text with characters that fold to ASCII, and behind quotation marks, the
    folded search must agree with the case-insensitive one."""
    rng = random.Random(11)
    odd = "\u0130\u0131\u017f\u212a\u00c0\u00e9\u00df\u1e9e\u01c5\u0307 "
    prefixes = ["", "x ", '"', "\u201c", "\u2018", "'", "\u00ab", "(", "\u0130"]
    hits = 0
    for _ in range(4000):
        chars = list(rng.choice(PAGE_LINES))
        for i in rng.sample(range(len(chars)), 3):
            chars[i] = rng.choice([chars[i].upper(), rng.choice(odd), chars[i]])
        text = rng.choice(prefixes) + "".join(chars)
        found = bool(_JUNK_PAGE.search(text))
        hits += found
        assert bool(_JUNK_PAGE_FOLDED.search(ascii_fold_lower(text))) == found, text
    assert 500 < hits < 3900  # both outcomes are exercised
