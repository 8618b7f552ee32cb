"""Durable dedup state: :func:`open_store` picks the backend from a path or URL."""

from __future__ import annotations

import os
from typing import Any

from .._exceptions import ConfigError
from ._base import ClusterRow, EdgeRow, ItemRow, Store, Transaction, UpdateRow
from ._copy import copy_store
from ._redis import RedisStore  # needs the redis client only when a RedisStore is created
from ._sqlite import SQLiteStore

__all__ = [
    "ClusterRow",
    "EdgeRow",
    "ItemRow",
    "RedisStore",
    "SQLiteStore",
    "Store",
    "Transaction",
    "UpdateRow",
    "copy_store",
    "open_store",
]


def open_store(target: str | os.PathLike[str], *, create: bool = True, **options: Any) -> Store:
    """Open (or create) a state store.

    ``redis://`` / ``rediss://`` / ``unix://`` URLs open a :class:`RedisStore` (``?name=`` picks
    the keyspace); anything else is a path to an SQLite file (:class:`SQLiteStore`), created when
    missing unless ``create=False``. ``options`` go to the backend (``synchronous``,
    ``busy_timeout``, ``lock_ttl``...).
    """
    text = os.fspath(target)
    if not text:
        raise ConfigError("store path must not be empty")
    if text.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(text, **options)
    if "://" in text:
        raise ConfigError(f"unknown store URL scheme in {text!r} (expected a file path or redis://)")
    return SQLiteStore(text, create=create, **options)
