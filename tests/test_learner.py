"""BoilerplateLearner: lines repeated across many pages of one site are that site's boilerplate."""

from __future__ import annotations

import itertools
import json

import pytest

from newsdedup import BoilerplateLearner, ConfigError, extract
from newsdedup._boilerplate import clean_blocks

SITE = "riversideledger.example"
PROMO = "Want more stories like this? Get The Morning Ledger in your inbox every weekday, free of charge."
FOOTER = (
    "The Riverside Ledger is an independent, reader-funded newsroom covering the river towns since "
    "1998. Support local reporting with a monthly contribution."
)
CORRECTIONS = (
    "Spotted an error in this story? Write to corrections@riversideledger.example and we will fix it."
)

STORIES = [
    (
        "Ferry service to resume after winter repairs",
        [
            "The passenger ferry between Millbrook and Ashford will resume on April 2 after three months of repairs to its hull and landing ramps, the county transit office said on Tuesday.",
            "Engineers found corrosion on the lower hull during a routine inspection in December, forcing the county to suspend the route for the first time since it opened in 2004.",
            "Commuters have been using a shuttle bus over the Harlan Bridge, adding up to 40 minutes to the trip each way.",
        ],
    ),
    (
        "School board delays vote on later start times",
        [
            "The Riverside school board postponed a vote on later start times for high schools on Monday night, saying it needed more data on how bus routes would change.",
            "Parents packed the meeting room, and more than 60 people signed up to speak, most of them in favour of starting classes after 8:30 a.m.",
            "The board will take up the proposal again at its May meeting, the chair said.",
        ],
    ),
    (
        "Library expansion wins state grant",
        [
            "The Ashford public library has won a 2.4 million dollar state grant to add a children's wing and a community meeting room, the library director announced on Wednesday.",
            "Construction is expected to begin in the autumn and take about 18 months, during which the main reading room will stay open.",
            "The library had applied for the same grant twice before without success.",
        ],
    ),
    (
        "Flood gauges to be replaced along the Harlan River",
        [
            "State officials will replace 14 flood gauges along the Harlan River this summer, after several failed during last year's spring floods and left towns without early warnings.",
            "The new gauges report water levels every five minutes instead of every hour and run on solar power.",
            "Emergency managers in Millbrook said the faster readings would give residents more time to move cars and livestock.",
        ],
    ),
    (
        "Farmers market moves to riverside park",
        [
            "The Saturday farmers market will move from the municipal parking lot to Riverside Park starting in June, giving vendors shade and room for 20 more stalls.",
            "The market's organisers said the move followed two years of complaints about heat on the asphalt lot during summer mornings.",
            "Parking will be available at the high school, with a free shuttle running every 15 minutes.",
        ],
    ),
]


def _page(title: str, paragraphs: list[str]) -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs[:2])
    body += f"\n<p><em>{PROMO}</em></p>\n"
    body += "\n".join(f"<p>{p}</p>" for p in paragraphs[2:])
    body += f"\n<p>{CORRECTIONS}</p>\n<p><small>{FOOTER}</small></p>"
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} | The Riverside Ledger</title>
<meta property="og:title" content="{title}"></head>
<body><header><a href="/">The Riverside Ledger</a></header>
<main><article><h1>{title}</h1><div class="story-body">
{body}
</div></article></main>
<footer><p>&copy; 2024 Riverside Ledger Media</p></footer></body></html>"""


PAGES = [(f"https://www.{SITE}/2024/04/story-{i}", _page(t, ps)) for i, (t, ps) in enumerate(STORIES)]


def test_extractor_plus_learner_cleans_a_site_without_rules() -> None:
    first_pass = [(url, extract(html, url=url)) for url, html in PAGES]
    for _, article in first_pass:
        # No publisher rule knows this site: the generic pass leaves its promo and footer in.
        assert PROMO in article.text or FOOTER in article.text or CORRECTIONS in article.text
    learner = BoilerplateLearner().fit((SITE, article.paragraphs) for _, article in first_pass)
    learned = learner.boilerplate(SITE)
    assert len(learned) >= 1

    for (url, html), (_, paragraphs) in zip(PAGES, STORIES, strict=True):
        article = extract(html, url=url, learner=learner)
        for junk in (PROMO, FOOTER, CORRECTIONS):
            assert junk not in article.text
        for sentence in paragraphs:  # every story line appears once across the batch: all kept
            assert sentence in article.text
        assert any(r.rule == "learned:line" for r in article.removed)


def test_learned_lines_and_thresholds() -> None:
    pages = [(SITE, [*ps, PROMO, FOOTER]) for _, ps in STORIES]
    learner = BoilerplateLearner(min_pages=3).fit(pages[:2])
    assert learner.boilerplate(SITE) == frozenset()  # two pages are not enough
    learner.fit(pages[2:])
    learned = learner.boilerplate(SITE)
    assert learner.is_boilerplate(SITE, PROMO)
    assert learner.is_boilerplate(SITE, FOOTER.upper())  # normalised: case does not matter
    assert not any(learner.is_boilerplate(SITE, p) for _, ps in STORIES for p in ps)
    assert len(learned) == 2


def test_min_fraction_needs_the_line_on_enough_of_the_sites_pages() -> None:
    # PROMO on the first three of five pages; the other two end with their own title instead.
    pages = [(SITE, [*ps, PROMO if i < 3 else title]) for i, (title, ps) in enumerate(STORIES)]
    assert BoilerplateLearner(min_fraction=0.5).fit(pages).is_boilerplate(SITE, PROMO)  # 3 of 5
    assert not BoilerplateLearner(min_fraction=0.8).fit(pages).is_boilerplate(SITE, PROMO)


def test_order_independent_and_deterministic() -> None:
    pages = [(SITE, [*ps, PROMO, FOOTER]) for _, ps in STORIES] + [("other.example", ["Other footer"])] * 3
    reference = BoilerplateLearner().fit(pages)
    for perm in itertools.islice(itertools.permutations(pages), 0, 720, 97):
        learner = BoilerplateLearner().fit(perm)
        assert learner.to_dict() == reference.to_dict()
        assert learner.boilerplate(SITE) == reference.boilerplate(SITE)


def test_identical_pages_count_once() -> None:
    _, ps = STORIES[0]
    learner = BoilerplateLearner().fit([(SITE, [*ps, PROMO])] * 5)
    assert learner.pages(SITE) == 1
    assert learner.boilerplate(SITE) == frozenset()


def test_digits_are_normalised_so_yearly_footers_match() -> None:
    pages = [(SITE, [*ps, f"© {2020 + i} Riverside Ledger Media"]) for i, (_, ps) in enumerate(STORIES)]
    learner = BoilerplateLearner().fit(pages)
    assert learner.is_boilerplate(SITE, "© 2031 Riverside Ledger Media")


def test_sites_are_separate_and_host_forms_agree() -> None:
    pages = [(f"https://www.{SITE}/a{i}", [*ps, PROMO]) for i, (_, ps) in enumerate(STORIES)]
    learner = BoilerplateLearner().fit(pages)
    assert learner.is_boilerplate(SITE, PROMO)
    assert learner.is_boilerplate("www." + SITE, PROMO)
    assert not learner.is_boilerplate("another.example", PROMO)
    assert learner.sites() == [SITE]


def test_long_lines_are_never_learned() -> None:
    long_line = "A standard paragraph about the company. " * 20
    learner = BoilerplateLearner(max_chars=300).fit((SITE, [*ps, long_line]) for _, ps in STORIES)
    assert not learner.is_boilerplate(SITE, long_line)


def test_state_round_trips_through_json_and_merges() -> None:
    pages = [(SITE, [*ps, PROMO, FOOTER]) for _, ps in STORIES]
    learner = BoilerplateLearner().fit(pages)
    restored = BoilerplateLearner.from_dict(json.loads(json.dumps(learner.to_dict())))
    assert restored == learner
    assert restored.boilerplate(SITE) == learner.boilerplate(SITE)
    half_a = BoilerplateLearner().fit(pages[:2])
    half_b = BoilerplateLearner().fit(pages[2:])
    assert half_a.merge(half_b) == learner


def test_from_dict_rejects_foreign_state() -> None:
    with pytest.raises(ConfigError):
        BoilerplateLearner.from_dict({"version": 99})
    with pytest.raises(ConfigError):
        BoilerplateLearner.from_dict({"version": 1, "sites": {"a": {"pages": 5}}})


@pytest.mark.parametrize(
    "kwargs", [{"min_pages": 1}, {"min_fraction": -0.1}, {"min_fraction": 1.5}, {"max_chars": 0}]
)
def test_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        BoilerplateLearner(**kwargs)  # type: ignore[arg-type]


def test_clean_blocks_uses_site_when_there_is_no_url() -> None:
    learner = BoilerplateLearner().fit((SITE, [*ps, PROMO]) for _, ps in STORIES)
    blocks = [*STORIES[0][1], PROMO]
    assert clean_blocks(blocks, site=SITE, learner=learner).blocks == STORIES[0][1]
    assert clean_blocks(blocks, learner=learner).blocks == blocks  # no site: nothing to look up


def test_page_key_counts_lines_once_per_unit_and_merges_its_pages() -> None:
    """``page=`` names the unit a line is counted in: several versions of one story (one unit)
    sharing their lines are not boilerplate; a line under three different units is."""
    story = ["The council approved the budget after a four-hour debate on Tuesday night."]
    pitch = "Subscribe to the Evening Bulletin for every council story."
    learner = BoilerplateLearner(min_pages=3, min_fraction=0.0, max_chars=None)
    for version in range(4):  # four updates of one story, one unit
        learner.observe(
            SITE,
            [*story, f"Update {version}: reaction from the mayor's office number {version}", pitch],
            page="story-1",
        )
    assert learner.pages(SITE) == 1
    assert not learner.is_boilerplate(SITE, story[0])
    learner.observe(SITE, ["A different story about the harbour.", pitch], page="story-2")
    assert not learner.is_boilerplate(SITE, pitch)  # 2 units
    learner.observe(SITE, ["Another story about the school board.", pitch], page="story-3")
    assert learner.is_boilerplate(SITE, pitch)  # 3 units
    assert not learner.is_boilerplate(SITE, story[0])
    # without a page key the four versions would be four pages and the story line boilerplate
    plain = BoilerplateLearner(min_pages=3, min_fraction=0.0)
    for version in range(4):
        plain.observe(SITE, [*story, f"Version {'x' * version} of the text"])
    assert plain.is_boilerplate(SITE, story[0])


def test_observe_keys_takes_precomputed_keys_and_round_trips() -> None:
    learner = BoilerplateLearner(min_pages=2, min_fraction=0.0, max_chars=None)
    learner.observe_keys("www.Example.com", ["00ff", "1234"], page="a")
    learner.observe_keys("example.com", ["00ff", "9999"], page="b")
    assert learner.boilerplate("example.com") == frozenset({"00ff"})  # keys kept as given
    again = BoilerplateLearner.from_dict(json.loads(json.dumps(learner.to_dict())))
    assert again == learner
    assert again.max_chars is None
