from core.contrib import Permission
from core.i18n import lazy_gettext as _l

READ = "giftcard.card.read"
WRITE = "giftcard.card.write"

PERMISSIONS = (
    Permission(READ, _l("See gift cards"), ("hq_admin", "store_manager", "cashier")),
    Permission(WRITE, _l("Issue gift cards"), ("hq_admin", "store_manager")),
)
