"""Where generated files (PDFs today; .eml files and OMA uploads later) are kept: a small storage
interface keyed by relative paths, and its local-directory implementation.

The root is the ``files_dir`` setting (``ILS_FILES_DIR``), by default ``<var>/files``; keys are
``<company>/<type>/<name>.pdf``. Object storage can come later behind the same interface.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

from ils.errors import IlsJobsError
from ils.queue.vardir import private_dir

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class StoredFileMissing(IlsJobsError):
    """No file is stored under that key (or the key points outside the storage)."""


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    sha256: str


class FileStorage(Protocol):
    """What the job handlers and routes need of a file store."""

    def put(self, key: str, data: bytes) -> StoredFile:
        """Store ``data`` under ``key``, replacing what was there, all or nothing."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The stored file for reading; :class:`StoredFileMissing` when there is none."""
        ...

    def delete(self, key: str) -> None: ...

    def entries(self) -> Iterator[tuple[str, float]]:
        """Every stored file's key and modification time (epoch seconds), in no set order."""
        ...


def safe_name(part: str) -> str:
    """``part`` reduced to letters, digits, dot, dash and underscore (never empty)."""
    cleaned = _UNSAFE.sub("-", part).strip(".-")
    return cleaned or "file"


class LocalFileStorage:
    """Files in a directory tree; writes go to a temporary file renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        relative = PurePosixPath(key)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise StoredFileMissing(f"not a storage key: {key!r}")
        return self.root.joinpath(*relative.parts)

    def put(self, key: str, data: bytes) -> StoredFile:
        target = self.path(key)
        private_dir(target.parent)  # the files hold patient data: 0700 folders, 0600 files
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")  # made 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return StoredFile(key, len(data), hashlib.sha256(data).hexdigest())

    def open(self, key: str) -> BinaryIO:
        try:
            return self.path(key).open("rb")
        except FileNotFoundError as exc:
            raise StoredFileMissing(f"no stored file {key!r}") from exc

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def entries(self) -> Iterator[tuple[str, float]]:
        if not self.root.is_dir():
            return
        for folder, _dirs, names in os.walk(self.root):
            for name in names:
                path = Path(folder) / name
                try:
                    mtime = path.stat().st_mtime
                except FileNotFoundError:  # deleted meanwhile
                    continue
                yield path.relative_to(self.root).as_posix(), mtime
