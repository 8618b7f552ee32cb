"""to_article on text records: the shortcut that skips rebuilding the Article must give exactly
what the plain form (clean_text, then dataclasses.replace with the record's values) gives."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsdedup._records import RecordError, _site_of, record_from_mapping, to_article
from newsdedup._text import clean_text

FIXTURES = Path(__file__).parent / "fixtures"
TEXTS = sorted(
    [p.read_text(encoding="utf-8") for p in (FIXTURES / "seeds").glob("*.txt")]
    + [p.read_text(encoding="utf-8") for p in (FIXTURES / "publishers" / "cases").glob("*.txt")]
)


def _reference(data: dict[str, Any]) -> Any:
    record = record_from_mapping(data)
    assert record.text is not None
    article = clean_text(record.text, record.url, id=record.id, title=record.title, site=record.site)
    if not article.text.strip():
        return ("error", article.reason or "empty-text")
    return dataclasses.replace(
        article,
        id=record.id,
        url=record.url or article.url,
        site=record.site or article.site or _site_of(record.url),
        title=record.title or article.title,
        published=record.published or article.published,
    )


def _actual(data: dict[str, Any]) -> Any:
    try:
        return to_article(data)
    except RecordError as exc:
        return ("error", exc.reason)


def test_fixture_texts_are_there() -> None:
    assert len(TEXTS) >= 5


@settings(max_examples=150, deadline=None)
@given(
    text=st.sampled_from(TEXTS),
    header=st.sampled_from(
        ["", "date 2024-10-17 ", "date 2024-10-17T05:13:00+02:00 Flood plan approved by council\n"]
    ),
    title=st.sampled_from([None, "", "Council approves flood plan", "  Padded headline here  "]),
    url=st.sampled_from(
        [None, "https://www.newsmax.com/a/1", "https://menafn.com/1/x", "www.example.org/p", "nota url"]
    ),
    site=st.sampled_from([None, "", "example.org"]),
    published=st.sampled_from([None, "", "2024-10-18T09:00:00Z", "not a date"]),
)
def test_to_article_equals_clean_text_then_replace(
    text: str, header: str, title: str | None, url: str | None, site: str | None, published: str | None
) -> None:
    data: dict[str, Any] = {"id": "a1", "text": header + text}
    for key, value in (("title", title), ("url", url), ("site", site), ("published", published)):
        if value is not None:
            data[key] = value
    assert _actual(data) == _reference(data)


@pytest.mark.parametrize("text", ["", "   \n  ", "Reuter"])
def test_empty_results_keep_their_reason(text: str) -> None:
    assert _actual({"id": "x", "text": text}) == _reference({"id": "x", "text": text})


def test_lone_surrogates_in_fields_are_replaced_but_not_in_ids() -> None:
    """A JSON ``\\ud800`` escape decodes to a lone surrogate, which no encoder takes: in a text,
    title, url or site it becomes U+FFFD; an id holding one is refused (two ids repaired alike
    would be taken for one item)."""
    text = TEXTS[0]
    record = record_from_mapping(
        {
            "id": "s1",
            "text": text + "\ud800",
            "title": "T\udc80",
            "url": "https://e.example/\ud800",
            "site": "e\udfff",
        }
    )
    assert (record.title, record.url, record.site) == ("T\ufffd", "https://e.example/\ufffd", "e\ufffd")
    article = to_article(record)
    assert article.text.endswith("\ufffd")
    article.text.encode("utf-8")
    with pytest.raises(RecordError) as bad:
        record_from_mapping({"id": "s\ud800", "text": text})
    assert bad.value.reason == "bad-id"
    # an Article handed in directly is scrubbed the same way
    given = dataclasses.replace(article, text=article.text.replace("\ufffd", "\udc00\x00"))
    assert to_article(given).text == article.text
    with pytest.raises(RecordError) as bad:
        to_article(dataclasses.replace(article, id="s\udc00"))
    assert bad.value.reason == "bad-id"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Rail strike", "Rail strike"), (1984, "1984"), (2.5, "2.5"), ({"a": 1}, None), (["x"], None),
     (True, None), (float("nan"), None), ("", None)],
)  # fmt: skip
def test_optional_text_fields_take_strings_and_numbers_only(value: object, expected: str | None) -> None:
    """An object, a list or a bool in ``title``/``url``/``site`` came out as its ``str()``: a
    title "{'a': 1}", a url and site "True"."""
    record = record_from_mapping({"id": "a", "text": "t", "title": value, "url": value, "site": value})
    assert (record.title, record.url, record.site) == (expected, expected, expected)
