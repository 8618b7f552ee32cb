"""Normalisation: typography folded so shingles only see words."""

from __future__ import annotations

from newsdedup._normalize import entities, normalize_text, tokenize


def test_quotes_dashes_case_and_space_are_folded() -> None:
    fancy = "\u201cWe know,\u201d Zelenskyy\u2019s aide said \u2014 NATO\u00a0chief  Rutte\u2026"
    plain = '"we know," zelenskyys aide said - nato chief rutte...'
    assert normalize_text(fancy) == normalize_text(plain)
    assert tokenize(normalize_text(fancy)) == [
        "we",
        "know",
        "zelenskyys",
        "aide",
        "said",
        "nato",
        "chief",
        "rutte",
    ]


def test_nfkc_and_thousands_separators() -> None:
    # full-width digits and the ligature fold under NFKC; 1,750 and 1750 are one token
    assert tokenize(normalize_text("\uff11\uff12 \ufb01nance 1,750 dlrs")) == [
        "12",
        "finance",
        "1750",
        "dlrs",
    ]
    assert tokenize(normalize_text("at 2.27 times, 6-3/16 pct")) == [
        "at",
        "2.27",
        "times",
        "6",
        "3/16",
        "pct",
    ]


def test_soft_hyphen_and_zero_width_are_dropped() -> None:
    assert normalize_text("Pyong\u00adyang\u200b said") == "pyongyang said"


def test_punctuation_is_a_separator_not_a_token() -> None:
    assert tokenize(normalize_text("U.S.-based firm (Reuters) - said: yes!")) == [
        "u", "s", "based", "firm", "reuters", "said", "yes",
    ]  # fmt: skip


def test_entities_collect_numbers_and_mid_sentence_names() -> None:
    ents = entities("Shares of Acme Corp rose 5 pct to 1,250 dlrs. The company said Tuesday.")
    assert ents.numbers == {"5": 1, "1250": 1}
    assert {"acme", "corp", "tuesday"} <= set(ents.names)
    assert "shares" not in ents.names  # sentence-initial capital
    assert "the" not in ents.names


def test_empty_text() -> None:
    assert normalize_text("  \n\t ") == ""
    assert tokenize("") == []
