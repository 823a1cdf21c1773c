"""``ils queue ...``: inspect the queues (stats, health, info, the job types' reference) and add
a job. ``stats``, ``health`` and ``info`` need Redis alone; ``add`` builds the job system.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ils.cli_base import fail, parse_json, run_async, settings_for
from ils.cli_common import ConfigOpt, JsonOpt, inspect_admin, rich_console, with_system

if TYPE_CHECKING:
    from ils.bootstrap import JobSystem

queue_app = typer.Typer(help="Inspect the queues and add jobs.")


@queue_app.command("stats")
def queue_stats(as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Jobs per state for each queue."""
    from rich.table import Table

    from ils.queue.states import COUNT_STATES

    stats = inspect_admin(config, lambda admin: admin.stats())
    if as_json:
        typer.echo(json.dumps(stats, indent=2))
        return
    table = Table("queue", *COUNT_STATES, title="ILS Jobs: queue stats")
    for queue, counts in stats.items():
        table.add_row(queue, *(str(counts[s]) for s in COUNT_STATES))
    rich_console().print(table)


@queue_app.command("health")
def queue_health(as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Redis reachable, latency, version, memory, live workers per queue."""
    from rich.table import Table

    health = inspect_admin(config, lambda admin: admin.health())
    if as_json:
        typer.echo(json.dumps(health, indent=2))
    else:
        table = Table("check", "value", title="ILS Jobs: health")
        for key in ("redis", "latency_ms", "version", "memory_used_human", "maxmemory_bytes",
                    "maxmemory_policy", "connected_clients"):  # fmt: skip
            table.add_row(key, str(health[key]))
        policy = health["maxmemory_policy"]
        if policy not in (None, "noeviction"):
            table.add_row("warning", f"maxmemory-policy is {policy}: Redis may evict job keys")
        for server in health["servers"]:
            if not server["default"]:  # a queue's own server (issue 21)
                state = f"{server['latency_ms']} ms" if server["redis"] else server["error"]
                table.add_row(f"{', '.join(server['queues'])} on {server['server']}", str(state))
        for queue, n in health["workers"].items():
            table.add_row(f"workers: {queue}", str(n))
        if health["error"]:
            table.add_row("error", str(health["error"]))
        rich_console().print(table)
    if not all(server["redis"] for server in health["servers"]):
        raise typer.Exit(1)


@queue_app.command("info")
def queue_info(as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Each queue's settings, counts and workers, with the broker's health, and the job types."""
    from rich.table import Table

    from ils.jobs import build_registry
    from ils.queue.reference import describe

    info = inspect_admin(config, lambda admin: admin.info())
    info["job_types"] = [describe(t) for t in build_registry(settings_for(config).imports)]
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    table = Table(
        "queue", "concurrency", "rate limit", "attempts", "backoff", "lock", "workers", "jobs",
        title=f"ILS Jobs: queues (prefix {info['prefix']})",
    )  # fmt: skip
    for queue, q in info["queues"].items():
        s = q["settings"]
        rate = f"{s['rate_max']}/{s['rate_duration_ms']}ms" if s["rate_max"] else "-"
        counts = q["counts"] or {}
        jobs = " ".join(f"{k}={v}" for k, v in counts.items() if v)
        table.add_row(
            queue, str(s["concurrency"]), rate, str(s["attempts"]),
            f"{s['backoff']} {s['backoff_delay_ms']}ms", f"{s['lock_duration_ms']}ms",
            str(q["workers"]), jobs or "-",
        )  # fmt: skip
    console = rich_console()
    console.print(table)
    h = info["health"]
    console.print(f"redis: {h['redis']}  version: {h['version']}  latency: {h['latency_ms']} ms")
    types = Table(title="ILS Jobs: job types")
    for column in ("queue", "job name", "priority", "attempts", "resources", "description"):
        types.add_column(column, no_wrap=column != "description")
    for t in info["job_types"]:
        types.add_row(t["queue"], t["name"], str(t["priority"] or "-"), str(t["attempts"] or "-"),
                      ", ".join(t["resources"]) or "-", t["description"])  # fmt: skip
    console.print(types)


@queue_app.command("docs")
def queue_docs(
    output: Annotated[Path | None, typer.Option(help="write here instead of stdout")] = None,
    config: ConfigOpt = None,
) -> None:
    """The reference table of the job types (docs/jobs.md), from their declarations."""
    from ils.jobs import build_registry
    from ils.jobs.reference import render

    page = render(build_registry(settings_for(config).imports))
    if output is None:
        typer.echo(page, nl=False)
    else:
        output.write_text(page)


@queue_app.command("add")
def queue_add(
    queue: str,
    name: str,
    payload: Annotated[str, typer.Argument(help="the payload as a JSON object")],
    priority: Annotated[int | None, typer.Option(help="1 is the highest")] = None,
    delay: Annotated[float | None, typer.Option(help="seconds to wait before running")] = None,
    job_id: Annotated[str | None, typer.Option("--job-id")] = None,
    config: ConfigOpt = None,
) -> None:
    """Validate and enqueue one job; prints its id."""
    from pydantic import ValidationError

    from ils.queue.producer import EnqueueOptions

    data = parse_json(payload, "payload")
    try:
        options = EnqueueOptions(priority=priority, delay_s=delay, job_id=job_id)
    except ValidationError as exc:
        flags = {"priority": "--priority", "delay_s": "--delay", "job_id": "--job-id"}
        fail("; ".join(f"{flags.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}"
                        for e in exc.errors()))  # fmt: skip

    async def add(system: JobSystem) -> Any:
        return await system.producer.enqueue(queue, name, data, options)

    result = run_async(lambda: with_system(settings_for(config), add))
    typer.echo(json.dumps({"queue": result.queue, "name": result.name, "id": result.job_id,
                           "mode": result.mode}))  # fmt: skip


@queue_app.command("job")
def queue_job(queue: str, job_id: str, config: ConfigOpt = None) -> None:
    """One job as JSON: its state (``cancelled`` for a job stopped on request), payload,
    attempts, result or failure."""
    view = inspect_admin(config, lambda admin: admin.get_job(queue, job_id))
    typer.echo(json.dumps(view.to_dict(), indent=2, default=str))


@queue_app.command("cancel")
def queue_cancel(queue: str, job_id: str, config: ConfigOpt = None) -> None:
    """Cancel a job that has not finished: removed if it is not running yet; if it is, its
    worker is asked to stop it and it ends ``cancelled`` (see ``ils queue job``). A parent
    waiting for children (a flow's, a batch's callback) is cancelled with its pending children;
    the answer lists every job removed, asked to stop, or marked to end cancelled."""
    done = inspect_admin(config, lambda admin: admin.actions.cancel(queue, job_id))
    answer = {k: v for k, v in done.to_dict().items() if k != "job_id"}
    typer.echo(json.dumps({"queue": queue, "id": job_id, **answer}))
