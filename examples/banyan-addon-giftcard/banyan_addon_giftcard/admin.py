"""Back-office views of the gift card addon (imported only when the back office is built)."""
from __future__ import annotations

from core.admin.base import BanyanModelView
from core.i18n import lazy_gettext as _l

from .models import GiftCard
from .permissions import READ, WRITE


class GiftCardView(BanyanModelView):
    permission = READ
    write_permission = WRITE
    can_delete = False
    column_list = ("code", "customer_id", "active", "created_at")
    column_searchable_list = ("code",)


def views():
    return [GiftCardView(GiftCard, name=_l("Gift cards"), endpoint="giftcard_card")]
