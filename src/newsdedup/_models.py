"""The data model that flows from stage to stage: plain, frozen, typed dataclasses.

Frozen so an article can be shared between threads, asyncio tasks and Dask workers without
copies; ``dataclasses.replace`` expresses "the next stage changed this field". Every class has an
explicit ``to_dict``/``from_dict`` pair for JSONL and stores; nothing is ever pickled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, TypeVar

_T = TypeVar("_T")

__all__ = ["Article", "Cluster", "Removal", "Source", "as_utc", "format_datetime", "parse_datetime"]


_YEARS = range(1800, 2201)
"""Years a publication time can be in. Outside them a date is a placeholder: Go's zero time
``0001-01-01T00:00:00Z`` (common in feeds and JSON APIs), ``9999-12-31``. Taken for real, one
won the canonical choice as the earliest-published copy, set a cluster's ``first_seen``, and
could not be read back from Parquet once shifted to UTC (year 0)."""


def parse_datetime(value: Any) -> datetime | None:
    """Parse an ISO 8601 string (``Z`` allowed) or pass a datetime through; None if unusable
    (also a time outside the years 1800-2200, a placeholder rather than a date)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.year in _YEARS else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.year in _YEARS else None


def as_utc(value: datetime) -> datetime:
    """``value`` with a time zone: a naive time is taken as UTC, everywhere in the package
    (input dates, feed and sitemap dates, HTTP dates), so that naive and aware times compare
    and turn into timestamps the same way."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def format_datetime(value: datetime | None) -> str | None:
    """ISO 8601 text for JSON, or None."""
    return value.isoformat() if value is not None else None


def _quick_pickle(cls: type[_T]) -> type[_T]:
    """Pickle a frozen slots dataclass as a tuple of its fields: the state functions
    ``dataclasses`` adds look the fields up on every call, which made pickling articles (the
    spill file, worker processes, Dask) cost more than the rest of storing them."""
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    # each field's slot, set through its descriptor: object.__setattr__ by name looked the slot
    # up on every call (1.45 against 2.4 µs an article)
    setters = tuple(cls.__dict__[n].__set__ for n in names)
    # A UTC time travels as its ISO text: pickle reduces the ``timezone`` of an aware datetime
    # through ``copyreg._slotnames``, which cannot cache its answer on a built-in type: an
    # article of the speed corpus took 11.1 µs to pickle and 7.0 to unpickle that way, 7.5 and
    # 5.5 this way (*ad hoc*, 2,000 articles, best of five). Other times (another
    # zone, a datetime subclass, a fold) are left as they are; a time read back is a datetime.
    times = tuple(i for i, f in enumerate(fields(cls)) if "datetime" in str(f.type))  # type: ignore[arg-type]

    def __getstate__(self: Any) -> tuple[Any, ...]:
        state = [getattr(self, n) for n in names]
        for i in times:
            value = state[i]
            if type(value) is datetime and value.tzinfo is UTC and not value.fold:
                state[i] = value.isoformat()
        return tuple(state)

    def __setstate__(self: Any, state: Iterable[Any]) -> None:
        if times:
            state = list(state)
            for i in times:
                if type(state[i]) is str:
                    state[i] = datetime.fromisoformat(state[i])
        for set_slot, value in zip(setters, state, strict=True):
            set_slot(self, value)

    cls.__getstate__ = __getstate__  # type: ignore[method-assign]
    cls.__setstate__ = __setstate__  # type: ignore[attr-defined]
    return cls


@_quick_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class Removal:
    """One piece of boilerplate that was cut, and the rule that cut it (for explanations)."""

    rule: str
    """Which rule fired: ``"dom:<kind>"`` (a structural cut, e.g. ``"dom:nav"``), ``"rules:dom"``
    (a publisher CSS selector), ``"<publisher>:<label>"`` (a publisher pattern, e.g.
    ``"newsmax:copyright"``, ``"generic:share"``), ``"wire:<kind>"`` (e.g. ``"wire:credit"``)
    or ``"learned:line"`` (a line learned from a site's other pages)."""
    text: str
    """The text that was removed (shortened to a few hundred characters)."""

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "text": self.text}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Removal:
        return cls(rule=str(data.get("rule", "")), text=str(data.get("text", "")))


@_quick_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class Article:
    """A clean article: body text without site junk, plus the metadata the page carried.

    ``text`` holds the paragraphs separated by blank lines. When nothing usable was found,
    ``text`` is empty and ``reason`` says why (``"empty-input"``, ``"binary"``,
    ``"no-main-text"``, ...), so a pipeline can record a skip instead of crashing.
    """

    id: str | None = None
    url: str | None = None
    canonical_url: str | None = None
    site: str | None = None
    title: str = ""
    text: str = ""
    published: datetime | None = None
    authors: tuple[str, ...] = ()
    lang: str | None = None
    wire: str | None = None
    description: str | None = None
    removed: tuple[Removal, ...] = ()
    reason: str | None = None
    source_format: str = "html"
    """``"html"`` or ``"text"``: which extractor produced the article."""

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.text.split("\n\n") if p.strip()]

    @property
    def ok(self) -> bool:
        """True when the article has body text to work with."""
        return bool(self.text.strip())

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "canonical_url": self.canonical_url,
            "site": self.site,
            "title": self.title,
            "text": self.text,
            "published": format_datetime(self.published),
            "authors": list(self.authors),
            "lang": self.lang,
            "wire": self.wire,
            "description": self.description,
            "removed": [r.to_dict() for r in self.removed],
            "reason": self.reason,
            "source_format": self.source_format,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Article:
        return cls(
            id=_opt_str(data.get("id")),
            url=_opt_str(data.get("url")),
            canonical_url=_opt_str(data.get("canonical_url")),
            site=_opt_str(data.get("site")),
            title=str(data.get("title") or ""),
            text=str(data.get("text") or ""),
            published=parse_datetime(data.get("published")),
            authors=tuple(str(a) for a in data.get("authors") or ()),
            lang=_opt_str(data.get("lang")),
            wire=_opt_str(data.get("wire")),
            description=_opt_str(data.get("description")),
            removed=tuple(Removal.from_dict(r) for r in data.get("removed") or ()),
            reason=_opt_str(data.get("reason")),
            source_format=str(data.get("source_format") or "html"),
        )


@_quick_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """One outlet that carried a story: a member of a cluster, as listed in the JSONL output."""

    id: str
    url: str | None = None
    site: str | None = None
    title: str = ""
    published: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "site": self.site,
            "title": self.title,
            "published": format_datetime(self.published),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Source:
        """A source from its :meth:`to_dict` form; ``ValueError`` if not an object with an id.

        ``ValueError`` rather than ``KeyError`` or ``TypeError``, so that a damaged cluster line
        says what is wrong in it."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a source must be an object with an id, got {data!r:.60}")
        if data.get("id") is None:
            raise ValueError(f"a source has no id: {dict(data)!r:.80}")
        return cls(
            id=str(data["id"]),
            url=_opt_str(data.get("url")),
            site=_opt_str(data.get("site")),
            title=str(data.get("title") or ""),
            published=parse_datetime(data.get("published")),
        )


@_quick_pickle
@dataclass(frozen=True, slots=True, kw_only=True)
class Cluster:
    """A group of syndicated copies collapsed into one canonical item.

    ``to_dict`` produces exactly the fixed JSONL contract of ``newsdedup dedup`` (plus optional
    extension fields that never rename or remove a contract field).
    """

    cluster_id: str
    canonical_id: str
    member_ids: tuple[str, ...]
    title: str = ""
    text: str = ""
    url: str | None = None
    published: datetime | None = None
    wire: str | None = None
    sources: tuple[Source, ...] = ()
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    canonical_reason: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Extension fields added to the JSONL line (e.g. ``story_id``); never contract fields."""

    @property
    def size(self) -> int:
        return len(self.member_ids)

    def explain(self, articles: Mapping[str, Article] | Iterable[Article], **options: Any) -> Any:
        """Why these members were merged and why the canonical one was chosen.

        ``articles`` are the members' clean articles (by id, or an iterable of articles with
        ids); returns a :class:`newsdedup.ClusterExplanation`.
        """
        from ._explain import explain_cluster  # lazy: _explain imports this module

        if not isinstance(articles, Mapping):
            articles = {a.id: a for a in articles if a.id is not None}
        return explain_cluster(self, articles, **options)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cluster_id": self.cluster_id,
            "canonical_id": self.canonical_id,
            "member_ids": list(self.member_ids),
            "title": self.title,
            "text": self.text,
            "url": self.url,
            "published": format_datetime(self.published),
            "wire": self.wire,
            "sources": [s.to_dict() for s in self.sources],
            "first_seen": format_datetime(self.first_seen),
            "last_seen": format_datetime(self.last_seen),
            "canonical_reason": self.canonical_reason,
        }
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cluster:
        """A cluster from its :meth:`to_dict` form (a ``dedup`` output line); ``ValueError`` if malformed.

        The error names what is wrong: no ``cluster_id`` or ``canonical_id``, ``member_ids`` or
        ``sources`` not a list (a string would become one member per character), a source that
        is not an object with an id."""
        known = {
            "cluster_id", "canonical_id", "member_ids", "title", "text", "url", "published",
            "wire", "sources", "first_seen", "last_seen", "canonical_reason",
        }  # fmt: skip
        for key in ("cluster_id", "canonical_id"):
            if data.get(key) is None:
                raise ValueError(f"{key} is missing or null")
        for key in ("member_ids", "sources"):
            if not isinstance(data.get(key) or [], list | tuple):
                raise ValueError(f"{key} must be a list, got {data[key]!r:.60}")
        return cls(
            cluster_id=str(data["cluster_id"]),
            canonical_id=str(data["canonical_id"]),
            member_ids=tuple(str(m) for m in data.get("member_ids") or ()),
            title=str(data.get("title") or ""),
            text=str(data.get("text") or ""),
            url=_opt_str(data.get("url")),
            published=parse_datetime(data.get("published")),
            wire=_opt_str(data.get("wire")),
            sources=tuple(Source.from_dict(s) for s in data.get("sources") or ()),
            first_seen=parse_datetime(data.get("first_seen")),
            last_seen=parse_datetime(data.get("last_seen")),
            canonical_reason=str(data.get("canonical_reason") or ""),
            extra={k: v for k, v in data.items() if k not in known},
        )


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text else None


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheEntry:
    """What a conditional GET needs to revalidate a URL and to rebuild the result on 304."""

    url: str
    final_url: str
    etag: str | None
    last_modified: str | None
    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)
    stored_at: float = 0.0

    @classmethod
    def of(
        cls,
        url: str,
        *,
        final_url: str | None,
        etag: str | None,
        last_modified: str | None,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None,
        stored_at: float,
    ) -> CacheEntry:
        """An entry as every cache stores it: the final URL defaults to the URL, headers copied."""
        return cls(
            url=url,
            final_url=final_url or url,
            etag=etag,
            last_modified=last_modified,
            body=body,
            content_type=content_type,
            headers=dict(headers or {}),
            stored_at=stored_at,
        )


def worth_caching(etag: str | None, last_modified: str | None, body: bytes, max_bytes: int) -> bool:
    """The rule every fetch cache applies: keep a body only when it can be revalidated (an ETag
    or Last-Modified to send back) and it fits the cache's byte budget. Here, beside the entry,
    so the stores apply it without importing the fetcher (and httpx)."""
    return bool(etag or last_modified) and len(body) <= max_bytes
