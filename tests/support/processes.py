"""Test helpers: an ``ils`` subprocess whose log lines a test can wait for (no sleeping), and
waiting for the end of a process that is not this one's child."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence


class IlsProcess:
    """``python -m ils ARGS`` with stdout and stderr merged, read line by line (``entry``:
    what runs instead of ``-m ils``, e.g. ``("-c", code)`` calling :func:`ils.cli_worker.main`)."""

    def __init__(
        self, args: Sequence[str], env: dict[str, str], entry: Sequence[str] = ("-m", "ils")
    ) -> None:
        self.args = list(args)
        self.env = env
        self.entry = list(entry)
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []

    async def start(self) -> IlsProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, *self.entry, *self.args,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        return self

    async def wait_for_line(self, needle: str, timeout_s: float = 30, since: int = 0) -> str:
        """Read output until a line contains ``needle``; the line. ``since``: look only at the
        lines from that index of :attr:`lines` on (those read after a point the test chose)."""
        for line in self.lines[since:]:
            if needle in line:
                return line
        assert self.proc is not None and self.proc.stdout is not None

        async def read() -> str:
            assert self.proc is not None and self.proc.stdout is not None
            while True:
                raw = await self.proc.stdout.readline()
                if not raw:
                    raise EOFError(f"process ended before {needle!r}:\n" + "".join(self.lines))
                line = raw.decode(errors="replace")
                self.lines.append(line)
                if needle in line:
                    return line

        return await asyncio.wait_for(read(), timeout_s)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    async def wait(self, timeout_s: float = 30) -> int:
        """Wait for exit (draining output); the exit code."""
        assert self.proc is not None and self.proc.stdout is not None
        rest = await asyncio.wait_for(self.proc.stdout.read(), timeout_s)
        self.lines.append(rest.decode(errors="replace"))
        return await asyncio.wait_for(self.proc.wait(), timeout_s)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()


async def process_ends(pid: int, timeout_s: float = 30) -> None:
    """Return once process ``pid`` (any process, not only a child of this one) has ended; woken
    by its pidfd, which becomes readable when it does. Fails after ``timeout_s``."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    ended = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(fd, ended.set)
    try:
        await asyncio.wait_for(ended.wait(), timeout_s)
    finally:
        loop.remove_reader(fd)
        os.close(fd)
