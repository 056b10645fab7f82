"""The detection core compiled by mypyc (``setup.py``) and interpreted: the same findings.

The rest of the suite runs on what ``make`` built: the compiled modules. Here the reference
corpora are scanned again by the interpreted sources, in a process that cannot load an
extension module, and both must give the digests of ``scan_equivalence.json``."""

from __future__ import annotations

import os
import os.path
import subprocess
import sys
import time
from pathlib import Path

import pytest

from consentscope import detectors
from consentscope.detectors import _fresh, _scan
from consentscope.readers import _tnetstring

ROOT = Path(__file__).resolve().parents[2]
PURE = os.environ.get("CONSENTSCOPE_PURE", "") not in ("", "0")

#: Python that imports every detector from its source, never from its compiled module
NO_EXTENSIONS = """
import importlib.util, pathlib, sys
class Sources:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.startswith(("consentscope.detectors.", "consentscope.readers.")):
            for folder in path or ():
                source = pathlib.Path(folder) / (name.rpartition(".")[2] + ".py")
                if source.is_file():
                    return importlib.util.spec_from_file_location(name, source)
        return None
sys.meta_path.insert(0, Sources)
"""
INTERPRETED = NO_EXTENSIONS + """
sys.path.insert(0, sys.argv[1])
import equivalence
from consentscope import detectors
from consentscope.detectors import _scan
assert not detectors.COMPILED and _scan.__file__.endswith(".py"), _scan.__file__
print(equivalence.differing(equivalence.scan_all()))
"""


@pytest.mark.skipif(PURE, reason="CONSENTSCOPE_PURE is set: the detectors were installed interpreted")
def test_the_installed_detection_core_is_compiled() -> None:
    """A build that silently fell back to the interpreted modules would pass every other
    test, only slower: this one says so."""
    assert detectors.COMPILED
    for module in (_scan, _tnetstring):
        assert not (module.__file__ or "").endswith(".py"), module.__file__
    assert "(detection core compiled)" in subprocess.run(
        [sys.executable, "-m", "consentscope", "--version"], capture_output=True, text=True, timeout=60, check=True
    ).stdout


def test_the_interpreted_sources_give_the_same_findings() -> None:
    r = subprocess.run([sys.executable, "-c", INTERPRETED, str(ROOT / "benchmarks")],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "{'sdk': [], 'sdk+patterns': [], 'typical': []}"


def test_the_tests_that_patch_internals_pass_interpreted() -> None:
    """The ``interpreted`` tests (``tests/conftest.py`` skips them here when compiled)."""
    code = NO_EXTENSIONS + "import pytest; sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-m', 'interpreted', 'tests']))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert " passed" in r.stdout and " skipped" not in r.stdout, r.stdout[-2000:]


def test_a_compiled_module_older_than_its_source_is_refused(tmp_path: Path) -> None:
    pkg = tmp_path / "detectors"
    pkg.mkdir()
    built = pkg / "_scan.cpython-311-x86_64-linux-gnu.so"
    source = pkg / "_scan.py"
    readers = tmp_path / "consentscope" / "readers"
    readers.mkdir(parents=True)
    for f in (built, source, pkg / "_other.py", readers / "flowfile.py"):
        f.write_bytes(b"")
    now = time.time()
    os.utime(built, (now - 10, now - 10))
    assert _fresh.stale(pkg) == []  # not a source checkout: installed files are what was built
    (tmp_path / "setup.py").write_text("")
    assert _fresh.stale(pkg) == ["detectors/_scan.py"]
    os.utime(built, (now + 10, now + 10))  # built again after the change
    assert _fresh.stale(pkg) == []
    (readers / "flowfile.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    os.utime(readers / "flowfile.py", (now + 20, now + 20))
    assert _fresh.stale(pkg) == ["consentscope/readers/flowfile.py"]


def test_this_checkout_has_no_stale_compiled_module() -> None:
    assert _fresh.stale(Path(_fresh.__file__).parent) == []
