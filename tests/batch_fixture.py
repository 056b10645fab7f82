"""A batch input folder: flow files, HAR and pcap, a sidecar, a manifest, a corrupt capture,
a capture whose profile is missing; and what ``replay`` needs to audit each of them alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests import batchkit as kit

ACCEPT = '[[accept]]\nsdk = "Tencent Bugly"\nreason = "crash reports only; entrusted processing"\n'


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "consentscope", *args], capture_output=True, text=True,
                          timeout=timeout)


@dataclass
class Batch:
    root: Path
    inputs: list[str]
    args: list[str]  # command-line defaults for `audit`
    #: capture path (as the summary shows it) -> replay arguments giving the same session alone
    replay: dict[str, list[str]] = field(default_factory=dict)
    corrupt: str = ""
    missing_profile: str = ""


def make_batch(root: Path, sessions: int = 2) -> Batch:
    """``sessions`` generated sessions, each as flow file, HAR and pcap, in a folder tree;
    one flow file with a sidecar (another profile, a project file, a consent time); a manifest
    with a timeline and a refusal marker; a corrupt capture; a row whose profile is missing."""
    inp = root / "in"
    (inp / "har").mkdir(parents=True)
    (inp / "pcap").mkdir()
    extra = root / "extra"
    extra.mkdir()
    profile = kit.write_profile(root / "profile.toml")
    other = kit.write_profile(root / "other.toml", package="com.example.other")
    defaults = ["--profile", str(profile), "--consent-marker", kit.CONSENT_MARKER]
    b = Batch(root, [str(inp), str(extra / "manifest.csv")], defaults)
    for i in range(sessions):
        recs = kit.session_records(seed=10 + i)
        for path in (kit.write_flows(recs, inp / f"app{i}.mitm"), kit.write_har(recs, inp / "har" / f"app{i}.har"),
                     kit.write_pcap(recs, inp / "pcap" / f"app{i}.pcap")):
            b.replay[os.path.normpath(str(path))] = ["--profile", str(profile), "--consent-marker", kit.CONSENT_MARKER]
    # a sidecar: another profile (another app), a project file, a fixed consent time
    side = kit.write_flows(kit.session_records(seed=30), inp / "sidecar.mitm")
    (inp / "sidecar.mitm.toml").write_text(
        f'[audit]\nprofile = "../other.toml"\nconsent_at = "2026-03-02T10:00:07Z"\nlabel = "with sidecar"\n{ACCEPT}')
    project = root / "project.toml"
    project.write_text(ACCEPT)
    b.replay[str(side)] = ["--profile", str(other), "--consent-at", "2026-03-02T10:00:07Z", "--suppressions",
                           str(project)]
    # a corrupt capture, found in the folder
    corrupt = inp / "broken.mitm"
    corrupt.write_bytes(b"this is not a capture\n" * 4)
    b.corrupt = str(corrupt)
    # the manifest: paths relative to it; a timeline; a refusal marker; a missing profile
    m1 = kit.write_flows(kit.session_records(seed=40), extra / "m1.mitm")
    m2 = kit.write_har(kit.session_records(seed=41), extra / "m2.har")
    timeline = extra / "m2.timeline.csv"
    timeline.write_text("time,event,detail\n2026-03-02T10:00:01Z,app-start,\n2026-03-02T10:00:02Z,policy-shown,\n")
    m3 = kit.write_flows(kit.session_records(seed=42), extra / "m3.mitm")
    (extra / "manifest.csv").write_text(
        "capture,profile,label,app_package,consent_marker,refusal_marker,timeline,suppressions\n"
        f"m1.mitm,../profile.toml,first,,{kit.CONSENT_MARKER},/nothing-matches,,\n"
        f"m2.har,../other.toml,,,{kit.CONSENT_MARKER},,m2.timeline.csv,../project.toml\n"
        "m3.mitm,../no-such-profile.toml,,,,,,\n")
    b.replay[str(m1)] = ["--profile", str(profile), "--consent-marker", kit.CONSENT_MARKER, "--refusal-marker",
                         "/nothing-matches"]
    b.replay[str(m2)] = ["--profile", str(other), "--consent-marker", kit.CONSENT_MARKER, "--timeline", str(timeline),
                         "--suppressions", str(project)]
    b.missing_profile = str(m3)
    return b


def audit(b: Batch, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli("audit", *b.inputs, "--out", str(out), *b.args, "-q", *extra)


def load(path: Path) -> dict:
    return json.loads(path.read_text())
