"""In a source checkout, refuse compiled modules older than their sources.

``pip install -e .`` compiles ``detectors/`` in place (``setup.py``), and Python imports a
compiled module before its source: after an edit, the code from before it would run,
silently. Imported first by the package (and left interpreted itself)."""

from __future__ import annotations

from pathlib import Path


def stale(here: Path) -> list[str]:
    """The sources in ``here`` changed since their compiled module was built."""
    if not (here.parent / "setup.py").is_file():  # installed: built from the sources beside it
        return []
    out = []
    for built in here.glob("*.so"):
        source = here / (built.name.partition(".")[0] + ".py")
        if source.is_file() and source.stat().st_mtime > built.stat().st_mtime:
            out.append(source.name)
    return sorted(out)


if _stale := stale(Path(__file__).parent):
    raise ImportError(
        f"{Path(__file__).parent}: {', '.join(_stale)} changed since compiled: `make venv` (or "
        "`pip install -e .`) rebuilds them; deleting detectors/*.so runs them interpreted"
    )
