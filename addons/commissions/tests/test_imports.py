"""Importing commission targets: found by employee code, errors named per row and column."""
import csv
import io
from decimal import Decimal

import pytest
from sqlalchemy import select

from addons.commissions.models import CommissionTarget
from core.db import transaction
from core.imports import create, execute
from core.models import ImportRun

pytestmark = pytest.mark.addons("commissions")


def run(rt, session, rows, mode="all_or_nothing"):
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    with transaction(session):
        rec = create(session, "commissions.targets", "t.csv", buf.getvalue().encode(), None, mode)
    execute(rt, rec.id)
    session.expire_all()
    return session.get(ImportRun, rec.id)


def test_targets_import(rt, session, make, shop):
    a, b = shop.clerks[:2]
    rows = [["employee", "period", "amount"],
            [a.code, "202610", "30000.00"],
            [b.code, "202610", "25000"],
            ["NOBODY", "202610", "100"],
            [a.code, "202613", "100"],
            [shop.region_manager.code, "202610", "100"]]
    rec = run(rt, session, rows)
    assert rec.state == "failed" and rec.written_rows == 0
    assert {(e["row"], e["column"]) for e in rec.errors} == {(4, "employee"), (5, "period"), (6, "employee")}
    rec = run(rt, session, rows, mode="valid_only")
    assert rec.written_rows == 2
    got = dict(session.execute(select(CommissionTarget.employee_id, CommissionTarget.amount)).all())
    assert got == {a.id: Decimal("30000.00"), b.id: Decimal("25000.00")}
