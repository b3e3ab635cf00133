"""The checks ``core.testing.checks.AddonChecks`` added for issue 12 fail when they should:
an unenforced or over-enforced permission, a permission no known role holds, an optional
dependency that does not exist. (The addons' own test_addon.py show that they pass.)"""
from __future__ import annotations

import dataclasses

import pytest

from core.contrib import Permission
from core.i18n import lazy_gettext as _l
from core.testing.checks import AddonChecks

pytestmark = pytest.mark.addons("membership")


class _Membership(AddonChecks):  # not collected: the name does not start with Test
    addon = "membership"


def test_access_check_catches_an_endpoint_open_to_every_role(rt, session, make, monkeypatch):
    import core.security.permissions as perms

    monkeypatch.setattr(perms, "has_permission", lambda session, user, name: user is not None)
    with pytest.raises(AssertionError) as err:
        _Membership().test_views_and_endpoints_reachable_with_their_permission_only(rt, session, make)
    text = str(err.value)
    assert "for a role without membership.member.read" in text
    assert "view GET /admin/membership_members/" in text and "api GET /api/v1/membership/" in text


def test_access_check_catches_an_endpoint_refused_to_its_role(rt, session, make, monkeypatch):
    import core.security.permissions as perms

    monkeypatch.setattr(perms, "has_permission", lambda session, user, name: False)
    with pytest.raises(AssertionError) as err:
        _Membership().test_views_and_endpoints_reachable_with_their_permission_only(rt, session, make)
    assert "403 for a role holding membership.member.read" in str(err.value)


@pytest.mark.parametrize("roles, message", [((), "is granted to no role"),
                                            (("hq_admin", "store_manger"), "names unknown roles ['store_manger']")])
def test_permission_role_check(monkeypatch, roles, message):
    check = _Membership()
    monkeypatch.setattr(check, "_own_permissions",
                        lambda: [Permission("membership.zz.read", _l("See members"), roles)])
    with pytest.raises(AssertionError, match=message.replace("[", r"\[").replace("]", r"\]")):
        check.test_every_permission_granted_to_a_known_role()


def _with_optional(check, optional):
    info = check._info()
    manifest = dataclasses.replace(info.manifest, optional_depends=optional)
    return dataclasses.replace(info, manifest=manifest)


def test_optional_dependency_tested_present_and_absent(banyan_databases, monkeypatch):
    """membership with loyalty as an optional dependency: installs and matches its
    migrations alone and next to loyalty."""
    check = _Membership()
    monkeypatch.setattr(check, "_info", lambda: _with_optional(_Membership(), ("loyalty",)))
    check.test_optional_dependencies_present_and_absent(banyan_databases)


def test_optional_dependency_must_exist(banyan_databases, monkeypatch):
    check = _Membership()
    monkeypatch.setattr(check, "_info", lambda: _with_optional(_Membership(), ("zz_missing",)))
    with pytest.raises(AssertionError, match="'zz_missing' is not discovered"):
        check.test_optional_dependencies_present_and_absent(banyan_databases)
