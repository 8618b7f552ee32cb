"""``newsdedup demo``: serve the bundled invented news site on 127.0.0.1, crawl it, show stories.

Needs no network and finishes in a few seconds; it is the README's first command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .._crawl import CrawlResult
from .._urls import host_of
from ._common import distinct_outputs, errors_option, file_option, output_errors, write_jsonl
from .crawl import summary_line


def _outlets(result: CrawlResult, names: dict[str, str]) -> list[list[str]]:
    rows = []
    for cluster in result.clusters:
        outlets = []
        for source in cluster.sources:
            name = source.site or names.get(host_of(source.url or ""), host_of(source.url or ""))
            if name not in outlets:
                outlets.append(name)
        rows.append(outlets)
    return rows


def _print_table(result: CrawlResult, names: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    outlets = _outlets(result, names)
    order = sorted(
        range(len(result.clusters)), key=lambda i: (-result.clusters[i].size, result.clusters[i].title)
    )
    if console.is_terminal:
        table = Table(title="Stories found on the demo site", show_lines=False)
        table.add_column("#", justify="right")
        table.add_column("Story (canonical title)", overflow="fold")
        table.add_column("Copies", justify="right")
        table.add_column("Wire")
        table.add_column("Outlets", overflow="fold")
        for n, i in enumerate(order, 1):
            c = result.clusters[i]
            table.add_row(str(n), c.title, str(c.size), c.wire or "-", ", ".join(outlets[i]))
        console.print(table)
    else:
        click.echo("Stories found on the demo site")
        for n, i in enumerate(order, 1):
            c = result.clusters[i]
            click.echo(
                f"{n:2d}. {c.title}  [{c.size} {'copy' if c.size == 1 else 'copies'}; wire: {c.wire or '-'}]"
            )
            click.echo(f"    outlets: {', '.join(outlets[i])}")
            click.echo(f"    canonical: {c.canonical_id}")


@click.command("demo")
@click.option("--json", "as_json", is_flag=True, help="Print the clusters as JSONL instead of a table.")
@file_option("-o", "--output", help="Also write the clusters as JSONL to this file.")
@errors_option("Write the crawl's per-URL failures here as JSONL.")
@click.option("--threshold", type=float, default=None, help="Dedup word-shingle Jaccard [default: 0.5].")
def command(as_json: bool, output: Path | None, errors_path: Path | None, threshold: float | None) -> None:
    """Crawl a bundled, invented news site (5 publishers, shared wire stories) and show the stories.

    Runs offline: the site is served from this process on 127.0.0.1 and stopped at the end.
    """
    from .._demo import DemoSite, run_demo

    distinct_outputs({"--output": output, "--errors": errors_path})

    with DemoSite() as site:
        result = run_demo(site, threshold=threshold)
        names = site.names
    if as_json:
        for cluster in result.clusters:
            sys.stdout.write(json.dumps(cluster.to_dict(), ensure_ascii=False) + "\n")
    else:
        _print_table(result, names)
    with output_errors():
        if output is not None:
            write_jsonl(output, (c.to_dict() for c in result.clusters))
        if errors_path is not None:
            write_jsonl(errors_path, (e.to_dict() for e in result.errors))
    summary = "demo: " + summary_line(result.stats)
    if as_json:
        click.echo(summary, err=True)
    else:
        click.echo(summary)
        for err in result.errors:
            click.echo(f"  skipped {err.url} ({err.error}: {err.detail})")
