"""extract() on hostile and broken input: never hang, never crash the caller.

Policy (see docs/extraction.md): data problems give an Article with empty text and a reason;
wrong argument types raise TypeError; bad configuration raises ConfigError.
"""

from __future__ import annotations

import codecs
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsdedup import Article, ExtractConfig, extract

PARA = (
    "Le conseil municipal a voté mardi soir un budget qui prévoit la rénovation complète de l'école "
    "élémentaire, après des années de réclamations des parents d'élèves et des enseignants."
)
PARA2 = (
    "Les travaux doivent commencer au printemps et durer dix-huit mois, pendant lesquels les classes "
    "seront installées dans des bâtiments provisoires, a précisé le maire."
)


def _page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


ARTICLE_HTML = _page(f"<article><h1>Budget voté</h1><p>{PARA}</p><p>{PARA2}</p></article>")


@pytest.mark.parametrize("value", ["", "   \n\t  ", b"", b"  \r\n "])
def test_empty_input(value: str | bytes) -> None:
    article = extract(value, "https://example.org/a")
    assert article == Article(url="https://example.org/a", reason="empty-input")


@pytest.mark.parametrize(
    "blob",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20,
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj",
        bytes(range(256)) * 40,  # NUL bytes all over
    ],
)
def test_binary_blob(blob: bytes) -> None:
    article = extract(blob)
    assert article.text == ""
    assert article.reason == "binary"


def test_text_full_of_nul_characters_is_binary() -> None:
    assert extract("\x00" * 5000 + "<p>hi</p>").reason == "binary"


def test_a_few_stray_nul_characters_are_dropped() -> None:
    article = extract(ARTICLE_HTML.replace("voté", "vo\x00té", 1))
    assert article.ok
    assert "\x00" not in article.text


def test_control_and_bidi_characters_are_dropped_from_text_and_title() -> None:
    page = ARTICLE_HTML.replace("voté", "vo\x01té\x7f", 1).replace(
        "<head>", "<head><title>Bud\x02get\u202e</title>"
    )
    article = extract(page.replace("travaux", "tra\u202evaux\u2066"))
    assert article.ok
    assert PARA in article.text
    assert PARA2 in article.text
    assert article.title == "Budget voté"  # the h1, "vo\x01té\x7f" in the page
    assert not any(c in article.text for c in "\x01\x7f\u202e\u2066")
    # a page without body text keeps a clean title too (metadata is scrubbed as it is read)
    empty = extract(
        _page("<nav>Home</nav>", head="<meta property='og:title' content='Bud\x02get\u202e vote'>")
    )
    assert empty.reason == "no-main-text"
    assert empty.title == "Budget vote"


def test_fifty_megabyte_page_is_refused_before_parsing() -> None:
    huge = "<html><body>" + ("<p>" + "x" * 1000 + "</p>") * 50_000 + "</body></html>"
    assert len(huge) > 50_000_000
    start = time.perf_counter()
    article = extract(huge)
    assert time.perf_counter() - start < 1.0  # no parse happened
    assert article.text == ""
    assert article.reason == "too-large"
    data = huge.encode()
    start = time.perf_counter()
    assert extract(data).reason == "too-large"
    assert time.perf_counter() - start < 1.0


def test_max_bytes_is_configurable() -> None:
    assert extract(ARTICLE_HTML, config=ExtractConfig(max_bytes=100)).reason == "too-large"
    assert extract(ARTICLE_HTML, config=ExtractConfig(max_bytes=100_000)).ok


def test_hundred_thousand_nested_divs_do_not_recurse_or_hang() -> None:
    depth = 100_000
    html = "<html><body>" + "<div>" * depth + f"<p>{PARA}</p>" + "</div>" * depth + "</body></html>"
    start = time.perf_counter()
    article = extract(html)
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0
    assert article.text == ""
    assert article.reason == "too-deep"


def test_moderate_nesting_is_extracted() -> None:
    html = (
        "<html><body>" + "<div>" * 1500 + f"<p>{PARA}</p><p>{PARA2}</p>" + "</div>" * 1500 + "</body></html>"
    )
    article = extract(html)
    assert article.paragraphs == [PARA, PARA2]


def test_unclosed_deep_formatting_tags_are_refused_quickly() -> None:
    html = "<html><body>" + "<b><i>" * 30_000 + PARA + "</body></html>"
    start = time.perf_counter()
    assert extract(html).reason == "too-deep"
    assert time.perf_counter() - start < 5.0


def test_node_cap() -> None:
    html = _page("".join(f"<span>{i}</span>" for i in range(3000)) + f"<p>{PARA}</p>")
    assert extract(html, config=ExtractConfig(max_nodes=1000)).reason == "too-many-nodes"
    assert extract(html).reason != "too-many-nodes"


def test_broken_unclosed_html_still_yields_text() -> None:
    html = (
        f"<html><head><title>Broken</title><body><div class=main><p>{PARA}<p>{PARA2}<div><b>unclosed <i>tags"
    )
    article = extract(html)
    assert article.ok
    assert article.paragraphs[:2] == [PARA, PARA2]


def test_garbage_markup_does_not_crash() -> None:
    for html in ["<", "<<<>>>", "</p></div></body>", "<!--", "<![CDATA[", "<script>", "<p", "&#x110000;&#0;"]:
        article = extract(html)
        assert isinstance(article, Article)


def test_page_that_is_all_navigation_has_no_main_text() -> None:
    links = "".join(
        f'<li><a href="/section/{i}">Section number {i} of the website</a></li>' for i in range(40)
    )
    html = _page(
        f"<header><nav><ul>{links}</ul></nav></header><div class='menu'><ul>{links}</ul></div><footer>© 2024</footer>"
    )
    article = extract(html, "https://example.org/")
    assert article.text == ""
    assert article.reason == "no-main-text"


def test_page_without_body_text() -> None:
    article = extract("<html><head><title>Only a title</title></head><body><img src=x></body></html>")
    assert article.reason == "no-main-text"
    assert article.title == "Only a title"


@pytest.mark.parametrize("value", [None, 42, 3.5, ["<p>x</p>"], {"html": "x"}])
def test_wrong_input_type_raises_type_error(value: object) -> None:
    with pytest.raises(TypeError):
        extract(value)  # type: ignore[arg-type]


def test_wrong_url_or_config_type_raises_type_error() -> None:
    with pytest.raises(TypeError):
        extract(ARTICLE_HTML, url=123)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        extract(ARTICLE_HTML, config={"max_bytes": 1})  # type: ignore[arg-type]


def test_bytearray_and_memoryview_are_accepted() -> None:
    data = ARTICLE_HTML.encode()
    assert extract(bytearray(data)).ok
    assert extract(memoryview(data)).ok


# --------------------------------------------------------------------------- encodings


def test_latin1_bytes_with_header_charset() -> None:
    data = ARTICLE_HTML.encode("latin-1")
    article = extract(data, content_type="text/html; charset=ISO-8859-1")
    assert "élémentaire" in article.text
    assert "voté" in article.text


def test_latin1_bytes_with_meta_charset() -> None:
    html = _page(f"<article><p>{PARA}</p><p>{PARA2}</p></article>", '<meta charset="iso-8859-1">')
    article = extract(html.encode("latin-1"))
    assert "élémentaire" in article.text


def test_wrong_header_charset_is_not_trusted() -> None:
    # Header says utf-8 but the body is cp1252: decoding must not produce U+FFFD garbage.
    data = ARTICLE_HTML.encode("cp1252")
    article = extract(data, content_type="text/html; charset=utf-8")
    assert "élémentaire" in article.text
    assert "\ufffd" not in article.text


@pytest.mark.parametrize(
    ("bom", "encoding"),
    [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
)
def test_byte_order_mark_wins(bom: bytes, encoding: str) -> None:
    data = bom + ARTICLE_HTML.encode(encoding)
    article = extract(data, content_type="text/html; charset=iso-8859-1")
    assert "élémentaire" in article.text


def test_mixed_encodings_in_one_page_do_not_crash() -> None:
    data = ARTICLE_HTML.encode("utf-8") + "<p>Très bien — déjà vu, noch einmal Grüße.</p>".encode("cp1252")
    article = extract(data)
    assert article.ok
    assert "conseil municipal" in article.text


# --------------------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    article = extract(data)
    assert isinstance(article, Article)
    assert article.ok or article.reason


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [
                "<div>",
                "</div>",
                "<p>",
                "</p>",
                "<br>",
                "<a href='x'>",
                "</a>",
                "<nav>",
                "<table><tr><td>",
                "<!--",
                "-->",
                "<script>",
                "</script>",
                PARA,
                "text, with commas.",
                "&amp;",
                "\u202e",
                "\x00",
            ]
        ),
        max_size=80,
    )
)
def test_arbitrary_tag_soup_never_raises(parts: list[str]) -> None:
    article = extract("".join(parts))
    assert isinstance(article, Article)
    assert "\n\n\n" not in article.text


def test_nested_noscript_elements_do_not_crash() -> None:
    inner = "<noscript><p>" + "long text here. " * 30 + "</p></noscript>"
    html = _page(
        f"<noscript><div>x{inner}</div></noscript><noscript><noscript>a</noscript></noscript><p>{PARA}</p>"
    )
    article = extract(html)
    assert isinstance(article, Article)
    assert article.ok
