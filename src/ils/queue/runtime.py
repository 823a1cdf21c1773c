"""The worker runtime: one supervised BullMQ worker per queue, heartbeats, graceful shutdown.

Guard 2 (ARCHITECTURE.md): a BullMQ worker whose loop dies stops silently. Workers start only once
Redis answers; each one runs under a supervisor that logs and restarts it when its loop ends
without being asked to, and gives up (the process exits non-zero) past a restart budget.
SIGTERM/SIGINT: stop taking jobs, let active ones finish within the grace period, then exit;
jobs still running after it are left to BullMQ's stalled-job recovery (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from typing import Any

from bullmq.custom_errors import UnrecoverableError

from ils.errors import WorkerCrashed
from ils.logs import job_log_context
from ils.queue.broker import Broker, is_connection_error
from ils.queue.cancel import CancelWatcher
from ils.queue.children import ChildrenView
from ils.queue.context import JobContext, NoResources, ResourceProvider
from ils.queue.executor import Executor
from ils.queue.failed_budget import FailedBudget
from ils.queue.heartbeat import Heartbeat, new_worker_id
from ils.queue.ils_worker import IlsWorker as Worker
from ils.queue.ils_worker import worker_options
from ils.queue.loadguard import LagBackoff, LoopLagMonitor
from ils.queue.metrics import MetricsRecorder, Outcome
from ils.queue.processing import CANCEL_REASON, DeadLetterSink, Endings
from ils.queue.recurrence import use_strategy
from ils.queue.registry import Registry
from ils.queue.settings import QUEUE_NAMES, Settings, check_queue_name
from ils.queue.stalls import StallSweeper
from ils.queue.tenancy import job_company

log = logging.getLogger("ils.worker")
job_log = logging.getLogger("ils.jobs")

# A worker that ran this long before dying starts with a fresh restart budget.
RESTART_WINDOW_S = 60.0


def job_log_scope(queue: str, job: Any) -> contextlib.AbstractContextManager[Any]:
    """What is logged inside carries the job's id, queue, name and company (:mod:`ils.logs`)."""
    return job_log_context(str(job.id), queue, job.name, job_company(job.data))


def parse_queues(value: str | None) -> tuple[str, ...]:
    """``"email,pdf"`` -> ``("email", "pdf")``; all six when empty; unknown names fail."""
    if not value:
        return QUEUE_NAMES
    names = tuple(dict.fromkeys(q.strip() for q in value.split(",") if q.strip()))
    for q in names:
        check_queue_name(q)
    return names


class WorkerRuntime:
    """Runs and supervises the workers of the chosen queues inside one process."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        broker: Broker,
        queues: tuple[str, ...] = QUEUE_NAMES,
        resources: ResourceProvider | None = None,
        on_fatal: Callable[[BaseException], None] | None = None,
        lag_monitor: LoopLagMonitor | None = None,
        dead_letters: DeadLetterSink | None = None,
    ) -> None:
        """``lag_monitor`` (the web process's): pause these workers while its loop lags more
        than ``settings.loop_lag_pause_ms`` (see :mod:`ils.queue.loadguard`); ``dead_letters``
        records the jobs that fail for good (:mod:`ils.queue.processing`)."""
        for q in queues:
            settings.queue(q)
        self.settings = settings
        self.registry = registry
        self.broker = broker
        self.queues = queues
        self.resources: ResourceProvider = resources or NoResources()
        self.executor = Executor(registry)
        self.endings = Endings(dead_letters)
        self.worker_id = new_worker_id()
        self.on_fatal = on_fatal
        self.workers: dict[str, Worker] = {}
        self.runs: dict[str, asyncio.Task[None]] = {}
        self._launched_at: dict[str, float] = {}
        # Notified each time a queue's worker is (re)started.
        self.launched = asyncio.Condition()
        self.restarts: dict[str, int] = dict.fromkeys(queues, 0)
        self.fatal: BaseException | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self._started = asyncio.Event()
        self._heartbeat: Heartbeat | None = None
        self.metrics: MetricsRecorder | None = None
        self.cancels: CancelWatcher | None = None
        self.active = 0
        self.failed_budgets: dict[str, FailedBudget] = {}
        self.backoff: LagBackoff | None = None
        if lag_monitor is not None:
            self.backoff = LagBackoff(
                lag_monitor,
                lambda: list(self.workers.values()),
                settings.loop_lag_pause_ms / 1000,
                settings.effective_loop_lag_resume_ms / 1000,
            )

    # -- the job pipeline, adapted to BullMQ ------------------------------------------------

    def _context(self, queue: str, job: Any, sig: Any) -> JobContext[Any]:
        job_id = str(job.id)
        return JobContext(
            job_id=job_id,
            queue=queue,
            name=job.name,
            attempt=int(job.attemptsMade or 0) + 1,
            max_attempts=int((job.opts or {}).get("attempts") or 1),
            logger=logging.LoggerAdapter(job_log, {"job_id": job_id, "queue": queue}),
            resources=self.resources.scoped(self.registry.resources_of(queue, job.name)),
            flow=ChildrenView(self.broker.queues.get(queue), job_id),
            _progress=job.updateProgress,
            _log=job.log,
            _cancelled=(lambda: bool(sig.aborted)) if sig is not None else None,
            _cancel_wait=sig.wait if sig is not None else None,
        )

    def _processor(self, queue: str) -> Callable[..., Any]:
        # BullMQ passes the abort signal only while its lock manager is open: default it.
        async def process(job: Any, token: str, sig: Any = None) -> Any:
            with job_log_scope(queue, job):
                ctx = self._context(queue, job, sig)
                started = time.perf_counter()
                outcome: Outcome | None = "failed" if ctx.is_last_attempt else "retried"
                self.active += 1
                try:
                    result = await self.executor.execute(queue, job.name, job.data, ctx)
                    outcome = "completed"
                    return result
                except Exception as exc:
                    asked = sig is not None and sig.aborted and sig.reason == CANCEL_REASON
                    ending = await self.endings.settle(queue, job, token, ctx, exc, asked)
                    outcome = ending.outcome
                    if ending.error is exc:
                        raise
                    if ending.error is not None:
                        raise ending.error from exc
                    return ending.value
                finally:
                    self.active -= 1
                    if outcome is not None and self.metrics is not None:
                        self.metrics.record(queue, job.name, outcome, time.perf_counter() - started)
                    if self.cancels is not None and self.cancels.signalled:
                        await self.cancels.finished(queue, ctx.job_id)

        return process

    def _cancel_job(self, queue: str, job_id: str) -> bool:
        worker = self.workers.get(queue)
        return bool(worker is not None and worker.cancelJob(job_id, CANCEL_REASON))

    def _on_completed(self, queue: str) -> Callable[..., None]:
        def completed(job: Any, _result: Any) -> None:
            if self._heartbeat:
                self._heartbeat.processed += 1
            if job_log.isEnabledFor(logging.DEBUG):  # the scope costs more than the check
                with job_log_scope(queue, job):
                    job_log.debug("job %s %s/%s completed", job.id, queue, job.name)

        return completed

    def _on_failed(self, queue: str) -> Callable[..., None]:
        def failed(job: Any, err: BaseException) -> None:
            if self._heartbeat:
                self._heartbeat.failed += 1
            attempts = int((job.opts or {}).get("attempts") or 1)
            final = isinstance(err, UnrecoverableError) or int(job.attemptsMade or 0) >= attempts
            if final and queue in self.failed_budgets:
                self.failed_budgets[queue].poke()
            with job_log_scope(queue, job):
                job_log.log(
                    logging.ERROR if final else logging.WARNING,
                    "job %s %s/%s %s (attempt %s/%s): %s",
                    job.id, queue, job.name, "failed" if final else "will retry",
                    job.attemptsMade, attempts, err,
                )  # fmt: skip

        return failed

    def _build_worker(self, queue: str) -> Worker:
        spec = self.settings.queue(queue)
        client = self.broker.client("worker", queue=queue)
        worker = Worker(
            queue,
            self._processor(queue),
            worker_options(
                self.settings, spec, client, self.worker_id, self.settings.queue_prefix(queue)
            ),
            max_payload_bytes=self.settings.max_payload_bytes,
        )
        use_strategy(worker)  # it steps a scheduler to its next run when it takes that run
        worker.on("completed", self._on_completed(queue))
        worker.on("failed", self._on_failed(queue))
        worker.on("error", lambda err, *_: log.warning("worker %s: %s", queue, err))
        return worker

    def _sweeper(self, queue: str) -> StallSweeper:
        def stalled(_job_id: str) -> None:
            if self.metrics is not None:
                self.metrics.record_stalled(queue)

        return StallSweeper(
            queue, self.settings.queue(queue), lambda: self.broker.queues.get(queue), stalled
        )

    def _failed_budget(self, queue: str) -> FailedBudget:
        return FailedBudget(
            queue,
            self.settings.queue(queue),
            lambda: self.broker.queues.get(queue),
            self.broker.admin_client_for(queue),
        )

    # -- supervision -----------------------------------------------------------------------

    async def _launch(self, queue: str) -> None:
        worker = self._build_worker(queue)
        if self.backoff is not None and self.backoff.paused:
            self.backoff.apply(worker)  # restarted while the loop lags: stays paused
        self.workers[queue] = worker
        self.runs[queue] = asyncio.create_task(worker.run(), name=f"bullmq-{queue}")
        self._launched_at[queue] = time.monotonic()
        async with self.launched:
            self.launched.notify_all()

    async def _supervise(self, queue: str) -> None:
        budget_used = 0
        while True:
            run = self.runs[queue]
            # asyncio.wait, not await: the loop's own end (even a cancellation) must not be
            # mistaken for this supervisor being cancelled.
            await asyncio.wait([run])
            if self._stopping.is_set():
                return
            error: BaseException | None
            if run.cancelled():
                error = asyncio.CancelledError("worker loop was cancelled")
            else:
                error = run.exception()
            with contextlib.suppress(Exception):
                await self.workers[queue].close(force=True)
            if time.monotonic() - self._launched_at[queue] > RESTART_WINDOW_S:
                budget_used = 0
            if error is None or not is_connection_error(error):
                budget_used += 1
            self.restarts[queue] += 1
            log.error(
                "worker for queue %s stopped unexpectedly (%s); restarting (%d/%d)",
                queue, error or "loop ended", budget_used, self.settings.worker_restart_limit,
            )  # fmt: skip
            if budget_used > self.settings.worker_restart_limit:
                self._fail(WorkerCrashed(f"worker for queue {queue} keeps dying: {error}"))
                return
            await self.broker.wait_until_ready(queue=queue)  # its own server (issue 21)
            if self._stopping.is_set():
                return
            await self._launch(queue)

    def _fail(self, exc: BaseException) -> None:
        log.critical("%s; stopping this process", exc)
        self.fatal = exc
        self._stopping.set()
        if self.on_fatal is not None:
            self.on_fatal(exc)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Wait for Redis, then start every queue's worker and the heartbeat."""
        await self.broker.wait_until_ready(self.settings.redis_wait_s)
        if self._stopping.is_set():
            return
        self._heartbeat = Heartbeat(
            self.broker.client("admin"),
            self.settings.prefix,
            self.worker_id,
            self.queues,
            self.settings.heartbeat_interval_s,
            active=lambda: self.active,
        )
        await self._heartbeat.beat()
        self.metrics = MetricsRecorder(
            self._heartbeat.client, self.settings.prefix, known=self.registry.knows
        )
        self.cancels = CancelWatcher(
            self._heartbeat.client, self.settings.prefix, self.workers, self._cancel_job
        )
        for q in self.queues:
            # The stalled-job check first: jobs a killed worker left active go back to wait
            # before this process takes new ones (issue 16, defect 1).
            sweeper = self._sweeper(q)
            self._tasks.append(asyncio.create_task(sweeper.run(), name=f"ils-stalls-{q}"))
            budget = self._failed_budget(q)
            self.failed_budgets[q] = budget
            self._tasks.append(asyncio.create_task(budget.run(), name=f"ils-failed-budget-{q}"))
            await self._launch(q)
            self._tasks.append(asyncio.create_task(self._supervise(q), name=f"ils-worker-{q}"))
        self._tasks.append(asyncio.create_task(self._heartbeat.run(), name="ils-heartbeat"))
        for name, loop in (
            ("ils-metrics", self.metrics.run()),
            ("ils-cancels", self.cancels.run()),
        ):
            self._tasks.append(asyncio.create_task(loop, name=name))
        self._started.set()
        log.info("background job workers active (%s):", self.worker_id)
        for q in self.queues:
            spec = self.settings.queue(q)
            rate = f"{spec.rate_max}/{spec.rate_duration_ms // 1000}s" if spec.rate_max else "none"
            kinds = ", ".join(t.name for t in self.registry.for_queue(q)) or "no job types"
            log.info(
                "   - %s worker: concurrency %d, rate limit %s: %s",
                q,
                spec.concurrency,
                rate,
                kinds,
            )

    async def wait_started(self, timeout_s: float | None = None) -> None:
        await asyncio.wait_for(self._started.wait(), timeout_s)

    async def wait(self) -> int:
        """Block until the runtime stops; the process exit code (0, or 1 after a crash)."""
        await self._stopping.wait()
        await self.stop()
        return 1 if self.fatal else 0

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop taking jobs, let active ones finish within the grace period, close everything."""
        if self._stopped.is_set():
            return
        self._stopping.set()
        if self.backoff is not None:
            self.backoff.disable()  # no resume in the middle of the drain
        grace = self.settings.shutdown_grace_s if grace_s is None else grace_s
        deadline = time.monotonic() + grace
        drained = await asyncio.gather(*(_drain(w, deadline) for w in self.workers.values()))
        if not all(drained):
            log.warning("grace period of %ss over; abandoning active jobs to stall recovery", grace)
        await asyncio.gather(
            *(w.close(force=not ok) for w, ok in zip(self.workers.values(), drained, strict=True)),
            return_exceptions=True,
        )
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.metrics is not None:
            with contextlib.suppress(Exception):
                await self.metrics.flush()
        if self._heartbeat is not None:
            await self._heartbeat.clear()
            await self._heartbeat.client.aclose()
        self._stopped.set()
        log.info("workers stopped (%s)", self.worker_id)

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)


async def _drain(worker: Worker, deadline: float) -> bool:
    """Stop ``worker`` taking jobs and wait for the ones it holds; False if time ran out.

    BullMQ's own ``close()`` waits only for the tasks it saw when called, so a job fetched just
    then could be left active with its connection closed under it. Pausing first stops the
    fetching; every task the loop then holds (``worker.processing`` is replaced as it runs, so it
    is read afresh) is awaited before the worker is closed.
    """
    await worker.pause(do_not_wait_active=True)
    while True:
        pending = [t for t in worker.processing if not t.done()]
        if not pending:
            # Let the worker loop take in a fetch that has just completed, then look again.
            await asyncio.sleep(0)
            if not [t for t in worker.processing if not t.done()]:
                return True
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        await asyncio.wait(pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
