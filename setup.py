"""The detection core (``detectors/``) and the flow-file reader's tnetstring walk compiled to C by mypyc;
everything else as in pyproject.toml.

Detection is Python glue over C passes (the automaton, simdjson, zlib): per request, per
pair, per blob. Compiled, the same code scans ~1.4-1.5x as many requests a second (``make
bench``; the same findings, ``tests/detectors/test_compiled.py``). The build is optional:

* ``CONSENTSCOPE_PURE=1`` (or no C compiler, or no mypyc) installs the interpreted modules
  only, which give the same findings;
* ``python -m consentscope --version`` says which one runs.

mypyc names a module by its file's place under the packages above it, and ``detectors/``
installs as ``consentscope.detectors``: the package is copied in its installed shape into
``build/mypyc-src/consentscope/`` and compiled from there. The extension modules
install beside the sources (an editable install builds them in place: ``make`` rebuilds
them when a source changes, and the tests refuse a stale one).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
#: left interpreted: profile compilation (``_expand``: objects made by changing ``__class__``),
#: the ``str`` subclass of JSON numbers (``_jsonnum``), the lazy scanner's ``__getattr__``
#: (``_deferred``), the stale-module check (``_fresh``) and the package's ``__init__``; none
#: of them is on a request's path
INTERPRETED = frozenset({"__init__.py", "_fresh.py", "_expand.py", "_jsonnum.py", "_deferred.py"})
#: the flow-file reader's tnetstring walk (positions and lengths: native ints once compiled;
#: the reader alone 1.5x). Not ``flowfile.py``: it reads mitmproxy's objects, whose declared
#: types compiled code enforces, and they do not always hold (a migrated flow's WebSocket
#: message content is text where ``bytes`` is declared).
READERS = ("_tnetstring.py",)
#: where an in-place build puts modules: what a pure build removes
BUILT_IN_PLACE = ("detectors", "consentscope", "consentscope/readers")
#: the installed shape: package -> source folder
LAYOUT = {
    "consentscope": "consentscope", "consentscope/detectors": "detectors", "consentscope/tracker_db": "tracker_db",
    "consentscope/reports": "reports", "consentscope/addons": "addons",
}


def compiled_detectors() -> list:
    if os.environ.get("CONSENTSCOPE_PURE", "") not in ("", "0"):
        for folder in BUILT_IN_PLACE:  # an earlier compiled build's modules, in place
            for old in (ROOT / folder).glob("*.so"):
                old.unlink()
        return []
    if shutil.which(os.environ.get("CC", "cc")) is None:
        print("consentscope: no C compiler; the detectors stay interpreted (same findings, slower)", file=sys.stderr)
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("consentscope: mypyc is missing; the detectors stay interpreted", file=sys.stderr)
        return []
    stage = ROOT / "build" / "mypyc-src"
    shutil.rmtree(stage, ignore_errors=True)
    for package, folder in LAYOUT.items():  # every module, for the types the compiled ones use
        for src in (ROOT / folder).rglob("*.py"):
            dest = stage / package / src.relative_to(ROOT / folder)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
    detectors = sorted(p.name for p in (ROOT / "detectors").glob("*.py") if p.name not in INTERPRETED)
    paths = [str(stage / "consentscope" / "detectors" / name) for name in detectors]
    paths += [str(stage / "consentscope" / "readers" / name) for name in READERS]
    # one shared library, named inside the package (not a hash at the top of site-packages)
    return mypycify(
        ["--config-file", str(ROOT / "pyproject.toml"), *paths],
        opt_level="3",
        separate=[(paths, "consentscope._native")],
        target_dir=str(ROOT / "build" / "mypyc"),
    )


class BuildExt(build_ext):
    """Stamps every module it built, rebuilt or not: mypyc rewrites only the C that changed,
    so a module whose source changed in a comment alone keeps its old file, and the check
    for stale modules (``detectors/_fresh.py``) compares these times with the sources'."""

    def run(self) -> None:
        super().run()
        for ext in self.extensions:
            path = Path(self.get_ext_fullpath(ext.name))
            if path.is_file():
                path.touch()


setup(ext_modules=compiled_detectors(), cmdclass={"build_ext": BuildExt})
