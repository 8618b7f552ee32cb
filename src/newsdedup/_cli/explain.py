"""``newsdedup explain A B (--input FILE.jsonl | --state PATH|URL) [--json]``: why two items
were (not) merged.

The input file (``dedup`` input format) is deduplicated exactly as ``newsdedup dedup`` would
with the same settings -- or, with ``--state``, the items and verified pairs come from a state
store (read only, with the settings it was built with) --, stories are assigned over all
clusters, then the pair is explained: similarity scores,
the verifier's verdict, shared passages side by side, the canonical rule, the boilerplate cut
from each and the story signals.

Exit codes: 0 explained; 1 the input or the store cannot be read; 2 bad usage, including an id that is not
in the input or whose line was unusable (the reason is printed).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

import click

from .._dedup import DedupConfig, Deduplicator, ErrorRecord, stored_settings
from .._exceptions import ConfigError, InputError, StoreError
from .._explain import cluster_index, explain_pair, read_jsonl
from .._models import Article, Cluster
from .._records import Record, RecordError, record_from_mapping
from .._story import StoryConfig, TermStats, assign_stories, profile_from_cluster
from ._common import open_state


def deduplicate_input(path: str, config: DedupConfig) -> Deduplicator:
    """Every usable line of ``path`` added to a fresh in-memory :class:`Deduplicator`."""
    deduper = Deduplicator(config=config)
    batch: list[Record] = []
    for number, data in read_jsonl(path):
        try:
            batch.append(record_from_mapping(data, line=number))
        except RecordError as exc:
            deduper.errors.append(_error(number, data, exc))
    deduper.add_many(batch)
    return deduper


def _error(number: int, data: dict[str, object], exc: RecordError) -> ErrorRecord:
    rid = data.get("id")
    return ErrorRecord(
        line=number, id=rid if isinstance(rid, str) else None, reason=exc.reason, message=str(exc)
    )


def get_articles(deduper: Deduplicator, ids: Iterable[str]) -> dict[str, Article]:
    """Clean articles by id from a deduplicator (in memory, or backed by a state store).

    Raises ``click.BadParameter`` naming the first unknown id and, when its line was
    unusable, why.
    """
    out: dict[str, Article] = {}
    for item_id in ids:
        try:
            out[item_id] = deduper.article(item_id)
        except KeyError:
            why = next((e.reason for e in deduper.errors if e.id == item_id), None)
            detail = f" (its line is unusable: {why})" if why else ""
            raise click.BadParameter(f"id {item_id!r} is not in the input{detail}") from None
    return out


@click.command("explain")
@click.argument("a", type=str)
@click.argument("b", type=str)
@click.option(
    "-i", "--input", "input_path", default=None, type=str, metavar="FILE.jsonl",
    help="The dedup input (JSONL, .gz ok, - for stdin) that holds both ids.",
)  # fmt: skip
@click.option(
    "--state", "state", default=None, type=str, metavar="PATH|URL",
    help="Take the items from this state store (as written by dedup/crawl --state) instead of --input.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--threshold", type=float, default=None, help="Dedup Jaccard threshold [default: 0.5].")
@click.option(
    "--containment", type=float, default=None, help="Containment for truncated copies [default: 0.7]."
)
@click.option(
    "--story-window", type=str, default="72h", show_default=True, metavar="DURATION",
    help="Stories only join clusters published this close (30m, 72h, 7d; 'none' for no limit).",
)  # fmt: skip
def command(
    a: str,
    b: str,
    input_path: str | None,
    state: str | None,
    as_json: bool,
    threshold: float | None,
    containment: float | None,
    story_window: str,
) -> None:
    """Explain why items A and B were or were not merged, and whether they share a story.

    The items come from --input (deduplicated here) or from a --state store (exactly one)."""
    if (input_path is None) == (state is None):
        raise click.UsageError("give exactly one of --input FILE.jsonl or --state PATH|URL")
    settings: dict[str, float] = {}
    if threshold is not None:
        settings["threshold"] = threshold
    if containment is not None:
        settings["containment_threshold"] = containment
    try:
        config = DedupConfig(**settings)  # type: ignore[arg-type]
        story_config = _story_config(story_window)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if state is not None:
        _explain_stored(a, b, state, settings, story_config, as_json)
        return
    assert input_path is not None
    try:
        deduper = deduplicate_input(input_path, config)
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    _explain(deduper, a, b, story_config, as_json)


def _explain_stored(
    a: str, b: str, state: str, settings: dict[str, float], story_config: StoryConfig, as_json: bool
) -> None:
    """Explain a pair held by a store: its settings (plus --threshold/--containment, which
    must not change signatures), its items, its verified pairs; nothing is written to it."""
    store = open_state(state, read_only=True)
    try:
        stored = store.stored_config()
        if stored is None:
            raise click.ClickException(f"state store: {state} holds no dedup state yet")
        try:
            config = DedupConfig(**{**stored_settings(stored), **settings})
        except (ConfigError, TypeError) as exc:
            raise click.UsageError(str(exc)) from None
        deduper = Deduplicator(config=config, store=store)
        _explain(deduper, a, b, story_config, as_json)
    except StoreError as exc:
        raise click.ClickException(f"state store: {exc}") from exc
    finally:
        store.close()


def _explain(deduper: Deduplicator, a: str, b: str, story_config: StoryConfig, as_json: bool) -> None:
    config = deduper.config
    articles = get_articles(deduper, [a, b])
    clusters: list[Cluster] = assign_stories(deduper.clusters(), config=story_config)
    profiles = [profile_from_cluster(c, config=story_config) for c in clusters]
    explanation = explain_pair(
        articles[a],
        articles[b],
        config=config,
        story_config=story_config,
        stats=TermStats.from_profiles(profiles),
        cluster_of=cluster_index(clusters),
    )
    if as_json:
        click.echo(json.dumps(explanation.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(explanation.format_text(), nl=False)


def _story_config(window: str) -> StoryConfig:
    from .._dedup import parse_window

    if window.strip().lower() in {"none", "off", "0"}:
        return StoryConfig(window=None)
    return StoryConfig(window=parse_window(window))
