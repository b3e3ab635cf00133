"""A commission line's sale and product copy its sale line's (``__copied_references__``): the
database does not check them row by row, ``banyan check`` does. A copy naming a missing row
is an orphan; a copy that names another existing sale disagrees with its sale line."""
from datetime import date

import pytest

from addons.commissions.models import CommissionLine
from core.services.check import run_checks

pytestmark = pytest.mark.addons("commissions")


def _line(session, sale, line, **kw):
    row = CommissionLine(key=f"test:{line.id}:{len(kw)}", employee_id=kw.pop("employee_id"), store_id=sale.store_id,
                         period=202611, business_date=date(2026, 11, 30), kind="sale", sale_id=sale.id,
                         sale_line_id=line.id, product_id=line.product_id, **kw)
    session.add(row)
    session.flush()
    return row


def test_banyan_check_reports_copies_that_disagree_or_point_at_nothing(session, make):
    store = make.store()
    emp = make.employee(store=store)
    sale, other = make.sale(store=store), make.sale(store=store)
    line = sale.lines[0]
    good = _line(session, sale, line, employee_id=emp.id)
    assert [b for b in run_checks(session) if b.check.startswith("core.")] == []
    good.sale_id = other.id           # an existing sale, not the line's
    _line(session, sale, line, employee_id=emp.id, qty=1).product_id = 999999  # no such product
    session.flush()                   # accepted: the database holds no constraint on either
    found = {b.check: b for b in run_checks(session) if b.check.startswith("core.")}
    assert set(found) == {"core.copied_references", "core.orphan_rows"}
    assert f"commissions_line:{good.id}" in found["core.copied_references"].records
    assert "sale_id" in found["core.copied_references"].message
    assert "core_product" in found["core.orphan_rows"].message
