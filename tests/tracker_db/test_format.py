"""tracker_db format 2: the version check and the v1 → v2 migration tool."""

from __future__ import annotations

import csv
import importlib.util
import shutil
from pathlib import Path

import pytest

from consentscope.tracker_db import FORMAT_VERSION, DataError, TrackerDB, _rules

PKG = Path(_rules.__file__).parent


def _migrate_module():
    if not (PKG / "tools" / "migrate_v1_to_v2.py").exists():
        pytest.skip("maintainer tools are not installed with the package")
    spec = importlib.util.spec_from_file_location("migrate", PKG / "tools" / "migrate_v1_to_v2.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _v1_tree(tmp_path: Path) -> Path:
    """A copy of the shipped data as format 1 had it: no sdks/companies, fewer columns."""
    base = tmp_path / "tracker_db"
    base.mkdir()
    for name in ("endpoints_cn.csv", "endpoints_global.csv", "infrastructure.csv",
                 "ownership_v2fly.csv"):
        shutil.copy(PKG / name, base / name)
    for name, drop in (("apps.csv", ("company", "app_zh")), ("ownership.csv", ("reason",))):
        with (PKG / name).open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        cols = [c for c in rows[0] if c not in drop]
        with (base / name).open("w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    meta = (PKG / "tracker_db.toml").read_text(encoding="utf-8")
    meta = meta.replace(f"format_version = {FORMAT_VERSION}", "format_version = 1")
    meta = meta.split("\n# Per SDK:")[0] + "\n"
    (base / "tracker_db.toml").write_text(meta, encoding="utf-8")
    return base


def test_shipped_tree_is_current() -> None:
    assert FORMAT_VERSION == 2
    assert _rules.load_meta()["format_version"] == FORMAT_VERSION


def test_v1_tree_is_refused_with_a_migration_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _v1_tree(tmp_path)
    monkeypatch.setattr(_rules, "_package_dir", lambda: base)
    with pytest.raises(DataError, match="migrate_v1_to_v2"):
        _rules.load_meta()


def test_migration_makes_a_loadable_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = _v1_tree(tmp_path)
    _migrate_module().migrate(base)
    monkeypatch.setattr(_rules, "_package_dir", lambda: base)
    db = TrackerDB._build(())
    assert len(db.sdk_info) == len(TrackerDB.shipped().sdk_info)
    assert db.app("com.tencent.mm").company == "Tencent"  # operator carried over
    # Chinese names are for a person to fill in: the migration leaves them empty.
    assert db.names_zh("Umeng Analytics (U-App)") == (None, None)
    again = (base / "sdks.csv").read_text(encoding="utf-8")
    _migrate_module().migrate(base)  # idempotent
    assert (base / "sdks.csv").read_text(encoding="utf-8") == again
