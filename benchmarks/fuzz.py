"""``make fuzz``: a long coverage-guided run over every door a capture comes in by.

Targets (``tests/regressions/harness.py``): flow files, HAR, pcap, pcapng and their
gzip/xz/zstd containers through ``read_capture``, ``decode_request``, and HTTPDNS response
decoding. Seeds: the demo capture, the readers' fuzz seeds, and ``../shared/captures-public``
when present (files cut to ``MAX_LEN``). Engine: atheris (libFuzzer, coverage-guided) when it
imports, else hypothesis with ``CONSENTSCOPE_FUZZ_EXAMPLES`` examples (``--engine`` forces
one). Every input that breaks the invariant is saved under ``build/fuzz/crashes/`` with its
traceback; copy it to ``tests/regressions/`` (``<name>.bin``) and ``test_regressions``
replays it in every ``make test``.

    make fuzz FUZZ_SECONDS=600
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib
import lzma
import os
import pkgutil
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "captures-public"
OUT = ROOT / "build" / "fuzz"
MAX_LEN = 64 * 1024

sys.path.insert(0, str(ROOT))

crashes: dict[str, str] = {}
executed = 0


def seeds() -> list[bytes]:
    """Target byte + bytes, for every seed."""
    import zstandard

    from tests.readers.test_fuzz import har_seed, pcap_seed, pcapng_seed
    from tests.regressions import harness

    files: list[bytes] = [(ROOT / "captures" / "demo_session.mitm").read_bytes()[:MAX_LEN]]
    if SHARED.is_dir():
        for p in sorted(SHARED.rglob("*")):
            if p.is_file() and p.suffix in (".mitm", ".har", ".zhar", ".pcap", ".pcapng"):
                files.append(p.read_bytes()[:MAX_LEN])
    files += [pcap_seed(), pcapng_seed(), har_seed()]
    out: list[bytes] = []
    for data in files:
        out.append(bytes([harness.CAPTURE]) + data)
        if data[:1].isdigit():
            out.append(bytes([harness.FLOW]) + data)
    for data in files[:1] + files[-3:]:
        for pack in (lambda b: gzip.compress(b, mtime=0), lzma.compress, zstandard.ZstdCompressor().compress):
            out.append(bytes([harness.CAPTURE]) + pack(data))
    body = b'{"imei":"861234567890127","ids":[1,2,3],"b":"eyJhIjoxfQ=="}'
    out.append(bytes([harness.DECODE, 1, 0]) + b"imei=861234567890127\n" + gzip.compress(body, mtime=0))
    out.append(bytes([harness.DECODE, 0, 1]) + b"a=1\n" + b"x=" + body.hex().encode())
    out.append(bytes([harness.DECODE, 4, 2]) + b"\n" + zstandard.ZstdCompressor().compress(b"\x0a\x05hello" * 20))
    answer = b'{"host":"a.example.net","ips":["203.0.113.7"],"ttl":60}'
    out.append(bytes([harness.HTTPDNS, 1]) + gzip.compress(answer, mtime=0))
    out.append(bytes([harness.HTTPDNS, 0]) + answer)
    return out


def one(data: bytes) -> None:
    global executed
    from tests.regressions import harness

    executed += 1
    try:
        harness.check(data)
    except Exception:
        key = hashlib.sha256(data).hexdigest()[:16]
        if key not in crashes:
            crashes[key] = traceback.format_exc()
            (OUT / "crashes").mkdir(parents=True, exist_ok=True)
            (OUT / "crashes" / f"{key}.bin").write_bytes(data)
            (OUT / "crashes" / f"{key}.txt").write_text(crashes[key])
            print(f"\n=== crash {key} ===\n{crashes[key]}", file=sys.stderr, flush=True)


def run_atheris(seconds: int) -> None:
    import atheris

    with atheris.instrument_imports(include=["consentscope", "mitmproxy.io", "dpkt", "tests.regressions"]):
        import consentscope.detectors
        import consentscope.readers

        # the readers import their layers lazily: import every module now, instrumented
        for package in (consentscope.readers, consentscope.detectors):
            for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
                importlib.import_module(info.name)
        from tests.regressions import harness  # noqa: F401 - imported instrumented
    seed_dir, corpus = OUT / "seeds", OUT / "corpus"
    seed_dir.mkdir(parents=True, exist_ok=True)
    corpus.mkdir(parents=True, exist_ok=True)
    for s in seeds():
        (seed_dir / hashlib.sha256(s).hexdigest()[:16]).write_bytes(s)
    args = [sys.argv[0], str(corpus), str(seed_dir), f"-max_total_time={seconds}", f"-max_len={MAX_LEN + 1}",
            "-rss_limit_mb=2048", "-timeout=60", "-print_final_stats=1", f"-artifact_prefix={OUT}/"]
    atheris.Setup(args, one)
    atheris.Fuzz()  # libFuzzer ends the process; its final stats give the number of inputs


def run_hypothesis(examples: int, seconds: int) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.readers.test_fuzz import mutated

    pool = seeds()
    stop = time.monotonic() + seconds

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(pool), st.data())
    def fuzz(seed: bytes, data: st.DataObject) -> None:
        if time.monotonic() < stop:
            one(bytes([seed[0]]) + data.draw(mutated(seed[1:])))

    fuzz()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "600")))
    ap.add_argument("--engine", choices=["auto", "atheris", "hypothesis"], default="auto")
    args, _ = ap.parse_known_args()
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
            engine = "atheris"
        except ImportError:
            engine = "hypothesis"
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print(f"fuzzing with {engine} for up to {args.seconds} s", file=sys.stderr, flush=True)
    try:
        if engine == "atheris":
            sys.argv = sys.argv[:1]
            run_atheris(args.seconds)
        else:
            run_hypothesis(int(os.environ.get("CONSENTSCOPE_FUZZ_EXAMPLES", "200000")), args.seconds)
    finally:
        from tests.regressions import harness

        harness.cleanup()
        print(f"\nfuzz: {executed} inputs in {time.monotonic() - started:.0f} s, {len(crashes)} distinct crashes"
              f"{' saved in ' + str(OUT / 'crashes') if crashes else ''}", file=sys.stderr, flush=True)
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
