"""The events jobs record: anomalies found, documents generated, OMA files processed, jobs
dead-lettered. Each is recorded once per job and subject (a retried job finds its event and
records none again), in the transaction that writes the job's own row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from ils.events.envelope import Subject
from ils.events.record import record_unless_seen

if TYPE_CHECKING:
    from ils.queue.dead_letters import DeadLetter
    from ils.queue.producer import Producer


def _text(value: Any) -> str:
    return str(getattr(value, "value", value))


async def anomalies_detected(
    session: AsyncSession, company_id: int, job_id: str, result_id: int,
    anomalies: list[dict[str, Any]],
) -> None:  # fmt: skip
    """One ``ai.anomaly_detected`` per anomaly of the scan's result ``result_id``."""
    for i, found in enumerate(anomalies):
        data = {
            "result_id": result_id, "metric": str(found["metric"]),
            "severity": found["severity"], "period": str(found.get("bucket", "")),
            "value": float(found["value"]), "expected": float(found["expected"]),
            "score": float(found["score"]),
        }  # fmt: skip
        subject = Subject.of("ai_result", f"{result_id}:{i}")
        await record_unless_seen(session, "ai.anomaly_detected", job_id=job_id,
                                 company_id=company_id, subject=subject, data=data)  # fmt: skip


async def document_generated(
    session: AsyncSession, document_id: int, params: dict[str, Any]
) -> None:
    """``document.generated`` for the PDF job's document row (``params`` as the row has it)."""
    data = {
        "document_id": document_id, "document_type": _text(params["type"]),
        "entity_type": _text(params["entity"]),
        "entity_id": params["entity_id"], "job_id": params["job_id"],
    }  # fmt: skip
    await record_unless_seen(session, "document.generated", job_id=params["job_id"],
                             company_id=params["company_id"],
                             subject=Subject.of("document", document_id), data=data)  # fmt: skip


async def oma_file_processed(
    session: AsyncSession, oma_file_id: int, params: dict[str, Any], records: int
) -> None:
    """``oma.file_processed`` for the OMA job's file row (``params`` as the row has it)."""
    data = {"file_name": params["filename"], "records": records, "order_id": params["order_id"]}
    await record_unless_seen(session, "oma.file_processed", job_id=params["job_id"],
                             company_id=params["company_id"],
                             subject=Subject.of("oma_file", oma_file_id), data=data)  # fmt: skip


async def job_dead_lettered(session: AsyncSession, dead: DeadLetter, producer: Producer) -> None:
    data = {"queue": dead.queue, "name": dead.name, "job_id": dead.job_id,
            "attempts": dead.attempts, "reason": dead.reason[:1000]}  # fmt: skip
    await record_unless_seen(session, "job.dead_lettered", job_id=dead.job_id[:200],
                             company_id=dead.company_id, subject=Subject.of("dead_letter", dead.id),
                             data=data, producer=producer)  # fmt: skip
