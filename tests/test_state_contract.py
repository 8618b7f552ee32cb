"""The store contract, run against SQLite and Redis: several runs = one run, replay changes
nothing, same id with another text is recorded (not re-clustered), window expiry, config
mismatch. Also home of the corpus generator the other state tests import."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from newsdedup._dedup import DedupConfig, Deduplicator
from newsdedup._exceptions import StoreError
from newsdedup._store import open_store
from newsdedup._text import clean_text
from redis_server import RedisServer, redis_server_or_skip

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = sorted((FIXTURES / "seeds").glob("*.txt"))

# -- a realistic generated news stream ----------------------------------------------------------

_PLACES = ["Kyiv", "Brussels", "Nairobi", "Lima", "Jakarta", "Ottawa", "Lagos", "Manila", "Oslo", "Quito"]
_PEOPLE = ["Maria Okafor", "Jonas Lindqvist", "Aiko Tanaka", "Rahul Mehta", "Elena Petrova", "Tomas Ruiz",
           "Grace Mwangi", "Omar Haddad", "Lucia Ferreira", "Henrik Dahl", "Sofia Brandt", "Kwame Mensah"]  # fmt: skip
_ORGS = ["the finance ministry", "the central bank", "the port authority", "the health agency",
         "the energy regulator", "the transport union", "the national grid operator", "the farmers' cooperative"]  # fmt: skip
_VERBS = ["said", "told reporters", "warned", "confirmed", "announced", "estimated", "argued", "added"]
_TOPICS = ["fuel subsidies", "wheat exports", "a rail strike", "flood defences", "a vaccine rollout",
           "interest rates", "a mining licence", "coastal erosion", "a power outage", "bond yields",
           "a ferry accident", "a trade accord", "hospital waiting lists", "a data breach"]  # fmt: skip
_TAILS = ["in a statement on Tuesday", "after a late-night meeting", "during a visit to the region",
          "according to figures released this week", "in an interview with local radio",
          "before lawmakers in the capital", "as talks resumed", "citing internal documents"]  # fmt: skip
_SITES = ["dailyglobe.example", "rivertown.example", "newsbrief.example", "metro-herald.example",
          "valleypost.example", "coastline-news.example"]  # fmt: skip
_FOOTERS = ["Subscribe to our morning briefing for the day's top stories.",
            "Follow us on social media for breaking news alerts.",
            "Copyright 2024 Valley Post Media. All rights reserved."]  # fmt: skip


def _sentence(rng: random.Random, topic: str) -> str:
    who = rng.choice(_PEOPLE)
    org = rng.choice(_ORGS)
    n = rng.randint(2, 950)
    pct = rng.randint(1, 40)
    shapes = [
        f"{who}, a spokesperson for {org}, {rng.choice(_VERBS)} that {topic} would cost about {n} million dollars {rng.choice(_TAILS)}.",
        f"Officials in {rng.choice(_PLACES)} {rng.choice(_VERBS)} that {pct} percent of households were affected by {topic}.",
        f"The dispute over {topic} has drawn criticism from {org}, which {rng.choice(_VERBS)} it had not been consulted.",
        f"{who} {rng.choice(_VERBS)} that the plan for {topic} would be reviewed within {rng.randint(2, 30)} days.",
        f"Analysts expect the debate on {topic} to continue, with {n} people expected at a rally in {rng.choice(_PLACES)}.",
    ]
    return rng.choice(shapes)


def _story(rng: random.Random, paragraphs: int = 6) -> str:
    topic = rng.choice(_TOPICS)
    paras = [" ".join(_sentence(rng, topic) for _ in range(rng.randint(2, 3))) for _ in range(paragraphs)]
    return "\n\n".join(paras)


def make_corpus(n_stories: int = 24, *, seed: int = 5, start: datetime | None = None) -> list[dict[str, Any]]:
    """Stories (the five seed articles plus generated ones), each republished 0-4 times as exact
    copies, copies with a site footer, lightly edited copies and truncated copies (first third),
    plus too-short briefs. Times spread over about ten days; ids are unique."""
    rng = random.Random(seed)
    start = start or datetime(2024, 10, 1, 6, 0, tzinfo=UTC)
    bodies = [clean_text(p.read_text(encoding="utf-8")).text for p in SEEDS]
    bodies += [_story(rng) for _ in range(max(0, n_stories - len(bodies)))]
    items: list[dict[str, Any]] = []
    for s, body in enumerate(bodies):
        when = start + timedelta(hours=rng.randint(0, 240))
        items.append({"id": f"s{s:03d}-orig", "text": body, "site": "wire.example",
                      "url": f"https://wire.example/{s}", "published": when.isoformat()})  # fmt: skip
        paras = [p for p in body.split("\n\n") if p.strip()]
        for c in range(rng.randint(0, 4)):
            kind = rng.choice(["exact", "footer", "edit", "truncated"])
            site = rng.choice(_SITES)
            text = body
            if kind == "footer":
                text = body + "\n\n" + rng.choice(_FOOTERS)
            elif kind == "edit":
                words = body.split(" ")
                i = rng.randrange(len(words))
                words[i] = words[i].upper()
                text = " ".join(words).replace("said", "says", 1)
            elif kind == "truncated" and len(paras) >= 3:
                text = "\n\n".join(paras[: max(2, len(paras) // 3)])
            copy_time = when + timedelta(minutes=rng.randint(5, 600))
            items.append({"id": f"s{s:03d}-c{c}-{site.split('.')[0]}", "text": text, "site": site,
                          "url": f"https://{site}/story/{s}/{c}", "published": copy_time.isoformat()})  # fmt: skip
    for b in range(max(2, n_stories // 6)):
        items.append({"id": f"brief-{b:02d}", "text": f"Markets closed {b + 1} points higher.",
                      "site": "wire.example", "published": (start + timedelta(hours=b)).isoformat()})  # fmt: skip
    rng.shuffle(items)
    return items


def partition_of(clusters: list[Any]) -> set[frozenset[str]]:
    return {frozenset(c.member_ids) for c in clusters}


def canonicals(clusters: list[Any]) -> dict[str, tuple[str, str]]:
    return {c.cluster_id: (c.canonical_id, c.text) for c in clusters}


def write_jsonl(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return path


# -- the two backends -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_srv() -> Iterator[RedisServer]:
    with redis_server_or_skip() as server:
        yield server


_names = iter(range(10**6))


@pytest.fixture(params=["sqlite", "redis"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store location for each test: an SQLite path or a new Redis keyspace."""
    if request.param == "sqlite":
        return str(tmp_path / "state.db")
    server: RedisServer = request.getfixturevalue("redis_srv")
    return f"{server.url}?name=t{next(_names)}"


def assert_closed_store_refuses(store: Any, d: Deduplicator, items: list[dict[str, Any]]) -> None:
    """Every use of a closed store is StoreError "the store is closed" (not StoreCorrupt), and
    closing it again is harmless: the check both backends' tests run."""
    from newsdedup._exceptions import StoreCorrupt

    uses = {
        "add_many": lambda: d.add_many(items),
        "counts": store.counts,
        "mark_seen": lambda: store.mark_seen(["https://a.example/y"]),
        "fetch cache": lambda: store.fetch_cache().get("https://a.example/x"),
    }
    for what, use in uses.items():
        with pytest.raises(StoreError, match="the store is closed") as info:
            use()
        assert not isinstance(info.value, StoreCorrupt), what
    store.close()


def _run(target: str, items: list[dict[str, Any]], **kwargs: Any) -> tuple[Deduplicator, list[Any]]:
    store = open_store(target)
    d = Deduplicator(store=store, **kwargs)
    d.add_many(items)
    emitted = d.emit_changed(lambda clusters: None)
    return d, emitted


def test_three_runs_equal_one_run(store_target: str) -> None:
    items = make_corpus()
    reference = Deduplicator()
    reference.add_many(items)
    ref = reference.clusters()
    assert any(c.size >= 3 for c in ref)  # the corpus really has syndication groups
    assert any(c.canonical_reason == "not-truncated" or c.size > 1 for c in ref)

    parts = [
        items[: len(items) // 3],
        items[len(items) // 3 : 2 * len(items) // 3],
        items[2 * len(items) // 3 :],
    ]
    emitted_ids: list[set[str]] = []
    for part in parts:
        d, emitted = _run(store_target, part)
        emitted_ids.append({m for c in emitted for m in c.member_ids})
        # every item of this run is in an emitted cluster
        assert {i["id"] for i in part} <= emitted_ids[-1]
        d.store.close()  # type: ignore[union-attr]

    final = Deduplicator(store=open_store(store_target))
    got = final.clusters()
    assert partition_of(got) == partition_of(ref)
    assert canonicals(got) == canonicals(ref)
    assert [c.to_dict() for c in got] == [c.to_dict() for c in ref]


def test_a_batch_larger_than_the_article_cache_matches_as_without_a_store(store_target: str) -> None:
    """An item of the batch being matched whose article had left the cache was looked up in the
    store, which gets the batch only at commit: StoreCorrupt, "has no stored article", for any
    add_many of more than ``cache_items`` items."""
    items = make_corpus(80, seed=9)
    assert len(items) > 200  # twice the cache
    reference = Deduplicator()
    reference.add_many(items)
    d, _ = _run(store_target, items, cache_items=100)
    got = d.clusters()
    d.store.close()  # type: ignore[union-attr]
    assert [c.to_dict() for c in got] == [c.to_dict() for c in reference.clusters()]


def test_bounded_verification_three_runs_equal_one_run_in_another_order(store_target: str) -> None:
    """With max_verify each run rebuilds the hub lists from the stored rows, so three runs over
    a store give what one in-memory run over the items in reverse order gives."""
    from test_dedup import _copies

    items = make_corpus(seed=6)
    story = next(i["text"] for i in items if i["id"].endswith("-orig") and len(i["text"]) > 1500)
    items += _copies(story, "big", 20, random.Random(6))
    random.Random(7).shuffle(items)
    reference = Deduplicator(max_verify=4)
    reference.add_many(list(reversed(items)))
    ref = reference.clusters()
    assert reference.stats["verify-limited"] > 0  # some items had more candidates than that
    third = len(items) // 3
    for part in (items[:third], items[third : 2 * third], items[2 * third :]):
        d, _ = _run(store_target, part, max_verify=4)
        d.store.close()  # type: ignore[union-attr]
    final = Deduplicator(store=open_store(store_target), max_verify=4)
    got = final.clusters()
    assert partition_of(got) == partition_of(ref)
    assert canonicals(got) == canonicals(ref)
    # the replica rebuilt every hub list, so clustering used exactly the reference's pairs
    assert final._state.hubs == reference._state.hubs
    assert final._hub_edges() == reference._hub_edges()
    final.store.close()  # type: ignore[union-attr]


def test_replaying_a_part_changes_nothing(store_target: str) -> None:
    items = make_corpus(12, seed=9)
    d, _ = _run(store_target, items)
    before = [c.to_dict() for c in d.clusters()]
    counts = d.store.counts()  # type: ignore[union-attr]
    d.store.close()  # type: ignore[union-attr]

    again = Deduplicator(store=open_store(store_target))
    decisions = again.add_many(items[: len(items) // 2])
    assert {x.status for x in decisions} == {"already-seen"}
    emitted = again.emit_changed(lambda clusters: None)
    assert emitted == []  # nothing new, nothing re-emitted
    assert [c.to_dict() for c in again.clusters()] == before
    assert again.store.counts() == counts  # type: ignore[union-attr]


def test_same_id_with_new_text_is_recorded_as_an_update_and_keeps_the_first(store_target: str) -> None:
    items = make_corpus(8, seed=3)
    _run(store_target, items)
    first = next(i for i in items if i["id"].endswith("-orig"))
    changed = dict(first, text=first["text"] + "\n\nThis story has been updated with a correction.")
    d2 = Deduplicator(store=open_store(store_target))
    decision = d2.add(changed)
    assert decision.status == "error"
    assert decision.reason == "duplicate-id"
    assert d2.article(first["id"]).text == clean_text(first["text"]).text
    assert d2.store.counts()["updates"] == 1  # type: ignore[union-attr]
    assert d2.store.counts()["items"] == len(items)  # type: ignore[union-attr]


def test_config_mismatch_is_refused(store_target: str) -> None:
    _run(store_target, make_corpus(6, seed=1))
    with pytest.raises(StoreError, match="different dedup configuration"):
        Deduplicator(store=open_store(store_target), num_perm=64)
    # a setting that does not change signatures is allowed (and logged)
    Deduplicator(store=open_store(store_target), containment_threshold=0.75)


def _story_items(day: datetime) -> list[dict[str, Any]]:
    body = clean_text(SEEDS[2].read_text(encoding="utf-8")).text
    return [{"id": f"{day:%m%d}-{site}", "text": body, "site": site, "published": day.isoformat()}
            for site in ("a.example", "b.example")]  # fmt: skip


def test_window_expires_old_items_and_keeps_clusters_exportable(store_target: str) -> None:
    day1 = datetime(2024, 10, 1, 12, tzinfo=UTC)
    day2 = day1 + timedelta(hours=30)
    day9 = day1 + timedelta(days=8)
    d, _ = _run(store_target, _story_items(day1), window="72h")
    assert d.store.counts()["indexed"] == 2  # type: ignore[union-attr]
    d.store.close()  # type: ignore[union-attr]
    # inside the window: the same story a day later joins the cluster
    d, emitted = _run(store_target, _story_items(day2), window="72h")
    assert [c.size for c in emitted] == [4]
    d.store.close()  # type: ignore[union-attr]
    # a week later the old copies have left the index: the re-run story starts a new cluster
    d, emitted = _run(store_target, _story_items(day9), window="72h")
    assert [c.member_ids for c in emitted] == [("1009-a.example", "1009-b.example")]
    counts = d.store.counts()  # type: ignore[union-attr]
    assert counts["items"] == 6
    assert counts["indexed"] == 2  # only the newest two are still matchable
    assert sorted(c.size for c in d.clusters()) == [2, 4]  # old clusters stay exportable
    d.store.close()  # type: ignore[union-attr]
    # without a window everything would be one cluster
    plain = Deduplicator()
    plain.add_many(_story_items(day1) + _story_items(day2) + _story_items(day9))
    assert [c.size for c in plain.clusters()] == [6]


def test_window_in_memory_matches_the_store(store_target: str) -> None:
    items = make_corpus(16, seed=11)
    items.sort(key=lambda i: i["published"])  # a stream arrives roughly in time order
    mem = Deduplicator(window="24h")
    chunks = [items[i : i + 20] for i in range(0, len(items), 20)]
    for chunk in chunks:
        mem.add_many(chunk)
    for chunk in chunks:
        d, _ = _run(store_target, chunk, window="24h")
        d.store.close()  # type: ignore[union-attr]
    got = Deduplicator(store=open_store(store_target)).clusters()
    assert partition_of(got) == partition_of(mem.clusters())
    assert mem.stats["expired"] > 0


def test_one_item_dated_far_ahead_does_not_expire_a_replayed_archive() -> None:
    """Replaying 2024 items with a window, one dated 2100 moved the high-water mark to the
    ingest time (today), and every earlier item left the index: later copies no longer matched."""
    items = make_corpus(16, seed=11)
    items.sort(key=lambda i: i["published"])
    bad = {**items[5], "id": "far-ahead", "published": "2100-01-01T00:00:00+00:00"}
    plain, with_bad = Deduplicator(window="48h"), Deduplicator(window="48h")
    for start in range(0, len(items), 20):
        plain.add_many(items[start : start + 20])
        with_bad.add_many(items[start : start + 20] if start else [*items[:20], bad])
    got = {frozenset(c.member_ids) - {"far-ahead"} for c in with_bad.clusters()} - {frozenset()}
    assert got == {frozenset(c.member_ids) for c in plain.clusters()}
    assert with_bad.stats["expired"] == plain.stats["expired"]


def test_learner_fetch_cache_and_seen_urls_persist(store_target: str) -> None:
    from newsdedup._boilerplate import BoilerplateLearner

    store = open_store(store_target)
    Deduplicator(store=store)  # binds the keyspace
    learner = BoilerplateLearner().fit(
        [("site.example", [f"Story {n} text here.", "Sign up for our newsletter"]) for n in range(4)]
    )
    store.save_learner(learner)
    cache = store.fetch_cache()
    cache.put("https://site.example/a", etag='"v1"', last_modified=None, body=b"<html>a</html>",
              content_type="text/html", headers={"x-test": "1"})  # fmt: skip
    cache.put("https://site.example/nocache", etag=None, last_modified=None, body=b"x")
    assert store.mark_seen(["https://site.example/a", "https://site.example/b"]) == 2
    assert store.mark_seen(["https://site.example/a"]) == 0
    store.close()

    again = open_store(store_target)
    assert again.load_learner() == learner
    assert again.load_learner("other") is None
    entry = again.fetch_cache().get("https://site.example/a")
    assert entry is not None
    assert (entry.etag, entry.body, entry.content_type, dict(entry.headers)) == (
        '"v1"', b"<html>a</html>", "text/html", {"x-test": "1"},
    )  # fmt: skip
    assert again.fetch_cache().get("https://site.example/nocache") is None
    assert again.is_seen("https://site.example/b")
    assert again.unseen(["https://site.example/a", "https://site.example/c", "https://site.example/c"]) == [
        "https://site.example/c"
    ]
    again.close()


def test_cluster_rows_record_the_emitted_canonical_choice(store_target: str) -> None:
    items = make_corpus(10, seed=21)
    d, emitted = _run(store_target, items)
    rows = {r.cluster_id: r for r in d.store.stored_clusters()}  # type: ignore[union-attr]
    assert set(rows) == {c.cluster_id for c in emitted}
    for c in emitted:
        assert rows[c.cluster_id].canonical_id == c.canonical_id
        assert rows[c.cluster_id].member_ids == c.member_ids
    assert d.store.counts()["pending"] == 0  # type: ignore[union-attr]


def test_dedupconfig_round_trips_through_the_store(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    Deduplicator(store=store, threshold=0.6, min_chars=100)
    stored = store.stored_config()
    assert stored is not None
    assert DedupConfig(**stored) == DedupConfig(threshold=0.6, min_chars=100)


def test_two_writers_interleaving_batches_see_each_other(store_target: str) -> None:
    """Each batch first replays the other writer's commits, so copies split across two writers
    are still matched, and the result equals one run."""
    items = make_corpus(14, seed=31)
    one = Deduplicator(store=open_store(store_target))
    two = Deduplicator(store=open_store(store_target))  # opened before `one` wrote anything
    for n, start in enumerate(range(0, len(items), 7)):
        (one if n % 2 == 0 else two).add_many(items[start : start + 7])
    reference = Deduplicator()
    reference.add_many(items)
    ref = reference.clusters()
    assert any(c.size > 1 for c in ref)
    for writer in (one, two):
        assert [c.to_dict() for c in writer.clusters()] == [c.to_dict() for c in ref]
    assert one.store.counts()["items"] == len(items)  # type: ignore[union-attr]


def test_a_cache_much_smaller_than_the_store_gives_the_same_result(store_target: str) -> None:
    """Articles and docs evicted from the bounded caches are re-read from the store and re-parsed
    (or rejected on shingles alone) with exactly the verdicts the in-memory run reaches."""
    items = make_corpus(40, seed=8)
    reference = Deduplicator()
    reference.add_many(items)
    d = Deduplicator(store=open_store(store_target), cache_items=100)
    for start in range(0, len(items), 10):
        d.add_many(items[start : start + 10])
    assert len(items) > 100
    assert [c.to_dict() for c in d.clusters()] == [c.to_dict() for c in reference.clusters()]
    verified = {k: v for k, v in reference.stats.items() if k.startswith("verified:")}
    assert {k: v for k, v in d.stats.items() if k.startswith("verified:")} == verified


def test_backoff_waits_doubling_pauses_and_offers_one_attempt_after_its_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both stores' lock waits: attempts until the timeout, the pauses doubling up to the cap,
    and one last attempt once the time is up (flagged False so the caller fails on it)."""
    from newsdedup._store import _base

    clock = [0.0]
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(_base.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(_base.time, "sleep", sleep)
    flags = list(_base.backoff(1.0, 0.1, 0.3))
    assert flags == [True] * (len(flags) - 1) + [False]
    assert pauses == [0.1, 0.2, 0.3, 0.3, 0.3]  # 1.2 s slept once the timeout of 1.0 s passed
    assert list(_base.backoff(0.0, 0.1, 0.3)) == [False]  # no wait: one attempt


def test_a_batchs_own_items_already_outside_the_window_are_not_indexed(store_target: str) -> None:
    """One batch holding an old story and a much newer one: the old copies are stored but leave
    the index in the same write, in every backend (Redis kept their bucket keys until the next
    batch, so the two backends' ``indexed`` counts differed after identical runs)."""
    day1 = datetime(2024, 10, 1, 12, tzinfo=UTC)
    day9 = day1 + timedelta(days=8)
    d, _ = _run(store_target, _story_items(day1) + _story_items(day9), window="72h")
    counts = d.store.counts()  # type: ignore[union-attr]
    assert counts["items"] == 4
    assert counts["indexed"] == 2
    d.store.close()  # type: ignore[union-attr]
    # the next run matches only the newer copies, as after two batches
    d, emitted = _run(store_target, _story_items(day9 + timedelta(days=1)), window="72h")
    assert [c.size for c in emitted] == [4]
    assert d.store.counts()["indexed"] == 4  # type: ignore[union-attr]
    d.store.close()  # type: ignore[union-attr]
