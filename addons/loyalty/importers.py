"""Bulk import of opening points balances (``register_importers``): points carried over from a
former system, credited to a member found by card number or phone, in a new lot that
expires by the programme's policy, through the ledger a manual credit uses."""
from __future__ import annotations

from core.contrib import Importer, ImportColumn
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.validation import points_input

COLUMNS = (
    ImportColumn("card_number", _l("Card number"), type="code", help=_l("The member's card; or give the phone.")),
    ImportColumn("phone", _l("Phone"), type="phone", help=_l("Used when no card number is given.")),
    ImportColumn("points", _l("Points"), required=True, type="int", help=_l("Whole points, greater than zero.")),
    ImportColumn("store", _l("Store"), type="code",
                 help=_l("Store code the points are booked to (their liability); blank: none.")),
    ImportColumn("note", _l("Note")),
)


def parse(ctx, v: dict) -> dict:
    if v.get("card_number") is None and v.get("phone") is None:
        raise BusinessError({"card_number": _l("Give a card number or a phone number.")})
    points = points_input(v["points"], "points")
    store = ctx.store_by_code(v.get("store"), "store")
    if store is not None:
        ctx.require_store(store, "store")
    if v.get("note") and len(v["note"]) > 255:
        raise BusinessError({"note": _l("At most 255 characters.")})
    return {**v, "points": points, "store_id": store.id if store is not None else None}


#: what a row naming no member the importing user may see is told, on its own column: the
#: same for a number that does not exist and for another franchisee's member (a file is no
#: way to learn which cards and phones of other stores are members, or hold points)
UNKNOWN = {"card_number": _l("No such card."), "phone": _l("No member with this phone number.")}


def _member(ctx, v: dict):
    """The member the row names, among the customers the importing user may see (the
    scoped session's record rules): by card number (the card must be usable), else by
    phone. ``NotFound`` / ``BusinessError`` on the row's own column."""
    from sqlalchemy import select

    from core.errors import NotFound
    from core.models import Customer

    from addons.membership import services as membership

    s = ctx.session
    column = "card_number" if v.get("card_number") else "phone"
    if column == "card_number":
        card = membership.find_card(s, v["card_number"])
        owner = card.member_id if card is not None else None
    else:
        from core.validation import normalize_phone

        # the scoped session: customers of the user's stores only, the first who is a member
        ids = s.execute(select(Customer.id).where(Customer.phone == normalize_phone(v["phone"]),
                                                  Customer.active.is_(True)).order_by(Customer.id)).scalars()
        owner = next((cid for cid in ids if membership.get_member(s, cid) is not None), None)
    if owner is None or s.execute(select(Customer.id).where(Customer.id == owner)).scalar() is None:
        raise NotFound({column: UNKNOWN[column]})
    if column == "card_number":
        return membership.lookup(s, card_number=v["card_number"])  # the card's state is checked there
    return membership.require_member(s, owner)


def load(ctx, v: dict) -> None:
    from . import ledger

    s = ctx.session
    member = _member(ctx, v)
    ledger.lock_account(s, member.customer_id)
    # an opening balance is carried over once per member: a file imported twice (or a
    # retried upload) is refused, not credited again
    key = f"opening-balance:{member.customer_id}"
    if ledger.entry_by_key(s, key) is not None:
        raise BusinessError({"card_number" if v.get("card_number") else "phone":
                             _l("This member has an opening points balance already.")})
    ledger.credit(s, member.customer_id, "adjust", v["points"], store_id=v["store_id"], key=key,
                  source="opening_balance", note=(v.get("note") or None), note_code="opening_balance")


IMPORTERS = (
    Importer("loyalty.opening_points", _l("Opening points balances"), COLUMNS, "loyalty.points.adjust", parse,
             load_row=load, unique=("card_number", "phone"), priority=60),
)
