"""Plain-text input: the same publisher rules applied line by line.

INTERIM STUB: replaced by the real implementation.
"""

from __future__ import annotations

from ._boilerplate import BoilerplateLearner, RuleSet, clean_blocks
from ._models import Article

__all__ = ["clean_text"]


def clean_text(
    text: str,
    url: str | None = None,
    *,
    id: str | None = None,
    title: str | None = None,
    site: str | None = None,
    rules: RuleSet | None = None,
    learner: BoilerplateLearner | None = None,
) -> Article:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    result = clean_blocks(lines, url=url, rules=rules, learner=learner)
    return Article(id=id, url=url, site=site, title=title or "", text="\n\n".join(result.blocks),
                   source_format="text")
