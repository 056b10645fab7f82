"""Stopping `consentscope proxy` as a terminal (Ctrl-C) or a service manager (SIGTERM) does:
the signal goes to the whole process group, the detector process included. The proxy
decides: the queued requests are scanned, the session judged, the summary right."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waiting import wait_for

from .conftest import HERE, Proxy, Upstream, free_port, https_request

pytestmark = pytest.mark.slow

IMEI = "861234567890127"


def start_group(tmp: Path, profile: Path, upstream_port: int) -> Proxy:
    """`consentscope proxy` as the leader of its own process group, as a shell starts it."""
    port = free_port()
    confdir, db, log = tmp / "conf", tmp / "live.db", tmp / "proxy.log"
    env = {**os.environ, "CONSENTSCOPE_TEST_UPSTREAM": f"127.0.0.1:{upstream_port}", "HOME": str(tmp)}
    cmd = [
        sys.executable, "-m", "consentscope", "proxy", "--profile", str(profile), "--db", f"sqlite:///{db}",
        "--session", "stop", "--listen-host", "127.0.0.1", "-p", str(port),  # -p: mitmproxy's port
        "--set", f"confdir={confdir}", "--set", "ssl_insecure=true", "-s", str(HERE / "route_to_local.py"),
    ]
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError("proxy exited:\n" + log.read_text(errors="replace"))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return (confdir / "mitmproxy-ca-cert.pem").exists()
        except OSError:
            return False

    try:
        wait_for(up, "the proxy to listen", timeout=60)
    except AssertionError:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return Proxy(port, proc, confdir, db, log)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consentscope", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_to_the_group_ends_the_session_cleanly(
    tmp_path: Path, profile: Path, upstream: Upstream, sig: signal.Signals
) -> None:
    proxy = start_group(tmp_path, profile, upstream.port)
    pgid = os.getpgid(proxy.proc.pid)
    try:
        assert https_request(proxy, "ulogs.umeng.com", "GET", f"/a?imei={IMEI}") == 200
        wait_for(lambda: "LEAK imei" in proxy.log.read_text(errors="replace"), "the finding in the log")
        os.killpg(pgid, sig)
        proxy.proc.wait(60)
    finally:
        if proxy.proc.poll() is None:
            os.killpg(pgid, signal.SIGKILL)
            proxy.proc.wait()
    log = proxy.log.read_text(errors="replace")
    assert "Traceback" not in log, log
    assert "stopped unexpectedly" not in log, log
    assert "session stop: 1 requests, 1 findings, 0 internal errors" in log, log
    r = cli("sessions", "--db", f"sqlite:///{proxy.db}")
    assert r.returncode == 0, r.stderr
    row = next(line for line in r.stdout.splitlines() if line.startswith("stop\t"))
    assert "not judged yet" not in row and "violations" in row, r.stdout
