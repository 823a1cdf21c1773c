"""The anomaly-detection job: a year of each metric (revenue, orders, inventory, patients) in
daily, weekly or monthly buckets, scored in the model pool; the anomalies of the last
``lookback_days`` stored, and the high and critical ones raised to the company's admins as one
ai-insight notification (keyed on the job, so a retry raises nothing twice).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from ils.domain.enums import AiResultKind
from ils.jobs.ai.results import follow_up, store
from ils.jobs.notification.handlers import FanOutNotification, fan_out
from ils.jobs.payloads import Id
from ils.jobs.resources import Ctx
from ils.queue.declare import job
from ils.queue.registry import Payload

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

HISTORY_DAYS = 365
# A weekly season in daily data; weekly and monthly buckets have no season a year can show.
PERIODS: dict[str, int | None] = {"daily": 7, "weekly": None, "monthly": None}
ALERTING = ("critical", "high")
UNITS = {"revenue": "revenue", "orders": "orders", "inventory": "units ordered",
         "patients": "new patients"}  # fmt: skip
AnomalyMetric = Literal["revenue", "orders", "inventory", "patients", "all"]
AnomalyRange = Literal["daily", "weekly", "monthly"]


class AnomalyDetectionTask(Payload):
    """Scores a year of the metric, bucketed by ``range``; reports what falls in the last
    ``lookback_days``."""

    company_id: Id
    metric: AnomalyMetric = "all"
    range: AnomalyRange = "daily"
    lookback_days: int = Field(90, ge=7, le=730)


def _bucket_end(label: str, grain: str) -> dt.date:
    start = dt.date.fromisoformat(label if grain != "monthly" else f"{label}-01")
    if grain == "daily":
        return start
    if grain == "weekly":
        return start + dt.timedelta(days=6)
    following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def describe(metric: str, anomaly: dict[str, Any]) -> str:
    """One sentence with the numbers: what, when, how far from expected."""
    change = anomaly["value"] - anomaly["expected"]
    pct = f" ({change / anomaly['expected'] * 100:+.0f}%)" if anomaly["expected"] else ""
    return (
        f"{UNITS[metric].capitalize()} for {anomaly['bucket']} were {anomaly['value']:g} against "
        f"{anomaly['expected']:g} expected{pct}, robust score {anomaly['score']:+.1f} "
        f"({anomaly['severity']})."
    )


async def scan(
    ctx: Ctx, company_id: int, metric: str, grain: str, lookback_days: int
) -> dict[str, Any]:
    """One metric's series and the anomalies found in its reported window."""
    from ils.jobs.ai import data

    async with ctx.resources.db.session() as session:
        company = await data.company(session, company_id)
        end = data.local_today(company) - dt.timedelta(days=1)
        days = data.day_range(end, HISTORY_DAYS)
        series = await data.metric_series(session, company, metric, days)
    labels, values = data.regroup(days, series, grain)
    found = await ctx.resources.ai_models.run("detect", values, PERIODS[grain])
    since = end - dt.timedelta(days=lookback_days - 1)
    anomalies = []
    for a in found:
        bucket = labels[a["index"]]
        if _bucket_end(bucket, grain) < since:
            continue
        entry = {k: v for k, v in a.items() if k != "index"} | {"metric": metric, "bucket": bucket}
        anomalies.append(entry | {"text": describe(metric, entry)})
    return {"metric": metric, "buckets": len(values), "window_start": since.isoformat(),
            "history_end": end.isoformat(), "anomalies": anomalies}  # fmt: skip


@job(AnomalyDetectionTask, queue="ai", name="anomaly-detection", description="anomaly detection",
     priority=4, resources=("db", "ai_models", "producer"))  # fmt: skip
async def anomaly_detection(payload: AnomalyDetectionTask, ctx: Ctx) -> dict[str, Any]:
    """scan each metric (in the pool) -> store -> alert the admins about high and critical."""
    from ils.jobs.ai import data

    metrics = data.METRICS if payload.metric == "all" else (payload.metric,)
    scans: list[dict[str, Any]] = []
    for m in metrics:
        ctx.check_cancelled(f"after {len(scans)} of {len(metrics)} metrics")
        scans.append(await scan(ctx, payload.company_id, m, payload.range, payload.lookback_days))
    anomalies = sorted((a for s in scans for a in s["anomalies"]), key=lambda a: -abs(a["score"]))
    counts = {level: sum(a["severity"] == level for a in anomalies)
              for level in ("critical", "high", "medium", "low")}  # fmt: skip
    end = dt.date.fromisoformat(scans[0]["history_end"])
    series = [{k: v for k, v in s.items() if k != "anomalies"} for s in scans]
    result = {"range": payload.range, "lookback_days": payload.lookback_days,
              "metrics": list(metrics), "counts": counts, "anomalies": anomalies,
              "series": series}  # fmt: skip
    alerting = [a for a in anomalies if a["severity"] in ALERTING]

    async def recorded(session: AsyncSession, result_id: int) -> None:
        from ils.events.emit_jobs import anomalies_detected

        await anomalies_detected(session, payload.company_id, ctx.job_id, result_id, alerting)

    result_id = await store(ctx.resources.db, payload.company_id, AiResultKind.anomaly,
                            ctx.job_id, result, for_date=end, then=recorded)  # fmt: skip
    if alerting:
        top = alerting[0]
        more = f" {len(alerting) - 1} more high or critical." if len(alerting) > 1 else ""
        alert = FanOutNotification(
            company_id=payload.company_id,
            audience="admins",
            kind="ai-insight",
            title=f"Anomaly in {UNITS[top['metric']]} ({top['severity']})",
            message=top["text"] + more,
            priority="urgent" if top["severity"] == "critical" else "high",
            action_url=f"/ai/results/{result_id}",
        )
        await fan_out.send(
            alert, options=follow_up(ctx, "anomaly-alert"), producer=ctx.resources.producer
        )
    return {"resultId": result_id, "counts": counts, "alerted": len(alerting)}
