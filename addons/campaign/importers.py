"""Bulk import of customers' monthly incomes (``register_importers``): the income side of the
value/income matrix, from a survey or a former system. Each row names one customer the
importing user may see (by customer id, phone or email) and the income; an existing income is
replaced (the audit trail keeps the old figure), a new one is added. Through the kernel's
import page and ``POST /api/v1/imports`` (dry run, errors by row and column, all-or-nothing or
the valid rows only)."""
from __future__ import annotations

from sqlalchemy import select

from core.contrib import Importer, ImportColumn
from core.db import money
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.models import Customer

from .permissions import SEGMENT_WRITE

#: at most this much a month (a typo of a few zeros is refused)
MAX_INCOME = 100_000_000

COLUMNS = (
    ImportColumn("customer_id", _l("Customer ID"), type="int", help=_l("The customer's number; or give the phone or email.")),
    ImportColumn("phone", _l("Phone"), type="phone", help=_l("Used when no customer ID is given.")),
    ImportColumn("email", _l("Email"), type="email", help=_l("Used when neither customer ID nor phone is given.")),
    ImportColumn("monthly_income", _l("Monthly income"), required=True, type="money",
                 help=_l("The customer's monthly income, 0 or more, at most two decimals.")),
    ImportColumn("source", _l("Source"), help=_l("Where the figure comes from (e.g. survey 2026); blank: import.")),
)


def _customer(ctx, v: dict) -> Customer:
    """The one active customer the row names, among those the user may see."""
    if v.get("customer_id") is not None:
        column, crit = "customer_id", Customer.id == v["customer_id"]
    elif v.get("phone") is not None:
        column, crit = "phone", Customer.phone == v["phone"]
    elif v.get("email") is not None:
        column, crit = "email", Customer.email == v["email"]
    else:
        raise BusinessError({"customer_id": _l("Give a customer ID, a phone or an email.")})
    found = ctx.session.execute(select(Customer).where(crit, Customer.active.is_(True)).limit(2)).scalars().all()
    if not found:
        raise BusinessError({column: _l("No such customer.")})
    if len(found) > 1:
        raise BusinessError({column: _l("Several customers match: give the customer ID.")})
    return found[0]


def parse(ctx, v: dict) -> dict:
    income = v["monthly_income"]
    if income < 0:
        raise BusinessError({"monthly_income": _l("Enter an amount of 0 or more.")})
    if income > MAX_INCOME:
        raise BusinessError({"monthly_income": _l("Too large.")})
    source = (v.get("source") or "import").strip()
    if len(source) > 40:
        raise BusinessError({"source": _l("At most 40 characters.")})
    customer = _customer(ctx, v)
    return {**v, "customer_id": customer.id, "monthly_income": money(income), "source": source}


def load(ctx, v: dict) -> None:
    from .models import Income

    s = ctx.session
    row = s.get(Income, v["customer_id"])
    if row is None:
        s.add(Income(customer_id=v["customer_id"], monthly_income=v["monthly_income"], source=v["source"]))
    else:
        row.monthly_income, row.source = v["monthly_income"], v["source"]
    s.flush()


IMPORTERS = (
    Importer("campaign.incomes", _l("Customer incomes (value/income matrix)"), COLUMNS, SEGMENT_WRITE, parse,
             load_row=load, unique=("customer_id",), priority=70,
             help=_l("One row per customer: the customer (ID, phone or email) and the monthly income. "
                     "An income already recorded is replaced.")),
)
