"""Every numeric setting of the config dataclasses must be finite: a NaN threshold compares
False everywhere and silently turns a check off, an infinite weight or window breaks the
arithmetic behind it. Each raises :class:`ConfigError` naming the field."""

from __future__ import annotations

import dataclasses
import math
from datetime import timedelta
from typing import Any

import pytest

from newsdedup import ConfigError, DedupConfig, Deduplicator, ExtractConfig, StoryConfig, dedup
from newsdedup._dedup import parse_window

CONFIGS = (DedupConfig, ExtractConfig, StoryConfig)
NON_FINITE = (math.nan, math.inf, -math.inf)


def _numeric_fields(cls: type) -> list[str]:
    """Fields typed float or int (alone or with None), found from the annotations so that a
    field added later is checked too."""
    names = []
    for f in dataclasses.fields(cls):
        kinds = {part.strip() for part in str(f.type).split("|")} - {"None"}
        if kinds and kinds <= {"float", "int"}:
            names.append(f.name)
    return names


CASES = [(cls, name) for cls in CONFIGS for name in _numeric_fields(cls)]


def test_the_numeric_fields_are_found() -> None:
    found = {(cls.__name__, name) for cls, name in CASES}
    expected = {
        ("DedupConfig", "threshold"),
        ("DedupConfig", "candidate_threshold"),
        ("DedupConfig", "min_align"),
        ("DedupConfig", "fp_weight"),
        ("DedupConfig", "fn_weight"),
        ("ExtractConfig", "max_link_density"),
        ("StoryConfig", "window"),
        ("StoryConfig", "score_min"),
        ("StoryConfig", "number_density"),
    }
    assert expected <= found
    assert len(found) >= 40


@pytest.mark.parametrize("value", NON_FINITE, ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize(("cls", "name"), CASES, ids=[f"{c.__name__}.{n}" for c, n in CASES])
def test_nan_and_infinity_raise_config_error_naming_the_field(cls: type, name: str, value: float) -> None:
    with pytest.raises(ConfigError, match=rf"\b{name}\b") as info:
        cls(**{name: value})
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("cls", "name"), [(DedupConfig, "fp_weight"), (DedupConfig, "fn_weight"), (StoryConfig, "window")]
)
def test_unbounded_fields_take_any_finite_value_but_not_an_int_too_large_for_a_float(
    cls: type, name: str
) -> None:
    """Only the range bounds these fields: any finite float is taken, an int that does not fit
    in a float (the weights and the window are used as floats) is refused like infinity."""
    assert getattr(cls(**{name: 1e300}), name) == 1e300
    assert getattr(cls(**{name: 10**300}), name) == 10**300
    with pytest.raises(ConfigError, match=rf"\b{name}\b"):
        cls(**{name: 10**400})


@pytest.mark.parametrize(
    "value", [*NON_FINITE, "9" * 400 + "h", 10**400], ids=["nan", "inf", "-inf", "huge", "int"]
)
def test_a_window_must_be_finite_wherever_it_is_given(value: Any) -> None:
    """The dedup window and the story window (``parse_window``: CLI ``--window``, the
    ``Deduplicator`` and ``dedup(story_window=...)``) refuse what is not a finite duration."""
    with pytest.raises(ConfigError, match="window"):
        parse_window(value)
    with pytest.raises(ConfigError, match="window"):
        Deduplicator(window=value)
    with pytest.raises(ConfigError, match="window"):
        dedup([{"id": "a", "text": "A short text."}], story_window=value)
    assert parse_window(timedelta(hours=2)) == parse_window("2h") == parse_window(7200) == 7200.0


def test_a_seed_beyond_64_bits_is_refused_at_construction() -> None:
    """Audit P6: a seed the hashers cannot hold was accepted and failed later, inside the
    fingerprinting, as an OverflowError."""
    assert DedupConfig(seed=2**64 - 1).seed == 2**64 - 1
    with pytest.raises(ConfigError, match="seed"):
        DedupConfig(seed=2**64)
    with pytest.raises(ConfigError, match="seed"):
        Deduplicator(seed=-1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fetch_cache_max_bytes": -1},
        {"fetch_cache_max_bytes": 1.5},
        {"busy_timeout": math.nan},
        {"busy_timeout": math.inf},
    ],
    ids=["negative-cache", "float-cache", "nan-timeout", "inf-timeout"],
)
def test_store_settings_are_checked(tmp_path: Any, kwargs: dict[str, Any]) -> None:
    """Audit P6: a negative fetch cache budget silently kept no body, and a NaN busy timeout
    passed; both are ConfigError naming the setting, before the file is created."""
    from newsdedup import SQLiteStore

    path = tmp_path / "s.db"
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        SQLiteStore(path, **kwargs)
    assert not path.exists()
    SQLiteStore(path, fetch_cache_max_bytes=0).close()  # 0: no body kept, allowed
