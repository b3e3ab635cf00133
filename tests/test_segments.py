"""The segment compiler (core/segments.py): kernel fields, operators, groups, errors, scope."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest


from core import segments
from core.errors import BusinessError
from core.localtime import local_today
from core.services.checkout import CheckoutRequest, LineRequest, checkout


def _ids(session, rules, store_ids=None):
    return sorted(session.execute(segments.audience(session, rules, store_ids)).scalars())


def _and(*rules):
    return {"op": "and", "rules": list(rules)}


def _buy(session, store, product, customer, qty=1):
    return checkout(session, CheckoutRequest(store_id=store.id, customer_id=customer.id,
                                             lines=[LineRequest(product.id, Decimal(qty))]))


def test_kernel_fields_spend_visits_last_purchase(session, make):
    store, p = make.store(), make.product(price="100.00")
    big, small, none = make.customer(), make.customer(), make.customer()
    for c in (big, small):
        c.home_store_id = store.id
    session.flush()
    _buy(session, store, p, big, qty=3)
    _buy(session, store, p, big)
    _buy(session, store, p, small)
    spend = {"field": "core.spend", "params": {"days": 30}, "operator": "ge", "value": "400"}
    assert _ids(session, _and(spend)) == [big.id]
    visits = {"field": "core.visits", "params": {"days": 30}, "operator": "between", "value": [1, 1]}
    assert _ids(session, _and(visits)) == [small.id]
    recent = {"field": "core.last_purchase", "operator": "within_days", "value": 7}
    assert _ids(session, _and(recent)) == sorted([big.id, small.id])
    lapsed = {"field": "core.last_purchase", "operator": "not_within_days", "value": 7}
    assert none.id in _ids(session, _and(lapsed)) and big.id not in _ids(session, _and(lapsed))
    home = {"field": "core.home_store", "operator": "eq", "value": str(store.id)}
    assert _ids(session, _and(home)) == sorted([big.id, small.id])
    # or-group: big by spend, or none by "no home store"
    either = {"op": "or", "rules": [spend, {"field": "core.home_store", "operator": "empty"}]}
    assert big.id in _ids(session, either) and none.id in _ids(session, either)
    assert small.id not in _ids(session, either)
    assert segments.count(session, _and(spend)) == 1


def test_birthday_month_and_store_limit(session, make):
    s1, s2 = make.store(), make.store()
    a, b = make.customer(), make.customer()
    today = local_today()
    a.birthday, a.home_store_id = today.replace(year=1990), s1.id
    b.birthday, b.home_store_id = today.replace(year=1985), s2.id
    session.flush()
    rule = _and({"field": "core.birthday_month", "operator": "eq", "value": today.month})
    assert _ids(session, rule) == sorted([a.id, b.id])
    assert _ids(session, rule, store_ids={s1.id}) == [a.id]  # a franchisee sees their own only
    assert _ids(session, rule, store_ids=set()) == []


def test_errors_name_the_place(session):
    bad = {"op": "and", "rules": [
        {"field": "core.spend", "operator": "ge", "value": "lots"},
        {"op": "xor", "rules": []},
        {"field": "core.nothing", "operator": "eq", "value": 1},
        {"field": "core.visits", "params": {"days": 0}, "operator": "ge", "value": 1},
        {"field": "core.home_store", "operator": "eq", "value": "999999"},
        {"field": "core.last_purchase", "operator": "before", "value": "yesterday"},
    ]}
    with pytest.raises(BusinessError) as err:
        segments.compile_rules(session, bad)
    keys = set(err.value.errors)
    assert keys == {"rules.rules.0.value", "rules.rules.1.op", "rules.rules.2.field",
                    "rules.rules.3.params.days", "rules.rules.4.value", "rules.rules.5.value"}
    with pytest.raises(BusinessError):
        segments.compile_rules(session, [])
    too_many = {"op": "and", "rules": [{"field": "core.birthday_month", "operator": "eq", "value": 1}]
                * (segments.MAX_CONDITIONS + 1)}
    with pytest.raises(BusinessError):
        segments.compile_rules(session, too_many)


def test_one_statement_no_customer_loaded(session, make, rt):
    """The audience is a SELECT of ids: compiling it touches no customer row."""
    from sqlalchemy import event

    make.customer()
    seen = []
    engine = session.get_bind()

    def before(conn, cursor, statement, params, context, many):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        n = segments.count(session, _and({"field": "core.spend", "params": {"days": 365}, "operator": "ge",
                                          "value": 0}))
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert n >= 1
    assert len([s for s in seen if "core_customer" in s]) == 1


def test_describe_lists_kernel_fields(session):
    out = {f["code"]: f for f in segments.describe(session)}
    assert out["core.spend"]["params"][0]["name"] == "days"
    assert out["core.home_store"]["choices"] is not None
    assert "within_days" in out["core.last_purchase"]["operators"]


def test_dates_before_after(session, make):
    store, p = make.store(), make.product(price="5.00")
    c = make.customer()
    _buy(session, store, p, c)
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    yesterday = (local_today() - timedelta(days=1)).isoformat()
    assert c.id in _ids(session, _and({"field": "core.last_purchase", "operator": "before", "value": tomorrow}))
    assert c.id in _ids(session, _and({"field": "core.last_purchase", "operator": "after", "value": yesterday}))
    assert c.id not in _ids(session, _and({"field": "core.last_purchase", "operator": "after",
                                           "value": local_today().isoformat()}))


@pytest.mark.parametrize("value", [13, 0, -1, "1.5", 12.5])
def test_a_value_outside_the_fields_range_is_a_field_error(session, value):
    """Every field checks its value against its range: a month is a whole number from 1 to
    12, a number of visits is a whole number of 0 or more (422 naming the value's place)."""
    rules = _and({"field": "core.visits", "params": {"days": 30}, "operator": "ge", "value": 1},
                 {"field": "core.birthday_month", "operator": "eq", "value": value})
    with pytest.raises(BusinessError) as err:
        segments.compile_rules(session, rules)
    assert set(err.value.errors) == {"rules.rules.1.value"}
    for ok in (1, 12, "7"):
        segments.compile_rules(session, _and({"field": "core.birthday_month", "operator": "eq", "value": ok}))
    with pytest.raises(BusinessError) as err:
        segments.compile_rules(session, _and({"field": "core.birthday_month", "operator": "between",
                                              "value": [1, 13]},
                                             {"field": "core.birthday_month", "operator": "ne", "value": 0},
                                             {"field": "core.visits", "operator": "lt", "value": -2}))
    assert set(err.value.errors) == {"rules.rules.0.value.1", "rules.rules.1.value", "rules.rules.2.value"}
    described = {f["code"]: f for f in segments.describe(session)}
    assert (described["core.birthday_month"]["minimum"], described["core.birthday_month"]["maximum"]) == (1, 12)


def test_an_addons_field_brings_its_range_and_its_own_check(rt, session, make, register_plugin):
    """The segment-field hook carries the validator: an addon's field declares a range and a
    check of its own, and the compiler applies them as it does the kernel's; a range on a
    field that is not a number is refused when the fields are collected."""
    from core.contrib import SegmentField
    from core.errors import AddonError
    from core.hookspecs import hookimpl
    from core.models import Customer

    class Shoes:
        @hookimpl
        def segment_fields(self):
            return [SegmentField("shoetest.size", "Shoe size", "number", lambda params: Customer.id, minimum=16,
                                 maximum=50, validate=lambda v: None if v * 2 == int(v * 2) else "Half sizes only."),
                    SegmentField("shoetest.brand", "Brand", "text", lambda params: Customer.note,
                                 validate=lambda v: "Too long." if len(v) > 20 else None)]

    register_plugin(Shoes(), name="shoetest")
    known = segments.fields(rt.registry)
    bad = _and({"field": "shoetest.size", "operator": "eq", "value": 51},
               {"field": "shoetest.size", "operator": "eq", "value": "42.3"},
               {"field": "shoetest.brand", "operator": "eq", "value": "x" * 21})
    with pytest.raises(BusinessError) as err:
        segments.compile_rules(session, bad, known)
    assert set(err.value.errors) == {"rules.rules.0.value", "rules.rules.1.value", "rules.rules.2.value"}
    assert err.value.errors["rules.rules.1.value"] == ["Half sizes only."]
    segments.compile_rules(session, _and({"field": "shoetest.size", "operator": "eq", "value": "42.5"}), known)

    class Wrong:
        @hookimpl
        def segment_fields(self):
            return [SegmentField("wrongtest.name", "Name", "text", lambda params: Customer.name, minimum=1)]

    register_plugin(Wrong(), name="wrongtest")
    with pytest.raises(AddonError, match="number and money"):
        segments.fields(rt.registry)


@pytest.mark.parametrize("field, good, bad", [
    ("core.language", "zh_Hans", "klingon"), ("core.gender", "F", "X"), ("core.customer_kind", "company", "robot")])
def test_an_enumerated_fields_value_outside_its_set_is_a_field_error(session, make, field, good, bad):
    """Language, gender and customer kind are fields with a fixed set of values: a value
    outside the set is refused on its place (``rules.N.value``, 422 in the API), in a list
    too; a value of the set selects the customers who have it."""
    c = make.customer(**{field.split(".")[1].replace("customer_", ""): good})
    for op, value, where in (("eq", bad, "rules.rules.0.value"), ("in", [good, bad], "rules.rules.0.value.1"),
                             ("ne", "", "rules.rules.0.value")):
        with pytest.raises(BusinessError) as err:
            segments.compile_rules(session, _and({"field": field, "operator": op, "value": value}))
        assert set(err.value.errors) == {where}
    assert c.id in _ids(session, _and({"field": field, "operator": "eq", "value": good}))
    assert c.id in _ids(session, _and({"field": field, "operator": "in", "value": [good]}))
    described = {f["code"]: f for f in segments.describe(session)}[field]
    assert described["type"] == "choice" and good in [ch["value"] for ch in described["choices"]]


def test_choices_are_declared_on_the_field_and_checked_for_addons_too(rt, session, make, register_plugin):
    """An addon's field declares its set (a ``Choices`` set, pairs or a callable) and the
    kernel checks every value against it; ``choices`` on a field that is not a ``choice``
    field, or a ``choice`` field without choices, is refused when the fields are collected."""
    from core.contrib import SegmentField
    from core.errors import AddonError
    from core.hookspecs import hookimpl
    from core.labels import STORE_KIND
    from core.models import Customer

    class Colours:
        @hookimpl
        def segment_fields(self):
            return [SegmentField("colourtest.colour", "Colour", "choice", lambda params: Customer.note,
                                 choices=[("red", "Red"), ("blue", "Blue")]),
                    SegmentField("colourtest.kind", "Kind", "choice", lambda params: Customer.note,
                                 choices=STORE_KIND)]

    register_plugin(Colours(), name="colourtest")
    known = segments.fields(rt.registry)
    bad = _and({"field": "colourtest.colour", "operator": "eq", "value": "green"},
               {"field": "colourtest.kind", "operator": "not_in", "value": ["direct", "moon"]})
    with pytest.raises(BusinessError) as err:
        segments.compile_rules(session, bad, known)
    assert set(err.value.errors) == {"rules.rules.0.value", "rules.rules.1.value.1"}
    segments.compile_rules(session, _and({"field": "colourtest.colour", "operator": "eq", "value": "red"},
                                         {"field": "colourtest.kind", "operator": "in", "value": ["franchise"]}),
                           known)



@pytest.mark.parametrize("kind, choices", [("text", [("en", "English")]), ("number", [(1, "One")]),
                                           ("choice", None)])
def test_choices_only_and_always_on_a_choice_field(rt, register_plugin, kind, choices):
    """``choices`` on a field that is not a ``choice`` field (its values would go unchecked),
    or a ``choice`` field without choices, is refused when the fields are collected."""
    from core.contrib import SegmentField
    from core.errors import AddonError
    from core.hookspecs import hookimpl
    from core.models import Customer

    class Wrong:
        @hookimpl
        def segment_fields(self):
            return [SegmentField("wrongchoice.x", "X", kind, lambda params: Customer.note, choices=choices)]

    register_plugin(Wrong(), name="wrongchoice")
    with pytest.raises(AddonError, match="wrongchoice.x.*choice"):
        segments.fields(rt.registry)
