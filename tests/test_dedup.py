"""The deduplicator end to end: seeds, syndicated copies on publisher pages, order invariance,
short texts, formulaic look-alikes, teaser chaining, bad items, configuration."""

from __future__ import annotations

import html
import json
import os
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from string import Template
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsdedup._cluster import cluster_id_for
from newsdedup._dedup import DedupConfig, Deduplicator, _Relation, dedup
from newsdedup._exceptions import ConfigError
from newsdedup._models import Article, Cluster
from newsdedup._spill import _Spill
from newsdedup._story import StoryConfig
from newsdedup._text import clean_text
from newsdedup._verify import Verdict

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = sorted((FIXTURES / "seeds").glob("*.txt"))


def _seed_items() -> list[dict[str, str]]:
    return [{"id": p.stem[:3], "text": p.read_text(encoding="utf-8")} for p in SEEDS]


def _clean(index: int) -> str:
    return clean_text(SEEDS[index].read_text(encoding="utf-8")).text


def _paras(text: str) -> list[str]:
    return [p for p in text.split("\n\n") if p.strip()]


def _page(template: str, *, title: str, paragraphs: list[str], url: str, date: str = "2024-10-17") -> str:
    body = "\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)
    raw = (FIXTURES / "dedup" / template).read_text(encoding="utf-8")
    return Template(raw).substitute(title=html.escape(title), body=body, url=url, date=date)


def _tokens(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.lower()))


def _token_f1(a: str, b: str) -> float:
    ta, tb = _tokens(a), _tokens(b)
    common = sum((ta & tb).values())
    return 0.0 if not common else 2 * common / (sum(ta.values()) + sum(tb.values()))


def _partition(clusters: list) -> set[frozenset[str]]:
    return {frozenset(c.member_ids) for c in clusters}


# -- seeds and syndicated copies --------------------------------------------------------------


def test_five_seeds_are_five_clusters() -> None:
    clusters = dedup(_seed_items())
    assert len(clusters) == 5
    assert sorted(m for c in clusters for m in c.member_ids) == ["000", "001", "002", "003", "004"]
    assert all(c.canonical_reason == "only-member" for c in clusters)


def _syndicated_items() -> list[dict[str, str]]:
    body = _paras(_clean(2))
    third = body[: max(1, len(body) // 3)]
    title = "Zelenskyy: NKorean Officers Deployed Alongside Russians"
    globe = _page("globe_portal.html", title=title, paragraphs=body, url="https://dailyglobe.example/world/1")
    courier = _page(
        "rivertown_courier.html",
        title="Ukraine says North Korean officers already on its soil",  # retitled
        paragraphs=body,
        url="https://rivertown.example/nation-world/2",
    )
    brief = _page("newsbrief_hub.html", title=title, paragraphs=third, url="https://newsbrief.example/p/3")
    return [
        *_seed_items(),
        {"id": "globe-1", "html": globe, "url": "https://dailyglobe.example/world/1",
         "published": "2024-10-17T22:00:00Z"},
        {"id": "courier-2", "html": courier, "url": "https://rivertown.example/nation-world/2",
         "published": "2024-10-18T06:30:00Z"},
        {"id": "brief-3", "html": brief, "url": "https://newsbrief.example/p/3",
         "published": "2024-10-17T21:15:00Z"},
    ]  # fmt: skip


def test_seed_002_republished_on_three_templates_collapses_into_one_cluster() -> None:
    clusters = dedup(_syndicated_items())
    assert len(clusters) == 5
    big = next(c for c in clusters if "002" in c.member_ids)
    assert set(big.member_ids) == {"002", "globe-1", "courier-2", "brief-3"}
    assert big.canonical_id != "brief-3"  # never the truncated copy
    full = _clean(2)
    assert _token_f1(big.text, full) >= 0.95
    assert _paras(full)[-1] in big.text  # the end of the story is there
    assert {s.id for s in big.sources} == set(big.member_ids)
    assert {s.url for s in big.sources} >= {
        "https://dailyglobe.example/world/1",
        "https://newsbrief.example/p/3",
    }
    seed_published = clean_text(SEEDS[2].read_text(encoding="utf-8")).published  # may be parsed from the page
    expected_first = datetime(2024, 10, 17, 21, 15, tzinfo=UTC)
    if seed_published is not None:
        expected_first = min(expected_first, seed_published)
    assert big.first_seen == expected_first
    assert big.last_seen is not None
    assert big.last_seen >= datetime(2024, 10, 18, 6, 30, tzinfo=UTC)
    assert big.canonical_reason
    assert big.cluster_id == cluster_id_for(big.member_ids)
    # the other four seeds are untouched singletons
    assert sorted(len(c.member_ids) for c in clusters) == [1, 1, 1, 1, 4]


def test_order_invariance_over_shuffles() -> None:
    items = _syndicated_items()
    reference = dedup(items)
    expect = (_partition(reference), {c.cluster_id: c.canonical_id for c in reference})
    rng = random.Random(2024)
    for _ in range(5):
        rng.shuffle(items)
        got = dedup(items)
        assert (_partition(got), {c.cluster_id: c.canonical_id for c in got}) == expect
        assert [c.text for c in got] == [c.text for c in reference]


def test_clusters_can_be_queried_while_items_stream_in() -> None:
    d = Deduplicator()
    text = _clean(2)
    assert d.add({"id": "a", "text": text}).status == "new"
    assert [c.member_ids for c in d.clusters()] == [("a",)]
    decision = d.add({"id": "b", "text": text + "\n\nFollow us on social media for more."})
    assert decision.status == "duplicate"
    assert decision.duplicate_of == "a"
    assert decision.kind == "near-duplicate"
    assert [c.member_ids for c in d.clusters()] == [("a", "b")]
    assert d.verdict("b", "a") is not None


# -- short, empty, formulaic, chaining -----------------------------------------------------


def test_empty_and_whitespace_texts_are_errors_and_short_texts_stay_apart() -> None:
    errors: list = []
    items = [
        {"id": "e1", "text": ""},
        {"id": "e2", "text": "   \n\t  "},
        {"id": "s1", "text": "Breaking news: more soon."},
        {"id": "s2", "text": "Breaking news: more soon."},
        {"id": "s3", "text": "Breaking news: more soon."},
    ]
    clusters = dedup(items, errors=errors)
    assert {e.id for e in errors} == {"e1", "e2"}
    assert all(c.size == 1 for c in clusters)  # identical short texts are never merged
    assert sorted(m for c in clusters for m in c.member_ids) == ["s1", "s2", "s3"]
    d = Deduplicator()
    assert d.add({"id": "x", "text": "Breaking news: more soon."}).status == "too-short"


FORMULAIC = json.loads((FIXTURES / "dedup" / "formulaic_pairs.json").read_text(encoding="utf-8"))["pairs"]


@pytest.mark.parametrize("settings", [{}, {"threshold": 0.2, "containment_threshold": 0.3}])
def test_formulaic_hard_negatives_stay_separate(settings: dict) -> None:
    items = [dict(p[k]) for p in FORMULAIC for k in ("a", "b")]
    clusters = dedup(items, **settings)
    assert len(clusters) == len(items)


def test_chaining_through_a_teaser_does_not_pull_in_the_teased_story() -> None:
    story_a = _paras(_clean(0))
    story_c = _clean(4)
    teaser = "Read more: " + _paras(story_c)[0]
    page_a = "\n\n".join([*story_a[:3], teaser, *story_a[3:]])
    page_b = "\n\n".join([*story_a[:3], teaser, *story_a[3:], "Share this story with your friends."])
    clusters = dedup([{"id": "A", "text": page_a}, {"id": "B", "text": page_b}, {"id": "C", "text": story_c}])
    assert _partition(clusters) == {frozenset({"A", "B"}), frozenset({"C"})}


def test_short_brief_quoted_inside_a_copy_is_not_merged() -> None:
    """C is a short brief; A and B (a copy) quote all of C in the middle as a teaser."""
    brief = _paras(_clean(4))[0] + " " + _paras(_clean(4))[1]
    story = _paras(_clean(1))
    page = "\n\n".join([*story[:4], brief, *story[4:]])
    clusters = dedup(
        [
            {"id": "A", "text": page},
            {"id": "B", "text": page + "\n\nComments are closed."},
            {"id": "C", "text": brief},
        ],
        containment_threshold=0.6,
    )
    assert _partition(clusters) == {frozenset({"A", "B"}), frozenset({"C"})}


# -- items, errors, duplicates -------------------------------------------------------------


def test_bad_items_are_recorded_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    import newsdedup._extract as extract_module

    real_extract = extract_module.extract

    def flaky(html_text: str, url: str | None = None, **kw: object) -> Article:
        if "EXPLODE" in html_text:
            raise RuntimeError("parser crashed")
        return real_extract(html_text, url=url, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(extract_module, "extract", flaky)
    errors: list = []
    items = [
        {"text": "no id"},
        {"id": 7, "text": "numeric id"},
        {"id": "nobody"},
        {"id": "boom", "html": "<html><body><p>EXPLODE</p></body></html>"},
        {"id": "blank-page", "html": "<html><body><nav>Home</nav></body></html>"},
        {"id": "ok", "text": _clean(3)},
    ]
    clusters = dedup(items, errors=errors)
    reasons = {e.line: e.reason for e in errors}
    assert reasons[1] == "missing-id"
    assert reasons[2] == "bad-id"
    assert reasons[3] == "missing-body"
    assert reasons[4] == "extract-failed"
    assert 5 in reasons  # no main text
    assert [c.member_ids for c in clusters] == [("ok",)]


@pytest.mark.parametrize("url", ["http://[::1", "https://[2001:db8::1/story", "http://[UK edition]/a"])
def test_a_url_that_does_not_parse_is_metadata_not_a_crash(url: str) -> None:
    """A malformed url (a cut IPv6 literal, brackets) once raised ValueError out of the whole
    run; the item is deduplicated without a site instead, as clean_text and extract allow."""
    text = _clean(2)
    items = [
        {"id": "bad", "text": text, "url": url},
        {
            "id": "bad-html",
            "html": "<html><body><p>" + text.replace("\n\n", "</p><p>") + "</p></body></html>",
            "url": url,
        },
        {"id": "good", "text": text, "url": "https://www.example.com/a"},
    ]
    errors: list = []
    clusters = dedup(items, errors=errors)
    assert errors == []
    assert [sorted(c.member_ids) for c in clusters] == [["bad", "bad-html", "good"]]
    assert {s.id: s.site for s in clusters[0].sources} == {
        "bad": None,
        "bad-html": None,
        "good": "example.com",
    }


def test_a_site_name_with_brackets_does_not_stop_the_clusters_or_a_store(tmp_path: Path) -> None:
    """og:site_name "Daily News [UK edition]" reads as a bad IPv6 literal to urlsplit: building
    the cluster (the wire's own-site check) raised, and with a store every later run did too."""
    from newsdedup import open_store

    text = SEEDS[2].read_text(encoding="utf-8")  # the Newsmax copy of a Reuters story: the
    # canonical choice asks whether a member is on Reuters' own site
    items = [
        {"id": "p1", "text": text, "site": "Daily News [UK edition]", "url": "https://dailynews.example/a"},
        {"id": "p2", "text": text, "site": "Daily News [UK edition]", "url": "https://dailynews.example/b"},
    ]
    assert [sorted(c.member_ids) for c in dedup(items)] == [["p1", "p2"]]
    path = tmp_path / "state.db"
    store = open_store(path)
    d = Deduplicator(store=store)
    d.add_many(items)
    emitted: list[Cluster] = []
    d.emit_changed(emitted.extend)
    store.close()
    store = open_store(path)
    d = Deduplicator(store=store)
    d.add_many([{"id": "other", "text": _clean(3)}])
    d.emit_changed(emitted.extend)
    store.close()
    assert sorted(sorted(c.member_ids) for c in emitted) == [["other"], ["p1", "p2"]]


def test_an_article_with_a_field_of_the_wrong_type_is_an_error_in_its_place() -> None:
    """A string ``published`` raised out of the middle of ``add_many``, leaving the batch's
    earlier items recorded but never verified; such an Article is now an error like any
    unusable item, and the rest of the batch is matched as without it."""
    text = _clean(2)
    good = [{"id": "a", "text": text}, {"id": "b", "text": text + "\n\nUpdated."}]
    bad = [
        Article(id="s", text=text, published="2024-01-01"),  # type: ignore[arg-type]
        Article(id="n", text=None),  # type: ignore[arg-type]
        Article(id=5, text=text),  # type: ignore[arg-type]
        Article(id="t", text=text, title=None),  # type: ignore[arg-type]
        Article(id="u", text=text, url=3),  # type: ignore[arg-type]
        Article(id="r", text=text, authors=("A", 1)),  # type: ignore[arg-type]
        5,
        "a story as a bare string",
        None,
    ]
    d = Deduplicator()
    decisions = d.add_many([good[0], *bad, good[1]])
    assert [x.status for x in decisions] == ["new", *["error"] * len(bad), "duplicate"]
    assert [e.reason for e in d.errors] == [
        "bad-field", "bad-body", "bad-id", "bad-field", "bad-field", "bad-field",
        "not-an-object", "not-an-object", "not-an-object",
    ]  # fmt: skip
    assert "published must be a datetime" in d.errors[0].message
    assert [sorted(c.member_ids) for c in d.clusters()] == [["a", "b"]]


def test_one_item_or_a_path_where_a_collection_or_object_belongs_is_a_clear_error(tmp_path: Path) -> None:
    item = {"id": "a", "text": _clean(2)}
    for call in (
        lambda: dedup(item),
        lambda: Deduplicator().add_many(item),
        lambda: Deduplicator().add_stream("text"),
    ):
        with pytest.raises(TypeError, match="iterable"):
            call()
    with pytest.raises(ConfigError, match="open_store"):
        Deduplicator(store=str(tmp_path / "state.db"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="DedupConfig"):
        Deduplicator(config={"threshold": 0.6})  # type: ignore[arg-type]


def test_duplicate_ids_keep_the_first_item() -> None:
    d = Deduplicator()
    text = _clean(3)
    d.add({"id": "x", "text": text})
    assert d.add({"id": "x", "text": text}).status == "already-seen"
    decision = d.add({"id": "x", "text": _clean(1)})
    assert decision.status == "error"
    assert decision.reason == "duplicate-id"
    assert [e.reason for e in d.errors] == ["duplicate-id"]
    assert d.article("x").text == text
    # inside one batch too
    d2 = Deduplicator()
    decisions = d2.add_many([{"id": "y", "text": text}, {"id": "y", "text": _clean(1)}])
    assert [x.status for x in decisions] == ["new", "error"]
    assert [c.member_ids for c in d2.clusters()] == [("y",)]


@pytest.mark.parametrize("jobs", [1, 2])
def test_errors_come_in_input_order_within_a_batch(jobs: int) -> None:
    """A duplicate id is found when the batch is matched, after the errors of preparing it were
    recorded: it came after a later line's error, where the Dask engine and the lines say it
    comes first."""
    text = _clean(3)
    items = [
        {"id": "x", "text": text},
        {"id": "x", "text": _clean(1)},  # line 2: duplicate-id
        {"id": None, "text": text},  # line 3: missing-id
        {"id": "y", "text": _clean(4)},
        {"id": "e", "text": ""},  # line 5: empty-input
        {"id": "y", "text": _clean(0)},  # line 6: duplicate-id
    ]
    d = Deduplicator(jobs=jobs)
    d.add_stream(items if jobs == 1 else iter(items), batch_size=len(items))
    assert [(e.line, e.reason) for e in d.errors] == [
        (None, "duplicate-id"), (None, "missing-id"), (None, "empty-input"), (None, "duplicate-id")
    ]  # fmt: skip
    d2 = Deduplicator()
    d2.add_many(items, first_line=1)
    assert [e.line for e in d2.errors] == [2, 3, 5, 6]


def test_articles_are_accepted_and_wire_is_merged() -> None:
    text = _clean(2)
    items = [
        Article(id="w", text=text, wire="Reuters", url="https://www.reuters.com/world/x", title="Wire"),
        Article(
            id="n", text=text + "\n\nNewsmax footer line that is not in the wire copy.", site="newsmax.com"
        ),
    ]
    (cluster,) = dedup(items)
    assert cluster.canonical_id == "w"
    assert cluster.canonical_reason == "wire-own-copy"
    assert cluster.wire == "Reuters"
    assert cluster.title == "Wire"
    with pytest.raises(ConfigError):
        dedup(items, bogus_setting=1)


def test_site_boilerplate_repeated_across_stories_is_dropped_from_canonical_text() -> None:
    disclaimer = "This article is for information only and is not investment advice from Example Markets."
    items = [
        {"id": f"s{i}", "text": _clean(i) + "\n\n" + disclaimer, "site": "examplemarkets.com"}
        for i in range(4)
    ]
    for c in dedup(items):
        assert disclaimer not in c.text
    # off when site_repeat_min=0
    assert all(disclaimer in c.text for c in dedup(items, site_repeat_min=0))


def test_site_rows_gathered_before_the_partition_give_the_same_repeats() -> None:
    """With workers, the sites' paragraph rows are gathered (in a thread) before the groups are
    known and numbered by item, then by cluster: the repeated keys are the ones counted from
    the groups, for sites with and without repeats, items without a site, and two copies of a
    story from one site (a cluster counts once)."""
    disclaimer = "This article is for information only and is not investment advice from Example Markets."
    items = [
        {"id": f"s{i}", "text": _clean(i) + "\n\n" + disclaimer, "site": "examplemarkets.com"}
        for i in range(4)
    ]
    items += [
        {"id": f"c{i}", "text": _clean(i) + "\n\n" + disclaimer, "site": "examplemarkets.com"}
        for i in range(2)
    ]
    items += [{"id": f"o{i}", "text": _clean(i), "site": f"other{i}.example"} for i in range(3)]
    items += [{"id": "nosite", "text": _clean(4)}]
    for min_clusters in (2, 3, 5):
        d = Deduplicator(site_repeat_min=min_clusters)
        d.add_many(items)
        groups, _ = d._groups()
        expected = d._site_repeats(groups)
        assert np.array_equal(d._site_repeats(groups, d._site_rows()), expected)
        assert len(expected) == (1 if min_clusters <= 4 else 0)


_MEMBERS = st.lists(
    st.tuples(
        st.sampled_from([None, "", "a.example", "b.example", "c.example"]),
        st.lists(st.integers(0, 6), max_size=5).map(lambda xs: np.array(xs, dtype="<u8").tobytes()),
        st.integers(0, 9),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(members=_MEMBERS, min_clusters=st.integers(2, 4), shift=st.sampled_from([32, 58, 61]))
def test_site_repeated_keys_rules_rows_out_without_losing_a_repeat(
    members: list[tuple[str | None, bytes, int]], min_clusters: int, shift: int
) -> None:
    """The prefilter only drops rows of pairs under fewer clusters, even when most pairs share
    its cut key (``shift`` 58 and 61 leave 6 and 3 bits): the keys equal the plain count's."""
    from newsdedup._arrays import unique_rows
    from newsdedup._cluster import _may_repeat, member_rows, repeat_rows, repeated_keys, site_repeated_keys

    plain = repeated_keys(repeat_rows(members), min_clusters)
    assert np.array_equal(site_repeated_keys(members, min_clusters), plain)
    rows = member_rows(members)
    keep = _may_repeat(rows, min_clusters, shift=shift)
    assert np.array_equal(repeated_keys(unique_rows(rows[keep])[0], min_clusters), plain)
    repeated = {tuple(k) for k in plain.tolist()}
    assert all(keep[n] for n, r in enumerate(rows.tolist()) if (r[0], r[1]) in repeated)


def test_site_repeated_keys_prefilter_keeps_only_the_repeated_pairs_rows() -> None:
    """On real-looking hashes (random 64-bit paragraphs) the 32-bit keys keep the rows of the
    repeated pairs and nothing else: what makes the exact count cheap."""
    from newsdedup._cluster import _may_repeat, member_rows, site_repeated_keys

    rng = np.random.default_rng(5)
    boiler = rng.integers(0, 2**63, size=3, dtype=np.uint64)  # a site's three footer lines
    members = []
    for n in range(400):
        paras = rng.integers(0, 2**63, size=6, dtype=np.uint64)
        site = f"s{n % 7}.example"
        if n % 7 == 0:
            paras[-3:] = boiler
        members.append((site, paras.astype("<u8").tobytes(), n // 2))  # two copies per cluster
    # a site's two copies of each of two stories: four rows of their line, but two clusters
    line = rng.integers(0, 2**63, size=1, dtype=np.uint64).astype("<u8").tobytes()
    members += [("s1.example", line, 900), ("s1.example", line, 900), ("s1.example", line, 901)] * 2
    rows = member_rows(members)
    keep = _may_repeat(rows, 3)
    assert int(keep.sum()) == 3 * len([m for m in members if m[0] == "s0.example"])
    assert sorted(k[1] for k in site_repeated_keys(members, 3).tolist()) == sorted(boiler.tolist())


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("threshold", 0.0), ("threshold", 1.5), ("num_perm", 1), ("shingle_size", 0), ("min_chars", 0),
     ("containment_threshold", "high"), ("max_number_mismatch", 2.0), ("site_repeat_min", 1),
     ("lead_tokens", -1), ("num_perm", True)],
)  # fmt: skip
def test_config_errors_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        DedupConfig(**{field: value})


def test_config_derives_bands_from_threshold_and_fingerprint_tracks_signature_settings() -> None:
    low, high = DedupConfig(threshold=0.4), DedupConfig(threshold=0.8)
    assert low.bands() != high.bands()
    b, r = DedupConfig().bands()
    assert b * r <= 128
    assert DedupConfig().fingerprint() == DedupConfig().fingerprint()
    assert DedupConfig(num_perm=64).fingerprint() != DedupConfig().fingerprint()
    assert Deduplicator(0.7).config.threshold == 0.7
    assert Deduplicator(config=DedupConfig(num_perm=64), min_chars=10).config.num_perm == 64


def test_bot_challenge_and_consent_pages_are_junk_not_one_giant_cluster() -> None:
    challenge = (
        "Checking if the site connection is secure. Enable JavaScript and cookies to continue. "
        "This process is automatic. Your browser will redirect to your requested content shortly. "
        "Please allow up to 5 seconds. Performance and security by a content delivery network."
    )
    consent = (
        "We value your privacy. We and our partners store and access information on your device "
        "and process personal data such as unique identifiers for personalised ads and content. "
        "You may manage your cookie preferences at any time from the link in the footer."
    )
    items = [{"id": f"c{i}", "text": challenge, "url": f"https://host{i}.example/news/1"} for i in range(4)]
    items += [{"id": f"p{i}", "text": consent, "url": f"https://paper{i}.example/a"} for i in range(3)]
    items.append({"id": "story", "text": _clean(3) + "\n\nAccess denied, the ministry said of the request."})
    errors: list = []
    clusters = dedup(items, errors=errors)
    assert sorted(e.id for e in errors if e.reason == "junk-page") == [
        "c0",
        "c1",
        "c2",
        "c3",
        "p0",
        "p1",
        "p2",
    ]
    assert [c.member_ids for c in clusters] == [("story",)]  # a long story quoting the phrase is fine
    kept = dedup(items, reject_junk_pages=False)
    assert max(c.size for c in kept) == 4  # what the guard prevents


def test_large_cluster_raises_an_alarm_but_is_not_capped(caplog: pytest.LogCaptureFixture) -> None:
    text = _clean(2)
    items = [{"id": f"copy{i}", "text": text + f"\n\nShared by reader number {i}."} for i in range(4)]
    with caplog.at_level("WARNING", logger="newsdedup"):
        clusters = dedup(items, cluster_size_alarm=3)
    assert [c.size for c in clusters] == [4]
    assert any("4 members" in r.getMessage() for r in caplog.records)


def test_worker_processes_log_through_the_main_process(caplog: pytest.LogCaptureFixture) -> None:
    """A record logged in a ``jobs`` worker (the cluster-size alarm of a cluster built there)
    reaches the main process's handlers, at the main process's level: a worker's own logging
    has no handler but the package's NullHandler."""
    import logging
    import time

    deduper = Deduplicator(jobs=2)
    with caplog.at_level("WARNING", logger="newsdedup"):
        pool = deduper._pool(workers=1)
        try:
            pool.submit(logging.getLogger("newsdedup.worker").warning, "from a worker: %d", 7).result()
            pool.submit(logging.getLogger("newsdedup.worker").info, "below the level").result()
        finally:
            pool.shutdown(wait=True)
        deadline = time.monotonic() + 10
        while (
            not any("from a worker: 7" in r.getMessage() for r in caplog.records)
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
    messages = [r.getMessage() for r in caplog.records if r.name == "newsdedup.worker"]
    assert messages == ["from a worker: 7"]
    assert all(r.process != os.getpid() for r in caplog.records if r.name == "newsdedup.worker")


def _stream_corpus() -> list[object]:
    """Seeds, edited and truncated copies, a page, junk, a too-short item, a repeated id and a
    reader error, in an order that makes copies arrive in different batches."""
    from newsdedup._records import RecordError

    rng = random.Random(5)
    items: list[object] = []
    for i in range(len(SEEDS)):
        text = _clean(i)
        paras = _paras(text)
        items.append({"id": f"s{i}", "text": text, "url": f"https://a{i}.example/x"})
        items.append({"id": f"s{i}-cut", "text": "\n\n".join(paras[: max(2, len(paras) // 2)])})
        edited = [p.replace(" the ", " a ", 1) for p in paras]
        rng.shuffle(edited[2:])
        items.append({"id": f"s{i}-ed", "text": "\n\n".join(edited), "site": f"b{i}.example"})
    items.append({"id": "short", "text": "Too short to match."})
    items.append({"id": "s0", "text": "a different text under a repeated id " * 10})
    items.append(RecordError("invalid JSON", reason="bad-json", line=99))
    items.append(
        {"id": "wall", "text": "Checking your browser before accessing the site. Enable JavaScript."}
    )
    rng.shuffle(items)
    return items


def _canonicals(d: Deduplicator) -> list[tuple[str, tuple[str, ...], str]]:
    return sorted((c.canonical_id, c.member_ids, c.text) for c in d.clusters())


def _verdicts(d: Deduplicator) -> dict[tuple[str, str], Verdict]:
    """Every accepted pair's verdict, keyed by the pair (a < b)."""
    return {(a, b): v for a, b, v in d._state.edges.items()}


def test_add_stream_with_worker_processes_equals_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import newsdedup._dedup as engine

    items = _stream_corpus()
    one = Deduplicator()
    assert one.add_stream(items, batch_size=3) == len(items)
    two = Deduplicator(jobs=2)
    seen: list[int] = []
    assert two.add_stream(items, batch_size=3, on_batch=seen.append) == len(items)
    assert sum(seen) == len(items)
    assert _canonicals(two) == _canonicals(one)
    assert two.decisions == one.decisions
    assert _verdicts(two) == _verdicts(one)
    # the pairs the shingles do not decide are shared with a worker (from one pair per
    # process here: the corpus is small)
    monkeypatch.setattr(engine, "_MIN_SHIPPED", 1)
    big = Deduplicator(jobs=2)
    big.add_stream(items, batch_size=64)
    assert big.stats["verified-in-workers"] > 0
    assert _canonicals(big) == _canonicals(one)
    assert _verdicts(big) == _verdicts(one)
    # a candidate whose doc left the cache goes to the worker as text, rebuilt (and kept) there
    spilled = Deduplicator(jobs=2, spill=True, cache_items=100, max_verify=None)
    spilled._state.docs.maxsize = 3
    spilled._state.sketches.maxsize = 0
    spilled._state.sketches.on_evict = None  # no sketch: every cold candidate needs its doc
    spilled.add_stream(items, batch_size=8)
    assert spilled.stats["rebuilt-in-workers"] > 0
    memory = Deduplicator(max_verify=None)
    memory.add_stream(items, batch_size=8)
    assert _verdicts(spilled) == _verdicts(memory)
    assert spilled.decisions == memory.decisions
    assert [e.to_dict() for e in two.errors] == [e.to_dict() for e in one.errors]
    assert {e.reason for e in one.errors} == {"bad-json", "duplicate-id", "junk-page"}
    # and streaming equals one add_many over everything
    whole = Deduplicator()
    whole.add_many([i for i in items if isinstance(i, dict)])
    assert _canonicals(whole) == _canonicals(one)


@pytest.mark.parametrize("jobs", [1, 2])
def test_add_stream_parses_raw_jsonl_lines_where_it_prepares_them(jobs: int) -> None:
    """The CLI hands the engine JSONL lines not parsed yet (a worker decodes them): the
    decisions, clusters and errors (with their line numbers) are those of the parsed records."""
    from newsdedup._records import RawLine, RecordError, parse_line

    lines = [json.dumps(i).encode() + b"\n" for i in _stream_corpus() if isinstance(i, dict)]
    lines[3:3] = [b"{broken\n", b'["not", "an", "object"]\n', b'{"id": "latin", "text": "caf\xe9"}\n']
    raw = [RawLine(n, line) for n, line in enumerate(lines, 1)]
    parsed: list[object] = []
    for item in raw:
        try:
            parsed.append(parse_line(item.raw, line=item.line))
        except RecordError as exc:
            parsed.append(exc)
    one, two = Deduplicator(), Deduplicator(jobs=jobs)
    one.add_stream(parsed, batch_size=4)
    assert two.add_stream(raw, batch_size=4) == len(raw)
    assert _canonicals(two) == _canonicals(one)
    assert two.decisions == one.decisions
    errors = [e.to_dict() for e in two.errors]
    assert errors == [e.to_dict() for e in one.errors]
    assert [(e["line"], e["reason"]) for e in errors[:3]] == [
        (4, "bad-json"),
        (5, "not-an-object"),
        (6, "bad-encoding"),
    ]


def test_a_workers_batch_sends_its_band_keys_as_one_array() -> None:
    """A prepared batch carries its band keys as one array (a row number per item until the
    main process reads it); read back, each item's keys are those ``fingerprint`` gives."""
    import pickle

    import numpy as np

    from newsdedup._dedup import _prepare_batch
    from newsdedup._models import Article

    items = _stream_corpus()
    d = Deduplicator(lead_tokens=30)
    prepared = pickle.loads(pickle.dumps(_prepare_batch(d, items, None, None, fingerprint=True)))
    assert isinstance(prepared.keys, np.ndarray)
    assert prepared.keys.dtype == np.uint32
    rows = [fp[1] for _, _, fp in prepared.items if fp is not None and fp[1] is not None]
    # a row per fingerprinted article (a too-short one's row is unused)
    assert rows == sorted(set(rows))
    assert len(rows) >= 12
    assert rows[-1] < len(prepared.keys)
    articles = [a for a, _, fp in prepared.items if fp is not None]
    assert all(isinstance(a, Article) for a in articles)
    expected = d.fingerprint(articles).keys  # type: ignore[arg-type]
    got = [fp[1] for _, _, fp in prepared.with_keys() if fp is not None]
    assert [None if k is None else (list(k[0]), list(k[1])) for k in got] == expected  # type: ignore[index]
    assert any(k is None for k in expected)  # the too-short item has no keys
    assert all(k is None or len(k[1]) for k in expected)  # and the lead index has its own


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_stream_that_breaks_keeps_every_item_read(monkeypatch: pytest.MonkeyPatch, jobs: int) -> None:
    """With workers, batches are prepared ahead and a batch's verdicts are applied after the
    next batch is planned; when the input fails mid-stream, every item already read -- the
    unfinished batch's too (a cut gzip's last lines were once dropped) -- is matched and gets
    its decisions and pairs."""
    import newsdedup._dedup as engine

    monkeypatch.setattr(engine, "_MIN_SHIPPED", 1)
    items = [i for i in _stream_corpus() if isinstance(i, dict)]

    def broken() -> Iterator[object]:
        yield from items[:15]
        raise OSError("input cut off")

    two = Deduplicator(jobs=jobs)
    with pytest.raises(OSError, match="cut off"):
        two.add_stream(broken(), batch_size=2)
    one = Deduplicator()
    one.add_stream(items[:15], batch_size=2)  # every item read before the error
    assert items[14]["id"] in two.decisions  # the 15th, alone in its unfinished batch
    assert set(two._state.meta) == set(one._state.meta)
    assert set(two.decisions) == set(two._state.meta)
    assert two.decisions == one.decisions
    assert _verdicts(two) == _verdicts(one)


def test_jobs_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="jobs"):
        Deduplicator(jobs=0)
    with pytest.raises(ConfigError, match="batch_size"):
        Deduplicator().add_stream([], batch_size=0)


def test_spill_keeps_texts_on_disk_and_gives_the_same_clusters() -> None:
    items = [i for i in _stream_corpus() if isinstance(i, dict)]
    memory = Deduplicator()
    memory.add_many(items)
    spilled = Deduplicator(spill=True, cache_items=100)
    assert spilled._spill is not None
    spilled._state.articles.maxsize = 5  # the corpus is small: a smaller cache makes articles leave it
    for start in range(0, len(items), 4):
        spilled.add_many(items[start : start + 4])
    assert len(spilled._state.articles) == 5
    # exactly the articles that left the cache were written to the spill file
    assert set(spilled._spill._where) == set(spilled._state.meta) - set(spilled._state.articles)
    # ... and are read back from it: the same texts and clusters as in memory
    spilled._state.docs.clear()
    gone = sorted(set(spilled._spill._where))
    assert [spilled._spill.get_text(i) for i in gone] == [memory.article(i).text for i in gone]
    assert [spilled.article(i) for i in gone] == [memory.article(i) for i in gone]  # every field
    assert _canonicals(spilled) == _canonicals(memory)


def test_spill_round_trips_any_text() -> None:
    """Texts are stored as UTF-8 apart from the other fields; lone surrogates survive too."""
    from newsdedup import Article
    from newsdedup._spill import _Spill

    spill = _Spill()
    odd = Article(id="x", text="caf\u00e9 \ud800 \U0001f600 end", title="t", site="s.example")
    empty = Article(id="y", text="")
    spill.put("x", odd)
    spill.put("y", empty)
    assert spill.get("x") == odd
    assert spill.get_text("x") == odd.text
    assert spill.get("y") == empty


def test_a_spilled_record_carries_its_normal_form_and_rebuilds_use_it() -> None:
    """A preparing worker stores an article's normal form in its record; a doc or shingle set
    rebuilt from the record takes it instead of normalising the text again (the same one
    ``normalize_text`` gives, so the docs are the same)."""
    from newsdedup import Article
    from newsdedup._normalize import normalize_text
    from newsdedup._spill import _Spill

    article = Article(
        id="x", text="The \u201cQuick\u201d fox \ud800 paid 1,750 dollars. " * 12, site="s.example"
    )
    norm = normalize_text(article.text)
    with_norm, without = _Spill.record(article, norm), _Spill.record(article)
    assert _Spill.text_and_norm(with_norm) == (article.text, norm)
    assert _Spill.text_and_norm(without) == (article.text, None)
    assert _Spill.text_of(with_norm) == _Spill.text_of(without) == article.text
    assert _Spill.article(with_norm) == _Spill.article(without) == article
    assert _Spill.article_and_norm(with_norm) == (article, norm)
    assert _Spill.article_and_norm(without) == (article, None)
    assert _Spill.record(Article(id="e", text=""), "") != _Spill.record(Article(id="e", text=""))

    d = Deduplicator()
    plain = d._rebuild({"x": article.text}, cache=False)["x"]
    same = d._rebuild({"x": article.text}, cache=False, norms={"x": norm})["x"]
    assert same.norm == plain.norm
    assert np.array_equal(same.shingles, plain.shingles)
    # the stored form is what the doc is made of (here a deliberately different one)
    other = normalize_text("a different story about something else entirely " * 6)
    used = d._rebuild({"x": article.text}, cache=False, norms={"x": other})["x"]
    assert used.norm == other
    assert not np.array_equal(used.shingles, plain.shingles)
    sets = d._shingle_sets({"x": article.text}, {"x": other})
    assert np.array_equal(sets["x"], used.shingles)


def test_items_whose_docs_are_not_kept_are_prepared_lean_with_the_same_record() -> None:
    """A preparing worker's lean batch (its docs would be dropped) gives each article as the
    same spill record, shingle count, band keys and paragraph hashes as the full batch."""
    from newsdedup._dedup import _prepare_batch, _spill_item

    items = [i for i in _stream_corpus() if isinstance(i, dict)] + [{"id": "short", "text": "Too short."}]
    d = Deduplicator()
    full = _prepare_batch(d, items, None, None, fingerprint=True)
    lean = _prepare_batch(d, items, None, None, fingerprint=True, lean=True)
    assert lean.keys is not None
    assert full.keys is not None
    assert np.array_equal(lean.keys, full.keys)
    assert lean.lead_at == full.lead_at
    spilled = [_spill_item(item) for item in full.items]
    assert len(lean.items) == len(spilled) > 10
    for (a, line_a, fp_a), (b, line_b, fp_b) in zip(lean.items, spilled, strict=True):
        assert (a, line_a) == (b, line_b)  # the same _Spilled record (normal form included)
        if fp_b is None:  # not an article (an invalid item's decision)
            assert fp_a is None
            continue
        assert fp_a is not None
        assert fp_a[0] is None  # no doc made
        assert fp_a[1:] == fp_b[1:]
    from newsdedup._dedup import _Spilled

    kept = [item[0] for item in lean.items if isinstance(item[0], _Spilled)]
    assert any(not s.matchable for s in kept)
    assert sum(s.matchable for s in kept) > 10


def test_postponed_items_spill_with_their_normal_forms() -> None:
    """With two jobs, the items the preparing workers send ready for the spill file carry their
    normal forms, and the clusters are those of one job."""
    from newsdedup._normalize import normalize_text

    items = [i for i in _stream_corpus() if isinstance(i, dict)]
    one = Deduplicator()
    one.add_stream(items, batch_size=8)
    two = Deduplicator(jobs=2, spill=True, cache_items=100)
    two.add_stream(items, batch_size=8)
    spill = two._spill
    assert spill is not None
    stored = {key: spill.text_and_norm(spill.get_record(key)) for key in spill._where}
    with_norm = {key: norm for key, (_, norm) in stored.items() if norm is not None}
    assert len(with_norm) > 10
    assert all(norm == normalize_text(stored[key][0]) for key, norm in with_norm.items())
    assert _canonicals(two) == _canonicals(one)


@pytest.mark.parametrize("pread", [True, False])
def test_spill_reads_what_it_appended_between_buffered_writes(
    monkeypatch: pytest.MonkeyPatch, pread: bool
) -> None:
    """Appends are buffered and reads bypass the buffer (``os.pread``, or a seek and back
    where there is none): every record reads back whole, whether it is still in the buffer,
    already on disk, or written after other reads."""
    import newsdedup._spill as spill_module

    if not pread:
        monkeypatch.setattr(spill_module, "_PREAD", None)
    else:  # reads come back short, as one read over about 2 GiB does on Linux
        import os

        monkeypatch.setattr(spill_module, "_PREAD", lambda fd, n, at: os.pread(fd, min(n, 4096), at))
    rng = random.Random(2)
    spill = spill_module._Spill()
    records: list[tuple[int, bytes]] = []
    for n in range(1500):  # records smaller and (a few) bigger than the megabyte buffer
        data = rng.randbytes(rng.choices((0, 1, 70, 5000, 1_500_000), weights=(5, 5, 40, 49, 1))[0])
        records.append((spill.append(data), data))
        if n % 7 == 0:  # read some back at once, some from long ago
            for where, expected in rng.sample(records, min(3, len(records))):
                assert spill.read(where) == expected
    assert all(spill.read(where) == data for where, data in records)
    spill.close()


def test_spill_writes_nothing_while_the_cache_holds_every_article() -> None:
    items = [i for i in _stream_corpus() if isinstance(i, dict)]
    memory = Deduplicator()
    memory.add_many(items)
    spilled = Deduplicator(spill=True, cache_items=100)
    spilled.add_many(items)
    assert spilled._spill is not None
    assert spilled._spill._where == {}
    assert _canonicals(spilled) == _canonicals(memory)


# -- big stories: bounded verification ------------------------------------------------------


def test_candidates_whose_doc_left_the_cache_are_decided_on_their_sketch() -> None:
    """With a small doc cache (long runs), a candidate whose full doc was evicted is rejected or
    decisively accepted from its sketch (shingles, numbers, head) without re-reading its text;
    every verdict is the one the full docs give."""
    items, _, _ = _big_stories()
    memory = Deduplicator(max_verify=None)
    memory.add_many(items)
    small = Deduplicator(max_verify=None, spill=True, cache_items=100)
    small._state.docs.maxsize = 4  # the corpus is small: a smaller cache makes docs leave it
    for start in range(0, len(items), 3):
        small.add_many(items[start : start + 3])
    assert small.stats["decided-on-sketch"] > 0
    assert _verdicts(small) == _verdicts(memory)
    # a doc rebuilt on top of its sketch equals one computed from the text alone
    import numpy as np

    from newsdedup._verify import Doc

    for key in list(small._state.meta)[:12]:
        small._state.docs.pop(key, None)
        rebuilt = small._doc(key)
        fresh = Doc.from_text(key, small.article(key).text, small._shingler)
        for name in ("shingles", "number_hashes", "head", "prefix"):
            assert np.array_equal(getattr(rebuilt, name), getattr(fresh, name)), name
        assert rebuilt.norm == fresh.norm
        assert rebuilt.tokens == fresh.tokens
    assert _canonicals(small) == _canonicals(memory)
    # sketches that left their cache too are read back from the spill file: the same verdicts
    spilled = Deduplicator(max_verify=None, spill=True, cache_items=100)
    spilled._state.docs.maxsize = 4
    spilled._state.sketches.maxsize = 6
    for start in range(0, len(items), 3):
        spilled.add_many(items[start : start + 3])
    assert spilled.stats["sketch-reads"] > 0
    assert spilled.stats["decided-on-sketch"] >= small.stats["decided-on-sketch"]
    assert _verdicts(spilled) == _verdicts(memory)
    assert _canonicals(spilled) == _canonicals(memory)
    # without sketches every such candidate's doc is rebuilt from the stored text
    bare = Deduplicator(max_verify=None, spill=True, cache_items=100)
    bare._state.docs.maxsize = 4
    bare._state.sketches.maxsize = 0
    bare._state.sketches.on_evict = None  # not spilled either
    for start in range(0, len(items), 3):
        bare.add_many(items[start : start + 3])
    assert bare.stats["decided-on-sketch"] == 0
    assert bare.stats["doc-rebuilds"] > small.stats["doc-rebuilds"] + small.stats["decided-on-sketch"] // 2
    assert _verdicts(bare) == _verdicts(memory)
    # a batch's docs are rebuilt together, even when they are more than the cache holds
    tiny = Deduplicator(max_verify=None, spill=True, cache_items=100)
    tiny._state.docs.maxsize = 1
    tiny._state.sketches.maxsize = 0
    tiny._state.sketches.on_evict = None
    for start in range(0, len(items), 8):
        tiny.add_many(items[start : start + 8])
    assert tiny.stats["doc-rebuilds"] > 0
    assert _verdicts(tiny) == _verdicts(memory)


def _copies(story: str, prefix: str, n: int, rng: random.Random) -> list[dict[str, str]]:
    """``n`` syndicated copies of ``story``: a dropped paragraph, a typo, a truncation now and
    then, and each site's own footer line."""
    paras = _paras(story)
    out = []
    for i in range(n):
        kept = list(paras)
        if len(kept) > 4 and rng.random() < 0.5:
            del kept[rng.randrange(3, len(kept))]
        if rng.random() < 0.25:
            kept = kept[: max(2, int(len(kept) * rng.uniform(0.6, 0.9)))]
        words = kept[0].split()
        j = rng.randrange(len(words))
        if len(words[j]) > 3:  # a typo in the lead: two letters swapped
            w = words[j]
            words[j] = w[0] + w[2] + w[1] + w[3:]
        kept[0] = " ".join(words)
        kept.append(f"Copyright 2024 {prefix.upper()} Site {i}. All rights reserved.")
        out.append({"id": f"{prefix}{i:02d}", "text": "\n\n".join(kept)})
    return out


def _big_stories() -> tuple[list[dict[str, str]], set[str], set[str]]:
    rng = random.Random(7)
    gold = json.loads((FIXTURES / "extract" / "aeb_gold.json").read_text(encoding="utf-8"))
    a = _copies(_clean(2), "a", 40, rng)
    b = _copies(gold["14cc2a0ca59c"]["articleBody"], "b", 30, rng)
    # a roundup page quoting the start of both stories must not join them
    roundup = "\n\n".join([*_paras(_clean(2))[:3], *_paras(gold["14cc2a0ca59c"]["articleBody"])[:3]])
    items = [*a, *b, {"id": "roundup", "text": roundup}]
    rng.shuffle(items)
    return items, {x["id"] for x in a}, {x["id"] for x in b}


def _verified(d: Deduplicator) -> int:
    return sum(n for key, n in d.stats.items() if key.startswith("verified:"))


def test_big_stories_stay_whole_with_bounded_verification() -> None:
    items, a_ids, b_ids = _big_stories()
    limited = Deduplicator(max_verify=8)
    limited.add_many(items)
    full = Deduplicator(max_verify=None)
    full.add_many(items)
    for d in (limited, full):
        groups = [set(c.member_ids) for c in d.clusters()]
        big = sorted((g for g in groups if len(g) > 1), key=len, reverse=True)
        assert big[0] - {"roundup"} == a_ids  # every copy of A in one cluster, nothing of B
        assert big[1] - {"roundup"} == b_ids
    assert limited.stats["verify-limited"] > 0
    # each item: its own lowest-ranked candidates, plus the few items whose lowest it joins
    assert _verified(limited) <= 2 * limited.config.max_verify * len(items)
    # without the limit every candidate pair is verified: about half of all pairs per story
    assert _verified(full) > 1.5 * _verified(limited)
    assert full.stats["verify-limited"] == 0


@pytest.mark.parametrize("limit", [4, 8])
def test_bounded_verification_does_not_depend_on_input_order(limit: int) -> None:
    """With max_verify the verified pairs differ with the order, but the pairs clustering uses
    do not: the clusters (members, canonicals, texts) are the same for every order."""
    items, _, _ = _big_stories()
    rng = random.Random(limit)
    extra = _copies(_clean(0), "c", 12, rng)  # a third story, with its own junk lines
    items = [*items, *extra]

    def key(clusters: list) -> list[tuple]:  # first/last seen are ingest times here: left out
        return [(c.cluster_id, c.canonical_id, c.member_ids, c.text, c.canonical_reason) for c in clusters]

    first = Deduplicator(max_verify=limit)
    first.add_many(items)
    reference = key(first.clusters())
    verified = set()
    for seed in (1, 2, 3):
        shuffled = list(items)
        random.Random(seed).shuffle(shuffled)
        d = Deduplicator(max_verify=limit)
        for start in range(0, len(shuffled), 7):
            d.add_many(shuffled[start : start + 7])
        verified.add(_verified(d))
        assert key(d.clusters()) == reference
        assert d._hub_edges() == first._hub_edges()  # the pairs clustering used
    assert len(verified) > 1  # the orders did verify different pairs
    # and on these stories the result is the one of verifying every candidate
    assert {frozenset(c[2]) for c in reference} == _partition(dedup(items))


def _outputs(d: Deduplicator) -> list[dict[str, object]]:
    """The clusters as output, without first/last seen (ingest times here)."""
    return _rows(d.clusters())


def _rows(clusters: Iterable[Cluster]) -> list[dict[str, object]]:
    out = []
    for c in clusters:
        row = c.to_dict()
        row.pop("first_seen")
        row.pop("last_seen")
        out.append(row)
    return out


def _story_stream() -> list[dict[str, str]]:
    """Three stories of 40, 30 and 12 copies in random order: with ``max_verify=4`` many
    pairs planned early leave the hub relation when lower-ranked copies arrive."""
    items, _, _ = _big_stories()
    return [*items, *_copies(_clean(0), "c", 12, random.Random(4))]


@pytest.mark.parametrize("jobs", [1, 2])
def test_settled_items_are_not_verified_against_their_other_hubs(jobs: int) -> None:
    """``settle_after``: postponed verification verifies each item's pairs with its first hubs,
    then the other hub pairs of the items those did not settle, and no others; clustering
    keeps the same pairs as verifying every hub pair as read, so the clusters are the same."""
    from newsdedup._hubs import item_rank

    items = _story_stream()
    verified: set[frozenset[str]] = set()
    best: dict[str, float] = {}  # per item, its best accepted score as the later side

    def record(a: str, b: str, v: Verdict) -> None:
        verified.add(frozenset((a, b)))
        if v.accepted:
            best[a] = max(best.get(a, -1.0), max(v.jaccard, v.containment))

    late = Deduplicator(max_verify=8, settle_after=2, jobs=jobs)
    late.on_verdict = record
    late.add_stream(items, batch_size=16)
    eager = Deduplicator(max_verify=8, settle_after=2)
    eager.add_stream(items, batch_size=16, postpone=False)
    every = Deduplicator(max_verify=8, settle_after=None, jobs=jobs)
    every.add_stream(items, batch_size=16)
    assert late.stats["postponed-pairs"] == _verified(late) == len(verified)
    assert _verified(late) < _verified(every) < _verified(eager)
    assert _outputs(late) == _outputs(eager)
    assert late._hub_edges() == eager._hub_edges()

    hubs = late._state.hubs
    of_rank = {item_rank(k): k for k in hubs}
    hub_ids = {k: [of_rank[r] for r in ranks] for k, ranks in hubs.items()}
    done = late._state.edges.settled(hubs, 2)
    longer = [k for k, h in hub_ids.items() if len(h) > 2]
    assert any(k in done for k in longer)
    assert any(k not in done for k in longer)
    for key, mine in hub_ids.items():
        for at, hub in enumerate(mine):
            theirs = hub_ids[hub]
            needed = (
                at < 2 or key not in done or (key in theirs and (theirs.index(key) < 2 or hub not in done))
            )
            assert (frozenset((key, hub)) in verified) == needed, (key, hub)
    # a rejected first-hub pair is what leaves an item unsettled
    for key in longer:
        first = [late.verdict(key, hub) for hub in hub_ids[key][:2]]
        assert (key in done) == all(v is not None and v.accepted for v in first)
    # every item decided once, on the kept pairs
    assert set(late.decisions) == set(late._state.meta)
    assert sum(late.stats[s] for s in ("new", "duplicate", "too-short")) == len(late._state.meta)
    kept = late._hub_edges()  # every accepted pair verified is kept
    assert sum(map(len, kept.values())) == 2 * len(late._state.edges)
    for key, decision in late.decisions.items():
        # a duplicate of its best match over both rounds
        assert (decision.status == "duplicate") == (key in best)
        if decision.status == "duplicate":
            assert decision.duplicate_of in kept[key]
            v = late.verdict(key, decision.duplicate_of)
            assert v is not None
            assert max(v.jaccard, v.containment) == best[key]


def test_settings_of_a_store_recorded_before_settle_after_keep_every_pair() -> None:
    from newsdedup._dedup import stored_settings

    assert stored_settings({"max_verify": 8, "unknown": 1}) == {"max_verify": 8, "settle_after": None}
    assert stored_settings({"max_verify": 8, "settle_after": 3}) == {"max_verify": 8, "settle_after": 3}
    assert stored_settings({}) == {}


def test_settle_after_is_checked() -> None:
    with pytest.raises(ConfigError, match="settle_after"):
        DedupConfig(settle_after=0)
    with pytest.raises(ConfigError, match="settle_after"):
        DedupConfig(settle_after=True)
    assert DedupConfig(settle_after=None).settle is None
    assert DedupConfig(max_verify=None).settle is None
    assert DedupConfig(max_verify=4, settle_after=4).settle is None  # spares nothing
    assert DedupConfig().settle == 3


@pytest.mark.parametrize("jobs", [1, 2])
def test_postponed_verification_gives_the_clusters_of_verifying_as_read(jobs: int) -> None:
    """add_stream verifies, once the stream is read, only the planned pairs still in the hub
    relation: fewer verifications, the same pairs for clustering, the same clusters."""
    items = _story_stream()
    eager = Deduplicator(max_verify=4)
    eager.add_stream(items, batch_size=16, postpone=False)
    assert "postponed-pairs" not in eager.stats
    late = Deduplicator(max_verify=4, jobs=jobs)
    late.add_stream(items, batch_size=16)
    assert late.stats["postponed-pairs"] == _verified(late) < _verified(eager)
    assert (late.stats["verified-in-workers"] > 0) == (jobs > 1)
    assert late._state.hubs == eager._state.hubs  # found over the index at once, the same lists
    assert late._hub_edges() == eager._hub_edges()
    assert _canonicals(late) == _canonicals(eager)
    assert _outputs(late) == _outputs(eager)
    # every item is decided, on the pairs clustering keeps
    assert set(late.decisions) == set(late._state.meta)
    kept = late._hub_edges()
    for key, decision in late.decisions.items():
        if decision.status == "duplicate":
            assert decision.duplicate_of in kept.get(key, set())
    assert not late._pending
    # units sent to a worker carry the docs this process still caches, whole, and the others'
    # texts (rebuilt there): the same clusters
    cold = Deduplicator(max_verify=4, jobs=jobs, spill=True)
    cold._state.docs.maxsize = 25
    unit_docs = cold._unit_docs
    sent: Counter[str] = Counter()

    def counted(keys: list[str]) -> dict[str, object]:
        out = unit_docs(keys)
        sent.update(type(value).__name__ for value in out.values())
        return out  # type: ignore[return-value]

    cold._unit_docs = counted  # type: ignore[method-assign]
    cold.add_stream(items, batch_size=16)
    assert _outputs(cold) == _outputs(eager)
    # spilled articles go as where the spill file holds them (an int): the worker reads them
    assert (sent["Doc"] > 0 and sent["int"] > 0) == (jobs > 1)
    assert not sent["str"]
    # where workers cannot read the spill file (no pread), they are sent the texts
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_Spill, "shared", lambda self: None)
        sent.clear()
        cold = Deduplicator(max_verify=4, jobs=jobs, spill=True)
        cold._state.docs.maxsize = 25
        unit_docs = cold._unit_docs
        cold._unit_docs = counted  # type: ignore[method-assign]
        cold.add_stream(items, batch_size=16)
    assert _outputs(cold) == _outputs(eager)
    assert (sent["Doc"] > 0 and sent["str"] > 0) == (jobs > 1)
    assert not sent["int"]
    # in two streams, with the index cut into parts of a few buckets: the second stream's
    # items are matched with the first's, whose hub lists they change. With a spill file the
    # indexes wait there between the streams (parked once the relation has read them). With
    # two jobs the parts' hub rows are worked out by the idle preparing workers
    split = Deduplicator(max_verify=4, spill=True, jobs=jobs)
    hub_relation = split._hub_relation
    parts: list[object] = []

    def cut(
        later: list[str], pool: object = None
    ) -> tuple[list[tuple[str, list[str]]], list[int], list[int]]:
        parts.append(pool)
        return hub_relation(later, rows_per_part=64, pool=pool)

    split._hub_relation = cut  # type: ignore[method-assign]
    split.add_stream(items[:45], batch_size=16)
    assert split._state.main is not None
    assert split._state.main.parked
    assert split._state.lead is not None
    assert split._state.lead.parked
    split.add_stream(items[45:], batch_size=16)
    assert len(parts) == 2
    assert all((pool is not None) == (jobs > 1) for pool in parts)
    assert split._state.hubs == eager._state.hubs
    assert _outputs(split) == _outputs(eager)
    # verifying as read decides each item on all its planned pairs, as add_many does
    whole = Deduplicator(max_verify=4)
    for start in range(0, len(items), 16):
        whole.add_many(items[start : start + 16])
    assert eager.decisions == whole.decisions
    assert _verdicts(eager) == _verdicts(whole)


@pytest.mark.parametrize("jobs", [1, 2])
def test_postponed_hub_lists_longer_than_the_places_a_part_carries(jobs: int) -> None:
    """With ``max_verify`` above the few lowest places a part of the hub relation carries per
    row (``_KNOWN_SENT``), a part also sends back candidates the main process holds already,
    and the merge drops them: the hub lists and clusters of verifying as read."""
    from newsdedup._dedup import _KNOWN_SENT

    limit = _KNOWN_SENT + 4
    items = _story_stream()
    eager = Deduplicator(max_verify=limit)
    eager.add_stream(items, batch_size=16, postpone=False)
    late = Deduplicator(max_verify=limit, jobs=jobs)
    hub_relation = late._hub_relation
    found: list[_Relation] = []

    def cut(later: list[str], pool: object = None) -> _Relation:
        found.append(hub_relation(later, rows_per_part=64, pool=pool))
        return found[-1]

    late._hub_relation = cut  # type: ignore[method-assign]
    late.add_stream(items, batch_size=16)
    (relation,) = found
    todo, labels, anchors = relation.todo(relation.pairs())
    pairs = set(zip(labels, _labels(todo), strict=True))  # the same groups, other names
    assert len(pairs) == len(set(labels)) == len(set(_labels(todo)))
    assert anchors == _anchors(todo)
    assert late.stats["postponed-pairs"] > 0
    assert any(len(ranks) > _KNOWN_SENT for ranks in late._state.hubs.values())
    assert late._state.hubs == eager._state.hubs
    assert _outputs(late) == _outputs(eager)


def test_workers_send_items_ready_for_the_spill_file_once_the_caches_are_full() -> None:
    """Postponed with a spill file, the preparing workers send every item as spill records (no
    article objects), with its doc for the first ``cache_items`` only: the same clusters,
    decisions and articles; the articles go straight to the spill file, and the doc and
    sketch caches hold only the items sent with a doc."""
    items = _story_stream()
    whole = Deduplicator(max_verify=4, jobs=2)  # sent whole, kept in memory
    whole.add_stream(items, batch_size=8)
    lean = Deduplicator(max_verify=4, spill=True, jobs=2)
    lean._cache_items = 20  # the caches hold 100; docs for the first three batches of 8
    lean.add_stream(items, batch_size=8)
    assert len(lean._state.articles) == 0
    assert len(lean._state.sketches) == 24
    assert lean._spill is not None
    assert len(lean._spill._where) == len(items)
    assert lean._spill._sketch_where == {}  # sent without sketches: rebuilt when needed
    assert _outputs(lean) == _outputs(whole)
    assert lean.decisions == whole.decisions
    late = items[-1]["id"]
    assert late not in lean._state.articles
    assert lean.article(late) == whole.article(late)
    assert lean._shingles(late).tolist() == whole._shingles(late).tolist()


def test_workers_split_components_by_the_engines_priority() -> None:
    """A worker splits a part with the engine's priority (more shingles first, then the id),
    from the shingle counts it is sent: on a graph whose peel depends on it, the clusters
    follow the counts."""
    import numpy as np

    from newsdedup._cluster import component_parts, partition_pairs
    from newsdedup._dedup import _worker_split

    ids = [f"n{i}" for i in range(8)]
    pairs = [(0, 2), (0, 5), (0, 6), (1, 2), (1, 7), (2, 6), (3, 4), (3, 7), (5, 6)]
    a, b = np.array([x for x, _ in pairs]), np.array([y for _, y in pairs])
    found = []
    for big in ("n0", "n2"):
        sizes = {k: 50 if k == big else 10 for k in ids}
        (part,) = component_parts(ids, a, b)
        split = sorted(_worker_split(part, [sizes[k] for k in part.names], None))
        assert split == partition_pairs(ids, ids, a, b, lambda k, s=sizes: (-s[k], k))
        found.append(split)
    assert found[0] != found[1]


@pytest.mark.parametrize("where", ["memory", "spilled", "released", "spilled-sent", "released-sent"])
def test_clusters_built_in_workers_are_the_ones_built_here(
    monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """With ``jobs > 1`` the workers build the clusters from what this process sends: articles
    and shingle sets from memory, spilled articles without sketches (the shingles rebuilt from
    the text), or spilled articles and sketches (after :meth:`release_caches`). Spilled ones
    go as where the spill file holds them, and the workers read them there; where workers
    cannot (``-sent``: ``_Spill.shared`` gives None, as without ``pread``) as their bytes.
    Each way, over parts of a few members, the clusters are the ones built here, in the same
    order."""
    import newsdedup._dedup as engine

    items = _story_stream()
    here = Deduplicator(max_verify=4)
    here.add_stream(items, batch_size=8)
    expected = _rows(here.iter_clusters())
    monkeypatch.setattr(engine, "_POOL_CLUSTERS_MIN", 1)
    monkeypatch.setattr(engine, "_WORKER_CHUNK_MEMBERS", 7)
    if where.endswith("-sent"):
        monkeypatch.setattr(engine._Spill, "shared", lambda self: None)
    d = Deduplicator(max_verify=4, jobs=2, spill=where != "memory")
    if where != "memory":
        d._cache_items = 20
    d.add_stream(items, batch_size=8)
    if where.startswith("released"):
        d.release_caches()
        assert d._spill is not None
        assert 0 < len(d._spill._sketch_where) < len(d._state.meta)  # only the cached items' sketches
    cluster_inputs = d._cluster_inputs
    sent: Counter[str] = Counter()

    def counted(part: list[list[str]]) -> Any:
        articles, shingles, times = cluster_inputs(part)
        sent.update("article " + type(value).__name__ for value in articles.values())
        sent.update("shingles " + type(value).__name__ for value in shingles.values())
        return articles, shingles, times

    d._cluster_inputs = counted  # type: ignore[method-assign]
    monkeypatch.setattr(engine, "_SPLIT_PART_ROWS", 4)  # and the workers split the components in parts
    split_in_workers = d._split_in_workers
    parts: list[int] = []

    def noted(pool: Any, given: Iterator[Any]) -> Iterator[list[list[str]]]:
        for clusters in split_in_workers(pool, given):
            parts.append(len(clusters))
            yield clusters

    d._split_in_workers = noted  # type: ignore[method-assign]
    assert _rows(d.iter_clusters()) == expected
    assert len(parts) > 2
    kind = {"memory": "Article", "spilled": "int", "released": "int"}.get(where, "bytes")
    assert {k for k in sent if k.startswith("article")} == {"article " + kind}
    assert (sent["shingles int"] > 0) == (where == "released")
    assert (sent["shingles bytes"] > 0) == (where == "released-sent")
    d._cluster_inputs = cluster_inputs  # type: ignore[method-assign]
    assert d.stats["clusters-built-in-workers"] == len(expected) > 3
    # the CLI's lines and story profiles, made in the workers, are the ones made here
    story = StoryConfig()
    made_here = list(here._cluster_lines(story))
    made_there = list(d._cluster_lines(story))
    assert [_rows([Cluster.from_dict(json.loads(line))]) for _, line, _ in made_there] == [
        [r] for r in expected
    ]
    assert [(key, profile) for key, _, profile in made_there] == [(key, p) for key, _, p in made_here]
    assert [line for _, line, _ in d._cluster_lines(None)] == [line for _, line, _ in made_there]
    early = d.iter_clusters()  # a caller that stops early stops the workers too
    assert _rows([next(early)]) == expected[:1]
    early.close()


def test_units_keep_connected_pairs_together() -> None:
    from newsdedup._dedup import _units

    rng = random.Random(3)
    todo: list[tuple[str, list[str]]] = []
    for n in range(300):  # 30 groups of 10 items, interleaved; each item pairs with earlier ones
        group = n % 30
        earlier = [f"g{group}-{m}" for m in range(n // 30)]
        todo.append((f"g{group}-{n // 30}", rng.sample(earlier, min(3, len(earlier)))))
    units = _units(todo, 40, _labels(todo), _anchors(todo))
    assert [item for unit in units for item in unit] != todo  # regrouped ...
    assert sorted(item for unit in units for item in unit) == sorted(todo)  # ... nothing lost
    for unit in units:  # no group of 24 pairs is cut: each fits a unit of 40
        groups = {key.split("-")[0] for key, _ in unit}
        assert all(
            sum(1 for key, _ in todo if key.startswith(g + "-"))
            == sum(1 for key, _ in unit if key.startswith(g + "-"))
            for g in groups
        )
        assert sum(len(others) for _, others in unit) <= 40 or len(groups) == 1
    # a group bigger than a unit is cut into units of at most 10 pairs
    big = [(f"b{n}", [f"b{n - 1}"] if n else []) for n in range(100)]
    cut = _units(big, 10, _labels(big), _anchors(big))
    assert sorted(key for unit in cut for key, _ in unit) == sorted(key for key, _ in big)
    assert max(sum(len(o) for _, o in unit) for unit in cut) == 10


def test_unit_size_leaves_each_process_many_units_within_bounds() -> None:
    """Small runs keep 2,048-pair units (the last ones still spread over every process); big
    ones get up to 8,192, so fewer docs are rebuilt in two units."""
    from newsdedup._dedup import _unit_size

    assert _unit_size(63_000, 4) == 2048  # the 20k corpus with two jobs
    assert _unit_size(16 * 4 * 3000, 4) == 3000
    assert _unit_size(7_600_000, 6) == 8192  # the 1M corpus
    assert _unit_size(0, 0) == 2048


def _labels(todo: list[tuple[str, list[str]]]) -> list[int]:
    """Per item its connected group's label, as the hub relation gives them."""
    import numpy as np

    from newsdedup._cluster import _component_labels

    slot: dict[str, int] = {}
    for key, others in todo:
        for k in (key, *others):
            slot.setdefault(k, len(slot))
    a = np.array([slot[k] for k, others in todo for _ in others], dtype=np.int64)
    b = np.array([slot[o] for _, others in todo for o in others], dtype=np.int64)
    return _component_labels(len(slot), a, b)[[slot[k] for k, _ in todo]].tolist()


def _anchors(todo: list[tuple[str, list[str]]]) -> list[int]:
    """Per item its anchor, as the hub relation gives them (:func:`newsdedup._hubs.unit_anchors`
    over the pairs, each key's place its position in rank order; tested on its own in
    test_hubs.py)."""
    import numpy as np

    from newsdedup._hubs import item_rank, unit_anchors

    keys = sorted({k for key, others in todo for k in (key, *others)}, key=item_rank)
    place = {k: n for n, k in enumerate(keys)}
    hi = np.array([place[key] for key, others in todo for _ in others], dtype=np.int64)
    lo = np.array([place[o] for _, others in todo for o in others], dtype=np.int64)
    anchors = unit_anchors(np.arange(len(keys), dtype=np.uint32), hi, lo)
    return anchors[[place[key] for key, _ in todo]].tolist()


def test_component_labels_name_the_connected_groups() -> None:
    """Two items get one label exactly when a path of pairs joins them (against a search)."""
    rng = random.Random(5)
    keys = [f"k{n}" for n in range(400)]
    todo = [
        (key, sorted(rng.sample(keys[:n], min(n, rng.choice([0, 1, 1, 2]))))) for n, key in enumerate(keys)
    ]
    near: dict[str, set[str]] = {k: set() for k in keys}
    for key, others in todo:
        for o in others:
            near[key].add(o)
            near[o].add(key)
    group: dict[str, int] = {}
    for k in keys:
        if k not in group:
            group[k], todo_keys = len(set(group.values())), [k]
            while todo_keys:
                for o in near[todo_keys.pop()]:
                    if o not in group:
                        group[o] = group[k]
                        todo_keys.append(o)
    labels = _labels(todo)
    assert len(set(labels)) == len(set(group.values())) > 20
    pairs = list(zip(labels, [group[k] for k, _ in todo], strict=True))
    assert len(set(pairs)) == len(set(labels))  # one label per group, one group per label


def test_a_big_group_is_cut_by_story_so_hub_docs_are_rebuilt_for_few_units() -> None:
    """Ten stories of 40 copies arrive interleaved, joined into one group by look-alike
    candidate pairs. Each copy pairs with the three lowest-ranked earlier copies of its
    story (its hubs). Cut in arrival order, every unit would hold copies of every story and
    rebuild all their hubs; cut by anchor, a unit holds one or two stories."""
    from newsdedup._dedup import _unit_keys, _units
    from newsdedup._hubs import item_rank

    todo: list[tuple[str, list[str]]] = []
    seen: dict[int, list[str]] = {s: [] for s in range(10)}
    for n in range(400):
        story, key = n % 10, f"s{n % 10}-{n // 10}"
        hubs = sorted(seen[story], key=item_rank)[:3]
        if n // 10 == 0 and story:  # a look-alike candidate joins this story to the previous one
            hubs.append(f"s{story - 1}-0")
        todo.append((key, hubs))
        seen[story].append(key)
    units = _units(todo, 60, _labels(todo), _anchors(todo))
    assert sorted(item for unit in units for item in unit) == sorted(todo)
    assert all(sum(len(o) for _, o in unit) < 60 + 4 for unit in units)  # cut once 60 is reached
    loads = sum(len(_unit_keys(unit)) for unit in units)
    in_arrival: list[list[tuple[str, list[str]]]] = [[]]
    for item in todo:  # the same cut in arrival order
        if sum(len(o) for _, o in in_arrival[-1]) + len(item[1]) > 60:
            in_arrival.append([])
        in_arrival[-1].append(item)
    assert loads < 0.6 * sum(len(_unit_keys(unit)) for unit in in_arrival)
    assert loads < 1.3 * 400


def test_clusters_are_built_a_bounded_number_of_members_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """iter_clusters reads the articles of a few groups at a time: about _CHUNK_MEMBERS
    members (at least one group), and never more than ``chunk`` groups."""
    import newsdedup._dedup as engine

    d = Deduplicator(max_verify=4)
    d.add_stream(_story_stream(), batch_size=16)
    whole = [c.to_dict() for c in d.iter_clusters(chunk=10_000)]
    read = d._articles
    sizes: list[int] = []

    def counted(ids: Iterable[str]) -> dict[str, Any]:
        found = read(ids)
        sizes.append(len(found))
        return found

    monkeypatch.setattr(d, "_articles", counted)
    monkeypatch.setattr(engine, "_CHUNK_MEMBERS", 5)
    biggest = max(len(c["member_ids"]) for c in whole)
    assert biggest > 5
    assert [c.to_dict() for c in d.iter_clusters()] == whole
    assert len(sizes) > 1
    assert max(sizes) <= 4 + biggest
    sizes.clear()
    assert [c.to_dict() for c in d.iter_clusters(chunk=2)] == whole
    assert len(sizes) >= len(whole) / 2


def test_released_caches_lose_nothing() -> None:
    """After release_caches the article and doc caches are empty (articles in the spill file)
    and only the ``cache_items`` latest sketches stay (the others in the spill file), the
    clusters are the same, and items added afterwards are matched as before."""
    items = _story_stream()
    reference = Deduplicator(max_verify=4, spill=True)
    reference.add_stream(items, batch_size=16)
    d = Deduplicator(max_verify=4, spill=True)
    d._cache_items = 20  # below the test's 50 items (the constructor's minimum is 100)
    d.add_stream(items[:50], batch_size=16)
    d.release_caches()
    state = d._state
    assert (len(state.articles), len(state.docs), len(state.sketches)) == (0, 0, 20)
    assert d._spill is not None
    assert set(d._spill._where) == set(d._spill._sketch_where) | set(state.sketches) == set(state.meta)
    assert len(d._spill._sketch_where) >= 30
    assert d.article(items[3]["id"]).text == reference.article(items[3]["id"]).text
    d.add_stream(items[50:], batch_size=16)
    assert _outputs(d) == _outputs(reference)


def test_postponing_applies_only_without_store_or_window(tmp_path: Path) -> None:
    from newsdedup import open_store

    items = _story_stream()[:30]
    for d in (
        Deduplicator(max_verify=4, window="72h"),
        Deduplicator(max_verify=None),
        Deduplicator(max_verify=4, store=open_store(tmp_path / "s.db")),
    ):
        d.add_stream(items, batch_size=8)
        assert "postponed-pairs" not in d.stats
        assert set(d.decisions) == {x["id"] for x in items}


def test_an_interrupted_stream_leaves_its_pairs_for_the_next_clusters_call() -> None:
    """A KeyboardInterrupt does not start the (long) verification of what was read; the pairs
    stay postponed and the next clusters() verifies them."""
    items = _story_stream()

    def interrupted() -> Iterator[object]:
        yield from items[:40]
        raise KeyboardInterrupt

    d = Deduplicator(max_verify=4)
    with pytest.raises(KeyboardInterrupt):
        d.add_stream(interrupted(), batch_size=8)
    assert d._pending
    assert not d._postponing
    assert len(d.decisions) < 40
    reference = Deduplicator(max_verify=4)
    reference.add_stream(items[:40], batch_size=8)
    assert _outputs(d) == _outputs(reference)
    assert not d._pending
    assert d.decisions == reference.decisions
    # items added one batch at a time after an interrupted stream: the postponed ones first
    resumed = Deduplicator(max_verify=4)
    with pytest.raises(KeyboardInterrupt):
        resumed.add_stream(interrupted(), batch_size=8)
    resumed.add_many(items[40:])
    assert not resumed._pending
    whole = Deduplicator(max_verify=4)
    whole.add_stream(items, batch_size=8)
    assert _outputs(resumed) == _outputs(whole)
    # a stream that breaks on an error is verified before the error propagates
    broken = Deduplicator(max_verify=4, jobs=2)

    def cut() -> Iterator[object]:
        yield from items[:40]
        raise OSError("input cut off")

    with pytest.raises(OSError, match="cut off"):
        broken.add_stream(cut(), batch_size=8)
    assert not broken._pending
    assert broken.decisions == reference.decisions
    assert _verdicts(broken) == _verdicts(reference)


@pytest.mark.parametrize("where", ["first", "second"])
def test_a_verification_interrupted_in_either_round_is_finished_by_the_next_call(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``settle_after`` the postponed pairs are verified in two rounds, in units (here of
    16 pairs); an interrupt while the last unit of the first round, or the first of the second
    round, is applied leaves the items for the next clusters() call, which gives the
    uninterrupted clusters and decisions, each item counted once. (After the first round, every
    item of it stays postponed: those whose units were applied may need a second round.)"""
    import newsdedup._dedup as engine

    monkeypatch.setattr(engine, "_UNIT_PAIRS", (16, 16))
    items = _story_stream()
    reference = Deduplicator(max_verify=8, settle_after=2)
    wanted: set[frozenset[str]] = set()
    reference.on_verdict = lambda a, b, _: wanted.add(frozenset((a, b)))
    rounds: list[int] = []  # units applied per round
    verify_todo = reference._verify_todo

    def counted(found: Any, *args: Any) -> None:
        rounds.append(0)
        apply = reference._apply_unit

        def one(*unit: Any) -> None:
            rounds[-1] += 1
            apply(*unit)

        reference._apply_unit = one  # type: ignore[method-assign]
        try:
            verify_todo(found, *args)
        finally:
            reference._apply_unit = apply  # type: ignore[method-assign]

    reference._verify_todo = counted  # type: ignore[method-assign]
    reference.add_stream(items, batch_size=16)
    assert len(rounds) == 2
    assert rounds[0] > 2
    assert rounds[1] > 0
    at = rounds[0] if where == "first" else rounds[0] + 1

    d = Deduplicator(max_verify=8, settle_after=2)
    verified: set[frozenset[str]] = set()
    d.on_verdict = lambda a, b, _: verified.add(frozenset((a, b)))
    apply = d._apply_unit
    calls = 0

    def interrupting(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == at:
            raise KeyboardInterrupt
        apply(*args)

    d._apply_unit = interrupting  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        d.add_stream(items, batch_size=16)
    assert d._pending
    d._apply_unit = apply  # type: ignore[method-assign]
    assert _outputs(d) == _outputs(reference)
    assert not d._pending
    assert d.decisions == reference.decisions
    assert sum(d.stats[s] for s in ("new", "duplicate", "too-short")) == len(items)
    assert _verdicts(d) == _verdicts(reference)
    assert verified >= wanted  # some first-round pairs twice, no pair left out


def test_max_verify_is_validated() -> None:
    assert DedupConfig(max_verify=None).max_need is None
    assert DedupConfig(max_verify=16).max_need == 4
    for bad in (3, 0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="max_verify"):
            DedupConfig(max_verify=bad)


_KILLED_RUN = """
import sys, time
from newsdedup import Deduplicator

def items():
    i = 0
    while True:
        i += 1
        yield {"id": f"x{i}", "text": f"story {i} about the harbour strike and the port " * 12}
        if i % 64 == 0:
            time.sleep(0.05)

if __name__ == "__main__":
    Deduplicator(jobs=2).add_stream(items(), batch_size=32)
"""


def test_workers_exit_when_the_main_process_is_killed(tmp_path: Path) -> None:
    """A run killed with SIGKILL cannot shut its pools down; its workers must not linger."""
    import subprocess
    import sys
    import time

    psutil = pytest.importorskip("psutil")
    script = tmp_path / "run.py"
    script.write_text(_KILLED_RUN)
    proc = subprocess.Popen([sys.executable, str(script)])
    try:
        main = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        while len(main.children(recursive=True)) < 4 and time.monotonic() < deadline:  # forkserver + 3
            time.sleep(0.2)
        workers = main.children(recursive=True)
        assert len(workers) >= 4
    finally:
        proc.kill()
        proc.wait()
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert alive == []


def test_postponed_verification_pauses_the_collector_and_restores_it() -> None:
    """The postponed verification runs with the cyclic collector off and leaves it as it found
    it: on after a normal run and after an error inside, off when the caller had it off."""
    import gc

    from newsdedup._dedup import _gc_paused

    items = _story_stream()
    seen: list[bool] = []
    d = Deduplicator(max_verify=4)
    resolve = d._resolve_pending

    def watched(idle: Any, unit_pairs: int) -> None:
        seen.append(gc.isenabled())
        resolve(idle, unit_pairs)

    d._resolve_pending = watched  # type: ignore[method-assign]
    assert gc.isenabled()
    d.add_stream(items, batch_size=16)
    assert seen == [False]
    assert gc.isenabled()
    assert d.stats["postponed-pairs"] > 0
    with pytest.raises(RuntimeError, match="inside"), _gc_paused():
        raise RuntimeError("inside")
    assert gc.isenabled()
    gc.disable()
    try:
        with _gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="aZ ß\t\n\x0b\x0c\r\x1c\x1f\x00\x7f.Éİ\u00a0\u2003", max_size=30))
def test_paragraph_hash_is_the_plain_case_and_space_fold(paragraph: str) -> None:
    """The ASCII shortcut (``lower()``, re-spacing only a paragraph that needs it) hashes every
    paragraph as the plain definition does: casefold, whitespace runs to one space, stripped."""
    import xxhash

    from newsdedup._cluster import _para_hash

    plain = xxhash.xxh3_64_intdigest(" ".join(paragraph.casefold().split()).encode("utf-8"))
    assert _para_hash(paragraph) == plain


# Texts in scripts written without spaces: a wire story and a lightly edited copy, and another
# story from the same desk that shares its phrasing.
_ZH_STORY = (
    "北约秘书长吕特周二在布鲁塞尔表示，朝鲜向俄罗斯派遣军队是一次危险的升级，也是对乌克兰战争的重大扩大。"
    "他对记者说，韩国情报部门的一个代表团向北约成员国通报了情况，联盟正在与乌克兰以及印太地区伙伴密切协商。"
    "韩国国家情报院此前称，约一万一千名朝鲜士兵已被部署到俄罗斯东部接受训练，其中一部分可能已经被派往库尔斯克地区的前线。"
    "美国国防部长奥斯汀也证实了这一消息，并警告说，如果这些部队参与作战，将成为合法的攻击目标。"
    "俄罗斯方面没有否认这一报道，克里姆林宫发言人表示，两国之间的合作不针对任何第三方。"
)
_ZH_COPY = (
    _ZH_STORY.replace("周二", "周一").replace("约一万一千名", "大约一万一千名")
    + "（本文来自路透社，更多报道请关注本站新闻频道。）"
)
_ZH_OTHER = (
    "中国国家统计局周二在北京表示，第三季度国内生产总值同比增长百分之四点六，略低于上一季度的增长速度。"
    "统计局发言人对记者说，消费和投资保持稳定，但房地产市场仍然疲弱，外部环境的不确定性有所增加。"
    "分析人士认为，政府近期推出的一系列刺激措施将在第四季度逐步显现效果，全年增长目标有望实现。"
    "人民银行上个月宣布下调存款准备金率和政策利率，并表示将继续保持流动性合理充裕。"
    "财政部长也表示，将在未来几个月内加大逆周期调节力度，支持地方政府化解债务风险。"
)
_JA_STORY = (
    "北大西洋条約機構のルッテ事務総長は火曜日、北朝鮮によるロシアへの派兵は危険な事態の拡大だと述べた。"
    "事務総長はブリュッセルで記者団に対し、韓国の情報機関の代表団が加盟国に状況を説明したと語り、"
    "同盟はウクライナやインド太平洋地域のパートナーと緊密に協議していると強調した。"
    "韓国の国家情報院によると、約一万一千人の北朝鮮兵がロシア東部で訓練を受けており、一部は前線に送られた可能性がある。"
)


def test_texts_without_spaces_between_words_are_fingerprinted_and_matched() -> None:
    """Chinese and Japanese: each character is a token, so an article has enough tokens to be
    fingerprinted (as runs of letters a whole clause was one token: even identical copies
    stayed apart as too short), a lightly edited copy joins its original, and another story
    from the same desk does not."""
    d = Deduplicator()
    items = [
        {"id": "zh", "text": _ZH_STORY, "site": "a.example"},
        {"id": "zh-same", "text": _ZH_STORY, "site": "b.example"},
        {"id": "zh-copy", "text": _ZH_COPY, "site": "c.example"},
        {"id": "zh-other", "text": _ZH_OTHER, "site": "a.example"},
        {"id": "ja", "text": _JA_STORY, "site": "d.example"},
        {"id": "ja-copy", "text": _JA_STORY.replace("火曜日", "月曜日") + "（共同）", "site": "e.example"},
    ]
    decisions = [d.add(item) for item in items]
    assert all(dec.status != "too-short" for dec in decisions)
    assert sorted(sorted(c.member_ids) for c in d.clusters()) == [
        ["ja", "ja-copy"],
        ["zh", "zh-copy", "zh-same"],
        ["zh-other"],
    ]
