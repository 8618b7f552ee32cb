"""``newsdedup copy-state SOURCE TARGET [--replace]``: copy a state store into another one.

Rebuilds a Redis index from an SQLite copy (Redis lost its data), keeps an SQLite backup of a
Redis store, or moves state between backends (:func:`newsdedup.copy_store`). A target that
already holds state is refused unless ``--replace``; the source is only read (once opened). Exit codes: 0
copied, 1 a store cannot be used (missing, damaged, busy) or the target is not empty, 2 usage.
"""

from __future__ import annotations

import click

from .._exceptions import ConfigError, MissingDependency, StoreError


@click.command("copy-state")
@click.argument("source", metavar="SOURCE")
@click.argument("target", metavar="TARGET")
@click.option(
    "--replace",
    is_flag=True,
    default=False,
    help="Empty a TARGET that already holds state (or is bound to another configuration) "
    "and copy into it; without it such a TARGET is refused and left as it was.",
)
def command(source: str, target: str, replace: bool) -> None:
    """Copy everything the state store SOURCE holds into TARGET.

    Both are --state values: an SQLite path or redis://host:port/db?name=NAME. Items with their
    texts, verified pairs, updates, emitted clusters and pending items, the high-water time,
    seen URLs, the fetch cache and learned boilerplate are copied, so dedup --state TARGET then
    does what it would do with SOURCE (see docs/state.md). SOURCE must exist; a TARGET path is
    created when missing.
    """
    from .._store import copy_store

    try:
        counts = copy_store(source, target, replace=replace)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    except MissingDependency as exc:
        raise click.ClickException(str(exc)) from exc
    except StoreError as exc:
        raise click.ClickException(f"state store: {exc}") from exc
    click.echo(
        f"newsdedup copy-state: {counts['items']} items ({counts['indexed']} indexed, {counts['pending']} pending),"
        f" {counts['edges']} pairs, {counts['clusters']} emitted clusters, {counts['updates']} updates,"
        f" {counts['seen_urls']} seen URLs, {counts['fetch_cache']} fetch-cache entries,"
        f" {counts['learners']} learners",
        err=True,
    )
