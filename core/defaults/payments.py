"""Cash and bank card: money handled outside Banyan, recorded as is."""
from __future__ import annotations

from core.contrib import PaymentMethod
from core.hookspecs import hookimpl
from core.i18n import lazy_gettext as _l


@hookimpl(trylast=True)
def payment_methods(session, ticket, user):
    return [
        PaymentMethod(code="cash", label=_l("Cash"), priority=10),
        PaymentMethod(code="card", label=_l("Bank card"), priority=20),
    ]
