"""Tables of the commissions addon (every table is named ``commissions_<entity>``).

Configuration (chain-wide, written by HQ): plans with their rules and tiers, assignments of
plans to employees, roles or stores with effective dates, the policy (clawback window,
four-eyes threshold). Per store: split agreements and targets.

The ledger is ``commissions_line``: every amount an employee earns or gives back is one
append-only row (sale, reversal, clawback, tier bonus, adjustment) naming the plan and rule
that produced it. Balances, statements' totals and attainment are sums over it.
``commissions_account`` holds one row per employee, locked while lines are posted and while
a statement is settled (see ``ledger.py``). A period is a local calendar month written as
the integer ``yyyymm``.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, String,
                        UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.codes import Code
from core.db import Base, Money, Quantity
from core.i18n import lazy_gettext as _l
from core.labels import EMPLOYEE_ROLE, Choices, Phrases, describe, shown
from core.mixins import IdPk, StoreScoped, Timestamps, utcnow

# coded values, each declared once with its label (core.labels)
#: why a line was posted, when the addon itself says it (``CommissionLine.reason`` holds the
#: code; a person's reason for an adjustment is kept as typed): put together in the reader's
#: language by ``CommissionLine.reason_text`` from the line's own figures
LINE_REASON = Phrases("commissions.line.reason", [
    ("tier_clawback", _l("Tier bonus clawed back after a refund"),
     _l("Tier bonus of %(period)s clawed back: attainment %(pct)s%% after a refund")),
])
TIER_MODE = Choices("commissions.plan.tier_mode", [
    ("none", _l("No tiers")), ("whole", _l("Whole bracket")), ("marginal", _l("Marginal bands"))])
BASIS = Choices("commissions.rule.basis", [
    ("net_pct", _l("% of net line amount")), ("per_unit", _l("Fixed amount per unit")),
    ("margin_pct", _l("% of margin"))])
LEVEL = Choices("commissions.level", [
    ("seller", _l("Seller (clerk on the line)")), ("store_manager", _l("Store manager")),
    ("region_manager", _l("Region manager"))])
LINE_KIND = Choices("commissions.line.kind", [
    ("sale", _l("Sale")), ("reversal", _l("Refund reversal")), ("clawback", _l("Clawback")),
    ("waived", _l("Not clawed back (window passed)")), ("tier", _l("Tier bonus")),
    ("pool", _l("Team pool share")), ("settle", _l("Shared out to the team")), ("adjustment", _l("Adjustment"))])
POOL_MODE = Choices("commissions.pool.split_mode", [
    ("equal", _l("Equal shares")), ("hours", _l("By hours worked")), ("fixed", _l("Fixed shares"))])
POOL_MODES = POOL_MODE.codes
STATEMENT_STATE = Choices("commissions.statement.state", [
    ("draft", _l("Draft")), ("approved", _l("Approved")), ("paid", _l("Paid"))])

TIER_MODES = TIER_MODE.codes
BASES = BASIS.codes
LEVELS = LEVEL.codes
LINE_KINDS = LINE_KIND.codes
STATEMENT_STATES = STATEMENT_STATE.codes

PERCENT = Numeric(9, 4)  # a percentage such as 2.5000 (%), or money per unit with 4 places


class CommissionPolicy(IdPk, Timestamps, Base):
    """The chain's commission policy (one row, made on first use)."""
    __chain_wide__ = True

    __tablename__ = "commissions_policy"
    __table_args__ = (CheckConstraint("clawback_days >= 0", name="clawback_not_negative"),
                      CheckConstraint("four_eyes_threshold >= 0", name="threshold_not_negative"))
    #: a refund more than this many days after the sale's business date claws back nothing
    #: from a statement already approved or paid (the line says so: kind ``waived``)
    clawback_days: Mapped[int] = mapped_column(Integer, default=90, info={"min": 0, "max": 3660})
    #: a statement whose total is above this needs a second approver (core.approvals)
    four_eyes_threshold: Mapped[Decimal] = mapped_column(Money, default=Decimal("5000.00"), info={"min": 0})

    def __str__(self) -> str:
        return str(_l("Commission policy"))


class CommissionPlan(IdPk, Timestamps, Base):
    """A named set of rules (and optional tiers). Plans are chain-wide; they reach people
    through assignments with effective dates, so a new plan never rewrites history."""
    __chain_wide__ = True

    __tablename__ = "commissions_plan"
    code: Mapped[str] = mapped_column(Code(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    tier_mode: Mapped[str] = mapped_column(String(10), default="none")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(String(255))
    rules: Mapped[list["CommissionRule"]] = relationship(back_populates="plan", order_by="CommissionRule.id")
    tiers: Mapped[list["CommissionTier"]] = relationship(back_populates="plan", order_by="CommissionTier.from_pct")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CommissionRule(IdPk, Timestamps, Base):
    """What a plan pays on a line: ``basis`` ``net_pct`` (``rate`` % of the net line amount),
    ``per_unit`` (``rate`` money per unit sold) or ``margin_pct`` (``rate`` % of net amount
    minus the product's cost, never below 0). Empty criteria match anything; the most
    specific matching rule wins (see ``rules.py``)."""
    __scope_parent__ = "plan_id"
    __scope_column__ = ""  # a plan's rules are chain-wide like the plan, a store is a criterion

    __tablename__ = "commissions_rule"
    __table_args__ = (CheckConstraint("rate >= 0", name="rate_not_negative"),)
    plan_id: Mapped[int] = mapped_column(ForeignKey("commissions_plan.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("core_product.id"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("core_product_category.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    role: Mapped[str | None] = mapped_column(String(20))
    basis: Mapped[str] = mapped_column(String(10), default="net_pct")
    rate: Mapped[Decimal] = mapped_column(PERCENT, info={"min": 0, "max": 100000})
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    plan: Mapped[CommissionPlan] = relationship(back_populates="rules")
    product = relationship("Product")
    category = relationship("ProductCategory")
    store = relationship("Store")

    def __str__(self) -> str:
        return f"#{self.id} {shown(self, 'basis')}: {shown(self, 'rate')}{'' if self.basis == 'per_unit' else '%'}"


class CommissionTier(IdPk, Base):
    """A band of target attainment: from ``from_pct`` % of the target upwards the plan pays
    ``rate`` % of the period's credited net sales (settled when the statement is approved)."""
    __scope_parent__ = "plan_id"

    __tablename__ = "commissions_tier"
    __table_args__ = (UniqueConstraint("plan_id", "from_pct"),
                      CheckConstraint("from_pct >= 0", name="from_not_negative"),
                      CheckConstraint("rate >= 0", name="rate_not_negative"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("commissions_plan.id", ondelete="CASCADE"), index=True)
    from_pct: Mapped[Decimal] = mapped_column(PERCENT, info={"min": 0, "max": 10000})
    rate: Mapped[Decimal] = mapped_column(PERCENT, info={"min": 0, "max": 100})
    plan: Mapped[CommissionPlan] = relationship(back_populates="tiers")

    def __str__(self) -> str:
        return f"≥{shown(self, 'from_pct')}%: {shown(self, 'rate')}%"


class CommissionAssignment(IdPk, Timestamps, Base):
    """Plan ``plan_id`` applies at ``level`` to an employee, or to every employee of a role
    and/or store, on local business dates ``valid_from`` <= d < ``valid_to`` (open-ended
    when empty). Precedence: employee > store and role > store > role > chain-wide."""
    __scope_parent__ = "plan_id"
    __scope_column__ = ""

    __tablename__ = "commissions_assignment"
    __table_args__ = (CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="dates_ordered"),
                      Index("ix_commissions_assignment_lookup", "level", "employee_id", "valid_from"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("commissions_plan.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(16), default="seller")
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("core_employee.id"), index=True)
    role: Mapped[str | None] = mapped_column(String(20))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    plan: Mapped[CommissionPlan] = relationship()
    employee = relationship("Employee")
    store = relationship("Store")

    def __str__(self) -> str:
        return f"{self.plan} · {shown(self, 'level')} · {self.valid_from}"


class CommissionSplit(IdPk, StoreScoped, Timestamps, Base):
    """A standing split at one store: lines credited to ``employee_id`` (the first share)
    are shared with the other shares' employees by percentage, on local business dates
    ``valid_from`` <= d < ``valid_to``. Percentages sum to 100; the rounding remainder goes to
    the first share."""

    __tablename__ = "commissions_split"
    __table_args__ = (CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="dates_ordered"),)
    employee_id: Mapped[int] = mapped_column(ForeignKey("core_employee.id"), index=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(255))
    employee = relationship("Employee")
    store = relationship("Store")
    shares: Mapped[list["CommissionSplitShare"]] = relationship(
        back_populates="split", cascade="all, delete-orphan", order_by="CommissionSplitShare.position")

    def __str__(self) -> str:
        return f"#{self.id} {self.valid_from}"


class CommissionSplitShare(IdPk, Base):
    __scope_parent__ = "split_id"
    __tablename__ = "commissions_split_share"
    __table_args__ = (UniqueConstraint("split_id", "employee_id"),
                      CheckConstraint("percent > 0 AND percent <= 100", name="percent_range"))
    split_id: Mapped[int] = mapped_column(ForeignKey("commissions_split.id", ondelete="CASCADE"), index=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("core_employee.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    percent: Mapped[Decimal] = mapped_column(Numeric(7, 4), info={"min": 0, "max": 100})
    split: Mapped[CommissionSplit] = relationship(back_populates="shares")
    employee = relationship("Employee")


class CommissionPool(IdPk, StoreScoped, Timestamps, Base):
    """A team pool (公佣) of one store: on every sale line of the store, on local dates
    ``valid_from`` <= d < ``valid_to``, the pool earns by plan ``plan_id``'s rules; at the end
    of the period the pool's total is shared among its members (``split_mode``: equal
    shares, by hours worked in the period, or fixed percentages)."""

    __tablename__ = "commissions_pool"
    __table_args__ = (CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="dates_ordered"),)
    code: Mapped[str] = mapped_column(Code(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    plan_id: Mapped[int] = mapped_column(ForeignKey("commissions_plan.id"), index=True)
    split_mode: Mapped[str] = mapped_column(String(8), default="equal")
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    plan: Mapped[CommissionPlan] = relationship()
    store = relationship("Store")
    members: Mapped[list["CommissionPoolMember"]] = relationship(
        back_populates="pool", cascade="all, delete-orphan", order_by="CommissionPoolMember.position")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CommissionPoolMember(IdPk, Base):
    """A member of a pool; ``share`` (%) is used by the ``fixed`` mode (the shares sum to
    100). The first member (lowest ``position``) takes the rounding remainder."""
    __scope_parent__ = "pool_id"
    __tablename__ = "commissions_pool_member"
    __table_args__ = (UniqueConstraint("pool_id", "employee_id"),)
    pool_id: Mapped[int] = mapped_column(ForeignKey("commissions_pool.id", ondelete="CASCADE"), index=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("core_employee.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    share: Mapped[Decimal | None] = mapped_column(Numeric(7, 4), info={"min": 0, "max": 100})
    pool: Mapped[CommissionPool] = relationship(back_populates="members")
    employee = relationship("Employee")


class CommissionPoolHours(IdPk, Base):
    """Hours a member worked for the pool in period ``period`` (the ``hours`` mode)."""
    __scope_parent__ = "pool_id"
    __tablename__ = "commissions_pool_hours"
    __table_args__ = (UniqueConstraint("pool_id", "employee_id", "period"),
                      CheckConstraint("hours >= 0", name="hours_not_negative"))
    pool_id: Mapped[int] = mapped_column(ForeignKey("commissions_pool.id", ondelete="CASCADE"), index=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("core_employee.id"), index=True)
    period: Mapped[int] = mapped_column(Integer, info={"month": True})
    hours: Mapped[Decimal] = mapped_column(Numeric(7, 2), info={"min": 0, "max": 744})
    employee = relationship("Employee")


class CommissionPoolEntry(IdPk, Base):
    """The pool's ledger (append-only): what the pool earned on a sale line, its reversals,
    and the settlement that shared a period's total out (kind ``settle``, amount = -total)."""
    __audit__ = False
    __scope_derived__ = ("pool_id", "sale_id", "sale_line_id", "origin_id", "rule_id")
    __scope_via__ = "pool_id"  # read with its pool (core.security.scope)
    __tablename__ = "commissions_pool_entry"
    __chain_wide__ = False  # nobody's store, yet not shared chain data: a pool's ledger, written by its services (write check rule 4)
    __table_args__ = (Index("ix_commissions_pool_entry_pool_period", "pool_id", "period"),)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("commissions_pool.id"))
    period: Mapped[int] = mapped_column(Integer, info={"month": True})
    business_date: Mapped[date] = mapped_column(Date)
    posted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(10))
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale.id"), index=True)
    sale_line_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale_line.id"), index=True)
    origin_id: Mapped[int | None] = mapped_column(ForeignKey("commissions_pool_entry.id"), index=True)
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("commissions_rule.id"))
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))


class CommissionPoolSettlement(IdPk, Base):
    """A pool's period, shared out (once): no entry is posted into it afterwards."""
    __scope_parent__ = "pool_id"
    __tablename__ = "commissions_pool_settlement"
    __table_args__ = (UniqueConstraint("pool_id", "period"),)
    pool_id: Mapped[int] = mapped_column(ForeignKey("commissions_pool.id"), index=True)
    period: Mapped[int] = mapped_column(Integer, info={"month": True})
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    settled_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CommissionTarget(IdPk, StoreScoped, Timestamps, Base):
    """What an employee should sell (credited net sales) in period ``period`` (yyyymm)."""
    __scope_column__ = ""  # own rows or the scope's stores: permissions.RECORD_RULES

    __tablename__ = "commissions_target"
    __table_args__ = (UniqueConstraint("employee_id", "period"),
                      CheckConstraint("amount > 0", name="amount_positive"),
                      CheckConstraint("period >= 200001 AND period <= 299912", name="period_range"))
    employee_id: Mapped[int] = mapped_column(ForeignKey("core_employee.id"), index=True)
    period: Mapped[int] = mapped_column(Integer, info={"min": 200001, "max": 299912, "month": True})
    amount: Mapped[Decimal] = mapped_column(Money, info={"min": 0})
    employee = relationship("Employee")
    store = relationship("Store")

    def __str__(self) -> str:
        return f"{self.period}: {self.amount}"


class CommissionAccount(Base):
    """One row per employee, the lock that orders postings and settlements (no balance is
    stored here: balances are sums over ``commissions_line``). ``settled_through`` is the
    latest period with an approved or paid statement: a line aimed at it or before goes into
    the period after it (written by the approval, read by postings under the row lock)."""
    __audit__ = False

    __tablename__ = "commissions_account"
    employee_id: Mapped[int] = mapped_column(ForeignKey("core_employee.id", ondelete="CASCADE"), primary_key=True)
    settled_through: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CommissionStatement(IdPk, Timestamps, Base):
    """An employee's statement for a period: draft (lines still arrive) -> approved (lines
    attached, total frozen; above the policy's threshold a second approver is needed) -> paid
    (never changed again; corrections go into a later period)."""
    __scope_derived__ = ("employee_id", "approval_request_id", "approved_by_id", "paid_by_id", "store_id")
    __scope_column__ = ""  # own rows or the scope's stores: permissions.RECORD_RULES

    __tablename__ = "commissions_statement"
    __table_args__ = (UniqueConstraint("employee_id", "period"),)
    #: the employee's store when the statement was made (None for an employee of no store)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"), index=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("core_employee.id"), index=True)
    period: Mapped[int] = mapped_column(Integer, index=True, info={"month": True})
    state: Mapped[str] = mapped_column(String(10), default="draft", index=True)
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    approval_request_id: Mapped[int | None] = mapped_column(ForeignKey("core_approval_request.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("core_user.id"))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime)
    payment_reference: Mapped[str | None] = mapped_column(String(80))
    employee = relationship("Employee")
    store = relationship("Store")

    def __str__(self) -> str:
        return f"{self.period} #{self.id}"


class CommissionLine(IdPk, Base):
    """One ledger row (append-only; ``statement_id`` is set once, when its statement is
    approved). ``amount`` is what the employee earns (negative: gives back); ``due`` the
    reversal the refund called for (equal to ``amount`` except for ``waived`` lines);
    ``sales_amount`` the net sales credited to the employee (attainment)."""
    __audit__ = False  # a ledger is its own history (core.audit)
    __scope_derived__ = ("employee_id", "sale_id", "sale_line_id", "origin_id", "plan_id", "rule_id",
                         "statement_id", "product_id", "store_id", "credited_id")
    __scope_column__ = ""  # own rows or the scope's stores: permissions.RECORD_RULES

    __tablename__ = "commissions_line"
    # few indexes: every sale writes several lines (bench/README.md, "Commissions"); a sale's
    # lines are found through their sale lines (``sale_line_id``), a period's by a scan (monthly).
    # Reversals by their original, and a period's reversals (the what-if replays them), through
    # partial indexes only reversal lines enter (a sale line writes nothing into them)
    __table_args__ = (Index("ix_commissions_line_emp_period", "employee_id", "period", "statement_id"),
                      Index("ix_commissions_line_origin_id", "origin_id", postgresql_where=text("origin_id IS NOT NULL"),
                            sqlite_where=text("origin_id IS NOT NULL")),
                      Index("ix_commissions_line_reversal_period", "period",
                            postgresql_where=text("origin_id IS NOT NULL"),
                            sqlite_where=text("origin_id IS NOT NULL")))
    key: Mapped[str] = mapped_column(String(80), unique=True)
    employee_id: Mapped[int] = mapped_column(ForeignKey("core_employee.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("core_store.id"))
    period: Mapped[int] = mapped_column(Integer, info={"month": True})
    business_date: Mapped[date] = mapped_column(Date)
    posted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(10))
    level: Mapped[str] = mapped_column(String(16), default="seller")
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale.id"))
    sale_line_id: Mapped[int | None] = mapped_column(ForeignKey("core_sale_line.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("core_product.id"))
    origin_id: Mapped[int | None] = mapped_column(ForeignKey("commissions_line.id"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("commissions_plan.id"))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("commissions_rule.id"))
    basis: Mapped[str | None] = mapped_column(String(10))
    base_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    sales_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    qty: Mapped[Decimal] = mapped_column(Quantity, default=Decimal("0"))
    rate: Mapped[Decimal] = mapped_column(PERCENT, default=Decimal("0"))
    share_pct: Mapped[Decimal] = mapped_column(Numeric(7, 4), default=Decimal("100"))
    #: a share of a split sale line (``share_pct`` < 100): the whole line's net, on every share
    #: (the line's commission is computed once on it); empty on other lines
    line_net: Mapped[Decimal | None] = mapped_column(Money)
    #: a share of a split other than the first: the credited employee (the first share, whose
    #: rule applies and who takes the rounding remainder); empty on other lines
    credited_id: Mapped[int | None] = mapped_column(ForeignKey("core_employee.id"))
    due: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("commissions_statement.id"))
    reason: Mapped[str | None] = mapped_column(String(255))
    employee = relationship("Employee", foreign_keys=[employee_id])
    store = relationship("Store")
    plan = relationship("CommissionPlan")
    rule = relationship("CommissionRule")
    statement = relationship("CommissionStatement")

    def __str__(self) -> str:
        return f"{shown(self, 'kind')} {self.amount}"

    @property
    def reason_text(self) -> str:
        """Why the line was posted, in the current language: a person's reason as typed; a code
        of :data:`LINE_REASON` as its sentence, with the figures of this line (a tier clawback:
        the period of the bonus it claws back, its origin's, and the attainment, its rate)."""
        if self.reason not in LINE_REASON:
            return self.reason or ""
        from sqlalchemy import select
        from sqlalchemy.orm import object_session

        session = object_session(self)
        period = None
        if session is not None and self.origin_id is not None:
            period = session.execute(select(CommissionLine.period).where(CommissionLine.id == self.origin_id)
                                     .execution_options(banyan_unscoped=True)).scalar()
        pct = f"{Decimal(self.rate or 0).normalize():f}"
        return LINE_REASON.text(self.reason, {"period": period if period is not None else "?", "pct": pct})


describe(CommissionPolicy, name=_l("Commission policy"), labels={
    "clawback_days": _l("Clawback window (days)"), "four_eyes_threshold": _l("Second approver above")})
describe(CommissionPlan, name=_l("Commission plan"), codes={"tier_mode": TIER_MODE},
         labels={"tier_mode": _l("Tier mode")})
describe(CommissionRule, name=_l("Commission rule"), codes={"basis": BASIS, "role": EMPLOYEE_ROLE},
         labels={"rate": _l("Rate"), "basis": _l("Basis"), "plan": _l("Commission plan")})
describe(CommissionTier, name=_l("Commission tier"), labels={"from_pct": _l("From attainment (%)"),
                                                            "rate": _l("Rate (% of sales)")})
describe(CommissionAssignment, name=_l("Plan assignment"), codes={"level": LEVEL, "role": EMPLOYEE_ROLE},
         labels={"valid_from": _l("Valid from"), "valid_to": _l("Valid until"), "level": _l("Level"),
                 "plan": _l("Commission plan")})
describe(CommissionSplit, name=_l("Commission split"))
describe(CommissionSplitShare, name=_l("Split share"), labels={"percent": _l("Share (%)")})
describe(CommissionPool, name=_l("Team pool"), codes={"split_mode": POOL_MODE},
         labels={"valid_from": _l("Valid from"), "valid_to": _l("Valid until"), "split_mode": _l("Split mode")})
describe(CommissionPoolMember, name=_l("Pool member"), labels={"share": _l("Share (%)")})
describe(CommissionPoolHours, name=_l("Pool hours"), labels={"period": _l("Period (yyyymm)")})
describe(CommissionPoolEntry, name=_l("Pool entry"), codes={"kind": LINE_KIND})
describe(CommissionPoolSettlement, name=_l("Pool settlement"), labels={"period": _l("Period (yyyymm)")})
describe(CommissionTarget, name=_l("Commission target"), labels={"period": _l("Period (yyyymm)")})
describe(CommissionAccount, name=_l("Commission account"))
describe(CommissionStatement, name=_l("Commission statement"), codes={"state": STATEMENT_STATE},
         labels={"period": _l("Period (yyyymm)"), "payment_reference": _l("Payment reference"),
                 "approved_at": _l("Approved at"), "paid_at": _l("Paid at")})
describe(CommissionLine, name=_l("Commission line"), codes={"kind": LINE_KIND, "level": LEVEL, "basis": BASIS},
         labels={"due": _l("Due"), "sales_amount": _l("Credited sales"), "base_amount": _l("Base"),
                 "share_pct": _l("Share (%)"), "plan": _l("Commission plan"), "basis": _l("Basis"),
                 "line_net": _l("Net of the whole line"), "credited_id": _l("Credited employee"),
                 "level": _l("Level"), "statement": _l("Commission statement")})

MODELS = (CommissionPolicy, CommissionPlan, CommissionRule, CommissionTier, CommissionAssignment, CommissionSplit,
          CommissionSplitShare, CommissionPool, CommissionPoolMember, CommissionPoolHours, CommissionPoolEntry,
          CommissionPoolSettlement, CommissionTarget, CommissionAccount, CommissionStatement, CommissionLine)
