"""Helpers shared by the membership modules: unscoped execution and input checks.

Reads made for business rules are *unscoped*: a membership is valid in every store of the
chain, so a cashier anywhere must see the member's tier and balance.
"""
from __future__ import annotations

from decimal import Decimal

from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.validation import money_input

UNSCOPED = {"banyan_unscoped": True}


def _x(session, stmt):
    """Execute ``stmt`` without record scope (business rules see the whole chain)."""
    return session.execute(stmt.execution_options(**UNSCOPED))


def _amount(value, field: str = "amount", allow_negative: bool = False) -> Decimal:
    """A money input as every money-moving operation checks it (``core.validation.money_input``)."""
    return money_input(value, field, allow_negative=allow_negative)


def _uid(user) -> int | None:
    return getattr(user, "id", None)


def _reason(reason, field: str = "reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise BusinessError({field: _l("A reason is required.")})
    return reason[:255]
