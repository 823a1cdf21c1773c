"""The var directory is private: after a run of ``ils serve`` on the embedded server that writes
every kind of file (database, secret key, the server's password, config, data, append-only,
log and pid files, mail, PDFs), every folder under it is 0700 and every file 0600, whatever
the umask it was started with; looser modes left from before are tightened at start."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import text

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.files import LocalFileStorage
from ils.jobs.email.transports import FileTransport
from ils.queue.embedded import free_port
from ils.queue.vardir import tighten
from ils.settings import load_settings
from ils.web.settings import stored_secret_key
from tests.conftest import REPO
from tests.support.processes import IlsProcess


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    """A permissive umask for the block (what a user's shell often has)."""
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def modes(root: Path) -> dict[str, int]:
    """Every path under ``root`` (itself as ".") and its permission bits."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def loose(root: Path) -> dict[str, str]:
    """The paths under ``root`` that others could read: their modes, in octal."""
    bad = {}
    for name, mode in modes(root).items():
        wanted = 0o700 if (root / name).is_dir() else 0o600
        if mode != wanted:
            bad[name] = oct(mode)
    return bad


async def test_writers_make_private_files_under_a_permissive_umask(tmp_path: Path):
    var = tmp_path / "var"
    with umask(0o022):
        stored_secret_key(var)
        db = Database(f"sqlite+aiosqlite:///{var / 'ils.db'}")
        try:
            async with db.engine.begin() as conn:  # the -wal and -shm files appear on a write
                await conn.execute(text("CREATE TABLE t (x INTEGER)"))
                await conn.execute(text("INSERT INTO t VALUES (1)"))
            assert {"ils.db-wal", "ils.db-shm"} <= set(modes(var))
            assert loose(var) == {}
        finally:
            await db.dispose()
        mail = EmailMessage()
        mail["Subject"] = "Your prescription"
        await FileTransport(var / "mail").send(mail, "job-1")
        LocalFileStorage(var / "files").put("1/invoice/INV-1.pdf", b"%PDF-1.7")
    assert {"secret_key", "ils.db", "mail/job-1.eml", "files/1/invoice/INV-1.pdf"} <= set(
        modes(var)
    )
    assert loose(var) == {}


def test_tighten_restores_private_modes_on_what_was_left_looser(tmp_path: Path):
    var = tmp_path / "var"
    (var / "files" / "1").mkdir(parents=True, mode=0o755)
    (var / "files" / "1" / "a.pdf").write_bytes(b"x")
    (var / "ils.db").write_bytes(b"")
    # chmod, not mkdir's mode: an in-process `ils` command of an earlier test set umask 077
    for path, mode in (
        (var, 0o755), (var / "files", 0o777), (var / "files" / "1", 0o755), (var / "ils.db", 0o644)
    ):  # fmt: skip
        path.chmod(mode)
    (var / "files" / "1" / "a.pdf").chmod(0o664)
    (var / "link").symlink_to(tmp_path)  # a link is not followed nor changed
    changed = tighten(var)
    assert {p.relative_to(var).as_posix() for p in changed} == {
        ".", "files", "files/1", "files/1/a.pdf", "ils.db"
    }  # fmt: skip
    assert loose(var) == {"link": oct(stat.S_IMODE((var / "link").lstat().st_mode))}
    assert tighten(var) == []


def base_env(var: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ILS_", "REDIS_"))}
    env |= {"ILS_VAR_DIR": str(var), "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    env.pop("DATABASE_URL", None)
    return env


async def test_a_run_of_serve_leaves_every_file_under_var_private(tmp_path: Path):
    var = tmp_path / "var"
    env = base_env(var)
    with umask(0o022):
        var.mkdir()
        (var / "old.txt").write_text("left by an older version")  # 0644: tightened at start
        migrate = await IlsProcess(["db", "upgrade"], env).start()
        assert await migrate.wait() == 0, migrate.output
        serve = await IlsProcess(
            ["serve", "--port", str(free_port()), "--queues", "email"], env
        ).start()
    system = JobSystem(load_settings({"ILS_VAR_DIR": str(var)}))
    try:
        await serve.wait_for_line("Uvicorn running on")
        # This process reuses the server the web process started: it finds the password.
        job = await system.producer.enqueue(
            "email", "generic", {"to": ["pat@example.com"], "subject": "Rx", "text": "Ready."}
        )
        view = await system.admin.wait_for_job("email", job.job_id, timeout_s=30)
        assert view.state == "completed", view.failed_reason
        with umask(0o022):
            system.files.put("1/invoice/INV-1.pdf", b"%PDF-1.7")
        running = modes(var)
        assert {"redis/valkey.pid", "redis/valkey.log", "redis/password"} <= set(running)
        assert loose(var) == {}
        await system.close()
        serve.signal(signal.SIGINT)
        await serve.wait()
        assert "embedded Valkey stopped" in serve.output
    finally:
        await system.close()
        await serve.kill()
        await (await IlsProcess(["embedded", "stop"], env).start()).wait()
    written = set(modes(var))
    kinds = {
        "ils.db", "secret_key", "old.txt", "redis/password", "redis/valkey.conf",
        "redis/dump.rdb", "redis/valkey.log", "redis/appendonlydir", "files/1/invoice/INV-1.pdf",
    }  # fmt: skip
    assert kinds <= written, kinds - written
    assert any(name.startswith("mail/") and name.endswith(".eml") for name in written)
    assert any(name.startswith("redis/appendonlydir/") for name in written)
    assert loose(var) == {}
