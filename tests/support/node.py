"""The Node BullMQ scripts of ``tests/node`` (the ``bullmq`` package pinned there, installed by
``make node-deps``): where Node is, whether the package is installed (a missing one fails the
run under ``CI=true``, where ``make test`` installs it) and running one script with its
arguments as JSON, its JSON answer read back."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from typing import Any

from tests.conftest import REPO

NODE_DIR = REPO / "tests" / "node"
NODE = shutil.which("node")
MISSING = NODE is None or not (NODE_DIR / "node_modules" / "bullmq").is_dir()
if MISSING and os.environ.get("CI") == "true":  # CI never skips: `make test` installs them
    raise RuntimeError("Node or its bullmq package is missing under CI=true: run `make node-deps`")


async def run_node(script: str, args: dict[str, Any], timeout_s: float = 60) -> Any:
    """Run ``tests/node/<script>`` with ``args``; what it printed, decoded as JSON."""
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE, str(NODE_DIR / script), json.dumps(args),
        cwd=NODE_DIR, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    assert proc.returncode == 0, err.decode()
    return json.loads(out)
