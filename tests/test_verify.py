"""Pair verification: near-duplicates, truncated copies, teasers, formulaic look-alikes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsdedup._fingerprint import WordShingler
from newsdedup._text import clean_text
from newsdedup._verify import Doc, PairVerifier, substitutions

FIXTURES = Path(__file__).parent / "fixtures"
SHINGLER = WordShingler(5)


def _doc(key: str, text: str) -> Doc:
    return Doc.from_text(key, text, SHINGLER)


def _plain_and_coded(texts: list[str], prefix: str) -> tuple[list[Doc], list[Doc]]:
    """The docs of ``texts`` twice: aligned by their token ids, and coded in one shared alphabet."""
    from newsdedup._verify import Alphabet

    plain = [_doc(f"{prefix}{i}", t) for i, t in enumerate(texts)]
    coded = [_doc(f"{prefix}{i}", t) for i, t in enumerate(texts)]
    shared = Alphabet()
    for doc in coded:
        doc.share_alphabet(shared)
    return plain, coded


@pytest.fixture(scope="module")
def story() -> str:
    seed = (FIXTURES / "seeds" / "002_a05adf3270c9401d.txt").read_text(encoding="utf-8")
    return clean_text(seed).text


@pytest.fixture(scope="module")
def other_story() -> str:
    seed = (FIXTURES / "seeds" / "004_c660a855ca50e628.txt").read_text(encoding="utf-8")
    return clean_text(seed).text


def _paras(text: str) -> list[str]:
    return [p for p in text.split("\n\n") if p.strip()]


def test_identical_and_lightly_edited_copies_are_near_duplicates(story: str) -> None:
    v = PairVerifier()
    paras = _paras(story)
    edited = "\n\n".join(
        [paras[0].replace("Thursday", "Thursday,"), *paras[1:], "Sign up for our newsletter."]
    )
    verdict = v.verify(_doc("a", story), _doc("b", edited))
    assert verdict.accepted
    assert verdict.kind == "near-duplicate"
    assert verdict.jaccard > 0.9
    assert verdict.align == 0.0  # decided on the shingles: no new number, Jaccard >= 0.8
    full = PairVerifier(decisive_jaccard=1.0).verify(_doc("a", story), _doc("b", edited))
    assert (full.accepted, full.kind) == (True, "near-duplicate")
    assert full.align >= 80


def test_decisive_shortcut_needs_the_same_numbers(story: str) -> None:
    """A near-identical text with one changed number goes through the full check."""
    from newsdedup._verify import numbers_within

    paras = _paras(story)
    import re

    first = next(i for i, p in enumerate(paras) if re.search(r"\d", p))
    changed = list(paras)
    changed[first] = re.sub(r"\d+", lambda m: str(int(m.group()) + 7), changed[first], count=1)
    a, b = _doc("a", story), _doc("b", "\n\n".join(changed))
    assert not numbers_within(a.number_hashes, b.number_hashes)
    verdict = PairVerifier().verify(a, b)
    assert verdict.align > 0.0  # the alignment ran


def test_copy_truncated_to_a_third_is_accepted_by_containment(story: str) -> None:
    paras = _paras(story)
    third = "\n\n".join(paras[: max(1, len(paras) // 3)])
    verdict = PairVerifier().verify(_doc("full", story), _doc("short", third))
    assert verdict.jaccard < 0.5  # Jaccard alone would miss it
    assert verdict.accepted
    assert verdict.kind == "truncated"


def test_verification_is_symmetric(story: str, other_story: str) -> None:
    v = PairVerifier()
    paras = _paras(story)
    pairs = [(story, "\n\n".join(paras[:4])), (story, other_story)]
    for a, b in pairs:
        assert v.verify(_doc("x", a), _doc("y", b)) == v.verify(_doc("y", b), _doc("x", a))


def test_short_item_quoted_inside_a_longer_page_is_not_a_truncated_copy(story: str, other_story: str) -> None:
    """A brief fully quoted as a teaser in the *middle* of an unrelated page: its shingles are all
    contained, but it does not align with the start, so it is not a copy."""
    brief = _paras(other_story)[0]
    paras = _paras(story)
    page = "\n\n".join([*paras[:5], "Read more: " + brief, *paras[5:]])
    verdict = PairVerifier(containment_threshold=0.7).verify(_doc("page", page), _doc("brief", brief))
    assert verdict.containment > 0.9
    assert not verdict.accepted
    assert verdict.kind == "not-a-prefix"


def test_different_write_ups_of_one_event_are_rejected(story: str, other_story: str) -> None:
    verdict = PairVerifier().verify(_doc("a", story), _doc("b", other_story))
    assert not verdict.accepted
    assert verdict.kind == "low-similarity"


def test_empty_never_matches() -> None:
    assert not PairVerifier().verify(_doc("a", ""), _doc("b", "")).accepted


FORMULAIC = json.loads((FIXTURES / "dedup" / "formulaic_pairs.json").read_text(encoding="utf-8"))["pairs"]


@pytest.mark.parametrize("pair", FORMULAIC, ids=[p["kind"] for p in FORMULAIC])
def test_formulaic_look_alikes_are_rejected_by_the_entity_guard(pair: dict) -> None:
    """Lower the similarity bars so the texts pass on words alone: only the numbers/names guard
    stands between these template stories."""
    v = PairVerifier(threshold=0.2, containment_threshold=0.3)
    a, b = _doc("a", pair["a"]["text"]), _doc("b", pair["b"]["text"])
    verdict = v.verify(a, b)
    assert not verdict.accepted, verdict
    assert verdict.kind in {"numbers-differ", "names-differ"}
    # the same text against itself with extra junk still passes the same guard
    junk = pair["a"]["text"] + "\n\nCopyright 2024 Example Media. All rights reserved."
    assert v.verify(a, _doc("c", junk)).accepted


def test_substitutions_count_aligned_slots_not_insertions() -> None:
    a = _doc(
        "a", "The Fed arranged 1.5 billion dlrs of repurchases, Fed spokesman John Smith said on Monday."
    )
    b = _doc(
        "b", "The Fed arranged two billion dlrs of repurchases, Fed spokesman Mary Jones said on Monday."
    )
    c = _doc("c", "The Fed arranged 1.5 billion dlrs of repurchases, Fed spokesman John Smith said on Monday. "
                  "Updated 10:45 am 2024.")  # fmt: skip
    nums, names = substitutions(a, b)
    assert nums == 1  # "1.5" -> "two" fills the same slot
    assert names == 1  # "John Smith" -> "Mary Jones"
    assert substitutions(a, c) == (0, 0)  # trailing junk is an insertion


def test_count_numbers_counts_like_is_number() -> None:
    from newsdedup._verify import count_numbers, is_number

    tokens = ["", "1", "one", ":", "/", "0", "9x", ":9", "\u0661\u0662", "\u00b2", "twenty", "Two", "a", "10"]
    assert count_numbers(tokens) == sum(1 for t in tokens if is_number(t)) == 8
    assert count_numbers([]) == 0


def test_decisive_truncated_copy_and_a_quote_from_the_middle(story: str, other_story: str) -> None:
    """A copy cut after its first paragraphs is accepted on the shingles (head found at the
    start, no new number); the same paragraphs quoted inside another page are not a prefix and
    go through the full check, which rejects them."""
    paras = _paras(story)
    cut = "\n\n".join(paras[: max(2, len(paras) // 2)])
    verdict = PairVerifier().verify(_doc("full", story), _doc("cut", cut))
    assert (verdict.accepted, verdict.kind, verdict.align) == (True, "truncated", 0.0)
    full_check = PairVerifier(decisive_containment=1.0).verify(_doc("full", story), _doc("cut", cut))
    assert (full_check.accepted, full_check.kind) == (True, "truncated")
    assert full_check.align >= 80

    middle = "\n\n".join(paras[len(paras) // 2 :])
    host = "\n\n".join([*_paras(other_story), middle, *_paras(other_story)])
    quoted = PairVerifier().verify(_doc("host", host), _doc("quote", middle))
    assert not quoted.accepted
    assert quoted.kind in {"not-a-prefix", "misaligned", "low-similarity"}


@pytest.mark.parametrize(
    "text",
    [
        "Checking your browser before accessing example.com. This process is automatic.",
        "PLEASE ENABLE JAVASCRIPT to view this page.",
        "Access to this page has been Denied. Reference ID 12.",
        "Subscribe now to continue reading. Already a subscriber? Log in.",
        "We Value Your Privacy. We and our partners use cookies.",
        "Sorry, the page you requested was not found.",
    ],
)
def test_junk_pages_are_found_in_any_case(text: str) -> None:
    from newsdedup._models import Article
    from newsdedup._records import junk_page_reason

    assert junk_page_reason(Article(id="x", text=text)) == "junk-page"
    assert junk_page_reason(Article(id="x", text="The central bank raised rates by a quarter point.")) is None
    # non-ASCII text passes the keyword pre-check too
    assert junk_page_reason(Article(id="x", text=text + " — ünïcode")) == "junk-page"


@pytest.mark.parametrize(
    "text",
    [
        "Checkıng your browser before accessing example.com.",
        "Subſcribe now to continue reading.",
        "CHECKİNG YOUR BROWSER",
    ],
)
def test_junk_pages_are_found_through_characters_that_fold_to_ascii(text: str) -> None:
    """The keyword pre-check must not rule out what the case-insensitive pattern finds: "ı",
    "İ" and "ſ" match "i" and "s" there."""
    from newsdedup._models import Article
    from newsdedup._records import _JUNK_PAGE, junk_page_reason

    assert _JUNK_PAGE.search(text)
    assert junk_page_reason(Article(id="x", text=text)) == "junk-page"
    assert junk_page_reason(Article(id="x", text="A story.", title=text)) == "junk-page"


def test_the_folded_junk_pattern_finds_what_the_case_insensitive_one_finds() -> None:
    """junk_page_reason searches the ascii-folded lower case with a case-sensitive copy of the
    pattern: on mixed-case, accented and look-alike characters both must agree."""
    import random

    from newsdedup._boilerplate import ascii_fold_lower
    from newsdedup._records import _JUNK_PAGE, _JUNK_PAGE_FOLDED

    rng = random.Random(5)
    phrases = ["checking your browser", "access denied", "404 not found", "we value your privacy",
               "subscribe to keep reading", "page not found"]  # fmt: skip
    odd = "İıſKÀéßẞǅ\u0307 "
    hits = 0
    for _ in range(3000):
        chars = list(rng.choice(phrases))
        for i in rng.sample(range(len(chars)), 3):
            chars[i] = rng.choice([chars[i].upper(), rng.choice(odd), chars[i]])
        text = "".join(chars)
        found = bool(_JUNK_PAGE.search(text))
        hits += found
        assert bool(_JUNK_PAGE_FOLDED.search(ascii_fold_lower(text))) == found, text
    assert 500 < hits < 2900  # both outcomes are exercised


def test_a_sentence_inserted_inside_the_head_does_not_misalign_a_copy(story: str) -> None:
    """The head is the smaller text's first 300 characters: a newsletter line printed right after
    the first sentence of the other copy breaks the whole head's score; both halves of the head
    still align, in order, so the pair is checked on (and accepted)."""
    paras = _paras(story)
    lead = paras[0][:140].rsplit(" ", 1)[0]
    rest = paras[0][len(lead) :]
    short = "\n\n".join([paras[0], *paras[1:3]])
    junk = "Get the Morning Brief delivered to your inbox every day, free. Unsubscribe at any time."
    page = "\n\n".join([lead, junk + " " + junk, rest, *paras[1:]])
    off = PairVerifier(decisive_jaccard=1.0, decisive_containment=1.0)
    a, b = _doc("page", page), _doc("short", short)
    assert off._align("truncated", b.norm[:300], a.norm)[0] < 80  # the whole head fails
    verdict = off.verify(a, b)
    assert (verdict.accepted, verdict.kind) == (True, "truncated")
    assert verdict.align >= 80
    # halves out of order (the second half before the first) are not an alignment
    swapped = "\n\n".join([rest, lead, *paras[1:]])
    assert not off.verify(_doc("swapped", swapped), b).accepted


def test_may_align_never_rules_out_a_window_partial_ratio_passes(story: str, other_story: str) -> None:
    """The LCS bound only skips the window-by-window partial ratio when no window can pass:
    checked against rapidfuzz on heads taken from the story, edited (words dropped, inserted,
    swapped), against the story, the other story and texts mixing both, with windows that end
    at the text's ends; and it does rule out most heads that cannot align."""
    import random

    from rapidfuzz import fuzz

    from newsdedup._normalize import normalize_text
    from newsdedup._verify import may_align

    rng = random.Random(7)
    mine, theirs = normalize_text(story), normalize_text(other_story)
    words = mine.split()
    ruled_out = impossible = 0
    for trial in range(1500):
        start = rng.randrange(0, len(mine) - 400)
        head = mine[start : start + rng.choice((120, 200, 300))].split()
        for _ in range(rng.randrange(0, 25)):  # edits: drop, insert a story word, swap two
            i = rng.randrange(len(head))
            op = rng.random()
            if op < 0.4:
                del head[i]
            elif op < 0.8:
                head.insert(i, rng.choice(words))
            else:
                j = rng.randrange(len(head))
                head[i], head[j] = head[j], head[i]
        h = " ".join(head)
        cut = rng.randrange(0, len(theirs) - 200)
        text = rng.choice(
            (
                mine,
                theirs,
                theirs[:cut] + " " + mine[start : start + 500],
                mine[start + 150 :],
                mine[: start + 250],
            )
        )
        for cutoff in (80.0, 60.0):
            passes = fuzz.partial_ratio(h, text, score_cutoff=cutoff) > 0
            if not may_align(h, text, cutoff):
                assert not passes, (trial, cutoff)
                ruled_out += 1
            if not passes:
                impossible += 1
    assert ruled_out > impossible // 2
    assert may_align("", "anything", 80.0)
    assert may_align("a longer head", "short", 80.0)


def test_may_align_at_the_exact_cutoff_of_the_best_window(story: str, other_story: str) -> None:
    """The tightest case for the jumping walk over full-length windows: the cutoff set to the
    best window's own partial ratio, with the edited head placed anywhere inside unrelated
    text. A walk that jumps one window too far misses it (checked by mutation)."""
    import random

    from rapidfuzz import fuzz

    from newsdedup._normalize import normalize_text
    from newsdedup._verify import may_align

    rng = random.Random(3)
    mine, theirs = normalize_text(story), normalize_text(other_story)
    checked = 0
    for _ in range(600):
        start = rng.randrange(0, len(mine) - 300)
        n = rng.choice((80, 150, 250))
        head = list(mine[start : start + n])
        for _ in range(rng.randrange(0, 30)):  # character edits: the best score lands anywhere
            i = rng.randrange(len(head))
            if rng.random() < 0.5:
                head[i] = rng.choice("abcdefghij ")
            else:
                del head[i]
        h = "".join(head)
        cut = rng.randrange(0, len(theirs) - 400)
        text = (
            theirs[cut : cut + rng.randrange(0, 300)]
            + mine[start : start + n]
            + theirs[cut : cut + rng.randrange(0, 300)]
        )
        best = fuzz.partial_ratio(h, text)
        if not 0 < best < 100:
            continue
        checked += 1
        assert may_align(h, text, best), (h, text, best)
        assert may_align(h, text, max(1.0, best - 5.0))
    assert checked > 400
    # the best window shorter than the head, at either end: the head's tail opening the text,
    # or its start closing it (wholly matched, so the walk's first length is tight too)
    for _ in range(300):
        start = rng.randrange(0, len(mine) - 300)
        n = rng.choice((90, 160, 240))
        h = mine[start : start + n]
        k = rng.randrange(n // 2, n - 1)
        filler = theirs[(cut := rng.randrange(0, len(theirs) - 400)) : cut + rng.randrange(n + 20, 2 * n)]
        for text in (h[-k:] + filler, filler + h[:k]):
            best = fuzz.partial_ratio(h, text)
            if 0 < best < 100:
                assert may_align(h, text, best), (h, text, best)


def test_numbers_within_is_multiset_inclusion_on_every_path() -> None:
    """Equal sizes, the short merge walk and the numpy path all agree with a Counter."""
    from collections import Counter

    import numpy as np

    from newsdedup._verify import numbers_within

    rng = np.random.default_rng(5)
    for _ in range(3000):
        n, m = (int(x) for x in rng.integers(0, 90, 2))
        small = np.sort(rng.integers(0, 8, n).astype(np.uint64))
        large = np.sort(rng.integers(0, 8, m).astype(np.uint64))
        expect = not (Counter(small.tolist()) - Counter(large.tolist()))
        assert numbers_within(small, large) == expect
        assert numbers_within(small, np.sort(np.concatenate([small, large]))) is True


def test_sketch_bytes_round_trip() -> None:
    """What the engine spills when a sketch leaves its cache reads back as the same arrays,
    with a missing head or prefix kept missing."""
    import numpy as np

    from newsdedup._verify import Sketch

    doc = Doc.from_text(
        "k1", "Oil prices rose 3 percent on Monday after the OPEC meeting in Vienna. " * 5, WordShingler()
    )
    sketch = Sketch(doc)
    back = Sketch.from_bytes("k1", sketch.to_bytes())
    assert back.key == "k1"
    for name in ("shingles", "number_hashes", "head", "prefix"):
        assert np.array_equal(getattr(back, name), getattr(sketch, name)), name
        assert getattr(back, name).dtype == np.uint64
    sketch.head = None
    sketch.prefix = None
    back = Sketch.from_bytes("k1", sketch.to_bytes())
    assert back.head is None
    assert back.prefix is None
    assert np.array_equal(back.number_hashes, sketch.number_hashes)


def _batch_docs(texts: dict[str, str]) -> dict[str, Doc]:
    from newsdedup import Article, Deduplicator

    d = Deduplicator()
    fp = d.fingerprint([Article(text=t, id=k) for k, t in texts.items()])
    return {doc.key: doc for doc in fp.docs if doc is not None}


def _variants(story: str) -> dict[str, str]:
    """A story, a copy with swapped numbers and names, a non-ASCII copy, and another story."""
    paras = _paras(story)
    return {
        "a": story,
        "b": "\n\n".join([paras[0].replace("Thursday", "Friday 12 March"), *paras[1:]])
        .replace("10,000", "20,000")
        .replace("Zelenskyy", "Stoltenberg"),
        "c": "Ünïcode dateline — " + story.replace("e", "é", 5),
        "d": "\n\n".join(paras[: len(paras) // 2]) + "\n\nNumbers: 1.5 5th 10am 3/4 and 2,500.",
    }


def test_batch_docs_cut_the_same_tokens_as_the_regex(story: str) -> None:
    """A batch doc never builds its token list: its ids and the tokens cut from ``norm`` by the
    batch's offsets are those of :func:`tokenize` (ASCII and non-ASCII texts)."""
    from newsdedup._fingerprint import token_ids
    from newsdedup._normalize import tokenize

    for key, doc in _batch_docs(_variants(story)).items():
        tokens = tokenize(doc.norm)
        assert doc.token_ids == token_ids(tokens).tolist(), key
        assert doc.n_tokens() == len(tokens)
        for start in range(0, len(tokens), 7):
            for width in (1, 2, 3):
                assert doc.token_slice(start, start + width) == tokens[start : start + width], key
        assert doc._tokens is None or key == "c"  # the token strings were never built (ASCII)


def test_batch_and_text_docs_give_the_same_substitutions_and_verdicts(story: str) -> None:
    texts = _variants(story)
    batch = _batch_docs(texts)
    v = PairVerifier(decisive_jaccard=1.0, decisive_containment=1.0)  # always align and guard
    for a in texts:
        for b in texts:
            if a < b:
                plain = (_doc(a, texts[a]), _doc(b, texts[b]))
                assert substitutions(batch[a], batch[b]) == substitutions(*plain), (a, b)
                assert v.verify(batch[a], batch[b]) == v.verify(*plain), (a, b)
    # the changed number and every swapped name (and the weekday) were seen
    assert substitutions(batch["a"], batch["b"]) == (1, story.count("Zelenskyy") + 1)


def test_a_doc_keeps_its_token_ids_as_an_array_not_a_list(story: str) -> None:
    """A cached doc must not grow by a list of Python ints (about 40 bytes a token) once it is
    aligned: the ids stay one array, listed per call."""
    import numpy as np

    for doc in (_batch_docs({"a": story})["a"], _doc("t", story)):
        ids = doc.token_ids
        assert ids == doc.token_ids
        assert ids is not doc.token_ids
        assert isinstance(doc._ids, np.ndarray)
        assert len(ids) == doc.n_tokens() == len(doc.tokens)


def test_a_doc_sent_to_a_worker_keeps_its_verdicts(story: str) -> None:
    """Docs are pickled pair by pair for worker processes: one buffer for the arrays."""
    import pickle

    texts = _variants(story)
    docs = {**_batch_docs(texts), "t": _doc("t", texts["d"])}  # a batch doc and a text doc
    docs["t"].names  # noqa: B018 - a computed cache travels too
    docs["t"].token_ids  # noqa: B018 - so do the ids a text doc computes
    back = pickle.loads(pickle.dumps(docs))
    assert back["t"]._names is not None
    assert back["t"]._ids is not None
    v = PairVerifier(decisive_jaccard=1.0, decisive_containment=1.0)
    for a in docs:
        assert back[a].token_ids == docs[a].token_ids
        assert back[a].names == docs[a].names
        for b in docs:
            if a < b:
                assert v.verify(back[a], back[b]) == v.verify(docs[a], docs[b]), (a, b)


def test_a_doc_passed_on_to_another_worker_is_not_packed_again(story: str) -> None:
    """A doc unpickled in the main process goes on to a verification worker in the buffer it
    came in (its arrays are views of it); once it computes an array the buffer lacks, it is
    packed afresh, so the array travels too."""
    import pickle

    import numpy as np

    texts = _variants(story)
    batch = _batch_docs(texts)
    sent = pickle.loads(pickle.dumps(batch))
    for key, doc in sent.items():
        assert doc._packed is not None
        assert doc.__reduce__()[1][3] is doc._packed  # sent on as it came
        again = pickle.loads(pickle.dumps(doc))
        assert again._packed == doc._packed
        assert np.array_equal(again.shingles, batch[key].shingles)
        assert again.token_ids == batch[key].token_ids
    text_doc = pickle.loads(pickle.dumps(_doc("t", texts["d"])))  # no token ids yet
    assert text_doc._ids is None
    assert text_doc._packed is not None
    ids = text_doc.token_ids
    assert text_doc._packed is None  # the buffer no longer holds every array
    again = pickle.loads(pickle.dumps(text_doc))
    assert again._ids is not None
    assert again.token_ids == ids


def test_anchored_windows_pass_only_where_partial_ratio_does(story: str, other_story: str) -> None:
    """The windows placed by verbatim pieces of the head are windows partial_ratio scores
    too, so they never pass a head it fails, and their score is at most its score; the
    prefix window lets a head holding a sentence the text lacks pass without the scan."""
    import random

    from rapidfuzz import fuzz

    from newsdedup._normalize import normalize_text

    rng = random.Random(11)
    mine, theirs = normalize_text(story), normalize_text(other_story)
    words = mine.split()
    v = PairVerifier()
    passed = 0
    for _ in range(600):
        start = rng.choice((0, 0, rng.randrange(0, len(mine) - 400)))
        head = mine[start : start + 300].split()
        for _ in range(rng.randrange(0, 12)):
            i = rng.randrange(len(head))
            if rng.random() < 0.5:
                del head[i]
            else:
                head.insert(i, rng.choice(words))
        h = " ".join(head)[:300]
        text = rng.choice((mine, mine[rng.randrange(0, 200) :], theirs[:300] + " " + mine))
        kind = rng.choice(("near-duplicate", "truncated"))
        found = v._anchored(kind, h, text)
        if found is None:
            continue
        passed += 1
        score, at = found
        assert score >= v.min_align
        assert fuzz.partial_ratio(h, text) >= score - 1e-9
        if kind == "truncated":
            assert at <= max(v.head_chars, v.max_start_offset * len(text))
    assert passed > 100
    # a newsletter line inside the head shifts the rest of it: the text's prefix ending where
    # the head ends passes, found without the window-by-window scan
    pitch = "get the daily brief delivered to your inbox every morning, free. "
    lead = mine[:150]
    head = (lead + pitch + mine[150:])[:300]
    assert fuzz.ratio(head, mine[:300]) < v.min_align
    score, at = v._anchored("near-duplicate", head, mine) or (0.0, 0)
    assert score >= v.min_align
    assert at == 0


def test_verdicts_round_trip_through_pickle() -> None:
    """Workers send verdicts back pickled (through the constructor): every field survives."""
    import pickle

    from newsdedup._verify import Verdict

    verdicts = [Verdict(True, "truncated", 0.41, 0.93, 88.5), Verdict(False, "misaligned", 0.55, 0.6)]
    back = pickle.loads(pickle.dumps(verdicts))
    assert back == verdicts
    assert all(type(v) is Verdict for v in back)
    assert back[1].align == 0.0


def test_alphabet_codes_are_one_to_one_and_skip_the_surrogates() -> None:
    from newsdedup._verify import Alphabet

    alphabet = Alphabet()
    ids = list(range(10**12, 10**12 + 60_000))
    coded = alphabet.code(ids)
    assert coded is not None
    assert len(coded) == len(ids)
    assert len(set(coded)) == len(ids)  # one character per distinct id
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in coded)
    coded.encode("utf-8")  # a valid string: no lone surrogate
    # the same ids give the same characters, in any doc of the alphabet
    assert alphabet.code([ids[5], ids[0], ids[5]]) == coded[5] + coded[0] + coded[5]
    assert alphabet.code([]) == ""


def test_alignment_in_a_shared_alphabet_equals_the_alignment_of_ids(story: str, other_story: str) -> None:
    """Docs of one unit are aligned as strings of codes: the same substitutions and verdicts as
    by their ids, for every pair of edited copies; a doc of another alphabet, or an alphabet
    that ran out of characters, falls back to the ids."""
    import random

    from newsdedup._verify import Alphabet

    rng = random.Random(4)
    words = story.split()
    texts = [story, other_story]
    for _ in range(8):  # copies with numbers and names swapped, words dropped
        w = list(words)
        for _ in range(rng.randrange(1, 12)):
            i = rng.randrange(len(w))
            w[i] = rng.choice(["17", "Smith", "Jones", "2.5", "the", "Tuesday"])
        del w[rng.randrange(len(w)) :][: rng.randrange(0, 30)]
        texts.append(" ".join(w))
    plain, coded = _plain_and_coded(texts, "d")
    verifier = PairVerifier()
    for i in range(len(texts)):
        for j in range(len(texts)):
            if i != j:
                assert substitutions(coded[i], coded[j]) == substitutions(plain[i], plain[j])
                assert verifier.verify(coded[i], coded[j]) == verifier.verify(plain[i], plain[j])
    assert all(doc.token_codes() is not None for doc in coded)
    assert any(substitutions(plain[0], p) != (0, 0) for p in plain[2:])  # the guard is exercised
    # another alphabet: aligned by ids, same result
    stranger = _doc("d1", texts[1])
    stranger.share_alphabet(Alphabet())
    assert substitutions(coded[0], stranger) == substitutions(plain[0], plain[1])

    # a full alphabet codes nothing more
    class Tiny(Alphabet):
        _LIMIT = 3

    full = Tiny()
    small = [_doc("s0", texts[2]), _doc("s1", texts[3])]
    for doc in small:
        doc.share_alphabet(full)
    assert small[0].token_codes() is None
    assert substitutions(small[0], small[1]) == substitutions(plain[2], plain[3])
    small[0].share_alphabet(None)
    assert small[0].token_codes() is None


def test_has_name_is_a_lookup_in_the_names(story: str) -> None:
    """``Doc.has_name`` finds a token's name status where the token occurs (texts that fold to
    ASCII) instead of extracting the names: the same answer as the lookup in ``Doc.names``
    for every token, on sentence starts after ``.!?:`` or newlines, opening quotes, thousands
    separators, backticks, underscores, one-letter words and texts that only fold to ASCII."""
    import random
    import re

    from newsdedup._normalize import names, normalize_text, tokenize

    crafted = [
        story,
        "Shares rose. Smith said: Jones left!\nWhite House aides met\n  'Brown' and (Green) at U.S. Steel.",
        "`Quoted starts the text. Then `Backtick Word and B1,000 units of Model1,000 or Foo_Bar.",
        "\u201cCurly\u201d quotes \u2014 Caf\u00e9 Owner Paris said O\u2019Brien and Mr. Li agreed;\tTab Start",
        'a. B c? D e! F g: H i\r\nJ k \x1cL m "(N o',
        "lower case only, nothing capitalised here at all",
    ]
    rng = random.Random(11)
    pieces = [
        *"AaBbZz019 .!?:\n\t'\"([`,_-",
        "Foo",
        "bar",
        "1,000",
        "B1,000",
        "Mr. ",
        "\u2019",
        "\u00e9",
        "\x1c",
    ]
    texts = crafted + ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 40))) for _ in range(3000)]
    ascii_folds = 0
    for text in texts:
        doc = Doc(
            "k", normalize_text(text), WordShingler(5).shingles(tokenize(normalize_text(text))), text=text
        )
        truth = names(text)
        tokens = set(tokenize(doc.norm)) | {t for t in truth if re.fullmatch(r"[a-z0-9]+", t)}
        for token in tokens:
            assert doc.has_name([token]) == (token in truth), (text, token)
        ascii_folds += doc._folded != ()
    assert ascii_folds > len(texts) // 2  # the occurrence rule is what was tested, mostly
    crafted_doc = Doc("c", normalize_text(crafted[1]), WordShingler(5).shingles(["x"]), text=crafted[1])
    assert crafted_doc.has_name(["nothing", "house"])
    assert crafted_doc.has_name(["green"])
    # sentence starts: the text's first word, after ".!?:" and whitespace, after a newline
    assert not crafted_doc.has_name(["shares", "smith", "jones", "white", "brown", "steel"])


def test_coded_numbers_of_a_non_ascii_text_are_read_from_its_tokens(story: str) -> None:
    """In a shared alphabet an ASCII text's numbers are read from the codes; a non-ASCII text's
    from its token strings, since its number hashes need not list every token
    :func:`newsdedup._verify.is_number` counts (a number in Arabic-Indic digits)."""

    words = story.split()
    texts = []
    for k in range(2):
        w = list(words)
        for i in range(5, len(w), 9):  # many number slots filled differently in the two copies
            w[i] = "\u0663\u0664" if k == 0 else "\u0665\u0666"
        texts.append(" ".join(w))
    plain, coded = _plain_and_coded(texts, "n")
    expected = substitutions(plain[0], plain[1])
    assert expected[0] > 5
    assert substitutions(coded[0], coded[1]) == expected
    assert PairVerifier().verify(coded[0], coded[1]) == PairVerifier().verify(plain[0], plain[1])


def test_substitutions_min_names_gives_the_names_count_only_from_that_count_up(story: str) -> None:
    """``min_names`` (what the guard passes: 2) only drops a names count below it: copies with
    0-4 names swapped, some with numbers swapped too, give the full count's numbers and the
    full names count whenever it reaches ``min_names``, else 0; the verdicts never change."""
    import random

    rng = random.Random(9)
    words = story.split()
    # capitalised words mid-sentence, far apart (each swap its own block)
    slots = [i for i in range(1, len(words)) if words[i][:1].isupper() and words[i - 1][-1:] not in ".!?:"]
    slots = [i for n, i in enumerate(slots) if n == 0 or i - slots[n - 1] > 8]
    texts = [story]
    for n in range(60):
        w = list(words)
        for i in rng.sample(slots, n % 5):  # names swapped for other names
            w[i] = rng.choice(["Smith", "Jones", "Kowalski", "Okafor"])
        for _ in range(rng.randrange(0, 3)):
            w[rng.randrange(len(w))] = rng.choice(["17", "2.5", "300"])
        texts.append(" ".join(w))
    plain, coded = _plain_and_coded(texts, "m")
    seen = set()
    for docs in (plain, coded):
        for other in docs[1:]:
            nums, names = substitutions(docs[0], other)
            for floor in (1, 2, 3):
                assert substitutions(docs[0], other, min_names=floor) == (
                    nums,
                    names if names >= floor else 0,
                )
            seen.add(min(names, 3))
    assert seen == {0, 1, 2, 3}  # counts below, at and above the bound were all met


def test_two_name_substitutions_reject_a_pair_and_one_does_not() -> None:
    """The guard's bound on names: two swapped names (of few) make a look-alike, one does not."""
    base = (
        "Police in Denver said on Monday that John Carter met Maria Lopez at the harbour, where "
        "officers from Boston had waited since the morning. Witnesses said the meeting was short and "
        "that the two left in separate cars before noon, heading north along the coast road towards "
        "the old fish market, which has been closed for repairs since the storm last winter. "
    ) * 2
    one = base.replace("John Carter", "Peter Novak")
    two = one.replace("Maria Lopez", "Ana Silva")
    v = PairVerifier(decisive_jaccard=1.0)  # no shortcut on the shingles: the guard decides
    a = _doc("a", base)
    assert substitutions(a, _doc("b", two))[1] == 4  # each name swapped in both halves
    assert substitutions(a, _doc("b", two.replace("Ana Silva", "Maria Lopez", 1)), min_names=2)[1] == 3
    single = base.replace("John Carter", "Peter Novak", 1)
    assert substitutions(a, _doc("c", single)) == (0, 1)
    assert v.verify(a, _doc("c", single)).accepted
    pair = base.replace("John Carter", "Peter Novak", 1).replace("Maria Lopez", "Ana Silva", 1)
    assert substitutions(a, _doc("d", pair)) == (0, 2)
    verdict = v.verify(a, _doc("d", pair))
    assert (verdict.accepted, verdict.kind) == (False, "names-differ")


def test_a_unit_coded_at_once_aligns_as_its_docs_coded_one_by_one(story: str, other_story: str) -> None:
    """``Alphabet.code_docs`` (a unit's docs coded in one pass) gives every doc the codes of
    one one-to-one alphabet, marks the number tokens of its ASCII texts, and so the same
    substitutions and verdicts as docs coded one by one; ids coded afterwards keep the same
    codes; a unit with more distinct tokens than codes, or an alphabet already in use, codes
    one by one as before."""
    import random

    from newsdedup._verify import Alphabet

    rng = random.Random(11)
    words = story.split()
    texts = [story, other_story, "Caf\u00e9 owners in Z\u00fcrich paid 12 francs, 3 more than in 2023."]
    for _ in range(6):
        w = list(words)
        for _ in range(rng.randrange(1, 10)):
            w[rng.randrange(len(w))] = rng.choice(["17", "Smith", "Jones", "2.5", "the", "Tuesday"])
        texts.append(" ".join(w))
    plain, lazy = _plain_and_coded(texts, "u")
    bulk = [_doc(f"u{i}", t) for i, t in enumerate(texts)]
    alphabet = Alphabet()
    alphabet.code_docs(bulk)
    codes = [doc._codes for doc in bulk]
    assert all(c is not None for c in codes)  # coded before any alignment asked
    ids = [doc.token_ids for doc in bulk]
    seen: dict[int, str] = {}
    for doc_ids, doc_codes in zip(ids, codes, strict=True):
        assert doc_codes is not None
        assert len(doc_codes) == len(doc_ids)
        for x, c in zip(doc_ids, doc_codes, strict=True):
            assert seen.setdefault(x, c) == c
    assert len(set(seen.values())) == len(seen)  # one-to-one
    number_ids = {x for doc in bulk if doc.norm.isascii() for x in doc.number_hashes.tolist()}
    assert number_ids
    assert alphabet.numbers == {seen[x] for x in number_ids}
    verifier = PairVerifier()
    for i in range(len(texts)):
        for j in range(len(texts)):
            if i != j:
                assert substitutions(bulk[i], bulk[j]) == substitutions(lazy[i], lazy[j])
                assert substitutions(bulk[i], bulk[j]) == substitutions(plain[i], plain[j])
                assert verifier.verify(bulk[i], bulk[j]) == verifier.verify(plain[i], plain[j])
    # a doc coded later in the same alphabet keeps the unit's codes for known tokens
    late = _doc("late", texts[3] + " brandnewword")
    late.share_alphabet(alphabet)
    late_codes = late.token_codes()
    assert late_codes is not None
    assert late_codes[:-1] == "".join(seen[x] for x in late.token_ids[:-1])
    assert late_codes[-1] not in seen.values()

    class Tiny(Alphabet):
        _LIMIT = 5

    small = [_doc("t0", texts[3]), _doc("t1", texts[4])]
    Tiny().code_docs(small)
    assert all(doc._codes is None for doc in small)
    assert small[0].token_codes() is None  # full: aligned by ids
    assert substitutions(small[0], small[1]) == substitutions(plain[3], plain[4])
    used = Alphabet()
    first = _doc("f0", texts[0])
    first.share_alphabet(used)
    assert first.token_codes() is not None
    again = [_doc("f1", texts[1])]
    used.code_docs(again)
    assert again[0]._codes is None
    assert again[0].token_codes() is not None  # coded when asked
