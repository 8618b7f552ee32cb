"""``newsdedup export --state PATH|URL [-o OUT.jsonl]``: every cluster a store holds.

Same JSONL contract as ``newsdedup dedup`` (one cluster per line, sorted by ``cluster_id``),
recomputed from the stored items and verified pairs, so it is right even after a killed run.
``-o`` is written atomically (temp file in the same directory, fsync, ``os.replace``). The store
is only read: an export never marks clusters as emitted and never creates a store.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .._dedup import DedupConfig, Deduplicator
from .._exceptions import ConfigError, MissingDependency, StoreError
from .dedup import _atomic_writer


@click.command("export")
@click.option("--state", "state", required=True, metavar="PATH|URL", help="The store to export.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write clusters here (atomically) instead of stdout.",
)
def command(state: str, output: Path | None) -> None:
    """Write every cluster of a --state store as JSONL (the dedup output contract)."""
    from .._store import open_store

    try:
        store = open_store(state, create=False) if "://" not in state else open_store(state)
    except StoreError as exc:
        raise click.ClickException(f"state store: {exc}") from exc
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--state") from exc
    except MissingDependency as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        stored = store.stored_config()
        if stored is None:
            raise click.ClickException(f"state store: {state} holds no dedup state yet")
        try:
            config = DedupConfig(**{k: v for k, v in stored.items() if k in DedupConfig.__dataclass_fields__})
        except (ConfigError, TypeError) as exc:
            raise click.ClickException(f"state store: stored configuration is unusable: {exc}") from exc
        deduper = Deduplicator(config=config, store=store)
        count = 0
        if output is None or str(output) == "-":
            out = sys.stdout.buffer
            for cluster in deduper.iter_clusters(refresh=False):
                out.write((json.dumps(cluster.to_dict(), ensure_ascii=False) + "\n").encode("utf-8"))
                count += 1
            out.flush()
        else:
            with _atomic_writer(output) as fh:
                for cluster in deduper.iter_clusters(refresh=False):
                    fh.write(json.dumps(cluster.to_dict(), ensure_ascii=False) + "\n")
                    count += 1
        click.echo(f"newsdedup export: {len(deduper)} items, {count} clusters", err=True)
    except StoreError as exc:
        raise click.ClickException(f"state store: {exc}") from exc
    finally:
        store.close()
