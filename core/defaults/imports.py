"""The kernel's bulk import (``core.imports``): its importers, permission, job, API and page,
registered through the same hooks an addon uses."""
from __future__ import annotations

from core.contrib import Job, Permission
from core.hookspecs import hookimpl
from core.i18n import lazy_gettext as _l

#: who may open the Import page and the imports API; each importer also names its own
#: permission (importing customers needs ``core.customer.write`` too), so a role sees only
#: the importers of what it may write (a marketer: customers' incomes, not customers)
IMPORT_PERMISSION = Permission("core.import.use", _l("Bulk-import records from files"),
                               ("hq_admin", "region_manager", "franchisee", "store_manager", "marketer"))


@hookimpl(trylast=True)
def register_importers():
    from core.imports.kernel import IMPORTERS

    return IMPORTERS


@hookimpl
def register_permissions():
    return [IMPORT_PERMISSION]


@hookimpl
def register_jobs():
    from core.imports import JOB_NAME, run_next_queued

    # no retries: an import records its own outcome; running it twice would be wrong
    return [Job(JOB_NAME, run_next_queued, retries=0, timeout=None)]


@hookimpl
def register_blueprints(app):
    from core.api.imports import imports

    return [imports]


@hookimpl
def register_admin_views(app):
    from core.admin.imports import ImportView

    return [ImportView(name=_l("Import"), category=_l("Settings"), endpoint="imports", url="/admin/imports")]
