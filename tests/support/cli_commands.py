"""Commands the docs and deployment files name, checked against the real ``ils`` command tree:
:func:`resolve` parses one as the command itself would (an unknown command, an unknown option or
a missing argument raises), so a renamed command fails the test that names it."""

from __future__ import annotations

import functools
import re
import shlex
from typing import Any

import typer
import typer.main

from ils.cli import app

PLACEHOLDER = re.compile(r"<[^>]+>")
USAGE_ERROR = typer.BadParameter.__base__  # click's UsageError, as Typer vendors it


@functools.cache
def command_tree() -> Any:
    """The ``ils`` command tree as Typer builds it (its own click: groups have ``commands``)."""
    return typer.main.get_command(app)


def resolve(command: str, values: dict[str, str]) -> tuple[tuple[str, ...], list[str]]:
    """``command`` (``ils …``)'s path in the tree and its arguments, each ``<placeholder>``
    filled from ``values`` (``"1"`` when not there); parsed by the command itself."""
    words = shlex.split(command)
    assert words[0] == "ils", command
    args = [PLACEHOLDER.sub(lambda m: values.get(m.group(0), "1"), a) for a in words[1:]]
    node = command_tree()
    path: list[str] = []
    while hasattr(node, "commands"):
        assert args and args[0] in node.commands, f"`{command}`: no such command"
        path.append(args.pop(0))
        node = node.commands[path[-1]]
    with node.make_context("ils " + " ".join(path), list(args)):
        pass
    return tuple(path), args
