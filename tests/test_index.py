"""Banded LSH: parameters derived from the threshold, and bucket bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch.lsh import _optimal_param

from newsdedup._exceptions import ConfigError
from newsdedup._fingerprint import MinHashSigner, WordShingler
from newsdedup._index import BandedLSH, collision_probability, optimal_bands


@pytest.mark.parametrize("threshold", [0.2, 0.35, 0.5, 0.7, 0.9])
@pytest.mark.parametrize("weights", [(0.5, 0.5), (0.2, 0.8)])
def test_bands_match_datasketch_criterion(threshold: float, weights: tuple[float, float]) -> None:
    """Same weighted FP/FN-area criterion as datasketch's MinHashLSH, so the same (b, r)."""
    assert optimal_bands(threshold, 128, *weights) == _optimal_param(threshold, 128, *weights)


def test_bands_fit_the_signature_and_follow_the_threshold() -> None:
    low_b, low_r = optimal_bands(0.3, 128)
    high_b, high_r = optimal_bands(0.9, 128)
    assert low_b * low_r <= 128
    assert high_b * high_r <= 128
    assert low_r < high_r  # a higher threshold needs longer bands
    # the S-curve passes near the threshold it was tuned for
    assert collision_probability(0.3, low_b, low_r) > 0.5
    assert collision_probability(0.1, high_b, high_r) < 1e-6


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5])
def test_bad_threshold_is_a_config_error(bad: float) -> None:
    with pytest.raises(ConfigError, match="threshold"):
        optimal_bands(bad, 128)


def test_bad_bands_rows() -> None:
    with pytest.raises(ConfigError):
        BandedLSH(bands=0, rows=4)


def _sig(words: list[str], signer: MinHashSigner) -> np.ndarray:
    return signer.sign(WordShingler(3).shingles(words))


def test_insert_query_remove_and_idempotent_reinsert() -> None:
    signer = MinHashSigner(64)
    lsh = BandedLSH.for_threshold(0.5, 64)
    story = [
        "the",
        "central",
        "bank",
        "left",
        "its",
        "key",
        "interest",
        "rate",
        "unchanged",
        "on",
        "thursday",
        "as",
        "expected",
    ]
    copy = [*story, "analysts", "said"]
    other = [
        "heavy",
        "rain",
        "flooded",
        "roads",
        "across",
        "the",
        "region",
        "and",
        "closed",
        "several",
        "schools",
        "for",
        "the",
        "day",
    ]
    lsh.insert("a", _sig(story, signer))
    lsh.insert("b", _sig(other, signer))
    assert "a" in lsh
    assert len(lsh) == 2
    assert "a" in lsh.query(_sig(copy, signer))
    assert "b" not in lsh.query(_sig(copy, signer))
    lsh.insert("a", _sig(story, signer))  # re-inserting a key never raises and never duplicates
    assert len(lsh) == 2
    lsh.remove("a")
    lsh.remove("a")  # removing twice is harmless
    assert "a" not in lsh
    assert lsh.query(_sig(copy, signer)) == set()
    # no empty buckets are left behind
    assert all(bucket for table in lsh._tables for bucket in table.values())


def test_signature_too_short_for_the_index() -> None:
    lsh = BandedLSH(bands=20, rows=8)
    with pytest.raises(ValueError, match="slots"):
        lsh.insert("x", np.zeros(64, dtype=np.uint64))


def test_band_keys_are_the_wrapping_multiply_sum() -> None:
    lsh = BandedLSH(bands=6, rows=4)
    rng = np.random.default_rng(9)
    sig = rng.integers(0, 2**63, size=30, dtype=np.uint64) | np.uint64(1 << 63)  # products wrap
    expected = []
    for band in range(6):
        acc = 0
        for r in range(4):
            acc = (acc + int(sig[band * 4 + r]) * int(lsh._mult[r])) % 2**64
        expected.append(acc ^ (acc >> 29))
    assert lsh.band_keys(sig) == expected
