"""A self-contained HTML report of stories, their clusters, outlets and per-member differences.

One file, readable offline and safe to open: the CSS is inlined, there are no fonts, images,
CDNs or requests of any kind (a Content-Security-Policy forbids them), and the only script is a
few lines for "expand all / collapse all" (everything also works without it, through
``<details>``). Every piece of page text is untrusted and goes through :func:`html.escape`;
links are only made for ``http(s)`` URLs.

Clusters are grouped by ``story_id`` when every cluster carries one (``dedup`` output after
story assignment); otherwise stories are computed from the clusters' texts with
:func:`newsdedup._story.assign_stories`. Per-member differences need the members' own texts,
which the cluster JSONL does not carry: pass the original items (``items``) to get them, else
the page says "texts not provided".
"""

from __future__ import annotations

import difflib
import html
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from ._exceptions import InputError
from ._explain import read_jsonl
from ._models import Article, Cluster, as_utc
from ._normalize import normalize_text, tokenize
from ._records import read_lines
from ._story import StoryConfig, assign_stories
from ._version import __version__

__all__ = ["MemberDiff", "load_clusters", "load_items", "member_diff", "render_report", "write_report"]

logger = logging.getLogger("newsdedup")

_SNIPPET = 240
_MAX_BLOCKS = 6
_ANCHOR = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberDiff:
    """How one member's text differs from its cluster's canonical text (word level)."""

    id: str
    status: str
    """``canonical``, ``identical``, ``differs``, ``texts-not-provided`` or ``no-text``."""
    inserted: tuple[str, ...] = ()
    """Passages only the member has (leftover junk, a longer version, an edit)."""
    removed: tuple[str, ...] = ()
    """Passages of the canonical text the member lacks (not counting a cut-off end)."""
    truncated: str = ""
    """The canonical text's tail the member does not reach (a truncated copy)."""
    inserted_words: int = 0
    removed_words: int = 0
    truncated_words: int = 0


def _keyed_words(text: str) -> tuple[list[str], list[str]]:
    raw = text.split()
    return raw, [" ".join(tokenize(normalize_text(w))) for w in raw]


def member_diff(member_id: str, canonical_text: str, member_text: str | None) -> MemberDiff:
    """Word-level difference of a member's clean text against the canonical text.

    Words are compared after normalisation (quotes, dashes, case), so typography never counts
    as a difference. Canonical text after the member's last solid match (at least four words)
    is reported as truncation.
    """
    if member_text is None:
        return MemberDiff(id=member_id, status="texts-not-provided")
    if not member_text.strip():
        return MemberDiff(id=member_id, status="no-text")
    raw_c, keys_c = _keyed_words(canonical_text)
    raw_m, keys_m = _keyed_words(member_text)
    # The end of the last solid match (>= _ANCHOR words) is where the member stops following the
    # canonical text: the canonical tail after it is cut off, the member's tail is its own (a
    # copy often ends with a sign-up line whose stray words would otherwise hide the cut).
    blocks = difflib.SequenceMatcher(None, keys_c, keys_m, autojunk=False).get_matching_blocks()
    solid = [b for b in blocks if b.size >= _ANCHOR]
    end_c, end_m = (solid[-1].a + solid[-1].size, solid[-1].b + solid[-1].size) if solid else (0, 0)
    inserted: list[str] = []
    removed: list[str] = []
    n_ins = n_rem = n_cut = 0
    truncated = ""
    if end_c < len(keys_c):
        truncated = " ".join(raw_c[end_c:])
        n_cut = len(keys_c) - end_c
    ops = difflib.SequenceMatcher(None, keys_c[:end_c], keys_m[:end_m], autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in ops:
        if tag in ("delete", "replace"):
            removed.append(" ".join(raw_c[i1:i2]))
            n_rem += i2 - i1
        if tag in ("insert", "replace"):
            inserted.append(" ".join(raw_m[j1:j2]))
            n_ins += j2 - j1
    if end_m < len(keys_m):
        inserted.append(" ".join(raw_m[end_m:]))
        n_ins += len(keys_m) - end_m
    status = "identical" if not (n_ins or n_rem or n_cut) else "differs"
    return MemberDiff(
        id=member_id,
        status=status,
        inserted=tuple(inserted),
        removed=tuple(removed),
        truncated=truncated,
        inserted_words=n_ins,
        removed_words=n_rem,
        truncated_words=n_cut,
    )


# -- loading ---------------------------------------------------------------------------------


def load_clusters(path: str) -> list[Cluster]:
    """Clusters from a ``newsdedup dedup`` output file: its lines with ``cluster_id`` and
    ``canonical_id`` (other lines are skipped with a log message). Raises :class:`InputError`
    when the file cannot be read, when a cluster line is malformed (naming the file and line:
    a report that silently left a cluster out would mislead), and when a file that is not
    empty holds no cluster line at all (a dedup *input*, a Parquet file), whose empty report
    would hide the mistake. An empty file is an empty report."""
    out: list[Cluster] = []
    lines = 0
    items = 0  # lines that look like dedup input (an id, no cluster_id)
    for number, raw in read_lines(path):
        lines += 1
        data = _json_object(raw)
        if data is None:
            logger.info("%s:%d: not a JSON object, skipped", path, number)
            continue
        if "cluster_id" not in data or "canonical_id" not in data:
            items += "id" in data
            logger.info("%s:%d: not a cluster line (no cluster_id or canonical_id), skipped", path, number)
            continue
        try:
            out.append(Cluster.from_dict(data))
        except ValueError as exc:
            raise InputError(f"{path}:{number}: malformed cluster line: {exc}", line=number) from None
    if lines and not out:
        hint = (
            f"; {items} of them are items (id, no cluster_id): pass the output of newsdedup dedup, not its input"
            if items
            else "; the report reads the JSONL output of newsdedup dedup (not Parquet or WARC)"
        )
        raise InputError(
            f"{path}: no cluster line found in {lines} non-blank lines"
            f" (a cluster line has cluster_id and canonical_id){hint}"
        )
    return out


def _json_object(raw: bytes | None) -> dict[str, Any] | None:
    """The JSON object on a line, or None (too long, not JSON, not an object)."""
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def load_items(path: str, ids: Iterable[str] | None = None) -> dict[str, Article]:
    """Clean articles of a ``dedup`` input file, by id (only ``ids`` when given); unusable lines
    are skipped, the first line of an id wins."""
    from ._records import RecordError, record_from_mapping, to_article

    wanted = set(ids) if ids is not None else None
    out: dict[str, Article] = {}
    for number, data in read_jsonl(path):
        rid = data.get("id")
        if not isinstance(rid, str) or rid in out or (wanted is not None and rid not in wanted):
            continue
        try:
            out[rid] = to_article(record_from_mapping(data, line=number))
        except RecordError:
            continue
    return out


# -- rendering -------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return as_utc(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _link(url: str | None) -> str:
    if not url:
        return ""
    if url.lower().startswith(("http://", "https://")):
        return f'<a href="{_e(url)}" rel="noopener noreferrer nofollow">{_e(url)}</a>'
    return _e(url)


def _snip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"


def _paragraphs(text: str) -> str:
    paras = [p for p in text.split("\n\n") if p.strip()] or [text]
    return "".join(f"<p>{_e(p.strip())}</p>" for p in paras)


def _group(clusters: Sequence[Cluster], story_config: StoryConfig | None) -> tuple[list[list[Cluster]], bool]:
    """Stories as lists of clusters; the flag says whether ``story_id`` came with the input."""
    given = bool(clusters) and all(c.extra.get("story_id") for c in clusters)
    if not given:
        clusters = assign_stories(clusters, config=story_config)
    stories: dict[str, list[Cluster]] = {}
    for c in clusters:
        stories.setdefault(str(c.extra["story_id"]), []).append(c)

    def cluster_key(c: Cluster) -> tuple[Any, ...]:
        return (-c.size, c.cluster_id)

    def story_key(item: tuple[str, list[Cluster]]) -> tuple[Any, ...]:
        sid, cs = item
        return (-len(cs), -sum(c.size for c in cs), sid)

    ordered = sorted(stories.items(), key=story_key)
    return [sorted(cs, key=cluster_key) for _, cs in ordered], given


def _dates(clusters: Iterable[Cluster]) -> str:
    times = sorted(as_utc(s.published) for c in clusters for s in c.sources if s.published is not None)
    if not times:
        return "undated"
    first, last = _fmt_time(times[0]), _fmt_time(times[-1])
    return first if first == last else f"{first} – {last}"


def _diff_html(d: MemberDiff) -> str:
    if d.status == "canonical":
        return '<span class="canonical-mark">canonical item</span>'
    if d.status == "texts-not-provided":
        return '<span class="none">texts not provided</span>'
    if d.status == "no-text":
        return '<span class="none">no text for this member in the items file</span>'
    if d.status == "identical":
        return "identical text"
    parts = [
        f"+{d.inserted_words} words inserted, −{d.removed_words} removed"
        + (f", truncated (last {d.truncated_words} words missing)" if d.truncated_words else "")
    ]
    items = [f'<li><span class="ins">+ {_e(_snip(t))}</span></li>' for t in d.inserted[:_MAX_BLOCKS]]
    items += [f'<li><span class="del">− {_e(_snip(t))}</span></li>' for t in d.removed[:_MAX_BLOCKS]]
    if d.truncated:
        items.append(f'<li><span class="cut">cut off: {_e(_snip(d.truncated))}</span></li>')
    hidden = max(0, len(d.inserted) - _MAX_BLOCKS) + max(0, len(d.removed) - _MAX_BLOCKS)
    if hidden:
        items.append(f'<li class="none">… {hidden} more passages</li>')
    return _e(parts[0]) + f"<ul>{''.join(items)}</ul>"


def _cluster_html(c: Cluster, items: Mapping[str, Article] | None) -> str:
    title = c.title or "(no title)"
    meta = [
        f"cluster {_e(c.cluster_id)}",
        f"{c.size} member{'s' if c.size != 1 else ''}",
        f"canonical {_e(c.canonical_id)} ({_e(c.canonical_reason or 'n/a')})",
    ]
    if c.wire:
        meta.append(f"wire: {_e(c.wire)}")
    rows = []
    diffs = []
    sources = {s.id: s for s in c.sources}
    for mid in c.member_ids:
        s = sources.get(mid)
        mark = ' <span class="canonical-mark">★ canonical</span>' if mid == c.canonical_id else ""
        rows.append(
            "<tr>"
            f"<td>{_e(s.site or '') if s else ''}</td>"
            f"<td>{_e(s.title) if s else ''}{mark}</td>"
            f"<td>{_e(_fmt_time(s.published)) if s else ''}</td>"
            f'<td class="url">{_link(s.url) if s else ""}</td>'
            f"<td>{_e(mid)}</td>"
            "</tr>"
        )
        if mid == c.canonical_id:
            d = MemberDiff(id=mid, status="canonical")
        elif items is None:
            d = MemberDiff(id=mid, status="texts-not-provided")
        else:
            art = items.get(mid)
            d = member_diff(mid, c.text, art.text if art is not None else "")
        site = f" ({_e(s.site)})" if s is not None and s.site else ""
        diffs.append(f"<li><strong>{_e(mid)}</strong>{site}: {_diff_html(d)}</li>")
    differ = (
        f"<details{' open' if items is not None else ''}><summary>What differs per member</summary>"
        f"<ul>{''.join(diffs)}</ul></details>"
        if c.size > 1
        else ""
    )
    return (
        f'<article class="cluster" id="{_e(c.cluster_id)}">'
        f"<h3>{_e(title)}</h3>"
        f'<div class="meta">{" · ".join(meta)}</div>'
        f'<p class="lead">{_e(_snip(c.text.split(chr(10) + chr(10))[0]))}</p>'
        '<table class="outlets"><thead><tr><th>site</th><th>title</th><th>published</th><th>url</th>'
        f"<th>id</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<details class="text"><summary>Canonical text ({len(c.text.split())} words)</summary>'
        f"{_paragraphs(c.text)}</details>"
        f'<div class="diff">{differ}</div>'
        "</article>"
    )


_SCRIPT = """
document.querySelectorAll('button[data-act]').forEach(function (b) {
  b.addEventListener('click', function () {
    var open = b.getAttribute('data-act') === 'open';
    document.querySelectorAll('details').forEach(function (d) { d.open = open; });
  });
});
"""


def render_report(
    clusters: Sequence[Cluster],
    items: Mapping[str, Article] | None = None,
    *,
    title: str = "newsdedup report",
    story_config: StoryConfig | None = None,
) -> str:
    """The whole HTML page as a string (deterministic for the same input)."""
    css = resources.files("newsdedup").joinpath("data/report/report.css").read_text(encoding="utf-8")
    stories, given = _group(clusters, story_config)
    n_items = sum(c.size for c in clusters)
    sections = []
    for n, story in enumerate(stories, 1):
        sid = str(story[0].extra["story_id"])
        lead = next((c.title for c in story if c.title), "(no title)")
        outlets = sum(c.size for c in story)
        sections.append(
            f'<section class="story" id="{_e(sid)}">'
            f"<h2>Story {n}: {_e(lead)}</h2>"
            f'<div class="meta"><span class="badge">{len(story)} cluster{"s" if len(story) != 1 else ""}</span>'
            f'<span class="badge">{outlets} item{"s" if outlets != 1 else ""}</span>'
            f"{_e(sid)} · {_e(_dates(story))}</div>"
            + "".join(_cluster_html(c, items) for c in story)
            + "</section>"
        )
    origin = "story ids from the input" if given else "stories computed from the cluster texts"
    member_note = "member texts from the items file" if items is not None else "member texts not provided"
    body = "".join(sections) or '<p class="none">No clusters in the input.</p>'
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'none'\">"
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)}</title><style>{css}</style></head><body>"
        f'<header class="page"><h1>{_e(title)}</h1>'
        f"<p>{len(stories)} stor{'ies' if len(stories) != 1 else 'y'} · {len(clusters)} "
        f"cluster{'s' if len(clusters) != 1 else ''} · {n_items} item{'s' if n_items != 1 else ''} · "
        f"{_e(origin)} · {_e(member_note)}</p>"
        '<div class="toolbar"><button type="button" data-act="open">Expand all</button> '
        '<button type="button" data-act="close">Collapse all</button></div></header>'
        f"<main>{body}</main>"
        f'<footer class="page">Generated by newsdedup {_e(__version__)}. '
        "Texts belong to their publishers.</footer>"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_report(
    path: str | Path,
    clusters: Sequence[Cluster],
    items: Mapping[str, Article] | None = None,
    **options: Any,
) -> None:
    """Render and write the page (UTF-8) to ``path`` (via a temporary file, then renamed)."""
    target = Path(path)
    page = render_report(clusters, items, **options)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)
