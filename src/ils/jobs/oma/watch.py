"""The OMA drop-folder watcher behind ``ils oma watch``: each new file of the watched folder is
enqueued once as ``process-oma-file`` (its job id made from its name and content, so the same
file dropped again, or seen again by a restarted watcher, is the same job), then moved to
``done/`` or ``rejected/`` (with the reason beside it, ``<name>.reason.txt``) when its job ends.

It works through two callables (enqueue a path under a job id; a job's state and failure
reason), so it knows neither Redis nor the database; the command wires them to the producer and
the queue admin.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

DONE, REJECTED = "done", "rejected"
#: Enqueue ``(path relative to the drop folder, job id)``.
Enqueue = Callable[[str, str], Awaitable[None]]
#: A job's ``(state, failure reason)``; the state None when the job is not (yet) known.
State = Callable[[str], Awaitable[tuple[str | None, str | None]]]


def job_id_for(name: str, data: bytes) -> str:
    """The job id of a dropped file: its name and content hashed (40 characters at most)."""
    digest = hashlib.sha256(name.encode() + b"\0" + data).hexdigest()
    return f"omaw-{digest[:32]}"


@dataclass
class DropWatcher:
    """Watches ``folder`` (inside the drop folder ``root``)."""

    root: Path
    folder: Path
    enqueue: Enqueue
    state: State
    pending: dict[str, Path] = field(default_factory=dict)  # job id -> file

    def __post_init__(self) -> None:
        root, folder = self.root.resolve(), self.folder.resolve()
        if not folder.is_relative_to(root):
            raise ValueError(f"{self.folder} is not inside the OMA drop folder {self.root}")
        self.root, self.folder = root, folder

    def new_files(self) -> list[Path]:
        """The folder's files not yet enqueued (hidden and partly written ``.`` files skipped)."""
        seen = set(self.pending.values())
        found = []
        for entry in sorted(os.scandir(self.folder), key=lambda e: e.name):
            path = Path(entry.path)
            hidden = entry.name.startswith(".")
            if entry.is_file(follow_symlinks=False) and not hidden and path not in seen:
                found.append(path)
        return found

    async def scan(self) -> int:
        """Enqueue each new file once; how many were enqueued."""
        files = self.new_files()
        for path in files:
            job_id = job_id_for(path.name, path.read_bytes())
            await self.enqueue(path.relative_to(self.root).as_posix(), job_id)
            self.pending[job_id] = path
            log.info("enqueued %s as job %s", path.name, job_id)
        return len(files)

    async def settle(self) -> int:
        """Move the files whose jobs have ended; how many are still waiting."""
        for job_id, path in list(self.pending.items()):
            state, reason = await self.state(job_id)
            if state == "completed":
                self._move(path, DONE)
            elif state in ("failed", "cancelled"):
                self._move(path, REJECTED, reason or state)
            else:
                continue
            del self.pending[job_id]
        return len(self.pending)

    def _move(self, path: Path, to: str, reason: str | None = None) -> None:
        target = self.folder / to
        target.mkdir(mode=0o700, exist_ok=True)
        os.replace(path, target / path.name)
        if reason is not None:
            (target / f"{path.name}.reason.txt").write_text(reason + "\n", encoding="utf-8")
        log.info("%s moved to %s/", path.name, to)

    async def run(self, stop: asyncio.Event, poll_s: float = 1.0, once: bool = False) -> None:
        """Scan and settle every ``poll_s`` until ``stop`` is set; with ``once``, until the files
        there at the start have been settled."""
        await self.scan()
        while not stop.is_set():
            left = await self.settle()
            if once and not left:
                return
            if not once:
                await self.scan()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_s)
