"""Payments from franchisees, by hand or from a bank CSV (``register_importers``).

A payment is a ``payment`` credit on the ledger, allocated to the invoice it names (the
debit's reference: a shipment number, a statement reference ``RS-...``) and then oldest due
first; what is left is an advance, applied to the next debit. A bank reference is recorded
once per franchisee: importing the same bank file again is refused row by row on
``reference`` (nothing is recorded twice).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from core.contrib import ImportColumn, Importer
from core.db import money
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.codes import normalize_code
from core.models import Company
from core.validation import past_date

from . import credit
from .models import PAYMENT_METHOD, Payment


def record_payment(session, company_id: int, amount, received_on: date, method: str = "bank",
                   bank_reference: str | None = None, invoice: str | None = None, user=None,
                   note: str | None = None, note_code: str | None = None) -> Payment:
    """Record and allocate a payment of ``amount`` (> 0, cents). BusinessError naming
    ``amount``, ``method``, ``bank_reference`` (already recorded: references are compared in
    their canonical form, ``core.codes``, so ``r22-ref`` and ``R22-REF `` are the same
    payment), ``invoice`` (not an open invoice of this franchisee) or ``received_on`` (later
    than the chain's local today: ``core.validation.past_date``)."""
    try:
        amount = Decimal(str(amount))
    except Exception:
        raise BusinessError({"amount": _l("Must be a number.")})
    if not amount.is_finite() or amount <= 0 or money(amount) != amount:
        raise BusinessError({"amount": _l("Must be more than zero, in cents.")})
    if method not in PAYMENT_METHOD.codes:
        raise BusinessError({"method": _l("Must be one of: %(codes)s.", codes=", ".join(PAYMENT_METHOD.codes))})
    past_date(received_on, "received_on")  # a payment is recorded once it has been received
    # the franchisee must be visible to the recording user (scoped session)
    if session.execute(select(Company.id).where(Company.id == company_id)).scalar() is None:
        raise BusinessError({"company_id": _l("No such franchisee.")})
    credit.lock_account(session, company_id)
    bank_reference = normalize_code(bank_reference, strict=True, field="bank_reference")
    if bank_reference and session.execute(select(Payment.id).where(
            Payment.company_id == company_id, Payment.bank_reference == bank_reference)
            .execution_options(banyan_unscoped=True)).first():
        raise BusinessError({"bank_reference": _l("Payment %(ref)s is already recorded.", ref=bank_reference)})
    entry = credit.post_credit(session, company_id, "payment", amount, received_on, reference=bank_reference,
                               note=note, note_code=note_code, user=user, invoice=(invoice or "").strip() or None)
    p = Payment(company_id=company_id, amount=amount, received_on=received_on, method=method,
                bank_reference=bank_reference, invoice_reference=(invoice or "").strip() or None, entry_id=entry.id,
                user_id=getattr(user, "id", None))
    session.add(p)
    session.flush()
    return p


COLUMNS = (
    ImportColumn("date", _l("Date"), required=True, type="date", help=_l("The day the money arrived.")),
    ImportColumn("amount", _l("Amount"), required=True, type="money", help=_l("More than zero, at most two decimals.")),
    ImportColumn("franchisee", _l("Franchisee"), required=True, type="code", help=_l("Code of the paying company.")),
    ImportColumn("reference", _l("Bank reference"), required=True,
                 help=_l("The bank's reference: a payment is recorded once.")),
    ImportColumn("invoice", _l("Invoice"), help=_l("Reference of the invoice paid; blank: oldest first.")),
)


def parse(ctx, v: dict) -> dict:
    if v["amount"] is None or v["amount"] <= 0:
        raise BusinessError({"amount": _l("Must be more than zero.")})
    company = ctx.session.execute(select(Company).where(Company.code == v["franchisee"],
                                                        Company.kind == "franchisee")).scalar()
    if company is None:
        raise BusinessError({"franchisee": _l("No such franchisee.")})
    return {**v, "company_id": company.id}


def load(ctx, v: dict) -> None:
    try:
        record_payment(ctx.session, v["company_id"], v["amount"], v["date"], "bank", v["reference"], v.get("invoice"),
                       user=ctx.user, note_code="import")
    except BusinessError as exc:  # the file's columns are ``reference`` and ``date``
        names = {"bank_reference": "reference", "received_on": "date"}
        raise BusinessError({names.get(k, k): m for k, m in exc.errors.items()}) from None


IMPORTERS = (
    Importer("franchise.payments", _l("Franchisee payments (bank file)"), COLUMNS, "franchise.payment.write", parse,
             load_row=load, unique=("reference",), priority=60),
)
