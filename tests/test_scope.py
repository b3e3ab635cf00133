from sqlalchemy import select

from core.models import Customer, Employee, Sale, Store


def _visible(rt, user, model):
    s = rt.session(user=user, scoped=True)
    try:
        return {row.id for row in s.execute(select(model)).scalars()}
    finally:
        s.close()


def _world(make):
    hq = make.hq
    east, south = make.region(name="East"), make.region(name="South")
    east_north = make.region(name="East-North", parent_id=east.id)
    franchisee = make.company("franchisee", name="Franchisee Ltd")
    stores = {
        "e1": make.store(region=east),
        "en1": make.store(region=east_north),
        "s1": make.store(region=south),
        "f1": make.store(region=south, kind="franchise", operator=franchisee),
        "f2": make.store(region=east_north, kind="franchise", operator=franchisee),
    }
    p = make.product()
    data = {}
    for key, st in stores.items():
        c = make.customer(home_store_id=st.id)
        e = make.employee(store=st)
        sale = make.sale(store=st, products=[p], customer=c)
        data[key] = {"store": st.id, "customer": c.id, "employee": e.id, "sale": sale.id}
    return hq, east, east_north, franchisee, data


def _ids(data, keys, field):
    return {data[k][field] for k in keys}


def test_store_user_sees_only_their_store(session, rt, make):
    _, _, _, _, data = _world(make)
    user = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=data["e1"]["store"])
    session.flush()
    everything = set(data)
    assert _visible(rt, user, Sale) & _ids(data, everything, "sale") == _ids(data, ["e1"], "sale")
    assert _visible(rt, user, Customer) & _ids(data, everything, "customer") == _ids(data, ["e1"], "customer")
    assert _visible(rt, user, Employee) & _ids(data, everything, "employee") == _ids(data, ["e1"], "employee")
    assert _visible(rt, user, Store) == {data["e1"]["store"]}
    # a get() of another store's sale through the scoped session finds nothing
    s = rt.session(user=user, scoped=True)
    try:
        assert s.execute(select(Sale).where(Sale.id == data["s1"]["sale"])).scalar() is None
    finally:
        s.close()


def test_franchisee_company_scope(session, rt, make):
    _, _, _, franchisee, data = _world(make)
    user = make.user(roles=("franchisee",), scope_kind="company", scope_ref_id=franchisee.id)
    session.flush()
    mine = ["f1", "f2"]
    assert _visible(rt, user, Store) == _ids(data, mine, "store")
    assert _visible(rt, user, Sale) & _ids(data, set(data), "sale") == _ids(data, mine, "sale")
    assert _visible(rt, user, Customer) & _ids(data, set(data), "customer") == _ids(data, mine, "customer")


def test_region_scope_includes_sub_regions(session, rt, make):
    _, east, east_north, _, data = _world(make)
    manager = make.user(roles=("region_manager",), scope_kind="region", scope_ref_id=east.id)
    sub = make.user(roles=("region_manager",), scope_kind="region", scope_ref_id=east_north.id)
    session.flush()
    assert _visible(rt, manager, Store) == _ids(data, ["e1", "en1", "f2"], "store")
    assert _visible(rt, manager, Sale) & _ids(data, set(data), "sale") == _ids(data, ["e1", "en1", "f2"], "sale")
    assert _visible(rt, sub, Store) == _ids(data, ["en1", "f2"], "store")
    assert _visible(rt, sub, Employee) & _ids(data, set(data), "employee") == _ids(data, ["en1", "f2"], "employee")


def test_unrestricted_and_superuser_see_all(session, rt, make):
    _, _, _, _, data = _world(make)
    boss = make.user(scope_kind="all")
    root = make.user(scope_kind="store", scope_ref_id=data["e1"]["store"], superuser=True)
    session.flush()
    for u in (boss, root):
        assert _ids(data, set(data), "sale") <= _visible(rt, u, Sale)
        assert _ids(data, set(data), "customer") <= _visible(rt, u, Customer)


def test_a_statement_reused_across_users_keeps_each_users_scope(session, rt, make):
    """Statements built once (the checkout's) get each scope's criteria applied once and the
    result kept per scope: two users running the same statement object still see only their
    own rows, every time, and one-off statements cannot grow what is kept."""
    from core.security import scope as scope_mod

    _, _, _, _, data = _world(make)
    e1 = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=data["e1"]["store"])
    s1 = make.user(roles=("cashier",), scope_kind="store", scope_ref_id=data["s1"]["store"])
    session.flush()
    prebuilt = select(Sale.id).order_by(Sale.id)
    everything = _ids(data, set(data), "sale")
    for _round in range(3):
        for user, key in ((e1, "e1"), (s1, "s1"), (e1, "e1")):
            s = rt.session(user=user, scoped=True)
            try:
                assert set(s.execute(prebuilt).scalars()) & everything == _ids(data, [key], "sale")
            finally:
                s.close()
    s = rt.session(user=e1, scoped=True)
    try:
        s.execute(prebuilt).all()
        kept = scope_mod._SCOPE_CRITERIA.require(s)
        assert prebuilt in kept.statements
        for i in range(scope_mod._STATEMENTS_MAX + 10):  # one-off statements
            s.execute(select(Sale.id).where(Sale.id == -i)).all()
        assert len(kept.statements) == scope_mod._STATEMENTS_MAX
    finally:
        s.close()


def test_a_row_part_of_another_is_seen_with_its_parent(session, rt, make):
    """``__scope_parent__`` (a price list's prices) derives the read rule: a store user sees
    the prices of the lists they see (their store's), not another store's, with no record
    rule of their own; and the rule follows the parent's own rules to any depth."""
    from datetime import datetime
    from decimal import Decimal

    from core.models import PriceList, PriceListItem
    from core.security.scope import Scope, _limited_models, _rules_by_model, row_criterion, scope_parent
    from core.services.pricing import set_price

    a, b = make.store(), make.store()
    p = make.product()
    items = {}
    for key, store in (("a", a), ("b", b)):
        pl = PriceList(code=f"PL-{key}-{store.id}", name=key, kind="retail", store_id=store.id)
        session.add(pl)
        session.flush()
        items[key] = set_price(session, pl, p, Decimal("9.00"), datetime(2000, 1, 1)).id
    user = make.user(roles=("store_manager",), scope_kind="store", scope_ref_id=a.id)
    session.commit()
    seen = _visible(rt, user, PriceListItem)
    assert items["a"] in seen and items["b"] not in seen
    assert PriceListItem not in _rules_by_model(rt.registry)  # derived, not written
    assert PriceListItem in _limited_models(rt.registry)  # a reference to one is checked on write
    assert scope_parent(PriceListItem)[1] is PriceList
    assert row_criterion(rt.registry, PriceListItem, Scope(user.id, None)) is None  # every store: no limit
    assert row_criterion(rt.registry, PriceListItem, Scope(user.id, frozenset({a.id}))) is not None


def test_a_scope_parent_must_name_a_foreign_key():
    import pytest

    from core.models import Product
    from core.security.scope import scope_parent

    class Loose:  # a declaration naming a plain column (here Product.sku) is refused, named
        __scope_parent__ = "sku"
        sku = Product.sku

    with pytest.raises(TypeError, match="sku"):
        scope_parent(Loose)
