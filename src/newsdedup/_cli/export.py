"""``newsdedup export --state PATH|URL [-o OUT.jsonl|OUT.parquet]``: every cluster a store holds.

Same JSONL contract as ``newsdedup dedup`` (one cluster per line, sorted by ``cluster_id``),
recomputed from the stored items and verified pairs, so it is right even after a killed run.
``-o`` is written atomically (temp file in the same directory, fsync, ``os.replace``). The store
is only read: an export never marks clusters as emitted and never creates a store. Story ids
(``story_id``, as ``dedup`` writes them) are assigned over all clusters, which then are held in
memory; ``--no-stories`` streams them without. ``-o OUT.parquet`` (or ``.pq``) writes the same
fields as a Parquet file instead (the ``parquet`` extra; see docs/formats.md).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path

import click

from .._dedup import DedupConfig, Deduplicator, stored_settings
from .._exceptions import ConfigError, MissingDependency, StoreError
from .._io import output_format, require_format, write_parquet
from .._models import Cluster
from ._common import atomic_writer, open_state, output_option, parse_story_window, story_options


@click.command("export")
@click.option("--state", "state", required=True, metavar="PATH|URL", help="The store to export.")
@output_option
@story_options
def command(state: str, output: Path | None, story_window: str, stories: bool) -> None:
    """Write every cluster of a --state store as JSONL (the dedup output contract).

    OUT ending in .parquet or .pq gets the same fields as a Parquet file instead.
    """
    try:
        story_seconds = parse_story_window(story_window)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--story-window") from exc
    parquet = output_format(output) == "parquet"
    if parquet:
        try:
            require_format("parquet")
        except MissingDependency as exc:
            raise click.ClickException(str(exc)) from exc

    store = open_state(state, read_only=True)
    try:
        stored = store.stored_config()
        if stored is None:
            raise click.ClickException(f"state store: {state} holds no dedup state yet")
        try:
            config = DedupConfig(**stored_settings(stored))
        except (ConfigError, TypeError) as exc:
            raise click.ClickException(f"state store: stored configuration is unusable: {exc}") from exc
        deduper = Deduplicator(config=config, store=store)
        clusters: Iterable[Cluster] = deduper.iter_clusters(refresh=False)
        if stories:
            from .._story import assign_stories

            clusters = assign_stories(list(clusters), window=story_seconds)
        count = 0
        if parquet:
            assert output is not None
            count = write_parquet(output, clusters)
        elif output is None or str(output) == "-":
            out = sys.stdout.buffer
            for cluster in clusters:
                out.write((json.dumps(cluster.to_dict(), ensure_ascii=False) + "\n").encode("utf-8"))
                count += 1
            out.flush()
        else:
            with atomic_writer(output) as fh:
                for cluster in clusters:
                    fh.write(json.dumps(cluster.to_dict(), ensure_ascii=False) + "\n")
                    count += 1
        click.echo(f"newsdedup export: {len(deduper)} items, {count} clusters", err=True)
    except StoreError as exc:
        raise click.ClickException(f"state store: {exc}") from exc
    finally:
        store.close()
