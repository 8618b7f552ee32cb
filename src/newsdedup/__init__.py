"""newsdedup: a noisy stream of news pages in, a clean stream of stories out.

The names below are the public API; every module whose name starts with an underscore is
private and may change without notice.
"""

import logging

from ._boilerplate import BoilerplateLearner, RuleSet
from ._dedup import Decision, DedupConfig, Deduplicator, ErrorRecord, dedup
from ._exceptions import (
    BlockedURL,
    ConfigError,
    ConnectError,
    DecodingError,
    DedupError,
    ExtractError,
    FeedError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    InputError,
    MissingDependency,
    NewsdedupError,
    ResponseTooLarge,
    RobotsDisallowed,
    RobotsUnreachable,
    RuleError,
    StoreBusy,
    StoreCorrupt,
    StoreError,
    StoreSchemaError,
    TooManyRedirects,
    UnsupportedContent,
)
from ._extract import ExtractConfig, extract
from ._models import Article, Cluster, Removal, Source
from ._text import clean_text
from ._version import __version__

# The library logs under "newsdedup" and configures no handler: that is the application's call.
logging.getLogger("newsdedup")

__all__ = [
    "Article",
    "BlockedURL",
    "BoilerplateLearner",
    "Cluster",
    "ConfigError",
    "ConnectError",
    "Decision",
    "DecodingError",
    "DedupConfig",
    "DedupError",
    "Deduplicator",
    "ErrorRecord",
    "ExtractConfig",
    "ExtractError",
    "FeedError",
    "FetchError",
    "FetchTimeout",
    "HTTPStatusError",
    "InputError",
    "MissingDependency",
    "NewsdedupError",
    "Removal",
    "ResponseTooLarge",
    "RobotsDisallowed",
    "RobotsUnreachable",
    "RuleError",
    "RuleSet",
    "Source",
    "StoreBusy",
    "StoreCorrupt",
    "StoreError",
    "StoreSchemaError",
    "TooManyRedirects",
    "UnsupportedContent",
    "__version__",
    "clean_text",
    "dedup",
    "extract",
]

for _name in __all__:
    _obj = globals()[_name]
    if not _name.startswith("__") and getattr(_obj, "__module__", "").startswith("newsdedup."):
        _obj.__module__ = "newsdedup"  # users see newsdedup.Article, not newsdedup._models.Article
del _name, _obj
