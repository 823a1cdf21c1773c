"""The OMA drop folder (``ILS_OMA_DIR``, by default ``<var>/oma``): where devices and practice
software leave files for ``process-oma-file`` (a payload's ``path`` must lie inside it) and where
``export-oma-file`` delivers a lab's files (``outgoing/<company>/``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath

from ils.errors import GiveUp
from ils.queue.vardir import private_dir


class OmaFolders:
    """The drop folder's root and the paths under it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def inside(self, relative: str) -> Path:
        """The file ``relative`` names under the root; :class:`GiveUp` naming ``path`` when it
        is absolute, climbs out (``..``, a symbolic link) or is not a file."""
        given = PurePosixPath(relative)
        if given.is_absolute() or ".." in given.parts or not given.parts:
            raise GiveUp(f"path: {relative!r} is not a path inside the OMA drop folder")
        root = self.root.resolve()
        target = root.joinpath(*given.parts).resolve()
        if not target.is_relative_to(root):
            raise GiveUp(f"path: {relative!r} leads outside the OMA drop folder")
        if not target.is_file():
            raise GiveUp(f"path: no file {relative!r} in the OMA drop folder")
        return target

    def relative(self, path: Path) -> str | None:
        """``path`` relative to the root (POSIX form), or None when it is not under it."""
        root, target = self.root.resolve(), path.resolve()
        if not target.is_relative_to(root):
            return None
        return target.relative_to(root).as_posix()

    def outgoing(self, company_id: int) -> Path:
        return self.root / "outgoing" / str(company_id)

    def deliver(self, company_id: int, name: str, data: bytes) -> Path:
        """Write ``data`` as ``outgoing/<company>/<name>``, whole or not at all (a device never
        reads half a file): a temporary file renamed into place."""
        folder = private_dir(self.outgoing(company_id))
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            target = folder / name
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target
