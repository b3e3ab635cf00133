"""Back-office views of spare_parts (imported only when the back office is built)."""
from __future__ import annotations

from core.admin.base import BanyanModelView
from core.i18n import lazy_gettext as _l

from .models import SparePartsItem
from .permissions import READ, WRITE


class SparePartsItemView(BanyanModelView):
    permission = READ
    write_permission = WRITE
    column_list = ("name", "customer_id", "note", "created_at")
    column_searchable_list = ("name",)


def views():
    return [SparePartsItemView(SparePartsItem, name=_l("Spare parts and repairs items"), endpoint="spare_parts_item")]
