"""Copy everything one state store holds into another: rebuild a Redis index from an SQLite
copy after Redis lost its data, keep an SQLite backup of a Redis store, move between backends.

The source is read in one consistent view (:meth:`Store.snapshot`) and streamed in bounded
chunks (:meth:`Transaction.dump`); the target writes them as they are
(:meth:`Transaction.load`: commit order, pending flags, emit marks, times), so a run against the
copy does what the same run against the source would. Memory does not grow with the store.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from pathlib import Path

from .._exceptions import ConfigError, StoreError
from ._base import COPY_BATCH, Store

__all__ = ["copy_store"]

_ORDER = (
    "items",
    "indexed",
    "pending",
    "edges",
    "clusters",
    "updates",
    "fetch_cache",
    "seen_urls",
    "learners",
)


def copy_store(
    source: Store | str | os.PathLike[str],
    target: Store | str | os.PathLike[str],
    *,
    replace: bool = False,
    batch: int = COPY_BATCH,
) -> dict[str, int]:
    """Copy every piece of state ``source`` holds into ``target``; return what was copied.

    Copied: the configuration the store is bound to, every item (text, metadata, times, bucket
    keys; expired items without them), verified pairs, updates, clusters as last emitted and
    which items are pending, the high-water time, seen URLs, the fetch cache and saved
    boilerplate learners. ``source`` and ``target`` are stores or what :func:`open_store`
    takes (an SQLite path or a ``redis://`` URL; a source path must exist); stores opened here
    are closed here.

    A target that holds anything, or is bound to another configuration, is refused with
    :class:`StoreNotEmpty` and left as it was; ``replace=True`` empties it first (every key of
    a Redis name, every row of an SQLite file). An SQLite target is written in one transaction:
    a failed copy leaves it as it was. A Redis target is written under its index lock in
    chunks of ``batch`` rows; a copy that fails part way leaves a partial index (copy again
    with ``replace=True``). With ``replace=True`` a Redis target is emptied only after the
    source was read through once and found whole. Nothing else should write to the target
    during a copy."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"batch must be an int >= 1, got {batch!r}")
    opened: list[Store] = []
    try:
        src = _open(source, opened, create=False)
        made = _new_file(target)
        dst = _open(target, opened, create=True)
        counts: Counter[str] = Counter(dict.fromkeys(_ORDER, 0))
        try:
            if _same(src, dst):
                raise ConfigError(f"cannot copy a store onto itself ({src.url})")
            binding = src.binding()
            if binding is None:
                raise StoreError(
                    f"{src.url}: holds no dedup state to copy (it is not bound to a configuration)"
                )
            src.bind(binding.name or "default", binding.fingerprint, binding.config)
            with src.snapshot() as view:
                if replace and not isinstance(getattr(dst, "path", None), Path):
                    # a target written chunk by chunk (Redis) is emptied first: the source is
                    # read through and checked before, so a damaged one leaves it as it was
                    for _ in view.dump(batch):
                        pass
                with dst.restore(binding, replace=replace) as sink:
                    for chunk in view.dump(batch):
                        sink.load(chunk)
                        counts.update(chunk.counts())
        except BaseException:
            if made is not None:  # a file this copy created: gone again, not left empty
                dst.close()
                for path in (made, made.with_name(made.name + "-wal"), made.with_name(made.name + "-shm")):
                    with contextlib.suppress(OSError):
                        path.unlink()
            raise
        return {k: counts[k] for k in _ORDER}
    finally:
        for store in opened:
            store.close()


def _open(store: Store | str | os.PathLike[str], opened: list[Store], *, create: bool) -> Store:
    """``store`` itself, or the store it names (added to ``opened``: closed by the copy)."""
    if not isinstance(store, str | os.PathLike):
        return store
    from . import open_store

    new = open_store(store, create=create)
    opened.append(new)
    return new


def _new_file(target: Store | str | os.PathLike[str]) -> Path | None:
    """The SQLite file ``target`` names when it does not exist yet (removed if the copy fails)."""
    if not isinstance(target, str | os.PathLike) or "://" in os.fspath(target):
        return None
    path = Path(target)
    return None if path.exists() else path


def _same(a: Store, b: Store) -> bool:
    """Whether two stores are one: the same SQLite file, or the same Redis server and name."""
    if a is b:
        return True
    pa, pb = getattr(a, "path", None), getattr(b, "path", None)
    if isinstance(pa, Path) and isinstance(pb, Path):
        with contextlib.suppress(OSError):
            return pa.samefile(pb)
        return pa.resolve() == pb.resolve()
    ia, ib = getattr(a, "identity", None), getattr(b, "identity", None)
    return callable(ia) and callable(ib) and ia() == ib()
