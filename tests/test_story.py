"""Story grouping: the seeds form one story; different events with the same names do not."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from newsdedup import Cluster, ConfigError, dedup
from newsdedup._story import (
    StoryConfig,
    TermStats,
    _split,
    assign_stories,
    decide,
    group_stories,
    joins_story,
    profile_from_cluster,
    profile_from_text,
    story_id_for,
    story_match,
)

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = sorted((FIXTURES / "seeds").glob("*.txt"))


def _seed_items() -> list[dict[str, Any]]:
    return [{"id": f"seed-{p.stem[:3]}", "text": p.read_text(encoding="utf-8")} for p in SEEDS]


def _hard_items() -> tuple[list[dict[str, Any]], dict[str, str]]:
    items, events = [], {}
    for line in (FIXTURES / "stories" / "hard_cases.jsonl").read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        events[data["id"]] = data.pop("event")
        items.append({k: v for k, v in data.items() if v is not None})
    return items, events


@pytest.fixture(scope="module")
def all_clusters() -> tuple[list[Cluster], dict[str, str]]:
    hard, events = _hard_items()
    seeds = _seed_items()
    events.update({s["id"]: "rutte-north-korea" for s in seeds})
    return dedup(seeds + hard), events


def _partition(clusters: list[Cluster]) -> set[frozenset[str]]:
    by_story: dict[str, set[str]] = {}
    for c in clusters:
        by_story.setdefault(c.extra["story_id"], set()).update(c.member_ids)
    return {frozenset(v) for v in by_story.values()}


def test_five_seeds_are_five_clusters_and_one_story() -> None:
    clusters = dedup(_seed_items(), stories=False)
    assert len(clusters) == 5  # none is a copy of another
    stories = assign_stories(clusters)
    ids = {c.extra["story_id"] for c in stories}
    assert len(ids) == 1
    assert ids == {story_id_for(c.cluster_id for c in clusters)}
    # nothing but the extension field changes
    for before, after in zip(clusters, stories, strict=True):
        assert dataclasses.replace(after, extra={}) == dataclasses.replace(before, extra={})
        line = after.to_dict()
        assert line["story_id"] == after.extra["story_id"]
        assert {k: v for k, v in line.items() if k != "story_id"} == before.to_dict()


def test_hard_cases_partition_matches_the_events(all_clusters: tuple[list[Cluster], dict[str, str]]) -> None:
    clusters, events = all_clusters
    assert len(clusters) == len(events)  # every item its own cluster: write-ups, not copies
    got = _partition(assign_stories(clusters))
    expected: dict[str, set[str]] = {}
    for item, event in events.items():
        expected.setdefault(event, set()).add(item)
    assert got == {frozenset(v) for v in expected.values()}


def _profiles(clusters: list[Cluster]) -> dict[str, Any]:
    by_member = {c.member_ids[0]: profile_from_cluster(c) for c in clusters}
    return by_member


def test_two_nato_stories_a_week_apart_stay_apart(all_clusters: tuple[list[Cluster], dict[str, str]]) -> None:
    clusters, _ = all_clusters
    profiles = _profiles(clusters)
    stats = TermStats.from_profiles(profiles.values())
    ministers = profiles["nato-min-1"]
    for seed in ("seed-000", "seed-001", "seed-002"):
        m = story_match(ministers, profiles[seed], stats)
        assert not m.same, (seed, m)
        assert "rutte" in m.shared_names  # the same people, a different event
    # the two write-ups of the ministers' meeting are one story, with a quote both carry
    m = story_match(profiles["nato-min-1"], profiles["nato-min-2"], stats)
    assert m.same
    assert any("keeps the lights on" in q for q in m.shared_quotes)


def test_time_window_separates_the_same_event_text_ten_days_later() -> None:
    hard, _ = _hard_items()
    a, b = (next(h for h in hard if h["id"] == k) for k in ("nato-min-1", "nato-min-2"))
    t = datetime(2024, 10, 24, 16, 40, tzinfo=UTC)
    pa = profile_from_text("a", a["title"], a["text"], published=[t])
    pb = profile_from_text("b", b["title"], b["text"], published=[t + timedelta(days=10)])
    stats = TermStats.from_profiles([pa, pb])
    m = story_match(pa, pb, stats)
    assert not m.same
    assert m.rule == "outside-window"
    assert m.hours_apart == pytest.approx(240.0)
    assert story_match(pa, pb, stats, config=StoryConfig(window=None)).same
    assert story_match(pa, pb, stats, config=StoryConfig(window=11 * 86400.0)).same
    # undated: compared without the time constraint
    pu = profile_from_text("b", b["title"], b["text"])
    assert pu.start is None
    m = story_match(pa, pu, TermStats.from_profiles([pa, pu]))
    assert m.same
    assert m.hours_apart is None


def test_same_company_different_events(all_clusters: tuple[list[Cluster], dict[str, str]]) -> None:
    clusters, _ = all_clusters
    p = _profiles(clusters)
    stats = TermStats.from_profiles(p.values())
    for x in ("apple-q-1", "apple-q-2"):
        for y in ("apple-mac-1", "apple-mac-2"):
            m = story_match(p[x], p[y], stats)
            assert not m.same, (x, y, m)
            assert {"apple", "cook"} <= set(m.shared_names)
    assert story_match(p["apple-q-1"], p["apple-q-2"], stats).same
    assert story_match(p["apple-mac-1"], p["apple-mac-2"], stats).same


def test_another_match_of_the_same_teams_is_another_story(
    all_clusters: tuple[list[Cluster], dict[str, str]],
) -> None:
    clusters, _ = all_clusters
    p = _profiles(clusters)
    stats = TermStats.from_profiles(p.values())
    cup = p["che-ars-cup"]
    assert "2-2" in cup.scores
    assert "4-2" in cup.scores
    for league in ("ars-che-1", "ars-che-2"):
        m = story_match(p[league], cup, stats)
        assert not m.same
        assert m.rule == "scores-differ"
        assert {"arsenal", "chelsea", "arteta"} <= set(m.shared_names)
    same = story_match(p["ars-che-1"], p["ars-che-2"], stats)
    assert same.same
    assert same.rule == "text-and-names"
    assert "3-1" in p["ars-che-1"].scores & p["ars-che-2"].scores


def test_scores_ignore_dates_and_ages() -> None:
    p = profile_from_text(
        "x", "", "On 2024-10-17 the 25-year-old scored. Final score 3-1, phone 555-1234-99."
    )
    assert p.scores == frozenset({"3-1"})


def test_order_independent_and_deterministic(all_clusters: tuple[list[Cluster], dict[str, str]]) -> None:
    clusters, _ = all_clusters
    reference = {c.cluster_id: c.extra["story_id"] for c in assign_stories(clusters)}
    rng = random.Random(7)
    for _ in range(4):
        shuffled = list(clusters)
        rng.shuffle(shuffled)
        out = assign_stories(shuffled)
        assert [c.cluster_id for c in out] == [c.cluster_id for c in shuffled]  # same order back
        assert {c.cluster_id: c.extra["story_id"] for c in out} == reference


def test_items_shuffled_before_dedup_give_the_same_stories() -> None:
    hard, _ = _hard_items()
    items = _seed_items() + hard
    first = {c.cluster_id: c.extra["story_id"] for c in assign_stories(dedup(items))}
    random.Random(3).shuffle(items)
    assert {c.cluster_id: c.extra["story_id"] for c in assign_stories(dedup(items))} == first


def test_story_match_is_symmetric(all_clusters: tuple[list[Cluster], dict[str, str]]) -> None:
    clusters, _ = all_clusters
    profiles = [profile_from_cluster(c) for c in clusters]
    stats = TermStats.from_profiles(profiles)
    for a in profiles[:6]:
        for b in profiles[:6]:
            if a is not b:
                assert story_match(a, b, stats) == story_match(b, a, stats)


def test_chaining_is_split_not_followed() -> None:
    # a path a-b-c-d-e: each links only to its neighbours; no member may join through one bridge
    links = {"a": {"b"}, "b": {"a", "c"}, "c": {"b", "d"}, "d": {"c", "e"}, "e": {"d"}}
    parts = _split(sorted(links), links)
    assert sorted(map(len, parts)) == [2, 3]
    assert all(len(p) <= 3 for p in parts)
    # a story of four that all know each other keeps a fifth member linked to just one of them
    links = {
        "a": {"b", "c", "d"},
        "b": {"a", "c", "d"},
        "c": {"a", "b", "d", "x"},
        "d": {"a", "b", "c"},
        "x": {"c"},
    }
    parts = _split(sorted(links), links)
    assert ["a", "b", "c", "d"] in parts
    assert ["x"] in parts


def test_joins_story_needs_the_medoid_and_a_majority(
    all_clusters: tuple[list[Cluster], dict[str, str]],
) -> None:
    clusters, _ = all_clusters
    p = _profiles(clusters)
    stats = TermStats.from_profiles(p.values())
    story = [p[k] for k in ("seed-000", "seed-001", "seed-002", "seed-003")]
    ok, matches = joins_story(p["seed-004"], story, stats)
    assert ok
    assert len(matches) == 4
    assert sum(m.same for m in matches) >= 2
    ok, matches = joins_story(p["nato-min-1"], story, stats)
    assert not ok
    ok, _ = joins_story(p["che-ars-cup"], [p["ars-che-1"], p["ars-che-2"]], stats)
    assert not ok


def test_group_stories_rejects_duplicate_keys() -> None:
    p = profile_from_text("k", "t", "some text about a thing")
    with pytest.raises(ConfigError):
        group_stories([p, p])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": 0},
        {"window": -5.0},
        {"cosine_min": 1.5},
        {"score_min": "0.4"},
        {"min_quote_words": 1},
        {"max_representatives": 0},
        {"names_weight": True},
    ],
)
def test_bad_config_raises(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        StoryConfig(**kwargs)


def test_assign_stories_window_override_and_empty() -> None:
    assert assign_stories([]) == []
    hard, _ = _hard_items()
    pair = [h for h in hard if h["id"] in ("nato-min-1", "nato-min-2")]
    pair[1] = {**pair[1], "published": "2024-11-05T07:10:00Z"}  # 11 days later
    clusters = dedup(pair)
    assert len({c.extra["story_id"] for c in assign_stories(clusters)}) == 2
    assert len({c.extra["story_id"] for c in assign_stories(clusters, window="14d")}) == 1
    assert len({c.extra["story_id"] for c in assign_stories(clusters, window=None)}) == 1


def test_decide_rules_in_order() -> None:
    a = profile_from_text(
        "a",
        "Rutte says no evidence",
        '"We have no evidence that soldiers are involved in the fight," Rutte said in Brussels.',
    )
    b = profile_from_text(
        "b",
        "NATO chief",
        'NATO chief Rutte said: "we have no evidence that soldiers are involved in the fight".',
    )
    stats = TermStats.from_profiles([a, b])
    m = story_match(a, b, stats)
    assert m.shared_quotes
    strict = StoryConfig(score_min=3.0)
    assert decide(m, strict) == (True, "shared-quote")
    assert decide(m, StoryConfig(score_min=3.0, cosine_min=1.0)) == (False, "low-cosine")
    assert decide(dataclasses.replace(m, scores_differ=True), StoryConfig()) == (False, "scores-differ")


def _semeval_profile(key: str, text: str) -> Any:
    title, _, body = text.partition("\n")
    if len(title) > 250 or not body.strip():  # some rows are one line of body text
        title, body = "", text
    return profile_from_text(key, title.strip(), body)


def test_real_rated_pairs_from_semeval() -> None:
    """Ten real pairs (first five rated 1, first five rated 4; see the fixture README)."""
    import gzip

    with gzip.open(FIXTURES / "stories" / "semeval_en_pairs.jsonl.gz", "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    profiles = {}
    for r in rows:
        a, b = r["pair_id"].split("_")
        profiles[a] = _semeval_profile(a, r["text_1"])
        profiles[b] = _semeval_profile(b, r["text_2"])
    stats = TermStats.from_profiles(profiles[k] for k in sorted(profiles))
    joined = apart = 0
    for r in rows:
        a, b = r["pair_id"].split("_")
        same = story_match(profiles[a], profiles[b], stats).same
        if r["overall"] <= 1.5:
            joined += same
        else:
            apart += not same
    assert apart == 5  # very dissimilar pairs are never joined
    assert joined >= 4  # the goal is >= 80 % of very similar pairs
