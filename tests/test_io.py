"""Input readers (JSONL, WARC, Parquet) and the Parquet writer: mapping, skips with reasons,
truncated and damaged files, bounded payloads, atomic output, missing extras."""

from __future__ import annotations

import gzip
import html
import io
import json
import os
import re
import sys
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from string import Template
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")  # the parquet and warc extras (in the test extra)
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("warcio")

from click.testing import CliRunner  # noqa: E402
from warcio.statusandheaders import StatusAndHeaders  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402

from newsdedup._cli import main  # noqa: E402
from newsdedup._exceptions import ConfigError, InputError, MissingDependency  # noqa: E402
from newsdedup._io import (  # noqa: E402
    atomic_path,
    input_format,
    output_format,
    read_jsonl,
    read_jsonl_lines,
    read_parquet,
    read_records,
    read_warc,
    require_format,
    write_parquet,
)
from newsdedup._models import Cluster, Source  # noqa: E402
from newsdedup._records import Record, RecordError, to_article  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = sorted((FIXTURES / "seeds").glob("*.txt"))
ZELENSKYY = "Zelenskyy: NKorean Officers Deployed Alongside Russians"


# -- helpers shared with test_cli_dedup.py ----------------------------------------------------


def article_page(template: str, seed: int, *, title: str, url: str) -> str:
    """A publisher page (one of the fixture templates) carrying the body of a seed article."""
    text = SEEDS[seed].read_text(encoding="utf-8")
    paragraphs = [p for p in text.split("\n\n") if p.strip()][3:]  # skip tags, title, dateline
    body = "\n".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)
    raw = (FIXTURES / "dedup" / template).read_text(encoding="utf-8")
    return Template(raw).substitute(title=html.escape(title), body=body, url=url, date="2024-10-17")


def read_until_error(items: Iterator[Any]) -> tuple[list[Any], InputError]:
    """Everything a reader yielded before the InputError it must end with, and that error."""
    got: list[Any] = []
    try:
        for item in items:
            got.append(item)
    except InputError as exc:
        return got, exc
    raise AssertionError(f"no InputError after {len(got)} items")


def http(status: str, headers: list[tuple[str, str]]) -> StatusAndHeaders:
    return StatusAndHeaders(status, headers, protocol="HTTP/1.1")


class WarcBuilder:
    """Writes real WARC records with warcio, remembering the WARC-Record-ID of each."""

    def __init__(self, fh: Any, *, gz: bool) -> None:
        self.writer = WARCWriter(fh, gzip=gz)
        self.ids: list[str] = []

    def _write(self, record: Any) -> str:
        self.writer.write_record(record)
        rid = record.rec_headers.get_header("WARC-Record-ID").strip("<>")
        self.ids.append(rid)
        return rid

    def warcinfo(self) -> str:
        return self._write(
            self.writer.create_warcinfo_record("news.warc.gz", {"software": "newsdedup-tests"})
        )

    def request(self, url: str) -> str:
        headers = http("GET / HTTP/1.1", [("Host", url.split("/")[2]), ("User-Agent", "test")])
        headers.protocol = ""
        return self._write(
            self.writer.create_warc_record(url, "request", payload=io.BytesIO(b""), http_headers=headers)
        )

    def response(
        self,
        url: str,
        body: bytes,
        *,
        status: str = "200 OK",
        content_type: str | None = "text/html; charset=utf-8",
        extra: list[tuple[str, str]] | None = None,
        warc_headers: dict[str, str] | None = None,
    ) -> str:
        headers = [("Content-Type", content_type)] if content_type is not None else []
        record = self.writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            http_headers=http(status, headers + (extra or [])),
            warc_headers_dict=warc_headers or {},
        )
        return self._write(record)

    def resource(self, url: str, body: bytes, content_type: str) -> str:
        record = self.writer.create_warc_record(
            url, "resource", payload=io.BytesIO(body), warc_content_type=content_type
        )
        return self._write(record)

    def revisit(self, url: str) -> str:
        record = self.writer.create_revisit_record(
            url,
            digest="sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ",
            refers_to_uri=url,
            refers_to_date="2024-10-17T10:00:00Z",
            http_headers=http("200 OK", [("Content-Type", "text/html")]),
        )
        return self._write(record)

    def metadata(self, url: str) -> str:
        record = self.writer.create_warc_record(
            url,
            "metadata",
            payload=io.BytesIO(b"fetchTimeMs: 120\r\n"),
            warc_content_type="application/warc-fields",
        )
        return self._write(record)


def news_warc(path: Path, *, gz: bool = True) -> dict[str, str]:
    """A small crawl: the same Reuters story on two outlets, another story, and the records a
    real crawl also holds (warcinfo, requests, metadata, an image, robots.txt, a 404, a revisit,
    a crawler-truncated capture). Returns name -> WARC-Record-ID."""
    ids: dict[str, str] = {}
    with path.open("wb") as fh:
        w = WarcBuilder(fh, gz=gz)
        ids["warcinfo"] = w.warcinfo()
        globe_url = "https://dailyglobe.example/world/2024/10/17/nkorea-officers"
        ids["request-globe"] = w.request(globe_url)
        globe = article_page("globe_portal.html", 2, title=ZELENSKYY, url=globe_url)
        ids["globe"] = w.response(globe_url, globe.encode("utf-8"))
        ids["metadata"] = w.metadata(globe_url)
        ids["robots"] = w.response(
            "https://dailyglobe.example/robots.txt",
            b"User-agent: *\nDisallow: /search\n",
            content_type="text/plain",
        )
        ids["logo"] = w.response(
            "https://dailyglobe.example/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(200), content_type="image/png"
        )
        courier_url = "https://rivertown.example/nation-world/ukraine-north-korea-officers"
        courier = article_page("rivertown_courier.html", 2, title="Ukraine says North Korean officers on its soil", url=courier_url)  # fmt: skip
        # served gzip-compressed and chunked, as many servers do (the WARC keeps it that way)
        compressed = gzip.compress(courier.encode("utf-8"))
        half = len(compressed) // 2
        chunked = b"".join(
            [
                b"%x\r\n" % half,
                compressed[:half],
                b"\r\n",
                b"%x\r\n" % (len(compressed) - half),
                compressed[half:],
                b"\r\n0\r\n\r\n",
            ]
        )
        ids["courier"] = w.response(
            courier_url,
            chunked,
            extra=[("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")],
        )
        ids["missing"] = w.response(
            "https://dailyglobe.example/gone",
            b"<html><body><h1>404 Not Found</h1></body></html>",
            status="404 Not Found",
        )
        ids["revisit"] = w.revisit(globe_url)
        hub_url = "https://newsbrief.example/p/7"
        hub = article_page("newsbrief_hub.html", 4, title="A different report", url=hub_url)
        ids["other"] = w.response(hub_url, hub.encode("utf-8"))
        ids["cut"] = w.response(
            "https://rivertown.example/long-read",
            hub.encode("utf-8")[:300],
            warc_headers={"WARC-Truncated": "length"},
        )
    return ids


# -- format selection --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("items.jsonl", "jsonl"),
        ("items.jsonl.gz", "jsonl"),
        ("items.json", "jsonl"),
        ("items", "jsonl"),
        ("-", "jsonl"),
        ("items.txt", "jsonl"),
        ("CC-NEWS-20241017.warc.gz", "warc"),
        ("crawl.WARC", "warc"),
        ("old.arc.gz", "jsonl"),  # legacy ARC is not read
        ("table.parquet", "parquet"),
        ("table.pq", "parquet"),
    ],
)
def test_input_format_by_extension(name: str, expected: str) -> None:
    assert input_format(name) == expected


def test_explicit_formats_win_and_bad_ones_are_config_errors() -> None:
    assert input_format("dump.bin", "warc") == "warc"
    assert output_format("out.jsonl", "parquet") == "parquet"
    assert output_format("out.parquet") == "parquet"
    assert output_format(None) == "jsonl"
    assert output_format("out.json") == "jsonl"
    with pytest.raises(ConfigError):
        input_format("x.jsonl", "csv")
    with pytest.raises(ConfigError):
        output_format("x.jsonl", "warc")


# -- JSONL --------------------------------------------------------------------------------------


def test_jsonl_reader_keeps_line_numbers_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl.gz"
    lines = [
        json.dumps({"id": "a", "text": "first", "published": "2024-10-17T12:00:00Z"}),
        "",
        "{broken",
        json.dumps({"id": "b", "html": "<p>x</p>", "url": "https://e.example/b"}),
    ]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    items = list(read_records(path))
    assert [type(i) for i in items] == [Record, RecordError, Record]
    assert [i.line for i in items] == [1, 3, 4]
    assert items[0].published == datetime(2024, 10, 17, 12, tzinfo=UTC)
    assert isinstance(items[1], RecordError)
    assert items[1].reason == "bad-json"
    assert [(type(i), i.line, i.id) for i in read_jsonl(path)] == [(type(i), i.line, i.id) for i in items]
    # the same lines not parsed yet (what the CLI hands the engine)
    raw = list(read_jsonl_lines(path))
    assert [r.line for r in raw] == [1, 3, 4]
    assert raw[1].raw == b"{broken\n"
    assert raw[0].parse() == items[0]
    with pytest.raises(RecordError, match="invalid JSON"):
        raw[1].parse()


def test_jsonl_broken_gzip_raises_after_the_lines_read(tmp_path: Path) -> None:
    data = gzip.compress(
        "".join(json.dumps({"id": f"i{n}", "text": "word " * 50}) + "\n" for n in range(2000)).encode()
    )
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    got, error = read_until_error(read_records(path))
    assert "cannot read" in str(error)
    assert got
    assert all(isinstance(i, Record) for i in got)


def test_jsonl_line_cap_bounds_memory_and_keeps_numbering(tmp_path: Path) -> None:
    """A gzip bomb without newlines: the over-long line is a too-large error, read and dropped a
    block at a time, and the lines after it keep their numbers."""
    path = tmp_path / "bomb.jsonl.gz"
    good = json.dumps({"id": "a", "text": "word " * 50})
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(good.encode() + b"\n")
        fh.write(b'{"id": "x", "text": "' + b"x" * 30_000_000 + b'"}\n')
        fh.write(b"\n \r\n\t\n" + good.replace('"a"', '"b"').encode() + b"\n")
        fh.write(b'{"id": "tail", "text": "' + b"y" * 30_000 + b'"}')  # no newline at the end
    tracemalloc.start()
    try:
        items = list(read_jsonl(path, max_line_bytes=1_000_000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [(type(i).__name__, i.line, i.id) for i in items] == [
        ("Record", 1, "a"),
        ("RecordError", 2, None),
        ("Record", 6, "b"),
        ("Record", 7, "tail"),
    ]
    assert isinstance(items[1], RecordError)
    assert items[1].reason == "too-large"
    assert peak < 6_000_000, peak  # nowhere near the 30 MB line
    # a line exactly at the cap is read; one byte more is not
    line = json.dumps({"id": "c", "text": "z" * 100}).encode() + b"\n"
    plain = tmp_path / "cap.jsonl"
    plain.write_bytes(line + line.replace(b'"c"', b'"d"'))
    assert [r.raw is None for r in read_jsonl_lines(plain, max_line_bytes=len(line))] == [False, False]
    assert [r.raw is None for r in read_jsonl_lines(plain, max_line_bytes=len(line) - 1)] == [True, True]


@pytest.mark.parametrize("block", [7, 1 << 20])
def test_jsonl_lines_across_blocks_and_blank_runs(
    tmp_path: Path, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines split across read blocks join up, runs of blank lines (spaces, tabs, CRLF) are
    passed over with their numbers counted, and a last line needs no newline."""
    import newsdedup._records as records

    monkeypatch.setattr(records, "_BLOCK", block)
    objs = [{"id": f"i{n}", "text": f"text number {n} " * (n + 1)} for n in range(6)]
    parts = [
        json.dumps(objs[0]), "", "  ", "\t\r", json.dumps(objs[1]) + "\r", json.dumps(objs[2]),
        "\n\n", "   " + json.dumps(objs[3]), json.dumps(objs[4]), "", json.dumps(objs[5]),
    ]  # fmt: skip
    path = tmp_path / "lines.jsonl"
    path.write_bytes("\n".join(parts).encode())
    got = [(i.line, i.id) for i in read_jsonl(path)]
    expected = [n + 1 for n, p in enumerate("\n".join(parts).split("\n")) if p.strip()]
    assert [line for line, _ in got] == expected
    assert [rid for _, rid in got] == [o["id"] for o in objs]
    # and what the parsed lines hold is the file's own line
    raw = list(read_jsonl_lines(path))
    assert [json.loads(r.raw or b"") for r in raw] == objs


def test_blank_gzip_bomb_is_read_at_memory_speed(tmp_path: Path) -> None:
    """A gzip of 200 MB of newlines (about 200 kB on disk) holds two lines; the blank runs are
    skipped without a Python step per blank line."""
    path = tmp_path / "blank.jsonl.gz"
    good = json.dumps({"id": "a", "text": "word " * 50}).encode()
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(good + b"\n")
        for _ in range(20):
            fh.write(b"\n" * 10_000_000)
        fh.write(good.replace(b'"a"', b'"b"'))
    assert [(i.line, i.id) for i in read_jsonl(path)] == [(1, "a"), (200_000_002, "b")]


# -- WARC ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False], ids=["warc.gz", "warc"])
def test_warc_pages_become_records_and_the_rest_are_reasoned_skips(tmp_path: Path, gz: bool) -> None:
    path = tmp_path / ("crawl.warc.gz" if gz else "crawl.warc")
    ids = news_warc(path, gz=gz)
    items = list(read_records(path))
    records = {i.id: i for i in items if isinstance(i, Record)}
    skips = {i.id: i for i in items if isinstance(i, RecordError)}

    assert set(records) == {ids["globe"], ids["courier"], ids["other"]}
    assert all(rid.startswith("urn:uuid:") for rid in records)
    globe = records[ids["globe"]]
    assert globe.url == "https://dailyglobe.example/world/2024/10/17/nkorea-officers"
    assert globe.content_type == "text/html; charset=utf-8"
    assert globe.published is None  # WARC-Date is the crawl date, not the story's
    assert isinstance(globe.html, bytes)
    assert b"The Daily Globe" in globe.html
    # chunked + gzip content coding undone
    courier = records[ids["courier"]]
    assert isinstance(courier.html, bytes)
    assert courier.html.startswith(b"<!DOCTYPE html>")
    assert b"Rivertown Courier" in courier.html

    assert {rid: e.reason for rid, e in skips.items()} == {
        ids["robots"]: "not-html",
        ids["logo"]: "not-html",
        ids["missing"]: "http-status",
        ids["revisit"]: "revisit",
        ids["cut"]: "truncated",
    }
    assert "404" in str(skips[ids["missing"]])
    # warcinfo, request and metadata records are not captures: neither records nor errors
    assert not {ids["warcinfo"], ids["request-globe"], ids["metadata"]} & (set(records) | set(skips))
    # ``line`` is the record's 1-based position in the file
    position = {rid: n for n, rid in enumerate(ids.values(), start=1)}
    assert all(item.line == position[item.id] for item in items)


def test_a_warc_content_length_too_big_for_an_index_is_damage_not_a_crash(tmp_path: Path) -> None:
    """warcio raised OverflowError on "Content-Length: 99999999999999999999", out of the whole
    run; it is a damaged file like any other: what was read before it comes out, then InputError."""
    path = tmp_path / "crawl.warc"
    ids = news_warc(path, gz=False)
    order = list(ids)
    assert order.index("globe") < order.index("courier") < order.index("other")
    data = path.read_bytes()
    other = data.index(ids["other"].encode())  # the WARC header of the other story's record
    length = data.index(b"Content-Length: ", other) + len(b"Content-Length: ")
    path.write_bytes(data[:length] + b"99999999999999999999" + data[length:])
    got: list[object] = []
    with pytest.raises(InputError, match="OverflowError"):
        got.extend(read_records(path))
    read = {i.id for i in got if isinstance(i, Record)}
    assert read == {ids["globe"], ids["courier"]}


def test_warc_records_extract_to_the_same_story(tmp_path: Path) -> None:
    path = tmp_path / "crawl.warc.gz"
    ids = news_warc(path)
    records = {i.id: i for i in read_warc(path) if isinstance(i, Record)}
    globe, courier = to_article(records[ids["globe"]]), to_article(records[ids["courier"]])
    assert globe.url == "https://dailyglobe.example/world/2024/10/17/nkorea-officers"
    assert globe.site == "dailyglobe.example"
    for article in (globe, courier):
        assert "North Korea" in article.text
        assert "Most read" not in article.text
        assert "Subscribe today" not in article.text


def test_warc_http_charset_is_used_for_decoding(tmp_path: Path) -> None:
    # the page's <meta> names the wrong charset; the HTTP header is right and must win
    text = (
        "Le café du coin a rouvert ses portes ce matin. « Nous avons attendu trois ans », a déclaré "
        "la propriétaire, qui a rénové la salle et la terrasse avec l'aide de la mairie. "
    ) * 4
    page = (
        '<html><head><meta charset="iso-8859-5"><title>Réouverture</title></head><body>'
        f"<article><h1>Réouverture du café</h1><p>{text}</p><p>{text}</p></article></body></html>"
    )
    path = tmp_path / "latin.warc"
    with path.open("wb") as fh:
        w = WarcBuilder(fh, gz=False)
        w.response(
            "https://cafe.example/fr/1", page.encode("cp1252"), content_type="text/html; charset=windows-1252"
        )
    (record,) = list(read_warc(path))
    assert isinstance(record, Record)
    article = to_article(record)
    assert "Le café du coin" in article.text
    assert "« Nous avons" in article.text


def test_warc_resource_records_and_missing_content_type(tmp_path: Path) -> None:
    page = article_page("globe_portal.html", 1, title="Resource capture", url="https://r.example/1").encode()
    path = tmp_path / "res.warc.gz"
    with path.open("wb") as fh:
        w = WarcBuilder(fh, gz=True)
        res = w.resource("https://r.example/1", page, "text/html; charset=utf-8")
        pdf = w.resource("https://r.example/doc.pdf", b"%PDF-1.7\n" + bytes(100), "application/pdf")
        bare = w.response("https://r.example/2", page, content_type=None)
    items = {i.id: i for i in read_warc(path)}
    assert isinstance(items[res], Record)
    assert items[res].html == page
    assert isinstance(items[pdf], RecordError)
    assert items[pdf].reason == "not-html"
    # no Content-Type at all: let the extractor look at the bytes
    assert isinstance(items[bare], Record)
    assert items[bare].content_type is None


def test_warc_payload_cap_stops_a_compression_bomb_without_memory(tmp_path: Path) -> None:
    bomb = gzip.compress(b"<html><body>" + b" " * 60_000_000, compresslevel=9)
    small = b"<html><body><p>" + b"fine " * 100 + b"</p></body></html>"
    path = tmp_path / "bomb.warc.gz"
    with path.open("wb") as fh:
        w = WarcBuilder(fh, gz=True)
        big = w.response("https://bomb.example/", bomb, extra=[("Content-Encoding", "gzip")])
        plain = w.response("https://bomb.example/big-plain", b"<p>" + b"x" * 3_000_000)
        ok = w.response("https://bomb.example/ok", small)
    tracemalloc.start()
    try:
        items = {i.id: i for i in read_warc(path, max_bytes=1_000_000)}
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(items[big], RecordError)
    assert items[big].reason == "too-large"
    assert isinstance(items[plain], RecordError)
    assert items[plain].reason == "too-large"
    assert isinstance(items[ok], Record)
    assert items[ok].html == small
    assert peak < 12_000_000, peak  # nowhere near the 60 MB the bomb expands to


def test_warc_broken_content_coding_is_a_skip(tmp_path: Path) -> None:
    path = tmp_path / "badgz.warc"
    with path.open("wb") as fh:
        w = WarcBuilder(fh, gz=False)
        bad = w.response("https://x.example/1", b"\x1f\x8b\x08\x00garbage-not-deflate" * 20, extra=[("Content-Encoding", "gzip")])  # fmt: skip
        odd = w.response("https://x.example/2", b"<p>hi</p>", extra=[("Content-Encoding", "x-unknown")])
        page = b"<!DOCTYPE html><html><body><p>already decoded by the crawler</p></body></html>"
        stored = w.response("https://x.example/3", page, extra=[("Content-Encoding", "gzip")])
    items = {i.id: i for i in read_warc(path)}
    assert items[bad].reason == "bad-content-encoding"
    assert items[odd].reason == "bad-content-encoding"
    assert isinstance(items[stored], Record)
    assert items[stored].html == page


@pytest.mark.parametrize("gz", [True, False], ids=["warc.gz", "warc"])
def test_truncated_warc_yields_what_was_read_then_fails(tmp_path: Path, gz: bool) -> None:
    full = tmp_path / "full.warc"
    ids = news_warc(full, gz=gz)
    data = full.read_bytes()
    cut = tmp_path / ("cut.warc.gz" if gz else "cut.warc")
    cut.write_bytes(data[:-40])  # the tail of the last record is gone
    got, error = read_until_error(read_warc(cut))
    assert re.search(rf"record {len(ids)} .*truncated or corrupt", str(error))
    assert ids["globe"] in {i.id for i in got}
    assert ids["other"] in {i.id for i in got}
    assert ids["cut"] not in {i.id for i in got}


def _response_without_target_uri(html: bytes) -> bytes:
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n" % len(
        html
    )
    block = http + html
    head = (
        b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000002>\r\n"
        b"WARC-Date: 2024-10-17T10:00:00Z\r\nContent-Type: application/http; msgtype=response\r\n"
        b"Content-Length: %d\r\n\r\n" % len(block)
    )
    return head + block + b"\r\n\r\n"


def test_a_response_record_without_target_uri_ends_the_file_cleanly(tmp_path: Path) -> None:
    """warcio raises AttributeError on a response record that has no WARC-Target-URI (its
    iterator cannot go on after it): the records before it are read, then an InputError says
    where and why, and ``newsdedup dedup`` writes what it read and exits 1, as for a truncated
    file (found by the reliability audit: it was a traceback and no output)."""
    path = tmp_path / "nouri.warc"
    with path.open("wb") as fh:
        url = "https://dailyglobe.example/world/2024/10/17/nkorea-officers"
        page = article_page("globe_portal.html", 2, title=ZELENSKYY, url=url)
        good = WarcBuilder(fh, gz=False).response(url, page.encode("utf-8"))
        fh.write(_response_without_target_uri(b"<html><body><p>no address</p></body></html>"))
    got, error = read_until_error(read_warc(path))
    assert [i.id for i in got] == [good]
    assert re.search(r"after record 1: AttributeError.*WARC-Target-URI", str(error))
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["dedup", str(path), "-o", str(out)])
    assert result.exit_code == 1
    assert "cannot read" in result.output
    assert [row["member_ids"] for row in map(json.loads, out.read_text().splitlines())] == [[good]]


def test_warc_damaged_or_missing_files_are_input_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.warc.gz"
    junk.write_bytes(b"this is not a web archive\n" * 10)
    with pytest.raises(InputError, match="cannot read"):
        list(read_warc(junk))
    with pytest.raises(InputError, match="cannot read"):
        list(read_warc(tmp_path / "nope.warc.gz"))
    with pytest.raises(ConfigError):
        list(read_warc(junk, max_bytes=0))


# -- Parquet input ------------------------------------------------------------------------------


def _table_rows() -> list[dict[str, Any]]:
    return [
        {"id": "p1", "text": SEEDS[0].read_text(encoding="utf-8"), "html": None, "url": "https://a.example/1",
         "title": "One", "published": datetime(2024, 10, 15, 9, tzinfo=UTC), "site": "A", "lang": "en"},
        {"id": None, "text": "no id", "html": None, "url": None, "title": None, "published": None, "site": None,
         "lang": None},
        {"id": "p3", "text": None, "html": None, "url": None, "title": None, "published": None, "site": None,
         "lang": None},
        {"id": "p4", "text": None, "html": article_page("globe_portal.html", 2, title=ZELENSKYY, url="https://g.example/4"),
         "url": "https://g.example/4", "title": None, "published": None, "site": None, "lang": "en"},
        {"id": "  ", "text": "blank id", "html": None, "url": None, "title": None, "published": None, "site": None,
         "lang": None},
    ]  # fmt: skip


def test_parquet_rows_map_like_jsonl_objects(tmp_path: Path) -> None:
    path = tmp_path / "items.parquet"
    pq.write_table(pa.Table.from_pylist(_table_rows()), path, row_group_size=2)
    assert pq.ParquetFile(path).metadata.num_row_groups == 3
    items = list(read_records(path, batch_size=2))
    assert [i.line for i in items] == [1, 2, 3, 4, 5]  # row numbers run on across row groups
    first, no_id, no_body, page, blank = items
    assert isinstance(first, Record)
    assert (first.id, first.url, first.title, first.site) == ("p1", "https://a.example/1", "One", "A")
    assert first.published == datetime(2024, 10, 15, 9, tzinfo=UTC)
    assert isinstance(page, Record)
    assert page.html is not None
    assert "The Daily Globe" in page.html
    assert [(e.reason, e.line) for e in (no_id, no_body, blank)] == [
        ("missing-id", 2),
        ("missing-body", 3),
        ("bad-id", 5),
    ]  # type: ignore[union-attr]
    assert "North Korea" in to_article(page).text


def test_parquet_string_dates_and_text_only_files(tmp_path: Path) -> None:
    path = tmp_path / "t.pq"
    table = pa.table(
        {
            "id": ["a", "b"],
            "text": ["alpha " * 40, "beta " * 40],
            "published": ["2024-10-17T08:00:00+02:00", "not a date"],
        }
    )
    pq.write_table(table, path)
    a, b = read_parquet(path)
    assert isinstance(a, Record)
    assert a.published == datetime(2024, 10, 17, 6, tzinfo=UTC)
    assert isinstance(b, Record)
    assert b.published is None


def test_parquet_only_reads_the_columns_it_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "wide.parquet"
    pq.write_table(pa.table({"id": ["a"], "text": ["x " * 10], "embedding": [[0.1] * 512]}), path)
    seen: list[Any] = []
    original = pq.ParquetFile.iter_batches

    def spy(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        seen.append(kwargs.get("columns"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    assert [i.id for i in read_parquet(path)] == ["a"]
    assert seen == [["id", "text"]]


def test_parquet_without_needed_columns_is_an_input_error(tmp_path: Path) -> None:
    no_id = tmp_path / "noid.parquet"
    pq.write_table(pa.table({"key": ["a"], "text": ["x"]}), no_id)
    with pytest.raises(InputError, match="no 'id' column"):
        list(read_parquet(no_id))
    no_body = tmp_path / "nobody.parquet"
    pq.write_table(pa.table({"id": ["a"], "title": ["x"]}), no_body)
    with pytest.raises(InputError, match="neither an 'html' nor a 'text' column"):
        list(read_parquet(no_body))
    with pytest.raises(InputError, match="stdin"):
        list(read_records("-", format="parquet"))


def test_damaged_parquet_is_an_input_error(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"id": [str(n) for n in range(100)], "text": ["t " * 50] * 100}), good)
    data = good.read_bytes()
    for name, content in [("junk.parquet", b"PAR1 not really"), ("cut.parquet", data[: len(data) // 2])]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(InputError, match="cannot read"):
            list(read_parquet(path))
    with pytest.raises(InputError, match="cannot read"):
        list(read_parquet(tmp_path / "missing.parquet"))


# -- Parquet output -----------------------------------------------------------------------------


def _clusters(n: int) -> list[Cluster]:
    out = []
    for i in range(n):
        when = datetime(2024, 10, 17, 12, i, tzinfo=UTC)
        sources = tuple(
            Source(
                id=f"c{i}-{k}",
                url=f"https://s{k}.example/{i}",
                site=f"s{k}.example",
                title=f"T{i}",
                published=when,
            )
            for k in range(i % 3 + 1)
        )
        out.append(
            Cluster(
                cluster_id=f"cl{i:03d}",
                canonical_id=sources[0].id,
                member_ids=tuple(s.id for s in sources),
                title=f"Title {i} — ünïcode",
                text=f"Body of story {i}.",
                url=sources[0].url,
                published=when if i % 2 == 0 else None,
                wire="Reuters" if i % 2 else None,
                sources=sources,
                first_seen=when,
                last_seen=when,
                canonical_reason="earliest",
                extra={"story_id": f"st{i // 2}"},
            )
        )
    return out


def test_write_parquet_round_trips_the_jsonl_fields_in_row_groups(tmp_path: Path) -> None:
    clusters = _clusters(7)
    path = tmp_path / "clusters.parquet"
    assert write_parquet(path, iter(clusters), row_group_size=3) == 7
    handle = pq.ParquetFile(path)
    assert handle.metadata.num_row_groups == 3
    schema = handle.schema_arrow
    assert schema.field("member_ids").type == pa.list_(pa.string())
    assert pa.types.is_struct(schema.field("sources").type.value_type)
    assert schema.field("story_id").type == pa.string()
    rows = handle.read().to_pylist()
    for row, cluster in zip(rows, clusters, strict=True):
        expected = cluster.to_dict()
        assert set(row) == set(expected)
        back = Cluster.from_dict(row)
        assert back.to_dict() == expected
    assert [f.name for f in schema][:9] == [
        "cluster_id", "canonical_id", "member_ids", "title", "text", "url", "published", "wire", "sources",
    ]  # fmt: skip
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_write_parquet_typed_and_json_extension_fields(tmp_path: Path) -> None:
    base = _clusters(2)
    clusters = [
        Cluster(**{**{f: getattr(c, f) for f in c.__dataclass_fields__}, "extra": extra})  # type: ignore[arg-type]
        for c, extra in zip(base, [{"score": 0.5, "tags": ["a", "b"]}, {"score": None, "n": 3}], strict=True)
    ]
    path = tmp_path / "ext.parquet"
    write_parquet(path, clusters)
    table = pq.read_table(path)
    assert table.schema.field("score").type == pa.float64()
    assert table.schema.field("n").type == pa.int64()
    assert table.column("tags").to_pylist() == ['["a", "b"]', None]
    assert table.column("n").to_pylist() == [None, 3]


def test_write_parquet_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    write_parquet(path, _clusters(2))
    before = path.read_bytes()
    late = _clusters(3)
    object.__setattr__(late[2], "extra", {"story_id": "x", "surprise": 1})

    with pytest.raises(ConfigError, match="surprise"):  # an iterator's late new field cannot be a column
        write_parquet(path, iter(late), row_group_size=2)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]
    # from a list every field is known up front
    write_parquet(path, late, row_group_size=2)
    assert pq.read_table(path).column("surprise").to_pylist() == [None, None, 1]


def test_write_parquet_accepts_dicts_and_empty_input(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    assert write_parquet(path, [c.to_dict() for c in _clusters(2)]) == 2
    assert pq.read_table(path).column("story_id").to_pylist() == ["st0", "st0"]
    empty = tmp_path / "empty.parquet"
    assert write_parquet(empty, []) == 0
    assert pq.read_table(empty).num_rows == 0


# -- missing extras -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "module", "extra"), [("warc", "warcio", "warc"), ("parquet", "pyarrow", "parquet")]
)
def test_missing_extra_names_the_pip_install(
    monkeypatch: pytest.MonkeyPatch, fmt: str, module: str, extra: str
) -> None:
    for name in list(sys.modules):
        if name == module or name.startswith(module + "."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingDependency, match=rf'pip install "newsdedup\[{extra}\]"'):
        require_format(fmt)
    require_format("jsonl")  # needs nothing
    with pytest.raises(MissingDependency):
        list(read_records(os.devnull, format=fmt))


def test_parquet_date_columns_and_unconvertible_cells(tmp_path: Path) -> None:
    import datetime as dt

    dates = tmp_path / "dates.parquet"
    pq.write_table(pa.table({"id": ["a"], "text": ["t " * 30], "published": [dt.date(2024, 10, 17)]}), dates)
    (a,) = read_parquet(dates)
    assert isinstance(a, Record)
    assert a.published == datetime(2024, 10, 17, tzinfo=UTC)
    # seconds since the epoch far past year 9999: pyarrow stores it, Python cannot hold it
    far = pa.array([1_700_000_000, 400_000_000_000], type=pa.timestamp("s", tz="UTC"))
    odd = tmp_path / "odd.parquet"
    pq.write_table(pa.table({"id": ["ok", "far"], "text": ["t " * 30, "u " * 30], "published": far}), odd)
    first, second = read_parquet(odd)
    assert isinstance(first, Record)
    assert first.published == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert isinstance(second, Record)  # the bad date is dropped, the row is kept (as in JSONL)
    assert second.published is None


def test_parquet_reading_holds_row_groups_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "groups.parquet"
    writer = None
    for group in range(8):  # 8 row groups of about 1 MB each
        table = pa.table({"id": [f"{group}-{i}" for i in range(200)], "text": [os.urandom(2500).hex() for _ in range(200)]})  # fmt: skip
        writer = writer or pq.ParquetWriter(path, table.schema, compression="none")
        writer.write_table(table)
    assert writer is not None
    writer.close()
    size = path.stat().st_size
    peak, count = 0, 0
    for _ in read_parquet(path):
        count += 1
        peak = max(peak, pa.total_allocated_bytes())
    assert count == 1600
    assert peak < 0.75 * size, (peak, size)  # pyarrow's default read-ahead buffers the whole file


def test_a_temporary_output_left_by_a_killed_writer_is_removed_by_the_next_one(tmp_path: Path) -> None:
    """Audit S10: a run killed while writing OUT left its hidden ``.OUT.<pid>.*.tmp`` behind
    for good. The next write of the same OUT removes those whose process is gone; one of a live
    process (another run writing now) and unrelated files stay."""
    import subprocess

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(gone.stdout)  # that process has exited
    target = tmp_path / "out.jsonl"
    stale = tmp_path / f".out.jsonl.{dead_pid}.abc123.tmp"
    live = tmp_path / f".out.jsonl.{os.getppid()}.def456.tmp"
    other = tmp_path / f".other.jsonl.{dead_pid}.ghi789.tmp"
    for path in (stale, live, other):
        path.write_bytes(b"half a file")
    with atomic_path(target) as tmp:
        Path(tmp).write_text("done\n")
        assert Path(tmp).name.startswith(f".out.jsonl.{os.getpid()}.")
    assert target.read_text() == "done\n"
    assert not stale.exists()
    assert live.exists()
    assert other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, live.name, other.name])


def test_atomic_output_follows_a_symlink_to_the_file_it_names(tmp_path: Path) -> None:
    """The link was replaced by a plain file and the file it pointed to never written."""
    real = tmp_path / "real"
    real.mkdir()
    (real / "out.jsonl").write_text("old\n")
    link = tmp_path / "out.jsonl"
    link.symlink_to(real / "out.jsonl")
    with atomic_path(link) as tmp:
        Path(tmp).write_text("new\n")
    assert link.is_symlink()
    assert (real / "out.jsonl").read_text() == "new\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_atomic_output_writes_into_a_fifo_instead_of_replacing_it(tmp_path: Path) -> None:
    """A named pipe (or a device) is no file to replace: the reader waiting on it got nothing
    and the pipe became a plain file. It is written in place."""
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    with atomic_path(fifo) as tmp, open(tmp, "w") as fh:
        fh.write("line\n")
    reader.join(timeout=10)
    assert got == [b"line\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_atomic_output_keeps_the_mode_of_the_file_it_replaces_or_the_umask_s(tmp_path: Path) -> None:
    """mkstemp makes 0600 files: every output came out unreadable to the group and others, and
    an existing 0644 file became 0600."""
    import stat

    old = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.jsonl"
        with atomic_path(fresh) as tmp:
            Path(tmp).write_text("x\n")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        kept = tmp_path / "kept.jsonl"
        kept.write_text("old\n")
        kept.chmod(0o640)
        with atomic_path(kept) as tmp:
            Path(tmp).write_text("new\n")
        assert stat.S_IMODE(kept.stat().st_mode) == 0o640
        assert kept.read_text() == "new\n"
    finally:
        os.umask(old)


# -- gzip by content, byte order mark ---------------------------------------------------------


def _news_lines(n: int = 3) -> bytes:
    return "".join(
        json.dumps({"id": f"s{i}", "text": f"Story {i}: " + "the council voted on the budget " * 12}) + "\n"
        for i in range(n)
    ).encode()


@pytest.mark.parametrize("name", ["ITEMS.JSONL.GZ", "items.jsonl.Gz", "items.jsonl", "export"])
def test_jsonl_gzip_is_recognised_by_its_bytes_whatever_the_name(tmp_path: Path, name: str) -> None:
    """Only a lower-case ``.gz`` was decompressed: an upper-case one (as Windows tools write) or
    a gzip saved without the extension made every line ``bad-encoding``, with exit code 0."""
    path = tmp_path / name
    path.write_bytes(gzip.compress(_news_lines()))
    items = list(read_jsonl(path))
    assert [(type(i), i.line, i.id) for i in items] == [(Record, n + 1, f"s{n}") for n in range(3)]


def test_jsonl_named_gz_that_is_not_gzip_is_a_read_error(tmp_path: Path) -> None:
    path = tmp_path / "items.JSONL.GZ"
    path.write_bytes(_news_lines())
    _got, error = read_until_error(read_jsonl(path))
    assert "cannot read" in str(error)
    assert "gzip" in str(error)


def test_gzip_on_stdin_is_decompressed() -> None:
    """``cat items.jsonl.gz | newsdedup dedup -`` read the gzip bytes as text lines."""
    result = CliRunner().invoke(main, ["dedup", "-"], input=gzip.compress(_news_lines()))
    assert result.exit_code == 0, result.output
    assert "3 items" in result.stderr
    assert "0 unusable" in result.stderr


@pytest.mark.skipif(not hasattr(os, "pipe"), reason="no pipes here")
def test_gzip_magic_split_across_pipe_writes_is_still_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipe hands out what was written so far: a first write of one byte must not hide the
    gzip signature, nor may peeking lose that byte."""
    import threading
    import time

    from newsdedup._records import read_lines

    data = gzip.compress(_news_lines())
    rfd, wfd = os.pipe()

    def writer() -> None:
        os.write(wfd, data[:1])
        time.sleep(0.2)
        os.write(wfd, data[1:])
        os.close(wfd)

    thread = threading.Thread(target=writer, daemon=True)
    with open(rfd, "rb") as pipe:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(pipe))
        thread.start()
        lines = list(read_lines("-"))
    thread.join(timeout=10)
    assert [n for n, _ in lines] == [1, 2, 3]
    assert all(raw is not None and raw.startswith(b'{"id": "s') for _, raw in lines)


@pytest.mark.parametrize("gz", [False, True], ids=["jsonl", "jsonl.gz"])
def test_utf8_bom_at_the_start_of_jsonl_is_dropped(tmp_path: Path, gz: bool) -> None:
    """Notepad and PowerShell start a UTF-8 file with a byte order mark: line 1 was
    ``bad-json`` ("Unexpected UTF-8 BOM"). Only the start of the stream is a BOM's place: one
    later is still a bad line."""
    lines = _news_lines().split(b"\n")
    data = b"\xef\xbb\xbf" + lines[0] + b"\n" + lines[1] + b"\n\xef\xbb\xbf" + lines[2] + b"\n"
    path = tmp_path / ("bom.jsonl.gz" if gz else "bom.jsonl")
    path.write_bytes(gzip.compress(data) if gz else data)
    items = list(read_jsonl(path))
    assert [(type(i), i.line) for i in items] == [(Record, 1), (Record, 2), (RecordError, 3)]
    assert items[0].id == "s0"
    assert isinstance(items[2], RecordError)
    assert items[2].reason == "bad-json"


def test_utf8_bom_on_stdin_is_dropped() -> None:
    result = CliRunner().invoke(main, ["dedup", "-"], input=b"\xef\xbb\xbf" + _news_lines())
    assert result.exit_code == 0, result.output
    assert "3 items" in result.stderr
    assert "0 unusable" in result.stderr


# -- WARC: damaged gzip members, warcio's own warnings ----------------------------------------


def _three_pages(gz: bool) -> tuple[list[bytes], list[str]]:
    """Three response records, each written on its own (one gzip member each when ``gz``)."""
    parts, ids = [], []
    for n, (template, seed) in enumerate(
        [("globe_portal.html", 2), ("globe_portal.html", 3), ("globe_portal.html", 4)]
    ):
        url = f"https://dailyglobe.example/world/2024/10/17/story-{n}"
        buf = io.BytesIO()
        ids.append(
            WarcBuilder(buf, gz=gz).response(
                url, article_page(template, seed, title=f"Story {n}", url=url).encode()
            )
        )
        parts.append(buf.getvalue())
    return parts, ids


def test_warc_corrupt_gzip_member_error_is_printable_and_bounded(tmp_path: Path) -> None:
    """A damaged gzip member in a .warc.gz: warcio then reads the compressed bytes as the
    record's first line and quotes it, and the error put that binary on the terminal."""
    parts, ids = _three_pages(gz=True)
    middle = bytearray(parts[1])
    middle[len(middle) // 2] ^= 0xFF
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(parts[0] + bytes(middle) + parts[2])
    got, error = read_until_error(read_warc(path))
    assert [i.id for i in got] == ids[:1]
    message = str(error)
    assert message.startswith(f"cannot read {path}: after record 1")
    assert message.isascii(), message
    assert message.isprintable(), message
    assert len(message) < 600
    assert "\\x1f\\x8b" in message
    assert "gzip member" in message
    result = CliRunner().invoke(main, ["dedup", str(path), "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 1
    assert result.stderr.isascii()
    assert all(line.isprintable() for line in result.stderr.splitlines())


def test_warc_content_length_warning_is_ours_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A record 5 bytes longer than its Content-Length: warcio printed a three-line
    ``WARNING: Record not followed by newline ... Offset: ... Remainder: b'...'`` to stderr
    itself. It is a warning of ours now, naming the file and record; the file is still read."""
    parts, ids = _three_pages(gz=False)
    length = int(re.search(rb"Content-Length: (\d+)", parts[1]).group(1))  # type: ignore[union-attr]
    middle = parts[1].replace(b"Content-Length: %d" % length, b"Content-Length: %d" % (length - 5), 1)
    path = tmp_path / "crawl.warc"
    path.write_bytes(parts[0] + middle + parts[2])
    with caplog.at_level("WARNING", logger="newsdedup"):
        items = list(read_warc(path))
    assert [i.id for i in items] == ids
    assert "Remainder" not in capsys.readouterr().err
    warnings = [r.getMessage() for r in caplog.records if r.name == "newsdedup"]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{path}: record 2 does not end where its Content-Length says")
    result = CliRunner().invoke(main, ["dedup", str(path), "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    assert "Remainder" not in result.stderr
    assert "record 2 does not end where its Content-Length says" in result.stderr
