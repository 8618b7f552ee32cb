"""``newsdedup extract FILE [--url URL]``: print one page as a clean article in JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .._exceptions import NewsdedupError
from .._extract import ExtractConfig, extract
from .._models import Article
from .._text import clean_text


@click.command("extract")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--url", default=None, help="The page's URL (selects publisher rules, resolves links).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "html", "text"]),
    default="auto",
    show_default=True,
    help="Input kind; auto treats .txt files and input without tags as plain text.",
)
@click.option("--compact", is_flag=True, help="One line of JSON instead of indented output.")
def command(file: Path, url: str | None, fmt: str, compact: bool) -> None:
    """Extract the clean article from FILE (HTML or plain text; - for stdin) and print it as JSON."""
    limit = ExtractConfig().max_bytes
    try:  # at most one byte over the extractor's limit: a huge file is not read whole
        if str(file) == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with file.open("rb") as fh:
                data = fh.read(limit + 1)
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror or exc}") from exc
    if len(data) > limit:
        _print(Article(url=url, reason="too-large"), compact)
        return
    if fmt == "auto":
        head = data[:4096].lstrip().lower()
        is_text = file.suffix.lower() == ".txt" or not (
            head.startswith(b"<") or b"<html" in head or b"<p" in head
        )
        fmt = "text" if is_text else "html"
    try:
        # both take the bytes: the encoding is detected, a binary file is reason "binary"
        article = clean_text(data, url=url) if fmt == "text" else extract(data, url=url)
    except NewsdedupError as exc:
        raise click.ClickException(str(exc)) from exc
    _print(article, compact)


def _print(article: Article, compact: bool) -> None:
    click.echo(json.dumps(article.to_dict(), ensure_ascii=False, indent=None if compact else 2))
