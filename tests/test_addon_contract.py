"""The addon import contract (``core.testing.contract``): an addon reaches another addon only
through its ``services`` (the names in ``__all__``) or its ``hookspecs``.

The checks run over every discovered addon here (built-in and partner), and each addon's
``AddonChecks`` runs them for itself. The scanner's own cases below prove it catches each
kind of breach, so a clean result means something."""
from __future__ import annotations

import pytest

from core.addons.discovery import discover
from core.testing.contract import (ALLOWED_MODULES, owner_of, scan_addon, scan_source, services_api,
                                   services_problems)

AVAILABLE = discover()
PACKAGES = {info.package: name for name, info in AVAILABLE.items()}
API = {"membership": frozenset({"get_member", "tier_of"}), "giftcard": frozenset({"balance"})}


def _scan(text: str, addon: str = "loyalty", module: str = "addons.loyalty.earning", is_package=False):
    return scan_source(text, "x.py", module, addon, PACKAGES, api=API.get, is_package=is_package)


@pytest.mark.parametrize("addon", sorted(AVAILABLE))
def test_every_addon_keeps_the_contract(addon):
    found = scan_addon(addon, AVAILABLE)
    assert not found, "\n".join(map(str, found))


@pytest.mark.parametrize("addon", sorted(AVAILABLE))
def test_every_services_module_declares_its_public_api(addon):
    assert services_problems(AVAILABLE[addon].package) == []
    assert services_api(AVAILABLE[addon].package), f"{addon}: __all__ is empty"


def test_loyalty_uses_only_membership_public_names():
    """Loyalty's real calls into membership are in membership's ``__all__``."""
    api = services_api("addons.membership")
    for name in ("get_member", "tier_of", "lookup", "enrol", "topup", "save_tier", "set_tier"):
        assert name in api, name
    assert "record_sale" not in api and "_memo" not in api


@pytest.mark.parametrize("source", [
    "from addons.membership.models import Member",
    "import addons.membership.models",
    "import addons.membership.members as m",
    "from addons.membership import models",
    "from addons.membership import services, tiers",
    "from addons import membership",
    "import addons.membership",
    "from addons.membership.services.sub import x",
    "import banyan_addon_giftcard.models",
    "from banyan_addon_giftcard import hooks",
    "import importlib\nimportlib.import_module('addons.membership.tiers')",
    "from banyan_addon_other.models import Thing",  # an addon not installed here
])
def test_scanner_refuses_other_modules(source):
    found = _scan(source)
    assert len(found) == 1, found
    assert "use" in found[0].message and found[0].line == source.count("\n") + 1


@pytest.mark.parametrize("source, name", [
    ("from addons.membership.services import _memo", "_memo"),
    ("from addons.membership.services import get_member, record_sale", "record_sale"),
    ("from addons.membership import services as ms\nms.tier_of(s, 1)\nms.record_sale(s, 1)", "record_sale"),
    ("import addons.membership.services as ms\nms._party(s, 1)", "_party"),
    ("def f(s):\n    from addons.membership import services\n    return services.spend(s)", "spend"),
    ("import addons.membership.services\naddons.membership.services.spend(s)", "spend"),
    ("from banyan_addon_giftcard.services import lock_card", "lock_card"),
])
def test_scanner_refuses_names_outside_all(source, name):
    found = _scan(source)
    assert [v.target.split(".")[-1] for v in found] == [name], found
    assert "__all__" in found[0].message


@pytest.mark.parametrize("source", [
    "from addons.membership import services as membership\nmembership.get_member(s, 1)",
    "from addons.membership.services import get_member, tier_of",
    "from addons.membership import hookspecs",
    "from addons.membership.hookspecs import membership_tier_changed",
    "import addons.membership.services",
    "from banyan_addon_giftcard.services import balance",
    # its own modules: anything goes
    "from addons.loyalty.models import Coupon\nfrom addons.loyalty import ledger\nfrom . import earning",
    "from .services import _require_member\nfrom ..loyalty import models",
    "from core.models import Customer\nimport addons",
])
def test_scanner_allows_services_hookspecs_and_own_modules(source):
    assert _scan(source) == []


def test_relative_import_resolution():
    """``from ..membership import models`` written in ``addons/loyalty/x.py`` leaves loyalty."""
    found = _scan("from ..membership import models")
    assert [v.addon for v in found] == ["membership"]
    found = _scan("from ...membership import models", module="addons.loyalty.tests.test_x")
    assert [v.addon for v in found] == ["membership"]
    assert _scan("from .. import models", module="addons.loyalty.tests.test_x") == []
    assert _scan("from . import ledger", module="addons.loyalty", is_package=True) == []


def test_owner_of():
    assert owner_of("addons.loyalty.ledger", PACKAGES) == ("loyalty", "ledger")
    assert owner_of("banyan_addon_giftcard", PACKAGES) == ("giftcard", "")
    assert owner_of("addons.franchise.services", PACKAGES) == ("franchise", "services")
    assert owner_of("core.models", PACKAGES) is None and owner_of("addons", PACKAGES) is None
    assert ALLOWED_MODULES == ("services", "hookspecs")


def test_services_problems_names_each_fault(tmp_path, monkeypatch):
    pkg = tmp_path / "zz_contract_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "services.py").write_text(
        '__all__ = ["documented", "bare", "missing", "CONST"]\nCONST = 3\n'
        'def documented():\n    """Shapes, units, errors."""\n'
        "def bare():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    problems = services_problems("zz_contract_pkg")
    assert len(problems) == 2
    assert any("'missing'" in p for p in problems) and any("bare has no docstring" in p for p in problems)
    (pkg / "services.py").write_text("def f():\n    'doc'\n")
    import importlib
    import sys

    sys.modules.pop("zz_contract_pkg.services", None)
    importlib.invalidate_caches()
    assert services_problems("zz_contract_pkg") == ["zz_contract_pkg.services declares no __all__ (list its public API)"]
    sys.modules.pop("zz_contract_pkg.services", None)
    sys.modules.pop("zz_contract_pkg", None)
