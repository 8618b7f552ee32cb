"""The README's library example, run on the real Newsmax and MENAFN pages from the fixtures.

If this fails, the README and docs/quickstart.md describe an API that does not work.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import newsdedup

PUBLISHERS = Path(__file__).parent / "fixtures" / "publishers"
NEWSMAX_URL = "https://www.newsmax.com/newsfront/Obit-Stern-NBA/2020/01/01/id/948026"
MENAFN_URL = "https://menafn.com/1099497208/Audi-posts-robust-sales-in-China?src=Rss"


def _page(prefix: str) -> bytes:
    return gzip.decompress(next(PUBLISHERS.glob(f"{prefix}_*.html.gz")).read_bytes())


def test_readme_extract_example() -> None:
    article = newsdedup.extract(_page("newsmax"), url=NEWSMAX_URL)
    assert article.title == "David Stern, NBA's Commissioner for 30 Years, Dies at 77"
    assert article.wire == "Reuters"
    assert article.published is not None
    assert "Stern" in article.text
    for junk in (
        "Thomson/Reuters",
        "Newsmax Media, Inc",
        "Join the Newsmax Community",
        "Click Here to comment",
    ):
        assert junk not in article.text, junk
    assert article.removed
    assert all(r.rule for r in article.removed)


def test_readme_dedup_example() -> None:
    newsmax = _page("newsmax")
    text_copy = newsdedup.extract(newsmax, url=NEWSMAX_URL).text
    clusters = newsdedup.dedup(
        [
            {"id": "a", "html": newsmax, "url": NEWSMAX_URL},
            {"id": "b", "text": text_copy + "\n\nShare this article", "url": "https://copy.example/stern"},
            {"id": "c", "html": _page("menafn"), "url": MENAFN_URL},
        ]
    )
    by_members = {c.member_ids: c for c in clusters}
    assert set(by_members) == {("a", "b"), ("c",)}
    stern = by_members[("a", "b")]
    assert stern.wire == "Reuters"
    assert {s.site for s in stern.sources} >= {"copy.example"}
    assert "Share this article" not in stern.text
    assert "story_id" in stern.to_dict()
