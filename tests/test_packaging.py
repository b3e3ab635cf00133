"""The wheel holds everything the kernel and the built-in addons read at run time.

The project's packaging (setup.cfg, pyproject.toml, MANIFEST.in) is copied with ``core/`` and
``addons/`` to a temporary folder and setuptools' ``build_py`` (the step ``bdist_wheel``
packs) is run there: every file of those folders (templates, static files, translations,
migration scripts, scaffold templates) must be in its output. ``packages = find:`` alone
keeps only folders with an ``__init__.py``: ``core/static``, ``core/templates``, the
translations and every ``migrations/versions`` folder were missing."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGED = ("core", "addons")
PROJECT_FILES = ("setup.cfg", "pyproject.toml", "README.md", "MANIFEST.in")


def _ignored(_folder, names):
    return [n for n in names if n in ("__pycache__", ".pytest_cache") or n.endswith((".pyc", ".pyo"))
            or n.endswith(".egg-info")]


def _sources(root: Path) -> set[str]:
    out = set()
    for top in PACKAGED:
        for dirpath, dirnames, filenames in os.walk(root / top):
            dirnames[:] = [d for d in dirnames if not _ignored(None, [d])]
            for name in filenames:
                if not _ignored(None, [name]):
                    out.add(Path(dirpath, name).relative_to(root).as_posix())
    return out


def _built(tmp_path: Path) -> tuple[set[str], set[str]]:
    src = tmp_path / "src"
    src.mkdir()
    for name in PROJECT_FILES:
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    for top in PACKAGED:
        shutil.copytree(ROOT / top, src / top, ignore=_ignored)
    out = tmp_path / "lib"
    run = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q",
                          "build_py", "--build-lib", str(out)],
                         cwd=src, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert run.returncode == 0, run.stderr[-2000:]
    built = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    return _sources(src), built


def test_the_wheel_holds_every_file_of_core_and_the_addons(tmp_path):
    sources, built = _built(tmp_path)
    missing = sorted(sources - built)
    assert not missing, f"{len(missing)} files left out of the wheel, e.g. {missing[:15]}"
    # the folders the issue names, by name (the comparison above would pass on an empty tree)
    for folder in ("core/static/", "core/admin/static/", "core/templates/", "core/translations/",
                   "core/migrations/versions/"):
        assert any(f.startswith(folder) for f in built), folder
    assert any(f.endswith("LC_MESSAGES/messages.mo") and f.startswith("core/translations/zh_Hans/")
               for f in built)
    for addon in ("membership", "loyalty"):
        assert any(f.startswith(f"addons/{addon}/translations/") for f in built), addon
        assert any(f.startswith(f"addons/{addon}/migrations/versions/") for f in built), addon


def test_the_sdist_manifest_grafts_the_data_folders():
    """An sdist (and a wheel built from it) reads MANIFEST.in: the same folders are grafted."""
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8").split("\n")
    for line in ("graft core", "graft addons", "global-exclude *.py[cod]"):
        assert line in manifest, line
