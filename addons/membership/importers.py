"""Bulk import of members (``register_importers``): a customer found by phone (or created
when a name is given), enrolled with their card number and, optionally, an opening stored
value carried over from a former system. Each row goes through the services a single
enrolment uses (``enrol``, ``open_stored_value``): the same rules, ledgers and checks."""
from __future__ import annotations

from sqlalchemy import select

from core.contrib import Importer, ImportColumn
from core.errors import BusinessError
from core.i18n import lazy_gettext as _l
from core.imports import check_length

COLUMNS = (
    ImportColumn("phone", _l("Phone"), required=True, type="phone",
                 help=_l("Finds the customer; +86 is assumed.")),
    ImportColumn("name", _l("Name"), help=_l("Creates the customer when no customer has this phone.")),
    ImportColumn("card_number", _l("Card number"), type="code",
                 help=_l("6 to 32 letters, digits or dashes; blank: a virtual card is issued.")),
    ImportColumn("store", _l("Store"), required=True, type="code",
                 help=_l("Code of the enrolling store, which also issued the opening stored value.")),
    ImportColumn("opening_stored_value", _l("Opening stored value"), type="money",
                 help=_l("Paid value carried over, at most two decimals; blank or 0: none.")),
)


def parse(ctx, v: dict) -> dict:
    from core.models import Customer

    store = ctx.require_store(ctx.store_by_code(v["store"], "store", required=True), "store")
    amount = v.get("opening_stored_value")
    if amount is not None and amount < 0:
        raise BusinessError({"opening_stored_value": _l("Must not be negative.")})
    check_length(v, Customer, "name")
    return {**v, "store_id": store.id}


def load(ctx, v: dict) -> None:
    from core.models import Customer

    from addons.membership.services import enrol, open_stored_value

    s = ctx.session
    # the scoped session: only customers the importing user may see are found
    customer_id = s.execute(select(Customer.id).where(Customer.phone == v["phone"], Customer.active.is_(True))
                            .order_by(Customer.id).limit(1)).scalar()
    if customer_id is None:
        if not v.get("name"):
            raise BusinessError({"phone": _l("No customer has this phone number: give a name to create one.")})
        customer = Customer(name=v["name"], phone=v["phone"], home_store_id=v["store_id"])
        s.add(customer)
        s.flush()
        customer_id = customer.id
    enrol(s, customer_id, store_id=v["store_id"], card_number=v.get("card_number"), user=ctx.user,
          channel="import")
    if v.get("opening_stored_value"):
        open_stored_value(s, customer_id, v["opening_stored_value"], v["store_id"], user=ctx.user,
                          note_code="import")


IMPORTERS = (
    Importer("membership.members", _l("Members"), COLUMNS, "membership.member.write", parse, load_row=load,
             unique=("phone", "card_number"), priority=50),
)
