"""Segments (rule trees over ``core.segments`` fields, the ready-made RFM classes and the
value/income matrix of the supermarket seed), their
live count, and the plan's audience snapshot with its random hold-out group.

Everything here runs as SQL over ``core_customer``: customers are never loaded into Python.
"""
from __future__ import annotations

import hashlib

from sqlalchemy import BigInteger, Integer, String, and_, case, cast, func, insert, literal, select, update

from core import segments as kseg
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.models import Customer

from .models import RFM_CLASS, OptOut, Plan, Recipient, Segment

#: RFM thresholds: "recent" = bought within RECENT_DAYS, "frequent" = at least FREQUENT_VISITS
#: visits in the last YEAR_DAYS, "high value" = at least HIGH_SPEND spent in them
RECENT_DAYS, YEAR_DAYS, FREQUENT_VISITS, HIGH_SPEND = 30, 365, 4, "1000"

#: the eight classic RFM classes: (recent, frequent, high value) → code, label
RFM_CLASSES = {
    (True, True, True): ("important_value", RFM_CLASS.label("important_value")),
    (False, True, True): ("important_retain", RFM_CLASS.label("important_retain")),
    (True, False, True): ("important_develop", RFM_CLASS.label("important_develop")),
    (False, False, True): ("important_winback", RFM_CLASS.label("important_winback")),
    (True, True, False): ("general_value", RFM_CLASS.label("general_value")),
    (False, True, False): ("general_retain", RFM_CLASS.label("general_retain")),
    (True, False, False): ("general_develop", RFM_CLASS.label("general_develop")),
    (False, False, False): ("general_winback", RFM_CLASS.label("general_winback")),
}
RFM_CODES = {code: (key, label) for key, (code, label) in RFM_CLASSES.items()}


def rfm_rules(code: str) -> dict:
    """The rule tree of RFM class ``code`` over the kernel's last purchase, visits and spend
    fields (so it is counted and snapshotted like any rule segment)."""
    if code not in RFM_CODES:
        raise BusinessError({"rfm_class": _l("Unknown RFM class.")})
    (recent, frequent, high), _label = RFM_CODES[code]
    days = {"days": YEAR_DAYS}
    return {"op": "and", "rules": [
        {"field": "core.last_purchase", "operator": "within_days" if recent else "not_within_days",
         "value": RECENT_DAYS},
        {"field": "core.visits", "params": days, "operator": "ge" if frequent else "lt", "value": FREQUENT_VISITS},
        {"field": "core.spend", "params": days, "operator": "ge" if high else "lt", "value": HIGH_SPEND},
    ]}


# --------------------------------------------------------------------------- value/income matrix

#: the value/income matrix of the supermarket seed: (high income, high value) → class. Income
#: is the customer's monthly income (``campaign.monthly_income``, the ``campaign_income``
#: table; unknown counts as not high), value is the year's purchases (``core.spend`` over
#: 365 days); the lines are the chain's (``campaign_policy.matrix_income``/``matrix_spend``)
MATRIX = {(True, True): "core", (True, False): "develop", (False, True): "maintain", (False, False): "drop"}
MATRIX_CODES = {code: key for key, code in MATRIX.items()}
INCOME_FIELD = "campaign.monthly_income"


def matrix_rules(session, code: str) -> dict:
    """The rule tree of value/income class ``code`` with the chain's current lines (so it is
    counted and snapshotted like any rule segment)."""
    from .consent import get_policy

    if code not in MATRIX_CODES:
        raise BusinessError({"matrix_class": [_l("Unknown value/income class.")]})
    high_income, high_value = MATRIX_CODES[code]
    policy = get_policy(session)
    income_line = str(policy.matrix_income if policy.matrix_income is not None else "8000")
    spend_line = str(policy.matrix_spend if policy.matrix_spend is not None else "5000")
    income = ({"field": INCOME_FIELD, "operator": "ge", "value": income_line} if high_income else
              {"op": "or", "rules": [{"field": INCOME_FIELD, "operator": "lt", "value": income_line},
                                     {"field": INCOME_FIELD, "operator": "empty"}]})
    return {"op": "and", "rules": [
        income, {"field": "core.spend", "params": {"days": YEAR_DAYS}, "operator": "ge" if high_value else "lt",
                 "value": spend_line}]}


def value_income_matrix(session, store_ids=None) -> list[dict]:
    """``[{code, label, high_income, high_value, count}]`` for the four classes (core,
    develop, maintain, drop), counted in the database within ``store_ids``."""
    from .models import MATRIX_CLASS

    return [{"code": code, "label": str(MATRIX_CLASS.label(code)), "high_income": hi, "high_value": hv,
             "count": count_rules(session, matrix_rules(session, code), store_ids)}
            for (hi, hv), code in MATRIX.items()]


def set_income(session, customer_id: int, monthly_income, source: str = "backoffice"):
    """Record (or change) the customer's monthly income, rounded to the cent by the kernel's
    money rule. 404 naming ``customer_id`` for an unknown customer, 422 naming
    ``monthly_income`` for a negative or unreadable amount."""
    from decimal import Decimal, InvalidOperation

    from core.db import money
    from core.errors import NotFound

    from .models import Income

    from core.db import insert_once

    if session.get(Customer, customer_id) is None:
        raise NotFound({"customer_id": [_l("No such customer.")]})
    try:
        amount = money(Decimal(str(monthly_income)))
    except (InvalidOperation, ValueError, TypeError):
        raise BusinessError({"monthly_income": [_l("Enter an amount.")]}) from None
    if amount < 0:
        raise BusinessError({"monthly_income": [_l("Enter an amount of 0 or more.")]})
    # one row per customer: inserted once (two first entries at once never fail on the key),
    # else the row, locked, takes the new amount
    if insert_once(session, Income, {"customer_id": customer_id},
                   {"monthly_income": amount, "source": source[:40], "updated_at": utcnow()}) is not None:
        return session.execute(select(Income).where(Income.customer_id == customer_id)
                               .execution_options(populate_existing=True)).scalar_one()
    row = session.execute(select(Income).where(Income.customer_id == customer_id).with_for_update()
                          .execution_options(populate_existing=True)).scalar_one()
    row.monthly_income, row.source = amount, source[:40]
    session.flush()
    return row


def rules_of(segment: Segment, session=None) -> dict:
    if segment.kind == "rfm":
        return rfm_rules(segment.rfm_class)
    if segment.kind == "matrix":
        from sqlalchemy.orm import object_session

        return matrix_rules(session or object_session(segment), segment.matrix_class)
    return segment.rules or {"op": "and", "rules": []}


def _stores(user_store_ids, *owner_store_ids):
    """The stores an audience is limited to: the user's (None = all) and, for each owner
    store given (the segment's, the plan's; None = the whole chain), that store only. The
    intersection: an empty set when they disagree."""
    out = user_store_ids
    for sid in owner_store_ids:
        if sid is None:
            continue
        out = frozenset([sid]) if out is None or sid in out else frozenset()
    return out


def plan_stores(plan: Plan, user_store_ids=None):
    """The stores the audience of ``plan`` is limited to, whoever starts, evaluates or
    previews it: the plan's own store (a store's or franchisee's plan reaches that store's
    customers only), its segment's store and, when given, the acting user's stores."""
    seg_store = plan.segment.store_id if plan.segment is not None else None
    return _stores(user_store_ids, plan.store_id, seg_store)


def count_rules(session, rules, store_ids=None, segment_store_id=None) -> int:
    """Live count of the customers ``rules`` select within ``store_ids`` (the user's stores,
    None = all) and the segment's store. Raises ``BusinessError`` on bad rules (422, keyed by
    the place in the tree). One ``SELECT count(*)`` in the database."""
    return kseg.count(session, rules, _stores(store_ids, segment_store_id))


def save_segment(session, *, name: str, rules=None, rfm_class: str | None = None, store_id=None,
                 user=None, segment: Segment | None = None, matrix_class: str | None = None) -> Segment:
    """Create (or update ``segment``) after validating the rules; stores the live count. A
    ready-made segment is an RFM class (``rfm_class``) or a value/income class
    (``matrix_class``): its rules follow the class (and the chain's current lines)."""
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [_l("Enter a name.")]
    kind = "rfm" if rfm_class else ("matrix" if matrix_class else "rules")
    if kind == "rfm" and rfm_class not in RFM_CODES:
        errors["rfm_class"] = [_l("Unknown RFM class.")]
    if kind == "matrix" and matrix_class not in MATRIX_CODES:
        errors["matrix_class"] = [_l("Unknown value/income class.")]
    if rfm_class and matrix_class:
        errors["matrix_class"] = [_l("Choose an RFM class or a value/income class, not both.")]
    tree = rules
    if kind == "rfm" and not errors:
        tree = rfm_rules(rfm_class)
    elif kind == "matrix" and not errors:
        tree = matrix_rules(session, matrix_class)
    if kind == "rules" or not errors:
        try:
            kseg.compile_rules(session, tree)
        except BusinessError as exc:
            errors.update(exc.errors)
    if errors:
        raise BusinessError(errors)
    seg = segment or Segment()
    seg.name, seg.kind, seg.store_id = name, kind, store_id
    seg.rules = rules if kind == "rules" else None
    seg.rfm_class = rfm_class if kind == "rfm" else None
    seg.matrix_class = matrix_class if kind == "matrix" else None
    if segment is None:
        seg.owner_id = getattr(user, "id", None)
        session.add(seg)
    session.flush()
    from core.security.scope import scope_of

    scope = scope_of(session)
    seg.last_count = count_rules(session, tree, scope.store_ids if scope else None, seg.store_id)
    session.flush()
    return seg


def rfm_matrix(session, store_ids=None) -> list[dict]:
    """``[{code, label, count}]`` for the eight RFM classes (eight counts in the database)."""
    return [{"code": code, "label": str(label), "count": count_rules(session, rfm_rules(code), store_ids)}
            for code, (_key, label) in RFM_CODES.items()]


# --------------------------------------------------------------------------- snapshot

def _seed(plan: Plan) -> int:
    return int(hashlib.sha256(f"campaign-holdout:{plan.code}:{plan.id}".encode()).hexdigest()[:6], 16)


def holdout_expr(plan: Plan, customer_id):
    """SQL: true for a hold-out customer (a deterministic pseudo-random draw per plan and
    customer, with probability ``holdout_share``; the same on SQLite and PostgreSQL)."""
    bucket = (cast(customer_id, BigInteger) * 2654435761 + _seed(plan)) % 1000003 % 10000
    return bucket < int(plan.holdout_share * 10000)


def consent_expr(channel: str, confirmed: bool = False, consent: str | None = ""):
    """SQL over ``core_customer``: the customer opted in to the channel (the kernel's consent
    flags) and, when ``confirmed`` (double opt-in), confirmed it by the signed link; opt-outs
    are checked separately (per list). ``consent`` is the channel adapter's consent kind
    (``ChannelAdapter.consent``): ``""`` -- the kind its code names (email, sms, wechat);
    one of those kinds; or None, no consent needed (the development outbox only). A kind the
    kernel has no consent flag for is consented by nobody: a channel reaches only customers
    who said yes to it."""
    from sqlalchemy import false, true

    from .consent import confirmed_expr

    kind = channel if consent == "" else consent
    if kind is None:
        crit = true()
    else:
        col = {"email": Customer.consent_email, "sms": Customer.consent_sms,
               "wechat": Customer.consent_wechat}.get(kind)
        crit = col.is_(True) if col is not None else false()
    return and_(crit, confirmed_expr(channel, Customer.id)) if confirmed else crit


def channel_consent(session, channel: str) -> str | None:
    """The consent kind of ``channel``'s adapter (see :func:`consent_expr`); ``""`` when no
    adapter is installed for it."""
    from core.db import RUNTIME

    from .channels import channels

    adapter = channels(RUNTIME.get(session)).get(channel)
    return adapter.consent if adapter is not None else ""


def optout_exists(channel: str, list_code: str, customer_id):
    """SQL: the customer opted out of ``channel`` for ``list_code`` or for every list."""
    return (select(OptOut.id).where(OptOut.customer_id == customer_id, OptOut.channel == channel,
                                    OptOut.list_code.in_([list_code, "*"])).exists())


def mailbox(expr):
    """SQL: an address as a mailbox (case and spaces around aside): ``LiLei@Example.com `` and
    ``lilei@example.com`` are one mailbox."""
    return func.lower(func.trim(expr))


def address_of(address, customer):
    """The channel's SQL address expression ``address`` (written over ``core_customer``)
    read on ``customer``, an alias of the customer table."""
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy.sql.util import ClauseAdapter

    expr = address.__clause_element__() if hasattr(address, "__clause_element__") else address
    return ClauseAdapter(sa_inspect(customer).selectable).traverse(expr)


def optout_mailboxes(channel: str, list_code, address):
    """``SELECT`` of the mailboxes (on ``channel``, whose SQL address over ``core_customer`` is
    ``address``) of every customer who opted out of ``list_code`` or of every list: an
    opt-out is the mailbox's, so another record of the same person (the till's and the
    membership card's, not merged) holding that address is not messaged on that list either
    (the rule of peers' blacklists, kept by address). ``list_code`` is a value or a SQL
    expression (correlated)."""
    from sqlalchemy import or_
    from sqlalchemy.orm import aliased

    other = aliased(Customer)
    addr = address_of(address, other)
    return (select(mailbox(addr)).select_from(OptOut).join(other, other.id == OptOut.customer_id)
            .where(OptOut.channel == channel, or_(OptOut.list_code == "*", OptOut.list_code == list_code),
                   addr.is_not(None), addr != ""))


def mailbox_opted_out(channel: str, list_code, address, candidate):
    """SQL: the mailbox ``candidate`` (an address expression or value) opted out of
    ``list_code`` (or every list) on ``channel``, through any customer record holding it."""
    return mailbox(candidate).in_(optout_mailboxes(channel, list_code, address))


def eligible_expr(session, plan: Plan, address):
    """SQL over ``core_customer``: the plan may message the customer now (consent on the
    plan's channel, confirmed when the chain requires a double opt-in, an address, and no
    opt-out of the plan's list, neither by the customer nor by their mailbox). ``address`` is
    the channel's SQL address expression."""
    from .consent import needs_confirmation

    return and_(consent_expr(plan.channel, needs_confirmation(session, plan.channel), channel_consent(session, plan.channel)),
                address.is_not(None),
                address != "", ~optout_exists(plan.channel, plan.list_code, Customer.id),
                ~mailbox_opted_out(plan.channel, plan.list_code, address, address))


def draw_columns(session, plan: Plan, address):
    """``(holdout, state, reason)`` SQL columns of a customer entering the plan's audience.
    The hold-out is drawn among the customers the plan could message only (``holdout`` is
    false for the others), so the control group is like the messaged group and the uplift
    measures the campaign, not consent; the others are ``skipped``, with the code of the
    first reason (``RECIPIENT_REASON``: no consent, consent not confirmed, opted out, no
    address; None for the others). A hold-out row is ``queued`` like a messaged one: the
    sender screens it at send time with the same checks (``sending.screen``) and only then
    makes it ``holdout``, so both groups lose the same customers for the same reasons."""
    from .consent import needs_confirmation

    ok = eligible_expr(session, plan, address)
    hold = and_(ok, holdout_expr(plan, Customer.id))
    reason = case((ok, literal(None, String)),
                  (~consent_expr(plan.channel), "no_consent"),
                  (~consent_expr(plan.channel, needs_confirmation(session, plan.channel)), "unconfirmed"),
                  (optout_exists(plan.channel, plan.list_code, Customer.id), "opted_out"),
                  else_="no_address")
    return hold, case((ok, "queued"), else_="skipped"), reason


def snapshot(session, plan: Plan, store_ids=None, address=None) -> dict:
    """Freeze the audience of ``plan`` into ``campaign_recipient`` with one ``INSERT ...
    SELECT`` (never loading customers): limited to the plan's store and its segment's (and
    ``store_ids``, the acting user's stores, when given), whoever starts it; customers
    without consent, with an opt-out of the plan's list, or without an address are
    ``skipped``, and the hold-out share is drawn in SQL among the others. ``address`` is the
    channel's SQL address expression. Idempotent: a second call changes nothing. Returns
    :func:`delivery_counts` (``{"total", "skipped", "queued", "holdout_drawn"}``; the hold-out
    rows are queued until the sender screens them)."""
    if plan.segment is None:
        raise BusinessError({"segment_id": _l("Choose a segment.")})
    if plan.snapshot_at is None:
        # the audience's own WHERE on core_customer (no "id IN (subquery)": one scan, as by hand)
        aud = kseg.audience(session, rules_of(plan.segment, session), plan_stores(plan, store_ids)).whereclause
        addr = address if address is not None else literal(None, type_=Customer.email.type)
        hold, state, reason = draw_columns(session, plan, addr)
        src = (select(literal(plan.id, Integer), Customer.id, Customer.home_store_id, hold, state, reason, addr,
                      literal(0, Integer))
               .where(aud).execution_options(banyan_unscoped=True))
        from .bulk import audit_matching

        # no RETURNING: the audience's ids are never held; the trail is written chunk by chunk
        session.execute(insert(Recipient).from_select(
            ["plan_id", "customer_id", "store_id", "holdout", "state", "reason", "address", "attempts"], src))
        plan.snapshot_at = utcnow()
        audit_matching(session, [Recipient.plan_id == plan.id], "create", {"snapshot": plan.code, "plan_id": plan.id})
        session.flush()
    return delivery_counts(session, plan.id)


def delivery_counts(session, plan_id: int) -> dict:
    """``{state: number of recipients, ..., "total": n, "holdout_drawn": n}`` of plan
    ``plan_id`` (one grouped query): ``holdout_drawn`` counts the rows drawn into the hold-out
    whatever their state (queued until screened, then ``holdout``, or skipped/capped)."""
    rows = session.execute(select(Recipient.state, func.count(),
                                  func.sum(case((Recipient.holdout.is_(True), 1), else_=0)))
                           .where(Recipient.plan_id == plan_id)
                           .group_by(Recipient.state).execution_options(banyan_unscoped=True)).all()
    out = {k: int(v) for k, v, _h in rows}
    out["total"] = sum(out.values())
    out["holdout_drawn"] = sum(int(h or 0) for _k, _v, h in rows)
    return out


def recheck_optouts(session, plan_id: int, channel: str, list_code: str) -> int:
    """Mark queued recipients who opted out since the snapshot as skipped (set-based, chunk
    by chunk: never every id of the audience at once). The hold-out rows are queued too, so
    both groups lose the customers who opted out. Returns how many."""
    from .bulk import update_recipients_chunked

    return update_recipients_chunked(
        session, [Recipient.plan_id == plan_id, Recipient.state == "queued",
                  optout_exists(channel, list_code, Recipient.customer_id)],
        {"state": "skipped", "reason": "opted_out", "error": None}, "opted_out", "queued", "skipped")
