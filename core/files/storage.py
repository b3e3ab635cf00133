"""Where the bytes of attachments live: one small interface, one folder implementation.

:class:`Storage` is all the file store (:mod:`core.files`) asks of a backend, so an object
store (S3, MinIO, OSS) can replace :class:`LocalFolderStorage` by implementing the same six
methods. The contract:

* blobs are **content-addressed**: ``put`` returns a key derived from the bytes alone
  (``LocalFolderStorage``: their SHA-256 in lowercase hex), so identical content is stored
  once whatever its name or owner. A key is never built from a file name;
* ``put`` is atomic: a reader sees the whole blob or none (temporary object, then rename);
  putting content that is already stored writes nothing but refreshes the blob's time, so
  the clean-up job (which only takes blobs older than its grace period) never removes a
  blob that an upload still in its transaction has just reused;
* ``keys(older_than)`` lists the stored blobs last put before ``older_than`` (naive UTC),
  for the clean-up job, and ``last_put(key)`` when one was last put; ``delete`` of a missing key is not an error.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol, runtime_checkable

#: a LocalFolderStorage key: a SHA-256 in lowercase hex (and nothing else reaches the disk)
KEY_RE = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024


@runtime_checkable
class Storage(Protocol):
    """A blob store (see the module docstring for the contract)."""

    def put(self, stream: BinaryIO) -> str:
        """Store everything ``stream.read()`` yields; return its key. An exception raised by
        the stream (e.g. the size limit) leaves nothing stored."""

    def open(self, key: str) -> BinaryIO:
        """A binary file object reading the blob; ``FileNotFoundError`` when it is missing."""

    def delete(self, key: str) -> None:
        """Remove the blob (nothing happens when it is missing)."""

    def exists(self, key: str) -> bool:
        """Whether the blob is stored."""

    def last_put(self, key: str) -> datetime | None:
        """When the blob was last put (naive UTC), None when it is missing."""

    def keys(self, older_than: datetime) -> Iterator[str]:
        """Every stored key last put before ``older_than`` (naive UTC)."""


class LocalFolderStorage:
    """Blobs as files under ``root``: ``root/ab/cd/abcd…`` (two levels of fan-out by the
    first four hex digits of the SHA-256), written to ``root/tmp`` first and renamed into
    place (``os.replace``, atomic on one file system)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    # -- paths: only from a validated key, never from user input --------------------------
    def _path(self, key: str) -> Path:
        if not isinstance(key, str) or not KEY_RE.match(key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key[:2] / key[2:4] / key

    @property
    def _tmp(self) -> Path:
        return self.root / "tmp"

    # -- the interface -----------------------------------------------------------------------
    def put(self, stream: BinaryIO) -> str:
        self._tmp.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="up-")
        try:
            with os.fdopen(fd, "wb") as out:
                while True:
                    chunk = stream.read(CHUNK)
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            key = digest.hexdigest()
            final = self._path(key)
            if final.exists():
                os.utime(final)  # reused: young again for the clean-up job
                os.unlink(tmp_name)
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp_name, final)
            return key
        except BaseException:
            try:
                os.unlink(tmp_name)
            except FileNotFoundError:
                pass
            raise

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def delete(self, key: str) -> None:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            pass

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def last_put(self, key: str) -> datetime | None:
        try:
            ts = self._path(key).stat().st_mtime
        except FileNotFoundError:
            return None
        return datetime.fromtimestamp(ts, timezone.utc).replace(tzinfo=None)

    def keys(self, older_than: datetime) -> Iterator[str]:
        limit = older_than.replace(tzinfo=timezone.utc).timestamp()
        if not self.root.is_dir():
            return
        for first in sorted(self.root.iterdir()):
            if len(first.name) != 2 or not first.is_dir():
                continue  # tmp/ and anything else an operator put there
            for second in sorted(first.iterdir()):
                if not second.is_dir():
                    continue
                for blob in sorted(second.iterdir()):
                    if KEY_RE.match(blob.name) and blob.stat().st_mtime < limit:
                        yield blob.name

    # -- housekeeping --------------------------------------------------------------------------
    def sweep_temporary(self, older_than: datetime) -> int:
        """Remove temporary files left by interrupted writes (a crash mid-upload) last
        changed before ``older_than``. Returns how many."""
        limit = older_than.replace(tzinfo=timezone.utc).timestamp()
        n = 0
        if self._tmp.is_dir():
            for f in self._tmp.iterdir():
                if f.is_file() and f.stat().st_mtime < limit:
                    f.unlink(missing_ok=True)
                    n += 1
        return n

    def __repr__(self) -> str:
        return f"LocalFolderStorage({str(self.root)!r})"
