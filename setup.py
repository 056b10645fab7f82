"""The detection core (``detectors/``) compiled to C by mypyc; everything else as in pyproject.toml.

Detection is Python glue over C passes (the automaton, simdjson, zlib): per request, per
pair, per blob. Compiled, the same code scans ~1.3x as many requests a second (``make
bench``; the same findings, ``tests/detectors/test_compiled.py``). The build is optional:

* ``CONSENTSCOPE_PURE=1`` (or no C compiler, or no mypyc) installs the interpreted modules
  only, which give the same findings;
* ``python -m consentscope --version`` says which one runs.

mypyc names a module by its file's place under the packages above it, and the sources live
in ``detectors/``, installed as ``consentscope.detectors``: they are copied into
``build/mypyc-src/consentscope/detectors/`` and compiled from there. The extension modules
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
#: (``_deferred``); none of them is on a request's path
INTERPRETED = frozenset({"__init__.py", "_fresh.py", "_expand.py", "_jsonnum.py", "_deferred.py"})


def compiled_detectors() -> list:
    if os.environ.get("CONSENTSCOPE_PURE", "") not in ("", "0"):
        for old in (ROOT / "detectors").glob("*.so"):  # an earlier compiled build's, in place
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
    (stage / "consentscope" / "detectors").mkdir(parents=True)
    (stage / "consentscope" / "__init__.py").write_text("")
    sources = sorted((ROOT / "detectors").glob("*.py"))
    for src in sources:
        shutil.copyfile(src, stage / "consentscope" / "detectors" / src.name)
    paths = [str(stage / "consentscope" / "detectors" / s.name) for s in sources if s.name not in INTERPRETED]
    # one shared library, named inside the package (not a hash at the top of site-packages)
    return mypycify(
        ["--config-file", str(ROOT / "pyproject.toml"), *paths],
        opt_level="3",
        separate=[(paths, "consentscope.detectors._native")],
        target_dir=str(ROOT / "build" / "mypyc"),
    )


class BuildExt(build_ext):
    """Stamps every module it built, rebuilt or not: mypyc rewrites only the C that changed,
    so a module whose source changed in a comment alone keeps its old file, and the check
    for stale modules (``detectors/__init__.py``) compares these times with the sources'."""

    def run(self) -> None:
        super().run()
        for ext in self.extensions:
            path = Path(self.get_ext_fullpath(ext.name))
            if path.is_file():
                path.touch()


setup(ext_modules=compiled_detectors(), cmdclass={"build_ext": BuildExt})
