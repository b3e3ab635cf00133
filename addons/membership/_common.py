"""Helpers shared by the membership modules: unscoped execution and input checks.

Reads made for business rules are *unscoped*: a membership is valid in every store of the
chain, so a cashier anywhere must see the member's tier and balance.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from core.db import CENT
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l

UNSCOPED = {"banyan_unscoped": True}


def _x(session, stmt):
    """Execute ``stmt`` without record scope (business rules see the whole chain)."""
    return session.execute(stmt.execution_options(**UNSCOPED))


def _amount(value, field: str = "amount", allow_negative: bool = False) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise BusinessError({field: _l("Not a number.")}) from None
    if not d.is_finite():
        raise BusinessError({field: _l("Not a number.")})
    if d != d.quantize(CENT):
        raise BusinessError({field: _l("At most two decimals.")})
    if d == 0 or (d < 0 and not allow_negative):
        raise BusinessError({field: _l("Must be a positive amount.")})
    return d.quantize(CENT)


def _uid(user) -> int | None:
    return getattr(user, "id", None)


def _reason(reason, field: str = "reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise BusinessError({field: _l("A reason is required.")})
    return reason[:255]
