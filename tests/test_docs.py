"""The docs that are generated from code are current, and the README's two commands are real."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script", ["gen_api_docs.py", "gen_cli_docs.py"])
def test_generated_docs_are_current(script: str) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--check"], check=False)
    assert result.returncode == 0, f"docs out of date: run .venv/bin/python scripts/{script}"


def test_readme_two_commands_and_ci() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "sh scripts/demo.sh" in readme
    assert "sh scripts/test.sh" in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [ln for ln in ci.splitlines() if ln.strip() and not ln.startswith("#")]
    assert commands[-1].strip() == "sh scripts/test.sh"
    for script in ("demo.sh", "test.sh"):
        assert (ROOT / "scripts" / script).exists()


def test_docs_links_resolve() -> None:
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", text):
            if target.startswith("http"):
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_every_cli_command_is_documented() -> None:
    from click import Context

    from newsdedup._cli import main

    cli_doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for name in main.list_commands(Context(main)):
        if main.get_command(Context(main), name) is not None:
            assert f"newsdedup {name}" in cli_doc, name
