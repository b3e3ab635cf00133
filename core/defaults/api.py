"""The kernel's REST resources, returned through ``register_blueprints`` like any addon's
(mounted under ``/api/v1/`` instead of ``/api/v1/<addon>/``)."""
from __future__ import annotations

from core.hookspecs import hookimpl


@hookimpl(trylast=True)
def register_blueprints(app):
    from core.api.notifications import notifications
    from core.api.resources import BLUEPRINTS
    from core.api.till import till
    from core.files.api import blp as files

    return (*BLUEPRINTS, notifications, files, till)
