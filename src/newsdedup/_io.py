"""Streaming input readers (JSONL, WARC, Parquet) and a Parquet writer for clusters.

Every reader is a generator of :class:`~newsdedup._records.Record` (a usable item) or
:class:`~newsdedup._records.RecordError` (an unusable one, with the ``reason`` for the errors
file), so a caller handles all formats with one loop. Items are produced one at a time from a
bounded buffer (a JSONL line, one WARC record capped at ``max_bytes``, one Parquet record
batch): peak memory does not grow with the input file. A failure to read the file itself
(missing, truncated gzip, damaged archive) raises :class:`InputError` *after* everything read
so far was yielded, so a caller keeps what it already processed.

warcio and pyarrow are optional extras, imported only when a WARC or Parquet file is used.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import stat
import sys
import tempfile
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ._exceptions import ConfigError, InputError, MissingDependency, NewsdedupError
from ._models import Cluster
from ._records import DEFAULT_MAX_LINE_BYTES, RawLine, Record, RecordError, read_lines, record_from_mapping

__all__ = [
    "DEFAULT_MAX_BYTES",
    "INPUT_FORMATS",
    "OUTPUT_FORMATS",
    "input_format",
    "output_format",
    "read_jsonl",
    "read_jsonl_lines",
    "read_parquet",
    "read_records",
    "read_warc",
    "require_format",
    "write_parquet",
]

logger = logging.getLogger("newsdedup")

INPUT_FORMATS = ("jsonl", "warc", "parquet")
OUTPUT_FORMATS = ("jsonl", "parquet")
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
"""Largest WARC payload (after content decoding) turned into a record; larger ones are skipped."""

_WARC_SUFFIXES = (".warc", ".warc.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_CHUNK = 64 * 1024

Item = Record | RecordError


# --------------------------------------------------------------------------------------------
# Format selection


def input_format(name: str | os.PathLike[str], format: str = "auto") -> str:
    """The reader for ``name``: ``format`` itself, or with ``"auto"`` one chosen by extension.

    ``.warc``/``.warc.gz`` are WARC, ``.parquet``/``.pq``/``.parq`` are
    Parquet; everything else (``.jsonl``, ``.json``, ``.gz``, no extension, ``-`` for stdin) is
    JSONL, as before these formats existed.
    """
    if format not in ("auto", *INPUT_FORMATS):
        raise ConfigError(f"input format must be auto, {', '.join(INPUT_FORMATS)}; got {format!r}")
    if format != "auto":
        return format
    lower = str(name).lower()
    if lower.endswith(_WARC_SUFFIXES):
        return "warc"
    if lower.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    return "jsonl"


def output_format(name: str | os.PathLike[str] | None, format: str = "auto") -> str:
    """``"parquet"`` for a ``.parquet``/``.pq``/``.parq`` target (or when asked), else ``"jsonl"``."""
    if format not in ("auto", *OUTPUT_FORMATS):
        raise ConfigError(f"output format must be auto, {', '.join(OUTPUT_FORMATS)}; got {format!r}")
    if format != "auto":
        return format
    return "parquet" if name is not None and str(name).lower().endswith(_PARQUET_SUFFIXES) else "jsonl"


def require_format(format: str) -> None:
    """Raise :class:`MissingDependency` now if the extra a format needs is not installed, so a
    command fails before it does any work rather than after."""
    if format == "warc":
        _warcio()
    elif format == "parquet":
        _pyarrow()


def _warcio() -> Any:
    try:
        import warcio.archiveiterator
        import warcio.bufferedreaders
    except ImportError as exc:
        raise MissingDependency(
            f'reading WARC files needs warcio: pip install "newsdedup[warc]" ({exc})'
        ) from exc
    return warcio


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise MissingDependency(f'Parquet needs pyarrow: pip install "newsdedup[parquet]" ({exc})') from exc
    return pyarrow, pyarrow.parquet


# --------------------------------------------------------------------------------------------
# Readers


def read_records(
    source: str | os.PathLike[str],
    *,
    format: str = "auto",
    max_bytes: int = DEFAULT_MAX_BYTES,
    batch_size: int = 256,
) -> Iterator[Item]:
    """Records (and unusable items as :class:`RecordError`) of one input, in file order.

    ``format`` is ``"auto"`` (by extension, see :func:`input_format`), ``"jsonl"``, ``"warc"``
    or ``"parquet"``. ``max_bytes`` caps one WARC payload, ``batch_size`` is the number of
    Parquet rows converted at a time. Raises :class:`InputError` when the file cannot be read,
    after the items read before the failure were yielded.
    """
    fmt = input_format(source, format)
    if fmt == "warc":
        return read_warc(source, max_bytes=max_bytes)
    if fmt == "parquet":
        return read_parquet(source, batch_size=batch_size)
    return read_jsonl(source)


def read_jsonl(
    source: str | os.PathLike[str], *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[Item]:
    """JSONL lines (a path or ``-`` for stdin; gzip is recognised by its first bytes) as
    records; blank lines are not records and are passed over, and a UTF-8 byte order mark at
    the start is dropped. ``line`` is the 1-based line number. A line over ``max_line_bytes``
    is a ``too-large`` error, read and dropped in bounded memory."""
    for line in read_jsonl_lines(source, max_line_bytes=max_line_bytes):
        try:
            yield line.parse()
        except RecordError as exc:
            yield exc


def read_jsonl_lines(
    source: str | os.PathLike[str], *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[RawLine]:
    """The non-blank lines of :func:`read_jsonl`, not parsed yet (see :class:`RawLine`)."""
    for number, raw in read_lines(str(source), max_line_bytes=max_line_bytes):
        yield RawLine(number, raw)


# WARC ---------------------------------------------------------------------------------------


class _Truncated(Exception):
    """The file ended inside a record's content block."""


def read_warc(source: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Item]:
    """Captured HTML pages of a WARC file (plain, or gzip per record), as records.

    A ``response`` record with HTTP status 200 and an HTML content type (``text/html``,
    ``application/xhtml+xml``, or none given) and a ``resource`` record with an HTML content
    type become a :class:`Record`: ``id`` is the WARC-Record-ID without its angle brackets
    (``urn:uuid:...``; unique per capture, so two captures of one URL stay two items), ``url``
    the WARC-Target-URI, ``html`` the payload bytes after transfer and content decoding, and
    ``content_type`` the HTTP Content-Type (its charset guides decoding). ``published`` stays
    unset: WARC-Date is when the page was crawled, not when the story was published, so the
    extractor takes the date from the page. ``line`` is the 1-based number of the record in
    the file.

    Skipped, as :class:`RecordError`: other status codes (``http-status``), other content types
    (``not-html``), ``revisit`` records (``revisit``: they hold no payload), records marked
    WARC-Truncated (``truncated``), payloads over ``max_bytes`` (``too-large``), payloads whose
    content coding is broken or unknown (``bad-content-encoding``) and responses without HTTP
    headers (``not-http``, e.g. ``dns:`` records). ``warcinfo``, ``request``, ``metadata``,
    ``conversion`` and ``continuation`` records describe captures rather than being pages and
    are passed over without an error. A file that ends inside a record, or is damaged, raises
    :class:`InputError` after the records before it were yielded.
    """
    if max_bytes < 1:
        raise ConfigError(f"max_bytes must be positive, got {max_bytes}")
    _warcio()
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    name = str(source)
    # warcio's own failures on damaged input; AttributeError and TypeError too: it raises one
    # on a response record without WARC-Target-URI (and its iterator cannot go on after it)
    read_errors = (
        ArchiveLoadFailed,
        OSError,
        EOFError,
        zlib.error,
        ValueError,
        OverflowError,  # a Content-Length too big for an index ("99999999999999999999")
        IndexError,
        AttributeError,
        TypeError,
    )
    try:
        stream: Any = sys.stdin.buffer if name == "-" else open(name, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from exc
    try:
        archive = ArchiveIterator(stream)
        # parse WARC only: warcio would otherwise take any text line for a (legacy) ARC header
        archive.known_format = "warc"
        records = iter(archive)
        number = 0
        while True:
            try:
                with _warcio_stderr(name, number, after=True):
                    rec = next(records)
            except StopIteration:
                return
            except read_errors as exc:
                raise InputError(
                    f"cannot read {name}: after record {number}: {type(exc).__name__}: {_printable(str(exc))}"
                    + (" (a record without WARC-Target-URI?)" if isinstance(exc, AttributeError) else "")
                ) from exc
            number += 1
            offset = archive.offset  # start of this record (get_record_offset() would consume it)
            try:
                with _warcio_stderr(name, number):
                    item = _warc_item(rec, number, max_bytes)
            except _Truncated:
                raise InputError(
                    f"cannot read {name}: record {number} (byte offset {offset}) is cut off or damaged: "
                    "the file is truncated or corrupt"
                ) from None
            except read_errors as exc:
                raise InputError(
                    f"cannot read {name}: record {number} (byte offset {offset}): {_printable(str(exc))}"
                ) from exc
            if item is not None:
                yield item
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


_MESSAGE_CHARS = 160


def _printable(text: str, limit: int = _MESSAGE_CHARS) -> str:
    """``text`` on one line of printable ASCII, other characters escaped as in a bytes repr,
    cut to about ``limit`` characters: warcio quotes the first line of a damaged record in
    its errors (as ISO-8859-1), and for a broken gzip member that is compressed bytes, which
    would land on the terminal raw. A gzip signature there gets a word of explanation."""
    text = text.strip()
    out: list[str] = []
    size = 0
    for n, c in enumerate(text):
        if size >= limit:
            out.append(f"... ({len(text) - n} more characters)")
            break
        part = c if c.isascii() and c.isprintable() else c.encode("unicode_escape").decode("ascii")
        out.append(part)
        size += len(part)
    if "\x1f\x8b" in text:
        out.append(" (compressed bytes: a gzip member that does not decompress)")
    return "".join(out)


_INC_RECORD = re.compile(
    r"(?:WARNING: *)?Record not followed by newline.*?Offset: (\d+)\s+Remainder: ([^\n]*)", re.S
)


class _ThreadStderr:
    """``sys.stderr`` while warcio reads: what the reading thread writes is kept (warcio prints
    its warnings there, several lines each), what other threads write passes through. When
    left, it passes everything on, in case a later stand-in still refers to it."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.thread = threading.get_ident()
        self.kept = io.StringIO()
        self.active = True

    def write(self, text: str) -> int:
        if self.active and threading.get_ident() == self.thread:
            return self.kept.write(text)
        return int(self.real.write(text) or 0)

    def flush(self) -> None:
        if not self.active or threading.get_ident() != self.thread:
            self.real.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@contextlib.contextmanager
def _warcio_stderr(name: str, number: int, *, after: bool = False) -> Iterator[None]:
    """Turn what warcio prints on stderr while reading record ``number`` (or, ``after``, the
    one after it): ``WARNING: Record not followed by newline ... Offset: ... Remainder:
    b'...'``, a zlib error, a URL warning, into one-line warnings of the ``newsdedup`` logger
    that say which file and record, instead of raw text in the middle of the command's
    output. Our own error, if one is raised, is not affected. Only in the main thread: readers
    in other threads (a Dask worker's) would swap the same global in turns, so there warcio's
    text is left as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    proxy = _ThreadStderr(sys.stderr)
    sys.stderr = proxy  # type: ignore[assignment]
    try:
        yield
    finally:
        proxy.active = False
        if sys.stderr is proxy:
            sys.stderr = proxy.real
        text = proxy.kept.getvalue()
        for inc in _INC_RECORD.finditer(text):
            logger.warning(
                "%s: record %d does not end where its Content-Length says (byte offset %s: %s); "
                "the WARC may be damaged",
                name,
                number,
                inc.group(1),
                _printable(inc.group(2), 80),
            )
        for line in _INC_RECORD.sub("", text).splitlines():
            if line.strip():
                where = f"after record {number}" if after else f"record {number}"
                logger.warning("%s: %s: warcio: %s", name, where, _printable(line))


def _warc_item(rec: Any, number: int, max_bytes: int) -> Item | None:
    """One WARC record as a Record, a RecordError (skipped capture) or None (not a capture).
    The content block is always read to its end, which is how a cut-off file is noticed."""
    headers = rec.rec_headers
    rtype = rec.rec_type
    rid = (headers.get_header("WARC-Record-ID") or "").strip().strip("<>") or f"record-{number}"
    url = headers.get_header("WARC-Target-URI")

    def skip(reason: str, message: str) -> RecordError:
        _drain(rec)
        return RecordError(message, reason=reason, line=number, id=rid)

    if rtype not in ("response", "resource", "revisit"):
        _drain(rec)
        return None
    if rtype == "revisit":
        return skip("revisit", "revisit record: no payload (it refers to an earlier capture)")
    truncated = headers.get_header("WARC-Truncated")
    if truncated:
        return skip("truncated", f"payload was truncated by the crawler (WARC-Truncated: {truncated})")
    codings: list[str] = []
    chunked = False
    if rtype == "response":
        http = rec.http_headers
        if http is None:
            return skip(
                "not-http", f"response record without HTTP headers ({headers.get_header('Content-Type')})"
            )
        status = http.get_statuscode()
        if status != "200":
            return skip("http-status", f"HTTP status {status}")
        content_type = http.get_header("Content-Type")
        codings = _content_codings(http.get_header("Content-Encoding"))
        chunked = (http.get_header("Transfer-Encoding") or "").strip().lower() == "chunked"
    else:
        content_type = headers.get_header("Content-Type")
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if content_type is not None and media not in _HTML_TYPES:
        return skip("not-html", f"content type {media or content_type!r} is not HTML")
    try:
        body = _read_payload(rec, max_bytes, codings, chunked)
    except _TooLarge:
        return skip("too-large", f"payload exceeds {max_bytes} bytes")
    except _BadCoding as exc:
        return skip("bad-content-encoding", str(exc))
    _drain(rec)
    return Record(id=rid, html=body, url=url, content_type=content_type, line=number)


class _TooLarge(Exception):
    pass


class _BadCoding(Exception):
    pass


def _content_codings(header: str | None) -> list[str]:
    if not header:
        return []
    return [c.strip().lower() for c in header.split(",") if c.strip() and c.strip().lower() != "identity"]


def _read_payload(rec: Any, max_bytes: int, codings: list[str], chunked: bool) -> bytes:
    """The HTTP payload, de-chunked and decompressed, never holding more than ``max_bytes`` of
    output (the decoders stop there, so a compression bomb costs no memory)."""
    from warcio.bufferedreaders import ChunkedDataReader

    from ._decode import ContentDecoder  # the fetcher's bounded gzip/deflate/br decoder
    from ._exceptions import DecodingError, ResponseTooLarge

    stream: Any = ChunkedDataReader(rec.raw_stream) if chunked else rec.raw_stream
    try:
        # applied in the order listed, so undone in reverse
        decoders = [ContentDecoder(c, max_bytes) for c in reversed(codings)]
        out = bytearray()
        first = True
        while True:
            raw = stream.read(_CHUNK)
            data, last = raw, not raw
            try:
                for decoder in decoders:
                    data = decoder.feed(data) if data else b""
                    if last:
                        data += decoder.flush()
            except DecodingError:
                # some crawlers store the payload decoded but keep the Content-Encoding header
                if not (first and raw.lstrip()[:1] == b"<"):
                    raise
                decoders, data = [], raw
            first = False
            out += data
            if len(out) > max_bytes:
                raise _TooLarge
            if last:
                return bytes(out)
    except ResponseTooLarge:
        raise _TooLarge from None
    except DecodingError as exc:
        raise _BadCoding(str(exc)) from None


def _drain(rec: Any) -> None:
    """Read the rest of the record's content block; raise _Truncated if the file ends first."""
    raw = rec.raw_stream
    while raw.read(_CHUNK):
        pass
    if getattr(raw, "limit", 0) > 0:
        raise _Truncated


# Parquet ------------------------------------------------------------------------------------

_PARQUET_INPUT_COLUMNS = ("id", "html", "text", "url", "title", "published", "site")


def read_parquet(source: str | os.PathLike[str], *, batch_size: int = 256) -> Iterator[Item]:
    """Rows of a Parquet file as records, read ``batch_size`` rows at a time and only the
    columns used (``id``, ``html``, ``text``, ``url``, ``title``, ``published``, ``site``).

    A row maps to a record exactly like a JSONL object (``published`` may be a string or a
    timestamp column); a row with an unusable value is a :class:`RecordError` whose ``line``
    is the 1-based row number. A file without an ``id`` column, or with neither ``html`` nor
    ``text``, raises :class:`InputError` before any row is read.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be positive, got {batch_size}")
    pa, pq = _pyarrow()
    name = str(source)
    if name == "-":
        raise InputError("Parquet cannot be read from stdin (it needs a seekable file); pass a path")
    try:
        # no pre-buffering: pyarrow would otherwise read far ahead (the whole file, in tests)
        handle = pq.ParquetFile(name, pre_buffer=False, buffer_size=1 << 20)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read {name}: {exc}") from exc
    with handle:
        present = set(handle.schema_arrow.names)
        if "id" not in present:
            raise InputError(
                f"{name}: Parquet file has no 'id' column (it has: {', '.join(sorted(present))})"
            )
        if not present & {"html", "text"}:
            raise InputError(
                f"{name}: Parquet file has neither an 'html' nor a 'text' column "
                f"(it has: {', '.join(sorted(present))})"
            )
        columns = [c for c in _PARQUET_INPUT_COLUMNS if c in present]
        batches = handle.iter_batches(batch_size=batch_size, columns=columns)
        row = 0
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except (OSError, pa.ArrowException) as exc:
                raise InputError(f"cannot read {name}: after row {row}: {exc}") from exc
            for values in _batch_rows(batch, columns):
                row += 1
                published = values.get("published")
                if isinstance(published, date) and not isinstance(published, datetime):
                    values["published"] = datetime(published.year, published.month, published.day, tzinfo=UTC)
                try:
                    yield record_from_mapping(values, line=row)
                except RecordError as exc:
                    yield exc


def _batch_rows(batch: Any, columns: list[str]) -> Iterator[dict[str, Any]]:
    """Row dicts of a record batch. A cell Python cannot hold (a timestamp past year 9999) is
    None, so one bad cell costs that value (and the row only if it was the id or body), never
    the rest of the file."""
    try:
        yield from batch.to_pylist()
        return
    except (ValueError, OverflowError, TypeError):
        pass
    lists: dict[str, list[Any]] = {}
    for name in columns:
        column = batch.column(name)
        try:
            lists[name] = column.to_pylist()
        except (ValueError, OverflowError, TypeError):
            lists[name] = [_cell(column, i, name) for i in range(batch.num_rows)]
    for i in range(batch.num_rows):
        yield {name: lists[name][i] for name in columns}


def _cell(column: Any, index: int, name: str) -> Any:
    try:
        return column[index].as_py()
    except (ValueError, OverflowError, TypeError) as exc:
        logger.info("parquet column %s: value %d cannot be converted (%s); taken as null", name, index, exc)
        return None


# --------------------------------------------------------------------------------------------
# Parquet output

_TIME_FIELDS = ("published", "first_seen", "last_seen")


def write_parquet(
    path: str | os.PathLike[str],
    clusters: Iterable[Cluster | Mapping[str, Any]],
    *,
    row_group_size: int = 1000,
    compression: str = "zstd",
) -> int:
    """Write clusters as a Parquet file, one row per cluster; returns the number of rows.

    Columns are the fields of the JSONL output (:meth:`Cluster.to_dict`): strings,
    ``member_ids`` as ``list<string>``, ``sources`` as ``list<struct<id, url, site, title,
    published>>``, ``published``/``first_seen``/``last_seen`` as UTC timestamps (a date without
    offset is taken as UTC), and each extension field (e.g. ``story_id``) as a column whose type
    comes from its values (a list or object value is stored as JSON text). Clusters are
    converted ``row_group_size`` at a time, so memory holds one row group, not the file; the
    extension columns are those of a sequence's clusters, or of an iterator's first row group.
    The file is written next to ``path`` and renamed into place only when complete.
    """
    if row_group_size < 1:
        raise ConfigError(f"row_group_size must be positive, got {row_group_size}")
    pa, pq = _pyarrow()
    target = Path(path)
    iterator = iter(clusters)
    first: list[Cluster] = []
    for item in iterator:
        first.append(_as_cluster(item))
        if len(first) >= row_group_size:
            break
    scan: Iterable[Cluster | Mapping[str, Any]] = clusters if isinstance(clusters, Sequence) else first
    extras = _extra_columns(pa, scan)
    schema = _cluster_schema(pa, extras)

    count = 0
    with atomic_path(target) as tmp, pq.ParquetWriter(tmp, schema, compression=compression) as writer:
        group = first
        while group:
            writer.write_table(_cluster_table(pa, schema, group, extras), row_group_size=row_group_size)
            count += len(group)
            group = []
            for item in iterator:
                group.append(_as_cluster(item))
                if len(group) >= row_group_size:
                    break
    return count


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[str]:
    """A temporary file next to ``target`` that replaces it only when the block completes (and
    is synced to disk first), so a killed run never leaves a half-written output where the
    previous one was; on an error the temporary file is removed.

    A symlink is followed (the file it points to is replaced, the link stays), and a target
    that exists but is no regular file (``/dev/null``, a FIFO a reader waits on) is written in
    place: replacing it would turn a device into a plain file, or leave the reader waiting.
    The new file gets the mode of the file it replaces, or what the umask gives a new one
    (``mkstemp`` alone makes it 0600)."""
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    if target.exists() and not target.is_file():
        yield str(target)
        return
    directory = target.parent if str(target.parent) else Path(".")
    _sweep_stale(directory, target.name)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        mode = 0o666 & ~_umask()
    # the writer's pid in the name: a later run removes the file if this process was killed
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=directory)
    try:
        if hasattr(os, "fchmod"):  # not on Windows before 3.13
            os.fchmod(fd, mode)
    finally:
        os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _fsync_directory(directory)  # the rename itself survives a power cut
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it (setting it to read
    it back would give files another thread creates meanwhile the wrong mode)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _sweep_stale(directory: Path, name: str) -> None:
    """Remove the temporary files :func:`atomic_path` left beside ``name`` in processes that no
    longer exist (killed with SIGKILL, or by a power cut, before they could clean up). A file
    whose writer is alive, or whose name carries no pid, is left alone."""
    prefix = f".{name}."
    try:
        candidates = [p for p in directory.iterdir() if p.name.startswith(prefix) and p.name.endswith(".tmp")]
    except OSError:
        return
    for path in candidates:
        pid = path.name[len(prefix) :].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process (or not ours to judge): keep its file
    return True


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _as_cluster(item: Cluster | Mapping[str, Any]) -> Cluster:
    return item if isinstance(item, Cluster) else Cluster.from_dict(item)


def _extra_columns(pa: Any, clusters: Iterable[Cluster | Mapping[str, Any]]) -> dict[str, Any]:
    """Extension field -> Arrow type, from the first non-null value of each field (objects and
    lists become JSON text, so their shape may vary from row to row)."""
    reserved = set(Cluster(cluster_id="", canonical_id="", member_ids=()).to_dict())
    types: dict[str, Any] = {}
    for item in clusters:
        extra = (
            item.extra if isinstance(item, Cluster) else {k: v for k, v in item.items() if k not in reserved}
        )
        for key, value in extra.items():
            if key in reserved or (key in types and types[key] != pa.null()):
                continue
            types[key] = _arrow_type(pa, value)
    return {k: (pa.string() if t == pa.null() else t) for k, t in types.items()}


def _arrow_type(pa: Any, value: Any) -> Any:
    if value is None:
        return pa.null()
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64()
    if isinstance(value, float):
        return pa.float64()
    if isinstance(value, datetime):
        return pa.timestamp("us", tz="UTC")
    return pa.string()


def _cluster_schema(pa: Any, extras: Mapping[str, Any]) -> Any:
    ts = pa.timestamp("us", tz="UTC")
    source = pa.struct(
        [
            ("id", pa.string()),
            ("url", pa.string()),
            ("site", pa.string()),
            ("title", pa.string()),
            ("published", ts),
        ]
    )
    fields = [
        ("cluster_id", pa.string()),
        ("canonical_id", pa.string()),
        ("member_ids", pa.list_(pa.string())),
        ("title", pa.string()),
        ("text", pa.string()),
        ("url", pa.string()),
        ("published", ts),
        ("wire", pa.string()),
        ("sources", pa.list_(source)),
        ("first_seen", ts),
        ("last_seen", ts),
        ("canonical_reason", pa.string()),
    ]
    return pa.schema(fields + list(extras.items()))


def _cluster_table(pa: Any, schema: Any, clusters: list[Cluster], extras: Mapping[str, Any]) -> Any:
    columns: dict[str, list[Any]] = {
        "cluster_id": [c.cluster_id for c in clusters],
        "canonical_id": [c.canonical_id for c in clusters],
        "member_ids": [list(c.member_ids) for c in clusters],
        "title": [c.title for c in clusters],
        "text": [c.text for c in clusters],
        "url": [c.url for c in clusters],
        "published": [c.published for c in clusters],
        "wire": [c.wire for c in clusters],
        "sources": [
            [
                {"id": s.id, "url": s.url, "site": s.site, "title": s.title, "published": s.published}
                for s in c.sources
            ]
            for c in clusters
        ],
        "first_seen": [c.first_seen for c in clusters],
        "last_seen": [c.last_seen for c in clusters],
        "canonical_reason": [c.canonical_reason for c in clusters],
    }
    for key, kind in extras.items():
        values = [c.extra.get(key) for c in clusters]
        if kind == pa.string():
            values = [
                v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values
            ]
        columns[key] = values
    unknown = {k for c in clusters for k in c.extra} - set(extras) - set(columns)
    if unknown:
        raise ConfigError(
            f"extension field(s) {', '.join(sorted(unknown))} first appear after the first row group "
            "of a Parquet output; pass the clusters as a list"
        )
    try:
        return pa.Table.from_pydict(columns, schema=schema)
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
        raise NewsdedupError(f"cannot write clusters as Parquet: {exc}") from exc
