"""Marshmallow schemas of the campaign API. Inputs are built from the kernel's fields
(``core.api.fields``: text without control characters and with a length, ids as JSON integers
in range, amounts with their decimals and bounds), so they are as strict as the kernel's."""
from __future__ import annotations

from marshmallow import Schema, fields

from core.api.fields import Id, Input, Instant, Str


class ItemIn(Input):
    name = Str(required=True, min=1, max=120)
    customer_id = Id(load_default=None, allow_none=True)
    note = Str(load_default=None, allow_none=True, max=200)


class ItemOut(Schema):
    id = fields.Int()
    name = fields.Str()
    customer_id = fields.Int(allow_none=True)
    note = fields.Str(allow_none=True)
    created_at = Instant()
