"""Page metadata: JSON-LD parsing (broken, @graph, lists, nested types), meta tags, titles, dates."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from selectolax.lexbor import LexborHTMLParser

from newsdedup import extract
from newsdedup._metadata import parse_date, parse_json_ld, read_metadata, trim_title

BODY = "<p>" + "The committee met on Monday to discuss the budget, and agreed on most points. " * 4 + "</p>"


def _meta(html: str, url: str | None = "https://news.example.com/a/1"):
    return read_metadata(LexborHTMLParser(html), url)


# --------------------------------------------------------------------------- JSON-LD


def test_json_ld_graph_with_type_list_and_nested_people() -> None:
    doc = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebPage", "name": "Page name, not the headline", "inLanguage": "de"},
            {
                "@type": ["NewsArticle"],
                "headline": "Budget agreed",
                "datePublished": "2021-05-04T10:00:00+02:00",
                "author": [{"@type": "Person", "name": "Anna Berg"}, "Jonas Frey", {"@id": "#no-name"}],
                "publisher": {
                    "@type": "Organization",
                    "name": "Tagesblatt",
                    "logo": {"@type": "ImageObject"},
                },
                "articleBody": "Full body text.",
                "isPartOf": {"@type": "CreativeWork", "copyrightHolder": {"name": "Tagesblatt Verlag GmbH"}},
            },
        ],
    }
    info = parse_json_ld([json.dumps(doc)])
    assert info.headline == "Budget agreed"
    assert info.authors == ("Anna Berg", "Jonas Frey")
    assert info.publisher == "Tagesblatt"
    assert info.published == datetime(2021, 5, 4, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    assert info.article_body == "Full body text."
    assert info.lang == "de"
    assert "Tagesblatt Verlag GmbH" in info.hints
    assert "Anna Berg" in info.hints


def test_json_ld_tolerates_broken_scripts() -> None:
    broken = [
        '{"@type": "NewsArticle", "headline": "Trailing comma", "author": {"name": "A. Writer"},}',
        "<!-- {\"@type\": 'oops' -->",
        "not json at all {",
        "",
    ]
    info = parse_json_ld(broken)
    assert info.headline == "Trailing comma"
    assert info.authors == ("A. Writer",)


def test_json_ld_raw_newlines_comment_wrapper_and_concatenated_objects() -> None:
    raw = '<!--\n{"@type": "BreadcrumbList"}\n{"@type": "Article", "headline": "Two\nlines", "articleBody": "Line one\nLine two"}\n-->'
    info = parse_json_ld([raw])
    assert info.headline == "Two lines"
    assert info.article_body == "Line one\nLine two"


def test_json_ld_prefers_article_types_and_bodies() -> None:
    scripts = [
        json.dumps({"@type": "WebPage", "name": "Site home", "description": "page"}),
        json.dumps(
            [{"@type": "Organization", "name": "Org"}, {"@type": "BlogPosting", "headline": "Post title"}]
        ),
    ]
    info = parse_json_ld(scripts)
    assert info.headline == "Post title"


def test_json_ld_walk_is_bounded_on_deep_nesting() -> None:
    # json.loads recursion would fail on this depth; the parser must just skip it, not raise.
    text = json.dumps({"@type": "NewsArticle", "headline": "Flat"}) + "\n" + "[" * 100_000 + "]" * 100_000
    info = parse_json_ld([text])
    assert info.headline in ("Flat", "")


# --------------------------------------------------------------------------- titles and dates


@pytest.mark.parametrize(
    ("title", "site", "expected"),
    [
        ("Budget agreed after long talks | Tagesblatt", "Tagesblatt", "Budget agreed after long talks"),
        ("Tagesblatt - Budget agreed after long talks", "Tagesblatt", "Budget agreed after long talks"),
        ("Budget agreed – Politics – Tagesblatt", "Tagesblatt", "Budget agreed – Politics"),
        ("Biden - Trump debate: what we learned", None, "Biden - Trump debate: what we learned"),
        ("A long enough headline here | Some Site", None, "A long enough headline here"),
        ("Short | Site", None, "Short | Site"),
        ("  Spaces   inside\n title ", None, "Spaces inside title"),
    ],
)
def test_trim_title(title: str, site: str | None, expected: str) -> None:
    assert trim_title(title, site) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-11-18T10:45:00Z", datetime(2019, 11, 18, 10, 45, tzinfo=UTC)),
        ("2019-11-18T10:45:00.000+0000", datetime(2019, 11, 18, 10, 45, tzinfo=UTC)),
        ("Mon, 18 Nov 2019 10:45:00 GMT", datetime(2019, 11, 18, 10, 45, tzinfo=UTC)),
        ("2019/11/18 10:45", datetime(2019, 11, 18, 10, 45)),
        ("2019-11-18", datetime(2019, 11, 18)),
        ("yesterday", None),
        ("2019-13-45", None),
        ("", None),
        (None, None),
        (12345, None),
    ],
)
def test_parse_date(value: object, expected: datetime | None) -> None:
    assert parse_date(value) == expected


# --------------------------------------------------------------------------- whole pages


def test_meta_tags_when_there_is_no_json_ld() -> None:
    html = f"""<html><head>
    <title>Rail strike called off | Daily Courier</title>
    <meta property="og:site_name" content="Daily Courier">
    <meta name="description" content="Unions and operators reached a deal overnight.">
    <meta name="author" content="By Sam Hill and Jo Park">
    <meta name="pubdate" content="2020-02-03T08:00:00Z">
    <meta property="og:locale" content="en_US">
    <link rel="canonical" href="/rail/strike-called-off">
    </head><body><h1>Rail strike is called off</h1>{BODY}</body></html>"""
    meta = _meta(html, "https://www.courier.example/rail/strike-called-off?ref=home")
    assert meta.title == "Rail strike is called off"  # the page's h1 beats <title>
    assert meta.site == "Daily Courier"
    assert meta.canonical_url == "https://www.courier.example/rail/strike-called-off"
    assert meta.authors == ("Sam Hill", "Jo Park")
    assert meta.published == datetime(2020, 2, 3, 8, 0, tzinfo=UTC)
    assert meta.lang == "en-US"
    assert meta.description == "Unions and operators reached a deal overnight."
    assert "Daily Courier" in meta.hints


def test_title_tag_is_trimmed_when_nothing_better_exists() -> None:
    html = (
        f"<html><head><title>Rail strike called off | Daily Courier</title></head><body>{BODY}</body></html>"
    )
    assert _meta(html).title == "Rail strike called off"


def test_h1_and_time_element_fallbacks_and_host_as_site() -> None:
    html = f"""<html><head><title>ignored because h1 exists</title></head><body>
    <h1>Council approves new park</h1><time datetime="2022-07-01T12:30:00+01:00">1 July</time>{BODY}</body></html>"""
    meta = _meta(html, "https://www.localnews.example/parks/1")
    assert meta.title == "Council approves new park"
    assert meta.published == datetime(2022, 7, 1, 12, 30, tzinfo=timezone(timedelta(hours=1)))
    assert meta.site == "localnews.example"
    assert meta.canonical_url is None
    assert meta.lang is None


def test_unsafe_or_relative_canonical_without_base_is_dropped() -> None:
    html = f'<html><head><link rel="canonical" href="javascript:alert(1)"></head><body>{BODY}</body></html>'
    assert _meta(html).canonical_url is None
    html = f'<html><head><meta property="og:url" content="/relative/only"></head><body>{BODY}</body></html>'
    assert _meta(html, None).canonical_url is None


def test_dateline_and_copyright_notices_become_hints() -> None:
    html = f"""<html><head><meta name="copyright" content="Copyright 2020 Reuters"></head><body>
    <span class="dateline">LONDON (Reuters) -</span>{BODY}
    <div class="copyright-notice">© Thomson Reuters 2020</div></body></html>"""
    hints = _meta(html).hints
    assert "Copyright 2020 Reuters" in hints
    assert "LONDON (Reuters) -" in hints
    assert "© Thomson Reuters 2020" in hints


def test_metadata_flows_into_the_article() -> None:
    ld = json.dumps(
        {"@type": "NewsArticle", "headline": "From JSON-LD", "datePublished": "2018-01-02T03:04:05Z"}
    )
    html = f'<html lang="fr"><head><script type="application/ld+json">{ld}</script></head><body>{BODY}</body></html>'
    article = extract(html, "https://www.exemple.fr/x")
    assert article.title == "From JSON-LD"
    assert article.published == datetime(2018, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert article.lang == "fr"
    assert article.site == "exemple.fr"


def test_json_ld_scripts_found_anywhere_and_marked_elements_only_in_the_body() -> None:
    ld = json.dumps({"@type": "NewsArticle", "headline": "Budget agreed", "author": {"name": "Ana Lima"}})
    html = f"""<html><head><title class="credit">Head title credit</title>
    <script type="Application/LD+JSON" class="copyright">{ld}</script></head><body>
    <p class="Byline-CREDIT">Photo: Jane Roe</p>{BODY}
    <div class="copyright">© Daily Courier 2021</div><div class="copyright">second notice</div></body></html>"""
    meta = _meta(html)
    assert meta.title == "Budget agreed"
    assert meta.authors == ("Ana Lima",)
    assert "Photo: Jane Roe" in meta.hints
    assert "© Daily Courier 2021" in meta.hints
    assert "Head title credit" not in meta.hints
    assert "second notice" not in meta.hints


def test_lang_comes_from_the_root_element() -> None:
    assert _meta(f'<html lang=" pt_BR "><head></head><body>{BODY}</body></html>').lang == "pt-BR"
    assert _meta(f'<html xml:lang="fr"><body>{BODY}</body></html>').lang == "fr"
    assert _meta(f"<p>{BODY}</p>").lang is None
