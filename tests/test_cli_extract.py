"""`newsdedup extract` prints one article as JSON, from HTML or plain text."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from newsdedup._cli import main

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Harbour reopens after storm | Coastal Gazette</title>
<meta property="og:site_name" content="Coastal Gazette">
<meta property="article:published_time" content="2024-03-05T08:30:00+00:00">
</head><body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
<article><h1>Harbour reopens after storm</h1>
<p>The harbour at Port Ellis reopened on Tuesday morning after three days of closure, the
port authority said, as crews finished clearing debris left by the storm.</p>
<p>Fishing boats were the first to leave, followed by the ferry to the islands, which had
been cancelled since Saturday when winds reached 120 kilometres an hour.</p>
<p>"We worked through the night to make the channel safe," harbour master Ruth Calder said,
adding that two damaged pontoons would be replaced next month.</p>
</article>
<footer>© 2024 Coastal Gazette. All rights reserved. <a href="/privacy">Privacy</a></footer>
</body></html>"""


def test_extract_html_file(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(PAGE, encoding="utf-8")
    result = CliRunner().invoke(main, ["extract", str(page), "--url", "https://gazette.example/harbour"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["url"] == "https://gazette.example/harbour"
    assert "harbour at Port Ellis reopened" in data["text"]
    assert "ferry to the islands" in data["text"]
    assert "Privacy" not in data["text"]
    assert data["source_format"] == "html"
    for key in ("title", "published", "site", "wire", "removed", "authors", "lang", "canonical_url"):
        assert key in data


def test_extract_plain_text_seed(fixtures: Path) -> None:
    seed = next((fixtures / "seeds").glob("002_*.txt"))
    result = CliRunner().invoke(main, ["extract", str(seed), "--compact"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["source_format"] == "text"
    assert "Ukraine's president accused North Korea" in data["text"]
    assert len(result.output.strip().splitlines()) == 1


def test_extract_stdin() -> None:
    result = CliRunner().invoke(main, ["extract", "-", "--format", "html"], input=PAGE)
    assert result.exit_code == 0, result.output
    assert "Port Ellis" in json.loads(result.output)["text"]


def test_extract_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["extract", str(tmp_path / "nope.html")])
    assert result.exit_code != 0
    assert "nope.html" in result.output


def test_extract_empty_file_reports_reason(tmp_path: Path) -> None:
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    result = CliRunner().invoke(main, ["extract", str(empty), "--format", "html"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["text"] == ""
    assert data["reason"]


def test_extract_binary_file_as_text_is_a_reasoned_skip(tmp_path: Path) -> None:
    """A gzip (or PDF, image) file given where text is expected: reason "binary", not the
    compressed bytes read as a headline."""
    import gzip

    packed = tmp_path / "story.txt.gz"
    packed.write_bytes(gzip.compress(b"A story that was compressed.\n" * 50))
    for args in ([str(packed)], [str(packed), "--format", "text"]):
        result = CliRunner().invoke(main, ["extract", *args, "--compact"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert (data["reason"], data["text"], data["title"]) == ("binary", "", "")


def test_extract_text_file_encoding_is_detected(tmp_path: Path) -> None:
    text = (
        "Le conseil municipal a adopté mardi soir le budget de l’année prochaine, après un débat "
        "de près de quatre heures sur la rénovation des écoles et le prix des cantines."
    )
    legacy = tmp_path / "budget.txt"
    legacy.write_bytes(text.encode("cp1252"))
    result = CliRunner().invoke(main, ["extract", str(legacy), "--compact"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["text"] == text


def test_extract_file_over_the_size_limit_is_not_read_whole(tmp_path: Path) -> None:
    import tracemalloc

    huge = tmp_path / "huge.txt"
    with huge.open("wb") as fh:
        fh.truncate(200_000_000)  # sparse: 200 MB of NULs without writing them
    tracemalloc.start()
    try:
        result = CliRunner().invoke(main, ["extract", str(huge), "--compact"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["reason"] == "too-large"
    assert peak < 60_000_000, peak  # the extractor's 20 MB limit and a byte, not the file
