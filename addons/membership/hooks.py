"""Hook implementations of the membership addon: thin wrappers around ``services``."""
from __future__ import annotations

from decimal import Decimal

from core import hookimpl
from core.contrib import (Adjustment, Balance, Breach, DashboardWidget, PanelLink, PaymentMethod, PriceListKind,
                          SensitiveAction, SummaryPanel, pricing_stage)
from core.db import money
from core.errors import BusinessError
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.mixins import utcnow
from core.services.pricing import has_price_list, list_price

from addons.membership import services as svc
from addons.membership.models import MODELS


@hookimpl
def register_models():
    return MODELS


@hookimpl
def register_merge_rules():
    """The member row (PK = FK) has cards and ledgers hanging off it: ``merge_members``
    merges it in ``on_customer_merged``."""
    from core.contrib import MergeRule

    return [MergeRule("membership_member", "owner")]


@hookimpl
def register_permissions():
    from addons.membership.permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def register_record_rules():
    from addons.membership.permissions import RECORD_RULES

    return RECORD_RULES


@hookimpl
def register_jobs():
    from addons.membership.jobs import JOBS

    return JOBS


@hookimpl
def register_sensitive_actions():
    return [SensitiveAction("membership.stored_value.adjust", _l("Large manual stored-value adjustment"),
                            approvals=2, threshold=Decimal("500.00"))]


# --- checkout ------------------------------------------------------------------------------

@hookimpl
def register_price_list_kinds():
    """Member prices live in price lists of kind "member" (read by resolve_price below)."""
    return [PriceListKind("member", _l("Member"))]


@hookimpl
def resolve_price(session, product, store, customer, at):
    """Active members pay the member price list's price when the product has one."""
    if customer is None or not has_price_list(session, "member", store.id):
        return None  # no member prices in this chain or store: no member lookup either
    if not svc.is_active_member(session, customer.id):
        return None
    return list_price(session, product.id, store.id, "member", at)


@hookimpl
@pricing_stage("customer")
def price_ticket(session, ticket):
    """Tier discount per line, named after the tier; lines priced from the member price list
    get no extra tier discount. Runs in the ``customer`` stage, before promotions, which are
    then measured on what is left (core.contrib.PRICING_STAGES). The label is a lazy string
    with its arguments: the sale keeps its msgid and every reader sees it in their language."""
    tier = svc.tier_of(session, ticket.customer_id)
    if tier is None or tier.discount_rate <= 0:
        return []
    at = ticket.created_at or utcnow()
    pct = f"{(tier.discount_rate * 100).normalize():f}"
    label = _l("%(tier)s member discount %(pct)s%%", tier=tier.name, pct=pct)
    out = []
    for line in ticket.lines:
        if list_price(session, line.product_id, ticket.store_id, "member", at) is not None:
            continue
        amount = -money(line.total * tier.discount_rate)
        if amount < 0:
            out.append(Adjustment(amount=amount, rule_code=f"membership.tier.{tier.code}", label=label, line=line,
                                  priority=20))
    return out


def _capture(session, sale, amount, reference):
    """Pay with stored value. Errors name the payment's fields (``amount``: a shortfall;
    ``reference``: the card); the checkout makes them ``payments.<i>.amount`` etc."""
    customer_id = sale.customer_id
    if reference:
        card = svc.find_card(session, reference)
        if card is None:
            raise BusinessError({"reference": _l("No such card.")})
        if customer_id is not None and card.member_id != customer_id:
            raise BusinessError({"reference": _l("This card belongs to another member.")})
        customer_id = card.member_id
    if customer_id is None or svc.get_member(session, customer_id) is None:
        raise BusinessError({"_": _l("Stored value needs a member: give the customer or the card.")})
    try:
        entries = svc.spend(session, customer_id, amount, sale.store_id, user=None, card_number=reference,
                            sale_id=sale.id)
    except BusinessError as exc:
        # the card is the payment's reference
        raise BusinessError({("reference" if k == "card_number" else k): v for k, v in exc.errors.items()},
                            status=exc.status) from None
    return entries[0].card.number if entries and entries[0].card is not None else reference


def _refund(session, refund, payment, amount):
    entries = svc.refund_spend(session, payment.sale_id, amount, refund_sale_id=refund.id,
                               store_id=refund.store_id)
    return entries[0].card.number if entries and entries[0].card is not None else None


@hookimpl
def payment_methods(session, ticket, user):
    return [PaymentMethod(code="stored_value", label=_l("Stored value"), capture=_capture, refund=_refund,
                          priority=30)]


@hookimpl
def receipt_panels(session, sale):
    """The stored value left, on a receipt paid (or refunded) with stored value."""
    if sale.customer_id is None or not any(p.method == "stored_value" for p in sale.payments):
        return []
    from addons.membership.stored_value import stored_value_balance

    left = stored_value_balance(session, sale.customer_id)
    return [SummaryPanel(_l("Stored value"), ((_l("Stored value left"), f"{left:.2f}"),), priority=20,
                         addon="membership")]


@hookimpl
def validate_sale(session, sale):
    if sale.customer_id is not None:
        svc._refuse_blacklisted(session, sale.customer_id)


# --- events --------------------------------------------------------------------------------

@hookimpl
def on_sale_confirmed(session, sale):
    svc.record_sale(session, sale)


@hookimpl
def on_sale_refunded(session, refund, sale):
    svc.reverse_sale(session, refund, sale)


@hookimpl
def on_customer_merged(session, kept, removed):
    svc.merge_lists(session, kept.id)
    svc.merge_members(session, kept.id, removed.id)


# --- customer data ---------------------------------------------------------------------------

#: the member page of the back office (addons.membership.admin.MemberPage)
PAGE = "membership_member_page.index"


@hookimpl
def customer_summary(session, customer, user):
    """Status, tier, card, stored value and progress to the next tier: the party read (shared
    with every membership check of the transaction) and, for a member, one statement more
    (``summary.panel_figures``)."""
    from addons.membership.summary import panel_figures

    f = panel_figures(session, customer.id)
    listed = {"black": _l("Blacklisted"), "white": _l("Whitelisted")}.get(f.list_status)
    if f.member is None:
        fields = [(_l("Membership"), _l("Not a member"))]
        if listed:
            fields.append((_l("List"), listed))
        enrol = PanelLink(_l("Enrol"), PAGE, (("customer_id", customer.id),),
                          permission="membership.member.write", primary=True)
        return [SummaryPanel(title=_l("Membership"), fields=tuple(fields), priority=20,
                             permission="membership.member.read", addon="membership", links=(enrol,))]
    fields = [
        (_l("Status"), _(f.member.status)),
        (_l("Tier"), f.tier.name if f.tier else "-"),
        (_l("Card"), f"{f.card_number} ({_(f.card_status)})" if f.card_number else _("no active card")),
        (_l("Stored value"), f"{f.stored_value:.2f}"),
        (_l("of which bonus"), f"{f.bonus:.2f}"),
    ]
    if f.next_tier is not None:
        fields.append((_l("Next tier"), f"{f.next_tier.name} ({f.ratio * 100:.0f}%)"))
    if listed:
        fields.append((_l("List"), listed))
    links = (PanelLink(_l("Member page"), PAGE, (("customer_id", customer.id),)),)
    return [SummaryPanel(title=_l("Membership"), fields=tuple(fields), priority=20,
                         permission="membership.member.read", addon="membership", links=links)]


@hookimpl
def dashboard_widgets(session, user, store_ids):
    by_tier = svc.members_by_tier(session, store_ids)
    by_month = svc.new_members_by_month(session, store_ids)
    liab = svc.liability(session, store_ids)
    return [
        DashboardWidget("membership.members_by_tier", _l("Members by tier"), "bar",
                        {"labels": [n for n, _c in by_tier], "values": [c for _n, c in by_tier]},
                        priority=50, permission="membership.member.read"),
        DashboardWidget("membership.new_members", _l("New members per month"), "bar",
                        {"labels": [m for m, _c in by_month], "values": [c for _m, c in by_month]},
                        priority=51, permission="membership.member.read"),
        DashboardWidget("membership.liability", _l("Stored-value liability"), "number",
                        {"value": f"{liab['total']:,.2f}"}, priority=52, permission="membership.report.read"),
    ]


@hookimpl
def derived_balances(session, customer):
    if svc.get_member(session, customer.id) is None:
        return []
    sv = svc.stored_value_detail(session, customer.id)
    return [Balance("membership.stored_value", sv["total"]),
            Balance("membership.stored_value_bonus", sv["bonus"]),
            Balance("membership.tier_spend", svc.tier_spend_total(session, customer.id))]


@hookimpl
def check_invariants(session):
    return [Breach(check, message, records) for check, message, records in svc.invariant_breaches(session)]


@hookimpl
def load_demo_data(session, demo):
    from addons.membership.demo import load

    load(session, demo)


@hookimpl
def register_admin_views(app):
    from addons.membership.admin import views

    return views(app)


@hookimpl
def register_blueprints(app):
    from addons.membership.api import blueprints

    return blueprints(app)


@hookimpl
def register_importers():
    from addons.membership.importers import IMPORTERS

    return IMPORTERS


@hookimpl(optionalhook=True)
def franchise_clearing(session, date_from, date_to):
    """Stored value sold by one operating company and spent at another's stores, per pair
    (franchise nets it in the monthly statements)."""
    return [{"owed_by": a, "owed_to": b, "amount": amount, "code": "stored_value"}
            for a, b, amount in svc.clearing_between(session, date_from, date_to)]


@hookimpl(optionalhook=True)
def franchise_clearing_kinds():
    """What membership clears (:func:`franchise_clearing`), by its label."""
    from core.i18n import lazy_gettext as _l

    return [("stored_value", _l("Stored value"))]


@hookimpl
def segment_fields():
    """Tier (a choice of the tiers), stored-value balance and the expiry of the member's card
    in use (renewal reminders), for marketing segments."""
    from sqlalchemy import func, select

    from core.contrib import SegmentField
    from core.models import Customer

    from .models import Card, Member, StoredValueEntry, Tier

    def tier(params):
        return (select(Tier.code).join(Member, Member.tier_id == Tier.id)
                .where(Member.customer_id == Customer.id, Member.status == "active")
                .correlate_except(Member, Tier).scalar_subquery())

    def tiers(session):
        return [(c, n) for c, n in session.execute(select(Tier.code, Tier.name).order_by(Tier.rank))]

    def stored_value(params):
        return (select(func.coalesce(func.sum(StoredValueEntry.amount), 0))
                .where(StoredValueEntry.member_id == Customer.id)
                .correlate_except(StoredValueEntry).scalar_subquery())

    def card_expires(params):
        # the earliest expiry of the member's cards in use: the renewal that comes first
        return (select(func.min(Card.expires_at))
                .where(Card.member_id == Customer.id, Card.status.in_(("issued", "active")))
                .correlate_except(Card).scalar_subquery())

    return [SegmentField("membership.tier", _l("Tier"), "choice", tier, choices=tiers),
            SegmentField("membership.stored_value", _l("Stored value balance"), "money", stored_value,
                         minimum=0),
            SegmentField("membership.card_expires", _l("Card expires"), "date", card_expires)]


@hookimpl(optionalhook=True)
def franchise_rollup_figures(session, period_start, period_end, store_ids):
    """New members per store (enrolled there in the period) for franchise's performance
    roll-up: one grouped SELECT."""
    from sqlalchemy import func, select

    from core.i18n import lazy_gettext as _l

    from .models import Member

    stmt = (select(Member.enrol_store_id, func.count())
            .where(Member.enrolled_at >= period_start, Member.enrolled_at < period_end,
                   Member.enrol_store_id.is_not(None))
            .group_by(Member.enrol_store_id).execution_options(banyan_unscoped=True))
    if store_ids is not None:
        stmt = stmt.where(Member.enrol_store_id.in_(list(store_ids)))
    return [{"key": "new_members", "label": _l("New members"), "counts": dict(session.execute(stmt).all())}]
