"""Importing opening points balances: credited in a lot through the points ledger, found by
card or phone; the ledger and lots stay consistent (``banyan check``)."""
import csv
import io

import pytest
from sqlalchemy import select

from core.db import transaction
from core.imports import create, execute
from core.models import ImportRun
from core.services.check import run_checks

from addons.loyalty import services as loyalty
from addons.loyalty.models import LoyaltyEntry, LoyaltyLot
from addons.membership import services as membership

pytestmark = pytest.mark.addons("loyalty")


def run(rt, session, rows, mode="all_or_nothing"):
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    with transaction(session):
        rec = create(session, "loyalty.opening_points", "p.csv", buf.getvalue().encode(), None, mode)
    execute(rt, rec.id)
    session.expire_all()
    return session.get(ImportRun, rec.id)


def test_opening_points_land_in_the_ledger(rt, session, make):
    store = make.store(code="BJ01")
    a = make.customer(phone="13800138000")
    membership.enrol(session, a.id, card_number="CARD-0001")
    b = make.customer(phone="13900139000")
    membership.enrol(session, b.id)
    stranger = make.customer(phone="13700137000")
    rows = [["card_number", "phone", "points", "store", "note"],
            ["card-0001", "", "1200", "BJ01", "from POS 1"],
            ["", "13900139000", "300", "", ""],
            ["", "13700137000", "50", "", ""],      # not a member
            ["CARD-0001", "", "2.5", "", ""],       # not whole, and a repeat
            ["", "", "10", "", ""]]
    rec = run(rt, session, rows)
    assert rec.state == "failed" and rec.written_rows == 0
    assert {(e["row"], e["column"]) for e in rec.errors} == {(4, "phone"), (5, "points"), (6, "card_number")}
    assert loyalty.balance(session, a.id) == 0
    rec = run(rt, session, rows, mode="valid_only")
    assert rec.written_rows == 2
    assert loyalty.balance(session, a.id) == 1200 and loyalty.balance(session, b.id) == 300
    assert loyalty.balance(session, stranger.id) == 0
    entry = session.execute(select(LoyaltyEntry).where(LoyaltyEntry.customer_id == a.id)).scalar_one()
    assert entry.source == "opening_balance" and entry.company_id == store.operating_company_id
    # the file's own note stays as written; what the import notes is a code, never English
    assert (entry.note, entry.note_code) == ("from POS 1", "opening_balance")
    plain = session.execute(select(LoyaltyEntry).where(LoyaltyEntry.customer_id == b.id)).scalar_one()
    assert (plain.note, plain.note_code) == (None, "opening_balance")
    lot = session.execute(select(LoyaltyLot).where(LoyaltyLot.entry_id == entry.id)).scalar_one()
    assert lot.remaining == 1200 and lot.expires_at is not None
    assert run_checks(session) == []
    # the same file again: the opening balances are refused, not credited twice
    rec = run(rt, session, rows, mode="valid_only")
    assert rec.written_rows == 0 and {(e["row"], e["column"]) for e in rec.errors} >= {(2, "card_number"), (3, "phone")}
    assert loyalty.balance(session, a.id) == 1200
