"""Bytes to text: BOM, then the declared charset (HTTP header, then ``<meta>``), then detection.

A declared charset that does not decode cleanly is not trusted (pages often say utf-8 and send
cp1252); detection by charset-normalizer decides instead, and utf-8 with replacement is the last
resort, so decoding is total over arbitrary bytes. UTF-16 decodes almost any bytes cleanly, so a
BOM-less UTF-16/32 declaration is trusted only when the bytes have the NUL pattern such text has.
Binary bodies are recognised by magic numbers and NUL bytes before any of this, because decoding
a PDF "successfully" yields garbage text.
"""

from __future__ import annotations

import codecs
import re
import zlib
from dataclasses import dataclass
from typing import Any

from ._exceptions import DecodingError, ResponseTooLarge

__all__ = ["HAVE_BROTLI", "ContentDecoder", "Decoded", "decode_bytes", "looks_binary", "supports_coding"]

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"PK\x03\x04", "zip"),
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"RIFF", "riff"),
    (b"\x00\x00\x01\x00", "ico"),
    (b"wOFF", "woff"),
    (b"wOF2", "woff2"),
    (b"\x7fELF", "elf"),
    (b"OggS", "ogg"),
    (b"ID3", "mp3"),
    (b"\x1a\x45\xdf\xa3", "webm"),
)

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_:.\-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([a-zA-Z0-9_:.\-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_:.\-]+)""")


@dataclass(frozen=True, slots=True)
class Decoded:
    """Decoded text and how the encoding was chosen (``bom``, ``header``, ``meta``, ``detected``...)."""

    text: str
    encoding: str
    source: str


_BODY_START = re.compile(rb"<body[\s>]", re.IGNORECASE)
_LATE_META_BYTES = 65536


def _late_meta(data: bytes) -> re.Match[bytes] | None:
    """A ``<meta charset>`` after the first 8 KiB but still in the page's head (within 64 KiB
    and before ``<body``): a head full of inline scripts and styles pushes it there. Browsers
    re-read the page in the encoding such a meta names when they meet it, and a detector
    guesses wrong on short texts (a cp1251 page read as cp1250). A meta inside the body (an
    article quoting HTML) is not a declaration."""
    if len(data) <= 8192:
        return None
    window = data[:_LATE_META_BYTES]
    body = _BODY_START.search(window)
    return _META_CHARSET.search(window, 0, body.start() if body else len(window))


def looks_binary(data: bytes) -> str | None:
    """Name of the binary format if ``data`` is clearly not text, else None."""
    head = data[:16]
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if any(data.startswith(bom) for bom, _ in _BOMS):
        return None  # UTF-16/32 text legitimately contains NUL bytes
    sample = data[:4096]
    if sample.count(0) > 2 + len(sample) // 1000:  # text never carries NUL bytes
        return "binary"
    return None


def _lookup(name: str | bytes | None) -> str | None:
    if not name:
        return None
    if isinstance(name, bytes):
        name = name.decode("ascii", "ignore")
    try:
        codec = codecs.lookup(name.strip().lower())
    except LookupError:
        return None
    # WHATWG: latin-1 and ascii labels mean windows-1252 on the web.
    if codec.name in ("latin-1", "iso8859-1", "ascii"):
        return "cp1252"
    # A page that declares utf-16 in a meta tag but is readable ASCII is not utf-16.
    return codec.name


def _wide_encoding(data: bytes, declared: str) -> str | None:
    """The UTF-16/32 codec (with its byte order) that BOM-less ``data`` really is in, or None
    when the bytes do not look like ``declared`` at all. UTF-16 decodes any even-length input
    without error, so a clean decode proves nothing: an ASCII or UTF-8 page under a
    ``charset=utf-16`` header would come out as CJK garbage.

    Web pages are mostly ASCII markup, and ASCII in UTF-16/32 puts a NUL in the high byte of
    every code unit (UTF-32 has one in every unit, since no code point reaches the top byte).
    So the declaration is trusted only when at least a quarter of the code units in the first
    4 KiB have a NUL high byte for one byte order, and more than for the other order; that
    order decides, so a bare ``utf-16`` label (no BOM) is read big- or little-endian as the
    bytes are, not in the machine's order. ASCII/UTF-8 text has no NUL bytes at all."""
    width = 2 if declared.startswith("utf-16") else 4
    sample = data[: 4096 - 4096 % width]
    units = len(sample) // width
    if not units or len(data) % width:
        return None
    le = sample[width - 1 :: width].count(0)  # high byte last
    be = sample[::width].count(0)  # high byte first
    if max(le, be) * 4 < units or le == be:
        return None
    order = "le" if le > be else "be"
    base = declared[:6]  # "utf-16" or "utf-32"
    if declared not in (base, f"{base}-{order}"):
        return None  # the header names the other byte order than the bytes have
    return f"{base}-{order}"


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_bytes(data: bytes, *, content_type: str | None = None) -> Decoded:
    """Decode a page body; never raises on arbitrary bytes."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return Decoded(data[len(bom) :].decode(encoding, "replace"), encoding, "bom")

    declared: list[tuple[str, str]] = []
    if content_type:
        match = _HEADER_CHARSET.search(content_type)
        enc = _lookup(match.group(1)) if match else None
        if enc and enc.startswith(("utf-16", "utf-32")):
            enc = _wide_encoding(data, enc)  # BOM-less: trusted only if the bytes look like it
        if enc:
            declared.append((enc, "header"))
            text = _strict(data, enc)
            if text is not None:
                return Decoded(text, enc, "header")
    # the page's own declaration, looked for only when the header's did not decode the bytes
    head = data[:8192]
    in_head = _XML_ENCODING.search(head) or _META_CHARSET.search(head) or _late_meta(data)
    enc = _lookup(in_head.group(1)) if in_head else None
    if enc and not enc.startswith("utf-16") and not enc.startswith("utf-32"):
        declared.append((enc, "meta"))
        text = _strict(data, enc)
        if text is not None:
            return Decoded(text, enc, "meta")

    text = _strict(data, "utf-8")
    if text is not None:
        return Decoded(text, "utf-8", "utf-8")

    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200_000]).best()
    except Exception:  # detection is best effort; never let it break decoding
        best = None
    if best is not None and best.encoding:
        enc = _lookup(best.encoding) or best.encoding
        return Decoded(data.decode(enc, "replace"), enc, "detected")
    if declared:
        enc = declared[0][0]
        return Decoded(data.decode(enc, "replace"), enc, declared[0][1] + "-lossy")
    return Decoded(data.decode("utf-8", "replace"), "utf-8", "fallback")


try:  # brotli is optional; only a version with a bounded decoder (output_buffer_limit) is used
    import brotli as _brotli

    HAVE_BROTLI = hasattr(_brotli.Decompressor(), "can_accept_more_data")
except ImportError:  # pragma: no cover - depends on the environment
    _brotli = None
    HAVE_BROTLI = False


def supports_coding(coding: str) -> bool:
    """Whether :class:`ContentDecoder` can undo this content coding (``gzip``, ``x-gzip``,
    ``deflate``, and ``br`` when a bounded brotli decoder is installed)."""
    return coding in ("gzip", "x-gzip", "deflate") or (coding == "br" and HAVE_BROTLI)


class ContentDecoder:
    """One content coding (gzip, deflate, br), producing at most ``cap`` bytes in total (else
    ResponseTooLarge): a decompression bomb stops at the cap. Used by the fetcher on response
    bodies and by the readers on compressed files.

    A coding it cannot undo (see :func:`supports_coding`) raises DecodingError. :meth:`flush`
    at the end of the input raises DecodingError when the compressed stream stopped before its
    end (a truncated body); no input at all is an empty body, not a truncated one."""

    def __init__(self, coding: str, cap: int) -> None:
        self.coding = coding
        self.cap = cap
        self.produced = 0
        self._zlib: Any = None
        self._br: Any = None
        self._pending_deflate = b""
        self._had_input = False
        if not supports_coding(coding):
            raise DecodingError(f"unsupported content-encoding {coding!r}")
        if coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "br" and _brotli is not None:
            self._br = _brotli.Decompressor()
        # deflate: the decoder is chosen on the first two bytes, zlib-wrapped or raw

    def _count(self, chunk: bytes) -> bytes:
        self.produced += len(chunk)
        if self.produced > self.cap:
            raise ResponseTooLarge(f"body exceeds {self.cap} bytes after decompression")
        return chunk

    def feed(self, data: bytes) -> bytes:
        if data:
            self._had_input = True
        try:
            if self._br is not None:
                return self._feed_br(data)
            if self.coding == "deflate" and self._zlib is None:
                self._pending_deflate += data
                if len(self._pending_deflate) < 2:
                    return b""
                b0, b1 = self._pending_deflate[0], self._pending_deflate[1]
                wrapped = (b0 & 0x0F) == 8 and (b0 * 256 + b1) % 31 == 0
                self._zlib = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
                data, self._pending_deflate = self._pending_deflate, b""
            return self._feed_zlib(data)
        except (zlib.error, ValueError) as exc:
            raise DecodingError(f"broken {self.coding} stream: {exc}") from None
        except Exception as exc:
            if _brotli is not None and isinstance(exc, _brotli.error):
                raise DecodingError(f"broken br stream: {exc}") from None
            raise

    def _feed_zlib(self, data: bytes) -> bytes:
        out: list[bytes] = []
        buf = data
        while buf:
            d = self._zlib
            chunk = d.decompress(buf, self.cap - self.produced + 1)
            out.append(self._count(chunk))
            if d.eof:
                # gzip allows several members; anything after a deflate/zlib stream is junk.
                rest = d.unused_data
                if rest and self.coding in ("gzip", "x-gzip") and rest.lstrip(b"\x00"):
                    self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    buf = rest.lstrip(b"\x00")
                    continue
                break
            buf = d.unconsumed_tail
            if not chunk and buf:
                raise DecodingError(f"{self.coding} decoder made no progress")
        return b"".join(out)

    def _feed_br(self, data: bytes) -> bytes:
        out: list[bytes] = []
        limit = max(1, self.cap - self.produced + 1)
        out.append(self._count(self._br.process(data, output_buffer_limit=limit)))
        while not self._br.can_accept_more_data():
            limit = max(1, self.cap - self.produced + 1)
            chunk = self._br.process(b"", output_buffer_limit=limit)
            out.append(self._count(chunk))
            if not chunk:
                break
        return b"".join(out)

    def flush(self) -> bytes:
        """The last output at the end of the input; DecodingError if the stream was cut short."""
        out = b""
        if self._zlib is not None:
            try:
                out = self._count(self._zlib.flush())
            except zlib.error as exc:
                raise DecodingError(f"broken {self.coding} stream: {exc}") from None
            finished = self._zlib.eof
        elif self._br is not None:
            finished = self._br.is_finished()
        else:  # deflate that never got its first two bytes
            finished = False
        if self._had_input and not finished:
            raise DecodingError(
                f"truncated {self.coding} stream: the body ends before the compressed data does"
            )
        return out
