"""The ``newsdedup`` command line. Each command lives in its own module of this package."""

from __future__ import annotations

import importlib

import click

from .._version import __version__

# name -> module that defines a click command called ``command``; imported lazily so that
# ``newsdedup extract`` does not pay for the crawler's imports.
_COMMANDS: dict[str, str] = {
    "crawl": "newsdedup._cli.crawl",
    "dedup": "newsdedup._cli.dedup",
    "export": "newsdedup._cli.export",
    "demo": "newsdedup._cli.demo",
    "extract": "newsdedup._cli.extract",
    "explain": "newsdedup._cli.explain",
    "report": "newsdedup._cli.report",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _COMMANDS.get(cmd_name)
        if module is None:
            return None
        try:
            command = importlib.import_module(module).command
        except ModuleNotFoundError as exc:
            if exc.name == module:
                return None  # command not built in this checkout
            raise
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="newsdedup")
def main() -> None:
    """Turn a noisy stream of news pages into a clean stream of stories."""


__all__ = ["main"]
