"""Back-office views of franchise (imported only when the back office is built)."""
from __future__ import annotations

from core.admin.base import BanyanModelView
from core.i18n import lazy_gettext as _l

from .models import FranchiseItem
from .permissions import READ, WRITE


class FranchiseItemView(BanyanModelView):
    permission = READ
    write_permission = WRITE
    column_list = ("name", "customer_id", "note", "created_at")
    column_searchable_list = ("name",)


def views():
    return [FranchiseItemView(FranchiseItem, name=_l("Franchise items"), endpoint="franchise_item")]
