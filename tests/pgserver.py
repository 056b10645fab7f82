"""A throw-away PostgreSQL server for tests: ``initdb`` and ``pg_ctl`` in a temporary folder,
on a free loopback port, stopped and removed afterwards.

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` system
user (``runuser``); without such a user or without the binaries, the tests that need a
server skip and say why.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

#: where Debian's postgresql package puts the server binaries (not on PATH), newest first
BIN_DIRS = ("/usr/local/bin", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))


def _binary(name: str) -> str | None:
    for d in BIN_DIRS:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return shutil.which(name)


def unavailable() -> str | None:
    """Why no server can be started here, or None."""
    if _binary("initdb") is None or _binary("pg_ctl") is None:
        return "PostgreSQL binaries (initdb, pg_ctl) not found"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root without runuser to drop to the 'postgres' user"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install consentscope[postgres])"
    return None


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str = "postgres"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host=self.host, port=self.port, user=self.user, dbname="postgres",
                             autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server() -> Iterator[Server]:
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    base = tempfile.mkdtemp(prefix="consentscope-pg-")
    data = os.path.join(base, "data")
    if as_root:
        pw = pwd.getpwnam("postgres")
        os.chown(base, pw.pw_uid, pw.pw_gid)
    port = _free_port()
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120}
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    try:
        try:
            subprocess.run([*prefix, _binary("initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                            "--no-sync"], **run)  # type: ignore[call-overload]
            subprocess.run([*prefix, _binary("pg_ctl"), "-D", data, "-o", opts, "-l", os.path.join(base, "log"),
                            "-w", "-t", "60", "start"], **run)  # type: ignore[call-overload]
        except subprocess.CalledProcessError as e:
            raise RuntimeError(f"PostgreSQL did not start: {' '.join(map(str, e.cmd))}: {e.stderr or e.stdout}") \
                from None
        server = Server("127.0.0.1", port)
        _wait_ready(server)
        yield server
    finally:
        if os.path.isdir(data):
            subprocess.run([*prefix, _binary("pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"], capture_output=True,
                           timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def _wait_ready(server: Server, deadline_s: float = 60) -> None:
    import psycopg

    end = time.monotonic() + deadline_s
    while True:
        try:
            with psycopg.connect(host=server.host, port=server.port, user=server.user, dbname="postgres",
                                 connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)
