"""Decoding is total over arbitrary bytes and picks the right charset in the documented order."""

from __future__ import annotations

import codecs

from hypothesis import given, settings
from hypothesis import strategies as st

from newsdedup._decode import decode_bytes, looks_binary

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


def test_wrong_header_charset_is_not_trusted() -> None:
    # The header claims utf-8 but the body is cp1252: strict utf-8 fails, detection decides.
    body = (PAGE.format(meta="") * 20).encode("cp1252")
    decoded = decode_bytes(body, content_type="text/html; charset=utf-8")
    assert decoded.source != "header"
    assert "Zürich" in decoded.text
    assert "\ufffd" not in decoded.text


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
