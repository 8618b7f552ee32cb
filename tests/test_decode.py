"""Decoding is total over arbitrary bytes and picks the right charset in the documented order."""

from __future__ import annotations

import codecs
import gzip
import random
import zlib

import brotli
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsdedup._decode import ContentDecoder, decode_bytes, looks_binary, supports_coding
from newsdedup._exceptions import DecodingError

PAGE = "<html><head>{meta}</head><body><p>Zürich – café «naïve» €5</p></body></html>"


def test_bom_wins_over_everything() -> None:
    body = codecs.BOM_UTF8 + PAGE.format(meta='<meta charset="iso-8859-1">').encode("utf-8")
    decoded = decode_bytes(body, content_type="text/html; charset=iso-8859-1")
    assert decoded.source == "bom"
    assert "Zürich – café" in decoded.text


def test_utf16_bom() -> None:
    body = codecs.BOM_UTF16_LE + PAGE.format(meta="").encode("utf-16-le")
    decoded = decode_bytes(body)
    assert decoded.source == "bom"
    assert "café «naïve»" in decoded.text
    assert looks_binary(body) is None


def test_header_charset_latin1() -> None:
    body = PAGE.format(meta="").replace("–", "-").replace("€", "EUR").encode("latin-1")
    decoded = decode_bytes(body, content_type="text/html; charset=ISO-8859-1")
    assert decoded.source == "header"
    assert decoded.encoding == "cp1252"  # WHATWG: latin-1 label means windows-1252
    assert "Zürich - café «naïve»" in decoded.text


def test_meta_charset_when_no_header() -> None:
    body = PAGE.format(meta='<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">')
    decoded = decode_bytes(body.encode("cp1252"))
    assert decoded.source == "meta"
    assert "Zürich – café «naïve» €5" in decoded.text


_CYRILLIC = (
    "Москва, 20 ноября. Правительство объявило о новых мерах поддержки экономики. "
    "Министр финансов заявил, что бюджет будет сбалансирован к концу года. "
) * 3


def _late_meta_page(charset_tag: str, *, in_body: bool = False) -> bytes:
    """A cp1251 page whose charset declaration comes after 14 KB of inline script."""
    script = "<script>" + "var x = 1;\n" * 1200 + "</script>"
    head, body = f"{script}{charset_tag}", f"<p>{_CYRILLIC}</p>"
    if in_body:
        head, body = script, f"{charset_tag}<p>{_CYRILLIC}</p>"
    return f"<html><head>{head}<title>Новости</title></head><body>{body}</body></html>".encode("cp1251")


def test_a_late_meta_charset_in_the_head_is_used() -> None:
    """Checklist C7: a ``<meta charset>`` pushed past the first 8 KiB by inline scripts still
    names the encoding; the detector alone read this cp1251 page as cp1250 (mojibake)."""
    for tag in (
        '<meta charset="windows-1251">',
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">',
    ):
        decoded = decode_bytes(_late_meta_page(tag), content_type="text/html")
        assert (decoded.encoding, decoded.source) == ("cp1251", "meta")
        assert _CYRILLIC in decoded.text


def test_a_meta_charset_inside_the_body_is_not_a_declaration() -> None:
    # an article quoting HTML: its <meta> is text, not the page's declaration (the detector decides)
    decoded = decode_bytes(_late_meta_page('<meta charset="koi8-r">', in_body=True), content_type="text/html")
    assert decoded.source != "meta"
    assert decoded.encoding != "koi8_r"


def test_wrong_header_charset_is_not_trusted() -> None:
    # The header claims utf-8 but the body is cp1252: strict utf-8 fails, detection decides.
    body = (PAGE.format(meta="") * 20).encode("cp1252")
    decoded = decode_bytes(body, content_type="text/html; charset=utf-8")
    assert decoded.source != "header"
    assert "Zürich" in decoded.text
    assert "\ufffd" not in decoded.text


@pytest.mark.parametrize("label", ["utf-16", "utf-16le", "UTF-16BE", "utf-32", "utf-32-le"])
def test_a_utf16_or_utf32_header_on_ascii_bytes_is_not_trusted(label: str) -> None:
    # UTF-16 decodes any even-length bytes without error: the header alone turned this page into CJK
    body = PAGE.format(meta="").replace("€", "EUR").encode("utf-8")
    body += b" " * (-len(body) % 4)  # a whole number of UTF-16 and UTF-32 code units
    decoded = decode_bytes(body, content_type=f"text/html; charset={label}")
    assert decoded.source != "header"
    assert decoded.encoding == "utf-8"
    assert "Zürich – café «naïve» EUR5" in decoded.text


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("utf-16", "utf-16-le"),
        ("utf-16", "utf-16-be"),
        ("utf-16le", "utf-16-le"),
        ("utf-16be", "utf-16-be"),
        ("utf-32", "utf-32-le"),
        ("utf-32be", "utf-32-be"),
    ],
)
def test_a_utf16_or_utf32_header_is_trusted_when_the_bytes_are(label: str, codec: str) -> None:
    # no BOM: the NUL high bytes of the ASCII markup say the page really is UTF-16/32, and in
    # which byte order
    decoded = decode_bytes(PAGE.format(meta="").encode(codec), content_type=f"text/html; charset={label}")
    assert (decoded.encoding, decoded.source) == (codec, "header")
    assert decoded.text == PAGE.format(meta="")


def test_a_utf16_header_naming_the_other_byte_order_is_not_trusted() -> None:
    body = PAGE.format(meta="").encode("utf-16-be")
    assert decode_bytes(body, content_type="text/html; charset=utf-16le").source != "header"


def test_undeclared_utf8() -> None:
    decoded = decode_bytes(PAGE.format(meta="").encode("utf-8"))
    assert decoded.encoding == "utf-8"
    assert "€5" in decoded.text


def test_unknown_charset_label_is_ignored() -> None:
    body = PAGE.format(meta='<meta charset="x-no-such-charset">').encode("utf-8")
    assert "Zürich" in decode_bytes(body, content_type="text/html; charset=bogus").text


def test_binary_formats_recognised() -> None:
    assert looks_binary(b"%PDF-1.7\n%\xe2\xe3") == "pdf"
    assert looks_binary(b"\x89PNG\r\n\x1a\n\x00\x00") == "png"
    assert looks_binary(b"\x1f\x8b\x08\x00") == "gzip"
    assert looks_binary(bytes(range(256)) * 20) == "binary"
    assert looks_binary(PAGE.encode()) is None
    assert looks_binary(b"") is None


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=2048),
    st.sampled_from(
        [
            None,
            "text/html",
            "text/html; charset=utf-8",
            "text/html; charset=shift_jis",
            "text/html; charset=zz",
        ]
    ),
)
def test_decoding_is_total(data: bytes, content_type: str | None) -> None:
    decoded = decode_bytes(data, content_type=content_type)
    assert isinstance(decoded.text, str)
    assert decoded.encoding


# Content codings -----------------------------------------------------------------------------

# Varied text, so every compressor emits output well before its end (repetitive text can
# compress into one final block and give no partial output to mistake for a page).
_RNG = random.Random(7)
_WORDS = ["harbour", "cranes", "storm", "vessels", "backlog", "operators", "shipping", "weekend"]
BODY = " ".join(_RNG.choice(_WORDS) + str(_RNG.randrange(10_000)) for _ in range(20_000)).encode()


def _compress(coding: str, data: bytes) -> bytes:
    if coding == "gzip":
        return gzip.compress(data)
    if coding == "br":
        return brotli.compress(data)
    comp = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS if coding == "raw-deflate" else zlib.MAX_WBITS)
    return comp.compress(data) + comp.flush()


def _decode_all(coding: str, data: bytes, *, step: int = 4096) -> bytes:
    dec = ContentDecoder(coding, 10 * len(BODY))
    out = b"".join(dec.feed(data[i : i + step]) for i in range(0, len(data), step))
    return out + dec.flush()


CODINGS = [("gzip", "gzip"), ("deflate", "deflate"), ("raw-deflate", "deflate"), ("br", "br")]


@pytest.mark.parametrize(("kind", "coding"), CODINGS, ids=[k for k, _ in CODINGS])
def test_complete_stream_decodes(kind: str, coding: str) -> None:
    assert _decode_all(coding, _compress(kind, BODY)) == BODY


@pytest.mark.parametrize(("kind", "coding"), CODINGS, ids=[k for k, _ in CODINGS])
@pytest.mark.parametrize("fraction", [0.8, 0.5])
def test_truncated_stream_is_a_decoding_error(kind: str, coding: str, fraction: float) -> None:
    whole = _compress(kind, BODY)
    cut = whole[: int(len(whole) * fraction)]
    dec = ContentDecoder(coding, 10 * len(BODY))
    partial = dec.feed(cut)
    assert partial, "the cut stream still decodes to a partial body (what used to be accepted)"
    with pytest.raises(DecodingError, match="truncated"):
        dec.flush()


@pytest.mark.parametrize(
    ("coding", "data"),
    [
        ("gzip", gzip.compress(b"<p>hi</p>")[:10]),  # the gzip header only
        ("gzip", gzip.compress(b"<p>hi</p>")[:-4]),  # all but the length field of the trailer
        ("gzip", gzip.compress(b"<p>one</p>") + gzip.compress(b"<p>two</p>")[:12]),  # 2nd member cut
        ("deflate", b"\x78"),  # one byte: not even the zlib header
        ("br", brotli.compress(b"<p>hi</p>" * 100)[:-1]),
    ],
    ids=["gzip-header-only", "gzip-no-trailer", "gzip-second-member", "deflate-one-byte", "br-last-byte"],
)
def test_short_streams_are_truncated(coding: str, data: bytes) -> None:
    with pytest.raises(DecodingError, match="truncated"):
        _decode_all(coding, data, step=3)


@pytest.mark.parametrize("coding", ["gzip", "x-gzip", "deflate", "br"])
def test_empty_input_is_an_empty_body_not_a_truncated_one(coding: str) -> None:
    # A 204, or a server that labels an empty body gzip: nothing was sent, nothing is missing.
    dec = ContentDecoder(coding, 100)
    assert dec.feed(b"") == b""
    assert dec.flush() == b""


def test_gzip_members_and_trailing_zeros_still_decode() -> None:
    data = gzip.compress(b"<p>one</p>") + gzip.compress(b"<p>two</p>") + b"\x00" * 8
    assert _decode_all("gzip", data, step=5) == b"<p>one</p><p>two</p>"


def test_unknown_coding_is_not_supported() -> None:
    for coding in ("gzip", "x-gzip", "deflate", "br"):
        assert supports_coding(coding)
    for coding in ("compress", "zstd", "x-compress", "identity-ish", ""):
        assert not supports_coding(coding)
        with pytest.raises(DecodingError, match="unsupported"):
            ContentDecoder(coding, 100)
