"""``banyan addon new`` makes a package that installs, is discovered, and passes its own
generated tests (the generic AddonChecks included)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from core.cli import main
from core.errors import AddonError
from core.scaffold import new_addon


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


def test_scaffolded_addon_passes_its_own_tests(tmp_path, request):
    root = new_addon("zz_scaffolded", tmp_path)
    pip = [sys.executable, "-m", "pip"]
    r = subprocess.run(pip + ["install", "-q", "--no-deps", "-e", str(root)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    try:
        args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                str(root / "banyan_addon_zz_scaffolded" / "tests")]
        db_url = request.config.getoption("--db-url")
        if db_url:
            args += ["--db-url", db_url]
        env = dict(os.environ, BANYAN_FAST_HASH="1")
        r = subprocess.run(args, capture_output=True, text=True, cwd=str(tmp_path), env=env, timeout=600)
        assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
        assert " passed" in r.stdout and "failed" not in r.stdout
        assert "TestZzScaffolded" not in r.stdout  # -q: only failures would name tests
    finally:
        subprocess.run(pip + ["uninstall", "-y", "-q", "banyan-addon-zz-scaffolded"], capture_output=True,
                       timeout=300)
