"""REST API of the membership addon, mounted under ``/api/v1/membership/``.

Member details and history obey the user's record scope (the customer's home store). The
card/phone lookup works chain-wide, as a membership is valid in every store, through the
kernel's lookup service (``addons/membership/lookup.py``, ``core.lookup``): exact
identifiers only, the least data, audited, rate-limited per user.

The tiers (read: ``membership.member.read``; create, change, deactivate:
``membership.tier.write`` and a user who sees every store, as tiers are chain-wide) and the
stored-value liability (with breakage) and clearing reports (``membership.report.read``,
limited to the user's stores as in the back office) are here for chains running their own
tills and apps. Tier rules live once in ``tiers.check_tier``.

Rows named by a request follow the kernel's rule (:mod:`core.api.visible`): a customer, a
tier or a card in the path that the user's scope does not show is 404 (the same as one that
does not exist); a customer or store in a body is 422 naming the field.
"""
from __future__ import annotations

from sqlalchemy import select

from core.api import Blueprint, paginate_select, request_user, requires
from core.api.visible import get_visible, ref_visible, scope_store_ids
from core.db import money, transaction
from core.errors import BusinessError, NotFound
from core.fields import CONTROL_CHARS
from core.i18n import lazy_gettext as _l
from core.idempotency import idempotent
from core.models import Customer, Store
from core.web import db_session

from addons.membership import schemas as S
from addons.membership import services as svc
from addons.membership.lookup import PERMISSION, lookup_member
from addons.membership.models import Card, CardEvent, ClearingEntry, Tier, TierChange

blp = Blueprint("membership", __name__, url_prefix="", description="Members, cards, tiers and stored value")


def _store_id(store_id, field: str = "store_id") -> int | None:
    """A store named in a body, checked against the user's scope (422 naming ``field``)."""
    ref_visible(Store, store_id, field)
    return store_id


def member_out(s, customer_id: int) -> dict:
    member = svc.require_member(s, customer_id)
    customer = s.execute(select(Customer).where(Customer.id == customer_id)
                         .execution_options(banyan_unscoped=True)).scalar()
    progress = svc.progress_to_next_tier(s, customer_id)
    cards = s.execute(select(Card).where(Card.member_id == customer_id).order_by(Card.id)
                      .execution_options(banyan_unscoped=True)).scalars().all()
    return {"customer_id": customer_id, "name": customer.name if customer else "", "status": member.status,
            "tier": svc.tier_of(s, customer_id), "tier_locked": member.tier_locked, "parent_id": member.parent_id,
            "enrolled_at": member.enrolled_at, "list_status": svc.list_status(s, customer_id), "cards": cards,
            "balance": {"customer_id": customer_id, **svc.stored_value_detail(s, customer_id)},
            "progress": progress}


def _card_in_scope(number: str) -> Card:
    """The card, when its member is in the user's record scope. Another franchisee's card
    gets the same 404 on ``card`` as a number that does not exist: card actions are no way
    to learn which numbers exist (finding a member chain-wide is ``/lookup``'s job)."""
    card = None if CONTROL_CHARS.search(number) else svc.find_card(db_session(), number)
    if card is None:
        raise NotFound({"card": _l("Not found.")})
    get_visible(Customer, card.member_id, "card")
    return card


@blp.route("/members", methods=["POST"])
@requires("membership.member.write")
@blp.arguments(S.EnrolIn)
@blp.response(201, S.MemberOut)
def enrol(data):
    """Enrol a customer (an active card is issued: the scanned number or a generated one)."""
    s = db_session()
    ref_visible(Customer, data["customer_id"], "customer_id")
    ref_visible(Customer, data["parent_customer_id"], "parent_customer_id")
    with transaction(s):
        svc.enrol(s, data["customer_id"], store_id=_store_id(data["store_id"]), card_number=data["card_number"],
                  user=request_user(), channel="api", parent_customer_id=data["parent_customer_id"])
    return member_out(s, data["customer_id"])


@blp.route("/members/<int:customer_id>", methods=["GET"])
@requires("membership.member.read")
@blp.response(200, S.MemberOut)
def get_member(customer_id):
    """A member: tier, progress to the next tier, cards and stored-value balance."""
    get_visible(Customer, customer_id, "customer_id")
    return member_out(db_session(), customer_id)


@blp.route("/lookup", methods=["GET"])
@requires(PERMISSION)
@blp.arguments(S.LookupQuery, location="query")
@blp.response(200, S.LookupOut)
@blp.alt_response(403, description="the user's roles do not serve customers (no membership.member.lookup)")
@blp.alt_response(404, description="no member has exactly this card number or phone")
@blp.alt_response(422, description="a malformed phone or card number, a lost card, or a proof card that is not the member's")
@blp.alt_response(429, description="too many lookups by this user; the Retry-After header gives the seconds to wait")
def lookup(args):
    """Find any member of the chain by exact card number or exact phone, for the till.

    Answers the least needed to serve: a masked name, the status, the tier and whether
    stored value can pay. The balance only with the card: a lookup by card number, or
    ``proof=<card number>`` beside a phone. Never card numbers or contact data. Each lookup
    is audited and rate-limited per user (settings ``[lookup]``)."""
    return lookup_member(db_session(), request_user(), card_number=args["card_number"], phone=args["phone"],
                         proof=args["proof"])


@blp.route("/members/<int:customer_id>/cards", methods=["POST"])
@requires("membership.card.write")
@idempotent()
@blp.arguments(S.IssueIn)
@blp.response(201, S.CardOut)
def issue(data, customer_id):
    """Issue a new card to a member."""
    s = db_session()
    get_visible(Customer, customer_id, "customer_id")
    with transaction(s):
        card = svc.issue_card(s, customer_id, number=data["card_number"], kind=data["kind"],
                              store_id=_store_id(data["store_id"]), user=request_user(),
                              activate=data["activate"])
    return card


def _card_action(number, data, func, **extra):
    s = db_session()
    card = _card_in_scope(number)
    with transaction(s):
        result = func(s, card, user=request_user(), store_id=_store_id(data.get("store_id")), **extra)
    return result


@blp.route("/cards/<string:number>/activate", methods=["POST"])
@requires("membership.card.write")
@blp.arguments(S.CardActionIn)
@blp.response(200, S.CardOut)
def activate(data, number):
    """issued -> active."""
    return _card_action(number, data, svc.activate_card)


@blp.route("/cards/<string:number>/report-lost", methods=["POST"])
@requires("membership.card.write")
@blp.arguments(S.CardActionIn)
@blp.response(200, S.CardOut)
def report_lost(data, number):
    """Block the card at once."""
    return _card_action(number, data, svc.report_lost, note=data.get("note"))


@blp.route("/cards/<string:number>/replace", methods=["POST"])
@requires("membership.card.write")
@idempotent()
@blp.arguments(S.ReplaceIn)
@blp.response(201, S.CardOut)
def replace(data, number):
    """Replace the card; returns the new card (balance and history carried over)."""
    return _card_action(number, data, svc.replace_card, new_number=data.get("new_number"))


@blp.route("/cards/<string:number>/renew", methods=["POST"])
@requires("membership.card.write")
@idempotent()
@blp.arguments(S.RenewIn)
@blp.response(200, S.CardOut)
def renew(data, number):
    """Extend the card's validity by ``months`` (default: the programme's card validity),
    from its current expiry or from now when it has expired."""
    return _card_action(number, data, svc.renew_card, months=data.get("months"), note=data.get("note"))


@blp.route("/cards/<string:number>/cancel", methods=["POST"])
@requires("membership.card.write")
@idempotent()
@blp.arguments(S.CancelIn)
@blp.response(200, S.CardOut)
def cancel(data, number):
    """Cancel the card (stored value refunded or forfeited by policy if it was the last card)."""
    return _card_action(number, data, svc.cancel_card, reason=data["reason"], policy=data.get("policy"))


@blp.route("/members/<int:customer_id>/topup", methods=["POST"])
@requires("membership.stored_value.topup")
@idempotent()
@blp.arguments(S.TopupIn)
@blp.response(201, S.BalanceOut)
def topup(data, customer_id):
    """Top up stored value (the best top-up bonus rule adds its bonus)."""
    s = db_session()
    if data.get("customer_ref"):  # a member of any store, found by a lookup at this till
        from core.lookup import read_customer_ref
        from core.security.scope import grant_customer

        if read_customer_ref(s, request_user(), data["customer_ref"]).customer_id != customer_id:
            raise BusinessError({"customer_ref": [_l("This reference is for another customer.")]})
        grant_customer(s, customer_id)
    else:
        get_visible(Customer, customer_id, "customer_id")
    with transaction(s):
        svc.topup(s, customer_id, data["amount"], _store_id(data["store_id"]), user=request_user(),
                  card_number=data["card_number"], note=data["note"], tender=data["tender"])
    return {"customer_id": customer_id, **svc.stored_value_detail(s, customer_id)}


@blp.route("/members/<int:customer_id>/adjust", methods=["POST"])
@requires("membership.stored_value.adjust")
@idempotent()
@blp.arguments(S.AdjustIn)
@blp.response(200, S.AdjustOut)
def adjust(data, customer_id):
    """Manual adjustment with a reason; large ones become a four-eyes approval request."""
    s = db_session()
    get_visible(Customer, customer_id, "customer_id")
    with transaction(s):
        status, result = svc.adjust_or_request(s, customer_id, data["amount"], data["reason"], request_user(),
                                               store_id=_store_id(data["store_id"]), bonus=data["bonus"])
    return {"status": status, "approval_request_id": result.id if status == "pending" else None,
            "balance": {"customer_id": customer_id, **svc.stored_value_detail(s, customer_id)}}


@blp.route("/members/<int:customer_id>/balance", methods=["GET"])
@requires("membership.member.read")
@blp.response(200, S.BalanceOut)
def balance(customer_id):
    """Stored-value balance: total, paid value and bonus value."""
    s = db_session()
    get_visible(Customer, customer_id, "customer_id")
    svc.require_member(s, customer_id)
    return {"customer_id": customer_id, **svc.stored_value_detail(s, customer_id)}


@blp.route("/members/<int:customer_id>/history", methods=["GET"])
@requires("membership.member.read")
@blp.arguments(S.HistoryQuery, location="query")
@blp.response(200, S.HistoryOut)
def history(args, customer_id):
    """Stored-value ledger, card events and tier changes, newest first."""
    s = db_session()
    get_visible(Customer, customer_id, "customer_id")
    svc.require_member(s, customer_id)
    limit = args["limit"]
    events = s.execute(select(CardEvent).where(CardEvent.member_id == customer_id)
                       .order_by(CardEvent.at.desc(), CardEvent.id.desc()).limit(limit)).scalars().all()
    changes = s.execute(select(TierChange).where(TierChange.member_id == customer_id)
                        .order_by(TierChange.at.desc(), TierChange.id.desc()).limit(limit)).scalars().all()
    return {"stored_value": svc.stored_value_history(s, customer_id, limit),
            "cards": events,
            "tiers": [{"from_tier": c.from_tier.name if c.from_tier else None,
                       "to_tier": c.to_tier.name if c.to_tier else None, "reason": c.reason, "note": c.note,
                       "note_code": c.note_code, "note_args": c.note_args,
                       "sale_id": c.sale_id, "at": c.at} for c in changes]}


# --------------------------------------------------------------------------- tiers

@blp.route("/tiers", methods=["GET"])
@requires("membership.member.read")
@blp.arguments(S.TierQuery, location="query")
@blp.response(200, S.TierDetailOut(many=True))
@blp.paginate()
def list_tiers(args, pagination_parameters):
    """Tiers by rank (lowest first)."""
    stmt = select(Tier).order_by(Tier.rank, Tier.id)
    if "active" in args:
        stmt = stmt.where(Tier.active.is_(args["active"]))
    return paginate_select(db_session(), stmt, pagination_parameters)


@blp.route("/tiers", methods=["POST"])
@requires("membership.tier.write")
@blp.arguments(S.TierIn)
@blp.response(201, S.TierDetailOut)
def create_tier(data):
    """Create a tier (chain-wide: only a user who sees every store)."""
    s = db_session()
    with transaction(s):
        tier = svc.update_tier(s, Tier(), **data)
    return tier


@blp.route("/tiers/<int:tier_id>", methods=["GET"])
@requires("membership.member.read")
@blp.response(200, S.TierDetailOut)
def get_tier(tier_id):
    """One tier."""
    return get_visible(Tier, tier_id)


@blp.route("/tiers/<int:tier_id>", methods=["PATCH"])
@requires("membership.tier.write")
@blp.arguments(S.TierPatch)
@blp.response(200, S.TierDetailOut)
def update_tier(data, tier_id):
    """Change some fields of a tier (its code stays)."""
    s = db_session()
    with transaction(s):
        tier = svc.update_tier(s, get_visible(Tier, tier_id), **data)
    return tier


@blp.route("/tiers/<int:tier_id>/deactivate", methods=["POST"])
@requires("membership.tier.write")
@blp.response(200, S.TierDetailOut)
def deactivate_tier(tier_id):
    """Switch a tier off: no one is upgraded into it any more (members keep their history)."""
    s = db_session()
    with transaction(s):
        tier = svc.update_tier(s, get_visible(Tier, tier_id), active=False)
    return tier


# --------------------------------------------------------------------------- reports

@blp.route("/reports/liability", methods=["GET"])
@requires("membership.report.read")
@blp.response(200, S.StoredValueLiabilityOut)
def liability_report():
    """Outstanding stored value by issuing store and franchisee, and breakage (value
    forfeited on cancelled cards), over the stores you may see."""
    ids = scope_store_ids()
    return svc.liability(db_session(), None if ids is None else sorted(ids))


@blp.route("/reports/clearing", methods=["GET"])
@requires("membership.report.read")
@blp.arguments(S.StoredValueClearingQuery, location="query")
@blp.response(200, S.StoredValueClearingOut(many=True))
def clearing_report(args):
    """What one operating company owes another for stored value its members spent at the
    other's stores, per pair (the clearing entries you may see, i.e. of your companies)."""
    from sqlalchemy import func

    stmt = (select(ClearingEntry.from_company_id, ClearingEntry.to_company_id, func.sum(ClearingEntry.amount))
            .group_by(ClearingEntry.from_company_id, ClearingEntry.to_company_id)
            .order_by(ClearingEntry.from_company_id, ClearingEntry.to_company_id))
    if args.get("date_from"):
        stmt = stmt.where(ClearingEntry.posted_at >= args["date_from"])
    if args.get("date_to"):
        stmt = stmt.where(ClearingEntry.posted_at < args["date_to"])
    return [{"from_company_id": a, "to_company_id": b, "amount": money(t or 0)}
            for a, b, t in db_session().execute(stmt)]


def blueprints(app):
    return [blp]
