"""The daily failed-jobs digest: the company's jobs that failed yesterday (its local day; or the
day the payload names), on every queue, emailed to each of its active admins.

The jobs are read through the queue admin layer in the company's masked scope (what its admins
see on the dashboard). Each email is a ``generic`` email job whose id is made of the company, the
day and the admin, and the email worker sends a job id once (its email log): a digest run twice
sends each admin one email. No failure, no email.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from pydantic import Field

from ils.jobs.email.handlers import generic
from ils.jobs.resources import Ctx
from ils.jobs.scheduled.company import USES, CompanyRun, active_company, local_today, skipped
from ils.jobs.scheduled.runs import scheduled
from ils.queue.browse import MAX_PAGE_SIZE
from ils.queue.producer import EnqueueOptions
from ils.queue.recurrence import to_ms
from ils.queue.settings import QUEUE_NAMES
from ils.queue.tenancy import ViewerScope

if TYPE_CHECKING:
    from ils.queue.browse import JobSummary
    from ils.queue.producer import Producer

#: Failures listed in one email; the rest are counted.
LISTED = 50


class DigestRun(CompanyRun):
    day: dt.date | None = Field(None, description="the local day to report; none: yesterday")


async def failed_between(
    producer: Producer, company_id: int, start_ms: int, end_ms: int
) -> list[tuple[str, JobSummary]]:
    """The company's jobs of every queue that failed in ``[start_ms, end_ms)``, newest first."""
    from ils.queue.admin import QueueAdmin

    admin = QueueAdmin(producer.settings, producer.broker, producer.registry)
    scope = ViewerScope(company_id, mask=True)
    found: list[tuple[str, JobSummary]] = []
    for queue in QUEUE_NAMES:
        page = 1
        while True:
            listed = await admin.browse.jobs(queue, "failed", page, MAX_PAGE_SIZE, scope)
            stamped = [(j, j.finished_on or 0) for j in listed.jobs]
            found += [(queue, j) for j, at in stamped if start_ms <= at < end_ms]
            # Newest first: once a page reaches before the day, the rest do too.
            older = any(at < start_ms for _j, at in stamped)
            if older or page * MAX_PAGE_SIZE >= listed.total:
                break
            page += 1
    return sorted(found, key=lambda f: -(f[1].finished_on or 0))


def digest_text(company: str, day: dt.date, failures: list[tuple[str, JobSummary]]) -> str:
    lines = [f"{len(failures)} background jobs of {company} failed on {day:%A %d %B %Y}:", ""]
    for queue, j in failures[:LISTED]:
        reason = (j.failed_reason or "no reason kept").splitlines()[0][:200]
        lines.append(f"- {queue}/{j.name} (job {j.id}, {j.attempts_made} attempts): {reason}")
    if len(failures) > LISTED:
        lines.append(f"- and {len(failures) - LISTED} more")
    lines += ["", "The queue dashboard lists them with their full reasons and can retry them."]
    return "\n".join(lines)


@scheduled(DigestRun, name="failed-jobs-digest",
           description="yesterday's failed jobs, emailed to the company's admins",
           resources=USES)  # fmt: skip
async def failed_jobs_digest(payload: DigestRun, ctx: Ctx) -> dict[str, Any]:
    from sqlalchemy import select

    from ils.domain.models import ADMIN_ROLES, User
    from ils.jobs.ai.data import zone

    db, producer = ctx.resources.db, ctx.resources.producer
    company = await active_company(db, payload.company_id)
    if company is None:
        return skipped(payload.company_id)
    day = payload.day or local_today(company) - dt.timedelta(days=1)
    tz = zone(company)
    start, end = (dt.datetime.combine(d, dt.time(), tz) for d in (day, day + dt.timedelta(days=1)))
    failures = await failed_between(producer, company.id, to_ms(start), to_ms(end))
    if not failures:
        return {"day": day.isoformat(), "failed": 0, "emails": []}
    async with db.session() as session:
        admins = list(await session.scalars(
            select(User).where(User.company_id == company.id, User.is_active,
                               User.role.in_(sorted(ADMIN_ROLES))).order_by(User.id)
        ))  # fmt: skip
    text = digest_text(company.name, day, failures)
    subject = f"{company.name}: {len(failures)} background jobs failed on {day:%d %b %Y}"
    # One email job per admin, added at once; each id names the day and the admin (run twice,
    # the digest adds nothing new).
    queued = await generic.send_many(
        [{"to": [user.email], "subject": subject, "text": text, "template": "alert",
          "company_id": company.id} for user in admins],
        options=[EnqueueOptions(job_id=f"failed-digest-{company.id}-{day:%Y%m%d}-{user.id}")
                 for user in admins],
        producer=producer,
    )  # fmt: skip
    sent = [job.job_id for job in queued]
    return {"day": day.isoformat(), "failed": len(failures), "emails": sent}
