"""``ils batch show`` and ``ils flow show``: a batch's progress and a job's flow tree, read
through the queue admin layer with Redis alone (as ``ils queue stats``); their imports wait for
the command, so ``ils worker`` loads none of this.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ils.cli_common import ConfigOpt, JsonOpt, inspect_admin, rich_console

if TYPE_CHECKING:
    from ils.queue.admin import QueueAdmin
    from ils.queue.flow_tree import FlowNode

batch_app = typer.Typer(help="Batches: many jobs with one completion callback.")
flow_app = typer.Typer(help="Flows: jobs that wait for other jobs.")


@batch_app.command("show")
def batch_show(
    batch_id: Annotated[str, typer.Argument(help="the batch id (its callback's job id)")],
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """A batch's jobs per state and its callback's state."""
    view = inspect_admin(config, lambda admin: admin.batches.get(batch_id)).to_dict()
    if as_json:
        typer.echo(json.dumps(view, indent=2))
        return
    from rich.table import Table

    done = "done" if view["done"] else "running"
    table = Table("state", "jobs", title=f"batch {batch_id}: {view['total']} jobs, {done}")
    for state, count in view["counts"].items():
        table.add_row(state, str(count))
    table.add_row("callback", f"{view['queue']}/{view['callback']}: {view['callback_state']}")
    rich_console().print(table)


def _label(node: dict[str, Any]) -> str:
    if node["hidden"]:
        return f"{node['queue']}/{node['id']} (another company's)"
    text = f"{node['queue']}/{node['name']} {node['id']}: {node['state']}"
    if node["failed_reason"]:
        text += f" ({node['failed_reason']})"
    if node["on_child_failure"]:
        text += f" [a failed child: {node['on_child_failure']}]"
    shown = len(node["children"])
    if node["children_total"] > shown:
        text += f" [{shown} of {node['children_total']} children shown]"
    return text


def _grow(tree: Any, node: dict[str, Any]) -> None:
    for child in node["children"]:
        _grow(tree.add(_label(child)), child)


@flow_app.command("show")
def flow_show(
    queue: Annotated[str, typer.Argument(help="the job's queue")],
    job_id: Annotated[str, typer.Argument(help="any job of the flow")],
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """The flow a job belongs to, from its root: each job's state, each parent's children."""

    async def tree(admin: QueueAdmin) -> FlowNode:
        return await admin.flows.tree(queue, job_id)

    root = inspect_admin(config, tree).to_dict()
    if as_json:
        typer.echo(json.dumps(root, indent=2))
        return
    from rich.tree import Tree

    shown = Tree(_label(root))
    _grow(shown, root)
    rich_console().print(shown)
