"""REST API of the loyalty addon, mounted under ``/api/v1/loyalty/``.

Besides the till's calls (balance, redeem, transfer, coupon check, preview), the chain's
configuration: earning rules, points events, promotions with their items, coupons and the
points policy (read: ``loyalty.rule.read``, write: ``loyalty.rule.write``), and the points
liability, breakage and clearing reports (``loyalty.report.read``). They have the back
office's permissions and record scope (a user limited to some stores sees their rows and
the chain-wide ones) and its rules, which live in :mod:`addons.loyalty.config`: a store
reference outside the writer's stores is 422, and only a user who sees every store may
create or change a chain-wide row (no store) or the policy.

Rows named by a request follow the kernel's rule (:mod:`core.api.visible`): a customer,
promotion, rule, event, coupon or item in the path that the user's scope does not show is
404 (the same as one that does not exist); a customer or store in a body or a query string
is 422 naming the field. ``/coupons/validate`` answers through ``core.lookup`` (audited,
rate-limited, exact code) and only about customers and stores the user may see.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select

from core.api import Blueprint, paginate_select, request_user, requires
from core.api.visible import get_visible, ref_visible
from core.db import money, search_like, transaction
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.idempotency import idempotent, user_key
from core.mixins import utcnow
from core.models import Customer, Store
from core.web import db_session

from . import config, promotions, services
from . import schemas as S
from .models import Coupon, EarningRule, PointsEvent, Promotion, PromotionItem

blp = Blueprint("loyalty", __name__, url_prefix="", description="Points, rewards, coupons and promotions")


def _customer(customer_id: int) -> Customer:
    """The customer of the path if the user's scope shows it, else 404 on ``customer_id``."""
    return get_visible(Customer, customer_id, "customer_id")


def _store(store_id, field="store_id"):
    """A store named in a body or query, checked against the user's scope (422 naming ``field``)."""
    ref_visible(Store, store_id, field)
    return store_id


@blp.route("/customers/<int:customer_id>/balance", methods=["GET"])
@requires("loyalty.points.read")
@blp.response(200, S.LoyaltyBalanceOut)
def balance(customer_id):
    """Points balance, its value and the points expiring soon."""
    s = db_session()
    _customer(customer_id)
    pts = services.spendable(s, customer_id)
    soon = services.expiring_soon(s, customer_id=customer_id)
    return {"customer_id": customer_id, "points": pts, "value": services.points_value(s, pts),
            "expiring_soon": soon[0]["points"] if soon else 0,
            "first_expiry": soon[0]["first_expiry"] if soon else None}


@blp.route("/customers/<int:customer_id>/history", methods=["GET"])
@requires("loyalty.points.read")
@blp.arguments(S.LoyaltyHistoryQuery, location="query")
@blp.response(200, S.LoyaltyEntryOut(many=True))
def history(args, customer_id):
    """Ledger postings, newest first."""
    _customer(customer_id)
    return services.history(db_session(), customer_id, limit=args["limit"], offset=args["offset"])


@blp.route("/customers/<int:customer_id>/redeem", methods=["POST"])
@requires("loyalty.points.redeem")
@idempotent()
@blp.arguments(S.LoyaltyRedeemIn)
@blp.response(201, S.LoyaltyRedemptionOut)
def redeem(data, customer_id):
    """Exchange points for a catalog reward."""
    s = db_session()
    _customer(customer_id)
    with transaction(s):
        red = services.redeem_reward(s, customer_id, data["reward_id"], store_id=_store(data["store_id"]),
                                     key=user_key(request_user(), data["idempotency_key"], "api-redeem:"))
        code = s.get(Coupon, red.coupon_id).code if red.coupon_id else None
        out = {"id": red.id, "reward_id": red.reward_id, "points": red.points, "coupon_code": code,
               "balance": services.spendable(s, customer_id)}
    return out


@blp.route("/customers/<int:customer_id>/transfer", methods=["POST"])
@requires("loyalty.points.redeem")
@idempotent()
@blp.arguments(S.LoyaltyTransferIn)
@blp.response(201, S.LoyaltyTransferOut)
def transfer(data, customer_id):
    """Give points to another member."""
    s = db_session()
    _customer(customer_id)
    ref_visible(Customer, data["to_customer_id"], "to_customer_id")
    with transaction(s):
        services.transfer(s, customer_id, data["to_customer_id"], data["points"], note=data["note"],
                          key=user_key(request_user(), data["idempotency_key"], "api-transfer:"))
        out = {"from_balance": services.spendable(s, customer_id),
               "to_balance": services.spendable(s, data["to_customer_id"])}
    return out


COUPON_TARGET = "loyalty.coupon"


@blp.route("/coupons/validate", methods=["GET"])
@requires("loyalty.points.read")
@blp.arguments(S.LoyaltyCouponQuery, location="query")
@blp.response(200, S.LoyaltyCouponOut)
@blp.alt_response(429, description="too many coupon checks by this user; the Retry-After header gives the seconds")
def validate_coupon(args):
    """Whether a coupon code can be used now (for this customer and store).

    Answers only about what you may see: a coupon of another franchisee's promotion or bound
    to a customer outside your scope is an unknown code, and a ``customer_id`` or
    ``store_id`` outside your scope is 422 naming it. Each check goes through the kernel's
    lookup service (``core.lookup``): exact code, audited, rate-limited per user (settings
    ``[lookup]``), so codes and their owners cannot be walked."""
    from core.errors import NotFound
    from core.lookup import LookupHit, LookupTarget, lookup

    s = db_session()
    ref_visible(Customer, args["customer_id"], "customer_id")
    ref_visible(Store, args["store_id"], "store_id")

    def find(session, kind, value):
        coupon = promotions.find_coupon(session, value)  # the scoped session: only coupons you may see
        if coupon is None:
            return None
        return LookupHit(customer_id=coupon.customer_id, record_id=f"coupon:{coupon.id}", proven=True,
                         data={"coupon": coupon})

    def answer(session, hit, proven):
        coupon = hit.data["coupon"]
        problem = promotions.coupon_problem(session, coupon, args["customer_id"], args["store_id"], utcnow())
        return {"code": coupon.code, "valid": problem is None, "promotion": coupon.promotion.name,
                "reason": str(problem) if problem else None}

    target = LookupTarget(name=COUPON_TARGET, permission="loyalty.points.read", kinds=("code",), find=find,
                          answer=answer, min_length=1)
    try:
        return lookup(s, request_user(), target, "code", args["code"], field="code")
    except NotFound:  # audited as "missing"; the till's answer stays a reason, as for any unusable code
        return {"code": promotions.normalise(args["code"]), "valid": False, "promotion": "",
                "reason": str(_l("Unknown coupon code."))}


@blp.route("/preview", methods=["POST"])
@requires("core.sale.create")
@blp.arguments(S.LoyaltyPreviewIn)
@blp.response(200, S.LoyaltyPreviewOut)
def preview(data):
    """Price a ticket with its promotions and the points it would earn (nothing is saved)."""
    from core.services.checkout import CheckoutRequest, LineRequest

    s = db_session()
    _store(data["store_id"])
    ref_visible(Customer, data["customer_id"], "customer_id")
    req = CheckoutRequest(store_id=data["store_id"], customer_id=data["customer_id"],
                          lines=[LineRequest(ln["product_id"], ln["qty"]) for ln in data["lines"]],
                          codes=data["codes"])
    try:
        return services.preview_promotions(s, req)
    finally:
        s.rollback()


# ---------------------------------------------------------------------------------------
# configuration: earning rules, events, promotions, coupons (list, detail, create, PATCH,
# deactivate), promotion items, the policy
# ---------------------------------------------------------------------------------------

READ, WRITE, REPORT = "loyalty.rule.read", "loyalty.rule.write", "loyalty.report.read"


def _endpoint(rule, methods, name, func, doc, permission, args=(), response=None, status=200, paginate=False):
    """Register ``func`` as ``name`` (decorators in the kernel's order: route, requires,
    arguments, response, paginate)."""
    func.__name__ = func.__qualname__ = name
    func.__doc__ = doc
    view = func
    if paginate:
        view = blp.paginate()(view)
    if response is not None:
        view = blp.response(status, response)(view)
    for schema, location in reversed(args):
        view = blp.arguments(schema, location=location)(view)
    view = requires(permission)(view)
    return blp.route(rule, methods=methods, endpoint=name)(view)


def _config_resource(path: str, model, out, create_in, patch_in, query, what: str):
    """GET list (paginated, filtered), POST, GET one, PATCH, POST .../deactivate of ``model``."""
    key = path.strip("/").replace("-", "_")

    def list_rows(args, pagination_parameters):
        stmt = select(model).order_by(model.code, model.id)
        if "active" in args:
            stmt = stmt.where(model.active.is_(args["active"]))
        if args.get("q"):
            stmt = stmt.where(or_(search_like(model.code, args["q"], case_sensitive=True),
                                  search_like(model.name, args["q"], case_sensitive=True)))
        if args.get("code"):
            stmt = stmt.where(model.code == promotions.normalise(args["code"]))
        for col in ("store_id", "kind", "promotion_id", "customer_id"):
            if args.get(col):
                stmt = stmt.where(getattr(model, col) == args[col])
        if "chain_wide" in args:
            stmt = stmt.where(model.store_id.is_(None) if args["chain_wide"] else model.store_id.is_not(None))
        return paginate_select(db_session(), stmt, pagination_parameters)

    def create(data):
        s = db_session()
        with transaction(s):
            row = config.save(s, model(), data)
        return row

    def get_one(ident):
        return get_visible(model, ident)

    def update(data, ident):
        s = db_session()
        with transaction(s):
            row = config.save(s, get_visible(model, ident), data)
        return row

    def deactivate(ident):
        s = db_session()
        with transaction(s):
            row = config.deactivate(s, get_visible(model, ident))
        return row

    _endpoint(path, ["GET"], f"list_{key}", list_rows, f"{what}: those of your stores and the chain-wide ones.",
              READ, args=[(query, "query")], response=out(many=True), paginate=True)
    _endpoint(path, ["POST"], f"create_{key}", create,
              f"Create one of the {what.lower()} (no ``store_id``: chain-wide, for a user who sees every store).",
              WRITE, args=[(create_in, "json")], response=out, status=201)
    _endpoint(f"{path}/<int:ident>", ["GET"], f"get_{key}", get_one, f"One of the {what.lower()}.", READ,
              response=out)
    _endpoint(f"{path}/<int:ident>", ["PATCH"], f"update_{key}", update,
              f"Change some fields of one of the {what.lower()} (the back office's rules).", WRITE,
              args=[(patch_in, "json")], response=out)
    _endpoint(f"{path}/<int:ident>/deactivate", ["POST"], f"deactivate_{key}", deactivate,
              f"Switch one of the {what.lower()} off (it is kept, with its history).", WRITE, response=out)


_config_resource("/earning-rules", EarningRule, S.EarningRuleOut, S.EarningRuleIn, S.EarningRulePatch,
                 S.ConfigQuery, "Earning rules")
_config_resource("/events", PointsEvent, S.EventOut, S.EventIn, S.EventPatch, S.ConfigQuery, "Points events")


def _prefixed(exc: BusinessError, prefix: str) -> BusinessError:
    return BusinessError({f"{prefix}.{k}": v for k, v in exc.errors.items()}, status=exc.status)


@blp.route("/promotions", methods=["POST"])
@requires(WRITE)
@blp.arguments(S.PromotionIn)
@blp.response(201, S.PromotionOut)
def create_promotion(data):
    """Create a promotion with its items (no ``store_id``: chain-wide, for a user who sees
    every store). Item errors are named ``items.<i>.<field>``."""
    s = db_session()
    items = data.pop("items")
    with transaction(s):
        promo = config.save(s, Promotion(), data)
        for i, item in enumerate(items):
            try:
                config.save(s, PromotionItem(promotion_id=promo.id), item)
            except BusinessError as exc:
                raise _prefixed(exc, f"items.{i}") from None
    return promo


@blp.route("/promotions/<int:ident>", methods=["GET"])
@requires(READ)
@blp.response(200, S.PromotionOut)
def get_promotion(ident):
    """One promotion with its items."""
    return get_visible(Promotion, ident)


@blp.route("/promotions/<int:ident>", methods=["PATCH"])
@requires(WRITE)
@blp.arguments(S.PromotionPatch)
@blp.response(200, S.PromotionOut)
def update_promotion(data, ident):
    """Change some fields of a promotion (its items: ``/promotions/<id>/items``)."""
    s = db_session()
    with transaction(s):
        promo = config.save(s, get_visible(Promotion, ident), data)
    return promo


@blp.route("/promotions/<int:ident>/deactivate", methods=["POST"])
@requires(WRITE)
@blp.response(200, S.PromotionOut)
def deactivate_promotion(ident):
    """Switch a promotion off (kept, with its uses)."""
    s = db_session()
    with transaction(s):
        promo = config.deactivate(s, get_visible(Promotion, ident))
    return promo


@blp.route("/promotions", methods=["GET"])
@requires(READ)
@blp.arguments(S.PromotionQuery, location="query")
@blp.response(200, S.PromotionOut(many=True))
@blp.paginate()
def list_promotions(args, pagination_parameters):
    """Promotions: those of your stores and the chain-wide ones, with their items."""
    stmt = select(Promotion).order_by(Promotion.priority, Promotion.code, Promotion.id)
    if "active" in args:
        stmt = stmt.where(Promotion.active.is_(args["active"]))
    if args.get("q"):
        stmt = stmt.where(or_(search_like(Promotion.code, args["q"], case_sensitive=True),
                              search_like(Promotion.name, args["q"], case_sensitive=True)))
    if args.get("store_id"):
        stmt = stmt.where(Promotion.store_id == args["store_id"])
    if "chain_wide" in args:
        stmt = stmt.where(Promotion.store_id.is_(None) if args["chain_wide"] else Promotion.store_id.is_not(None))
    if args.get("kind"):
        stmt = stmt.where(Promotion.kind == args["kind"])
    return paginate_select(db_session(), stmt, pagination_parameters)


def _item(ident: int, item_id: int) -> PromotionItem:
    """Item ``item_id`` of promotion ``ident``: 404 on ``id`` for the promotion, on ``item_id``
    for an item of another promotion or none."""
    promo = get_visible(Promotion, ident)
    return get_visible(PromotionItem, item_id, "item_id", where=[PromotionItem.promotion_id == promo.id])


@blp.route("/promotions/<int:ident>/items", methods=["POST"])
@requires(WRITE)
@blp.arguments(S.PromotionItemIn)
@blp.response(201, S.PromotionItemOut)
def add_promotion_item(data, ident):
    """Add a product or a category (with its special price for a special-price promotion)."""
    s = db_session()
    promo = get_visible(Promotion, ident)
    with transaction(s):
        item = config.save(s, PromotionItem(promotion_id=promo.id), data)
    return item


@blp.route("/promotions/<int:ident>/items/<int:item_id>", methods=["PATCH"])
@requires(WRITE)
@blp.arguments(S.PromotionItemPatch)
@blp.response(200, S.PromotionItemOut)
def update_promotion_item(data, ident, item_id):
    """Change an item of a promotion."""
    s = db_session()
    with transaction(s):
        item = config.save(s, _item(ident, item_id), data)
    return item


@blp.route("/promotions/<int:ident>/items/<int:item_id>", methods=["DELETE"])
@requires(WRITE)
@blp.response(204)
def remove_promotion_item(ident, item_id):
    """Take a product or category off a promotion."""
    s = db_session()
    with transaction(s):
        config.remove_item(s, _item(ident, item_id))


_config_resource("/coupons", Coupon, S.CouponOut, S.CouponIn, S.CouponPatch, S.CouponListQuery, "Coupons")


@blp.route("/policy", methods=["GET"])
@requires(READ)
@blp.response(200, S.PolicyOut)
def get_policy():
    """The chain's points policy: value of a point, expiry, reminders, year-end rebate."""
    s = db_session()
    with transaction(s):
        pol = services.policy(s)  # created with the defaults on first use
    return pol


@blp.route("/policy", methods=["PATCH"])
@requires(WRITE)
@blp.arguments(S.PolicyPatch)
@blp.response(200, S.PolicyOut)
def update_policy(data):
    """Change the points policy (chain-wide: only a user who sees every store)."""
    s = db_session()
    with transaction(s):
        pol = config.save(s, services.policy(s), data)
    return pol


# ---------------------------------------------------------------------------------------
# reports (the back office's "Loyalty reports", same record scope)
# ---------------------------------------------------------------------------------------

def _period(args):
    date_to = args.get("date_to") or utcnow()
    date_from = args.get("date_from") or date_to - timedelta(days=90)
    if date_from >= date_to:
        raise BusinessError({"date_to": [_l("Must be after the start.")]})
    return date_from, date_to


@blp.route("/reports/liability", methods=["GET"])
@requires(REPORT)
@blp.response(200, S.PointsLiabilityOut)
def liability_report():
    """Outstanding points and their value per earning store and franchisee (operating
    company), over the lots you may see."""
    rows = services.liability(db_session())
    return {"points": sum(r["points"] for r in rows), "value": sum((r["value"] for r in rows), money(0)),
            "rows": rows}


@blp.route("/reports/breakage", methods=["GET"])
@requires(REPORT)
@blp.arguments(S.PeriodQuery, location="query")
@blp.response(200, S.BreakageRowOut(many=True))
def breakage_report(args):
    """Points that expired unused in the period, and their value, per franchisee."""
    date_from, date_to = _period(args)
    return services.breakage(db_session(), date_from=date_from, date_to=date_to)


@blp.route("/reports/clearing", methods=["GET"])
@requires(REPORT)
@blp.arguments(S.PeriodQuery, location="query")
@blp.response(200, S.ClearingRowOut(many=True))
def clearing_report(args):
    """Points earned at one franchisee's store and redeemed at another's in the period:
    ``owed_by`` owes ``owed_to`` their value."""
    date_from, date_to = _period(args)
    return services.clearing(db_session(), date_from=date_from, date_to=date_to)
