"""HTTPS inside packet captures, decrypted with the TLS secrets (issue 12): real TLS server and
real curl on loopback, captured with tcpdump; the key log given with --keylog or inside the
pcapng (editcap --inject-secrets, before or after the packets). The findings equal those of
the same requests through ``mitmdump -w``; connections that cannot be decrypted say why."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.readers.tlsfixtures import HOST, TlsServer, make_cert
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
IMEI = "861234567890127"
ANDROID_ID = "9774d56d682e549c"

#: (curl options, method, path, body): HTTP/1.1 and HTTP/2, TLS 1.3 and TLS 1.2 with GCM and ChaCha20
REQUESTS = [
    (["--http1.1", "--tlsv1.3"], "POST", "/v1/log", f'{{"imei":"{IMEI}"}}'),
    (["--http2", "--tlsv1.3", "--tls13-ciphers", "TLS_CHACHA20_POLY1305_SHA256"], "GET", f"/v1/cfg?imei={IMEI}", ""),
    (["--http1.1", "--tlsv1.2", "--tls-max", "1.2", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"], "POST", "/v1/form",
     f"a=1&android_id={ANDROID_ID}"),
    (["--http2", "--tlsv1.2", "--tls-max", "1.2", "--ciphers", "ECDHE-RSA-CHACHA20-POLY1305"], "POST", "/v1/h2",
     f'{{"aid":"{ANDROID_ID}"}}'),
]


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (make test installs it on Debian)")
    return path


def curl_args(port: int, opts: list[str], method: str, path: str, body: str, proxy: int | None = None) -> list[str]:
    args = ["curl", "-sS", "-k", "--max-time", "20", *opts, "-X", method, "-o", "/dev/null"]
    if body:
        ctype = "application/json" if body.startswith("{") else "application/x-www-form-urlencoded"
        args += ["-H", f"Content-Type: {ctype}", "--data-binary", body]
    if proxy is None:
        args += ["--resolve", f"{HOST}:{port}:127.0.0.1"]
    else:
        args += ["--proxy", f"http://127.0.0.1:{proxy}"]
    return [*args, f"https://{HOST}:{port}{path}"]


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need("curl")
    tcpdump = need("tcpdump")
    tmp = tmp_path_factory.mktemp("tlspcap")
    cert, key = make_cert(tmp)
    server = TlsServer(cert, key)
    pcap, keylog = tmp / "tls.pcap", tmp / "keys.log"
    dump = subprocess.Popen([tcpdump, "-i", "lo", "-U", "-s", "0", "-w", str(pcap), f"tcp port {server.port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = dump.stderr.readline() if dump.stderr else ""
    if "listening" not in line:
        dump.kill()
        server.close()
        pytest.skip(f"tcpdump cannot capture here: {line.strip()}")
    try:
        for opts, method, path, body in REQUESTS:
            r = subprocess.run(curl_args(server.port, opts, method, path, body),
                               env=dict(os.environ, SSLKEYLOGFILE=str(keylog)), capture_output=True, text=True,
                               timeout=60)
            assert r.returncode == 0, r.stderr
        wait_for(lambda: pcap.stat().st_size > 0 and pcap.read_bytes().count(b"\x16\x03") >= 8,
                 "the handshakes in the capture")
        # every connection's FIN is in the file before tcpdump stops
        wait_for(lambda: len(server.log.requests) == len(REQUESTS), "the server to see every request")
    finally:
        dump.send_signal(signal.SIGINT)
        dump.wait(20)
    # the same requests through mitmdump -w, for the parity check
    flows = tmp / "flows.mitm"
    from tests.addons.conftest import free_port

    port = free_port()
    proxy = subprocess.Popen(
        [str(Path(sys.executable).parent / "mitmdump"), "-q", "--listen-host", "127.0.0.1", "--listen-port", str(port),
         "-w", str(flows), "--set", f"confdir={tmp / 'conf'}", "--set", "ssl_insecure=true",
         "-s", str(ROOT / "tests" / "addons" / "route_to_local.py")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(tmp), "CONSENTSCOPE_TEST_UPSTREAM": f"127.0.0.1:{server.port}"},
    )
    try:
        from tests.readers.tlsfixtures import wait_port

        wait_port(port, timeout=30)
        for opts, method, path, body in REQUESTS:
            r = subprocess.run(curl_args(server.port, opts, method, path, body, proxy=port), capture_output=True,
                               text=True, timeout=60)
            assert r.returncode == 0, r.stderr
    finally:
        proxy.send_signal(signal.SIGINT)
        proxy.wait(30)
        server.close()
    profile = tmp / "p.toml"
    profile.write_text(f'[device]\nimei = "{IMEI}"\nandroid_id = "{ANDROID_ID}"\n')
    return {"pcap": pcap, "keylog": keylog, "flows": flows, "profile": profile, "tmp": tmp}


def replay(c: dict[str, Path], capture: Path, *extra: str) -> dict:
    out = c["tmp"] / f"{capture.name}-{len(extra)}.json"
    r = subprocess.run([sys.executable, "-m", "consentscope", "replay", str(capture), "--profile", str(c["profile"]),
                        "--db", "", "--json", str(out), "-q", *extra], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(out.read_text())


def keyed(doc: dict) -> list[tuple]:
    return sorted((f["method"], f["url"].split("://", 1)[1].split("/", 1)[1], f["data_type"], tuple(f["encoding"]),
                   f["location"]) for f in doc["findings"])


def test_a_keylog_decrypts_every_connection_to_the_proxys_findings(captured: dict[str, Path]) -> None:
    doc = replay(captured, captured["pcap"], "--keylog", str(captured["keylog"]))
    tls = [c for c in doc["contacts"] if c["via"] == "tls-sni"]
    assert len(tls) == len(REQUESTS) and all(c["decrypted"] is True and c["reason"] is None for c in tls)
    assert {c["host"] for c in tls} == {HOST}
    got = keyed(doc)
    assert {(m, p.split("?")[0], t) for m, p, t, _, _ in got} == {
        ("POST", "v1/log", "imei"), ("GET", "v1/cfg", "imei"), ("POST", "v1/form", "android_id"),
        ("POST", "v1/h2", "android_id")}
    assert all(f["source"] == "pcap" for f in doc["findings"])
    through_proxy = replay(captured, captured["flows"])
    assert got == keyed(through_proxy)  # the same findings as through mitmproxy
    assert doc["coverage"]["unread_connections"] == 0


def test_without_the_keys_each_connection_says_why(captured: dict[str, Path], tmp_path: Path) -> None:
    doc = replay(captured, captured["pcap"])
    tls = [c for c in doc["contacts"] if c["via"] == "tls-sni"]
    assert tls and all((c["decrypted"], c["reason"]) == (False, "no-key") for c in tls)
    assert doc["findings"] == [] and doc["coverage"]["unread_connections"] == len(tls)
    # a wrong secret for every connection: authentication fails, the reason says so
    wrong = tmp_path / "wrong.log"
    lines = captured["keylog"].read_text().splitlines()
    wrong.write_text("\n".join(" ".join([*ln.split()[:2], "00" * (len(ln.split()[2]) // 2)])
                               for ln in lines if len(ln.split()) == 3) + "\n")
    doc = replay(captured, captured["pcap"], "--keylog", str(wrong))
    assert {c["reason"] for c in doc["contacts"] if c["via"] == "tls-sni"} == {"bad-record"}
    # a key log with half the connections: the others still decrypt
    half = tmp_path / "half.log"
    randoms = sorted({ln.split()[1] for ln in lines if len(ln.split()) == 3})
    keep = set(randoms[: len(randoms) // 2])
    half.write_text("\n".join(ln for ln in lines if len(ln.split()) == 3 and ln.split()[1] in keep) + "\nGARBAGE\n")
    doc = replay(captured, captured["pcap"], "--keylog", str(half))
    states = [c["decrypted"] for c in doc["contacts"] if c["via"] == "tls-sni"]
    assert True in states and False in states and doc["findings"]


@pytest.mark.parametrize("where", ["before", "after"])
def test_secrets_inside_the_pcapng(captured: dict[str, Path], tmp_path: Path, where: str) -> None:
    editcap = need("editcap")
    ng = tmp_path / "with-secrets.pcapng"
    r = subprocess.run([editcap, "--inject-secrets", f"tls,{captured['keylog']}", str(captured["pcap"]), str(ng)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    if where == "after":  # PCAPdroid may write its secrets after the packets: move the DSB to the end
        data = ng.read_bytes()
        shb_len = int.from_bytes(data[4:8], "little")
        pos, blocks = shb_len, []
        while pos + 8 <= len(data):
            n = int.from_bytes(data[pos + 4: pos + 8], "little")
            blocks.append(data[pos: pos + n])
            pos += n
        dsb = [b for b in blocks if b[:4] == (10).to_bytes(4, "little")]
        rest = [b for b in blocks if b[:4] != (10).to_bytes(4, "little")]
        assert dsb
        ng.write_bytes(data[:shb_len] + b"".join(rest) + b"".join(dsb))
    doc = replay(captured, ng)
    tls = [c for c in doc["contacts"] if c["via"] == "tls-sni"]
    assert tls and all(c["decrypted"] for c in tls)
    assert keyed(doc) == keyed(replay(captured, captured["pcap"], "--keylog", str(captured["keylog"])))


def test_tshark_decrypts_the_same_requests(captured: dict[str, Path]) -> None:
    tshark = need("tshark")
    r = subprocess.run([tshark, "-r", str(captured["pcap"]), "-o", f"tls.keylog_file:{captured['keylog']}",
                        "-Y", "http.request or http2.headers.method", "-T", "fields", "-e", "http.request.method",
                        "-e", "http.request.uri", "-e", "http2.headers.method", "-e", "http2.headers.path"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    oracle = set()
    for line in r.stdout.splitlines():
        fields = [f for f in line.split("\t") if f]
        if len(fields) >= 2:
            oracle.add((fields[0], fields[1]))
    doc = replay(captured, captured["pcap"], "--keylog", str(captured["keylog"]))
    ours = {(method, path) for _, method, path, _ in REQUESTS}
    assert ours <= oracle, (ours, oracle)
    assert {(f["method"], "/" + f["url"].split("://", 1)[1].split("/", 1)[1]) for f in doc["findings"]} <= oracle
