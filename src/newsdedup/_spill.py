"""Items kept on disk instead of in memory, and the bounded caches in front of them.

A long run keeps every article it has seen (its text is the output's canonical text) and
verification needs texts again long after they arrived. :class:`_Spill` appends them to
anonymous temporary files and reads them back by offset, in this process or, through
:class:`_SharedFile`, in worker processes; :class:`_Cache` is the least-recently-used dict the
deduplicator keeps in front of it. See ``docs/dedup.md`` (process, memory and streaming).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import Any

from ._models import Article
from ._verify import Sketch

_TEXT_FIELD = [f.name for f in fields(Article)].index("text")
_NO_NORM = 0xFFFFFFFF  # a record's length of its normal form when none is stored


_PREAD = getattr(os, "pread", None)


def _pread_exact(fd: int, where: int) -> bytes:
    """The record at ``where`` (``offset << 32 | size``) of an open file, by ``pread``: more
    than one read only when one comes back short (at most about 2 GiB on Linux). The file
    position is neither used nor moved, so the appending process and the workers reading
    the same file (:class:`_SharedFile`) never disturb each other."""
    assert _PREAD is not None
    offset, size = where >> 32, where & 0xFFFFFFFF
    parts, got = [], 0
    while got < size:
        more = _PREAD(fd, size - got, offset + got)
        if not more:
            raise EOFError(f"spill file ends inside a record at {offset + got}")
        parts.append(more)
        got += len(more)
    return parts[0] if len(parts) == 1 else b"".join(parts)


class _SharedFile:
    """An open file for worker processes: it pickles as a duplicate of its descriptor for the
    receiving process (``multiprocessing.reduction.DupFd``, the way multiprocessing hands a
    child its pipes and sockets), so a worker can ``pread`` an anonymous spill file that has
    no name to open. Given to each pool's workers at their start (POSIX only)."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        from multiprocessing import reduction

        return _SharedFile._received, (reduction.DupFd(self.fd),)  # type: ignore[attr-defined]

    @staticmethod
    def _received(duplicate: Any) -> _SharedFile:
        return _SharedFile(duplicate.detach())


class _AppendFile:
    """An anonymous temporary file (deleted when closed or when the process ends) that records
    are appended to and read back from by where they are."""

    def __init__(self) -> None:
        import tempfile

        # appends are buffered (a megabyte at a time) and reads bypass the buffer: a seek per
        # append turned every article and sketch into its own write system call (about 50 s
        # of a million-item run's main process)
        self._fh = tempfile.TemporaryFile(prefix="newsdedup-", buffering=1 << 20)  # noqa: SIM115 - lives with its owner
        self._dirty = False
        self._end = 0

    def append(self, data: bytes) -> int:
        """Write ``data`` at the end of the file; where it is (``offset << 32 | size``, for
        :meth:`read`)."""
        if len(data) >= 1 << 32:
            raise ValueError(f"cannot spill a record of {len(data)} bytes (the limit is 4 GiB)")
        self._fh.write(data)  # the file position stays at its end: reads never move it
        where = self._end << 32 | len(data)
        self._end += len(data)
        self._dirty = True
        return where

    def flush(self) -> None:
        """Write out the buffered appends, so reads by offset (here or in a worker) see them."""
        if self._dirty:
            self._fh.flush()
            self._dirty = False

    def fileno(self) -> int:
        return self._fh.fileno()

    def read(self, where: int) -> bytes:
        self.flush()
        if _PREAD is not None:
            return _pread_exact(self._fh.fileno(), where)
        offset, size = where >> 32, where & 0xFFFFFFFF
        self._fh.seek(offset)  # no pread (Windows): read where asked, then go back to the end
        try:
            return self._fh.read(size)
        finally:
            self._fh.seek(self._end)

    def close(self) -> None:
        self._fh.close()


class _Spill:
    """Articles kept on disk instead of in memory: each one pickled and appended to an
    anonymous temporary file, read back by offset. With it, the deduplicator's memory grows
    with its index and per-item metadata, not with the texts of its input. An article is
    written when it leaves the bounded article cache, so a run that fits in the cache never
    writes (nor pickles) anything.

    Articles have a file of their own; sketches and parked index arrays (:meth:`append`) share
    another, so postponed verification, which reads only texts, reads a file that holds
    nothing else (pages not read for about a minute can leave the page cache: see
    ``docs/dedup.md``)."""

    def __init__(self) -> None:
        self._articles = _AppendFile()
        self._other = _AppendFile()
        # per item one int, offset << 32 | size: about 80 B less per entry than an
        # (offset, size) tuple, and every item of a long run has an entry in both
        self._where: dict[str, int] = {}
        self._sketch_where: dict[str, int] = {}

    def append(self, data: bytes) -> int:
        """Write ``data`` (anything but an article) to the file of sketches; where it is."""
        return self._other.append(data)

    def read(self, where: int) -> bytes:
        """What :meth:`append` wrote at ``where``."""
        return self._other.read(where)

    def put(self, key: str, article: Article) -> None:
        """Append the article (see :meth:`record`)."""
        if key not in self._where:  # articles never change: the copy on disk is still right
            self._where[key] = self._articles.append(self.record(article))

    def put_record(self, key: str, record: bytes) -> None:
        """Append an article's :meth:`record` made elsewhere (a preparing worker)."""
        if key not in self._where:
            self._where[key] = self._articles.append(record)

    @staticmethod
    def record(article: Article, norm: str | None = None) -> bytes:
        """An article as the file holds it: its text as UTF-8 behind its length, then the
        text's normal form (:func:`newsdedup._normalize.normalize_text`) the same way when
        ``norm`` is given (else the length ``_NO_NORM``), then its other fields pickled, so
        :meth:`text_and_norm` reads the texts without unpickling the rest. A preparing worker
        has the normal form at hand: stored, it spares every rebuild of the item's doc or
        shingle set (verification, the canonical choice) a pass of normalising, about a third of
        making a shingle set (16.5 of 55.6 µs a text, *ad hoc*)."""
        import pickle

        state = list(article.__getstate__())  # type: ignore[attr-defined,call-overload]
        text = state[_TEXT_FIELD].encode("utf-8", "surrogatepass")
        state[_TEXT_FIELD] = None
        rest = pickle.dumps(tuple(state), protocol=pickle.HIGHEST_PROTOCOL)
        folded = b"" if norm is None else norm.encode("utf-8", "surrogatepass")
        size = _NO_NORM if norm is None else len(folded)
        return len(text).to_bytes(4, "little") + text + size.to_bytes(4, "little") + folded + rest

    def get(self, key: str) -> Article:
        return self.article(self.get_record(key))

    def get_record(self, key: str) -> bytes:
        """An article's :meth:`record`, as bytes (for :meth:`article` in a worker)."""
        return self.read_article(self._where[key])

    def read_article(self, where: int) -> bytes:
        """The :meth:`record` at ``where`` in the file of articles."""
        return self._articles.read(where)

    @staticmethod
    def article(record: bytes) -> Article:
        """The article a :meth:`record` holds."""
        return _Spill.article_and_norm(record)[0]

    @staticmethod
    def article_and_norm(record: bytes) -> tuple[Article, str | None]:
        """The article a :meth:`record` holds, and its stored normal form (None: not stored),
        from one reading of the record."""
        import pickle

        text, norm, rest = _Spill._split(record)
        state = list(pickle.loads(rest))  # our own file's record
        state[_TEXT_FIELD] = text
        article = Article.__new__(Article)
        article.__setstate__(state)  # type: ignore[attr-defined]
        return article, norm

    def __contains__(self, key: object) -> bool:
        return key in self._where

    def where(self, key: str) -> int:
        """Where an article's record is in its file (for a worker's :func:`_worker_read`)."""
        return self._where[key]

    def sketch_where(self, key: str) -> int | None:
        """Where a spilled sketch is in the file of sketches, or None."""
        return self._sketch_where.get(key)

    def shared(self) -> tuple[_SharedFile, _SharedFile] | None:
        """Both files as worker processes receive them, or None where they cannot read them by
        offset (no ``pread``, or not POSIX): they are then sent what they need instead."""
        if _PREAD is None or os.name != "posix":
            return None
        return _SharedFile(self._articles.fileno()), _SharedFile(self._other.fileno())

    def flush(self) -> None:
        """Write out both files' buffered appends (before workers read them)."""
        self._articles.flush()
        self._other.flush()

    def get_text(self, key: str) -> str:
        """Only the article's text (verification docs are rebuilt from it)."""
        return self.text_of(self.get_record(key))

    @staticmethod
    def text_of(record: bytes) -> str:
        """The text of an article's :meth:`record`, without unpickling the rest."""
        n = int.from_bytes(record[:4], "little")
        return record[4 : 4 + n].decode("utf-8", "surrogatepass")

    @staticmethod
    def text_and_norm(record: bytes) -> tuple[str, str | None]:
        """The text of an article's :meth:`record` and its stored normal form (None: not
        stored), without unpickling the rest."""
        text, norm, _ = _Spill._split(record)
        return text, norm

    def get_sketch_bytes(self, key: str) -> bytes | None:
        """A spilled sketch's :meth:`Sketch.to_bytes`, or None."""
        where = self._sketch_where.get(key)
        return None if where is None else self.read(where)

    @staticmethod
    def _split(record: bytes) -> tuple[str, str | None, bytes]:
        """An article's :meth:`record`: (its text, its normal form or None, its other fields
        pickled)."""
        n = int.from_bytes(record[:4], "little")
        text = record[4 : 4 + n].decode("utf-8", "surrogatepass")
        at = 8 + n
        m = int.from_bytes(record[at - 4 : at], "little")
        if m == _NO_NORM:
            return text, None, record[at:]
        return text, record[at : at + m].decode("utf-8", "surrogatepass"), record[at + m :]

    def put_sketch(self, key: str, sketch: Sketch) -> None:
        """A sketch leaving its (ten times larger) cache: in a long run verifying as items
        arrive, most verifications against old copies of a big story find neither doc nor
        sketch in memory, and reading the sketch back is much cheaper than re-parsing the text
        (half the time it decides)."""
        if key not in self._sketch_where:  # sketches never change either
            self._sketch_where[key] = self.append(sketch.to_bytes())

    def get_sketch(self, key: str) -> Sketch | None:
        data = self.get_sketch_bytes(key)
        return None if data is None else Sketch.from_bytes(key, data)

    def close(self) -> None:
        self._articles.close()
        self._other.close()


class _Cache(OrderedDict[str, Any]):
    """Dict that forgets its least recently used entries past ``maxsize`` (None: never),
    handing each one to ``on_evict`` first when given."""

    def __init__(self, maxsize: int | None, on_evict: Callable[[str, Any], None] | None = None) -> None:
        super().__init__()
        self.maxsize = maxsize
        self.on_evict = on_evict

    def get_lru(self, key: str) -> Any:
        value = self.get(key)
        if value is not None and self.maxsize is not None:
            self.move_to_end(key)
        return value

    def split(self, keys: Iterable[str], *, touch: bool = True) -> tuple[dict[str, Any], list[str]]:
        """The cached values of ``keys`` and the keys that are not cached (in order);
        ``touch`` marks the found ones as recently used."""
        found: dict[str, Any] = {}
        missing: list[str] = []
        for key in keys:
            value = self.get_lru(key) if touch else self.get(key)
            if value is None:
                missing.append(key)
            else:
                found[key] = value
        return found, missing

    def drain(self, keep: int = 0) -> None:
        """Forget every entry but the ``keep`` most recently used, each handed to ``on_evict``
        first (oldest first)."""
        while len(self) > keep:
            key, value = self.popitem(last=False)
            if self.on_evict is not None:
                self.on_evict(key, value)

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        if self.maxsize is not None:
            self.move_to_end(key)
            while len(self) > self.maxsize:
                old_key, old_value = self.popitem(last=False)
                if self.on_evict is not None:
                    self.on_evict(old_key, old_value)
