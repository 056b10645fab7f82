"""A wheel built from the repository installs and works in a clean virtual environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kw)


def test_wheel_installs_and_runs_in_clean_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    r = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)])
    assert r.returncode == 0, r.stderr
    wheels = list(dist.glob("consentscope-*.whl"))
    assert len(wheels) == 1

    venv = tmp_path / "venv"
    r = run([sys.executable, "-m", "venv", str(venv)])
    assert r.returncode == 0, r.stderr
    bindir = venv / "bin"
    r = run([str(bindir / "python"), "-m", "pip", "install", "-q", str(wheels[0])])
    assert r.returncode == 0, r.stderr

    r = run([str(bindir / "consentscope"), "--help"])
    assert r.returncode == 0 and "replay" in r.stdout

    # Only one top-level name lands in site-packages.
    r = run([str(bindir / "python"), "-c", "import consentscope, sysconfig; print(sysconfig.get_paths()['purelib'])"])
    site = Path(r.stdout.strip())
    for generic in ("detectors", "addons", "tracker_db", "reports"):
        assert not (site / generic).exists(), f"generic top-level package {generic} installed"
    # mypyc's shared library lands inside the package too, and the detection core is compiled
    assert not list(site.glob("*__mypyc*")), "mypyc's shared library at the top level"
    if os.environ.get("CONSENTSCOPE_PURE", "") in ("", "0"):
        assert list((site / "consentscope").glob("_native__mypyc*.so"))
        r = run([str(bindir / "consentscope"), "--version"])
        assert "(detection core compiled)" in r.stdout, r.stdout + r.stderr
    addon = site / "consentscope" / "addons" / "consentscope.py"
    assert addon.is_file()
    assert (site / "consentscope" / "reports" / "templates" / "report.html.j2").is_file()
    assert list((site / "consentscope" / "tracker_db").glob("*.csv")), "tracker data missing from wheel"

    # The installed package replays the demo capture from a directory outside the repo.
    work = tmp_path / "work"
    work.mkdir()
    r = run(
        [
            str(bindir / "consentscope"), "replay", str(ROOT / "captures" / "demo_session.mitm"),
            "--profile", str(ROOT / "captures" / "demo_profile.toml"), "--consent-marker", "/v1/privacy/consent",
            "--json", "out.json", "--db", "", "-q",
        ],
        cwd=work,
    )
    assert r.returncode == 0, r.stderr
    assert (work / "out.json").stat().st_size > 1000

    # The addon loads into a real mitmdump from the installed wheel.
    env = {**os.environ, "HOME": str(tmp_path)}
    r = run(
        [
            str(bindir / "mitmdump"), "-n", "-s", str(addon),
            "--set", f"consentscope_profile={ROOT / 'captures' / 'demo_profile.toml'}",
            "-r", str(ROOT / "captures" / "demo_session.mitm"),
        ],
        env=env,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "consentscope: watching for" in r.stdout + r.stderr
    shutil.rmtree(venv)
