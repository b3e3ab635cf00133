"""A third-party addon, shipped as its own distribution, is discovered through its entry
point, installs into a database and takes payments at checkout."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GIFTCARD = ROOT / "examples" / "banyan-addon-giftcard"


@pytest.fixture(scope="module")
def giftcard_installed():
    """The example distribution, installed (editable) in this environment. ``scripts/test.sh``
    installs it; reinstalling it here while the other database's run reads the installed
    distributions (the two runs side by side share the environment) would show that run a
    distribution folder without its metadata for a moment, so it is installed only when
    missing."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution("banyan-addon-giftcard")
        return
    except PackageNotFoundError:
        pass
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", str(GIFTCARD)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]


def _run(code: str, url: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, BANYAN_DATABASE_URL=url, BANYAN_FAST_HASH="1", BANYAN_LOCALE_DEFAULT="en")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, cwd=str(ROOT), timeout=300)


def test_giftcard_discovered_installed_and_paid_with(giftcard_installed, banyan_databases):
    url = banyan_databases.new_url()
    r = _run("""
        import json
        from decimal import Decimal
        from importlib.metadata import distribution
        from core.addons import discover
        from core.addons.installer import init_db, install
        from core.config import load_config
        from core.runtime import Runtime
        from core.services.checkout import PaymentRequest
        from core.services.refund import refund
        from core.testing.factories import Factories

        found = discover()["giftcard"]
        rt = Runtime.from_config(load_config())
        init_db(rt)
        before = rt.registry.names
        new = install(rt, ["giftcard"])
        from banyan_addon_giftcard.services import balance, issue_card
        with rt.session() as s:
            make = Factories(s)
            card = issue_card(s, "TP-1", "50.00")
            sale = make.sale(products=[make.product(price="20.00")],
                             payments=[PaymentRequest("giftcard", reference="TP-1")])
            after_sale = balance(s, card)
            refund(s, sale.id)
            s.commit()
            after_refund = balance(s, card)
        print(json.dumps({"package": found.package, "dist": found.distribution,
                          "dist_version": distribution(found.distribution).version,
                          "before": before, "new": new, "names": rt.registry.names,
                          "methods": [p.method for p in sale.payments],
                          "after_sale": str(after_sale), "after_refund": str(after_refund)}))
        rt.dispose()
    """, url)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["package"] == "banyan_addon_giftcard"
    assert out["dist"].replace("_", "-") == "banyan-addon-giftcard"
    assert out["before"] == [] and out["new"] == ["giftcard"] and out["names"] == ["giftcard"]
    assert out["methods"] == ["giftcard"]
    assert out["after_sale"] == "30.00" and out["after_refund"] == "50.00"


def test_giftcard_through_the_cli(giftcard_installed, banyan_databases):
    url = banyan_databases.new_url()
    cli = "import sys; from core.cli import main; sys.argv = ['banyan'] + {args!r}; main()"
    r = _run(cli.format(args=["db", "upgrade"]), url)
    assert r.returncode == 0, r.stderr
    r = _run(cli.format(args=["addons", "list"]), url)
    assert r.returncode == 0, r.stderr
    line = next(l for l in r.stdout.splitlines() if l.startswith("giftcard"))
    assert "available" in line and "banyan" in line and "1.0.0" in line
    r = _run(cli.format(args=["addons", "install", "giftcard"]), url)
    assert r.returncode == 0 and "installed: giftcard" in r.stdout, r.stderr
    r = _run(cli.format(args=["addons", "list"]), url)
    line = next(l for l in r.stdout.splitlines() if l.startswith("giftcard"))
    assert "installed" in line and "payment_methods" in line and "derived_balances" in line
    r = _run(cli.format(args=["db", "check"]), url)
    assert r.returncode == 0, r.stderr
    r = _run(cli.format(args=["addons", "uninstall", "giftcard", "--purge"]), url)
    assert r.returncode == 0 and "tables dropped" in r.stdout, r.stderr
    r = _run(cli.format(args=["addons", "uninstall", "giftcard"]), url)
    assert r.returncode != 0 and r.stderr.strip() == "error: addon giftcard is not installed"
