"""Wire-agency detection: attribution is evidence, a mention or a picture credit is not."""

from __future__ import annotations

import pytest

from newsdedup._boilerplate import clean_blocks
from newsdedup._wire import WIRES, WireResult, canonical_wire, detect_wire

BODY = (
    "The central bank raised its benchmark rate by a quarter point on Tuesday, the third increase "
    "this year, and signalled that further moves would depend on how quickly inflation cools."
)
SECOND = "Analysts had expected the move after a run of strong jobs data and rising service prices."


@pytest.mark.parametrize(
    ("dateline", "wire"),
    [
        ("LONDON (Reuters) -", "Reuters"),
        ("WASHINGTON (AP) —", "AP"),
        ("PARIS (AFP) -", "AFP"),
        ("(Bloomberg) --", "Bloomberg"),
        ("Berlin (dpa) -", "dpa"),
        ("BEIJING, Oct. 17 (Xinhua) --", "Xinhua"),
        ("New Delhi, Oct 17 (IANS)", "IANS"),
        ("New Delhi [India], October 17 (ANI):", "ANI"),
        ("Mumbai, Oct 17 (PTI)", "PTI"),
        ("SEOUL, Oct. 17 (Yonhap) --", "Yonhap"),
        ("TOKYO (Kyodo) --", "Kyodo"),
        ("Madrid, 17 Oct (EFE).-", "EFE"),
        ("MOSCOW, October 17. /TASS/.", "TASS"),
        ("(ANSA) - ROME, OCT 17 -", "ANSA"),
        ("Taipei, Oct. 17 (CNA)", "CNA"),
        ("WASHINGTON, Oct. 17 (UPI) --", "UPI"),
    ],
)
def test_dateline_prefix_is_cut_and_names_the_wire(dateline: str, wire: str) -> None:
    result = detect_wire([f"{dateline} {BODY}", SECOND])
    assert result.wire == wire
    assert result.blocks == [BODY, SECOND]
    assert [r.rule for r in result.removed] == ["wire:dateline"]


@pytest.mark.parametrize(
    ("line", "wire"),
    [
        ("© 2024 Thomson/Reuters. All rights reserved.", "Reuters"),
        ("Copyright 2024 The Associated Press. All rights reserved.", "AP"),
        ("(c) Copyright Thomson Reuters 2024.", "Reuters"),
        ("© Agence France-Presse", "AFP"),
        ("©2024 Bloomberg L.P.", "Bloomberg"),
        ("Copyright 2024 Yonhap News Agency. All rights reserved.", "Yonhap"),
    ],
)
def test_copyright_line_is_dropped_and_names_the_wire(line: str, wire: str) -> None:
    result = detect_wire([BODY, SECOND, line])
    assert result.wire == wire
    assert result.blocks == [BODY, SECOND]
    assert result.removed[0].rule == "wire:copyright"


def test_reuters_credit_line_and_trust_principles() -> None:
    result = detect_wire(
        [
            BODY,
            "(Reporting by Jane Doe in Kyiv; Additional reporting by Max Roe; Editing by Ann Lee)",
            "Our Standards: The Thomson Reuters Trust Principles.",
        ]
    )
    assert result.wire == "Reuters"
    assert result.blocks == [BODY]


@pytest.mark.parametrize(
    ("byline", "wire"),
    [
        ("By Jane Doe | Reuters", "Reuters"),
        ("By Reuters Staff", "Reuters"),
        ("By The Associated Press", "AP"),
        ("By Pierre Martin, AFP", "AFP"),
    ],
)
def test_agency_byline(byline: str, wire: str) -> None:
    result = detect_wire([byline, BODY])
    assert result.wire == wire
    assert result.blocks == [BODY]


@pytest.mark.parametrize(
    ("marker", "wire"),
    [
        ("(MENAFN- Reuters)", "Reuters"),
        ("(MENAFN- AFP)", "AFP"),
        ("(MENAFN- IANS)", "IANS"),
        ("(MENAFN- Jordan Times)", None),
    ],
)
def test_menafn_marker_names_the_source_only_when_it_is_a_wire(marker: str, wire: str | None) -> None:
    result = detect_wire([f"{marker} {BODY}"])
    assert result.wire == wire
    assert result.blocks == [BODY]  # the attribution never stays in the text


# --- false positives -------------------------------------------------------------------------


def test_mention_of_reuters_is_not_a_wire_copy() -> None:
    blocks = [
        BODY,
        "Zelensky last week accused North Korea of transferring personnel to Russian forces, "
        "citing Ukrainian intelligence services, according to Reuters .",
        "Reuters reported on Monday that the talks had stalled.",
    ]
    result = detect_wire(blocks)
    assert result.wire is None
    assert result.blocks == blocks
    assert result.removed == []


def test_ap_reported_and_lone_ap_photo_credit_are_not_an_ap_copy() -> None:
    blocks = [
        "He has warned that a third nation’s involvement in the war would be the “first step to a "
        "world war,” The Associated Press reported.",
        "AP",
        SECOND,
    ]
    result = detect_wire(blocks)
    assert result.wire is None
    assert result.blocks == [blocks[0], SECOND]  # the lone credit is cut as a picture credit
    assert [r.rule for r in result.removed] == ["wire:photo-credit"]


def test_photo_credits_with_agency_are_not_evidence() -> None:
    blocks = [BODY, "AP Photo/Evan Vucci", "Reuters/Jane Doe", "AFP via Getty Images", SECOND]
    result = detect_wire(blocks)
    assert result.wire is None
    assert result.blocks == [BODY, SECOND]


def test_parenthesised_agency_inside_a_sentence_is_not_a_dateline() -> None:
    text = "Officials told the Associated Press (AP) that the bridge would reopen next week."
    result = detect_wire([text])
    assert result.wire is None
    assert result.blocks == [text]


def test_dateline_only_at_the_start_of_the_story() -> None:
    late = f"LONDON (Reuters) - {SECOND}"
    result = detect_wire([BODY, BODY, BODY, late])
    assert result.wire is None
    assert result.blocks[-1] == late


def test_caption_with_agency_in_parentheses_alone_is_kept_for_other_rules() -> None:
    # "David Stern (AP)" is an image caption; it is not a dateline (nothing follows it).
    result = detect_wire(["David Stern (AP)", BODY])
    assert result.wire is None


def test_strongest_signal_wins() -> None:
    # Newsmax's real page: metadata says an AP writer, the copyright line says Reuters.
    result = detect_wire(
        [BODY, "© 2020 Thomson/Reuters.  All rights reserved."], authors=["Brian Mahoney (AP)"]
    )
    assert result.wire == "Reuters"


def test_evidence_from_text_already_cut_by_publisher_rules() -> None:
    result = detect_wire([BODY], evidence=["© 2024 Thomson/Reuters. All rights reserved.", "AP"])
    assert result.wire == "Reuters"
    assert detect_wire([BODY], evidence=["AP", "Reuters"]).wire is None


def test_authors_and_hints() -> None:
    assert detect_wire([BODY], authors=["Associated Press"]).wire == "AP"
    assert detect_wire([BODY], authors=["Jane Doe"]).wire is None
    # A bare agency name in page metadata may be a picture credit: not enough on its own.
    assert detect_wire([BODY], hints=["AP"]).wire is None
    assert detect_wire([BODY], hints=["content_source=reuters"]).wire == "Reuters"
    assert detect_wire([BODY], hints=["Copyright 2024 The Associated Press"]).wire == "AP"
    assert detect_wire([BODY], hints=["WASHINGTON (AP) —"]).wire == "AP"


def test_contributor_line_is_cut_without_claiming_a_wire() -> None:
    result = detect_wire([BODY, "The Associated Press contributed to this report."])
    assert result.wire is None
    assert result.blocks == [BODY]


def test_canonical_names() -> None:
    assert canonical_wire("Thomson Reuters") == "Reuters"
    assert canonical_wire("The Associated Press") == "AP"
    assert canonical_wire("agence france-presse") == "AFP"
    assert canonical_wire("Deutsche Presse-Agentur") == "dpa"
    assert canonical_wire("Jordan Times") is None
    assert set(WIRES) >= {"Reuters", "AP", "AFP", "Bloomberg", "dpa", "UPI", "ANI", "PTI", "IANS",
                          "Xinhua", "Kyodo", "EFE", "ANSA", "Yonhap", "TASS", "CNA"}  # fmt: skip


def test_clean_blocks_reports_wire_from_a_footer_cut_by_a_publisher_rule() -> None:
    blocks = [BODY, SECOND, "© 2024 Thomson/Reuters. All rights reserved.", "Newsmax Media, Inc."]
    result = clean_blocks(blocks, url="https://www.newsmax.com/world/x/2024/10/17/id/1")
    assert result.wire == "Reuters"
    assert result.blocks == [BODY, SECOND]
    assert result.removed[0].rule == "newsmax:copyright"


def test_reuters_signoff_line_at_the_end() -> None:
    result = detect_wire([BODY, SECOND, "Reuter"])
    assert result.wire == "Reuters"
    assert result.blocks == [BODY, SECOND]
    # Only as the last line: elsewhere it is not a sign-off.
    assert detect_wire(["Reuter", BODY]).wire is None


def test_attribution_precheck_gives_the_same_result_as_checking_every_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """detect_wire skips blocks the combined pre-check rules out; without it the result is the same."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from newsdedup import _wire

    lines = [
        "LONDON (Reuters) - The council approved the plan on Monday.",
        "© 2024 Thomson/Reuters. All rights reserved.",
        "Copyright 2024 The Associated Press. All rights reserved.",
        "(Reporting by Jane Doe; Editing by John Roe)",
        "Our Standards: The Thomson Reuters Trust Principles.",
        "Associated Press writer Jane Doe in Kyiv contributed to this report.",
        "By Jane Doe | Reuters",
        "By The Associated Press",
        "AP",
        "Reuters/Jane Doe",
        "AFP via Getty Images",
        "(MENAFN- Jordan Times) The ministry said",
        "(MENAFN- Reuters)",
        "New Delhi, Oct 17 (IANS) The talks resumed.",
        "MOSCOW, October 17. /TASS/. The ministry said",
        "(ANSA) - ROME, OCT 17 - The talks resumed",
        "The officials told the Associated Press (AP) that the talks resumed.",
        "Reuter",
        "the regional council approved a new flood defence plan",
        "\u212aYODO contributed",
        # Case folding outside ASCII ("ı", "İ", "ſ" match "i", "i", "s"), typographic quotes.
        "Associated Press writer Jane Doe contr\u0131buted to this report.",
        "(Reporting by Jane Doe; ED\u0130T\u0130NG by John Roe)",
        "Our Standards: The Thomson Reuters Tru\u017ft Principles.",
        "Associated Press writer Jane Doe’s team contributed to this report.",
        "(Reporting by Jane “JD” Doe; Editing by John Roe)",
        "  padded line  ",
        "",
        "two\nlines",
    ]
    texts = st.one_of(
        st.sampled_from(lines),
        st.sampled_from(lines).map(str.upper),
        st.text(alphabet=st.sampled_from("APRTbeuy()© -\u212a/\n"), max_size=20),
    )

    @settings(max_examples=300, deadline=None)
    @given(
        st.lists(texts, max_size=12),
        st.lists(st.one_of(st.sampled_from(lines), texts), max_size=3),
        st.booleans(),
    )
    def check(blocks: list[str], evidence: list[str], tiny_memo: bool) -> None:
        with monkeypatch.context() as patch:
            if tiny_memo:  # a memo that keeps starting over must not change anything
                patch.setattr(_wire, "_MEMO_SIZE", 2)
            fast = _wire.detect_wire(blocks, evidence=evidence)
            again = _wire.detect_wire(blocks, evidence=evidence)  # now from the memo
        slow = _reference_detect_wire(blocks, evidence=evidence)
        assert fast == slow
        assert again == slow

    check()
    assert _wire._prefilter() is not None  # the pre-check is in use


def test_marker_literal_is_required_by_the_marker_pattern() -> None:
    from newsdedup import _wire
    from newsdedup._boilerplate import _required_literal

    assert _required_literal(_wire._MARKER) == _wire._MARKER_LITERAL


def _reference_detect_wire(blocks: list[str], *, evidence: list[str]) -> WireResult:
    """detect_wire written plainly: every attribution pattern on every block, no pre-check and
    no memo (what the fast path must reproduce exactly)."""
    from newsdedup import _wire
    from newsdedup._models import Removal

    found: list[tuple[int, int, str]] = []
    kept: list[str] = []
    removed: list[Removal] = []
    order = 0

    def note(kind: str, wire: str | None) -> None:
        nonlocal order
        if wire is not None:
            found.append((_wire._RANK[kind], order, wire))
        order += 1

    short = _wire._short
    dateline_done = False
    stripped = [raw.strip() for raw in blocks]
    for position, block in enumerate(stripped):
        if not block:
            continue
        if position == len(stripped) - 1 and block == "Reuter":
            note("credit", "Reuters")
            removed.append(Removal(rule="wire:signoff", text=block))
            continue
        match = _wire._COPYRIGHT.match(block)
        if match and len(block) <= 400:
            note("copyright", canonical_wire(match.group("agency")))
            removed.append(Removal(rule="wire:copyright", text=short(block)))
            continue
        if (_wire._CREDIT_REUTERS.match(block) and len(block) <= 500) or _wire._CREDIT_TRUST.match(block):
            note("credit", "Reuters")
            removed.append(Removal(rule="wire:credit", text=short(block)))
            continue
        if _wire._CONTRIB.match(block) and len(block) <= 300:
            removed.append(Removal(rule="wire:contributors", text=short(block)))
            continue
        match = _wire._BYLINE.match(block)
        if match and len(block) <= 120:
            note("byline", canonical_wire(match.group("agency")))
            removed.append(Removal(rule="wire:byline", text=short(block)))
            continue
        if _wire._PHOTO_CREDIT.match(block) and len(block) <= 80:
            removed.append(Removal(rule="wire:photo-credit", text=short(block)))
            continue
        marker = _wire._MARKER.search(block)
        if marker and marker.start() <= 3:
            note("marker", canonical_wire(marker.group("source")))
            rest = (block[: marker.start()] + block[marker.end() :]).strip(" -–—:")
            removed.append(Removal(rule="wire:marker", text=short(marker.group(0))))
            if not rest:
                continue
            block = rest
        if not dateline_done and len(kept) < 3:
            cut = _wire._cut_dateline(block)
            if cut is not None:
                dateline_done = True
                note("dateline", cut[1])
                removed.append(Removal(rule="wire:dateline", text=short(cut[0])))
                if cut[2]:
                    kept.append(cut[2])
                continue
        kept.append(block)
        if len(block) > 200:
            dateline_done = True
    for text in (t.strip() for t in evidence):
        match = _wire._COPYRIGHT.match(text)
        if match and len(text) <= 400:
            note("copyright", canonical_wire(match.group("agency")))
            continue
        marker = _wire._MARKER.search(text)
        if marker:
            note("marker", canonical_wire(marker.group("source")))
            continue
        if _wire._CREDIT_REUTERS.match(text) or _wire._CREDIT_TRUST.match(text):
            note("credit", "Reuters")
            continue
        match = _wire._BYLINE.match(text)
        if match and len(text) <= 120:
            note("byline", canonical_wire(match.group("agency")))
    return WireResult(wire=min(found)[2] if found else None, blocks=kept, removed=removed)
