"""Importing members: enrolment with card numbers and opening stored value, through the
services a single enrolment uses; the ledgers stay consistent (``banyan check``)."""
import csv
import io

import pytest
from sqlalchemy import select

from core.db import transaction
from core.imports import create, execute
from core.models import Customer, ImportRun
from core.services.check import run_checks

from addons.membership import services as svc
from addons.membership.models import Card, StoredValueEntry

pytestmark = pytest.mark.addons("membership")


def run(rt, session, rows, mode="all_or_nothing", user=None, importer="membership.members"):
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    with transaction(session):
        rec = create(session, importer, "m.csv", buf.getvalue().encode(), user, mode)
    execute(rt, rec.id)
    session.expire_all()
    return session.get(ImportRun, rec.id)


def test_members_with_cards_and_opening_stored_value(rt, session, make, tiers):
    store = make.store(code="SH01")
    known = make.customer(name="Known", phone="13800138000", home_store_id=store.id)
    rec = run(rt, session, [["phone", "name", "card_number", "store", "opening_stored_value"],
                            ["13800138000", "", "card-1001", "SH01", "150.50"],
                            ["13900139000", "New Person", "CARD-1002", "sh01", ""]])
    assert rec.state == "done" and rec.written_rows == 2, rec.errors
    assert svc.get_member(session, known.id).channel == "import"
    card = session.execute(select(Card).where(Card.number == "CARD-1001")).scalar_one()
    assert card.member_id == known.id and card.status == "active"
    assert str(svc.stored_value_balance(session, known.id)) == "150.50"
    entry = session.execute(select(StoredValueEntry).where(StoredValueEntry.member_id == known.id)).scalar_one()
    assert entry.source == "opening_balance" and entry.bonus_amount == 0
    assert (entry.note, entry.note_code) == (None, "import")  # a code, read in the reader's language
    assert entry.issuer_company_id == store.operating_company_id
    new = session.execute(select(Customer).where(Customer.phone == "+8613900139000")).scalar_one()
    assert new.name == "New Person" and svc.get_member(session, new.id) is not None
    assert run_checks(session) == []


def test_member_rows_refused_by_the_services_are_reported(rt, session, make, tiers):
    make.store(code="SH01")
    already = make.customer(phone="13800138000")
    svc.enrol(session, already.id, card_number="CARD-0001")
    rows = [["phone", "name", "card_number", "store", "opening_stored_value"],
            ["13800138000", "", "", "SH01", ""],            # already a member
            ["13700137000", "", "", "SH01", ""],            # nobody, no name
            ["13600136000", "X", "CARD-0001", "SH01", ""],  # card in use
            ["13500135000", "Y", "CARD-2", "SH01", "-5"],   # negative value
            ["13400134000", "Z", "CARD-3", "SH01", "20"]]
    rec = run(rt, session, rows)
    assert rec.state == "failed" and rec.written_rows == 0
    cols = {(e["row"], e["column"]) for e in rec.errors}
    assert cols == {(2, "customer_id"), (3, "phone"), (4, "card_number"), (5, "opening_stored_value")}
    assert session.execute(select(Customer).where(Customer.phone == "+8613400134000")).first() is None
    rec = run(rt, session, rows, mode="valid_only")
    assert rec.written_rows == 1
    z = session.execute(select(Customer).where(Customer.phone == "+8613400134000")).scalar_one()
    assert str(svc.stored_value_balance(session, z.id)) == "20.00"
    assert run_checks(session) == []
