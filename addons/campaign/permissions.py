from core.contrib import Permission
from core.i18n import lazy_gettext as _l

MARKETING = ("hq_admin", "marketer", "franchisee", "region_manager")
READ = "campaign.plan.read"
WRITE = "campaign.plan.write"
SEND = "campaign.plan.send"
SEGMENT_READ = "campaign.segment.read"
SEGMENT_WRITE = "campaign.segment.write"
CONSENT = "campaign.consent.write"

PERMISSIONS = (
    Permission(READ, _l("See marketing plans, templates and their results"), MARKETING + ("store_manager",)),
    Permission(WRITE, _l("Create and edit marketing plans and templates, submit them"), MARKETING),
    Permission(SEND, _l("Start and finish approved marketing plans"), MARKETING),
    Permission(SEGMENT_READ, _l("See customer segments and their counts"), MARKETING + ("store_manager",)),
    Permission(SEGMENT_WRITE, _l("Create and edit customer segments"), MARKETING),
    Permission(CONSENT, _l("Record customers' marketing opt-outs"), MARKETING + ("store_manager", "agent")),
)
