"""HTML to clean article.

INTERIM STUB: a naive <p> collector; the real block-scoring extractor replaces it.
"""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser

from ._boilerplate import BoilerplateLearner, RuleSet, clean_blocks
from ._decode import decode_bytes, looks_binary
from ._models import Article

__all__ = ["ExtractConfig", "extract"]


class ExtractConfig:
    pass


def extract(
    html: str | bytes,
    url: str | None = None,
    *,
    content_type: str | None = None,
    config: ExtractConfig | None = None,
    rules: RuleSet | None = None,
    learner: BoilerplateLearner | None = None,
) -> Article:
    if isinstance(html, bytes):
        if looks_binary(html):
            return Article(url=url, reason="binary")
        html = decode_bytes(html, content_type=content_type).text
    if not html.strip():
        return Article(url=url, reason="empty-input")
    tree = LexborHTMLParser(html)
    title_node = tree.css_first("h1") or tree.css_first("title")
    title = title_node.text(strip=True) if title_node else ""
    blocks = [p.text(strip=True) for p in tree.css("p") if len(p.text(strip=True)) > 40]
    result = clean_blocks(blocks, url=url, title=title, rules=rules, learner=learner)
    text = "\n\n".join(result.blocks)
    return Article(url=url, title=title, text=text, wire=result.wire,
                   removed=tuple(result.removed), reason=None if text else "no-main-text")
