"""The app under ``make load``: a fresh ILS on the embedded defaults, seeded with the demo, its web
process (``ils serve --no-workers``) beside several ``ils worker`` processes.

Everything is its own: a new directory holds the SQLite file, the PDFs, the mail the file
transport writes and the embedded server's data; the web process starts that embedded server on
a free port and the workers find it there. The AI chat answers offline (no provider, no network).
The demo logins (``ils demo seed``) are what the simulated users sign in with.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from ils.domain.demo import demo_logins
from ils.domain.enums import Role
from orders_server import Layout

# The demo companies that do the seed's work (the platform company only administers).
COMPANIES = ("Brightview Opticians", "Precision Lens Lab")
QUOTA_KINDS = ("order", "pdf", "email", "ai", "bulk")


def demo_accounts() -> list[dict[str, Any]]:
    """The demo logins of the working companies: email, password, role and company."""
    return [
        {"email": x.email, "password": x.password, "role": x.role.value, "company": x.company}
        for x in demo_logins()
        if x.company in COMPANIES and x.role is not Role.platform_admin
    ]


class LoadApp(Layout):
    """``ils serve --no-workers`` (``web`` processes on one port) and ``workers`` ``ils worker``
    processes on one fresh directory. ``quotas``: keep the per-user and per-company request
    quotas; without them every quota is lifted (the simulated users share the few demo logins,
    so one demo account stands for hundreds of people and its per-user quota would measure the
    limiter, not the app)."""

    def __init__(self, port: int, workers: int, quotas: bool = False, web: int = 1) -> None:
        super().__init__("worker-process", port)
        self.workers, self.web = workers, web
        self.env |= {"ILS_AI_PROVIDER": "offline"}
        if not quotas:
            for kind in QUOTA_KINDS:
                self.env |= {f"ILS_QUOTA_{kind.upper()}_USER": "none"}
                self.env |= {f"ILS_QUOTA_{kind.upper()}_COMPANY": "none"}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        seed = [sys.executable, "-m", "ils", "demo", "seed", "--no-progress"]
        done = subprocess.run(seed, env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            self.stop()
            sys.exit(f"ils demo seed failed:\n{done.stdout}{done.stderr}")
        serve = ["serve", "--port", str(self.port), "--no-workers", "--processes", str(self.web)]
        self.launch(serve, "listening on", "web.log")
        for i in range(self.workers):
            # Each finds the embedded server the web process started (through var/redis).
            self.launch(["worker"], "ready: worker", f"worker-{i}.log", level="INFO")
