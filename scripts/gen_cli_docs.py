"""Write docs/cli-reference.md from the click commands' own help texts.

Generated so the reference cannot drift from the code; ``tests/test_docs.py`` checks it. Run:

    .venv/bin/python scripts/gen_cli_docs.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from newsdedup._cli import main as cli

OUT = Path(__file__).resolve().parent.parent / "docs" / "cli-reference.md"


def _help(command: click.Command, name: str) -> str:
    ctx = click.Context(command, info_name=name, terminal_width=100, max_content_width=100)
    return command.get_help(ctx)


def render() -> str:
    out = [
        "# CLI reference",
        "",
        "Generated from the commands' help by `scripts/gen_cli_docs.py`; do not edit by hand.",
        "The contracts (input and output formats, exit codes) are in [cli.md](cli.md).",
        "",
        "## `newsdedup`",
        "",
        "```text",
        _help(cli, "newsdedup"),
        "```",
        "",
    ]
    ctx = click.Context(cli, info_name="newsdedup")
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        if command is None:
            continue
        out += [f"## `newsdedup {name}`", "", "```text", _help(command, f"newsdedup {name}"), "```", ""]
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        return 0 if OUT.exists() and OUT.read_text(encoding="utf-8") == text else 1
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
