"""``make load``: the real app (``ils serve`` and several ``ils worker`` processes, a fresh demo)
under 1,000 simulated users doing the seed's mix, and whether the seed's targets hold.

    python bench/load.py [--users 1000] [--duration 180] [--spawn-rate 20] [--think 15]
                         [--workers 3] [--web-processes 1] [--drain 60]
                         [--mix list_orders=30,...] [--quotas]
                         [--port 8790] [--json PATH] [--record]

The app is :mod:`load_app`'s, the users :mod:`load_users`', the job figures :mod:`load_jobs`'
(read from ``/metrics``). After the users stop, the queues get ``--drain`` seconds to finish.
Reported: p50/p99 per action, the error rate, per queue the jobs created, completed, the
completion rate, completions per minute and the oldest waiting job's age; the CPU the web
process, the workers and the embedded server used; warnings and errors in their logs; and the
seed's four targets (API < 500 ms, 100 emails/min, 20 PDFs/min, 99% of jobs completed), each
met or NOT met. JSON to ``bench/results/load.json``; ``--record`` also writes the markdown
section of bench/README.md between its ``load`` markers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from load_app import LoadApp, demo_accounts
from load_jobs import Sampler, drain, job_figures, settled, snapshot
from load_users import DEFAULT_MIX, Account, Plan, parse_mix, run_users
from orders_load import commit
from orders_server import REPO, STORES

RESULTS = REPO / "bench" / "results" / "load.json"
README = REPO / "bench" / "README.md"
BEGIN, END = "<!-- load:begin -->", "<!-- load:end -->"
API_MS, EMAILS_PER_MIN, PDFS_PER_MIN, COMPLETED = 500, 100, 20, 0.99
# A queue limited to N jobs a minute runs them in fixed 60 s windows from its first job, so a run
# of a few minutes, cut at both ends, measures a little under N: 95% of a rate target counts.
RATE_TOLERANCE = 0.95
# Lines of the processes' logs that say something went wrong (counted, a few kept as evidence).
LOG_SIGNS = ("database is locked", "Traceback", "ERROR", "CRITICAL", "WARNING")


def _run_delay_s(pid: int) -> float:
    """Seconds the threads of ``pid`` spent runnable but waiting for a CPU (Linux schedstat;
    0 where it is not available)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(stat.read_text().split()[1])
    return total / 1e9


def cpu_by_role(app: LoadApp) -> dict[str, float]:
    """CPU seconds so far of the web process, the worker processes (their pools included) and
    the embedded server; and the seconds the web process and the workers were runnable but
    waited for a CPU (``*_cpu_wait``): a process starved of CPU by the machine shows it there,
    one waiting on a lock or on I/O does not."""
    out = {"web": 0.0, "workers": 0.0, "store": 0.0, "web_cpu_wait": 0.0, "workers_cpu_wait": 0.0}
    for i, proc in enumerate(app.procs):
        role = "web" if i == 0 else "workers"
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(proc.pid)
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    if any(store in p.name() for store in STORES):
                        continue  # the embedded server, counted apart
                    t = p.cpu_times()
                    out[role] += t.user + t.system
                    out[f"{role}_cpu_wait"] += _run_delay_s(p.pid)
    out["store"] = app.cpu_s()["store"]
    return out


def log_signs(app: LoadApp) -> dict[str, Any]:
    """Per log sign, how many lines of the app's logs carry it, and the first few lines."""
    counts = dict.fromkeys(LOG_SIGNS, 0)
    examples: list[str] = []
    for log in sorted(app.work.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            signs = [s for s in LOG_SIGNS if s in line]
            for s in signs:
                counts[s] += 1
            if signs and len(examples) < 8:
                examples.append(f"{log.name}: {line[:300]}")
    return {"counts": counts, "examples": examples}


async def until_healthy(base_url: str, budget_s: float = 60) -> None:
    """``/healthz`` answering (the web process prints that it listens before uvicorn binds)."""
    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/healthz")).status_code == 200:
                    return
            if time.perf_counter() - t0 > budget_s:
                raise RuntimeError(f"{base_url}/healthz did not answer in {budget_s:g} s")
            await asyncio.sleep(0.2)


async def measure(
    base_url: str, accounts: list[Account], plan: Plan, drain_s: float,
    cpu: Callable[[], dict[str, float]], done: Callable[[dict[str, Any]], bool] = settled,
) -> dict[str, Any]:  # fmt: skip
    """Users, then the drain (until ``done`` says the jobs are, at most ``drain_s``); the users'
    figures, the jobs', and the CPU ``cpu`` counts (CPU seconds so far per role) and this
    generator used while the users ran."""
    await until_healthy(base_url)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as probe:
        before, cpu0, own0 = await snapshot(probe), cpu(), time.process_time()
        sampler = Sampler(probe)
        sampler.start()
        users = await run_users(base_url, accounts, plan)
        stopped, cpu1, own1 = await snapshot(probe), cpu(), time.process_time()
        drained_s = await drain(probe, drain_s, done)
        await sampler.stop()
        after = await snapshot(probe)
    load_s = stopped["t"] - before["t"]
    cores = {role: round((cpu1[role] - cpu0[role]) / load_s, 2) for role in cpu0}
    answered = users["requests"] + users["baseline"].get("requests", 0)
    per_request = (cpu1["web"] - cpu0["web"]) * 1000 / max(1, answered)
    return {
        "web_cpu_ms_per_request": round(per_request, 2),
        "users": users,
        "jobs": job_figures(before, stopped, after, sampler.samples),
        "drain_s": drained_s,
        "metrics_unanswered": sampler.failures,
        "cpu_cores_while_users_ran": cores | {"generator": round((own1 - own0) / load_s, 2)},
    }


def targets(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The seed's four targets, each with its measured value and met or not."""
    actions = run["users"]["actions"]
    worst = max(actions.items(), key=lambda kv: kv[1]["p99_ms"] or 0.0)
    queues = run["jobs"]["queues"]

    def throughput(queue: str, target: float) -> dict[str, Any]:
        q = queues[queue]
        # Met when the queue did the target rate, or kept up with a smaller demand.
        kept_up = q["completion_at_stop"] is not None and q["completion_at_stop"] >= COMPLETED
        done = q["completed_per_min"] >= target * RATE_TOLERANCE
        met = done or (q["created_per_min"] < target and kept_up)
        return {
            "measured": f"{q['completed_per_min']:g}/min done, {q['created_per_min']:g}/min asked",
            "met": met,
        }

    completion = run["jobs"]["completion_end"]
    return [
        {"target": f"API < {API_MS} ms (p99 of every action)",
         "measured": f"worst p99 {worst[1]['p99_ms']} ms ({worst[0]})",
         "met": all((a["p99_ms"] or 0) < API_MS for a in actions.values())},
        {"target": f"{EMAILS_PER_MIN} emails/min"} | throughput("email", EMAILS_PER_MIN),
        {"target": f"{PDFS_PER_MIN} PDFs/min"} | throughput("pdf", PDFS_PER_MIN),
        {"target": f"{COMPLETED:.0%} of jobs completed",
         "measured": "-" if completion is None else f"{completion:.1%} after the drain",
         "met": completion is not None and completion >= COMPLETED},
    ]  # fmt: skip


def markdown(out: dict[str, Any]) -> str:
    """The README section: how it ran, the targets, per action, per queue."""
    run, plan = out["run"], out["plan"]
    users, jobs = run["users"], run["jobs"]
    lines = [
        f"Run on {out['when']} (commit {out['commit']}, {out['cpus']} CPUs, 1-minute load "
        f"average {out['load_average_start'][0]} at the start, {out['load_average_end'][0]} at "
        f"the end), {out['duration_s']:g} s in all: {plan['users']} users over "
        f"{plan['duration_s']:g} s (spawn rate {plan['spawn_rate']:g}/s, think time "
        f"{plan['think_s']:g} s), {out.get('web_processes', 1)} web and {out['workers']} worker "
        f"processes, drain {run['drain_s']:g} s "
        f"(budget {out['drain_budget_s']:g} s), quotas {'on' if out['quotas'] else 'lifted'}.",
        "",
        "| target | measured | |",
        "|---|---|---|",
        *[f"| {t['target']} | {t['measured']} | {'met' if t['met'] else '**NOT met**'} |"
          for t in out["targets"]],
        "",
        "| action | requests | p50 ms | p99 ms | p99 / baseline | max ms | p99 of 2xx ms | errors "
        "| 503 | 429 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    floor = users["baseline"].get("p99_ms")
    for name, a in [*users["actions"].items(), ("baseline: /healthz", users["baseline"])]:
        ratio = f"{a['p99_ms'] / floor:.1f}" if floor and a.get("p99_ms") is not None else "-"
        lines.append(
            f"| {name} | {a.get('requests', 0)} | {a.get('p50_ms')} | {a.get('p99_ms')} | {ratio} "
            f"| {a.get('max_ms')} | {a.get('p99_ok_ms')} | {a.get('errors', 0)} "
            f"| {a.get('shed_503', 0)} "
            f"| {a.get('limited_429', 0)} |"
        )
    lines.append(
        f"| **all users' requests** | {users['requests']} | {users['p50_ms']} | {users['p99_ms']} "
        f"| | | | {users['errors']} ({users['error_rate']:.2%}) | | |"
    )
    lines += [
        "",
        "| queue | created | completed | failed | completion at stop | after drain | done/min "
        "| asked/min | oldest waiting max s | at stop s | after drain s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, q in jobs["queues"].items():
        lines.append(
            f"| {name} | {q['created']} | {q['completed']} | {q['failed']} "
            f"| {_pct(q['completion_at_stop'])} | {_pct(q['completion_end'])} "
            f"| {q['completed_per_min']:g} | {q['created_per_min']:g} | {q['lag_max_s']:g} "
            f"| {q['lag_at_stop_s']:g} | {q['lag_end_s']:g} |"
        )
    cores = run["cpu_cores_while_users_ran"]
    lines += [
        "",
        f"CPU while the users ran (cores): web process {cores['web']} (and "
        f"{cores.get('web_cpu_wait', '-')} more runnable but waiting for a CPU), workers "
        f"{cores['workers']} (waiting {cores.get('workers_cpu_wait', '-')}), embedded server "
        f"{cores['store']}, this generator {cores['generator']}; the web process's CPU per "
        f"request {run['web_cpu_ms_per_request']} ms. Web loop "
        f"lag worst {jobs['web_loop_lag_max_ms']} ms; requests shed (503) {jobs['shed_503']}; "
        f"outbox backlog after the drain {jobs['outbox_pending_end']}; PDFs found / not yet "
        f"made when asked: {users['documents']['found']} / {users['documents']['none_yet']}.",
    ]
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def record(section: str, readme: Path = README) -> None:
    """Replace what stands between the load markers of ``readme`` with ``section``."""
    text = readme.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    if not rest:
        raise SystemExit(f"{readme.name} has no {BEGIN} marker")
    readme.write_text(f"{head}{BEGIN}\n{section}\n{END}{tail}")


def document(
    measured: dict[str, Any], plan: Plan, setup: dict[str, Any], started: datetime,
    load0: tuple[float, float, float], t0: float,
) -> dict[str, Any]:  # fmt: skip
    """What a run writes: when, on which commit, under which machine load, how long it took,
    how it was set up (``setup``: workers, quotas, drain budget), the plan, the figures, and the
    seed's targets."""
    out = {
        "when": started.isoformat(timespec="seconds"),
        "commit": commit(),
        "cpus": os.cpu_count(),
        "load_average_start": [round(x, 2) for x in load0],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "duration_s": round(time.perf_counter() - t0, 1),
        **setup,
        "plan": {"users": plan.users, "duration_s": plan.duration_s,
                 "spawn_rate": plan.spawn_rate, "think_s": plan.think_s, "mix": plan.mix},
        "run": measured,
    }  # fmt: skip
    return out | {"targets": targets(measured)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    plan = Plan(args.users, args.duration, args.spawn_rate, args.think, args.mix)
    load0, started, t0 = os.getloadavg(), datetime.now(UTC), time.perf_counter()
    accounts = [Account(a["email"], a["password"], a["company"]) for a in demo_accounts()]
    app = LoadApp(args.port, args.workers, quotas=args.quotas, web=args.web_processes)
    app.start()
    try:
        measured = asyncio.run(
            measure(app.base_url, accounts, plan, args.drain, lambda: cpu_by_role(app))
        )
        measured["logs"] = log_signs(app)
    finally:
        app.stop()
    setup = {"workers": args.workers, "web_processes": args.web_processes, "quotas": args.quotas,
             "drain_budget_s": args.drain}  # fmt: skip
    return document(measured, plan, setup, started, load0, t0)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=180, help="seconds the users run")
    parser.add_argument("--spawn-rate", type=float, default=20, help="users started a second")
    parser.add_argument("--think", type=float, default=15, help="mean pause between requests")
    parser.add_argument("--workers", type=int, default=3, help="`ils worker` processes")
    parser.add_argument("--web-processes", type=int, default=1, help="`ils serve --processes`")
    parser.add_argument("--drain", type=float, default=60, help="seconds for the queues after")
    parser.add_argument("--mix", type=parse_mix, default=dict(DEFAULT_MIX),
                        help="action=weight,... of " + ", ".join(DEFAULT_MIX))  # fmt: skip
    parser.add_argument("--quotas", action="store_true", help="keep the request quotas")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--record", action="store_true", help=f"write {README.name}'s section")
    args = parser.parse_args(argv)
    for name in ("users", "workers", "web_processes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("duration", "spawn_rate"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    for name in ("think", "drain"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must not be negative")
    out = run(args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    section = markdown(out)
    if args.record:
        record(section)
    print(section)
    return out


if __name__ == "__main__":
    main()
