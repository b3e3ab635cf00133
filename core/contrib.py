"""Frozen result types that hooks return and the kernel applies (the datasette rule)."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable


@dataclass(frozen=True)
class Permission:
    """A named right, e.g. ``membership.card.write``; ``default_roles`` get it on install."""

    name: str
    label: Any  # a lazy translatable string
    default_roles: tuple[str, ...] = ("hq_admin",)


@dataclass(frozen=True)
class RecordRule:
    """Row scope for ``model``: ``where(scope)`` returns a SQL criterion or ``None`` (no limit).

    ``scope`` is a :class:`core.security.scope.Scope` (the user and the store ids they may see).
    """

    model: type
    name: str
    where: Callable[[Any], Any]


@dataclass(frozen=True)
class Job:
    """A background job; ``schedule`` is a cron expression ("m h dom mon dow") or ``None``."""

    name: str
    func: Callable[..., Any]
    schedule: str | None = None
    retries: int = 3
    retry_delay: int = 60
    timeout: int | None = None


@dataclass(frozen=True)
class Adjustment:
    """A discount (negative ``amount``) or surcharge on a ticket line (``line``) or the ticket.

    ``rule_code`` and ``label`` say which rule made it; they are printed on the ticket.
    Adjustments are applied in ascending ``priority``.
    """

    amount: Decimal
    rule_code: str
    label: str
    line: Any = None
    priority: int = 100


#: The order in which ``price_ticket`` implementations are called (``pricing_stage``). Each
#: stage sees the ticket as the stages before it left it: ``line.total`` is what is left to
#: pay on the line after their adjustments, so a promotion's minimum spend, percentage or
#: special price is measured on the price after the tier discount, and a coupon's on the
#: price after the promotions. Line prices themselves (list price, member price) come
#: before every stage, from ``resolve_price``. Written down in docs/hooks.md.
PRICING_STAGES = {
    "customer": 20,    # the customer's own discount (membership: tier discount)
    "promotion": 50,   # promotions and the coupons that unlock them (loyalty)
    "voucher": 80,     # money-off vouchers and anything priced on the final remainder
}
DEFAULT_PRICING_STAGE = PRICING_STAGES["promotion"]


def pricing_stage(stage: str | int):
    """Decorator for a ``price_ticket`` implementation: the stage it runs in
    (a :data:`PRICING_STAGES` name or a number; default ``"promotion"``)::

        @hookimpl
        @pricing_stage("customer")
        def price_ticket(session, ticket): ...
    """
    number = PRICING_STAGES[stage] if isinstance(stage, str) else int(stage)

    def mark(func):
        func.pricing_stage = number
        return func

    return mark


@dataclass(frozen=True)
class CodeClaim:
    """An addon's answer about one code typed on a ticket (``claim_codes`` hook).

    ``code`` is the canonical code (as in ``ticket.codes``). ``refused`` is None when the
    addon recognises the code and used it on this ticket; otherwise the reason, for the
    cashier (unknown to this addon: return no claim at all). ``addon`` names the claimer."""

    code: str
    refused: Any = None
    addon: str = ""


@dataclass(frozen=True)
class PaymentMethod:
    """A way to pay. ``capture(session, sale, amount, reference)`` takes the money inside the
    sale's transaction (raise BusinessError to refuse); ``refund(session, refund, payment,
    amount)`` gives it back (``amount`` is positive). Either returns an optional reference."""

    code: str
    label: Any
    capture: Callable[..., Any] | None = None
    refund: Callable[..., Any] | None = None
    priority: int = 100


@dataclass(frozen=True)
class SummaryPanel:
    """A block on the customer page / caller card: ``fields`` is a list of (label, value)."""

    title: Any
    fields: tuple[tuple[Any, Any], ...]
    priority: int = 100
    permission: str | None = None
    addon: str = ""


@dataclass(frozen=True)
class Balance:
    """A ledger-derived balance of a customer (e.g. ``loyalty.points``), for symmetry checks."""

    name: str
    value: Decimal


@dataclass(frozen=True)
class Breach:
    """An invariant that does not hold (``banyan check``), naming the records involved."""

    check: str
    message: str
    records: tuple[str, ...] = ()


@dataclass(frozen=True)
class DashboardWidget:
    """A dashboard block: ``kind`` is "number", "table" or "bar"; ``data`` fits the kind.

    number: {"value": str}; table: {"columns": [...], "rows": [[...]]};
    bar: {"labels": [...], "values": [...]}.
    """

    key: str
    title: Any
    kind: str
    data: dict
    priority: int = 100
    permission: str | None = None


@dataclass(frozen=True)
class SensitiveAction:
    """An action that needs ``approvals`` distinct approvers when ``amount`` >= ``threshold``."""

    name: str
    label: Any
    approvals: int = 2
    threshold: Decimal | None = None


@dataclass
class DemoContext:
    """What ``banyan demo`` built so far, handed to each addon's ``load_demo_data``."""

    rng: random.Random
    scale: float = 1.0
    companies: list = field(default_factory=list)
    regions: list = field(default_factory=list)
    stores: list = field(default_factory=list)
    customers: list = field(default_factory=list)
    products: list = field(default_factory=list)
    employees: list = field(default_factory=list)
    users: list = field(default_factory=list)
    sales: list = field(default_factory=list)
    months: int = 6
    extra: dict = field(default_factory=dict)


def sort_by_priority(items: Iterable) -> list:
    """Flatten hook results (lists of items) and sort them on ``priority`` (stable)."""
    flat = [x for group in items if group for x in group]
    return sorted(flat, key=lambda x: getattr(x, "priority", 100))
