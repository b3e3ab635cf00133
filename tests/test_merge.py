from datetime import date

import pytest
from sqlalchemy import select

from core.errors import BusinessError, NotFound
from core.hookspecs import hookimpl
from core.models import Customer, CustomerContact, Sale, Tag
from core.services.customers import duplicates_of, find_duplicates, merge_customers


def test_merge_repoints_sales_and_contacts_and_unions_tags(session, make):
    vip, gold, new = Tag(name="m-vip"), Tag(name="m-gold"), Tag(name="m-new")
    kept = make.customer(name="Wang Wei", phone="13800138000", kind="company")
    removed = make.customer(name="Wang Wei", email="wang@example.com", kind="company",
                            birthday=date(1990, 5, 1), consent_sms=True)
    kept.tags = [vip, new]
    removed.tags = [vip, gold]
    removed.contacts.append(CustomerContact(name="Li Na", is_decision_maker=True))
    store = make.store()
    s1 = make.sale(store=store, customer=removed)
    s2 = make.sale(store=store, customer=removed)
    s3 = make.sale(store=store, customer=kept)
    session.flush()

    result = merge_customers(session, kept.id, removed.id)
    session.expire_all()
    assert result.id == kept.id
    sales = session.execute(select(Sale.customer_id).where(Sale.id.in_([s1.id, s2.id, s3.id]))).scalars().all()
    assert set(sales) == {kept.id}
    contacts = session.execute(select(CustomerContact).where(CustomerContact.name == "Li Na")).scalars().all()
    assert [c.customer_id for c in contacts] == [kept.id]
    kept, removed = session.get(Customer, kept.id), session.get(Customer, removed.id)
    assert {t.name for t in kept.tags} == {"m-vip", "m-gold", "m-new"}
    assert removed.tags == []
    # the kept record fills its blanks from the removed one
    assert kept.email == "wang@example.com" and kept.birthday == date(1990, 5, 1) and kept.consent_sms
    assert kept.phone == "+8613800138000"
    # the removed record stays, inactive, pointing at the kept one
    assert removed.active is False and removed.merged_into_id == kept.id and removed.merged_at is not None


def test_merge_calls_addons_and_refuses_bad_pairs(session, make, register_plugin):
    seen = []

    class Listener:
        @hookimpl
        def on_customer_merged(self, session, kept, removed):
            seen.append((kept.id, removed.id, removed.active))

    register_plugin(Listener())
    a, b, c = make.customer(), make.customer(), make.customer()
    with pytest.raises(BusinessError) as exc:
        merge_customers(session, a.id, a.id)
    assert "removed_id" in exc.value.errors
    merge_customers(session, a.id, b.id)
    assert seen == [(a.id, b.id, True)]  # addons run before the removed record is retired
    with pytest.raises(NotFound):
        merge_customers(session, c.id, b.id)  # already merged away
    with pytest.raises(NotFound):
        merge_customers(session, a.id, 987654321)


def test_duplicate_detection(session, make):
    p1 = make.customer(name="Zhang San", phone="139 0013 9000")
    p2 = make.customer(name="张三", phone="+86 139-0013-9000")
    e1 = make.customer(name="Chen", email="Chen@Example.com")
    e2 = make.customer(name="Chen Jie", email="chen@example.com")
    b1 = make.customer(name="Liu Yang", birthday=date(1985, 2, 3))
    b2 = make.customer(name="Liu Yang", birthday=date(1985, 2, 3))
    other = make.customer(name="Liu Yang", birthday=date(1986, 2, 3))
    groups = find_duplicates(session)
    assert ("phone", [p1.id, p2.id]) in groups
    assert ("email", [e1.id, e2.id]) in groups
    assert ("name+birthday", [b1.id, b2.id]) in groups
    assert all(other.id not in ids for _, ids in groups)
    assert [c.id for c in duplicates_of(session, p1)] == [p2.id]
    assert duplicates_of(session, other) == []
    # once merged, the pair is no longer reported
    merge_customers(session, p1.id, p2.id)
    assert all(ids != [p1.id, p2.id] for _, ids in find_duplicates(session))
