"""``Session.get`` answers from the identity map without a query. A service reads past the
user's record scope (``banyan_unscoped``) through the request's own session, so a row it
read stayed in the map, and a later ``get`` of that id handed it back to a user whose scope
does not show it. A row read past a restricted scope is now re-checked by one scoped query
the first time ``get`` finds it; ``get`` answers None when the scope does not show it, as it
does for a row not loaded yet."""
from sqlalchemy import select

from core.models import Customer, Product
from core.security.scope import scope_session


def test_get_does_not_hand_back_a_row_read_past_the_scope(session, two_stores):
    w = two_stores
    a_id, b_id = w["cust_a"].id, w["cust_b"].id
    product = Product(sku="IDMAP1", name="Tea")
    session.add(product)
    session.commit()
    session.expunge_all()
    scope_session(session, w["manager"])  # store A only
    assert session.get(Customer, b_id) is None  # not loaded: the scoped query finds nothing
    unscoped = {c.id: c for c in session.execute(
        select(Customer).where(Customer.id.in_([a_id, b_id])).execution_options(banyan_unscoped=True)).scalars()}
    assert set(unscoped) == {a_id, b_id}  # a service's read sees both
    assert session.get(Customer, b_id) is None  # the map holds B's customer: not handed back
    assert session.get(Customer, a_id) is unscoped[a_id]  # A's is, the same object
    # a service's business read says so, and gets the row whoever asks
    assert session.get(Customer, b_id, execution_options={"banyan_unscoped": True}) is unscoped[b_id]
    assert session.execute(select(Customer).where(Customer.id == b_id)).scalar() is None
    # a chain-wide row read past the scope is everyone's
    p = session.execute(select(Product).where(Product.sku == "IDMAP1")
                        .execution_options(banyan_unscoped=True)).scalar_one()
    assert session.get(Product, p.id) is p
    session.rollback()


def test_an_unrestricted_session_gets_every_row(session, two_stores):
    w = two_stores
    b_id = w["cust_b"].id
    session.expunge_all()
    row = session.execute(select(Customer).where(Customer.id == b_id)
                          .execution_options(banyan_unscoped=True)).scalar_one()
    assert session.get(Customer, b_id) is row
