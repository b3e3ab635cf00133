"""core.cache: configuration cached per process, exact across processes and rollbacks."""
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from core.cache import Snapshot, cached, current_token, snapshot
from core.db import transaction
from core.models import PriceList, Store
from core.services.pricing import price_list_scopes

CALLS = []


@cached("test.price_list_codes", watch_models=(PriceList,))
def price_list_codes(session):
    CALLS.append(1)
    return tuple(sorted(session.execute(select(PriceList.code)).scalars()))


@pytest.fixture
def calls():
    CALLS.clear()
    return CALLS


def _two_workers(banyan_databases):
    """Two runtimes on one fresh database: two worker processes, as far as caches go."""
    from core.addons.installer import init_db
    from core.config import load_config
    from core.runtime import Runtime

    url = banyan_databases.new_url()
    out = []
    for _ in range(2):
        cfg = load_config(overrides={"database": {"url": url}, "locale": {"default": "en"},
                                     "jobs": {"immediate": True, "backend": "memory"}})
        rt = Runtime.from_config(cfg, load=False)
        rt.reload()
        out.append(rt)
    init_db(out[0], schema="create_all")
    return out


def test_value_is_loaded_once_and_shared_by_later_transactions(rt, calls):
    for _ in range(3):
        with rt.session() as s, transaction(s):
            price_list_codes(s)
            price_list_codes(s)
    assert len(calls) == 1


def test_a_committed_write_in_another_worker_is_seen_by_the_next_transaction(banyan_databases, calls):
    a, b = _two_workers(banyan_databases)
    try:
        with a.session() as s:
            assert price_list_codes(s) == ()
        with b.session() as s, transaction(s):
            s.add(PriceList(code="VIP", name="VIP", kind="member"))
        with a.session() as s:
            assert price_list_codes(s) == ("VIP",)
            assert ("member", None) in price_list_scopes(s)
        # a bulk UPDATE through a session counts as a write too
        with b.session() as s, transaction(s):
            s.execute(update(PriceList).values(code="VIP2"))
        with a.session() as s:
            assert price_list_codes(s) == ("VIP2",)
        n = len(calls)
        with a.session() as s:
            price_list_codes(s)
        assert len(calls) == n  # nothing changed: served from the cache
    finally:
        a.dispose()
        b.dispose()


def test_a_writing_transaction_reads_fresh_and_caches_nothing(rt, calls):
    with rt.session() as s, transaction(s):
        before = price_list_codes(s)
    with rt.session() as s:
        s.add(PriceList(code="PENDING", name="Pending", kind="member"))
        assert current_token(s) is None  # unflushed watched change: no cached value
        s.flush()
        assert "PENDING" in price_list_codes(s)
        s.rollback()
    with rt.session() as s:
        assert price_list_codes(s) == before  # the rolled-back list never reached the cache


def test_rolled_back_change_never_revives_an_old_entry(banyan_databases, calls):
    a, b = _two_workers(banyan_databases)
    try:
        with a.session() as s:
            token0 = current_token(s)
            price_list_codes(s)
        with b.session() as s:  # a change that is rolled back leaves token and cache valid
            s.add(PriceList(code="X", name="X", kind="member"))
            s.flush()
            s.rollback()
        with a.session() as s:
            assert current_token(s) == token0 and price_list_codes(s) == ()
        with b.session() as s, transaction(s):  # a committed one gets a new, never reused token
            s.add(PriceList(code="Y", name="Y", kind="member"))
        with a.session() as s:
            assert current_token(s) not in (token0, None) and price_list_codes(s) == ("Y",)
    finally:
        a.dispose()
        b.dispose()


def test_writes_to_unwatched_tables_keep_the_token(rt, make, session):
    token = current_token(session)
    make.store()
    session.flush()
    assert current_token(session) == token
    session.execute(update(Store).values(phone=None))
    assert current_token(session) == token


def test_snapshot_is_read_only_and_compared_by_identity(session):
    pl = PriceList(code="S", name="S", kind="retail", currency="CNY")
    session.add(pl)
    session.flush()
    snap = snapshot(pl, items=())
    assert isinstance(snap, Snapshot) and snap.code == "S" and snap.id == pl.id and snap.items == ()
    with pytest.raises(AttributeError):
        snap.code = "T"
    twin = snapshot(pl)
    assert snap != twin and len({snap, twin}) == 2


def test_member_price_lookup_skips_the_query_without_member_lists(session, make):
    from sqlalchemy import event

    from core.mixins import utcnow
    from core.services.pricing import list_prices, set_price

    store, p = make.store(), make.product(price="10.00")
    session.flush()
    seen = []
    listener = lambda *a, **k: seen.append(a[2])  # noqa: E731
    event.listen(session.get_bind(), "before_cursor_execute", listener)
    try:
        price_list_scopes(session)  # the token and the scopes, once
        seen.clear()
        assert list_prices(session, [p.id], store.id, "member", utcnow()) == {}
        assert not any("core_price_list_item" in sql for sql in seen)
        member = PriceList(code="M", name="Members", kind="member")
        session.add(member)
        set_price(session, member, p, Decimal("9.00"))
        assert list_prices(session, [p.id], store.id, "member", utcnow()) == {p.id: Decimal("9.00")}
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", listener)
