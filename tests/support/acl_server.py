"""A redis-server of the test's own, set up as docs/production-redis.md prescribes: ``requirepass``
for the default user, one ACL user per ILS role with :mod:`ils.queue.acl`'s rules, and TLS when
asked (a throwaway CA and server certificate made with ``cryptography``).

The binary is Debian's ``redis-server`` when installed, else the embedded Valkey the project
ships. Builds without TLS say so at start; :class:`TlsUnsupported` carries that.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ils.queue import acl
from ils.queue.embedded import free_port, server_binary

START_TIMEOUT_S = 15.0
#: What redis-server and Valkey print once they accept connections.
READY_LINE = b"Ready to accept connections"
USERS: dict[acl.Role, str] = {"web": "ils-web", "worker": "ils-worker", "serve": "ils-serve"}


class TlsUnsupported(Exception):
    """The server binary was built without TLS."""


@dataclass(frozen=True)
class AclServer:
    port: int
    admin_password: str
    passwords: dict[acl.Role, str]
    ca_file: Path | None

    def url(self, role: acl.Role, db: int = 0) -> str:
        scheme = "rediss" if self.ca_file else "redis"
        user, password = USERS[role], quote(self.passwords[role], safe="")
        query = f"?ssl_ca_certs={self.ca_file}" if self.ca_file else ""
        return f"{scheme}://{user}:{password}@localhost:{self.port}/{db}{query}"

    def admin(self) -> redis.Redis:
        """The default user (``requirepass``): for the test's own checks, never for ILS."""
        extra = {"ssl": True, "ssl_ca_certs": str(self.ca_file)} if self.ca_file else {}
        return redis.Redis(
            host="localhost", port=self.port, password=self.admin_password,
            decode_responses=True, **extra,
        )  # fmt: skip


def binary() -> str:
    return shutil.which("redis-server") or server_binary()


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for ``localhost``/127.0.0.1 signed by it (PEM files)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ILS test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alt = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(alt, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = (
        directory / "ca.pem",
        directory / "cert.pem",
        directory / "key.pem",
    )
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


def _config(directory: Path, port: int, admin: str, passwords: dict[acl.Role, str], prefix: str,
            tls: tuple[Path, Path, Path] | None) -> Path:  # fmt: skip
    lines = [
        "bind 127.0.0.1",
        f"dir {directory}",
        'save ""',
        "appendonly no",
        "maxmemory-policy noeviction",
        f"requirepass {admin}",
    ]
    if tls is None:
        lines.append(f"port {port}")
    else:
        ca_file, cert_file, key_file = tls
        lines += [
            "port 0",
            f"tls-port {port}",
            f"tls-cert-file {cert_file}",
            f"tls-key-file {key_file}",
            f"tls-ca-cert-file {ca_file}",
            "tls-auth-clients no",
        ]
    for role, user in USERS.items():
        lines.append(f"user {user} on >{passwords[role]} {acl.rules(role, prefix)}")
    path = directory / "redis.conf"
    path.touch(mode=0o600)
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def acl_server(directory: Path, prefix: str, tls: bool = False) -> Iterator[AclServer]:
    """Run a server with the roles' users for ``prefix`` until the block ends."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    admin = secrets.token_urlsafe(18)
    passwords: dict[acl.Role, str] = {role: secrets.token_urlsafe(18) for role in USERS}
    certs = _certificates(directory) if tls else None
    conf = _config(directory, port, admin, passwords, prefix, certs)
    log = directory / "server.log"
    process = subprocess.Popen(
        [binary(), str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    server = AclServer(port, admin, passwords, certs[0] if certs else None)
    try:
        _wait_ready(server, process, log)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=START_TIMEOUT_S)


def _copy_output(process: subprocess.Popen[bytes], log: Path, said: list[bool],
                 done: threading.Event) -> None:  # fmt: skip
    """Copy the server's output to ``log``; ``done`` at its "ready" line (``said`` then holds
    True) or at the end of its output."""
    assert process.stdout is not None
    with log.open("wb") as out:
        for line in process.stdout:
            out.write(line)
            out.flush()
            if READY_LINE in line:
                said.append(True)
                done.set()
    done.set()


def _wait_ready(server: AclServer, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait for the server's own "ready" line (or the end of its output), then check it
    answers; an exit at start raises, :class:`TlsUnsupported` for a build without TLS."""
    said: list[bool] = []
    done = threading.Event()
    copier = threading.Thread(target=_copy_output, args=(process, log, said, done), daemon=True)
    copier.start()
    if not done.wait(START_TIMEOUT_S):
        raise TimeoutError(f"redis-server did not say it was ready:\n{log.read_text()}")
    if not said:
        process.wait(timeout=START_TIMEOUT_S)
        copier.join(timeout=START_TIMEOUT_S)
        text = log.read_text(errors="replace")
        if "TLS support" in text or "connection type tls" in text:
            raise TlsUnsupported(text.strip().splitlines()[-1])
        raise RuntimeError(f"redis-server exited at start:\n{text}")
    client = server.admin()
    try:
        assert client.ping()
    finally:
        client.close()
