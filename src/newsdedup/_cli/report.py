"""``newsdedup report CLUSTERS.jsonl -o report.html [--items ITEMS.jsonl]``: one HTML page.

The page lists stories, their clusters, every outlet and (with ``--items``, the original dedup
input) what each member's text changes against the canonical text. It is self-contained: inline
CSS, no network, everything escaped.

Exit codes: 0 written; 1 an input cannot be read, a cluster line is malformed (named by file and
line), a non-empty CLUSTERS file holds no cluster line (the dedup input given by mistake), or the
output cannot be written; 2 bad usage.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .._exceptions import ConfigError, InputError
from .._report import load_clusters, load_items, render_report, write_report
from .._story import StoryConfig


@click.command("report")
@click.argument("clusters_path", type=str, metavar="CLUSTERS.jsonl")
@click.option(
    "-o", "--output", type=str, default="-", show_default=True, metavar="FILE.html",
    help="Where to write the page (- for stdout).",
)  # fmt: skip
@click.option(
    "--items", "items_path", type=str, default=None, metavar="FILE.jsonl",
    help="The original dedup input, to show what differs per member [default: texts not provided].",
)  # fmt: skip
@click.option("--title", type=str, default="newsdedup report", show_default=True, help="Page title.")
@click.option(
    "--story-window", type=str, default="72h", show_default=True, metavar="DURATION",
    help="Time window when stories are computed here (input without story_id); 'none' for no limit.",
)  # fmt: skip
def command(clusters_path: str, output: str, items_path: str | None, title: str, story_window: str) -> None:
    """Write a self-contained HTML report of the clusters in CLUSTERS.jsonl (.gz ok, - for stdin)."""
    from .._dedup import parse_window

    try:
        window = None if story_window.strip().lower() in {"none", "off", "0"} else parse_window(story_window)
        story_config = StoryConfig(window=window)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        clusters = load_clusters(clusters_path)
        items = None
        if items_path is not None:
            items = load_items(items_path, {m for c in clusters for m in c.member_ids})
    except InputError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    try:
        if output == "-":
            page = render_report(clusters, items, title=title, story_config=story_config)
            sys.stdout.buffer.write(page.encode("utf-8"))
            sys.stdout.buffer.flush()
        else:
            write_report(Path(output), clusters, items, title=title, story_config=story_config)
    except OSError as exc:
        click.echo(f"error: cannot write {output}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    if output != "-":
        click.echo(f"wrote {output}: {len(clusters)} clusters", err=True)
