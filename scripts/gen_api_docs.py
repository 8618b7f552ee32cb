"""Write docs/api.md from the public API's signatures and docstrings.

The API reference is generated so it cannot drift from the code; ``tests/test_docs.py`` fails
when the committed file differs from what this script produces. Run:

    .venv/bin/python scripts/gen_api_docs.py
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from pathlib import Path

import newsdedup

OUT = Path(__file__).resolve().parent.parent / "docs" / "api.md"

GROUPS: list[tuple[str, tuple[str, ...]]] = [
    ("Functions", ()),
    ("Data model", ("Article", "Removal", "Cluster", "Source", "Decision", "ErrorRecord")),
    ("Components and configuration", ()),
    ("Exceptions", ()),
]


def _doc(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip()


def _signature(obj: object, name: str) -> str:
    try:
        sig = str(inspect.signature(obj, eval_str=True))  # type: ignore[arg-type]
    except (NameError, SyntaxError):
        sig = str(inspect.signature(obj))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        sig = "(...)"
    return f"{name}{sig}"


def _fields(cls: type) -> list[str]:
    if not dataclasses.is_dataclass(cls):
        return []
    lines = ["", "| field | type | default |", "| --- | --- | --- |"]
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = repr(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = "(factory)"
        else:
            default = "required"
        type_name = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        cells = [f"`{f.name}`", f"`{type_name}`", f"`{default}`"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


def _methods(cls: type) -> list[str]:
    lines: list[str] = []
    for name, member in sorted(vars(cls).items()):
        if name.startswith("_") or not (
            inspect.isfunction(member) or isinstance(member, classmethod | property)
        ):
            continue
        func = member.__func__ if isinstance(member, classmethod) else member
        if isinstance(member, property):
            summary = (_doc(member).splitlines() or [""])[0]
            lines.append(f"- `{name}` (property){': ' + summary if summary else ''}")
            continue
        summary = (_doc(func).splitlines() or [""])[0]
        lines.append(f"- `{_signature(func, name)}`{': ' + summary if summary else ''}")
    return lines


def render() -> str:
    names = [n for n in newsdedup.__all__ if not n.startswith("__")]
    exceptions = [
        n
        for n in names
        if isinstance(getattr(newsdedup, n), type) and issubclass(getattr(newsdedup, n), BaseException)
    ]
    functions = [n for n in names if inspect.isfunction(getattr(newsdedup, n))]
    model = [n for n in GROUPS[1][1] if n in names]
    components = [n for n in names if n not in exceptions + functions + model]
    out = [
        "# API reference",
        "",
        "Generated from the code by `scripts/gen_api_docs.py`; do not edit by hand.",
        f"Everything below is importable as `newsdedup.<name>` (version {newsdedup.__version__}).",
        "Anything not listed here is private and may change.",
        "",
    ]
    for title, group in (
        ("Functions", functions),
        ("Data model", model),
        ("Components and configuration", components),
        ("Exceptions", exceptions),
    ):
        out += [f"## {title}", ""]
        for name in group:
            obj = getattr(newsdedup, name)
            if title == "Exceptions":
                bases = ", ".join(b.__name__ for b in obj.__bases__)
                out.append(f"- `{name}({bases})`: {(_doc(obj).splitlines() or [''])[0]}")
                continue
            out += _entry(name, obj)
        out.append("")
    out += _dask_section()
    return "\n".join(out).rstrip() + "\n"


def _dask_section() -> list[str]:
    """``newsdedup.dask``: a module of its own (the ``dask`` extra), imported only when used."""
    import newsdedup.dask as nd

    out = [
        "## `newsdedup.dask` (extra `dask`)",
        "",
        "Imported as `newsdedup.dask`; `import newsdedup` does not import Dask. See [scale.md](scale.md).",
        "",
    ]
    for name in nd.__all__:
        out += _entry(name, getattr(nd, name), methods=False)
    return out


def _entry(name: str, obj: object, *, methods: bool = True) -> list[str]:
    """One function or class: signature, docstring, dataclass fields and (optionally) methods."""
    is_class = inspect.isclass(obj)
    signature = f"class {_signature(obj, name)}" if is_class else _signature(obj, name)
    out = [f"### `{name}`", "", "```python", signature, "```", ""]
    doc = _doc(obj)
    if doc:
        out += [doc, ""]
    if is_class:
        fields = _fields(obj)  # type: ignore[arg-type]
        if fields:
            out += [*fields, ""]
        listed = _methods(obj) if methods else []  # type: ignore[arg-type]
        if listed:
            out += ["Methods:", "", *listed, ""]
    return out


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        return 0 if OUT.exists() and OUT.read_text(encoding="utf-8") == text else 1
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
