"""The anomaly-detection job: a year of each metric (revenue, orders, inventory, patients) in
daily, weekly or monthly buckets, scored in the model pool; the anomalies of the last
``lookback_days`` stored, and the high and critical ones raised to the company's admins as one
ai-insight notification (keyed on the job, so a retry raises nothing twice).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ils.domain.models import AiResultKind
from ils.jobs import payloads as p
from ils.jobs.ai import data
from ils.jobs.ai.results import follow_up, store, tools
from ils.jobs.helpers import notify_company_admins
from ils.queue.context import JobContext

HISTORY_DAYS = 365
# A weekly season in daily data; weekly and monthly buckets have no season a year can show.
PERIODS: dict[str, int | None] = {"daily": 7, "weekly": None, "monthly": None}
ALERTING = ("critical", "high")
UNITS = {"revenue": "revenue", "orders": "orders", "inventory": "units ordered",
         "patients": "new patients"}  # fmt: skip


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
    ctx: JobContext, company_id: int, metric: str, grain: str, lookback_days: int
) -> dict[str, Any]:
    """One metric's series and the anomalies found in its reported window."""
    t = tools(ctx)
    async with t.db.session() as session:
        company = await data.company(session, company_id)
        end = data.local_today(company) - dt.timedelta(days=1)
        days = data.day_range(end, HISTORY_DAYS)
        series = await data.metric_series(session, company, metric, days)
    labels, values = data.regroup(days, series, grain)
    found = await t.pool.run("detect", values, PERIODS[grain])
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


async def anomaly_detection(payload: p.AnomalyDetectionTask, ctx: JobContext) -> dict[str, Any]:
    """scan each metric (in the pool) -> store -> alert the admins about high and critical."""
    metrics = data.METRICS if payload.metric == "all" else (payload.metric,)
    scans = [await scan(ctx, payload.company_id, m, payload.range, payload.lookback_days)
             for m in metrics]  # fmt: skip
    anomalies = sorted((a for s in scans for a in s["anomalies"]), key=lambda a: -abs(a["score"]))
    counts = {level: sum(a["severity"] == level for a in anomalies)
              for level in ("critical", "high", "medium", "low")}  # fmt: skip
    end = dt.date.fromisoformat(scans[0]["history_end"])
    series = [{k: v for k, v in s.items() if k != "anomalies"} for s in scans]
    result = {"range": payload.range, "lookback_days": payload.lookback_days,
              "metrics": list(metrics), "counts": counts, "anomalies": anomalies,
              "series": series}  # fmt: skip
    t = tools(ctx)
    result_id = await store(t.db, payload.company_id, AiResultKind.anomaly, ctx.job_id, result,
                            for_date=end)  # fmt: skip
    alerting = [a for a in anomalies if a["severity"] in ALERTING]
    if alerting:
        top = alerting[0]
        more = f" {len(alerting) - 1} more high or critical." if len(alerting) > 1 else ""
        await notify_company_admins(
            payload.company_id,
            f"Anomaly in {UNITS[top['metric']]} ({top['severity']})",
            top["text"] + more,
            priority="urgent" if top["severity"] == "critical" else "high",
            action_url=f"/ai/results/{result_id}",
            kind="ai-insight",
            options=follow_up(ctx, "anomaly-alert"),
            producer=t.producer,
        )
    return {"resultId": result_id, "counts": counts, "alerted": len(alerting)}
