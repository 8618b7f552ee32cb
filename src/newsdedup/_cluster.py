"""From verified pairs to clusters, each cluster's canonical item, and the output cluster built
from its members (:func:`build_cluster`, with the sites' repeated paragraphs cut from the
canonical text).

Clustering works on the graph of verified pairs, never on LSH candidates, and is a pure
function of that graph plus a deterministic priority per node, so the same items give the same
partition and the same canonicals in any input order.

Chaining (A ~ B, B ~ C pulling in an unrelated C) is resisted by *star peeling* inside each
connected component: the node with most verified neighbours (ties: best priority, then id)
becomes a centre and its still-unassigned neighbours join it. Members are then pruned one at a
time while any of them verifies against fewer than a third (rounded down) of the other members,
or has more verified neighbours among the still-unassigned nodes outside the cluster than
inside it (it belongs to another group and only touches this one through a bridge). Every
member of the star therefore verifies against the centre and, in clusters of four or more,
against a third of the cluster. (A majority was tried first; with copies that keep page junk,
verification between two junky copies fails often enough that a majority split real
syndication groups.)

The star then grows by the same test without the centre: an unassigned node with that many
verified neighbours among the members, and fewer among the other unassigned nodes, joins even
though its pair with the centre failed (with bounded verification a copy of a big story verifies
against a few of its hubs, and the centre is only one of them). When the component is peeled,
a node left alone whose verified neighbours all lie in one cluster joins that cluster (a
*leaf*: with no pair outside it, it bridges nothing; alone it loses every pair it has).

Nothing is capped: a component is peeled until every node is assigned. With
``DedupConfig.max_verify`` the engine verifies a copy of a big story against a few hubs only
(the story's lowest-ranked copies), so it passes ``max_need``: the third is then capped at that
many neighbours.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np
import xxhash

from ._arrays import in_sorted, unique_rows
from ._boilerplate import BoilerplateLearner
from ._fingerprint import intersection_size
from ._models import Article, Cluster, Source, as_utc
from ._store._base import decode_u64, encode_u64

if TYPE_CHECKING:
    from ._dedup import DedupConfig

logger = logging.getLogger("newsdedup")

__all__ = ["MemberInfo", "choose_canonical", "components", "is_wire_own_site", "partition", "partition_pairs"]

Priority = Callable[[str], tuple[object, ...]]
_NO_EDGES: frozenset[str] = frozenset()
"""The neighbours of a node without edges (one shared empty set, not a new one per lookup)."""


def components(nodes: Iterable[str], edges: Mapping[str, set[str]]) -> list[list[str]]:
    """Connected components (iterative walk), each sorted, listed by their smallest node."""
    seen: set[str] = set()
    out: list[list[str]] = []
    for start in sorted(nodes):
        if start in seen:
            continue
        seen.add(start)
        comp = [start]
        stack = [start]
        while stack:
            node = stack.pop()
            for nb in edges.get(node, ()):
                if nb not in seen:
                    seen.add(nb)
                    comp.append(nb)
                    stack.append(nb)
        out.append(sorted(comp))
    return out


def _need(size: int, max_need: int | None) -> int:
    """Verified neighbours asked of a member of a cluster of ``size``: a third of the others,
    capped at ``max_need``."""
    need = (size - 1) // 3
    return need if max_need is None else min(need, max_need)


def _peel(
    comp: Sequence[str], edges: Mapping[str, set[str]], priority: Priority, max_need: int | None
) -> list[list[str]]:
    """Star peeling of one component (see the module docstring).

    Each round counts every unassigned node's unassigned neighbours once (``degree``): the
    centre is chosen on them, and a member's (or candidate's) neighbours outside the star are
    its degree minus those inside, since the star holds unassigned nodes only; no round copies
    the set of unassigned nodes. On the pairs a 1M run kept, the partition took 6.1-7.3 s
    instead of 8.9-9.8 s (the same clusters; *ad hoc*, side by side)."""
    remaining = set(comp)
    clusters: list[list[str]] = []
    while remaining:
        degree = {n: len(edges.get(n, _NO_EDGES) & remaining) for n in remaining}
        center = _centre(degree, priority)
        members = {center} | (edges.get(center, _NO_EDGES) & remaining)
        while len(members) > 1:
            need = _need(len(members), max_need)
            margin: dict[str, int] = {}
            for m in members:
                if m == center:
                    continue
                inside = len(edges.get(m, _NO_EDGES) & members)
                outside = degree[m] - inside
                if inside < need or inside < outside:
                    margin[m] = inside - outside
            if not margin:
                break
            # drop the least attached (then lowest priority) member and check again
            lowest = min(margin.values())
            members.discard(max((m for m in margin if margin[m] == lowest), key=priority))
        _grow(members, remaining, edges, max_need, degree)
        clusters.append(sorted(members))
        remaining -= members
    return _attach_leaves(clusters, edges)


def _centre(degree: Mapping[str, int], priority: Priority) -> str:
    """The node with the most unassigned neighbours (``degree``), ties to the best (smallest)
    priority: ``min`` over ``(-degree, priority)``, with the priority (a lookup per node) asked
    of the tied nodes only."""
    most = max(degree.values())
    return min((n for n, k in degree.items() if k == most), key=priority)


def _grow(
    members: set[str],
    remaining: set[str],
    edges: Mapping[str, set[str]],
    max_need: int | None,
    degree: Mapping[str, int],
) -> None:
    """Add the unassigned nodes that pass the pruning test without touching the centre: at
    least ``need`` (and one) verified neighbours among the members, and strictly fewer among
    the other unassigned nodes (a tie would let the star walk along a path). A copy of a big
    story verified against some of its hubs but not the one that became the centre belongs
    here; a node of another group has more pairs there. Whole rounds are added at once, so the
    result does not depend on iteration order. ``degree``: see :func:`_peel`."""
    while True:
        frontier = set().union(*[edges.get(m, _NO_EDGES) for m in members])
        frontier -= members
        frontier &= remaining
        need = max(1, _need(len(members) + 1, max_need))
        joining = []
        for x in frontier:
            inside = len(edges.get(x, _NO_EDGES) & members)
            if inside >= need and inside > degree[x] - inside:
                joining.append(x)
        if not joining:
            return
        members.update(joining)


def _attach_leaves(clusters: list[list[str]], edges: Mapping[str, set[str]]) -> list[list[str]]:
    """A node the peel left alone joins the cluster holding every one of its verified
    neighbours: with no pair outside that cluster it cannot bridge two groups, and alone it
    would only lose its pairs (a copy verified against one or two of a big story's hubs)."""
    label = {n: k for k, c in enumerate(clusters) for n in c}
    joined: dict[int, list[str]] = {}
    for k, c in enumerate(clusters):
        if len(c) != 1:
            continue
        targets = {label[nb] for nb in edges.get(c[0], ())}
        if len(targets) == 1:
            t = targets.pop()
            if len(clusters[t]) > 1:  # labels are the peel's: a leaf never joins another leaf
                joined.setdefault(t, []).append(c[0])
                clusters[k] = []
    for t, leaves in joined.items():
        clusters[t] = sorted(clusters[t] + leaves)
    return [c for c in clusters if c]


def partition(
    nodes: Iterable[str], edges: Mapping[str, set[str]], priority: Priority, *, max_need: int | None = None
) -> list[list[str]]:
    """Partition ``nodes`` into chaining-resistant clusters (see the module docstring).

    ``priority(node)`` must be a total, input-order-independent key (smaller is better) ending
    in the node id, so ties never depend on iteration order. ``max_need`` caps the verified
    neighbours asked of a member (the engine's ``max_verify // 4``: a copy of a big story
    verified against a bounded number of hubs, not against a third of the story).
    """
    out: list[list[str]] = []
    for comp in components(nodes, edges):
        out.extend(_split(comp, edges, priority, max_need))
    return sorted(out, key=lambda c: c[0])


def _split(
    comp: list[str], edges: Mapping[str, set[str]], priority: Priority, max_need: int | None
) -> list[list[str]]:
    """One connected component (sorted) as clusters: whole when complete, else peeled."""
    if len(comp) == 1:
        return [comp]
    members = set(comp)
    if all(len(edges.get(n, _NO_EDGES) & members) == len(comp) - 1 for n in comp):
        return [comp]
    return _peel(comp, edges, priority, max_need)


def partition_pairs(
    nodes: Iterable[str],
    ids: Sequence[str],
    a: np.ndarray,
    b: np.ndarray,
    priority: Priority,
    *,
    max_need: int | None = None,
    split_parts: Callable[[Iterator[ComponentPart]], Iterable[list[list[str]]]] | None = None,
    part_rows: int | None = None,
) -> list[list[str]]:
    """:func:`partition` of ``nodes`` with the edges ``ids[a[i]] - ids[b[i]]`` given as arrays
    (every edge's ends among ``nodes``). The components are found on the arrays, and the
    adjacency sets the peel reads are built for one component at a time: memory holds the
    sets of one component, where a whole graph of sets took about a GB at a million items.
    The same clusters as :func:`partition` over the adjacency of the same edges.

    ``split_parts`` (with ``part_rows``, see :func:`component_parts`) takes the parts and gives
    each one's clusters in order, :func:`split_part` done elsewhere (the engine's worker
    processes); by default each part is split here with ``priority``."""
    parts = component_parts(ids, a, b, rows=part_rows)
    linked: set[str] = set()

    def noted() -> Iterator[ComponentPart]:
        for part in parts:
            linked.update(part.names)
            yield part

    if split_parts is None:
        found: Iterable[list[list[str]]] = (split_part(part, priority, max_need) for part in noted())
    else:
        found = split_parts(noted())
    out = [cluster for clusters in found for cluster in clusters]
    out.extend([node] for node in nodes if node not in linked)
    return sorted(out, key=lambda c: c[0])


@dataclass(frozen=True, slots=True)
class ComponentPart:
    """Whole connected components of an edge graph, small enough to send to a worker: the
    nodes' names, each node's neighbours as local numbers (``neighbours[starts[i]:starts[i +
    1]]``, int32), and the local number each component starts at (then ``len(names)``)."""

    names: list[str]
    starts: np.ndarray
    neighbours: np.ndarray
    components: np.ndarray


def component_parts(
    ids: Sequence[str], a: np.ndarray, b: np.ndarray, *, rows: int | None = None
) -> Iterator[ComponentPart]:
    """The connected components of the edges ``ids[a[i]] - ids[b[i]]`` (nodes without an
    edge are left out), in parts of whole components holding about ``rows`` neighbour entries
    each (every edge counts twice; None: one part)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if not len(a):
        return
    label = _component_labels(len(ids), a, b)
    # both directions, grouped by component, then by source node
    src, dst = np.concatenate((a, b)), np.concatenate((b, a))
    order = np.argsort((label[src].astype(np.uint64) << np.uint64(32)) | src.astype(np.uint64), kind="stable")
    src, dst = src[order], dst[order]
    del order
    heads = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])  # each source node's first row
    head_label = label[src[heads]]
    comp_first = np.r_[np.flatnonzero(np.r_[True, head_label[1:] != head_label[:-1]]), len(heads)]
    number = np.empty(len(ids), dtype=np.int64)  # a node's place among the heads
    number[src[heads]] = np.arange(len(heads))
    nb = number[dst]
    row_at = np.r_[heads, len(src)]  # row where each head (then the end) starts
    comp_row = row_at[comp_first]  # row where each component (then the end) starts
    if rows is None or rows >= len(src):
        cuts = [0, len(comp_first) - 1]
    else:  # part boundaries: the first component starting at or past each multiple of rows
        marks = np.searchsorted(comp_row, np.arange(rows, len(src), rows))
        cuts = sorted({0, *marks.tolist(), len(comp_first) - 1})
    for c0, c1 in itertools.pairwise(cuts):
        h0, h1 = int(comp_first[c0]), int(comp_first[c1])
        lo = int(row_at[h0])
        yield ComponentPart(
            names=[ids[k] for k in src[heads[h0:h1]].tolist()],
            starts=row_at[h0 : h1 + 1] - lo,
            neighbours=(nb[lo : int(row_at[h1])] - h0).astype(np.int32),  # half the bytes sent
            components=comp_first[c0 : c1 + 1] - h0,
        )


def split_part(part: ComponentPart, priority: Priority, max_need: int | None = None) -> list[list[str]]:
    """The clusters of a part's components (:func:`partition`'s per-component step)."""
    names = part.names
    neighbours = [names[k] for k in part.neighbours.tolist()]
    starts = part.starts.tolist()
    comps = part.components.tolist()
    out: list[list[str]] = []
    for c0, c1 in itertools.pairwise(comps):
        adjacency = {names[i]: set(neighbours[starts[i] : starts[i + 1]]) for i in range(c0, c1)}
        out.extend(_split(sorted(adjacency), adjacency, priority, max_need))
    return out


def size_priority(size: Callable[[str], int]) -> Priority:
    """The engine's node priority: more shingles first, then the smaller id. ``size`` gives a
    node's shingle count (a mapping's ``__getitem__``, or a lookup in the engine's records),
    so the local engine, its split workers and Dask order nodes by one definition."""
    return lambda key: (-size(key), key)


_SCIPY_EDGES = 1 << 20
"""From this many edges the components come from scipy (see :func:`_component_labels`)."""


def _component_labels(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per node ``0..n-1``, the smallest node of its connected component under the edges
    ``a[i] - b[i]``: minimum labels spread over the edges, then shortcut (a label's own label)
    until nothing changes, a few whole-array passes instead of a walk per node. From
    ``_SCIPY_EDGES`` edges scipy's ``connected_components`` finds them instead: on 5.8M edges
    over 1M nodes 0.32 s against 1.38 s, but importing scipy costs about 0.3 s (*ad hoc*)."""
    if len(a) >= _SCIPY_EDGES:
        return _scipy_component_labels(n, a, b)
    label = np.arange(n, dtype=np.int64)
    while len(a):
        low = np.minimum(label[a], label[b])
        spread = label.copy()
        np.minimum.at(spread, a, low)
        np.minimum.at(spread, b, low)
        while True:
            shortcut = spread[spread]
            if np.array_equal(shortcut, spread):
                break
            spread = shortcut
        if np.array_equal(spread, label):
            break
        label = spread
    return label


def _scipy_component_labels(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`_component_labels` by ``scipy.sparse.csgraph.connected_components`` (scipy comes
    with datasketch), its component numbers turned into each component's smallest node."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    count, number = connected_components(graph, directed=False)
    smallest = np.full(count, n, dtype=np.int64)
    np.minimum.at(smallest, number, np.arange(n, dtype=np.int64))
    return smallest[number]


# -- canonical choice ------------------------------------------------------------------------

_WIRE_DOMAINS: dict[str, tuple[str, ...]] = {
    "reuters": ("reuters.com",),
    "associated press": ("apnews.com", "ap.org"),
    "ap": ("apnews.com", "ap.org"),
    "afp": ("afp.com",),
    "agence france-presse": ("afp.com",),
    "bloomberg": ("bloomberg.com",),
    "upi": ("upi.com",),
    "dpa": ("dpa.com", "dpa-international.com"),
    "pa media": ("pamediagroup.com",),
    "xinhua": ("xinhuanet.com", "news.cn"),
}


def _host(site: str | None, url: str | None) -> str:
    """The site's host, else the url's (sites recur, so theirs are cached; urls do not)."""
    host = _site_host(site) if site else ""
    return host or (_hostname(url) if url else "")


def _hostname(value: str) -> str:
    """The host of a site name or url; "" when it has none or is no URL at all: a site name
    such as "Daily News [UK edition]" reads as a bad IPv6 literal, and one item's metadata
    must not stop its cluster (or, with a store, every later run) from being built."""
    try:
        host = urlsplit(value if "//" in value else "//" + value).hostname
    except ValueError:
        return ""
    return (host or "").lower().removeprefix("www.")


_site_host = functools.lru_cache(maxsize=4096)(_hostname)
"""A site's host, remembered: every member of every cluster asks, and a few sites recur."""


def is_wire_own_site(wire: str | None, site: str | None, url: str | None) -> bool:
    """True when the item was published by the wire itself (Reuters on reuters.com, ...)."""
    if not wire:
        return False
    host = _host(site, url)
    if not host:
        return False
    name = wire.strip().lower()
    domains = _WIRE_DOMAINS.get(name, (name.replace(" ", "") + ".com",))
    return any(host == d or host.endswith("." + d) for d in domains)


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """What the canonical choice looks at for one member."""

    id: str
    shingles: np.ndarray
    text_len: int
    wire: str | None = None
    site: str | None = None
    url: str | None = None
    published: datetime | None = None


_REASONS = ("wire-own-copy", "not-truncated", "most-complete-text", "earliest-published", "smallest-id")


def _ts(value: datetime | None) -> float:
    if value is None:
        return float("inf")
    return as_utc(value).timestamp()


def _supported(members: Sequence[MemberInfo], sizes: Sequence[int]) -> list[int]:
    """Per member, how many of its shingles at least one other member has.

    Each member's shingles are unique, so a value is shared exactly when it occurs twice in the
    concatenation: one stable sort of it marks every shared position, and a cumulative sum
    counts them per member (instead of ``np.unique`` plus one ``np.isin`` per member)."""
    all_sh = np.concatenate([m.shingles for m in members])
    if len(all_sh) == 0:
        return [0] * len(members)
    order = np.argsort(all_sh, kind="stable")
    same = all_sh[order[1:]] == all_sh[order[:-1]]
    shared_sorted = np.zeros(len(all_sh), dtype=bool)
    shared_sorted[1:] = same
    shared_sorted[:-1] |= same
    shared = np.empty(len(all_sh), dtype=bool)
    shared[order] = shared_sorted
    ends = np.cumsum(sizes)
    totals = np.concatenate(([0], np.cumsum(shared, dtype=np.int64)))
    return (totals[ends] - totals[ends - np.asarray(sizes)]).tolist()


def _truncated(
    members: Sequence[MemberInfo], sizes: Sequence[int], containment_threshold: float, truncation_ratio: float
) -> list[bool]:
    """Per member, whether it is a truncated copy: its shingles contained (at least
    ``containment_threshold``) in a member at least ``truncation_ratio`` times larger.

    The members by size, largest first: those a member may be a truncated copy of are a
    prefix of this order (a loop over every pair cost more than the intersections at 1M
    items, where a cluster holds up to a few hundred copies)."""
    by_size = sorted(range(len(members)), key=lambda j: -sizes[j])
    descending = [-sizes[j] for j in by_size]
    out = []
    for i, m in enumerate(members):
        found = False
        if sizes[i]:
            bigger = bisect.bisect_right(descending, -truncation_ratio * sizes[i])
            found = any(
                j != i
                and intersection_size(m.shingles, members[j].shingles) / sizes[i] >= containment_threshold
                for j in by_size[:bigger]
            )
        out.append(found)
    return out


def choose_canonical(
    members: Sequence[MemberInfo], *, containment_threshold: float = 0.8, truncation_ratio: float = 1.5
) -> tuple[str, str]:
    """Pick the canonical member; return ``(id, reason)``.

    Order: the wire's own copy; then a member that is not a truncated copy of a longer member
    (its shingles contained in one at least ``truncation_ratio`` times larger); then the most
    complete text -- shingles confirmed by another member minus shingles no other member has,
    so leftover page junk counts against a copy while a longer story counts for it; then the
    longer text; then the earliest ``published``; then the smallest id. ``reason`` names the
    first criterion that separated the winner from the runner-up.
    """
    if len(members) == 1:
        return members[0].id, "only-member"
    sizes = [len(m.shingles) for m in members]
    supported_counts = _supported(members, sizes)
    truncated = _truncated(members, sizes, containment_threshold, truncation_ratio)
    keys: list[tuple[object, ...]] = []
    for i, m in enumerate(members):
        supported = supported_counts[i]
        completeness = supported - (sizes[i] - supported)
        keys.append(
            (
                0 if is_wire_own_site(m.wire, m.site, m.url) else 1,
                1 if truncated[i] else 0,
                (-completeness, -m.text_len),
                _ts(m.published),
                m.id,
            )
        )
    order = sorted(range(len(members)), key=lambda i: keys[i])
    best, second = keys[order[0]], keys[order[1]]
    reason = next((r for r, x, y in zip(_REASONS, best, second, strict=True) if x != y), "smallest-id")
    return members[order[0]].id, reason


def build_cluster(
    ids: Sequence[str],
    articles: Mapping[str, Article],
    shingles: Callable[[str], np.ndarray],
    ingested: Callable[[str], float],
    repeated: _Repeats,
    config: DedupConfig,
) -> Cluster:
    """One output cluster from its members (in partition order): canonical choice, sources,
    first/last seen. Needs only the members, so the Dask engine builds clusters on workers.
    ``shingles(id)``: a member's shingle set (asked only of members of clusters of two or
    more); ``ingested(id)``: its ingest time (the time of a member without ``published``)."""
    infos = []
    for i in ids:
        a = articles[i]
        infos.append(
            MemberInfo(
                id=i, shingles=shingles(i) if len(ids) > 1 else np.empty(0, dtype=np.uint64),
                text_len=len(a.text), wire=a.wire, site=a.site, url=a.url, published=a.published,
            )
        )  # fmt: skip
    canonical_id, reason = choose_canonical(infos, containment_threshold=config.containment_threshold)
    canon = articles[canonical_id]
    times = [
        as_utc(published) if (published := articles[i].published) is not None
        else datetime.fromtimestamp(ingested(i), UTC)
        for i in ids
    ]  # fmt: skip
    wires = Counter(articles[i].wire for i in ids if articles[i].wire)
    wire = canon.wire or (min(wires, key=lambda w: (-wires[w], w)) if wires else None)
    sources = tuple(
        Source(id=i, url=articles[i].url, site=articles[i].site,
               title=articles[i].title, published=articles[i].published)
        for i in ids
    )  # fmt: skip
    cluster = Cluster(
        cluster_id=cluster_id_for(ids),
        canonical_id=canonical_id,
        member_ids=tuple(ids),
        title=canon.title,
        text=clean_canonical(canon, repeated),
        url=canon.url,
        published=canon.published,
        wire=wire,
        sources=sources,
        first_seen=min(times),
        last_seen=max(times),
        canonical_reason=reason,
    )
    if cluster.size > config.cluster_size_alarm:
        # an abnormally large cluster usually means junk pages or a template slipped
        # through; nothing is capped, so say so loudly
        logger.warning(
            "dedup: cluster %s has %d members (alarm above %d); canonical %s",
            cluster.cluster_id, cluster.size, config.cluster_size_alarm, cluster.canonical_id,
        )  # fmt: skip
    return cluster


def clean_canonical(article: Article, repeated: _Repeats) -> str:
    """The canonical text without the paragraphs its site prints under other stories too."""
    if not article.site:
        return article.text
    known = repeated(article.site)
    if not known:
        return article.text
    paras = article.paragraphs
    kept = [p for p in paras if _para_key(_para_hash(p)) not in known]
    if not kept:  # never empty a text: keep it whole rather than return nothing
        return article.text
    return "\n\n".join(kept) if len(kept) < len(paras) else article.text


def _site_hash(site: str) -> int:
    return xxhash.xxh3_64_intdigest(BoilerplateLearner._site(site).encode("utf-8"))


def repeat_rows(members: Iterable[tuple[str | None, bytes, int]]) -> np.ndarray:
    """``(site, paragraph hashes as stored, cluster number)`` per member -> unique uint64 rows
    ``(site hash, paragraph hash, cluster number)``: a cluster counts once per site and
    paragraph, however many of its copies come from that site (they share their story lines)."""
    return unique_rows(member_rows(members))[0]


def member_rows(members: Iterable[tuple[str | None, bytes, int]]) -> np.ndarray:
    """:func:`repeat_rows` before the duplicates are dropped: a row per member and paragraph."""
    # the members' stored bytes joined and decoded at once, the site and cluster columns
    # repeated per paragraph: numpy calls per member were most of the cost at 1M items
    site_hash: dict[str, int] = {}
    stored_parts: list[bytes] = []
    sites: list[int] = []
    tokens: list[int] = []
    for site, stored, token in members:
        if not site or not stored:
            continue
        if len(stored) % 8:
            decode_u64(stored)  # raises StoreCorrupt with the usual message
        if site not in site_hash:
            site_hash[site] = _site_hash(site)
        stored_parts.append(stored)
        sites.append(site_hash[site])
        tokens.append(token)
    if not stored_parts:
        return np.empty((0, 3), dtype=np.uint64)
    per = np.fromiter((len(b) // 8 for b in stored_parts), dtype=np.int64, count=len(stored_parts))
    paras = decode_u64(b"".join(stored_parts))
    return np.column_stack(
        [
            np.repeat(np.array(sites, dtype=np.uint64), per),
            paras,
            np.repeat(np.array(tokens, dtype=np.uint64), per),
        ]
    )


def site_repeated_keys(members: Iterable[tuple[str | None, bytes, int]], min_clusters: int) -> np.ndarray:
    """``repeated_keys(repeat_rows(members), min_clusters)``, with most rows ruled out first
    (:func:`_may_repeat`): the exact sorts of three and two columns then run on the rows of the
    few paragraphs that may repeat (at 200k items, 9 % of the rows and 0.24-0.34 s instead of
    0.44-0.66 s; this step runs on one core between the verification and the clusters)."""
    return repeated_keys_of_rows(member_rows(members), min_clusters)


def repeated_keys_of_rows(rows: np.ndarray, min_clusters: int) -> np.ndarray:
    """:func:`site_repeated_keys` of the rows :func:`member_rows` gives (in any order)."""
    if min_clusters > 1:
        rows = rows[_may_repeat(rows, min_clusters)]
    return repeated_keys(unique_rows(rows)[0], min_clusters)


def _may_repeat(rows: np.ndarray, min_clusters: int, shift: int = 32) -> np.ndarray:
    """Per ``(site, paragraph, cluster)`` row, whether its ``(site, paragraph)`` pair may occur
    under ``min_clusters`` different clusters: True for every row of a pair that does.

    Each pair gets a key of ``64 - shift`` bits (the top bits of a multiplicative mix of its
    two hashes, so every bit of both counts), packed with the cluster number (below
    ``2**shift``) into one uint64; one sort of those finds how many distinct clusters each key
    has. Two pairs that share a key only add up their clusters, so no pair that repeats is
    missed; the caller counts the kept rows exactly."""
    if not len(rows) or int(rows[:, 2].max()) >> shift:
        return np.ones(len(rows), dtype=bool)  # (cluster numbers that do not fit: keep everything)
    mixed = ((rows[:, 0] * np.uint64(0x9E3779B97F4A7C15)) ^ rows[:, 1]) * np.uint64(0xBF58476D1CE4E5B9)
    key = mixed >> np.uint64(shift)
    packed = np.sort((key << np.uint64(shift)) | rows[:, 2])
    distinct = packed[np.r_[True, packed[1:] != packed[:-1]]] >> np.uint64(shift)  # a key per cluster
    at = np.flatnonzero(np.r_[True, distinct[1:] != distinct[:-1]])
    clusters = np.diff(np.r_[at, len(distinct)])
    return in_sorted(key, distinct[at[clusters >= min_clusters]])


def repeated_keys(rows: np.ndarray, min_clusters: int) -> np.ndarray:
    """The ``(site hash, paragraph hash)`` pairs printed under at least ``min_clusters``
    different clusters. A paragraph one site prints under several *different* stories (a
    disclaimer, a subscription pitch the extractor kept) is that site's boilerplate, not story
    text: :class:`BoilerplateLearner`'s rule with each cluster counted as one page. ``rows``
    must be unique (as :func:`repeat_rows` gives them)."""
    if not len(rows):
        return np.empty((0, 2), dtype=np.uint64)
    keys, counts = unique_rows(rows[:, :2])
    return keys[counts >= min_clusters]


def repeats_from(keys: np.ndarray) -> _Repeats:
    """Site -> its repeated paragraph keys, from :func:`repeated_keys` rows."""
    by_site: dict[int, set[str]] = {}
    for site, para in keys.tolist():
        by_site.setdefault(site, set()).add(_para_key(para))
    frozen = {site: frozenset(paras) for site, paras in by_site.items()}
    if not frozen:
        return _no_repeats

    @functools.cache
    def repeated(site: str) -> frozenset[str]:
        return frozen.get(_site_hash(site), frozenset())

    return repeated


def _para_hash(paragraph: str) -> int:
    """Identity of a paragraph for site boilerplate: case and spacing folded. A site repeats
    its boilerplate verbatim, so the full text normalisation (a few regex passes) is not
    needed here.

    An ASCII paragraph is folded by ``lower()`` (the same as ``casefold()`` there, and faster)
    and re-spaced only when it has a double space, a space at either end or any other
    whitespace (every ASCII whitespace character but the space is unprintable): a cleaned
    paragraph almost never does. Prepared items spent 27 µs each here, 13 µs this way."""
    if paragraph.isascii():
        low = paragraph.lower()
        if "  " in low or not low.isprintable() or low[:1] == " " or low[-1:] == " ":
            low = " ".join(low.split())
        return xxhash.xxh3_64_intdigest(low.encode("ascii"))
    return xxhash.xxh3_64_intdigest(" ".join(paragraph.casefold().split()).encode("utf-8"))


def stored_paras(article: Article) -> bytes:
    """The paragraph hashes kept per item for site boilerplate (empty without a site)."""
    return encode_u64([_para_hash(p) for p in article.paragraphs]) if article.site else b""


def _para_key(para_hash: int) -> str:
    """A paragraph hash as a :class:`BoilerplateLearner` key."""
    return f"{para_hash:016x}"


_Repeats = Callable[[str], frozenset[str]]
"""Site -> keys of the paragraphs that are that site's boilerplate."""


def _no_repeats(site: str) -> frozenset[str]:
    return frozenset()


def cluster_id_for(member_ids: Iterable[str]) -> str:
    """``c`` + 16 hex digits of xxh3-64 of the smallest member id: order-independent, and it
    only changes when an item with a smaller id joins the cluster."""
    return "c" + xxhash.xxh3_64_hexdigest(min(member_ids).encode("utf-8"))
