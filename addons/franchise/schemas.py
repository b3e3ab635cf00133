"""Marshmallow schemas of the franchise API."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

ID = validate.Range(min=1, max=2**31 - 1)


class ItemSchema(Schema):
    id = fields.Int(dump_only=True)
    name = fields.Str(required=True, validate=validate.Length(min=1, max=120))
    customer_id = fields.Int(load_default=None, allow_none=True, validate=ID)
    note = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=200))
