"""The deployment files stay runnable without a container engine or systemd here: the compose file
parses and is complete (every queue has a worker, Redis persists and never evicts, every setting
it sets exists), and every ``ils`` command of the compose file, the Dockerfile, the systemd units
and the Procfile parses against the real command tree; the systemd units pass systemd's own
``systemd-analyze verify`` (every key known, every value well formed); docs/deployment.md includes
them whole."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ils.queue.settings import QUEUE_NAMES
from ils.settings_sources import ENV_PATHS
from tests.conftest import REPO
from tests.support.cli_commands import resolve

DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")
#: What a ``${VAR}`` of a command stands for in this test.
SAMPLE = {"QUEUES": "email,notification", "PORT": "8000"}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def expand(command: str) -> str:
    return VARIABLE.sub(lambda m: SAMPLE.get(m.group(1)) or m.group(2) or "1", command)


def test_the_compose_file_runs_every_queue_on_a_persistent_never_evicting_redis():
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "web"} <= services.keys()
    served: set[str] = set()
    for name, service in services.items():
        command = service.get("command")
        if isinstance(command, list) and command[0] == "ils":
            path, args = resolve(expand(" ".join(command)), {})
            if path == ("worker",):
                served |= set(args[args.index("--queues") + 1].split(","))
                assert int(service["stop_grace_period"].rstrip("s")) > 30, name  # the grace
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on {dependency}"
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose()["volumes"], f"{name}: {volume}"
    assert served == set(QUEUE_NAMES)
    assert services["migrate"]["command"] == ["ils", "db", "upgrade"]
    assert services["web"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    redis = " ".join(services["redis"]["command"])
    for needed in ("--appendonly yes", "--appendfsync everysec", "--maxmemory-policy noeviction"):
        assert needed in redis


def test_every_setting_the_compose_file_sets_exists():
    ils = compose()["x-ils"]["environment"]
    assert {"DATABASE_URL", "REDIS_URL", "ILS_SECRET_KEY", "ILS_FILES_DIR"} <= ils.keys()
    assert [name for name in ils if name not in ENV_PATHS] == []
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    set_there = re.findall(r"\b(ILS_\w+)=", dockerfile)
    assert set_there and [name for name in set_there if name not in ENV_PATHS] == []


def test_the_dockerfile_copies_what_exists_and_runs_an_ils_command():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for sources in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for source in sources.split():
            assert (REPO / source).exists(), source
    [cmd] = re.findall(r"^CMD (\[.*\])$", dockerfile, re.M)
    resolve(" ".join(json.loads(cmd)), {})


def test_the_systemd_units_and_the_procfile_run_ils_commands_that_exist():
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert [u.name for u in units] == ["ils-web.service", "ils-worker@.service"]
    for unit in units:
        text = unit.read_text()
        [start] = re.findall(r"^ExecStart=\S+/(ils .+)$", text, re.M)
        resolve(expand(start), {})
        stop = int(re.findall(r"^TimeoutStopSec=(\d+)$", text, re.M)[0])
        assert stop > 30, unit.name  # above ILS_SHUTDOWN_GRACE_S
    processes = {}
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        if line and not line.startswith("#"):
            kind, _, command = line.partition(": ")
            processes[kind] = resolve(expand(command), {})
    assert processes["release"][0] == ("db", "upgrade")
    worked = {q for path, args in processes.values() if path == ("worker",)
              for q in args[args.index("--queues") + 1].split(",")}  # fmt: skip
    assert worked == set(QUEUE_NAMES)


def test_systemd_verifies_the_units(tmp_path: Path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze (Debian's systemd package) is needed under CI")
        pytest.skip("systemd-analyze is not installed")
    copies = []
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        # Installed, ExecStart names the venv's ils; here, a program that exists stands in.
        text = re.sub(r"^ExecStart=\S+/ils ", "ExecStart=/bin/true ", unit.read_text(), flags=re.M)
        copy = tmp_path / unit.name.replace("@.", "@mail.")
        copy.write_text(text)
        copies.append(str(copy))
    done = subprocess.run([analyze, "verify", *copies], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def test_the_deployment_page_includes_the_files_whole():
    page = (REPO / "docs" / "deployment.md").read_text()
    for name in ("docker-compose.yml", "Dockerfile", "Procfile", "systemd/ils-web.service",
                 "systemd/ils-worker@.service"):  # fmt: skip
        assert f'--8<-- "deploy/{name}"' in page, name
