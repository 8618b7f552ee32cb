"""Shingles and MinHash: deterministic, batch == single, and accurate against exact Jaccard
and against datasketch (the reference implementation)."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from newsdedup._fingerprint import (
    _ASCII_CLASSES,
    _SPACED_CLASSES,
    BatchShingler,
    MinHashSigner,
    OnePermSigner,
    WordShingler,
    _token_spans,
    estimate_jaccard,
    exact_jaccard,
)
from newsdedup._normalize import normalize_text, tokenize

SEEDS = sorted((Path(__file__).parent / "fixtures" / "seeds").glob("*.txt"))


def _tokens(path: Path) -> list[str]:
    return tokenize(normalize_text(path.read_text(encoding="utf-8")))


def _variants(tokens: list[str], rng: random.Random) -> list[list[str]]:
    """Edited copies of a token list with a spread of overlaps (word substitutions, a cut)."""
    out = []
    for rate in (0.0, 0.01, 0.03, 0.06, 0.1, 0.2, 0.35):
        out.append([t if rng.random() > rate else f"w{rng.randrange(10**6)}" for t in tokens])
    out.append(tokens[: len(tokens) // 2])
    return out


def test_same_text_same_signature_and_batch_equals_single() -> None:
    sh, signer = WordShingler(5), MinHashSigner(128)
    sets = [sh.shingles(_tokens(p)) for p in SEEDS]
    batch = signer.sign_many(sets)
    for s, row in zip(sets, batch, strict=True):
        assert np.array_equal(signer.sign(s), row)
    assert batch.dtype == np.uint64
    assert batch.shape == (len(SEEDS), 128)
    assert (batch < (1 << 31) - 1).all()


def test_large_documents_are_signed_in_slices_with_the_same_result() -> None:
    rng = np.random.default_rng(3)
    sets = [np.unique(rng.integers(0, 2**63, size=n, dtype=np.uint64)) for n in (5000, 3, 700, 0, 40)]
    sliced = MinHashSigner(64, chunk_rows=128).sign_many(sets)
    whole = MinHashSigner(64, chunk_rows=10**6).sign_many(sets)
    assert np.array_equal(sliced, whole)


def test_signature_is_identical_in_another_process() -> None:
    """No dependence on Python's salted hash(): a fresh interpreter gives the same bytes."""
    code = (
        "import sys; from newsdedup._fingerprint import *; from newsdedup._normalize import *;"
        "t = tokenize(normalize_text(open(sys.argv[1], encoding='utf-8').read()));"
        "print(MinHashSigner(64, seed=3).sign(WordShingler(5, seed=3).shingles(t)).tobytes().hex())"
    )
    here = MinHashSigner(64, seed=3).sign(WordShingler(5, seed=3).shingles(_tokens(SEEDS[2]))).tobytes().hex()
    for hashseed in ("1", "12345"):
        out = subprocess.run(
            [sys.executable, "-c", code, str(SEEDS[2])],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": hashseed, "PATH": ""},
        )
        assert out.stdout.strip() == here


def test_permutations_are_exact_modular_arithmetic() -> None:
    signer = MinHashSigner(16, seed=9)
    p = (1 << 31) - 1
    x = signer.to_field(np.array([0, 1, 2**31 - 2, 2**31 - 1, 2**32 + 5, 2**64 - 1], dtype=np.uint64))
    assert (x < p).all()
    got = signer.permute(x)
    want = [[(int(a) * int(v) + int(b)) % p for a, b in zip(signer._a, signer._b, strict=True)] for v in x]
    assert got.tolist() == want


def test_estimate_is_unbiased_over_seeds() -> None:
    """Averaged over 40 independent permutation sets the estimate sits on the exact value (a
    multiplier drawn from only part of the field once biased it low by 0.2)."""
    tokens = _tokens(SEEDS[0])
    sh = WordShingler(5)
    a, b = sh.shingles(tokens), sh.shingles(tokens[: len(tokens) // 2])
    exact = exact_jaccard(a, b)
    ests = [
        estimate_jaccard(MinHashSigner(128, seed=s).sign(a), MinHashSigner(128, seed=s).sign(b))
        for s in range(40)
    ]
    assert abs(float(np.mean(ests)) - exact) < 0.02  # std of the mean ~ 0.044 / sqrt(40) = 0.007


def test_seed_changes_signature() -> None:
    tokens = _tokens(SEEDS[0])
    a = MinHashSigner(32, seed=1).sign(WordShingler(5, seed=1).shingles(tokens))
    b = MinHashSigner(32, seed=2).sign(WordShingler(5, seed=2).shingles(tokens))
    assert not np.array_equal(a, b)


def test_estimate_tracks_exact_jaccard_and_datasketch() -> None:
    """128 permutations: std error <= sqrt(0.25/128) ~ 0.044. Tolerance: every pair within
    0.15 (3.4 sigma) of exact, mean absolute error under 0.04, and datasketch's estimate on the
    same shingles within 0.2 of ours."""
    rng = random.Random(11)
    sh, signer = WordShingler(5), MinHashSigner(128)
    errors, vs_ds = [], []
    for path in SEEDS:
        base = _tokens(path)
        base_sh = sh.shingles(base)
        base_sig = signer.sign(base_sh)
        base_ds = MinHash(num_perm=128, seed=1)
        base_ds.update_batch([" ".join(base[i : i + 5]).encode() for i in range(len(base) - 4)])
        for variant in _variants(base, rng):
            v_sh = sh.shingles(variant)
            exact = exact_jaccard(base_sh, v_sh)
            est = estimate_jaccard(base_sig, signer.sign(v_sh))
            ds = MinHash(num_perm=128, seed=1)
            ds.update_batch([" ".join(variant[i : i + 5]).encode() for i in range(len(variant) - 4)])
            errors.append(abs(est - exact))
            vs_ds.append(abs(est - base_ds.jaccard(ds)))
            assert abs(est - exact) <= 0.15, (path.name, exact, est)
    assert sum(errors) / len(errors) < 0.04
    assert max(vs_ds) <= 0.2


def test_exact_jaccard_against_python_sets() -> None:
    sh = WordShingler(3)
    a, b = (
        ["the", "cat", "sat", "on", "the", "mat", "today"],
        ["the", "cat", "sat", "on", "a", "mat", "today"],
    )
    sa = {tuple(a[i : i + 3]) for i in range(len(a) - 2)}
    sb = {tuple(b[i : i + 3]) for i in range(len(b) - 2)}
    assert exact_jaccard(sh.shingles(a), sh.shingles(b)) == pytest.approx(len(sa & sb) / len(sa | sb))


def test_short_and_empty_inputs() -> None:
    sh, signer = WordShingler(5), MinHashSigner(16)
    assert len(sh.shingles([])) == 0
    assert len(sh.shingles(["only", "three", "words"])) == 1
    empty_sig = signer.sign(sh.shingles([]))
    assert (empty_sig == np.iinfo(np.uint64).max).all()  # sentinel: such docs are never indexed
    assert exact_jaccard(sh.shingles([]), sh.shingles([])) == 0.0  # empty is never a duplicate


def test_word_order_matters() -> None:
    sh = WordShingler(2)
    assert not np.array_equal(sh.shingles(["a", "b", "c"]), sh.shingles(["c", "b", "a"]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=4), min_size=1, max_size=60))
def test_estimate_is_a_probability_and_identity_is_one(words: list[str]) -> None:
    sh, signer = WordShingler(3), MinHashSigner(32)
    s = sh.shingles(words)
    sig = signer.sign(s)
    assert estimate_jaccard(sig, signer.sign(sh.shingles(list(words)))) == 1.0
    other = signer.sign(sh.shingles([*words, "zz"]))
    assert 0.0 <= estimate_jaccard(sig, other) <= 1.0
    assert np.array_equal(s, np.unique(s))  # sorted and unique


_M64 = (1 << 64) - 1


def _ref_mix(x: int) -> int:
    """splitmix64's finaliser on Python ints."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _ref_token_hash(token: str, seed: int) -> int:
    """A token hash written plainly: splitmix64 folded over the token's 8-byte little-endian
    words (zero padded), starting from its length and the seed."""
    raw = token.encode("utf-8")
    h = (len(raw) * 0xC2B2AE3D27D4EB4F + _ref_mix(seed)) & _M64
    for i in range(0, len(raw), 8):
        h = _ref_mix(h ^ int.from_bytes(raw[i : i + 8], "little"))
    return h


def _ref_shingles(sh: WordShingler, tokens: list[str]) -> np.ndarray:
    """The shingle definition written plainly: the token hashes (:func:`_ref_token_hash`), then
    one combination per window."""

    def token_hash(token: str) -> int:
        return _ref_token_hash(token, sh.seed)

    th = np.array([token_hash(t) for t in tokens], dtype=np.uint64)
    k = sh.shingle_size
    if len(th) == 0:
        return np.empty(0, dtype=np.uint64)
    windows = [th] if len(th) < k else [th[i : i + k] for i in range(len(th) - k + 1)]
    out = []
    for w in windows:
        combined = (w * sh._mult[: len(w)]).sum(dtype=np.uint64)
        out.append(combined)
    from newsdedup._fingerprint import _splitmix64

    return np.unique(_splitmix64(np.array(out, dtype=np.uint64)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "said", "1.5", "é", "x"]), max_size=40))
def test_shingles_match_the_plain_definition(tokens: list[str]) -> None:
    sh = WordShingler(3)
    assert np.array_equal(sh.shingles(tokens), _ref_shingles(sh, tokens))


def test_subsets_are_signed_as_if_appended() -> None:
    rng = random.Random(11)
    words = [f"w{i}" for i in range(400)]
    sh = WordShingler()
    sets, subs = [], []
    for n in (0, 3, 40, 90, 200, 700):  # 700 tokens: more rows than one chunk
        tokens = [rng.choice(words) for _ in range(n)]
        sets.append(sh.shingles(tokens))
        subs.append(sh.shingles(tokens[:80]))
    # not subsets: foreign values, a superset, an unsorted copy; and an empty subset
    sets += [sets[3], sets[2], sets[4], sets[4]]
    subs += [np.array([1, 2], dtype=np.uint64), sets[3], sets[4][::-1].copy(), np.empty(0, dtype=np.uint64)]
    for chunk in (64, 512):
        signer = MinHashSigner(64, chunk_rows=chunk)
        expected = signer.sign_many(sets + subs)
        assert np.array_equal(signer.sign_many(sets, subsets=subs), expected)
        # and the batch equals signing every set on its own
        assert np.array_equal(np.stack([signer.sign(s) for s in sets + subs]), expected)
    with pytest.raises(ValueError, match="subsets for"):
        MinHashSigner(8).sign_many(sets, subsets=subs[:2])


def test_permute_is_reduced_mod_p() -> None:
    signer = MinHashSigner(16)
    x = np.array([0, 1, 2**31 - 2, 12345], dtype=np.uint64)
    a = [int(v) for v in signer._a]
    b = [int(v) for v in signer._b]
    expected = [[(ai * int(xi) + bi) % (2**31 - 1) for ai, bi in zip(a, b, strict=True)] for xi in x]
    assert signer.permute(x).tolist() == expected


@settings(max_examples=100, deadline=None)
@given(st.sets(st.integers(0, 2**64 - 1), max_size=60), st.sets(st.integers(0, 2**64 - 1), max_size=60))
def test_intersection_size_matches_intersect1d(a: set[int], b: set[int]) -> None:
    from newsdedup._fingerprint import intersection_size

    shared = sorted(a)[: len(a) // 2]  # make overlaps common
    x = np.array(sorted(a), dtype=np.uint64)
    y = np.array(sorted(b | set(shared)), dtype=np.uint64)
    expected = np.intersect1d(x, y, assume_unique=True).size
    assert intersection_size(x, y) == intersection_size(y, x) == expected


# -- the batch path: tokens, shingles and one-permutation signatures -----------------------


_TRICKY = [
    "1.2.3 a1.5 1a.2 12.3b x/y 3/16 ..5 5.. 1/2/3 4./5 6/.7 8.9a.1 b52 007b 1a2.3",
    "Ça coûte 2,5 € — «très» cher… naïve café ÉTÉ",
    "",
    "   ",
    "one",
    "The U.S. economy grew 2.3 pct in the third quarter, the Commerce Department said.",
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.text(alphabet="ab1 2./,-'’éÉ\n€x", max_size=60) | st.sampled_from(_TRICKY),
        min_size=1,
        max_size=6,
    )
)
def test_batch_tokens_and_shingles_equal_the_regex_path(texts: list[str]) -> None:
    """No Python token list in the batch path, yet the same tokens, hashes and shingles as
    tokenising each text with the regex tokenizer."""
    norms = [normalize_text(t) for t in texts]
    batch, single = BatchShingler(3, seed=2), WordShingler(3, seed=2)
    tb = batch.tokens(norms)
    sb = batch.shingles(tb, lead_tokens=4)
    for i, norm in enumerate(norms):
        tokens = tokenize(norm)
        assert tb.hashes[tb.offsets[i] : tb.offsets[i + 1]].tolist() == single.token_hashes(tokens).tolist()
        assert sb.shingle_set(i).tolist() == single.shingles(tokens).tolist()
        lead = np.unique(sb.hashes[sb.offsets[i] : sb.offsets[i] + sb.lead[i]])
        assert lead.tolist() == single.shingles(tokens[:4]).tolist()
    # the lean tokens (no ids, number hashes or spans) give the same shingles
    lean = batch.tokens(norms, full=False)
    assert lean.hashes.tolist() == tb.hashes.tolist()
    assert lean.offsets.tolist() == tb.offsets.tolist()
    assert lean.ascii.tolist() == tb.ascii.tolist()
    assert len(lean.ids) == len(lean.number_hashes) == len(lean.spans) == 0
    lean_sb = batch.shingles(lean, lead_tokens=4)
    assert lean_sb.hashes.tolist() == sb.hashes.tolist()
    assert lean_sb.lead.tolist() == sb.lead.tolist()


_TOKEN_REGEX = re.compile(r"[0-9]+(?:[./][0-9]+)*|[a-z][a-z0-9]*")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab9 0./-,xé", max_size=80))
def test_token_spans_are_the_regex_matches(text: str) -> None:
    """The vectorised token boundaries are exactly the ASCII token regex's matches (the
    text's bytes, class "letter" for the non-ASCII bytes as in the spaced path aside)."""
    raw = text.encode("utf-8")
    ascii_only = raw.isascii()
    table = _ASCII_CLASSES if ascii_only else _SPACED_CLASSES
    classes = np.frombuffer(b"\x00" + raw.translate(table) + b"\x00\x00", dtype=np.uint8)
    start, end = _token_spans(classes)
    got = list(zip((start - 1).tolist(), (end - 1).tolist(), strict=True))
    if ascii_only:
        expected = [m.span() for m in _TOKEN_REGEX.finditer(text)]
    else:  # every byte but the space is a letter: the space-separated words
        expected = [m.span() for m in re.finditer(rb"[^ ]+", raw)]
    assert got == expected


def test_batch_token_hashes_of_long_tokens_match_the_plain_definition() -> None:
    """Tokens of 1 to 40 bytes (several 8-byte words, ASCII and not) hash in a batch, for the
    shingler's seed and for the fixed-seed token ids, exactly as written plainly."""
    rng = random.Random(5)
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    words = [
        "".join(rng.choice(letters[:26]) + "".join(rng.choice(letters) for _ in range(n - 1)))
        for n in range(1, 41)
    ]
    words += ["3.14159265358979323846", "1/2/3/4/5/6/7/8/9", "éléphantesquement", "ça"]
    rng.shuffle(words)
    texts = [" ".join(words[:20]), " ".join(words[20:]), "x " * 3 + words[7]]
    batch = BatchShingler(3, seed=9)
    tb = batch.tokens([normalize_text(t) for t in texts])
    flat = [tok for t in texts for tok in tokenize(normalize_text(t))]
    assert tb.hashes.tolist() == [_ref_token_hash(tok, 9) for tok in flat]
    assert tb.ids.tolist() == [_ref_token_hash(tok, 0) for tok in flat]
    assert batch.token_hashes(flat).tolist() == tb.hashes.tolist()


@pytest.mark.parametrize("count", [1, 15, 17, 60])
def test_very_long_tokens_hash_as_defined(count: int) -> None:
    """Tokens of thousands of bytes (a base64 blob, a text without spaces), few or many, hash as
    written plainly, whether the fold runs as vector steps or on Python ints; one of them is
    the batch's last token (its last word read up to the data's end)."""
    rng = random.Random(count)
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    longs = ["q" + "".join(rng.choice(letters) for _ in range(rng.randint(9, 3000))) for _ in range(count)]
    longs[-1] += "z" * 100_000
    texts = [" ".join(["short", *longs[: count // 2], "words"]), " ".join(["x", *longs[count // 2 :]])]
    batch = BatchShingler(5, seed=3)
    tb = batch.tokens(texts)
    flat = [tok for t in texts for tok in tokenize(t)]
    assert flat[-1] == longs[-1]
    assert tb.hashes.tolist() == [_ref_token_hash(tok, 3) for tok in flat]
    assert tb.ids.tolist() == [_ref_token_hash(tok, 0) for tok in flat]


def test_one_permutation_estimates_jaccard() -> None:
    """Densified one-permutation MinHash: unbiased, with an error close to k-permutation
    MinHash's sqrt(J(1-J)/k)."""
    rng = random.Random(4)
    vocab = [f"w{i}" for i in range(3000)]
    sh, signer = WordShingler(5), OnePermSigner(128)
    errors = []
    for _ in range(300):
        base = [rng.choice(vocab) for _ in range(rng.randint(30, 400))]
        other = list(base)
        for _ in range(rng.randint(0, len(base) // 4)):
            other[rng.randrange(len(other))] = rng.choice(vocab)
        if rng.random() < 0.3:
            other = other[: max(5, int(len(other) * rng.uniform(0.3, 1.0)))]
        a, b = sh.shingles(base), sh.shingles(other)
        sigs = signer.sign_many([a, b])
        errors.append(estimate_jaccard(sigs[0], sigs[1]) - exact_jaccard(a, b))
    err = np.array(errors)
    assert abs(err.mean()) < 0.01
    assert np.abs(err).mean() < 0.045


def test_one_permutation_fills_every_slot_and_is_deterministic() -> None:
    signer = OnePermSigner(64, seed=9)
    few = np.array([11, 22, 33], dtype=np.uint64)  # three shingles for 64 slots: densified
    sig = signer.sign(few)
    assert (sig != np.uint64(0xFFFFFFFF)).all()
    assert set(sig.tolist()) <= set(signer.sign_flat(few, np.array([0, 3]))[0].tolist())
    assert np.array_equal(sig, OnePermSigner(64, seed=9).sign(few))
    empty = signer.sign(np.empty(0, dtype=np.uint64))
    assert (empty == np.uint64(0xFFFFFFFF)).all()  # nothing to sign: never indexed
    flat = signer.sign_flat(np.concatenate([few, few]), np.array([0, 3, 6]))
    assert np.array_equal(flat[0], flat[1])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), max_size=4), st.sets(st.integers(0, 2**64 - 1), max_size=40))
def test_any_in_sorted_matches_isin(values: list[int], members: set[int]) -> None:
    from newsdedup._fingerprint import any_in_sorted

    members |= set(values[:1])  # half the time a hit (the first value), else usually a miss
    if len(values) % 2:
        members -= set(values)
    v = np.array(values, dtype=np.uint64)
    s = np.array(sorted(members), dtype=np.uint64)
    assert any_in_sorted(v, s) == bool(np.isin(v, s).any())
    if len(s):  # values above the largest and below the smallest member
        edge = np.array([int(s[-1]) + 1 if int(s[-1]) < 2**64 - 1 else 0], dtype=np.uint64)
        assert any_in_sorted(edge, s) == bool(np.isin(edge, s).any())
