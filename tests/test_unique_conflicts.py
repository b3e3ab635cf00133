"""A unique constraint the database refuses is told on the request's field (``core.unique``),
on SQLite and PostgreSQL alike: the column's model attribute, the schema's ``data_key`` when
the API names it otherwise, and of a composite key (a franchisee's bank reference) the field
the client typed, never the scope column."""
from __future__ import annotations

from datetime import date

import marshmallow as ma
import pytest
from sqlalchemy.exc import IntegrityError

from core.errors import Conflict
from core.models import Tag
from core.unique import conflict_of, schema_fields, violated_columns

pytestmark = pytest.mark.addons("franchise")


def _clash(session, *objs) -> IntegrityError:
    session.add_all(objs)
    with pytest.raises(IntegrityError) as err:
        with session.begin_nested():
            session.flush()
    return err.value


def test_single_column_names_its_attribute(session):
    session.add(Tag(name="vip"))
    session.flush()
    exc = _clash(session, Tag(name="vip"))
    table, cols = violated_columns(exc)
    assert (table.name, cols) == ("core_tag", ["name"])
    got = conflict_of(exc)
    assert isinstance(got, Conflict) and got.status == 409 and set(got.errors) == {"name"}


def test_schema_data_key_is_the_field_named(session):
    class TagIn(ma.Schema):
        label = ma.fields.Str(attribute="name", data_key="tag")

    session.add(Tag(name="gold"))
    session.flush()
    exc = _clash(session, Tag(name="gold"))
    fields = schema_fields(TagIn())
    assert fields == {"name": "tag"}
    assert set(conflict_of(exc, fields, sent=["tag"]).errors) == {"tag"}


def test_composite_key_names_the_typed_field_not_the_scope(session, make):
    from addons.franchise.models import Payment

    co = make.company("franchisee", name="F")
    session.add(Payment(company_id=co.id, amount=1, received_on=date(2026, 1, 1), bank_reference="ref-1"))
    session.flush()
    exc = _clash(session, Payment(company_id=co.id, amount=1, received_on=date(2026, 1, 1),
                                  bank_reference=" REF-1"))  # the same reference once canonical
    assert set(conflict_of(exc, None, sent=["company_id", "bank_reference", "amount"]).errors) == {"bank_reference"}
    assert set(conflict_of(exc).errors) == {"bank_reference"}  # nothing sent: the key, not company_id


def test_not_a_unique_violation_is_left_alone():
    assert conflict_of(IntegrityError("x", {}, Exception("FOREIGN KEY constraint failed"))) is None
