"""Publisher boilerplate rules (data-driven) and the learned per-site boilerplate.

INTERIM STUB: the real rule engine replaces this module. The call signatures are the contract
that ``_extract`` and ``_text`` rely on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ._models import Removal

__all__ = ["BoilerplateLearner", "CleanResult", "RuleSet", "clean_blocks", "dom_selectors"]


@dataclass(frozen=True, slots=True)
class CleanResult:
    blocks: list[str]
    removed: list[Removal] = field(default_factory=list)
    wire: str | None = None


class RuleSet:
    @classmethod
    def default(cls) -> RuleSet:
        return cls()


class BoilerplateLearner:
    pass


def dom_selectors(url: str | None, html: str, *, rules: RuleSet | None = None) -> list[str]:
    return []


def clean_blocks(
    blocks: Sequence[str],
    *,
    url: str | None = None,
    title: str = "",
    authors: Sequence[str] = (),
    hints: Sequence[str] = (),
    rules: RuleSet | None = None,
    learner: BoilerplateLearner | None = None,
) -> CleanResult:
    return CleanResult(list(blocks))
