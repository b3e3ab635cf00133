"""Back-office views: rules, events, promotions, coupons, rewards, ledger, member points, reports."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import expose
from sqlalchemy import select

from core.admin.base import BanyanModelView, BanyanView
from core.db import transaction
from core.errors import BusinessError
from core.i18n import gettext, lazy_gettext as _l
from core.localtime import local_days_start
from core.models import Company, Customer, Store

from . import config, services
from .models import (Coupon, EarningRule, LoyaltyEntry, LoyaltyPolicy, PointsEvent, Promotion, PromotionItem,
                     Redemption, Reward)


class RuleAdmin(BanyanModelView):
    """Configuration views: every save goes through ``config.check`` (the API's rules)."""

    permission = "loyalty.rule.read"
    write_permission = "loyalty.rule.write"
    allow_delete = True

    def on_model_change(self, form, model, is_created):
        if type(model) in config.CHECKS:
            config.sync_foreign_keys(model)
            with self.session.no_autoflush:
                config.check(self.session, model)


class EarningRuleView(RuleAdmin):
    column_list = ("code", "name", "kind", "points_per_unit", "points_per_item", "product", "category", "store",
                   "valid_from", "valid_to", "active")
    form_columns = ("code", "name", "kind", "points_per_unit", "points_per_item", "product", "category", "store",
                    "valid_from", "valid_to", "active")


class EventView(RuleAdmin):
    column_list = ("code", "name", "multiplier", "starts_at", "ends_at", "store", "active")
    form_columns = column_list


class PromotionView(RuleAdmin):
    column_list = ("code", "name", "kind", "target", "percent", "amount", "min_spend", "priority", "exclusive",
                   "requires_coupon", "valid_from", "valid_to", "active")
    form_columns = ("code", "name", "kind", "target", "percent", "amount", "min_spend", "buy_qty", "get_qty",
                    "gift_product", "members_only", "birthday_only", "requires_coupon", "store", "valid_from",
                    "valid_to", "max_uses", "per_customer_limit", "priority", "exclusive", "active")


class PromotionItemView(RuleAdmin):
    column_list = ("promotion", "product", "category", "special_price")
    form_columns = column_list


class CouponView(RuleAdmin):
    column_list = ("code", "promotion", "customer", "amount", "max_uses", "per_customer_limit", "valid_from",
                   "valid_to", "active")
    form_columns = column_list
    column_searchable_list = ("code",)
    form_args = {"max_uses": {"default": 1, "description": _l("Empty: unlimited.")}}


class RewardView(RuleAdmin):
    column_list = ("code", "name", "kind", "points_price", "stock", "product", "promotion", "active")
    form_columns = column_list


class PolicyView(RuleAdmin):
    allow_create = False
    allow_delete = False
    column_list = ("value_per_point", "expiry_mode", "expiry_months", "year_end_offset", "reminder_days",
                   "rebate_per_point", "rebate_min_points")
    form_columns = column_list


class LedgerView(BanyanModelView):
    permission = "loyalty.points.read"
    allow_create = allow_edit = allow_delete = False
    simple_list_pager = True
    column_list = ("id", "posted_at", "customer", "kind", "points", "store", "source", "note")
    column_filters = ("kind", "customer_id", "store_id", "posted_at")


class RedemptionView(BanyanModelView):
    permission = "loyalty.points.read"
    allow_create = allow_edit = allow_delete = False
    column_list = ("id", "created_at", "customer", "reward", "points", "store_id")


class MemberPointsView(BanyanView):
    """A member's points: balance, what expires soon, history; manual adjustment."""

    permission = "loyalty.points.read"

    @expose("/", methods=["GET", "POST"])
    def index(self):
        from core.web import db_session, has_perm

        s = db_session()
        cid = request.values.get("customer_id", type=int)
        customer = s.execute(select(Customer).where(Customer.id == cid)).scalar() if cid else None
        if request.method == "POST" and customer is not None:
            if not has_perm("loyalty.points.adjust"):
                return self.inaccessible_callback("index")
            try:
                with transaction(s):
                    # the typed text as it is: services.adjust checks it (core.validation.points_input)
                    services.adjust(s, customer.id, request.form.get("points", ""),
                                    note=request.form.get("note", "").strip(),
                                    store_id=request.form.get("store_id", type=int))
                flash(gettext("Points adjusted."), "success")
                return redirect(url_for(".index", customer_id=customer.id))
            except BusinessError as exc:
                for messages in exc.errors.values():
                    for text in messages:
                        flash(text, "error")
        data = None
        if customer is not None:
            pts = services.balance(s, customer.id)
            data = {"points": pts, "value": services.points_value(s, pts),
                    "soon": services.expiring_soon(s, customer_id=customer.id),
                    "history": services.history(s, customer.id, limit=100)}
        return self.render("loyalty/member_points.html", customer=customer, data=data,
                           can_adjust=has_perm("loyalty.points.adjust"))


class ReportsView(BanyanView):
    """Liability per store and franchisee, breakage, clearing, promotion results, leaderboard."""

    permission = "loyalty.report.read"

    @expose("/")
    def index(self):
        from core.web import db_session

        s = db_session()
        days = request.args.get("days", default=90, type=int)
        since = local_days_start(max(1, min(days, 3660)))  # whole local days, today included
        companies = dict(s.execute(select(Company.id, Company.name)).all())
        stores = dict(s.execute(select(Store.id, Store.name)).all())
        return self.render("loyalty/reports.html", days=days, companies=companies, stores=stores,
                           liability=services.liability(s), breakage=services.breakage(s, date_from=since),
                           clearing=services.clearing(s, date_from=since),
                           results=services.promotion_results(s, date_from=since),
                           leaders=services.leaderboard(s, date_from=since))


def views():
    cat = _l("Loyalty")
    return [
        MemberPointsView(name=_l("Member points"), category=cat, endpoint="loyalty_member_points"),
        EarningRuleView(EarningRule, name=_l("Earning rules"), category=cat, endpoint="loyalty_rules"),
        EventView(PointsEvent, name=_l("Points events"), category=cat, endpoint="loyalty_events"),
        PromotionView(Promotion, name=_l("Promotions"), category=cat, endpoint="loyalty_promotions"),
        PromotionItemView(PromotionItem, name=_l("Promotion items"), category=cat, endpoint="loyalty_promo_items"),
        CouponView(Coupon, name=_l("Coupons"), category=cat, endpoint="loyalty_coupons"),
        RewardView(Reward, name=_l("Rewards"), category=cat, endpoint="loyalty_rewards"),
        RedemptionView(Redemption, name=_l("Redemptions"), category=cat, endpoint="loyalty_redemptions"),
        LedgerView(LoyaltyEntry, name=_l("Points ledger"), category=cat, endpoint="loyalty_ledger"),
        PolicyView(LoyaltyPolicy, name=_l("Points policy"), category=cat, endpoint="loyalty_policy"),
        ReportsView(name=_l("Loyalty reports"), category=cat, endpoint="loyalty_reports"),
    ]
