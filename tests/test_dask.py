"""``newsdedup.dask``: on a two-worker ``LocalCluster`` the Dask engine gives the local engine's
clusters (partition, cluster ids, canonical ids and texts) and errors, from bags, dataframes
and files, and a bad record does not stop the run."""

from __future__ import annotations

import gzip
import html
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from string import Template
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("dask")
pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

import dask.bag as db  # noqa: E402
import dask.dataframe as dd  # noqa: E402
from distributed import Client  # noqa: E402

from newsdedup._cli import main  # noqa: E402
from newsdedup._dedup import DedupConfig, Deduplicator, ErrorRecord  # noqa: E402
from newsdedup._exceptions import ConfigError, MissingDependency  # noqa: E402
from newsdedup._models import Cluster  # noqa: E402
from newsdedup._story import assign_stories  # noqa: E402
from newsdedup._text import clean_text  # noqa: E402
from newsdedup.dask import dedup_bag, dedup_dataframe, dedup_files, local_cluster, run_cli  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = sorted((FIXTURES / "seeds").glob("*.txt"))
TEMPLATES = ("globe_portal.html", "newsbrief_hub.html", "rivertown_courier.html")
SITES = (
    "dailyglobe.example", "newsbrief.example", "rivertown.example", "metro-times.example",
    "valley-post.example", "harbor-news.example", "capital-wire.example", "eastside-daily.example",
)  # fmt: skip
JUNK_LINES = (
    "Subscribe to our newsletter for the latest headlines.",
    "Advertisement",
    "Read more: Weather service issues frost warning for the weekend",
    "Share this article on social media",
    "Trending now: Local team wins regional final",
)
WALL = "Checking your browser before accessing the site. Please enable JavaScript and cookies to continue."


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    cluster = local_cluster(2)
    c = Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def _page(template: str, title: str, paragraphs: list[str], url: str) -> str:
    body = "\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)
    raw = (FIXTURES / "dedup" / template).read_text(encoding="utf-8")
    return Template(raw).substitute(title=html.escape(title), body=body, url=url, date="2024-10-17")


def _bases() -> list[tuple[str, str, list[str]]]:
    """(key, title, paragraphs) of every base story: the seeds (five different stories on one
    topic), the hand-written story fixtures and the formulaic look-alike pairs (hard negatives)."""
    out = []
    for p in SEEDS:
        art = clean_text(p.read_text(encoding="utf-8"))
        paras = [x for x in art.text.split("\n\n") if x.strip()]
        out.append((p.stem[:3], art.title or paras[0][:80], paras))
    for line in (FIXTURES / "stories" / "hard_cases.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        out.append((d["id"], d["title"], [x for x in d["text"].split("\n\n") if x.strip()]))
    for pair in json.loads((FIXTURES / "dedup" / "formulaic_pairs.json").read_text(encoding="utf-8"))[
        "pairs"
    ]:
        for side in ("a", "b"):
            d = pair[side]
            out.append((d["id"], d["title"], [x for x in d["text"].split("\n\n") if x.strip()]))
    return out


def corpus(seed: int = 7) -> list[dict[str, Any]]:
    """Originals plus syndicated copies (truncated, with junk lines, on publisher HTML pages),
    too-short items, junk pages, unusable records and repeated ids, shuffled."""
    rng = random.Random(seed)
    items: list[dict[str, Any]] = []
    for key, title, paras in _bases():
        items.append({"id": f"{key}-orig", "text": "\n\n".join(paras), "title": title,
                      "url": f"https://origin.example/{key}", "published": "2024-10-17T10:00:00Z"})  # fmt: skip
        for c in range(rng.randint(0, 6)):
            site = rng.choice(SITES)
            kind = rng.choice(["trunc", "junk", "html", "html", "same"])
            ps = list(paras)
            if kind == "trunc" and len(ps) > 3:
                ps = ps[: max(2, int(len(ps) * rng.uniform(0.4, 0.8)))]
            elif kind == "junk":
                ps = [rng.choice(JUNK_LINES), *ps, rng.choice(JUNK_LINES)]
            url = f"https://{site}/news/{key}-{c}"
            if kind == "html":
                items.append(
                    {"id": f"{key}-c{c}", "html": _page(rng.choice(TEMPLATES), title, ps, url), "url": url}
                )
            else:
                items.append(
                    {"id": f"{key}-c{c}", "text": "\n\n".join(ps), "title": title, "url": url, "site": site}
                )
    items += [
        {"id": "short-1", "text": "Markets closed higher on Friday.", "url": "https://a.example/s1"},
        {"id": "short-2", "text": "Markets closed higher on Friday.", "url": "https://b.example/s2"},
        {"id": "wall-1", "text": WALL, "url": "https://c.example/x"},
        {"id": "wall-2", "text": WALL, "url": "https://d.example/x"},
        {"id": "", "text": "An item without an id but with a long enough text. " * 6},
        {"id": "nobody", "url": "https://e.example/none"},
        {"id": 12, "text": "A numeric id is not an id."},
        {"id": "empty-page", "html": "<html><body><nav>Home | World | Sport</nav></body></html>"},
    ]
    rng.shuffle(items)
    items.append(dict(items[3]))  # the same id and text again: ignored
    items.append({**items[5], "text": "A different text under a known id. " * 8, "html": None})
    items.insert(10, dict(items[30]))  # an earlier copy: the later original becomes the repeat
    return items


def _key(clusters: list[Cluster]) -> list[str]:
    """Everything of each cluster but first/last seen (an item without ``published`` is timed by
    its ingest time, which differs between two runs)."""
    out = []
    for c in clusters:
        d = c.to_dict()
        d.pop("first_seen")
        d.pop("last_seen")
        out.append(json.dumps(d, sort_keys=True, default=str))
    return sorted(out)


def _local(items: list[Any], first_line: int | None = None) -> tuple[list[Cluster], list[ErrorRecord]]:
    d = Deduplicator()
    d.add_many(items, first_line=first_line)
    return d.clusters(), d.errors


def test_bag_equals_local_engine(client: Client) -> None:
    items = corpus()
    local, local_errors = _local(items, first_line=1)
    errors: list[ErrorRecord] = []
    got = dedup_bag(db.from_sequence(items, npartitions=5), errors=errors, first_line=1, stories=False)
    assert _key(got) == _key(local)
    assert [e.to_dict() for e in errors] == [e.to_dict() for e in local_errors]
    # the corpus exercises what it should: copies cluster, and every kind of error is there
    assert sum(c.size > 1 for c in local) >= 10
    assert {e.reason for e in errors} >= {
        "junk-page",
        "duplicate-id",
        "bad-id",
        "missing-body",
        "no-main-text",
    }
    # different stories on one topic and template look-alikes stay apart
    canon = {c.canonical_id: set(c.member_ids) for c in got}
    members = [set(m) for m in canon.values()]
    assert not any({"000-orig", "001-orig"} <= m for m in members)
    assert not any({"div-a-orig", "div-b-orig"} <= m for m in members)


def test_partitioning_does_not_change_the_result(client: Client) -> None:
    items = corpus(seed=11)
    local, _ = _local(items)
    for npartitions, groups in ((1, 1), (7, 3)):
        got = dedup_bag(db.from_sequence(items, npartitions=npartitions), groups=groups, stories=False)
        assert _key(got) == _key(local)


@pytest.mark.parametrize("limit", [None, 4])
def test_big_stories_equal_the_local_engine(client: Client, limit: int | None) -> None:
    """Two stories of 40 and 30 copies: with ``max_verify`` the Dask engine builds the hub lists
    from each bucket's lowest-ranked members and verifies only the hub relation's pairs, so it
    clusters on the local engine's pairs and gives its clusters."""
    from test_dedup import _big_stories

    items, a_ids, b_ids = _big_stories()
    local = Deduplicator(max_verify=limit)
    local.add_many(items)
    got = dedup_bag(
        db.from_sequence(items, npartitions=3), config=DedupConfig(max_verify=limit), stories=False
    )
    assert _key(got) == _key(local.clusters())
    assert {frozenset(c.member_ids) for c in got if c.size > 1} == {frozenset(a_ids), frozenset(b_ids)}


def test_bounded_verification_verifies_only_hub_pairs(client: Client, tmp_path: Path) -> None:
    """With ``max_verify`` the hub lists are computed before verification: only pairs in the
    final hub relation are verified (no more than the local engine verifies, far fewer than
    the candidates), and the clusters are the local engine's."""
    from test_dedup import _big_stories

    items, _, _ = _big_stories()
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    local = Deduplicator(max_verify=4)
    local.add_many(items)
    local_verified = sum(n for k, n in local.stats.items() if k.startswith("verified:"))
    bounded = dedup_files([path], config=DedupConfig(max_verify=4), blocksize=20_000, scheduler=client)
    every = dedup_files([path], config=DedupConfig(max_verify=None), blocksize=20_000, scheduler=client)
    assert bounded.stats["partitions"] > 1
    # without the bound every distinct candidate pair is verified (candidate_pairs counts a pair
    # once per bucket group that proposes it); with it, candidate_pairs is the bucket pairs
    # (a pair once per bucket it shares), counted from the bucket sizes without listing them
    assert every.stats["verified_pairs"] <= every.stats["candidate_pairs"]
    assert every.stats["candidate_pairs"] <= every.stats["bucket_pairs"] == every.stats["listed_rows"]
    assert bounded.stats["candidate_pairs"] == bounded.stats["bucket_pairs"] == every.stats["bucket_pairs"]
    assert bounded.stats["verified_pairs"] <= bounded.stats["hub_pairs"]
    assert bounded.stats["listed_rows"] <= bounded.stats["bucket_pairs"]
    assert bounded.stats["verified_pairs"] <= local_verified
    assert bounded.stats["verified_pairs"] < every.stats["verified_pairs"] / 2
    assert _key(every.clusters) == _key(_local_clusters(items))
    assert _key(bounded.clusters) == _key(local.clusters())


def test_settled_items_spare_the_dask_engine_the_same_pairs(client: Client, tmp_path: Path) -> None:
    """With ``settle_after`` the Dask engine verifies in the local engine's two rounds: each
    item's first hubs, then the other hubs of the items those did not settle. It verifies
    exactly the pairs the local engine verifies once a stream is read, fewer than with every
    hub pair kept, and gives the local engine's clusters."""
    from test_dedup import _story_stream

    items = _story_stream()
    path = tmp_path / "stories.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    config = DedupConfig(max_verify=8, settle_after=2)
    local = Deduplicator(config=config)
    local.add_stream(items, batch_size=16)
    local_verified = sum(n for k, n in local.stats.items() if k.startswith("verified:"))
    settled = dedup_files([path], config=config, blocksize=20_000, scheduler=client)
    every = dedup_files(
        [path], config=DedupConfig(max_verify=8, settle_after=None), blocksize=20_000, scheduler=client
    )
    assert settled.stats["partitions"] > 1
    assert settled.stats["verified_pairs"] == local_verified < every.stats["verified_pairs"]
    assert _key(settled.clusters) == _key(local.clusters())


def test_a_verification_task_verifies_its_pairs_with_the_texts_routed_to_it() -> None:
    """A task gets its pairs (item positions) and only the id, text and normal form of the items
    they name, from each partition that holds some (:func:`_route`); it rebuilds each named
    doc once per window of pairs and accepts the pairs :meth:`Deduplicator.verify` accepts on
    the fingerprinted docs, given back as rows of positions."""
    from types import SimpleNamespace

    import numpy as np

    import newsdedup.dask as engine
    from newsdedup._records import to_article
    from newsdedup.dask import _add_keys, _route, _routes, _Row, _verify_bin
    from test_dedup import _story_stream

    articles = [to_article(i) for i in _story_stream()[:8]]
    fp = Deduplicator().fingerprint(articles, bands=False)
    rows = [_Row(n, n + 1, False, a, "h") for n, a in enumerate(articles)]
    _add_keys(Deduplicator(), rows)
    # two partitions of four items each (sequence numbers 0-3 in each)
    parts = [
        SimpleNamespace(
            index=p,
            rows=[
                _Row(n, n + 1, False, r.article, "h", r.norm) for n, r in enumerate(rows[4 * p : 4 * p + 4])
            ],
        )
        for p in (0, 1)
    ]
    position = [(n // 4) << 32 | n % 4 for n in range(8)]
    pairs = np.array([(position[x], position[y]) for x in range(8) for y in range(x + 1, 8)], dtype=np.int64)
    bins = [pairs[:10], pairs[10:]]
    routes = _routes(bins)
    assert sorted(routes) == [0, 1]
    for p, (seqs, which) in routes.items():
        for k, b in enumerate(bins):
            named = {int(x) for x in b.ravel() if int(x) >> 32 == p}
            assert {int(s) for s, w in zip(seqs, which, strict=True) if w == k} == {
                x & 0xFFFFFFFF for x in named
            }
    config = DedupConfig()
    want = {
        (position[x], position[y])
        for x in range(8)
        for y in range(x + 1, 8)
        if Deduplicator().verify(fp.docs[x], fp.docs[y]).accepted  # type: ignore[arg-type]
    }
    assert want
    assert len(want) < 28  # some pairs are rejected
    got: set[tuple[int, int]] = set()
    verified = rebuilt = 0
    for k, b in enumerate(bins):
        texts = [_route(parts[p], routes[p], len(bins))[k] for p in (0, 1)]  # type: ignore[arg-type]
        assert all(len(t[0]) == len(t[1]) == len(t[2]) == len(t[3]) for t in texts)
        edges, n, docs = _verify_bin(texts, b, config)
        got |= {(x, y) for x, y in edges.tolist()}
        verified += n
        rebuilt += docs
        assert docs == len(np.unique(b))
    assert got == want
    assert verified == len(pairs)
    # windows smaller than the task's pairs: the same verdicts, a doc rebuilt once per window
    # that names it
    texts = [_route(parts[p], routes[p], len(bins))[1] for p in (0, 1)]  # type: ignore[arg-type]
    whole = _verify_bin(texts, bins[1], config)
    original = engine._WINDOW
    try:
        engine._WINDOW = 5
        edges, n, docs = _verify_bin(texts, bins[1], config)
    finally:
        engine._WINDOW = original
    assert edges.tolist() == whole[0].tolist()
    assert n == whole[1] == len(bins[1])
    assert docs == sum(len(np.unique(bins[1][s : s + 5])) for s in range(0, len(bins[1]), 5)) > whole[2]


def test_bins_keep_components_together_and_threads_busy() -> None:
    """The pairs are cut into at least four tasks per thread (more when a task would receive
    over ``max_items`` texts), of equal pair counts, with the pairs of a connected component
    consecutive: only components at a cut are split, so an item's text goes to one task."""
    import numpy as np

    from newsdedup.dask import _bins

    rng = np.random.default_rng(5)
    pairs_of: list[tuple[int, int]] = []
    start = 0
    for size in rng.integers(2, 30, 200).tolist():  # 200 stories, each a chain plus a few chords
        members = [((start + k) % 7) << 32 | (start + k) for k in range(size)]
        start += size
        pairs_of += [(members[k], members[k + 1]) for k in range(size - 1)]
        pairs_of += [(members[0], members[-1])] if size > 2 else []
    order = rng.permutation(len(pairs_of))
    pairs = np.array([pairs_of[i] for i in order], dtype=np.int64)
    for threads, max_items in ((1, 100_000), (2, 100_000), (2, 500), (8, 100_000)):
        bins = _bins(pairs, threads, max_items)
        want = max(4 * threads, -(-start // max_items))
        assert len(bins) == want
        assert sum(len(b) for b in bins) == len(pairs)
        assert max(len(b) for b in bins) - min(len(b) for b in bins) <= 1
        assert {tuple(p) for b in bins for p in b.tolist()} == {tuple(p) for p in pairs.tolist()}
        # an item's text goes to one task, except at most one story per cut
        named = [set(b.ravel().tolist()) for b in bins]
        shared = {x for i, a in enumerate(named) for b in named[i + 1 :] for x in a & b}
        assert len(shared) <= 30 * (len(bins) - 1)
        cut = sum(len(a) for a in named) - len(set().union(*named))
        assert cut < len(pairs) // 10
    assert len(_bins(pairs[:3], 4)) == 3  # never more tasks than pairs


def test_shared_tables_are_scattered_not_put_in_the_graph(client: Client) -> None:
    """A table many tasks read (the hub step's K-th ranks) is sent once, scattered to the
    cluster, instead of as data inside the graph (69 MiB at 200k items, and a warning); a
    tuple stays one value. Without a cluster it is one key of the graph."""
    import dask
    import numpy as np
    from distributed import Future

    from newsdedup.dask import _shared

    table = (np.arange(4), np.arange(4) * 2)
    shared = _shared(table, {"scheduler": client})
    assert isinstance(shared, Future)
    got = dask.delayed(len)(shared).compute(scheduler=client)
    assert got == 2
    local = _shared(table, {"scheduler": "sync"})
    assert not isinstance(local, Future)
    assert dask.delayed(len)(local).compute(scheduler="sync") == 2


def test_values_for_partitions_are_scattered_to_their_workers(client: Client) -> None:
    """A value meant for one partition's tasks (its cluster numbers, its routing table) is
    scattered to the worker that holds the partition, so no task fetches it from a worker
    busy computing; a dict is sent as one pickle (``Client.scatter`` walks a dict item by
    item) and arrives as itself; without a cluster values are keys of the graph."""
    import dask
    from distributed import futures_of, wait

    from newsdedup.dask import _shared_each

    workers = sorted(client.scheduler_info()["workers"])
    assert len(workers) == 2
    parts = [
        client.persist(dask.delayed(list, pure=False)(range(n)), workers=[workers[n % 2]]) for n in range(6)
    ]
    wait([f for p in parts for f in futures_of(p)])
    held = client.who_has([futures_of(p)[0] for p in parts])
    values = [{"part": n} for n in range(6)]
    sent = _shared_each(values, {"scheduler": client}, parts)
    where = client.who_has(sent)
    for n, (part, future) in enumerate(zip(parts, sent, strict=True)):
        assert where[future.key] == held[futures_of(part)[0].key]
        assert dask.delayed(dict)(future).compute(scheduler=client) == {"part": n}
    assert client.gather(sent) == values  # the worker holds the value itself, not a wrapper
    plain = _shared_each(values, {"scheduler": "sync"}, parts)
    assert [dask.compute(v, scheduler="sync")[0] for v in plain] == values


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hub_lists_merged_in_any_order_equal_one_merge(seed: int) -> None:
    """The groups' ``(item, rank)`` rows are merged into hub lists on a worker: one merge of all
    of them, or merges of merged rows in any order, give the same lists (shared ranks
    included)."""
    import numpy as np

    from newsdedup._hubs import _lowest
    from newsdedup.dask import _merge_ranks

    rng = np.random.default_rng(seed)
    limit = 4
    groups = [
        np.stack([rng.integers(0, 30, n), rng.integers(0, 40, n)]).astype(np.uint64)
        for n in rng.integers(0, 200, 7)
    ]
    want = _lowest(np.concatenate(groups, axis=1), limit)
    level = [_lowest(g, limit) for g in groups]
    rng.shuffle(level)  # type: ignore[arg-type]
    while len(level) > 1:
        level = [_merge_ranks([x, y], limit) for x, y in zip(level[::2], level[1::2], strict=False)] + level[
            len(level) // 2 * 2 :
        ]
    np.testing.assert_array_equal(_lowest(level[0], limit), want)
    np.testing.assert_array_equal(_merge_ranks(groups, limit), want)
    assert _merge_ranks([], limit).shape == (3, 0)


def test_bucket_groups_are_sized_by_their_rows() -> None:
    """The candidate shuffle's groups: about 8M bucket rows each (73 per item with the default
    bands), at least two per worker thread. Each group keeps up to K candidates per item, so
    more groups than that only add hub rows."""
    from newsdedup.dask import _GROUP_ROWS, _groups_for

    config = DedupConfig()
    bands = config.bands()[0] + config.lead_bands()[0]
    assert bands == 73
    assert _groups_for(0, config, 2) == _groups_for(20_000, config, 2) == 4
    assert _groups_for(200_000, config, 1) == 2
    assert _groups_for(1_000_000, config, 2) == -(-1_000_000 * bands // _GROUP_ROWS) == 10
    assert _groups_for(1_000_000, DedupConfig(lead_tokens=0), 2) == -(-1_000_000 * 42 // _GROUP_ROWS)
    assert _groups_for(10, config, 16) == 32


@pytest.mark.parametrize("shards", [1, 2, 5])
def test_hub_lists_merged_by_ranges_of_items_equal_one_merge(shards: int) -> None:
    """Each merge task takes one range of item positions from every group
    (:func:`_hub_ranks`), so no task holds all the groups' rows: the ranges' merges, in range
    order, are the one merge of everything (sorted by item, then rank)."""
    import numpy as np

    from newsdedup._hubs import _lowest
    from newsdedup.dask import _hub_ranks, _merge_ranks

    rng = np.random.default_rng(shards)
    limit, parts = 3, 6
    groups = []
    for n in rng.integers(0, 300, 5):
        item = (rng.integers(0, parts, n).astype(np.uint64) << np.uint64(32)) | rng.integers(0, 20, n).astype(
            np.uint64
        )
        rows = _lowest(np.stack([item, rng.integers(0, 50, n).astype(np.uint64)]), limit)
        groups.append((np.vstack([rows, rows[1]]), {}))  # (item, rank, candidate) rows, sorted
    want = _merge_ranks([g[0] for g in groups], limit)
    bounds = np.array([(k * parts // shards) << 32 for k in range(1, shards)], dtype=np.uint64)
    cut = [_hub_ranks(g, bounds) for g in groups]  # type: ignore[arg-type]
    assert all(len(c) == shards for c in cut)
    merged = [_merge_ranks([c[k] for c in cut], limit) for k in range(shards)]
    np.testing.assert_array_equal(np.concatenate(merged, axis=1), want)
    assert sum(m.shape[1] for m in merged) == want.shape[1] > 0


def test_rows_keep_keys_and_normal_forms_and_docs_are_rebuilt_as_fingerprinted() -> None:
    """A prepared row keeps no doc, only its normal form, shingle count and band keys (the
    ones :meth:`Deduplicator.fingerprint` gives); :func:`_docs_of` rebuilds the docs a
    verification task needs, equal to the fingerprinted ones."""
    import numpy as np

    from newsdedup._records import to_article
    from newsdedup.dask import _add_keys, _docs_of, _Row
    from test_dedup import _story_stream

    articles = [to_article(i) for i in _story_stream()[:8]]
    articles.append(to_article({"id": "short", "text": "Too short to match."}))
    fp = Deduplicator().fingerprint(articles)
    rows = [_Row(n, n + 1, False, a, "h") for n, a in enumerate(articles)]
    _add_keys(Deduplicator(), rows)
    assert [r.keys is None for r in rows] == [d is None for d in fp.docs] == [False] * 8 + [True]
    assert rows[-1].norm is None
    assert rows[-1].shingles == 0
    for row, doc, keys in zip(rows[:-1], fp.docs[:-1], fp.keys[:-1], strict=True):
        assert doc is not None
        assert keys is not None
        assert row.keys is not None
        assert np.frombuffer(row.keys[0], dtype=np.uint32).tolist() == keys[0]
        assert np.frombuffer(row.keys[1], dtype=np.uint32).tolist() == keys[1]
        assert (row.norm, row.shingles) == (doc.norm, len(doc.shingles))
    matchable = rows[:-1]
    rebuilt = _docs_of(
        Deduplicator(),
        [r.article.id or "" for r in matchable],
        [r.article.text for r in matchable],
        [r.norm for r in matchable],
    )
    for doc, again in zip(fp.docs[:-1], rebuilt, strict=True):
        assert doc is not None
        assert again.key == doc.key
        assert again.text == doc.text
        for name in ("shingles", "head", "prefix"):
            assert np.array_equal(getattr(again, name), getattr(doc, name)), name
        assert again.token_ids == doc.token_ids
        assert np.array_equal(again.number_hashes, doc.number_hashes)


def test_a_prepared_partition_tells_dask_its_size() -> None:
    """dask's fallback size of an object (``sys.getsizeof``) saw about a hundred bytes in a
    whole prepared partition, so the scheduler gained nothing by running a task where its
    partitions were; the registered size counts the texts and the docs' arrays."""
    import sys

    from dask.sizeof import sizeof

    from newsdedup._records import to_article
    from newsdedup.dask import _add_keys, _Part, _Row
    from test_dedup import _story_stream

    articles = [to_article(i) for i in _story_stream()[:6]]
    rows = [_Row(n, n + 1, False, a, "h") for n, a in enumerate(articles)]
    _add_keys(Deduplicator(), rows)
    part = _Part(0, 6, 6, False, None, None, None, rows, [])
    at_least = sum(len(r.article.text) + len(r.norm or "") + len(r.keys[0]) for r in rows if r.keys)
    assert at_least > 1000
    assert sizeof(part) >= at_least > 20 * sys.getsizeof(part)
    assert sizeof(_Part(0, 6, 6, False, None, None, None, rows[:3], [])) < sizeof(part)


def test_graphs_are_not_culled(tmp_path: Path) -> None:
    """The engine's graphs never go through dask's optimizer. They hold only wanted tasks, and
    its cull is quadratic here: at compute time it copies the set of wanted keys once per
    layer (one per delayed call; over ten minutes on the scheduler at 200k items), and a list
    of delayed arguments is culled once per item when the call is made."""
    import dask

    from test_dedup import _clean, _copies

    items = _copies(_clean(2), "w", 12, random.Random(5))
    path = tmp_path / "story.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    calls: list[int] = []

    def counted(dsk: Any, keys: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return dsk

    with dask.config.set(delayed_optimize=counted):
        got = dedup_files([path], blocksize=4096, scheduler="sync")
        dask.compute(dask.delayed(len)([1]), scheduler="sync")  # the hook is the one dask calls
    assert len(calls) == 1
    local = Deduplicator()
    local.add_many(items)
    assert _key(got.clusters) == _key(local.clusters())


def test_max_verify_lists_no_bucket_pairs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A story of 60 copies with ``max_verify = K``: the candidate step lists each bucket's
    members against its ``K + 1`` lowest-ranked members only (at most ``K + 1`` rows per bucket
    row, far fewer than the ``m(m-1)/2`` pairs of its buckets), never every candidate pair,
    and the clusters are still the local engine's. In-process (``sync``) so that the all-pairs
    step can be made to fail."""
    import newsdedup.dask as engine
    from test_dedup import _clean, _copies

    limit = 4
    items = _copies(_clean(2), "w", 60, random.Random(3))
    path = tmp_path / "story.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    local = Deduplicator(max_verify=limit)
    local.add_many(items)

    def every_pair(*_: Any) -> Any:
        raise AssertionError("all candidate pairs listed with max_verify")

    monkeypatch.setattr(engine, "_pairs", every_pair)
    got = dedup_files([path], config=DedupConfig(max_verify=limit), groups=1, scheduler="sync")
    assert _key(got.clusters) == _key(local.clusters())
    assert [c.size for c in got.clusters] == [60]
    stats = got.stats
    n = stats["items"]
    assert n == 60
    assert stats["listed_rows"] <= min((limit + 1) * stats["bucket_rows"], stats["bucket_pairs"])
    assert stats["listed_rows"] < stats["bucket_pairs"] / 3  # 19,132 rows, 75,174 bucket pairs
    assert stats["hub_rows"] <= n * limit  # one bucket group: each item's K lowest there
    assert stats["verified_pairs"] <= stats["hub_pairs"] <= n * limit
    assert stats["candidate_pairs"] == stats["bucket_pairs"] >= n * (n - 1) // 2


def _brute_hubs(
    buckets: dict[int, list[int]], rank: dict[int, int], limit: int
) -> tuple[set[tuple[int, int, int]], set[tuple[int, int, int]], set[tuple[int, int]]]:
    """The reference: rows (member, rank, low member) per bucket, each item's hub rows (its
    candidates holding its ``limit`` lowest distinct ranks) and the hub relation's pairs."""
    lows: set[tuple[int, int, int]] = set()
    cands: dict[int, set[int]] = {}
    for members in buckets.values():
        if len(members) < 2:
            continue
        low = sorted({rank[m] for m in members})[: limit + 1]
        lows |= {(m, rank[x], x) for m in members for x in members if x != m and rank[x] in low}
        for m in members:
            cands.setdefault(m, set()).update(x for x in members if x != m)
    hubs: set[tuple[int, int, int]] = set()
    kth: dict[int, float] = {}
    for x, cs in cands.items():
        ranks = sorted({rank[c] for c in cs})
        kth[x] = ranks[limit - 1] if len(ranks) >= limit else float("inf")
        hubs |= {(x, rank[c], c) for c in cs if rank[c] in ranks[:limit]}
    pairs = {
        (min(x, c), max(x, c))
        for x, cs in cands.items()
        for c in cs
        if rank[c] <= kth[x] or rank[x] <= kth[c]
    }
    return lows, hubs, pairs


@pytest.mark.parametrize("seed", range(6))
def test_bucket_lows_and_hub_pairs_match_brute_force(seed: int) -> None:
    """Random buckets over items of three partitions, with ranks that tie and candidates that
    share several buckets: the per-bucket lowest members, the hub lists and the hub pairs are
    the brute-force ones, and the hub pairs are the all-pairs path's candidates filtered by
    the hub relation (what the engine verified before)."""
    import numpy as np

    from newsdedup._hubs import _MAX_RANK, _bucket_lows, _lowest, _numbers
    from newsdedup.dask import _hub_rows, _pairs, _Relation

    rng = random.Random(seed)
    limit = rng.choice([1, 2, 4])
    items = [(p << 32) | s for p in range(3) for s in range(rng.randint(5, 25))]
    rank = {x: rng.randrange(12 if seed % 2 else 1 << 40) for x in items}  # odd seeds: ties
    buckets: dict[int, list[int]] = {}
    for code in range(rng.randint(3, 40)):
        buckets[code] = rng.sample(items, rng.randint(1, min(len(items), 20)))
    rows = [(code, x) for code, members in buckets.items() for x in members]
    rng.shuffle(rows)
    codes = np.array([c for c, _ in rows], dtype=np.uint64)
    pos = np.array([x for _, x in rows], dtype=np.int64)
    ranks = np.array([rank[x] for _, x in rows], dtype=np.uint64)
    want_lows, want_hubs, want_pairs = _brute_hubs(buckets, rank, limit)

    numbers = _numbers(pos, ranks)
    num, item_of, rank_of = numbers.num, numbers.by_num, numbers.ranks
    assert [int(numbers.items[i]) for i in numbers.inverse.tolist()] == pos.tolist()
    assert numbers.items[numbers.pnum.astype(np.int64)].tolist() == item_of.tolist()
    assert item_of.tolist() == sorted(set(pos.tolist()), key=lambda x: (rank[x], x))
    assert [int(item_of[n]) for n in num.tolist()] == pos.tolist()
    lows, listed, bucket_pairs = _bucket_lows(codes, num, rank_of, limit)
    member, low = (lows >> np.uint64(32)).astype(np.int64), (lows & np.uint64(0xFFFFFFFF)).astype(np.int64)
    got_lows = zip(item_of[member].tolist(), rank_of[low].tolist(), item_of[low].tolist(), strict=True)
    assert set(got_lows) == want_lows
    sizes = [len(m) for m in buckets.values() if len(m) >= 2]
    assert bucket_pairs == sum(m * (m - 1) // 2 for m in sizes)
    if not seed % 2:  # distinct ranks: a bucket's pairs when all its members are low, else
        # each member with the K + 1 low members, less their own rows (ties make more low)
        assert listed == sum(m * (m - 1) // 2 if m <= limit + 1 else (m - 1) * (limit + 1) for m in sizes)
    # two pieces (as from two partitions) of one bucket group
    half = len(rows) // 2
    pieces = [(codes[:half], pos[:half], ranks[:half]), (codes[half:], pos[half:], ranks[half:])]
    hubs = _hub_rows(pieces, limit)
    assert {tuple(r) for r in hubs[0].T.tolist()} == want_hubs
    assert hubs[1]["listed_rows"] == listed
    assert hubs[1]["bucket_pairs"] == bucket_pairs

    # the hub lists as the client merges them (here from two groups that found the same rows,
    # in another order), with each row's candidate
    merged = _lowest(np.concatenate([hubs[0], hubs[0][:, ::-1]], axis=1), limit)
    assert {tuple(r) for r in merged.T.tolist()} == want_hubs
    kth = dict.fromkeys(items, _MAX_RANK)
    settle = dict.fromkeys(items, _MAX_RANK)  # settle_after 1: each list's lowest rank
    for x in set(merged[0].tolist()):
        mine = sorted(set(merged[1][merged[0] == x].tolist()))
        if len(mine) == limit:
            kth[x] = mine[-1]
        if len(mine) > 1:
            settle[x] = mine[0]
    ranked = sorted({x for x, _, _ in want_hubs} | {c for _, _, c in want_hubs})
    relation = _Relation.of(merged, {x: f"id{x}" for x in ranked}, limit, 1)
    assert relation.pos.tolist() == ranked
    assert relation.kth.tolist() == [kth[x] for x in ranked]
    assert relation.settle is not None
    assert relation.settle.tolist() == [settle[x] for x in ranked]

    def pairs_of(rows: np.ndarray) -> set[tuple[int, int]]:
        return {(a, b) for a, b in relation.positions(relation.codes(rows)).tolist()}

    assert pairs_of(np.ones(len(relation.item), dtype=bool)) == want_pairs
    # settle_after 1: the first round's rows (each item's lowest hub) and the second's (its
    # other hubs) make up the relation
    first = relation.first()
    assert pairs_of(first) | pairs_of(~first) == want_pairs
    assert pairs_of(first)
    assert bool(pairs_of(~first)) == (limit > 1)
    assert not (~first & (relation.cand_rank <= relation.settle[relation.item])).any()
    every, every_counts = _pairs([(c, q) for c, q, _ in pieces])
    filtered = {(a, b) for a, b in every.tolist() if rank[b] <= kth[a] or rank[a] <= kth[b]}
    assert filtered == want_pairs
    assert len({tuple(p) for p in every.tolist()}) == len(every)
    assert hubs[1]["bucket_pairs"] == every_counts["bucket_pairs"] == every_counts["listed_rows"]
    assert hubs[1]["bucket_rows"] == len(rows)


def _local_clusters(items: list[Any]) -> list[Cluster]:
    d = Deduplicator(max_verify=None)
    d.add_many(items)
    return d.clusters()


def test_site_boilerplate_is_counted_across_partitions(client: Client) -> None:
    """A paragraph one site prints under three different stories (``site_repeat_min``) is dropped from
    canonical texts; the Dask engine counts the clusters over all partitions (no partition
    alone sees three) and builds the clusters on the workers, as the local engine does."""
    disclaimer = "This article is for information only and is not investment advice from Example Markets."
    items: list[dict[str, Any]] = []
    stories = [(key, "\n\n".join(paras)) for key, _, paras in _bases()[:6]]
    for n, (key, body) in enumerate(stories[:4]):  # copies on two sites: clusters of two
        tail = "\n\n" + disclaimer if n == 0 else ""  # exactly three clusters print it
        items.append({"id": f"{key}-a", "text": body + tail, "site": "examplemarkets.com"})
        items.append({"id": f"{key}-b", "text": body + "\n\nShare this story.", "site": "other.example"})
    for key, body in stories[4:]:  # single items of the same site
        items.append({"id": f"{key}-s", "text": body + "\n\n" + disclaimer, "site": "www.ExampleMarkets.com"})
    local, _ = _local(items)
    got = dedup_bag(db.from_sequence(items, npartitions=5), stories=False)
    assert _key(got) == _key(local)
    assert sum(c.size == 2 for c in got) == 4
    singles = [c for c in got if c.canonical_id.endswith("-s")]
    assert len(singles) == 2
    assert all(disclaimer not in c.text for c in got)
    cfg = DedupConfig(site_repeat_min=0)
    kept = dedup_bag(db.from_sequence(items, npartitions=5), config=cfg, stories=False)
    assert all(disclaimer in c.text for c in kept if c.canonical_id.endswith("-s"))


def test_stories_as_in_dedup(client: Client) -> None:
    items = corpus(seed=3)
    local, _ = _local(items)
    got = dedup_bag(db.from_sequence(items, npartitions=3), story_window="72h")
    expected = {c.cluster_id: c.extra["story_id"] for c in assign_stories(local, window="72h")}
    assert {c.cluster_id: c.extra["story_id"] for c in got} == expected


@pytest.mark.parametrize("settings", [{"lead_tokens": 0}, {"max_verify": None}, {"settle_after": None}])
def test_files_equal_the_local_engine_without_a_lead_index_or_hubs(
    tmp_path: Path, settings: dict[str, Any]
) -> None:
    """The rows' band keys hold no lead keys without a lead index, and the groups list every
    pair without ``max_verify``: the clusters are still the local engine's (sync scheduler,
    several partitions, two tiles and groups at least)."""
    import random

    from test_dedup import _clean, _copies

    rng = random.Random(5)
    items = [
        *_copies(_clean(2), "w", 12, rng),
        *_copies(_clean(3), "v", 9, rng),
        *_copies(_clean(4), "u", 5, rng),
    ]
    rng.shuffle(items)
    path = tmp_path / "stories.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    local = Deduplicator(**settings)
    local.add_many(items)
    got = dedup_files([path], config=DedupConfig(**settings), blocksize=8_000, scheduler="sync")
    assert got.stats["partitions"] > 2
    assert _key(got.clusters) == _key(local.clusters())
    assert sorted(c.size for c in got.clusters)[-3:] == [5, 9, 12]
    assert got.stats["doc_rebuilds"] >= got.stats["items"] - sum(c.size == 1 for c in got.clusters)


def test_dataframe_equals_local_engine(client: Client) -> None:
    items = [i for i in corpus(seed=5) if isinstance(i.get("id"), str)]
    frame = pd.DataFrame(items, columns=["id", "text", "html", "title", "url", "site", "published"])
    # what a JSONL line would say: absent fields left out
    as_dicts = [{k: v for k, v in i.items() if v is not None} for i in items]
    local, local_errors = _local(as_dicts)
    errors: list[ErrorRecord] = []
    got = dedup_dataframe(dd.from_pandas(frame, npartitions=4), errors=errors, stories=False)
    assert _key(got) == _key(local)
    assert [e.to_dict() for e in errors] == [e.to_dict() for e in local_errors]


def _write_jsonl(path: Path, items: list[Any], *, extra: list[str] = ()) -> None:
    lines = [json.dumps(i) for i in items]
    for n, raw in enumerate(extra):
        lines.insert(7 + 13 * n, raw)
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")


def _cli_local(args: list[str]) -> Any:
    return CliRunner().invoke(main, ["dedup", *args], catch_exceptions=False)


def test_files_equal_local_cli(client: Client, tmp_path: Path) -> None:
    items = corpus(seed=9)
    half = len(items) // 2
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz"
    _write_jsonl(a, items[:half], extra=["", "{not json", "[1, 2]", "   "])
    _write_jsonl(b, items[half:], extra=['{"id": "x"}'])
    out, err = tmp_path / "local.jsonl", tmp_path / "local-errors.jsonl"
    # a.jsonl twice: its lines are numbered again from 1 and its ids are already seen
    res = _cli_local([str(a), str(b), str(a), "-o", str(out), "--errors", str(err), "--no-stories"])
    assert res.exit_code == 0, res.output
    local = [Cluster.from_dict(json.loads(x)) for x in out.read_text(encoding="utf-8").splitlines()]
    local_errors = sorted(json.dumps(json.loads(x), sort_keys=True) for x in err.read_text().splitlines())

    # small blocks: a.jsonl is read by many tasks whose lines are numbered on the client
    result = dedup_files([a, b, a], blocksize=8192)
    assert result.failure is None
    assert _key(result.clusters) == _key(local)
    assert sorted(json.dumps(e.to_dict(), sort_keys=True) for e in result.errors) == local_errors
    assert {e["reason"] for e in map(json.loads, local_errors)} >= {
        "bad-json",
        "not-an-object",
        "missing-body",
    }


def test_run_cli_writes_the_cli_contract(client: Client, tmp_path: Path) -> None:
    items = corpus(seed=9)
    src = tmp_path / "in.jsonl"
    _write_jsonl(src, items, extra=["{broken"])
    out, err = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    local_out, local_err = tmp_path / "l.jsonl", tmp_path / "le.jsonl"
    assert _cli_local([str(src), "-o", str(local_out), "--errors", str(local_err)]).exit_code == 0
    scheduler = client.scheduler.address
    code = run_cli([str(src)], out, err, DedupConfig(), scheduler=scheduler, story_window=72 * 3600.0)
    assert code == 0
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    local_rows = [json.loads(x) for x in local_out.read_text(encoding="utf-8").splitlines()]
    strip = ("first_seen", "last_seen")  # ingest times of undated items differ between runs
    assert [{k: v for k, v in r.items() if k not in strip} for r in rows] == [
        {k: v for k, v in r.items() if k not in strip} for r in local_rows
    ]
    assert sorted(err.read_text().splitlines()) == sorted(local_err.read_text().splitlines())


def test_unreadable_input_stops_there_like_the_local_cli(client: Client, tmp_path: Path) -> None:
    items = corpus(seed=2)
    first, broken, last = tmp_path / "1.jsonl", tmp_path / "2.jsonl.gz", tmp_path / "3.jsonl"
    _write_jsonl(first, items[:40])
    _write_jsonl(broken, items[40:80])
    broken.write_bytes(broken.read_bytes()[: len(broken.read_bytes()) * 2 // 3])  # truncated gzip
    _write_jsonl(last, items[80:])
    out, err = tmp_path / "local.jsonl", tmp_path / "local-errors.jsonl"
    res = _cli_local(
        [str(first), str(broken), str(last), "-o", str(out), "--errors", str(err), "--no-stories"]
    )
    assert res.exit_code == 1
    local = [Cluster.from_dict(json.loads(x)) for x in out.read_text(encoding="utf-8").splitlines()]
    result = dedup_files([first, broken, last], blocksize=16384)
    assert result.failure is not None
    assert "2.jsonl.gz" in result.failure
    assert _key(result.clusters) == _key(local)
    # nothing of the file after the broken one was used
    ids = {i for c in result.clusters for i in c.member_ids}
    early = {i["id"] for i in items[:80] if isinstance(i.get("id"), str)}
    late_only = {i["id"] for i in items[80:] if isinstance(i.get("id"), str)} - early
    assert late_only
    assert not ids & late_only


def test_bad_records_do_not_stop_the_run(client: Client) -> None:
    good = [i for i in corpus(seed=4) if str(i.get("id")).endswith("-orig")][:30]
    bad: list[Any] = [
        {"id": "b1", "html": 42},
        {"id": "b2", "text": None, "html": None},
        {"id": ["list"], "text": "x"},
        {"id": "b3", "published": "not a date", "text": "Some text. " * 30},
        {"id": "b4", "html": b"\xff\xfe\x00garbage\x00" * 50},
    ]
    items = good[:10] + bad + good[10:]
    errors: list[ErrorRecord] = []
    got = dedup_bag(db.from_sequence(items, npartitions=3), errors=errors, stories=False)
    local, local_errors = _local(items)
    assert _key(got) == _key(local)
    assert [e.to_dict() for e in errors] == [e.to_dict() for e in local_errors]
    assert {e.id for e in errors} >= {"b1", "b2"}
    assert {i for c in got for i in c.member_ids} >= {i["id"] for i in good}


def test_window_and_state_are_refused(client: Client, tmp_path: Path) -> None:
    bag = db.from_sequence(corpus()[:5], npartitions=1)
    with pytest.raises(ConfigError, match="window"):
        dedup_bag(bag, window="72h")
    with pytest.raises(ConfigError, match="state"):
        run_cli(["x.jsonl"], None, None, DedupConfig(), state=str(tmp_path / "s.db"))
    with pytest.raises(ConfigError, match="window"):
        run_cli(["x.jsonl"], None, None, DedupConfig(), window="72h")
    with pytest.raises(ConfigError, match="threshold"):
        dedup_bag(bag, threshold=2.0)


def test_missing_dask_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(MissingDependency, match=r'pip install "newsdedup\[dask\]"'):
        dedup_bag([], stories=False)


def test_importing_newsdedup_does_not_import_dask() -> None:
    code = "import sys, newsdedup; print('dask' in sys.modules, 'distributed' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_local_cluster_never_competes_for_port_8787() -> None:
    """distributed serves its scheduler's HTTP endpoint on 8787 even without the dashboard and
    only falls back (with a warning, and racily: two test runs at once failed) when the port
    is taken; ``local_cluster`` asks for a free port instead."""
    import warnings

    from distributed import LocalCluster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the first one may itself be moved off a taken 8787
        first = LocalCluster(n_workers=1, processes=False, dashboard_address=None)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=".*already in use.*")
            cluster = local_cluster(1)
        try:
            assert cluster.scheduler.http_server.port != 8787
            with Client(cluster) as c:
                assert c.submit(sum, [1, 2]).result() == 3
        finally:
            cluster.close()
    finally:
        first.close()


def nato_pages() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Six publisher pages of the NATO seed story (one cluster) and three cut copies of another
    story: the input of the tests where one page of a run kills or hangs its worker."""
    from servers import article_html

    story = [p for p in SEEDS[2].read_text(encoding="utf-8").split("\n\n") if p.strip()]
    other = _bases()[0][2]
    copies = [{"id": f"copy{i}", "url": f"https://s{i}.example/world/2024/10/nato-{i}",
               "html": article_html(f"NATO chief on North Korea {i}", story, site=f"S{i}")}
              for i in range(6)]  # fmt: skip
    others = [{"id": f"other{i}", "url": f"https://o{i}.example/a", "text": "\n\n".join(other[: len(other) - i])}
              for i in range(3)]  # fmt: skip
    return copies, others


def test_a_page_that_kills_its_worker_costs_only_its_own_item(tmp_path: Path) -> None:
    """``--engine dask`` on a local cluster whose workers load an extractor that aborts the
    process on one page (as a parser segfault would): the run ends with exit 0, that page is
    an ``extract-crashed`` error with its id, line and file, and the clusters are the local
    engine's on the same input without it (the other items of its partition included)."""
    from poison import poisoned_env

    copies, others = nato_pages()
    poison = dict(copies[0], id="poison", html=copies[0]["html"].replace("<p>", "<p>POISON-ABORT ", 1))
    a_rows, b_rows = [*copies[:3], poison, *copies[3:5], others[0]], [others[1], copies[5], others[2]]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps(r) + "\n" for r in a_rows), encoding="utf-8")
    b.write_text("".join(json.dumps(r) + "\n" for r in b_rows), encoding="utf-8")
    out, err = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    proc = subprocess.run(
        [sys.executable, "-c", "from newsdedup._cli import main; main()", "dedup", str(a), str(b),
         "--engine", "dask", "--dask-workers", "2", "-o", str(out), "--errors", str(err)],
        env=poisoned_env(tmp_path), capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(x) for x in err.read_text(encoding="utf-8").splitlines()] == [
        {"line": 4, "id": "poison", "reason": "extract-crashed", "file": str(a),
         "message": "the worker preparing this item died (a parser crash, an abort or the "
                    "out-of-memory killer); skipped"}
    ]  # fmt: skip

    clean = tmp_path / "clean.jsonl"
    clean.write_text("".join(json.dumps(r) + "\n" for r in a_rows if r is not poison), encoding="utf-8")
    local_out = tmp_path / "local.jsonl"
    assert _cli_local([str(clean), str(b), "-o", str(local_out)]).exit_code == 0
    strip = ("first_seen", "last_seen")
    rows = [{k: v for k, v in json.loads(x).items() if k not in strip} for x in out.read_text().splitlines()]
    local_rows = [
        {k: v for k, v in json.loads(x).items() if k not in strip} for x in local_out.read_text().splitlines()
    ]
    assert rows == local_rows
    assert sorted(sorted(r["member_ids"]) for r in rows) == [
        [f"copy{i}" for i in range(6)],
        ["other0", "other1", "other2"],
    ]


def test_files_with_a_bom_or_gzip_under_any_name_read_as_the_local_engine_reads_them(tmp_path: Path) -> None:
    """The local reader drops a UTF-8 BOM opening a JSONL file and knows gzip by its first
    bytes; the Dask block reader took the BOM for part of line 1 (bad-json) and cut a gzip
    file without a ``.gz`` name into byte ranges (every line bad-encoding)."""
    import gzip
    import random

    from test_dedup import _clean, _copies

    items = _copies(_clean(2), "w", 6, random.Random(7))
    body = "".join(json.dumps(i) + "\n" for i in items).encode()
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + body)
    packed = tmp_path / "packed.jsonl"  # gzip, without the name saying so
    packed.write_bytes(gzip.compress(body))
    local = Deduplicator()
    local.add_many(items)
    assert len(body) > 2 * 1024  # the plain file is read as several blocks
    for path in (bom, packed):
        got = dedup_files([path], blocksize=1024, scheduler="sync")
        assert got.errors == [], path.name
        assert _key(got.clusters) == _key(local.clusters()), path.name
