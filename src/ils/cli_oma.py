"""``ils oma watch DIR``: the OMA drop-folder watcher (:mod:`ils.jobs.oma.watch`) wired to the
producer and the queue admin.

Only typer is imported at module level: ``ils worker`` loads this module with the command tree
and must stay lean (``tests/test_lean_worker.py``).
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ils.cli_base import configure_logging, fail, run_async, settings_for
from ils.cli_common import ConfigOpt, with_system

if TYPE_CHECKING:
    from ils.bootstrap import JobSystem

oma_app = typer.Typer(help="OMA lab files: watch a drop folder.")


async def watch(
    system: JobSystem, folder: Path, company: int, poll_s: float, once: bool,
    stop: asyncio.Event | None = None,
) -> None:  # fmt: skip
    """Run the watcher on ``folder`` for ``company`` until ``stop`` is set; without one given,
    until SIGINT/SIGTERM."""
    from ils.errors import JobNotFound
    from ils.jobs.oma.handlers import process_oma_file
    from ils.jobs.oma.watch import DropWatcher
    from ils.queue.producer import EnqueueOptions

    async def enqueue(path: str, job_id: str) -> None:
        await process_oma_file.helper.using(
            producer=system.producer, company_id=company, options=EnqueueOptions(job_id=job_id)
        )(company_id=company, path=path, filename=Path(path).name)

    async def state(job_id: str) -> tuple[str | None, str | None]:
        try:
            view = await system.admin.get_job("oma", job_id)
        except JobNotFound:
            return None, None
        return view.state, view.failed_reason

    watcher = DropWatcher(system.settings.oma_root, folder, enqueue, state)
    if stop is not None:
        await watcher.run(stop, poll_s, once)
        return
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await watcher.run(stop, poll_s, once)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


@oma_app.command("watch")
def oma_watch(
    company: Annotated[int, typer.Option(min=1, help="the company the dropped files are for")],
    folder: Annotated[
        Path | None, typer.Argument(help="inside the drop folder (default: <drop folder>/incoming)")
    ] = None,
    poll: Annotated[float, typer.Option(min=0.05, help="seconds between two looks")] = 1.0,
    once: Annotated[bool, typer.Option(help="process what is there now, then exit")] = False,
    config: ConfigOpt = None,
) -> None:
    """Enqueue each new file of FOLDER once (process-oma-file), then move it to done/ or
    rejected/ when its job ends."""
    settings = settings_for(config)
    configure_logging(settings)
    target = folder if folder is not None else settings.oma_root / "incoming"
    if not target.is_dir():
        fail(f"{target}: no such folder")
    if not target.resolve().is_relative_to(settings.oma_root.resolve()):
        fail(f"{target} is not inside the OMA drop folder {settings.oma_root} (ILS_OMA_DIR)")
    run_async(lambda: with_system(settings, lambda s: watch(s, target, company, poll, once)))
