"""Every entry of the bundled rule file, verified on real (or realistic) pages and texts.

The cases live in ``tests/fixtures/publishers/manifest.toml``; adding a publisher means one entry
in ``publishers.toml`` and one case there.
"""

from __future__ import annotations

import gzip
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser

from newsdedup import RuleSet, clean_text, extract
from newsdedup._boilerplate import clean_blocks, dom_selectors
from newsdedup._models import parse_datetime

FIXTURES = Path(__file__).parent / "fixtures"
MANIFEST = tomllib.loads((FIXTURES / "publishers" / "manifest.toml").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = MANIFEST["case"]
TEXT_CASES = [c for c in CASES if c["kind"] == "text"]
HTML_CASES = [c for c in CASES if c["kind"] == "html"]

_BLOCK_TAGS = (
    "p, div, li, h1, h2, h3, h4, h5, h6, td, th, section, article, header, footer, aside, "
    "blockquote, figcaption, ul, ol, table, tr, form, nav, main, figure, dl, dt, dd"
)


def _case_id(case: dict[str, Any]) -> str:
    return f"{case['entry']}:{Path(case['input']).name}"


def _read(relative: str) -> str:
    path = FIXTURES / relative
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8")


def html_blocks(html: str, selectors: list[str]) -> list[str]:
    """Every visible text line of a page, block by block, minus the publisher's DOM selectors.

    Deliberately cruder than the real extractor: navigation and sidebars stay in, so the rules
    are tested on a page's full text, not only on what the extractor already kept.
    """
    tree = LexborHTMLParser(re.sub(r"(?i)<br\s*/?>", "\n", html))
    for node in tree.css("script, style, noscript, head, template"):
        node.decompose()
    for selector in selectors:
        for node in tree.css(selector):
            node.decompose()
    body = tree.body
    assert body is not None
    lines: list[str] = []
    for node in body.css(_BLOCK_TAGS):
        if len(node.css(_BLOCK_TAGS)) > 1:  # lexbor's css() includes the node itself
            continue  # only leaf blocks; their ancestors would repeat the text
        for line in (node.text(deep=True) or "").split("\n"):
            line = " ".join(line.split())
            if line:
                lines.append(line)
    return lines


def test_every_entry_has_a_fixture_case() -> None:
    covered = {c["entry"] for c in CASES if (FIXTURES / c["input"]).is_file()}
    missing = [name for name in RuleSet.default().names if name not in covered]
    assert not missing, f"rule entries without a fixture case in manifest.toml: {missing}"


def test_manifest_cases_name_real_entries_and_files() -> None:
    names = set(RuleSet.default().names)
    for case in CASES:
        assert case["entry"] in names, case
        assert (FIXTURES / case["input"]).is_file(), case["input"]
        if "expected" in case:
            assert (FIXTURES / case["expected"]).is_file(), case["expected"]


@pytest.mark.parametrize("case", TEXT_CASES, ids=_case_id)
def test_text_case(case: dict[str, Any]) -> None:
    article = clean_text(_read(case["input"]), url=case.get("url"))
    expected = _read(case["expected"]).rstrip("\n")
    assert article.text == expected
    assert article.source_format == "text"
    if "title" in case:
        assert article.title == case["title"]
    if "published" in case:
        assert article.published == (parse_datetime(case["published"]) if case["published"] else None)
        if article.published is not None:
            # The exact offset matters, not only the instant.
            assert article.published.utcoffset() == parse_datetime(case["published"]).utcoffset()
    if "wire" in case:
        assert article.wire == (case["wire"] or None)
    fired = {r.rule for r in article.removed}
    for rule in case.get("fires", []):
        assert rule in fired, f"{rule} did not fire; fired: {sorted(fired)}"


@pytest.mark.parametrize("case", TEXT_CASES, ids=_case_id)
def test_text_case_matches_its_entry_by_signature(case: dict[str, Any]) -> None:
    """Without a URL the entry is still chosen, from the text alone."""
    lines = [ln for ln in _read(case["input"]).splitlines() if ln.strip()]
    result = clean_blocks(lines, url=case.get("url"))
    assert case["entry"] in result.publishers


def _check_text(text: str, case: dict[str, Any]) -> None:
    for snippet in case.get("present", []):
        assert snippet in text, f"story text lost: {snippet!r}"
    for snippet in case.get("absent", []):
        assert snippet not in text, f"boilerplate kept: {snippet!r}"


@pytest.mark.parametrize("case", HTML_CASES, ids=_case_id)
@pytest.mark.parametrize("with_url", [True, False], ids=["by-host", "by-signature"])
def test_html_case_rules_on_all_page_blocks(case: dict[str, Any], with_url: bool) -> None:
    html = _read(case["input"])
    url = case["url"] if with_url else None
    selectors = dom_selectors(url, html)
    result = clean_blocks(html_blocks(html, selectors), url=url)
    assert case["entry"] in result.publishers
    _check_text("\n".join(result.blocks), case)
    assert result.wire == (case.get("wire") or None)


@pytest.mark.parametrize("case", HTML_CASES, ids=_case_id)
def test_html_case_end_to_end_extract(case: dict[str, Any]) -> None:
    """Through the real extractor: only the rule effects are checked (footers gone, story kept)."""
    article = extract(_read(case["input"]), url=case["url"])
    assert article.ok, article.reason
    _check_text(article.text, case)
    assert article.wire == (case.get("wire") or None)


def test_dom_selectors_remove_newsmax_hidden_teaser_on_real_page() -> None:
    html = _read("publishers/newsmax_2020-01-01_obit-stern-nba_948026.html.gz")
    selectors = dom_selectors("https://www.newsmax.com/x", html)
    tree = LexborHTMLParser(html)
    assert tree.css_first("div[itemprop='description']") is not None
    for selector in selectors:
        for node in tree.css(selector):
            node.decompose()
    text = tree.body.text(separator=" ") if tree.body else ""
    assert "2020-29-01" not in text  # the hidden dateCreated stamp
    assert "Obit, Stern, NBA" not in text  # hidden keywords
    assert "Former National Basketball Association Commissioner David Stern" in text
