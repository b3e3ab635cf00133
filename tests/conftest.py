"""Fixtures shared by the kernel's test modules (the ``rt``, ``session`` and ``make`` fixtures come
from ``core.testing.plugin``)."""
from __future__ import annotations

import pytest


@pytest.fixture
def two_stores(session, make):
    """Store A and store B with a customer each, a store manager of A and an HQ admin (the back
    office pages' tests): ``{"a", "b", "cust_a", "cust_b", "manager", "hq"}``. The roles are
    synchronised with the registry first, so the addons' permissions are granted."""
    from core.db import RUNTIME
    from core.security.permissions import sync_roles

    sync_roles(session, RUNTIME.require(session).registry)
    a, b = make.store(name="Store A"), make.store(name="Store B")
    out = {"a": a, "b": b,
           "cust_a": make.customer(name="Wang Fang", phone="13800000011", home_store_id=a.id),
           "cust_b": make.customer(name="Zhou Jie", phone="13900000022", home_store_id=b.id),
           "manager": make.user(username="mgr-a", roles=("store_manager",), scope_kind="store", scope_ref_id=a.id),
           "hq": make.user(username="hq-admin")}
    session.commit()
    return out
