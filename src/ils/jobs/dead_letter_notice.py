"""The ILS's answer to a new dead letter: an in-app notification to the company's admins (the
fan-out notification job), enqueued in the transaction that records the dead letter.

Its job id is derived from the dead letter (``dlq-<id>-notice``), and the hook runs only for a new
dead letter (:mod:`ils.queue.dead_letters`), so the admins hear of each once however often its
job's failure is recorded. The notification names the job and the dead letter, never the failure's
text: that may quote personal data, which ``company_admin`` sees masked in the dashboard.
System work (no company) notifies nobody; the platform admin sees it in the dashboard. Job types
whose failures their own feature reports (:data:`NOTICED_ELSEWHERE`) are dead letters without a
notice, so the admins hear of one failure once.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ils.queue.dead_letters import DeadLetter, OnNew
from ils.queue.producer import EnqueueOptions, Producer

#: Where the notification leads: the dashboard's dead-letter list.
DEAD_LETTERS_URL = "/admin/queues#dead-letters"
#: (queue, job name) of the jobs whose failure the admins hear of from elsewhere: a spent webhook
#: delivery counts in its endpoint's failure streak, whose disabling sends the one notice (and the
#: endpoint's delivery log shows each failed event).
NOTICED_ELSEWHERE = frozenset({("notification", "deliver-webhook")})


def notice_job_id(dead: DeadLetter) -> str:
    return f"dlq-{dead.id}-notice"


def notify_admins(producer: Producer) -> OnNew:
    """The ``on_new`` hook of :class:`~ils.queue.dead_letters.DeadLetters` for ``producer``."""

    async def notify(session: AsyncSession, dead: DeadLetter) -> None:
        from ils.events.emit_jobs import job_dead_lettered

        await job_dead_lettered(session, dead, producer)
        if dead.company_id is None or (dead.queue, dead.name) in NOTICED_ELSEWHERE:
            return
        from ils.jobs.notification.handlers import fan_out

        tries = "attempt" if dead.attempts == 1 else "attempts"
        send = fan_out.helper.preset(audience="admins").using(
            session=session, producer=producer, company_id=dead.company_id,
            options=EnqueueOptions(job_id=notice_job_id(dead)),
        )  # fmt: skip
        await send(
            company_id=dead.company_id,
            title=f"A background job failed: {dead.queue}/{dead.name}",
            message=(
                f"Job {dead.job_id} ({dead.queue}/{dead.name}) failed for good after "
                f"{dead.attempts} {tries}. It is kept as dead letter {dead.id}: inspect, replay "
                "or discard it in the queue dashboard."
            ),
            priority="high",
            action_url=DEAD_LETTERS_URL,
        )

    return notify
