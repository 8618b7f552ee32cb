"""clean_text: structure and metadata recovered from plain-text exports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from newsdedup import BoilerplateLearner, RuleSet, clean_text

LEDE = (
    "Regional rail operators will add 40 extra trains a day from next month to relieve crowding on "
    "commuter lines, the transport ministry said on Friday."
)
SECOND = "The ministry said the additional services would run mainly in the morning and evening peaks."
TITLE = "Rail operators add 40 daily trains to ease commuter crowding"


def test_date_header_followed_by_title() -> None:
    article = clean_text(f" date 2024-10-17 {TITLE}\n{LEDE}\n{SECOND}\n")
    assert article.title == TITLE
    assert article.published == datetime(2024, 10, 17, tzinfo=UTC)
    assert article.paragraphs == [LEDE, SECOND]
    assert article.source_format == "text"


def test_date_header_followed_directly_by_body() -> None:
    article = clean_text(f" date 2024-10-20 {LEDE}\n\n\n\n{SECOND}")
    assert article.title == ""
    assert article.published == datetime(2024, 10, 20, tzinfo=UTC)
    assert article.paragraphs == [LEDE, SECOND]


def test_date_header_with_time_and_offset() -> None:
    article = clean_text(f"date 2024-10-17T08:30:00+02:00\n{TITLE}\n{LEDE}")
    assert article.published == datetime(2024, 10, 17, 8, 30, tzinfo=timezone(timedelta(hours=2)))
    assert article.title == TITLE  # found as the first short line without final punctuation


def test_invalid_header_date_is_left_as_text() -> None:
    article = clean_text(f" date 2024-13-45 {LEDE}\n{SECOND}")
    assert article.published is None
    assert article.paragraphs[0].startswith("date 2024-13-45")


def test_header_offset_out_of_range_is_an_invalid_date_not_a_crash() -> None:
    """``timezone()`` refuses offsets of 24 h or more: "+25:00" raised ValueError, which inside
    a dedup run turned a good body into an extract-failed error."""
    article = clean_text(f" date 2024-10-17T10:00+25:00 {LEDE}\n{SECOND}")
    assert article.published is None
    assert article.reason is None
    assert article.paragraphs[1:] == [SECOND]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((5,), {}, "needs str or bytes"),  # bytes(5) was five NUL bytes: "binary"
        ((None,), {}, "needs str or bytes"),
        ((LEDE,), {"url": 5}, "url must be"),
        ((LEDE,), {"title": 5}, "title must be"),
        ((LEDE,), {"published": "2024-10-17"}, "published must be a datetime"),
        ((LEDE,), {"max_chars": "10"}, "max_chars must be an int"),
        ((LEDE,), {"rules": "generic"}, "rules must be a RuleSet"),
        ((LEDE,), {"learner": {}}, "learner must be a BoilerplateLearner"),
    ],
)
def test_arguments_of_the_wrong_type_are_a_type_error_naming_them(
    args: tuple[object, ...], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        clean_text(*args, **kwargs)  # type: ignore[arg-type]


def test_a_hard_wrapped_lede_is_not_taken_for_the_title() -> None:
    """A first line that the next one continues (it starts in lower case) is the start of the
    lede, not a headline: taken as the title, the story lost its first words."""
    wrapped = (
        "Leaders of Italy's five coalition parties\nhave agreed to meet on Monday to discuss the crisis."
    )
    article = clean_text(f"{wrapped}\n{SECOND}")
    assert article.title == ""
    assert article.text.startswith("Leaders of Italy's five coalition parties")
    # after a date header too
    dated = clean_text(f" date 2024-10-17 {wrapped}\n{SECOND}")
    assert dated.title == ""
    assert dated.published == datetime(2024, 10, 17, tzinfo=UTC)
    assert dated.text.startswith("Leaders of Italy's")
    # a headline followed by a lede in capitals is still the title
    assert clean_text(f"{TITLE}\n{LEDE}\n{SECOND}").title == TITLE


def test_title_line_needs_to_look_like_a_headline() -> None:
    # First line ends with a full stop: it is the lede, not a title.
    article = clean_text(f"{LEDE}\n{SECOND}")
    assert article.title == ""
    assert article.paragraphs == [LEDE, SECOND]
    # A lone short line with nothing after it is the whole text, not a title.
    assert clean_text(TITLE).title == ""


def test_values_passed_in_win() -> None:
    when = datetime(2024, 1, 1, 12, tzinfo=UTC)
    article = clean_text(
        f" date 2024-10-17 {TITLE}\n{LEDE}",
        url="https://www.example.org/news/rail",
        id="a1",
        title="Given title",
        published=when,
    )
    assert article.title == "Given title"
    assert article.published == when
    assert article.id == "a1"
    assert article.site == "example.org"
    assert article.url == "https://www.example.org/news/rail"


def test_headline_repeated_in_the_text_is_removed_when_title_given() -> None:
    article = clean_text(f"{TITLE}\n{LEDE}\n{SECOND}", title=TITLE)
    assert article.paragraphs == [LEDE, SECOND]


def test_crlf_and_nbsp() -> None:
    article = clean_text(f"{TITLE}\r\n\r\n{LEDE}\u00a0\r\n{SECOND}")
    assert article.title == TITLE
    assert article.paragraphs == [LEDE, SECOND]


def test_empty_and_junk_only_inputs() -> None:
    assert clean_text("").reason == "empty-input"
    assert clean_text(" \n \n").reason == "empty-input"
    junk = clean_text("Advertisement\nShare this article\nSource link\n")
    assert junk.text == ""
    assert junk.reason == "no-main-text"
    assert len(junk.removed) == 3


def test_line_rules_apply_and_wire_is_detected() -> None:
    text = "\n".join(
        [
            TITLE,
            f"BERLIN (Reuters) - {LEDE}",
            "Advertisement",
            SECOND,
            "(Reporting by Anna Weber; Editing by Mark Hollis)",
        ]
    )
    article = clean_text(text)
    assert article.wire == "Reuters"
    assert article.paragraphs == [LEDE, SECOND]
    assert {r.rule for r in article.removed} == {"generic:ad", "wire:dateline", "wire:credit"}


def test_rules_parameter_is_used() -> None:
    rules = RuleSet.from_toml('[[publisher]]\nname = "x"\nalways = true\nline_patterns = ["^Zap$"]')
    article = clean_text(f"{LEDE}\nZap\nAdvertisement", rules=rules)
    assert article.paragraphs == [LEDE, "Advertisement"]  # generic not in this rule set


def test_learner_with_site_and_no_url() -> None:
    promo = "Get the Morning Rail briefing free every weekday."
    stories = ["Night trains return.", "Fares rise in June.", "A new depot opens.", "Strike called off."]
    pages = [("rail.example", [story, promo]) for story in stories]
    learner = BoilerplateLearner().fit(pages)
    article = clean_text(f"{LEDE}\n{promo}\n{SECOND}", site="rail.example", learner=learner)
    assert article.paragraphs == [LEDE, SECOND]
    assert article.site == "rail.example"


def test_stray_characters_are_scrubbed_from_text_and_title() -> None:
    """NUL and other controls, DEL, invisible word splitters, bidi controls and lone surrogates
    never reach the clean text: they would break C strings, databases and UTF-8 output."""
    lede = LEDE.replace("commuter", "com\x00mu\u00adter")
    second = SECOND.replace("ministry", "mini\u202estry")
    dirty = TITLE + "\x01\n" + lede + "\x7f\x0c" + second + "\ud800"
    article = clean_text(dirty)
    assert article.title == TITLE
    assert article.paragraphs == [LEDE, SECOND + "\ufffd"]
    assert clean_text(f"{LEDE}\n{SECOND}", title=TITLE + "\udc80\u2066").title == TITLE + "\ufffd"
    article.text.encode("utf-8")  # strict: no surrogate left


def test_scrub_text_keeps_clean_text_as_it_is() -> None:
    from newsdedup._text import scrub_text

    for text in (
        LEDE,
        "Zürich \u2014 \u201cquoted\u201d \u0627\u0644\u0639\u0631\u0628\u064a\u0629\tand\r\nlines",
        "",
    ):
        assert scrub_text(text) is text
    assert scrub_text("a\x0bb\x0cc") == "a\nb\nc"  # vertical tab and form feed end a line
    assert scrub_text("\u200dZWJ and \u200fRLM stay") == "\u200dZWJ and \u200fRLM stay"


def test_text_over_the_size_limit_is_not_cleaned() -> None:
    article = clean_text(f"{TITLE}\n{LEDE}\n{SECOND}", max_chars=100)
    assert article.reason == "too-large"
    assert article.text == ""
    assert clean_text(f"{TITLE}\n{LEDE}\n{SECOND}", max_chars=1000).reason is None


def test_headlines_in_scripts_without_spaces_are_titles() -> None:
    """Two letters of Chinese or Japanese count as a word for the headline test (by its spaces
    a Chinese headline is one word); a first line that ends a sentence stays body text."""
    ja_title = "日本政府、新たな経済対策を発表"
    ja_body = (
        "日本政府は火曜日、物価高に対応するための新たな経済対策を閣議決定した。"
        "電気代やガス代の補助を延長し、低所得世帯への給付金も盛り込んだ。"
    )
    article = clean_text(f"{ja_title}\n{ja_body}")
    assert article.title == ja_title
    assert article.paragraphs == [ja_body]
    zh_sentence = "北约秘书长周二在布鲁塞尔表示，朝鲜向俄罗斯派兵是一次危险的升级。"
    article = clean_text(f"{zh_sentence}\n{ja_body}")
    assert article.title == ""
    assert article.paragraphs[0] == zh_sentence


def test_bytes_are_decoded_as_a_file_is_and_binary_is_refused() -> None:
    """A file's bytes: the encoding is detected (a cp1252 export keeps its curly quotes and
    accents), a gzip or PDF is ``binary`` rather than a garbled headline, and the size limit
    counts bytes."""
    import gzip

    text = f"{TITLE}\n{LEDE} \u201cW\u00fcrzburg\u201d \u2013 Caf\u00e9.\n{SECOND}"
    expected = clean_text(text)
    for encoding in ("utf-8", "cp1252", "utf-16"):
        article = clean_text(text.encode(encoding))
        assert (article.title, article.text, article.reason) == (expected.title, expected.text, None)
    assert clean_text(bytearray(text.encode("utf-8"))).text == expected.text
    for blob in (gzip.compress(text.encode()), b"%PDF-1.7\n" + bytes(range(256)) * 8):
        article = clean_text(blob, url="https://example.com/a.txt")
        assert (article.reason, article.text, article.source_format) == ("binary", "", "text")
    data = text.encode("utf-8")
    assert clean_text(data, max_chars=len(data) - 1).reason == "too-large"
    assert clean_text(data, max_chars=len(data)).reason is None
    assert clean_text(b"  \n\n ").reason == "empty-input"
