"""newsdedup.extract on realistic pages: main text, structural removals, JSON-LD choice, rule hooks."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborHTMLParser

import newsdedup._extract as extract_module
from newsdedup import Article, ConfigError, ExtractConfig, Removal, extract
from newsdedup._boilerplate import CleanResult

HERE = Path(__file__).parent / "fixtures" / "extract"
NEWS_URL = "https://www.coastalherald.example/news/2024/03/harbour-bridge-closed?utm=1"


def _news_page() -> bytes:
    return (HERE / "news_page.html").read_bytes()


def _shingle_f1(gold: str, pred: str, n: int = 4) -> float:
    def grams(text: str) -> Counter[str]:
        tokens = re.findall(r"\w+", text)
        return Counter(" ".join(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)))

    g, p = grams(gold), grams(pred)
    tp = sum((g & p).values())
    if tp == 0:
        return 0.0
    precision, recall = tp / sum(p.values()), tp / sum(g.values())
    return 2 * precision * recall / (precision + recall)


def _page(body: str, head: str = "", lang: str = "en") -> str:
    return f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">{head}</head><body>{body}</body></html>'


PARAS = [
    "The regional parliament approved the new water management plan on Tuesday, after a debate that lasted well into the night.",
    "Under the plan, farms in the valley will have to cut their use of groundwater by a fifth over the next ten years, while towns must fix leaking pipes.",
    "Opposition members said the targets were too weak, but the farming union warned that many small farms would struggle to meet them at all.",
    "The environment minister said the plan would be reviewed every two years, and that money from the national recovery fund would help pay for new pipes.",
]


# --------------------------------------------------------------------------- the hand-written news page


def test_news_page_body_text_is_the_story_only() -> None:
    article = extract(_news_page(), NEWS_URL)
    assert isinstance(article, Article)
    assert article.ok
    assert article.reason is None
    assert article.source_format == "html"
    text = article.text
    assert text.startswith("The Harbour Bridge was closed to all traffic on Thursday morning")
    assert "A full report on the inspection is expected to be published next week." in text
    assert "Diversions in place" in text  # a subheading inside the body is kept
    for junk in (
        "We use cookies",
        "Puzzles",
        "Home › News",
        "Share on Facebook",
        "Photograph: Herald archive",
        "Sign up for our free newsletter",
        "Advertisement",
        "Tags:",
        "Coast road repairs",
        "I drive across that bridge",
        "Local bakery wins",
        "All rights reserved",
        "By Priya Raman",
    ):
        assert junk not in text, junk
    # The headline is metadata, not body text.
    assert not text.startswith("Harbour bridge closed")


def test_news_page_paragraphs_are_separated_by_one_blank_line() -> None:
    article = extract(_news_page(), NEWS_URL)
    paragraphs = article.paragraphs
    assert "\n\n\n" not in article.text
    assert len(paragraphs) == 7  # 5 <p>, one <h2>, and the <br><br> split of the last <p>
    assert paragraphs[-1] == "A full report on the inspection is expected to be published next week."
    assert all(p == p.strip() and "  " not in p for p in paragraphs)


def test_news_page_metadata() -> None:
    article = extract(_news_page(), NEWS_URL)
    assert article.url == NEWS_URL
    assert article.canonical_url == "https://www.coastalherald.example/news/2024/03/harbour-bridge-closed"
    assert article.site == "The Coastal Herald"
    assert article.title == "Harbour bridge closed after cracks found in main span"
    assert article.published == datetime(2024, 3, 14, 9, 30, tzinfo=UTC)
    assert article.authors == ("Priya Raman", "Tom Ellis")
    assert article.lang == "en-GB"
    assert (
        article.description
        == "Engineers found hairline cracks in two steel girders during a routine inspection."
    )


def test_news_page_records_structural_removals() -> None:
    article = extract(_news_page(), NEWS_URL)
    rules = {r.rule for r in article.removed}
    for rule in (
        "dom:nav",
        "dom:share",
        "dom:related",
        "dom:cookie",
        "dom:newsletter",
        "dom:comments",
        "dom:caption",
        "dom:footer",
        "dom:byline",
        "dom:ad",
    ):
        assert rule in rules, rule
    assert all(isinstance(r, Removal) and len(r.text) <= 200 for r in article.removed)
    cookie = next(r for r in article.removed if r.rule == "dom:cookie")
    assert cookie.text.startswith("We use cookies")
    long_cut = next(r for r in article.removed if r.rule == "dom:comments")
    assert long_cut.text.endswith("…")  # shortened, not the whole section


def test_include_comments_keeps_comment_section_out_of_the_removal_log() -> None:
    article = extract(_news_page(), NEWS_URL, config=ExtractConfig(include_comments=True))
    assert "dom:comments" not in {r.rule for r in article.removed}


def test_to_dict_round_trip() -> None:
    article = extract(_news_page(), NEWS_URL)
    again = Article.from_dict(json.loads(json.dumps(article.to_dict())))
    assert again == article


# --------------------------------------------------------------------------- main-text detection


def test_body_split_over_several_boxes_is_collected() -> None:
    boxes = "".join(
        f'<div class="story-box"><div class="inner"><p>{p}</p></div></div><div class="ad-break"><span>Advertisement</span></div>'
        for p in PARAS
    )
    html = _page(
        f'<div class="top"><a href="/">Home</a> <a href="/x">World</a></div><section class="story">{boxes}</section>'
    )
    article = extract(html, "https://example.org/story")
    assert article.paragraphs == PARAS


def test_text_in_div_and_br_soup_is_found() -> None:
    body = "<br><br>".join(f'<span style="font-size:small">{p}</span>' for p in PARAS)
    links = "".join(
        f'<li><a href="/p{i}">Popular post number {i} with a long enough title</a></li>' for i in range(8)
    )
    html = _page(f'<div class="post-body entry">{body}</div><div class="links"><ul>{links}</ul></div>')
    article = extract(html)
    assert article.paragraphs == PARAS


def test_link_lists_inside_the_body_are_dropped() -> None:
    related = '<p><a href="/a">Read: Minister resigns over budget row</a></p>'
    body = f"<p>{PARAS[0]}</p><p>{PARAS[1]}</p>{related}<p>{PARAS[2]}</p>"
    article = extract(_page(f"<article>{body}</article>"))
    assert "Minister resigns" not in article.text
    assert any(r.rule == "dom:links" and "Minister resigns" in r.text for r in article.removed)


def test_class_keywords_are_matched_as_words_not_substrings() -> None:
    # "status-publish" and "has-sidebar" must not be read as a byline or a sidebar.
    body = "".join(f"<p>{p}</p>" for p in PARAS)
    html = _page(
        f'<div class="post status-publish has-sidebar"><div class="entry-content">{body}</div></div>'
    )
    assert extract(html).paragraphs == PARAS


def test_wrapper_with_boilerplate_class_holding_the_article_is_kept() -> None:
    body = "".join(f"<p>{p}</p>" for p in PARAS)
    html = _page(
        f'<nav><a href="/">Home</a></nav><section class="article__content js-truncate-related">{body}</section>'
        '<div class="related"><p><a href="/z">Another story about something else entirely</a></p></div>'
    )
    article = extract(html)
    assert article.paragraphs == PARAS


# --------------------------------------------------------------------------- JSON-LD articleBody vs DOM


def _ld(body: str, extra: str = "") -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": "Water plan",
        "articleBody": body,
    }
    return f'<script type="application/ld+json">{json.dumps(data)}</script>{extra}'


def test_json_ld_body_used_when_the_dom_only_shows_a_teaser() -> None:
    full = "\n\n".join(PARAS)
    # Paywalled page: the DOM shows only the first paragraph; the page data has the whole body.
    html = _page(
        f"<article><p>{PARAS[0]}</p><div class='paywall'>Subscribe to read more</div></article>", _ld(full)
    )
    article = extract(html)
    assert article.paragraphs == PARAS


def test_dom_used_when_json_ld_body_is_not_on_the_page() -> None:
    foreign = " ".join(["An entirely different text about football results and league tables."] * 6)
    html = _page("<article>" + "".join(f"<p>{p}</p>" for p in PARAS) + "</article>", _ld(foreign))
    article = extract(html)
    assert article.paragraphs == PARAS
    assert "football" not in article.text


def test_dom_used_when_json_ld_body_is_a_truncated_teaser() -> None:
    teaser = PARAS[0] + " " + PARAS[1][:40] + "..."
    html = _page("<article>" + "".join(f"<p>{p}</p>" for p in PARAS) + "</article>", _ld(teaser))
    assert extract(html).paragraphs == PARAS


def test_json_ld_body_with_html_markup_is_parsed() -> None:
    marked = "".join(f"<p>{p}</p>" for p in PARAS)
    html = _page(f"<article><p>{PARAS[0]}</p></article>", _ld(marked))
    article = extract(html)
    assert article.paragraphs == PARAS
    assert "<p>" not in article.text


def test_json_ld_can_be_switched_off() -> None:
    full = "\n\n".join(PARAS)
    html = _page(f"<article><p>{PARAS[0]}</p><p>{PARAS[1]}</p></article>", _ld(full))
    assert extract(html).paragraphs == PARAS
    assert extract(html, config=ExtractConfig(use_json_ld=False)).paragraphs == PARAS[:2]


# --------------------------------------------------------------------------- the publisher-rule stage


def test_clean_blocks_receives_blocks_and_hints_and_its_result_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}

    def fake_clean_blocks(blocks: Sequence[str], **kwargs: Any) -> CleanResult:
        seen["blocks"] = list(blocks)
        seen.update(kwargs)
        kept = [b for b in blocks if not b.startswith("Buses")]
        return CleanResult(kept, [Removal(rule="test:rule", text="Buses ...")], "Reuters")

    monkeypatch.setattr(extract_module, "clean_blocks", fake_clean_blocks)
    article = extract(_news_page(), NEWS_URL)
    assert seen["blocks"][0].startswith("The Harbour Bridge was closed")
    assert seen["url"] == NEWS_URL
    assert seen["title"] == "Harbour bridge closed after cracks found in main span"
    assert seen["authors"] == ("Priya Raman", "Tom Ellis")
    assert "Herald Media Group" in seen["hints"]  # JSON-LD copyrightHolder
    assert "The Coastal Herald" in seen["hints"]
    assert article.wire == "Reuters"
    assert "Buses that normally cross" not in article.text
    assert article.removed[-1] == Removal(rule="test:rule", text="Buses ...")
    assert any(r.rule.startswith("dom:") for r in article.removed)  # structural cuts come first


def test_publisher_dom_selectors_are_removed_before_scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str | None, int]] = []

    def fake_dom_selectors(url: str | None, html: str, *, rules: Any = None) -> list[str]:
        calls.append((url, len(html)))
        return ["div.story-body > p:nth-of-type(2)", "p:::broken selector"]

    monkeypatch.setattr(extract_module, "dom_selectors", fake_dom_selectors)
    article = extract(_news_page(), NEWS_URL)
    assert calls
    assert calls[0][0] == NEWS_URL
    assert "The cracks were discovered" not in article.text
    assert any(
        r.rule == "rules:dom" and r.text.startswith("The cracks were discovered") for r in article.removed
    )
    assert article.ok  # the broken selector was skipped, not fatal


# --------------------------------------------------------------------------- real pages (copied from the eval sets)


def _aeb_cases() -> list[tuple[str, dict[str, str]]]:
    gold = json.loads((HERE / "aeb_gold.json").read_text("utf-8"))
    return sorted(gold.items())


@pytest.mark.parametrize(("page_id", "gold"), _aeb_cases(), ids=[c[0] for c in _aeb_cases()])
def test_scrapinghub_pages_match_gold_body(page_id: str, gold: dict[str, str]) -> None:
    html = gzip.decompress((HERE / f"aeb_{page_id}.html.gz").read_bytes())
    article = extract(html, gold["url"])
    assert _shingle_f1(gold["articleBody"], article.text) >= 0.95
    assert article.title
    assert article.site


def _traf_cases() -> list[tuple[str, dict[str, Any]]]:
    gold = json.loads((HERE / "traf_gold.json").read_text("utf-8"))
    return sorted(gold.items())


@pytest.mark.parametrize(("name", "gold"), _traf_cases(), ids=[c[0] for c in _traf_cases()])
def test_trafilatura_eval_pages_keep_and_drop_the_right_snippets(name: str, gold: dict[str, Any]) -> None:
    html = gzip.decompress((HERE / f"traf_{name}.gz").read_bytes())
    text = extract(html, gold["url"]).text
    for snippet in gold["with"]:
        assert snippet in text
    for snippet in gold["without"]:
        assert snippet not in text


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_bytes", 0),
        ("max_bytes", -5),
        ("max_nodes", "many"),
        ("min_text_chars", 1.5),
        ("max_link_density", 1.5),
        ("max_link_density", True),
        ("include_comments", "yes"),
        ("use_json_ld", 1),
    ],
)
def test_bad_config_raises_config_error_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=field):
        ExtractConfig(**{field: value})


def test_config_is_frozen_and_keyword_only() -> None:
    config = ExtractConfig(max_bytes=1000)
    with pytest.raises(AttributeError):
        config.max_bytes = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        ExtractConfig(1000)  # type: ignore[misc]


def test_min_text_chars_turns_a_stub_into_no_main_text() -> None:
    html = _page(f"<article><p>{PARAS[0]}</p></article>")
    assert extract(html).ok
    short = extract(html, config=ExtractConfig(min_text_chars=500))
    assert short.text == ""
    assert short.reason == "no-main-text"
    assert short.title == "" or isinstance(short.title, str)


# --------------------------------------------------------------------------- text details


def test_soft_hyphens_and_zero_width_spaces_are_removed() -> None:
    body = (
        "".join(f"<p>{p}</p>" for p in PARAS)
        .replace("parliament", "par\u00adlia\u00adment")
        .replace("groundwater", "ground\u200bwater")
    )
    article = extract(_page(f"<article>{body}</article>"))
    assert article.paragraphs == PARAS


def test_standfirst_outside_the_body_container_is_included() -> None:
    lead = "Farms and towns must use less water under a plan passed after a night-long debate."
    body = "".join(f"<p>{p}</p>" for p in PARAS)
    html = _page(
        f'<article><header><h1>Water plan</h1><p class="article-lead">{lead}</p></header>'
        f'<div class="article-body">{body}</div></article>'
    )
    article = extract(html)
    assert article.paragraphs == [lead, *PARAS]


def test_dateline_stays_in_the_first_paragraph() -> None:
    # A place dateline is part of the lead (wire attributions are the rule stage's business).
    body = f'<p><span class="dateline">KOBE –</span> {PARAS[0]}</p>' + "".join(
        f"<p>{p}</p>" for p in PARAS[1:]
    )
    article = extract(_page(f"<article>{body}</article>"))
    assert article.paragraphs[0] == f"KOBE – {PARAS[0]}"


def test_widget_headings_and_timestamps_are_dropped() -> None:
    body = "".join(f"<p>{p}</p>" for p in PARAS)
    html = _page(
        f"<article><p>Aktualisiert am 03.04.2020, 14:05 Uhr</p>{body}"
        "<p>Das könnte Sie auch interessieren!</p><h3>Teilnehmende Blogs</h3></article>"
    )
    article = extract(html)
    assert article.paragraphs == PARAS
    rules = {r.rule for r in article.removed}
    assert {"dom:byline", "dom:widget", "dom:orphan-heading"} <= rules


@pytest.mark.parametrize(
    ("words", "rule"),
    [
        ("article-share-bar", "dom:share"),
        ("sharedaddy sd-sharing-enabled", "dom:share"),
        ("timeshare-offers", None),
        ("status-publish format-standard", None),
        ("most-read", "dom:related"),
        ("mostread", "dom:related"),
        ("div-gpt-ad-123", "dom:ad"),
        ("adsbygoogle", "dom:ad"),
        ("address header-wrap", "dom:header"),
        ("navy-blue", None),
        ("full news commentary", None),
        ("comment-list", "dom:comments"),
        ("non-paywall", None),
        ("has-sidebar", None),
        ("js-truncate-related-to-my-size", None),
        ("shareholder-letter", None),
    ],
)
def test_class_words_classification(words: str, rule: str | None) -> None:
    from newsdedup._extract_rules import _rule_for_words

    assert _rule_for_words(words) == rule


def test_page_wrapped_in_noscript_is_read_and_tracking_noscripts_are_dropped() -> None:
    body = "".join(f"<p>{p}</p>" for p in PARAS)
    html = _page(
        '<noscript><img src="/pixel.gif"> Please enable JavaScript.</noscript>'
        f'<noscript><div id="nojs-page"><div class="text">{body}</div></div></noscript>'
    )
    article = extract(html)
    assert article.paragraphs == PARAS


# --------------------------------------------------------------------------- fast paths keep the reference behaviour


def _strip_reference(tree: LexborHTMLParser) -> None:
    """The straightforward form of the strip step: every noscript first, then tag by tag."""
    for node in tree.css("noscript"):
        if len(node.text(separator=" ").strip()) > 200:
            node.unwrap()
        else:
            node.remove()
    tree.strip_tags(extract_module._STRIP_TAGS)


STRIP_PAGES = [
    # A text-rich noscript holding a script, a short noscript and a nested one.
    "<p>Intro text.</p><noscript><div><script>var x = 1;</script>"
    + PARAS[0]
    + PARAS[1]
    + "<noscript>inner note</noscript></div></noscript><noscript><img src=p.gif> enable JS</noscript>",
    # Noscripts inside elements that are stripped anyway, and stripped tags inside a kept one.
    "<svg><noscript>"
    + PARAS[2] * 2
    + "</noscript><style>.a{}</style></svg><button><noscript>"
    + PARAS[3] * 2
    + "</noscript>Buy</button><noscript><p>"
    + PARAS[0]
    + "</p><iframe src=x></iframe><select><option>a</option></select><p>"
    + PARAS[1]
    + "</p></noscript>",
    # A noscript that passes the 200-character mark only with the script inside it counted: it is
    # measured before that script is stripped.
    "<noscript><p>" + PARAS[1][:150] + "</p><script>window.dataLayer = window.dataLayer || []; track('nojs');"
    "</script></noscript><p>" + PARAS[3] + "</p>",
    # Head content, a template, media and form controls around the body text.
    "<template><p>hidden</p></template><video><source src=a.mp4>No video</video><form><input value=q>"
    "<textarea>typed</textarea></form><p>" + PARAS[2] + "</p><map><area href=#></map><dialog>Hi</dialog>",
]


@pytest.mark.parametrize("body", STRIP_PAGES)
def test_strip_pass_equals_noscript_then_tag_by_tag(body: str) -> None:
    html = _page(body, head='<script>var y = 2;</script><style>p{}</style><link rel="x" href="/y">')
    fast, reference = LexborHTMLParser(html), LexborHTMLParser(html)
    extract_module._strip_non_text(fast)
    _strip_reference(reference)
    assert fast.html == reference.html
    assert "<script" not in fast.html
    assert "<noscript" not in fast.html


def test_blocks_split_lines_count_link_text_and_skip_left_out_tables() -> None:
    tree = LexborHTMLParser(
        "<body><div id=a>Lead <b>bold</b> <i>italic</i><br>second <a href=/x>line link</a><!-- c -->"
        "<p>Para <a href=/y><span>nested</span> link</a>.</p>tail</div>"
        "<table><tr><td>cell one</td><td>cell two</td></tr></table><ul><li>one</li> <li>two</li></ul></body>"
    )
    body = tree.body
    owners: dict[int, Any] = {}
    parents: dict[int, int] = {}
    config = ExtractConfig(include_tables=False)
    blocks = extract_module._blocks([body], config, owners, parents)
    got = [(b.text, b.link_chars, b.kind) for b in blocks]
    assert got == [
        ("Lead bold italic", 0, "div"),
        ("second line link", 9, "div"),
        ("Para nested link.", 10, "p"),  # link text is counted per text piece, stripped
        ("tail", 0, "div"),
        ("one", 0, "li"),
        ("two", 0, "li"),
    ]
    div = body.css_first("div")
    para = body.css_first("p")
    assert blocks[0].owner == div.mem_id
    assert blocks[2].owner == para.mem_id
    # Every element is recorded with its parent, tables included (only their text is left out).
    assert parents[para.mem_id] == div.mem_id
    assert parents[div.mem_id] == body.mem_id
    assert body.css_first("td").mem_id in owners
    assert len(owners) == len(body.css("*"))
    with_tables = [b.text for b in extract_module._blocks([body], ExtractConfig())]
    assert "cell one" in with_tables
    assert "cell two" in with_tables


_TOKEN_TEXT = st.text(alphabet=st.sampled_from(list("ab_Zé9٣İΣς ,.'-\t\n\u00a0\u3000\u2028ßﬁ!")), max_size=80)


@given(_TOKEN_TEXT)
@settings(max_examples=300, deadline=None)
def test_token_set_equals_the_regex_token_set(text: str) -> None:
    for variant in (text, text.lower()):
        assert extract_module._token_set(variant) == set(re.findall(r"\w+", variant))


def test_str_and_utf8_bytes_give_the_same_article() -> None:
    body = "".join(f"<p>{p} Zürich café – “quoted”.</p>" for p in PARAS)
    html = _page(body, head="<title>Water plan</title>")
    assert extract(html.encode("utf-8"), NEWS_URL) == extract(html, NEWS_URL)
    with_nul = html.replace("<p>", "<p>\x00", 1)
    assert extract(with_nul.encode("utf-8"), NEWS_URL) == extract(with_nul, NEWS_URL)
    assert extract(with_nul, NEWS_URL).text == extract(html, NEWS_URL).text


def test_link_density_memo_gives_the_same_value() -> None:
    tree = LexborHTMLParser(
        "<body><div id=o><div id=i><a href=1>first link</a> words <a href=2> second </a></div>"
        "<p>more plain words here <a href=3>x</a></p></div></body>"
    )
    outer, inner = tree.css_first("#o"), tree.css_first("#i")
    memo: dict[int, int] = {}
    for node in (inner, outer, inner):
        size = len(node.text(separator=" ").strip())
        assert extract_module._link_density(node, size, memo) == extract_module._link_density(node, size)
    assert sorted(memo.values()) == [1, 6, 10]
