"""The var directory is private to the user who runs ILS: folders 0700, files 0600.

It holds patient data (the SQLite database, PDFs, .eml files) and secrets (the secret key, the
embedded server's password), so every writer creates with these modes explicitly, every ``ils``
command sets a umask that would give them anyway (for files made by SQLite and the embedded
server), and :func:`tighten` restores them on anything left looser by an older version or a
hand-made copy.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
UMASK = 0o077


def restrict_umask() -> int:
    """Make what this process (and the servers it starts) creates private; the old umask."""
    return os.umask(UMASK)


def private_dir(path: Path) -> Path:
    """``path`` and its missing parents, made 0700 (``mkdir -p`` would give the parents 0777
    minus the umask, however private the leaf)."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        # Another process may make it first; it is tightened below all the same.
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=DIR_MODE)
        _restrict(folder, DIR_MODE)
    return path


def create_private_file(path: Path) -> None:
    """Make ``path`` an empty 0600 file unless it exists (e.g. before SQLite opens it, which
    gives its -wal and -shm files the database file's mode)."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (mode 0600) all or nothing: readers never see half a file."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")  # mkstemp makes it 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def tighten(root: Path) -> list[Path]:
    """Restrict every folder under ``root`` (itself included) to 0700 and every file to 0600;
    the paths that were looser. Symbolic links and what other users own are left alone."""
    if not root.is_dir():
        return []
    changed: list[Path] = []
    uid = os.getuid()
    for folder, dirs, files in os.walk(root):
        base = Path(folder)
        entries = [(base, DIR_MODE)] if base == root else []
        entries += [(base / name, DIR_MODE) for name in dirs]
        entries += [(base / name, FILE_MODE) for name in files]
        for path, mode in entries:
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue  # gone meanwhile (a pid file, a renamed part file)
            if stat.S_ISLNK(info.st_mode) or info.st_uid != uid:
                continue
            if stat.S_IMODE(info.st_mode) & ~mode:
                _restrict(path, mode)
                changed.append(path)
    if changed:
        log.warning(
            "%d file(s) under %s were readable by others: restricted to 0600/0700 (e.g. %s)",
            len(changed),
            root,
            changed[0],
        )
    return changed


def _restrict(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.chmod(mode)
