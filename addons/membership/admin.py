"""Back-office views: members (with the member page), cards, tiers, stored-value ledger,
top-up bonuses, black/white list, settings, liability and clearing."""
from __future__ import annotations


from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from markupsafe import Markup, escape
from sqlalchemy import func, select

from core.admin.args import record_id
from core.admin.base import BanyanModelView, BanyanView, flash_error
from core.db import transaction
from core.errors import BusinessError
from core.i18n import gettext, lazy_gettext as _l, lazy_pgettext
from core.models import Company, Customer, Store

from addons.membership import services as svc
from addons.membership.lookup import PERMISSION, lookup_member
from addons.membership.models import (CARD_ACTION, CARD_KIND, CARD_STATUS, CARD_STATUSES, LIFT_REASON, MEMBER_STATUS,
                                      SV_KIND,
                                      TIER_CHANGE_REASON, Card, CardEvent, ClearingEntry, ListEntry, Member, Policy,
                                      StoredValueEntry, Tier, TierChange, TopupRule)

#: the member page's labels of member and card states (declared in models, core.labels)
STATUS_LABELS = {**dict(CARD_STATUS.choices()), **dict(MEMBER_STATUS.choices())}
#: labels of the codes stored in the card, ledger and tier history shown on the member page
CODE_LABELS = {**dict(TIER_CHANGE_REASON.choices()), **dict(SV_KIND.choices()), **dict(CARD_ACTION.choices()),
               **dict(CARD_KIND.choices())}


def _member_link(view, context, model, name):
    cid = getattr(model, "customer_id", None) or getattr(model, "member_id", None)
    label = getattr(model, name, None)
    return Markup(f'<a href="{url_for("membership_member_page.index", customer_id=cid)}">{escape(label)}</a>')


class MemberView(BanyanModelView):
    permission = "membership.member.read"
    write_permission = "membership.member.write"
    allow_create = allow_edit = allow_delete = False
    simple_list_pager = True
    column_list = ("customer_id", "customer", "status", "tier", "tier_locked", "enrolled_at", "enrol_store",
                   "channel", "parent_id")
    column_filters = ("status", "channel", "enrolled_at", "tier_locked")
    column_formatters = {"customer": _member_link}


class CardView(BanyanModelView):
    permission = "membership.member.read"
    write_permission = "membership.card.write"
    allow_create = allow_edit = allow_delete = False
    simple_list_pager = True
    column_list = ("number", "member", "kind", "status", "issued_at", "activated_at", "expires_at", "closed_at",
                   "issued_store", "replaced_by")
    column_searchable_list = ("number",)
    column_filters = ("status", "kind", "issued_at")
    column_formatters = {"member": _member_link}

    def _bulk(self, ids, func, done):
        from core.web import current_user, db_session

        s = db_session()
        try:
            with transaction(s):
                for card in self.selected(ids):
                    func(s, card, user=current_user())
            flash(done, "success")
        except BusinessError as exc:
            flash_error(exc, self)

    @action("activate", _l("Activate"), _l("Activate the selected cards?"))
    def action_activate(self, ids):
        self._bulk(ids, svc.activate_card, gettext("Cards activated."))

    @action("report_lost", _l("Report lost"))
    def action_report_lost(self, ids):
        """Blocks the selected cards only after the confirmation page (``confirm=1``)."""
        if request.form.get("confirm") != "1":
            cards = self.selected(ids)
            return self.render("banyan/action_confirm.html", title=_l("Report the cards lost"), action="report_lost",
                               ids=[str(c.id) for c in cards], danger=True,
                               lines=[gettext("These cards are blocked at once: they can no longer pay, be topped "
                                              "up or be looked up at the till.")] + [c.number for c in cards])
        self._bulk(ids, svc.report_lost, gettext("Cards blocked as lost."))

    @action("renew", _l("Renew"), _l("Extend the selected cards by the programme's card validity?"))
    def action_renew(self, ids):
        """Each selected card in use is extended by ``card_valid_months`` from its expiry (or
        from today when it has expired); recorded as a card event and in the audit trail."""
        self._bulk(ids, svc.renew_card, gettext("Cards renewed."))


class TierView(BanyanModelView):
    permission = "membership.member.read"
    write_permission = "membership.tier.write"
    column_list = ("rank", "code", "name", "min_spend", "min_visits", "qualify", "window_days", "grace_days",
                   "discount_rate", "points_multiplier", "active")
    form_columns = column_list
    column_default_sort = ("rank", False)

    def on_model_change(self, form, model, is_created):
        from core.web import db_session

        svc.check_tier(db_session(), model)  # the API's and save_tier's rules


class TopupRuleView(BanyanModelView):
    permission = "membership.member.read"
    write_permission = "membership.settings.write"
    allow_delete = True
    column_list = ("name", "min_amount", "bonus", "valid_from", "valid_to", "active")
    form_columns = column_list

    def on_model_change(self, form, model, is_created):
        if model.min_amount is None or model.min_amount <= 0:
            raise BusinessError({"min_amount": [gettext("Must be a positive amount.")]})
        if model.bonus is None or model.bonus < 0:
            raise BusinessError({"bonus": [gettext("Must be zero or more.")]})
        if model.valid_from and model.valid_to and model.valid_to <= model.valid_from:
            raise BusinessError({"valid_to": [gettext("Must be after the start.")]})


class PolicyView(BanyanModelView):
    permission = "membership.member.read"
    write_permission = "membership.settings.write"
    allow_create = allow_delete = False
    column_list = ("auto_enrol", "cancel_policy", "large_adjust_threshold", "card_prefix", "card_valid_months")
    form_columns = column_list

    def get_query(self):
        from core.web import db_session

        with transaction(db_session()):
            svc.install_defaults(db_session())
        return super().get_query()


class LedgerView(BanyanModelView):
    permission = "membership.member.read"
    allow_create = allow_edit = allow_delete = False
    simple_list_pager = True
    column_list = ("id", "posted_at", "member_id", "card", "kind", "amount", "bonus_amount", "issuer_store_id",
                   "at_store_id", "sale_id", "source", "note")
    column_filters = ("kind", "member_id", "issuer_store_id", "at_store_id", "posted_at")
    column_formatters = {"member_id": _member_link, "source": lambda v, c, m, n: source_text(m.source)}
    column_formatters_detail = {"source": lambda v, c, m, n: source_text(m.source)}


def source_text(source: str | None) -> str:
    """A ledger row's source by its label: ``"sale"`` -> "Sale", ``"topup_rule:2"`` (the bonus of
    top-up rule 2) -> "Top-up bonus rule #2"; None -> ""."""
    from .models import SV_SOURCE

    if not source:
        return ""
    code, _sep, ident = str(source).partition(":")
    label = str(SV_SOURCE.label(code))
    return f"{label} #{ident}" if ident else label


class ListView(BanyanModelView):
    permission = "membership.member.read"
    write_permission = "membership.list.write"
    allow_edit = False
    column_list = ("customer", "kind", "reason", "active", "created_at", "lifted_at", "lift_reason")
    column_formatters = {"lift_reason": lambda v, c, m, n: LIFT_REASON.label(m.lift_reason)}
    form_columns = ("customer", "kind", "reason")
    column_filters = ("kind", "active")

    def create_model(self, form):
        from core.web import current_user, db_session

        s = db_session()
        customer = form.customer.data
        try:
            with transaction(s):
                entry = svc.add_to_list(s, customer.id if customer else 0, form.kind.data, form.reason.data,
                                        user=current_user())
        except BusinessError as exc:
            from core.admin.base import apply_business_error

            apply_business_error(form, exc)
            return False
        return entry

    @action("lift", _l("Take off the list"), _l("Take the selected customers off the list?"))
    def action_lift(self, ids):
        from core.web import current_user, db_session

        s = db_session()
        try:
            with transaction(s):
                for entry in self.selected(ids):
                    if entry.active:
                        svc.lift_list_entry(s, entry.customer_id, "backoffice",  # LIFT_REASON
                                            user=current_user())
            flash(gettext("Taken off the list."), "success")
        except BusinessError as exc:
            flash_error(exc, self)


class ClearingView(BanyanModelView):
    permission = "membership.report.read"
    allow_create = allow_edit = allow_delete = False
    simple_list_pager = True
    column_list = ("posted_at", "from_company", "to_company", "amount", "sale_id", "member_id")
    column_filters = ("from_company_id", "to_company_id", "posted_at")


class MemberPage(BanyanView):
    """One member: tier, progress, balances, cards with their lifecycle actions, top-up,
    adjustment, list status and history. Also enrols a customer who is not a member."""

    permission = "membership.member.read"

    def _customer(self, s):
        cid = request.values.get("customer_id", type=record_id)
        if not cid:
            return None
        # record scope: the customer must be visible to this user
        return s.execute(select(Customer).where(Customer.id == cid)).scalar()

    def _search(self, s):
        """``(customer, found)`` for the search box (``?card=`` or ``?phone=``).

        The user's own members (record scope) open as always. A member outside the scope is
        looked up chain-wide through ``core.lookup`` (permission ``membership.member.lookup``,
        audited, rate-limited) and ``found`` is the till's answer: masked name, tier, whether
        stored value can pay, the balance only with the card. Nothing else of that member."""
        from core.errors import Forbidden
        from core.lookup import normalize_identifier
        from core.web import current_user, has_perm

        number = (request.args.get("card") or "").strip()
        phone = (request.args.get("phone") or "").strip()
        proof = (request.args.get("proof") or "").strip() or None
        if not number and not phone:
            return None, None
        try:
            if number:
                norm = normalize_identifier("card", number, "card_number")
                # scoped read: only cards of members this user may see
                cid = s.execute(select(Card.member_id).where(Card.number.in_({number, norm}))).scalar()
            else:
                norm = normalize_identifier("phone", phone, "phone")
                cid = s.execute(select(Member.customer_id).join(Customer, Customer.id == Member.customer_id)
                                .where(Customer.phone == norm, Customer.active.is_(True))
                                .order_by(Member.customer_id).limit(1)).scalar()
            if cid is not None:
                return s.execute(select(Customer).where(Customer.id == cid)).scalar(), None
            if not has_perm(PERMISSION):
                flash(gettext("No such card.") if number else gettext("No member with this phone number."), "error")
                return None, None
            return None, lookup_member(s, current_user(), card_number=number or None, phone=phone or None,
                                       proof=proof)
        except Forbidden:
            return None, None
        except BusinessError as exc:
            flash_error(exc, self)
            return None, None

    @expose("/", methods=["GET"])
    def index(self):
        from core.web import db_session, has_perm

        s = db_session()
        customer, found = self._search(s)
        if customer is None and found is None:
            customer = self._customer(s)
        data = None
        if customer is not None and svc.get_member(s, customer.id) is not None:
            member = svc.get_member(s, customer.id)
            cards = s.execute(select(Card).where(Card.member_id == customer.id).order_by(Card.id)
                              .execution_options(banyan_unscoped=True)).scalars().all()
            data = {
                "member": member, "tier": svc.tier_of(s, customer.id),
                "progress": svc.progress_to_next_tier(s, customer.id),
                "balance": svc.stored_value_detail(s, customer.id), "cards": cards,
                "children": svc.children_of(s, customer.id),
                "ledger": svc.stored_value_history(s, customer.id, 100),
                "events": s.execute(select(CardEvent).where(CardEvent.member_id == customer.id)
                                    .order_by(CardEvent.at.desc(), CardEvent.id.desc()).limit(100)
                                    .execution_options(banyan_unscoped=True)).scalars().all(),
                "changes": s.execute(select(TierChange).where(TierChange.member_id == customer.id)
                                     .order_by(TierChange.at.desc(), TierChange.id.desc()).limit(50)
                                     .execution_options(banyan_unscoped=True)).scalars().all(),
            }
        stores = s.execute(select(Store).where(Store.active.is_(True)).order_by(Store.code)).scalars().all()
        perms = {p: has_perm(p) for p in ("membership.member.write", "membership.card.write",
                                          "membership.stored_value.topup", "membership.stored_value.adjust",
                                          "membership.tier.write", "membership.list.write")}
        return self.render("membership/member.html", customer=customer, data=data, stores=stores, perms=perms,
                           found=found,
                           list_status=svc.list_status(s, customer.id) if customer else None,
                           tiers=svc.tiers(s), status_labels=STATUS_LABELS, code_labels=CODE_LABELS,
                           tenders=list(svc.TOPUP_TENDERS.items()))

    @expose("/do", methods=["POST"])
    def do(self):
        from core.web import current_user, db_session, has_perm

        s = db_session()
        customer = self._customer(s)
        if customer is None:
            flash(gettext("No such customer."), "error")
            return redirect(url_for(".index"))
        op = request.form.get("op", "")
        needs = {"enrol": "membership.member.write", "topup": "membership.stored_value.topup",
                 "adjust": "membership.stored_value.adjust", "set_tier": "membership.tier.write",
                 "issue": "membership.card.write", "activate": "membership.card.write",
                 "report_lost": "membership.card.write", "replace": "membership.card.write",
                 "cancel": "membership.card.write", "renew": "membership.card.write"}
        if op not in needs:
            flash(gettext("Unknown action."), "error")
            return redirect(url_for(".index", customer_id=customer.id))
        if not has_perm(needs[op]):
            return self.inaccessible_callback("do")
        user = current_user()
        f = request.form
        if op in IRREVERSIBLE and f.get("confirm") != "1":
            # nothing is done before the user has read what will happen and confirmed
            return self._confirm(s, customer, op, f)
        store_id = f.get("store_id", type=record_id)
        if store_id is not None and s.execute(select(Store.id).where(Store.id == store_id)).scalar() is None:
            flash(gettext("No such store."), "error")
            return redirect(url_for(".index", customer_id=customer.id))
        try:
            with transaction(s):
                if op == "enrol":
                    svc.enrol(s, customer.id, store_id=store_id, card_number=f.get("card_number") or None, user=user)
                    msg = gettext("Enrolled.")
                elif op == "topup":
                    # the member is at the desk and pays: how (cash, bank card) is recorded
                    # on the top-up line, as at the till; a missing one is refused on "tender"
                    entries = svc.topup(s, customer.id, f.get("amount"), store_id, user=user,
                                        card_number=f.get("card_number") or None, tender=f.get("tender", ""))
                    msg = gettext("Topped up %(amount)s.", amount=f"{sum(e.amount for e in entries):.2f}")
                elif op == "adjust":
                    status, _res = svc.adjust_or_request(s, customer.id, f.get("amount"),
                                                         f.get("reason"), user, store_id=store_id,
                                                         bonus=bool(f.get("bonus")))
                    msg = gettext("Adjusted.") if status == "done" else gettext("Sent for approval.")
                elif op == "set_tier":
                    svc.set_tier(s, customer.id, f.get("tier"), f.get("reason"), user=user, lock=bool(f.get("lock")))
                    msg = gettext("Tier changed.")
                elif op == "issue":
                    svc.issue_card(s, customer.id, number=f.get("card_number") or None, kind=f.get("kind", "physical"),
                                   store_id=store_id, user=user, activate=True)
                    msg = gettext("Card issued.")
                else:
                    card = svc.require_card(s, f.get("card_number") or "")
                    if card.member_id != customer.id:
                        raise BusinessError({"card": [gettext("This card belongs to another member.")]})
                    if op == "activate":
                        svc.activate_card(s, card, user=user, store_id=store_id)
                    elif op == "report_lost":
                        svc.report_lost(s, card, user=user, store_id=store_id)
                    elif op == "renew":
                        raw = (f.get("months") or "").strip()
                        # empty: the programme's validity; anything but a whole number is refused
                        svc.renew_card(s, card, months=(int(raw) if raw.isdigit() else -1) if raw else None,
                                       user=user, store_id=store_id)
                    elif op == "replace":
                        svc.replace_card(s, card, new_number=f.get("new_number") or None, user=user, store_id=store_id)
                    else:
                        svc.cancel_card(s, card, f.get("reason"), user=user, store_id=store_id,
                                        policy=f.get("policy") or None)
                    msg = gettext("Card updated.")
            flash(msg, "success")
        except BusinessError as exc:
            flash_error(exc, self)
        return redirect(url_for(".index", customer_id=customer.id))


    def _confirm(self, s, customer, op, form):
        """The confirmation page of an action that cannot be undone: what it will do, and a
        form that posts the same fields again with ``confirm=1``."""
        from flask import abort

        card = s.execute(select(Card).where(Card.number == (form.get("card_number") or ""),
                                            Card.member_id == customer.id)
                         .execution_options(banyan_unscoped=True)).scalar()
        if card is None:
            flash(gettext("No such card."), "error")
            return redirect(url_for(".index", customer_id=customer.id))
        if op not in IRREVERSIBLE:
            abort(400)
        lines = confirmation_lines(s, customer, op, card, form)
        fields = [(k, v) for k, v in form.items(multi=True) if k not in ("csrf_token", "confirm")]
        return self.render("membership/confirm.html", customer=customer, card=card, title=IRREVERSIBLE[op],
                           lines=lines, fields=fields, danger=op == "cancel")


#: member-page actions that cannot be undone: each asks first (``confirm=1``)
IRREVERSIBLE = {"report_lost": _l("Report the card lost"), "replace": _l("Replace the card"),
                "cancel": _l("Cancel the card")}


def confirmation_lines(s, customer, op, card, form) -> list:
    """What ``op`` on ``card`` will do, in sentences for the confirmation page; for a cancel
    that settles the stored value, the amounts refunded and forfeited (by the chosen or the
    default policy)."""
    number = card.number
    if op == "report_lost":
        return [gettext("Card %(number)s is blocked at once: it can no longer pay, be topped up or be looked up "
                        "at the till. Only a replacement card can take over.", number=number)]
    if op == "replace":
        new = (form.get("new_number") or "").strip()
        return [gettext("Card %(number)s is closed and a new card takes over: %(new)s.", number=number,
                        new=new or gettext("a generated number")),
                gettext("The stored value and the history of the old card move to the new card.")]
    policy = (form.get("policy") or "").strip() or svc.get_policy(s).cancel_policy
    others = s.execute(select(func.count()).select_from(Card).where(
        Card.member_id == customer.id, Card.id != card.id, Card.status.in_(("issued", "active")))
        .execution_options(banyan_unscoped=True)).scalar()
    lines = [gettext("Card %(number)s is cancelled for good.", number=number)]
    if others:
        lines.append(gettext("The member keeps the stored value on their other card(s)."))
        return lines
    sv = svc.stored_value_detail(s, customer.id)
    paid, bonus = sv["total"] - sv["bonus"], sv["bonus"]
    if policy == "forfeit":
        lines.append(gettext("It is the member's last card: all stored value, %(total)s (of which bonus "
                             "%(bonus)s), is forfeited.", total=f"{sv['total']:.2f}", bonus=f"{bonus:.2f}"))
    else:
        lines.append(gettext("It is the member's last card: the paid value, %(paid)s, is refunded to the "
                             "member and the bonus, %(bonus)s, is forfeited.", paid=f"{paid:.2f}",
                             bonus=f"{bonus:.2f}"))
    return lines


class LiabilityPage(BanyanView):
    """Stored value rolled forward over a period (opening, top-ups, bonus, spend, refunds,
    adjustments, transfers, forfeits, closing) by issuing store, exported to CSV or XLSX;
    outstanding stored value now by store and franchisee; clearing in the period."""

    permission = "membership.report.read"

    @expose("/")
    def index(self):
        from sqlalchemy import func

        from core.reporting import export_response, last_days, period_from_args
        from core.security.scope import scope_of
        from core.web import db_session

        s = db_session()
        scope = scope_of(s)
        store_ids = None if scope is None or scope.store_ids is None else sorted(scope.store_ids)
        errors = {}
        try:
            period = period_from_args(request.args, default_days=30)
        except BusinessError as exc:
            errors = {k: [str(m) for m in v] for k, v in exc.errors.items()}
            period = last_days(30)
        lo, hi = period.bounds()
        stores = dict(s.execute(select(Store.id, Store.name)).all())
        companies = dict(s.execute(select(Company.id, Company.name)).all())
        movements = svc.liability_movements(s, lo, hi, store_ids)
        kinds = [("opening", _l("Opening balance")), ("topup", _l("Top-ups")), ("bonus", lazy_pgettext("amount", "Bonus")),
                 ("spend", _l("Spent")), ("refund", lazy_pgettext("amount", "Refunded")), ("adjust", lazy_pgettext("amount", "Adjustments")),
                 ("transfer", _l("Transfers")), ("forfeit", _l("Forfeited")), ("closing", _l("Closing balance"))]
        fmt = request.args.get("export")
        if fmt and not errors:
            columns = [gettext("Store"), gettext("Franchisee")] + [str(label) for _k, label in kinds]
            rows = [[stores.get(r["store_id"], r["store_id"]), companies.get(r["company_id"], r["company_id"])]
                    + [r[k] for k, _label in kinds] for r in movements]
            return export_response(fmt, "stored_value_liability", columns, rows, period)
        clearing = s.execute(select(ClearingEntry.from_company_id, ClearingEntry.to_company_id,
                                    func.sum(ClearingEntry.amount))
                             .where(ClearingEntry.posted_at >= lo, ClearingEntry.posted_at < hi)
                             .group_by(ClearingEntry.from_company_id, ClearingEntry.to_company_id)).all()
        return self.render("membership/liability.html", liability=svc.liability(s, store_ids), stores=stores,
                           companies=companies, clearing=clearing, movements=movements, kinds=kinds,
                           period=period, errors=errors), 400 if errors else 200


def views(app=None):
    cat = _l("Membership")
    return [
        MemberPage(name=_l("Member page"), category=cat, endpoint="membership_member_page"),
        MemberView(Member, name=_l("Members"), category=cat, endpoint="membership_members"),
        CardView(Card, name=_l("Cards"), category=cat, endpoint="membership_cards"),
        TierView(Tier, name=_l("Tiers"), category=cat, endpoint="membership_tiers"),
        LedgerView(StoredValueEntry, name=_l("Stored-value ledger"), category=cat, endpoint="membership_ledger"),
        TopupRuleView(TopupRule, name=_l("Top-up bonuses"), category=cat, endpoint="membership_topup_rules"),
        ListView(ListEntry, name=_l("Black and white list"), category=cat, endpoint="membership_lists"),
        PolicyView(Policy, name=_l("Membership settings"), category=cat, endpoint="membership_policy"),
        ClearingView(ClearingEntry, name=_l("Stored-value clearing"), category=cat, endpoint="membership_clearing"),
        LiabilityPage(name=_l("Stored-value liability"), category=cat, endpoint="membership_liability"),
    ]


__all__ = ["views", "CARD_STATUSES"]
