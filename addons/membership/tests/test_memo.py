"""Membership's member and list lookups go through the kernel's per-transaction memo
(core.cache.TransactionMemo): one query per customer and transaction, nothing kept past a
commit or rollback, and stale entries dropped when members or list entries change."""
import pytest
from sqlalchemy import event

from addons.membership import services as svc
from addons.membership.members import PARTY_MEMO
from addons.membership.models import ListEntry
from core.cache import memo_names

pytestmark = pytest.mark.addons("membership")


@pytest.fixture
def enrolled(session, make):
    store = make.store()
    customer = make.customer(home_store_id=store.id)
    svc.save_tier(session, "normal", "Normal", 0)
    svc.enrol(session, customer.id, store_id=store.id, card_number="CARD-MEMO-1")
    return customer


@pytest.fixture
def count_party_reads(session):
    reads = []

    def before(conn, cursor, statement, *_args):
        if "membership_member" in statement and "core_customer" in statement:
            reads.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", before)
    yield reads
    event.remove(engine, "before_cursor_execute", before)


def test_a_customer_is_read_once_per_transaction(session, enrolled, count_party_reads):
    PARTY_MEMO.forget(session)
    member = svc.get_member(session, enrolled.id)
    assert svc.get_member(session, enrolled.id) is member
    assert svc.is_active_member(session, enrolled.id)
    assert svc.list_status(session, enrolled.id) is None
    assert len(count_party_reads) == 1
    assert memo_names(session) == ["membership.party"]


def test_rollback_drops_the_cached_member(session, enrolled, count_party_reads):
    PARTY_MEMO.forget(session)  # enrolment read the member already
    sp = session.begin_nested()
    svc.get_member(session, enrolled.id)
    assert memo_names(session) == ["membership.party"]
    sp.rollback()
    assert memo_names(session) == []
    svc.get_member(session, enrolled.id)
    assert len(count_party_reads) == 2


def test_commit_drops_the_cached_member(rt, make, session, enrolled):
    with rt.session() as s:  # joins the test's transaction through a savepoint
        svc.get_member(s, enrolled.id)
        assert memo_names(s) == ["membership.party"]
        s.commit()
        assert memo_names(s) == []


def test_a_new_list_entry_is_seen_at_once(session, make, enrolled):
    assert svc.list_status(session, enrolled.id) is None
    session.add(ListEntry(customer_id=enrolled.id, kind="black", reason="test", active=True))
    session.flush()
    assert svc.list_status(session, enrolled.id) == "black"
