"""``banyan addon new`` makes a package that is discovered and passes its own generated
tests (the generic AddonChecks included), as a partner distribution or (``--builtin``) as a
built-in addon of Banyan's tree.

Nothing is pip-installed: the shared environment must not keep a scaffolded package. The
entry point is declared by a throwaway ``*.dist-info`` folder put on the subprocess's
``PYTHONPATH``, which ``importlib.metadata`` reads like an installed distribution's."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.cli import main
from core.errors import AddonError
import core
from core.scaffold import add_entry_point, new_addon, new_builtin_addon

REPO = Path(core.__file__).resolve().parent.parent


def test_scaffold_layout(tmp_path):
    r = CliRunner().invoke(main, ["addon", "new", "shelf_tags", "--path", str(tmp_path)])
    assert r.exit_code == 0, r.output
    root = tmp_path / "banyan-addon-shelf-tags"
    pkg = root / "banyan_addon_shelf_tags"
    for rel in ("__manifest__.py", "models.py", "hooks.py", "admin.py", "api.py", "permissions.py",
                "services.py", "tests/test_addon.py", "translations/zh_Hans/LC_MESSAGES/messages.po",
                "translations/zh_Hans/LC_MESSAGES/messages.mo", "translations/en/LC_MESSAGES/messages.po"):
        assert (pkg / rel).is_file(), rel
    assert "shelf_tags = banyan_addon_shelf_tags" in (root / "setup.cfg").read_text()
    assert '__tablename__ = "shelf_tags_item"' in (pkg / "models.py").read_text()
    [mig] = list((pkg / "migrations" / "versions").glob("*.py"))
    assert "branch_labels = ('shelf_tags',)" in mig.read_text()
    assert "{{" not in "".join(p.read_text("utf-8") for p in pkg.rglob("*.py"))
    r = CliRunner().invoke(main, ["addon", "new", "shelf_tags", "--path", str(tmp_path)])
    assert r.exit_code == 2 and "already exists" in r.output


@pytest.mark.parametrize("bad", ["Bad", "core", "9x", ""])
def test_scaffold_rejects_bad_names(tmp_path, bad):
    with pytest.raises(AddonError):
        new_addon(bad, tmp_path)


def _entry_point_dir(folder: Path, dist: str, name: str, target: str) -> Path:
    """A folder holding ``<dist>-0.0.0.dist-info`` that declares ``name = target`` in
    ``banyan.addons``; on ``sys.path`` it is discovered like an installed distribution."""
    info = folder / f"{dist.replace('-', '_')}-0.0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.0\n", "utf-8")
    (info / "entry_points.txt").write_text(f"[banyan.addons]\n{name} = {target}\n", "utf-8")
    return folder


def _run_generated_tests(tests: Path, cwd: Path, pythonpath: list[Path], request, skips: int = 0) -> None:
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)]
    db_url = request.config.getoption("--db-url")
    if db_url:
        args += ["--db-url", db_url]
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, BANYAN_FAST_HASH="1",
               PYTHONPATH=os.pathsep.join([str(p) for p in pythonpath] + inherited))
    r = subprocess.run(args, capture_output=True, text=True, cwd=str(cwd), env=env, timeout=900)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and "failed" not in r.stdout, r.stdout[-2000:]
    assert (f" {skips} skipped" in r.stdout) if skips else (" skipped" not in r.stdout), r.stdout[-2000:]


def test_scaffolded_addon_passes_its_own_tests(tmp_path, request):
    root = new_addon("zz_scaffolded", tmp_path / "src")
    eps = _entry_point_dir(tmp_path / "eps", "banyan-addon-zz-scaffolded", "zz_scaffolded",
                           "banyan_addon_zz_scaffolded")
    # the partner template declares no demo data and no optional dependency: AddonChecks
    # skips those two checks
    _run_generated_tests(root / "banyan_addon_zz_scaffolded" / "tests", tmp_path, [REPO, root, eps], request,
                         skips=2)


def _copy_repo(dest: Path) -> Path:
    skip = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.pyc", "node_modules", "instance")
    for part in ("core", "addons", "docs", "config"):
        shutil.copytree(REPO / part, dest / part, ignore=skip)
    shutil.copy2(REPO / "setup.cfg", dest / "setup.cfg")
    return dest


def test_builtin_scaffold_layout(tmp_path):
    repo = _copy_repo(tmp_path / "repo")
    before = (repo / "setup.cfg").read_text("utf-8")
    r = CliRunner().invoke(main, ["addon", "new", "zz_shelf", "--builtin", "--path", str(repo)])
    assert r.exit_code == 0, r.output
    pkg = repo / "addons" / "zz_shelf"
    for rel in ("__init__.py", "__manifest__.py", "models.py", "services.py", "items.py", "hooks.py", "permissions.py",
                "admin.py", "api.py", "schemas.py", "jobs.py", "demo.py", "migrations/__init__.py",
                "templates/zz_shelf/.gitkeep", "tests/__init__.py", "tests/conftest.py", "tests/test_addon.py",
                "translations/zh_Hans/LC_MESSAGES/messages.po", "translations/zh_Hans/LC_MESSAGES/messages.mo",
                "translations/en/LC_MESSAGES/messages.po", "translations/en/LC_MESSAGES/messages.mo"):
        assert (pkg / rel).is_file(), rel
    assert not (pkg / "setup.cfg").exists() and not (repo / "addons" / "{{pkg}}").exists()
    [mig] = list((pkg / "migrations" / "versions").glob("*.py"))
    assert "branch_labels = ('zz_shelf',)" in mig.read_text()
    assert '__all__ = ["create_item", "items_of"]' in (pkg / "services.py").read_text()
    assert "from .items import create_item, items_of" in (pkg / "services.py").read_text()
    assert "def create_item" in (pkg / "items.py").read_text()
    assert "from addons.zz_shelf import services" in (pkg / "tests" / "test_addon.py").read_text()
    assert "{{" not in "".join(p.read_text("utf-8") for p in pkg.rglob("*.py"))
    # setup.cfg: one line added at the end of the banyan.addons block, the rest byte for byte
    after = (repo / "setup.cfg").read_text("utf-8")
    block = before.index("banyan.addons =")
    end = before.index("\n\n", block) + 1
    assert after == before[:end] + "    zz_shelf = addons.zz_shelf\n" + before[end:]
    page = (repo / "docs" / "addons" / "zz_shelf.md").read_text("utf-8")
    assert page.startswith("# Zz Shelf\n") and "## What this addon does" in page and "{{" not in page
    # nothing is overwritten, nothing is half-written
    for name in ("zz_shelf", "membership"):
        r = CliRunner().invoke(main, ["addon", "new", name, "--builtin", "--path", str(repo)])
        assert r.exit_code == 2 and "already exists" in r.output, r.output
    assert (repo / "setup.cfg").read_text("utf-8") == after
    r = CliRunner().invoke(main, ["addon", "new", "zz_x", "--builtin", "--path", str(tmp_path)])
    assert r.exit_code == 2 and "source tree" in r.output
    assert not (tmp_path / "addons").exists()


def test_add_entry_point_refuses_duplicates_and_missing_block(tmp_path):
    cfg = tmp_path / "setup.cfg"
    cfg.write_text("[options.entry_points]\nbanyan.addons =\n    b = addons.b\n    a = addons.a\n"
                   "\n[tool:pytest]\nx = 1\n", "utf-8")
    add_entry_point(cfg, "c", "addons.c")
    assert cfg.read_text("utf-8") == ("[options.entry_points]\nbanyan.addons =\n    b = addons.b\n"
                                      "    a = addons.a\n    c = addons.c\n\n[tool:pytest]\nx = 1\n")
    with pytest.raises(AddonError, match="already declares"):
        add_entry_point(cfg, "a", "addons.a")
    (tmp_path / "other.cfg").write_text("[metadata]\nname = x\n", "utf-8")
    with pytest.raises(AddonError, match="no 'banyan.addons ='"):
        add_entry_point(tmp_path / "other.cfg", "c", "addons.c")


def test_builtin_addon_passes_its_own_tests(tmp_path, request):
    repo = _copy_repo(tmp_path / "repo")
    new_builtin_addon("zz_builtin", repo)
    eps = _entry_point_dir(tmp_path / "eps", "banyan-zz-builtin", "zz_builtin", "addons.zz_builtin")
    # no optional dependency: AddonChecks skips that one check
    _run_generated_tests(repo / "addons" / "zz_builtin" / "tests", repo, [repo, eps], request, skips=1)
