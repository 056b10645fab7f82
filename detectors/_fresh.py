"""In a source checkout, refuse compiled modules older than their sources.

``pip install -e .`` compiles ``detectors/`` and the flow-file reader in place (``setup.py``;
every flow-file reader imports this package first), and Python imports a
compiled module before its source: after an edit, the code from before it would run,
silently. Imported first by the package (and left interpreted itself)."""

from __future__ import annotations

from pathlib import Path


def stale(here: Path) -> list[str]:
    """The sources in ``here`` (``detectors/``) and in ``consentscope/readers/`` beside it
    changed since their compiled module was built."""
    if not (here.parent / "setup.py").is_file():  # installed: built from the sources beside it
        return []
    out = []
    for folder in (here, here.parent / "consentscope" / "readers"):
        for built in folder.glob("*.so"):
            source = folder / (built.name.partition(".")[0] + ".py")
            if source.is_file() and source.stat().st_mtime > built.stat().st_mtime:
                out.append(str(source.relative_to(here.parent)))
    return sorted(out)


if _stale := stale(Path(__file__).parent):
    raise ImportError(
        f"{', '.join(_stale)} changed since compiled: `make venv` (or `pip install -e .`) rebuilds "
        f"them; deleting the *.so beside them runs them interpreted ({Path(__file__).parent.parent})"
    )
