"""Issue 16, defect 2: a worker killed with -9 while the SMTP server is taking its email (the
message is in, the server's reply is not): the job runs again and sends again, and the copy
carries the same Message-ID, derived from the job, so one email per job reaches the reader
(duplicate Message-IDs are dropped downstream). A real SMTP server (aiosmtpd) takes both."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ils.bootstrap import JobSystem
from ils.domain.models import EmailLog, EmailStatus
from ils.jobs.email.mailer import Mailer
from ils.settings import load_mail_settings
from tests.conftest import make_settings
from tests.support.email_world import make_world
from tests.support.processes import IlsProcess
from tests.support.running import running
from tests.support.smtp import RecordingHandler, smtp_env, smtp_server

READY = "background job workers active"
LOCKS = {"ILS_QUEUE_EMAIL_LOCK_DURATION_MS": "2000", "ILS_QUEUE_EMAIL_STALLED_INTERVAL_MS": "1000"}


class HoldingHandler(RecordingHandler):
    """Takes the first email in, then holds its reply until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        reply = await super().handle_DATA(server, session, envelope)
        if not self.arrived.is_set():
            self.arrived.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        return reply


@pytest.fixture
async def system(
    redis_url: str, prefix: str, tmp_path: Path, worker_env: dict[str, str]
) -> AsyncIterator[JobSystem]:
    """The test's side, on the worker subprocess's database (its var directory's SQLite)."""
    js = JobSystem(make_settings(redis_url, prefix, tmp_path, env=LOCKS))
    yield js
    await js.close()


async def test_a_worker_killed_mid_send_leaves_one_email_per_job(
    system: JobSystem, worker_env: dict[str, str]
):
    w = await make_world(system.database)
    handler = HoldingHandler()
    with smtp_server(handler) as port:
        mail_env = smtp_env(port)
        victim = await IlsProcess(
            ["worker", "--queues", "email"], worker_env | LOCKS | mail_env
        ).start()
        try:
            await victim.wait_for_line(READY)
            data = {"orderId": w.order.id, "userId": w.user.id}
            job = await system.producer.enqueue("email", "order-confirmation", data)
            assert await asyncio.to_thread(handler.arrived.wait, 30)
            victim.signal(signal.SIGKILL)
            assert await victim.wait() == -signal.SIGKILL
            handler.release.set()
            mailer = Mailer(load_mail_settings(mail_env, system.settings.var_dir))
            system.resources.give("mailer", mailer)
            try:
                async with running(system, "email"):
                    view = await system.admin.wait_for_job("email", job.job_id, timeout_s=60)
            finally:
                await mailer.close()
        finally:
            await victim.kill()
    assert view.state == "completed"
    ids = {str(m["Message-ID"]) for m in handler.messages}
    assert len(handler.messages) == 2  # SMTP is at-least-once: the copy went out...
    assert len(ids) == 1  # ...as the same email
    async with system.database.session() as s:
        row = await s.scalar(select(EmailLog).where(EmailLog.job_id == job.job_id))
    assert row is not None and row.status is EmailStatus.sent and row.message_id in ids
