"""The rule engine: loading and validating rule files, matching entries, and what each rule kind cuts."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsdedup import RuleError, RuleSet
from newsdedup._boilerplate import (
    PublisherRule,
    clean_blocks,
    dom_selectors,
    parse_date_line,
)

P1 = (
    "The regional council approved a new flood defence plan on Monday after a decade of delays, "
    "committing 40 million euros to raise dykes along the river's lower course."
)
P2 = (
    "Residents of the low-lying districts have been told to expect construction to start in the "
    "spring, with the first section due to be finished before the autumn storms."
)
P3 = "The plan still needs approval from the national water authority, which is expected in May."

EXAMPLE_TOML = r"""
version = 1

[[publisher]]
name = "dailyexample"
hosts = ["dailyexample.com", "*.dailyexample.com"]
signatures = ['(?m)^© Daily Example Media$']
lead_markers = ['^EXCLUSIVE:\s*']
trailing_markers = ['^More from Daily Example$']
line_patterns = [{ pattern = '^Daily Example newsroom$', label = "footer" }]
inline_patterns = [{ pattern = '\s*\[DX-\d+\]', label = "tracking" }]
selectors = [".dx-promo"]
"""


# --- loading ---------------------------------------------------------------------------------


def test_default_rules_load_once_and_have_the_required_entries() -> None:
    rules = RuleSet.default()
    assert rules is RuleSet.default()
    assert {"newsmax", "menafn", "unn", "generic"} <= set(rules.names)
    assert rules["generic"].always
    assert not rules["newsmax"].always


def test_from_toml_and_from_file(tmp_path: Path) -> None:
    rules = RuleSet.from_toml(EXAMPLE_TOML)
    entry = rules["dailyexample"]
    assert entry.hosts == ("dailyexample.com", "*.dailyexample.com")
    assert entry.line_patterns[0].label == "footer"
    path = tmp_path / "rules.toml"
    path.write_text(EXAMPLE_TOML, encoding="utf-8")
    assert RuleSet.from_file(path).names == ("dailyexample",)


def test_extend_adds_and_replaces_without_touching_the_default() -> None:
    default = RuleSet.default()
    mine = RuleSet.from_toml(EXAMPLE_TOML)
    merged = default.extend(mine)
    assert merged.names[-1] == "dailyexample"
    assert "dailyexample" not in default
    replacement = PublisherRule.from_dict({"name": "newsmax", "hosts": ["newsmax.example"]})
    replaced = merged.extend(replacement)
    assert replaced.names.index("newsmax") == default.names.index("newsmax")
    assert replaced["newsmax"].hosts == ("newsmax.example",)
    assert default["newsmax"].hosts != ("newsmax.example",)
    assert (default | mine).names == merged.names


def test_user_entry_works_end_to_end() -> None:
    rules = RuleSet.default().extend(RuleSet.from_toml(EXAMPLE_TOML))
    blocks = [
        f"EXCLUSIVE: {P1}",
        f"{P2} [DX-2231]",
        "Daily Example newsroom",
        P3,
        "More from Daily Example",
        "Teaser one",
    ]
    result = clean_blocks(blocks, url="https://www.dailyexample.com/news/1", rules=rules)
    assert result.blocks == [P1, P2, P3]
    assert [r.rule for r in result.removed] == [
        "dailyexample:trailing",
        "dailyexample:trailing",
        "dailyexample:lead",
        "dailyexample:tracking",
        "dailyexample:footer",
    ]
    assert dom_selectors("https://dailyexample.com/a", "<p></p>", rules=rules)[0] == ".dx-promo"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[publisher]]\nname = "bad"\nline_patterns = ["(unclosed"]', "'bad'"),
        ('[[publisher]]\nname = "typo"\nline_pattern = ["x"]', "unknown key(s) line_pattern"),
        ('[[publisher]]\nhosts = ["a.com"]', "without a 'name'"),
        ('[[publisher]]\nname = "sel"\nselectors = ["div[[["]', "bad CSS selector"),
        ('[[publisher]]\nname = "empty"\nline_patterns = [".*"]', "matches the empty string"),
        ('[[publisher]]\nname = "host"\nhosts = ["https://a.com/"]', "bare host name"),
        ('[[publisher]]\nname = "lbl"\nline_patterns = [{ pattern = "x", label = "two words" }]', "label"),
        (
            '[[publisher]]\nname = "k"\nline_patterns = [{ pattern = "x", colour = "red" }]',
            "unknown key(s) colour",
        ),
        ('[[publisher]]\nname = "t"\nhosts = "a.com"', "must be a list"),
        ('[[publisher]]\nname = "d"\n[[publisher]]\nname = "d"', "appears twice"),
        ("version = 2", "unsupported rule file version"),
        ("publishers = []", "unknown top-level key"),
        ("this is = not toml =", "not valid TOML"),
    ],
)
def test_rule_errors_name_the_problem(toml: str, message: str) -> None:
    with pytest.raises(RuleError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        RuleSet.from_toml(toml)


def test_bad_regex_error_names_entry_and_key() -> None:
    with pytest.raises(RuleError) as info:
        RuleSet.from_toml('[[publisher]]\nname = "broken"\ntrailing_markers = ["[a-"]')
    assert "'broken'" in str(info.value)
    assert "trailing_markers" in str(info.value)


def test_missing_rule_file_is_a_rule_error(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="cannot read rule file"):
        RuleSet.from_file(tmp_path / "nope.toml")


# --- matching --------------------------------------------------------------------------------


def test_match_by_host_including_www_and_subdomains() -> None:
    rules = RuleSet.default()
    for url in ("https://www.newsmax.com/a", "https://newsmax.com/a", "http://m.newsmax.com/a"):
        assert [e.name for e in rules.match(url)] == ["newsmax", "generic"]
    assert [e.name for e in rules.match("https://notnewsmax.com/a", "")] == ["generic"]


def test_match_by_signature_without_url() -> None:
    rules = RuleSet.default()
    assert [e.name for e in rules.match(None, "(MENAFN- Jordan Times) AMMAN — text")] == ["menafn", "generic"]
    assert [e.name for e in rules.match(None, "A story that mentions Newsmax once.")] == ["generic"]


def test_signature_used_when_host_is_unknown_but_not_when_another_entry_claims_it() -> None:
    rules = RuleSet.default()
    text = "(MENAFN- AFP) Text of a republished item."
    assert "menafn" in [e.name for e in rules.match("https://aggregator.example/x", text)]
    assert "menafn" not in [e.name for e in rules.match("https://www.newsmax.com/x", text)]


def test_dom_selectors_by_host_and_by_signature_in_html() -> None:
    html = "<html><body><p>Story</p><div>Newsmax Media, Inc.</div></body></html>"
    by_host = dom_selectors("https://www.newsmax.com/x", "<p>x</p>")
    assert "#artPgHotLnksDiv" in by_host
    assert "#artPgHotLnksDiv" in dom_selectors(None, html)
    assert "#artPgHotLnksDiv" not in dom_selectors(None, "<p>Plain page</p>")
    # A known host that no entry claims: the template selectors of a signature match do not apply.
    assert "#artPgHotLnksDiv" not in dom_selectors("https://aggregator.example/x", html)
    assert ".sharedaddy" in dom_selectors("https://aggregator.example/x", html)  # generic still does
    # Entities and tags do not hide a signature.
    assert "#artPgHotLnksDiv" in dom_selectors(None, "<p>Sign up for Newsmax&rsquo;s Daily Newsletter</p>")


# --- rule kinds and guards -------------------------------------------------------------------


def test_trailing_cut_and_guard_against_mid_story_related_box() -> None:
    tail = clean_blocks([P1, P2, "Trending Stories", "Some teaser headline", "Another one"])
    assert tail.blocks == [P1, P2]
    # A "More stories" box in the middle: the rest of the story is longer than what came before,
    # so only the heading goes.
    mid = clean_blocks([P1, "More Stories", P2, P3, P1 + " Again.", P2 + " Again."])
    assert mid.blocks == [P1, P2, P3, P1 + " Again.", P2 + " Again."]
    assert [r.rule for r in mid.removed] == ["generic:related"]


def test_generic_rules_do_not_eat_story_sentences() -> None:
    story = [
        "A local business group bought an advertisement in Sunday's newspaper urging approval.",
        "Advertisement revenue fell 12 percent in the quarter, the company said in its report on Tuesday.",
        "Readers can sign up for the newsletter, the mayor said, but few have done so since it launched in 2019 and the city has never promoted it.",
        "Click-through rates on the council's website have doubled since the redesign, officials said on Monday.",
        "Share prices of the company rose 4 percent after the announcement.",
        "Follow-up inspections found no further damage, the agency said.",
        "Copyright law experts said the ruling could affect publishers across Europe for years.",
        "In this case, the court found that the contract had been breached by both parties.",
        "Related talks between the two countries are expected to resume next week in Geneva.",
        # the other languages' rules are whole lines too
        "Anzeigen gegen den Betreiber wurden nach Angaben der Polizei bereits im Frühjahr erstattet.",
        "Lesen Sie auch die Stellungnahme des Ministeriums, sagte der Sprecher am Dienstag in Berlin.",
        "Publicité mensongère : l'entreprise a été condamnée à une amende de deux millions d'euros.",
        "Síguenos de cerca, pidió el alcalde a los vecinos durante la reunión del martes por la noche.",
        "编辑部表示，责任编辑将对这篇报道中的错误负责，并已向读者公开道歉。",
        "相关阅读材料已经提交给委员会，委员们将在下周的会议上讨论这一问题。",
        P1,
    ]
    result = clean_blocks(story)
    assert result.blocks == story
    assert result.removed == []


def test_inline_tracking_code_cut_inside_a_paragraph() -> None:
    result = clean_blocks(
        [P1, "New Audi A8L sales rose 21.6 percent.MENAFN0201202000450000ID1099497208"],
        url="https://menafn.com/1/x",
    )
    assert result.blocks[-1] == "New Audi A8L sales rose 21.6 percent."
    assert result.removed[-1].rule == "menafn:tracking"


def test_lead_marker_cuts_only_the_prefix_of_the_first_block() -> None:
    result = clean_blocks([f"(MENAFN) {P1}", P2], url="https://menafn.com/1/x")
    assert result.blocks == [P1, P2]
    result = clean_blocks([f"(MENAFN){P1}", P2])  # glued, no URL: found by signature
    assert result.blocks == [P1, P2]
    assert result.removed[0].text == "(MENAFN)"


def test_multi_block_lead_marker_weather_widget() -> None:
    result = clean_blocks(["-3 °C", "Oslo", "Monday, February 3, 2025", P1, P2])
    assert result.blocks == [P1, P2]
    assert result.published is None  # the widget's date is today's date, not the story's
    assert {r.rule for r in result.removed} == {"generic:weather"}


def test_title_repeat_and_date_line_under_the_title() -> None:
    title = "Council approves flood plan"
    result = clean_blocks(
        [title, "Thursday, 17 October 2024 05:13 PM EDT", "Why it matters", P1, P2], title=title
    )
    # On the HTML path a short first line is a subheading and stays (the alt-line rule is for
    # plain-text exports, see test_text.py).
    assert result.blocks == ["Why it matters", P1, P2]
    assert result.published == datetime(2024, 10, 17, 17, 13, tzinfo=timezone(timedelta(hours=-4)))
    assert [r.rule for r in result.removed] == ["generic:title", "generic:date"]


def test_short_first_line_without_title_is_kept() -> None:
    assert clean_blocks(["Flood barrier at dusk", P1]).blocks == ["Flood barrier at dusk", P1]


def test_teaser_repeating_the_story_is_cut() -> None:
    teaser = P1[:90] + " ..."
    result = clean_blocks([P1, P2, teaser])
    assert result.blocks == [P1, P2]
    assert result.removed[0].rule == "generic:teaser"


def test_teaser_spanning_two_paragraphs_is_cut() -> None:
    teaser = P1 + " " + P2[:40] + " ..."
    result = clean_blocks([P1, P2, P3, teaser])
    assert result.blocks == [P1, P2, P3]


def test_removal_text_is_shortened() -> None:
    long_footer = (
        "Legal Disclaimer: MENAFN provides the information “as is” without warranty of any kind. "
        + "x " * 200
    )
    result = clean_blocks([P1, P2, long_footer.strip()], url="https://menafn.com/1/x")
    assert result.blocks == [P1, P2]
    assert len(result.removed[0].text) <= 200


def test_empty_and_whitespace_blocks() -> None:
    assert clean_blocks([]).blocks == []
    assert clean_blocks(["", "  ", "\u00a0"]).blocks == []


def test_custom_rules_replace_generic() -> None:
    # A RuleSet without a generic entry applies only what it holds.
    rules = RuleSet.from_toml(EXAMPLE_TOML)
    result = clean_blocks([P1, "Advertisement", P2], rules=rules)
    assert result.blocks == [P1, "Advertisement", P2]


# --- date lines ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "Thursday, 17 October 2024 05:13 PM EDT",
            datetime(2024, 10, 17, 17, 13, tzinfo=timezone(timedelta(hours=-4))),
        ),
        ("Sunday, January 12, 2025", datetime(2025, 1, 12)),
        ("Updated: March 4, 2024 at 6:15 p.m.", datetime(2024, 3, 4, 18, 15)),
        ("Published 2024-10-17 09:30 GMT", datetime(2024, 10, 17, 9, 30, tzinfo=UTC)),
        ("Oct. 17, 2024 12:05 AM CEST", datetime(2024, 10, 17, 0, 5, tzinfo=timezone(timedelta(hours=2)))),
        ("1/2/2020 8:38:52 AM", datetime(2020, 1, 2, 8, 38, 52)),
        ("Monday, 13 May 2024 10:00 AST", datetime(2024, 5, 13, 10, 0)),  # ambiguous zone: naive
        (
            "17 Oct 2024 14:00 +05:30",
            datetime(2024, 10, 17, 14, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        ),
    ],
)
def test_parse_date_line(line: str, expected: datetime) -> None:
    assert parse_date_line(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "2024-13-17",
        "On October 17, Zelenskyy said",
        "March 2024 was warm",
        "Thursday",
        "17 Octember 2024",
        "13:00 PM",
    ],
)
def test_parse_date_line_rejects(line: str) -> None:
    assert parse_date_line(line) is None


# --- robustness ------------------------------------------------------------------------------

_LINES = st.sampled_from(
    [
        P1,
        P2,
        "Advertisement",
        "Source link",
        "Trending Stories",
        "(MENAFN- Reuters)",
        "LONDON (Reuters) -",
        "© 2024 Thomson/Reuters. All rights reserved.",
        "Thursday, 17 October 2024 05:13 PM EDT",
        "5.8 C",
        "Amsterdam",
        "AP",
        "Tags: a | b",
        "MENAFN0201202000450000ID1099497208",
        "...",
        "",
    ]
)


@settings(max_examples=150, deadline=None)
@given(blocks=st.lists(st.one_of(_LINES, st.text(max_size=120)), max_size=25), title=st.text(max_size=40))
def test_clean_blocks_never_raises_and_never_adds_text(blocks: list[str], title: str) -> None:
    result = clean_blocks(blocks, title=title, url=None)
    kept = sum(len(b) for b in result.blocks)
    assert kept <= sum(len(b) for b in blocks)
    assert all(b and b == b.strip() for b in result.blocks)
    assert all(len(r.text) <= 200 for r in result.removed)


def test_first_character_precheck_never_skips_a_match() -> None:
    """``Pattern.may_match`` is an exact shortcut: whenever the regex matches, it says True."""
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from newsdedup._boilerplate import _first_chars

    patterns = [
        p
        for entry in RuleSet.default()
        for kind in ("line_patterns", "trailing_markers", "lead_markers")
        for p in getattr(entry, kind)
    ]
    assert any(p.first is not None for p in patterns)  # the shortcut is in use
    tricky = [
        "Source link",
        "source LINK",
        "\u212aeep reading",
        "ſign up",
        "İstanbul",
        "",
        " Tags: x",
        "ADVERTISEMENT",
        "Leave a Reply",
        "Visited 3 times, 1 visit(s) today",
        "(MENAFN) x",
    ]

    @settings(max_examples=300, deadline=None)
    @given(st.one_of(st.sampled_from(tricky), st.text(max_size=40)))
    def check(block: str) -> None:
        for p in patterns:
            if p.regex.match(block) or (p.regex.search(block) and p.first is not None):
                assert p.may_match(block) or (p.max_len is not None and len(block) > p.max_len)

    check()
    assert _first_chars(re.compile(r"(?i)^(?:read|see) more")) == frozenset("rRsS")
    assert _first_chars(re.compile(r"(?m)^Newsmax")) is None
    assert _first_chars(re.compile(r"^\s*Tags")) is None
    assert _first_chars(re.compile(r"Tags")) is None


# --- fast path == reference path -------------------------------------------------------------
# The cleaner skips blocks with whole-page pre-checks (combined regexes, first characters,
# required literals, cached rule plans). These tests hold it to the reference implementation
# (``_clean(..., fast=False)``: every pattern on every block) on adversarial inputs.

_JUNK = [
    P1,
    P2,
    P3,
    "Advertisement",
    "ADVERTISEMENT",
    "advertisement ",
    "Story continues below advertisement",
    "Click here to read more about the plan",
    "Read more: How the dykes were built",
    "Related Stories",
    "Related stories:",
    "Trending now",
    "Most read",
    "Sign up for our daily newsletter",
    "Share this article",
    "Follow us on Twitter for updates",
    "This website uses cookies to improve your experience.",
    "© 2024 Thomson/Reuters. All rights reserved.",
    "Copyright 2024 The Associated Press. All rights reserved.",
    "© Daily Example Media",
    "This material may not be published, broadcast, rewritten or redistributed.",
    "Photo: Reuters/Jane Doe",
    "(Photo by Jane Doe)",
    "AP Photo/John Smith",
    "FILE - A man walks past the building.",
    "By JANE DOE and JOHN ROE",
    "By Jane Doe | Reuters",
    "Tags: markets | economy",
    "3 comments",
    "Source link",
    "Visited 12 times, 1 visits today",
    "Leave a Reply",
    "Your email address will not be published. Required fields are marked *",
    "Post Comment",
    "Newsmax Media, Inc.",
    "Join the Newsmax Community",
    "Sign up for Newsmax's Daily Newsletter",
    "Tags: ukraine | russia",
    "(MENAFN- Jordan Times) The ministry said on Sunday",
    "(MENAFN- Reuters)",
    "MENAFN0201202000450000ID1099497208",
    "The dykes will be raised.MENAFN0201202000450000ID1099497208",
    "Legal Disclaimer:",
    "Legal Disclaimer: MENAFN provides the information as is",
    "Kyiv • UNN",
    "UNN reports that the talks resumed",
    "LONDON (Reuters) - The regional council approved the plan",
    "WASHINGTON (AP) — Officials said",
    "(Reporting by Jane Doe; Editing by John Roe)",
    "Associated Press writer Jane Doe contributed to this report.",
    "Our Standards: The Thomson Reuters Trust Principles.",
    "Reuter",
    "AP",
    "Thursday, 17 October 2024 05:13 PM EDT",
    "2024-13-17",
    "5.8 C",
    "Amsterdam",
    "Sunday, January 12, 2025",
    "Council approves flood defence plan after decade of delays",
    "A summary of the regional council approved a new flood defence plan on Monday...",
    "\u212aeep reading",
    "\u017fign up for our newsletter",
    "İstanbul",
    "ÉDITION SPÉCIALE",
    "Tags:",
    "EXCLUSIVE: The council",
    "More from Daily Example",
    "Daily Example newsroom",
    "The plan [DX-1234] was approved",
]
_PIECE = st.one_of(
    st.sampled_from(_JUNK),
    st.builds(
        lambda line, case, pad: (
            pad[0] + (line.upper() if case == 1 else line.lower() if case == 2 else line) + pad[1]
        ),
        st.sampled_from(_JUNK),
        st.integers(0, 2),
        st.tuples(*[st.sampled_from(["", " ", "  ", "\t", "\u00a0", "\u200b", "x ", ". "])] * 2),
    ),
    st.text(alphabet=st.sampled_from("aAkK\u212a\u017fT(©:.-| \n\t1"), max_size=30),
)
_URLS = st.sampled_from(
    [
        None,
        "https://www.newsmax.com/world/x/2024/1/1/id/1/",
        "https://menafn.com/1",
        "https://unn.ua/en/news/1",
        "https://dailyexample.com/a",
        "https://example.org/story",
    ]
)


@functools.cache
def _rules(toml: str) -> RuleSet:
    """Default rules plus an extra file, built once (a RuleSet compiles its plans on first use)."""
    return RuleSet.default().extend(RuleSet.from_toml(toml))


def _both(blocks: list[str], rules: RuleSet | None, **kw: object) -> None:
    from newsdedup._boilerplate import _clean

    args = {
        "title": "",
        "authors": (),
        "hints": (),
        "rules": rules,
        "learner": None,
        "site": None,
        "text_mode": False,
    }
    args.update(kw)
    fast = _clean(blocks, fast=True, **args)  # type: ignore[arg-type]
    slow = _clean(blocks, fast=False, **args)  # type: ignore[arg-type]
    assert fast == slow


@settings(max_examples=400, deadline=None)
@given(
    blocks=st.lists(_PIECE, max_size=24),
    url=_URLS,
    title=st.sampled_from(["", "Council approves flood defence plan after decade of delays"]),
    text_mode=st.booleans(),
    extended=st.booleans(),
)
def test_fast_cleaner_matches_reference(
    blocks: list[str], url: str | None, title: str, text_mode: bool, extended: bool
) -> None:
    rules = _rules(EXAMPLE_TOML) if extended else None
    _both(blocks, rules, url=url, title=title, text_mode=text_mode)


UNSAFE_TOML = r"""
version = 1

[[publisher]]
name = "odd"
hosts = ["odd.example"]
signatures = ['(?i)odd\s+wire', '(?m)^Odd Media$']
lead_markers = ['^(?=EXCLUSIVE)EXCLUSIVE:\s*']
trailing_markers = ['\AMore from Odd$', '(?x) ^ Odd \s footer $ # a comment']
line_patterns = [
    { pattern = '^(?P<w>\w+) (?P=w)$', label = "echo" },
    { pattern = '(?<!x)odd promo$', label = "promo" },
    { pattern = '^(?P<agency>Odd) newsroom$', label = "newsroom" },
    { pattern = '(?i)^\u212aeep$', label = "kelvin" },
]
inline_patterns = [{ pattern = '\s*\[ODD-\d+\]', label = "tracking" }]
"""


@settings(max_examples=200, deadline=None)
@given(
    blocks=st.lists(
        st.one_of(
            _PIECE,
            st.sampled_from(
                [
                    "EXCLUSIVE: Odd news",
                    "More from Odd",
                    "Odd footer",
                    "word word",
                    "an odd promo",
                    "xodd promo",
                    "Odd newsroom",
                    "keep",
                    "KEEP",
                    "The plan [ODD-7] was approved",
                    "Odd Media",
                    "the odd  wire",
                ]
            ),
        ),
        max_size=16,
    ),
    url=st.sampled_from([None, "https://odd.example/a"]),
)
def test_fast_cleaner_matches_reference_on_unusual_patterns(blocks: list[str], url: str | None) -> None:
    """Lookarounds, backreferences, \\A, verbose mode, named groups: pre-checks step aside or cope."""
    _both(blocks, _rules(UNSAFE_TOML), url=url, text_mode=True)


def test_prefilters_step_aside_for_patterns_they_cannot_reason_about() -> None:
    rules = _rules(UNSAFE_TOML)
    plan = rules._plan("https://odd.example/a", ["x"])
    assert plan.names == ("odd", "generic")
    assert plan.lead.prefilter is None  # lookahead
    assert plan.trailing.prefilter is None  # \A
    assert plan.lines_filter is None  # backreference, lookbehind
    default = RuleSet.default()._plan(None, ["x"])
    assert default.lines_filter is not None
    assert default.trailing.prefilter is not None


def test_candidates_cover_every_block_a_pattern_matches() -> None:
    """The guarantee behind the pre-checks, pattern by pattern, on the default rules."""
    from newsdedup._boilerplate import _Plan

    plan = _Plan.build(list(RuleSet.default()))  # every entry at once

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.sampled_from(_JUNK).map(str.strip).filter(bool), min_size=1, max_size=12))
    def check(blocks: list[str]) -> None:
        text = "\n" + "\n".join(blocks)
        for kind in (plan.trailing, plan.lead):
            found = kind.candidates(blocks, text)
            assert found is not None
            for index in range(len(blocks)):
                window = "\n".join(blocks[index : index + 8])
                for _, pattern in kind.rules:
                    if pattern.regex.match(window):
                        assert index in found, (pattern.regex.pattern, window)
        lines = plan.lines_filter
        assert lines is not None
        for block in blocks:
            for _, pattern in (*plan.line.rules, *plan.inline.rules):
                if pattern.regex.search(block):
                    assert lines.may_match(block), (pattern.regex.pattern, block)

    check()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.just(""),
            st.just("a b"),
            st.text(alphabet=st.sampled_from("ab \t\n\u00a0\u200b\u2028\x1c.\u3000\xad’"), max_size=12),
            st.text(max_size=12),
        ),
        max_size=8,
    )
)
def test_clean_all_is_clean_ws_per_block(blocks: list[str]) -> None:
    from newsdedup._boilerplate import _clean_all, _clean_ws

    assert _clean_all(blocks) == [b for b in (_clean_ws(x) for x in blocks) if b]


def test_first_set_and_required_literal_are_sound() -> None:
    import re

    from newsdedup._boilerplate import _first_set, _required_literal

    regexes = [p.regex for e in RuleSet.default() for k in ("line_patterns",) for p in getattr(e, k)]
    assert _first_set(re.compile(r"(?i)^(?:the\s+)?ap\b"), anchored=True) == frozenset("tTaA")
    assert _first_set(re.compile(r"(?i)^\u212a"), anchored=True) is None  # Kelvin folds onto "k"
    assert _first_set(re.compile(r"(?i)^\u0130x"), anchored=True) is None  # and "İ" onto "i"
    assert _first_set(re.compile(r"^©\s*x"), anchored=True) == frozenset()  # non-ASCII starts only
    assert _first_set(re.compile(r"^a?"), anchored=True) is None  # can match empty
    assert _first_set(re.compile(r"Tags"), anchored=True) is None  # not anchored
    assert _required_literal(re.compile(r"\bUNN reports\b")) == "UNN reports"
    assert _required_literal(re.compile(r"(?i)^(?:a|b)x\s+contributed")) == "contributed"
    assert _required_literal(re.compile(r"(?i)\u212aelvin x")) is None

    @settings(max_examples=300, deadline=None)
    @given(
        st.one_of(
            st.sampled_from(_JUNK), st.text(alphabet=st.sampled_from("kK\u212as\u017fiİı©(Tt :"), max_size=12)
        )
    )
    def check(block: str) -> None:
        for regex in regexes:
            if not regex.search(block):
                continue
            first = _first_set(regex, anchored=True)
            if first is not None:
                assert not block[0].isascii() or block[0] in first, (regex.pattern, block)
            literal = _required_literal(regex)
            if literal is not None:
                if regex.flags & re.IGNORECASE:
                    assert not block.isascii() or literal.lower() in block.lower()
                else:
                    assert literal in block

    check()


def test_folds_to_ascii_lists_every_character_case_folding_ties_to_ascii() -> None:
    """_first_set's premise, from the regex engine's own case tables: outside ASCII
    only these characters match an ASCII letter case-insensitively."""
    import _sre
    import re
    import sys
    from re import _casefix

    from newsdedup._boilerplate import _FOLDS_TO_ASCII, ascii_fold_lower

    tied = {chr(c) for c in range(128, sys.maxunicode + 1) if _sre.unicode_tolower(c) < 128}
    for key, extra in _casefix._EXTRA_CASES.items():
        if key < 128:
            tied.update(map(chr, extra))
    assert tied == {"\u0130", "\u0131", "\u017f", "\u212a"}
    assert all(_FOLDS_TO_ASCII.fullmatch(c) for c in tied)
    letters = [chr(c) for c in range(128) if chr(c).isalpha()]
    assert all(any(re.fullmatch("(?i)" + a, c) for a in letters) for c in tied)
    # ascii_fold_lower turns each into the very letter the pattern matches it to
    assert all(re.fullmatch("(?i)" + ascii_fold_lower(c), c) and ascii_fold_lower(c).isascii() for c in tied)


# --- whitespace helpers keep their regex definitions --------------------------------------------


def test_only_the_ascii_space_is_printable_whitespace() -> None:
    """The fact _clean_all's shortcut rests on: a printable block holds no whitespace but " "
    and no zero-width space."""
    import sys

    everything = map(chr, range(sys.maxunicode + 1))
    assert [c for c in everything if c.isspace() and c.isprintable()] == [" "]
    assert not "\u200b".isprintable()


_WS_TEXT = st.text(
    alphabet=st.sampled_from(list("aZ9 .,-'“(\t\n\r\x0b\x0c\x1c\x85\u00a0\u2002\u2028\u3000\u200b٣İß")),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_WS_TEXT, _WS_TEXT.map(lambda t: t * 9)))
def test_short_is_the_clean_text_shortened(text: str) -> None:
    from newsdedup._boilerplate import _clean_ws, _short

    clean = _clean_ws(text)
    assert _short(text) == (clean if len(clean) <= 200 else clean[:199].rstrip() + "…")


@settings(max_examples=300, deadline=None)
@given(_WS_TEXT)
def test_whitespace_helpers_equal_their_regex_forms(text: str) -> None:
    import re

    from newsdedup._boilerplate import _clean_ws, _norm
    from newsdedup._metadata import _clean
    from newsdedup._text import scrub_text

    ws = re.compile(r"\s+")
    assert _clean_ws(text) == ws.sub(" ", text.replace("\u00a0", " ").replace("\u200b", "")).strip()
    folded = ws.sub(" ", text.replace("\u00a0", " ")).strip().casefold()
    assert _norm(text) == re.sub(r"\d+", "0", folded).strip(" .,:;!?|-–—•·*\"'“”‘’()[]")
    # metadata strings are scrubbed first, as body text is
    assert _clean(text, 20) == ws.sub(" ", scrub_text(text)).strip()[:20]


# --- shortcuts that must not change a result -----------------------------------------------------

_URL_TRICKS = [
    "https://www.Example.COM/a",
    "HTTPS://WWW.EXAMPLE.COM",
    "https://example.com.",
    "https://www./x",
    "https://.../x",
    "https://user@example.com/x",
    "https://example.com:8080/x",
    "https://[::1]/x",
    "https://exa\tmple.com/x",
    "https://example.com\n",
    "https://example.com\t/x",
    " https://example.com/x",
    "https://exämple.com/x",
    "https:///x",
    "ftp://files.example.org?x",
    "mailto:someone@example.com",
    "example.com/path",
    "//example.com/x",
    "a+b.c://host.example#frag",
]


def _reference_site_of(url: str | None) -> str | None:
    from urllib.parse import urlsplit

    if not url:
        return None
    try:
        host = urlsplit(url if "//" in url else "//" + url).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host.rstrip(".").removeprefix("www.")


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.sampled_from(_URL_TRICKS),
        st.builds(
            lambda scheme, host, rest: scheme + host + rest,
            st.sampled_from(["https://", "http://", "HTTP://", "x-y://", "1http://", "", "//"]),
            st.text(alphabet=st.sampled_from("aZ09.-w@:[]%\t\n ä"), max_size=14),
            st.sampled_from(["", "/", "/path?q=1", "?q", "#f", ":80/", "\t/x", " x"]),
        ),
    )
)
def test_site_of_shortcut_equals_urlsplit(url: str) -> None:
    from newsdedup._boilerplate import site_of

    assert site_of(url) == _reference_site_of(url)


_TITLE = "Council approves £12m flood plan after 3-year delay"


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.builds(
            lambda pre, core, post: pre + core + post,
            st.sampled_from(["", "- ", "“", "(", "  ", "12 ", "ß"]),
            st.sampled_from(
                [
                    _TITLE,
                    _TITLE.upper(),
                    _TITLE.lower(),
                    _TITLE.replace("12", "99"),
                    _TITLE.replace(" ", "  "),
                ]
            ),
            st.sampled_from(["", ".", "”", " 2024", "!", " ", "K"]),
        ),
        st.text(alphabet=st.sampled_from("aAbK\u212a 1.-“”ßSs"), max_size=12),
    ),
    st.sampled_from([_TITLE, "K", "ss", "Straße news today", "a a", "1 a"]),
)
def test_norm_precheck_never_rejects_an_equal_block(block: str, title: str) -> None:
    from newsdedup._boilerplate import _may_norm_to, _norm

    key = _norm(title)
    if key and _norm(block) == key:
        assert _may_norm_to(block, key[0] + key[-1])


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        _WS_TEXT, st.text(alphabet=st.sampled_from("aZ09 .,:;!?|-*\"'()[]_#\t\x1c\x1f\x7f"), max_size=12)
    )
)
def test_norm_ends_are_the_ends_of_the_key(text: str) -> None:
    from newsdedup._boilerplate import _norm, _norm_ends

    key = _norm(text)
    ends = _norm_ends(text)
    assert ends is None if not text.isascii() else ends == key[:1] + key[-1:]
    ascii_text = text.encode("ascii", "ignore").decode()
    key = _norm(ascii_text)
    assert _norm_ends(ascii_text) == key[:1] + key[-1:]


def test_title_repeat_is_still_found_behind_punctuation_and_case() -> None:
    from newsdedup._boilerplate import _clean

    result = _clean(
        [f"“{_TITLE.upper()}”", "The council approved the plan on Monday after a long debate over costs."],
        url=None,
        title=_TITLE,
        authors=(),
        hints=(),
        rules=None,
        learner=None,
        site=None,
        text_mode=True,
    )
    assert [r.rule for r in result.removed] == ["generic:title"]


@settings(max_examples=100, deadline=None)
@given(blocks=st.lists(_PIECE, max_size=16), url=_URLS)
def test_lines_memo_that_keeps_starting_over_changes_nothing(blocks: list[str], url: str | None) -> None:
    import newsdedup._boilerplate as bp

    original = bp._LINES_MEMO
    bp._LINES_MEMO = 1
    try:
        _both(blocks, None, url=url, text_mode=True)
        _both(blocks, None, url=url, text_mode=True)  # the second time partly from the memo
    finally:
        bp._LINES_MEMO = original
