from core.contrib import Permission
from core.i18n import lazy_gettext as _l

READ = "campaign.item.read"
WRITE = "campaign.item.write"

PERMISSIONS = (
    Permission(READ, _l("See Campaign items"), ("hq_admin", "store_manager")),
    Permission(WRITE, _l("Edit Campaign items"), ("hq_admin",)),
)
