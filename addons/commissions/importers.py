"""Bulk import of commission targets (``register_importers``): one row per employee and
month, the employee found by code within the importing user's stores, written through
``statements.set_target`` (a target already set for that month is changed)."""
from __future__ import annotations

from core.contrib import Importer, ImportColumn
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.models import Employee

from .ledger import valid_period

COLUMNS = (
    ImportColumn("employee", _l("Employee code"), required=True, type="code"),
    ImportColumn("period", _l("Period (yyyymm)"), required=True, type="int", help=_l("e.g. 202611")),
    ImportColumn("amount", _l("Target"), required=True, type="money", help=_l("Credited net sales to reach.")),
)


def parse(ctx, v: dict) -> dict:
    emp = ctx.by_code(Employee, v["employee"], "employee", required=True)
    if emp.store_id is None:
        raise BusinessError({"employee": _l("Targets are set for employees of a store.")})
    if valid_period(v["period"]) is None:
        raise BusinessError({"period": _l("A period is written yyyymm, e.g. 202611.")})
    return {**v, "employee_id": emp.id}


def load(ctx, v: dict) -> None:
    from .statements import set_target

    set_target(ctx.session, v["employee_id"], v["period"], v["amount"])


IMPORTERS = (
    Importer("commissions.targets", _l("Commission targets"), COLUMNS, "commissions.target.write", parse,
             load_row=load, priority=70),
)
