"""The data model round-trips through dicts (the JSONL and store representation)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from newsdedup import Article, Cluster, Removal, Source
from newsdedup._models import as_utc, parse_datetime


def test_article_round_trip() -> None:
    article = Article(
        id="a1",
        url="https://example.com/a",
        title="Title",
        text="First paragraph.\n\nSecond paragraph.",
        published=datetime(2024, 10, 17, 17, 13, tzinfo=timezone(timedelta(hours=-4))),
        authors=("Jane Doe",),
        wire="Reuters",
        removed=(Removal(rule="newsmax:trailing", text="Newsmax Media, Inc."),),
    )
    assert Article.from_dict(article.to_dict()) == article
    assert article.paragraphs == ["First paragraph.", "Second paragraph."]
    assert article.ok


def test_article_is_frozen() -> None:
    article = Article(text="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        article.text = "y"  # type: ignore[misc]


def test_models_round_trip_through_pickle_field_by_field() -> None:
    """Worker processes and the spill file pickle articles as their fields in order: every
    field comes back in its own slot, and the copy is still frozen."""
    import pickle

    values = {f.name: f"v-{f.name}" for f in dataclasses.fields(Article)}
    values.update(
        published=datetime(2024, 1, 2, tzinfo=UTC), authors=("A", "B"), removed=(Removal(rule="r", text="t"),)
    )
    article = Article(**values)  # type: ignore[arg-type]
    back = pickle.loads(pickle.dumps(article))
    assert back == article
    assert [getattr(back, f.name) for f in dataclasses.fields(Article)] == list(values.values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        back.text = "y"  # type: ignore[misc]
    source = Source(id="s", url="u", site="e.com", title="t", published=None)
    assert pickle.loads(pickle.dumps(source)) == source


class _Stamp(datetime):
    """A datetime subclass (as pandas' Timestamp is): pickled as itself, not as ISO text."""


@pytest.mark.parametrize(
    "when",
    [
        None,
        datetime(2024, 1, 2, 3, 4, 5, 678, tzinfo=UTC),
        datetime(2024, 1, 2, 3, 4, 5),  # naive
        datetime(2024, 1, 2, tzinfo=timezone(timedelta(hours=5, minutes=30), "IST")),
        datetime(2024, 3, 31, 2, 30, fold=1, tzinfo=UTC),
    ],
)
def test_pickled_times_come_back_as_they_were(when: datetime | None) -> None:
    """A UTC time is pickled as its ISO text (cheaper than pickling its ``timezone``); every
    time, UTC or not, comes back equal, with the same zone object and type."""
    import pickle

    times = [when] if when is None else [when, _Stamp.fromisoformat(when.isoformat())]
    for value in times:
        article = Article(id="a", text="t", published=value)
        cluster = Cluster(
            cluster_id="c",
            canonical_id="a",
            member_ids=("a",),
            sources=(Source(id="a", url=None, site=None, title="", published=value),),
            published=value,
            first_seen=value,
            last_seen=value,
        )
        for obj, back in (
            (article, pickle.loads(pickle.dumps(article))),
            (cluster, pickle.loads(pickle.dumps(cluster))),
        ):
            assert back == obj
            got = back.published
            assert type(got) is type(value)
            if value is not None:
                assert got.tzinfo is value.tzinfo or got.tzinfo == value.tzinfo
                assert got.utcoffset() == value.utcoffset()
                assert got.tzname() == value.tzname()
                assert got.fold == value.fold
        assert pickle.loads(pickle.dumps(cluster)).sources[0].published == value


def test_empty_article_is_not_ok() -> None:
    assert not Article(text="  \n ", reason="no-main-text").ok


def test_cluster_contract_keys_and_extension() -> None:
    cluster = Cluster(
        cluster_id="c1",
        canonical_id="a",
        member_ids=("a", "b"),
        title="T",
        text="Body",
        url="https://x/a",
        published=datetime(2024, 1, 1, tzinfo=UTC),
        wire="AP",
        sources=(Source(id="a", url="https://x/a", site="x", title="T"), Source(id="b")),
        extra={"story_id": "s1", "cluster_id": "must-not-override"},
    )
    data = cluster.to_dict()
    from test_cli_dedup import CONTRACT  # the fixed JSONL fields, listed once

    assert set(data) >= CONTRACT
    assert data["cluster_id"] == "c1"  # extension fields never override contract fields
    assert data["story_id"] == "s1"
    assert set(data["sources"][0]) == {"id", "url", "site", "title", "published"}
    back = Cluster.from_dict(data)
    assert back.member_ids == ("a", "b")
    assert back.extra["story_id"] == "s1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-10-17", datetime(2024, 10, 17)),
        ("2024-10-17T17:13:00Z", datetime(2024, 10, 17, 17, 13, tzinfo=UTC)),
        ("not a date", None),
        ("", None),
        (None, None),
        (12, None),
    ],
)
def test_parse_datetime(text: object, expected: datetime | None) -> None:
    assert parse_datetime(text) == expected


def test_as_utc_reads_naive_times_as_utc_and_keeps_zones() -> None:
    naive = datetime(2024, 10, 17, 17, 13)
    assert as_utc(naive) == datetime(2024, 10, 17, 17, 13, tzinfo=UTC)
    assert as_utc(naive).tzinfo is UTC
    plus2 = datetime(2024, 10, 17, 19, 13, tzinfo=timezone(timedelta(hours=2)))
    assert as_utc(plus2) is plus2  # an aware time is not converted, only compared
    assert as_utc(naive).timestamp() == as_utc(plus2).timestamp()


def test_cluster_explain_delegates_to_explanations() -> None:
    import newsdedup

    body = (
        "The harbour at Port Ellis reopened on Tuesday morning after three days of closure, the port "
        "authority said, as crews finished clearing debris left by the storm. Fishing boats were the "
        "first to leave, followed by the ferry to the islands, which had been cancelled since Saturday."
    )
    items = [
        {"id": "a", "text": body, "url": "https://a.example/harbour"},
        {"id": "b", "text": body + " Subscribe to our newsletter for more.", "url": "https://b.example/h"},
    ]
    (cluster,) = newsdedup.dedup(items)
    articles = [newsdedup.clean_text(i["text"], url=i["url"], id=i["id"]) for i in items]
    explanation = cluster.explain(articles)
    assert isinstance(explanation, newsdedup.ClusterExplanation)
    assert cluster.canonical_reason


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59Z",
        "1799-12-31",
        datetime(1, 1, 1, tzinfo=UTC),
    ],
)
def test_placeholder_dates_are_no_dates(value: object) -> None:
    """Go's zero time (feeds, JSON APIs) and 9999-12-31 won the canonical choice as the
    earliest-published copy and set first_seen; a real publication time is in 1800-2200."""
    assert parse_datetime(value) is None


def test_a_placeholder_date_does_not_win_the_canonical_choice() -> None:
    from newsdedup import dedup

    seed = sorted((Path(__file__).parent / "fixtures" / "seeds").glob("*.txt"))[2].read_text(encoding="utf-8")
    items = [
        {"id": "zero", "text": seed, "published": "0001-01-01T00:00:00Z"},
        {"id": "real", "text": seed + "\n\nAn update on the talks.", "published": "2024-10-17T12:00:00Z"},
    ]
    (cluster,) = dedup(items)
    published = {src.id: src.published for src in cluster.sources}
    assert all(when is None or when.year == 2024 for when in published.values()), published
    assert cluster.first_seen is not None
    assert cluster.first_seen.year == 2024
    assert cluster.published is not None
    assert cluster.published.year == 2024
