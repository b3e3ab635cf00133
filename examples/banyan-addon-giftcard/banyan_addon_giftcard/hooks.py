"""Hook implementations of the gift card addon: thin, the work is in services.py."""
from __future__ import annotations

from core import hookimpl
from core.contrib import Balance, CodeClaim, PaymentMethod, SummaryPanel
from core.i18n import lazy_gettext as _l


@hookimpl
def register_models():
    from .models import MODELS

    return MODELS


@hookimpl
def register_permissions():
    from .permissions import PERMISSIONS

    return PERMISSIONS


@hookimpl
def register_record_rules():
    from .permissions import RECORD_RULES

    return RECORD_RULES


@hookimpl
def register_admin_views(app):
    from .admin import views

    return views()


@hookimpl
def register_blueprints(app):
    from .api import blp

    return [blp]


@hookimpl
def payment_methods(session, ticket, user):
    from . import services

    return [PaymentMethod(code="giftcard", label=_l("Gift card"), capture=services.capture,
                          refund=services.refund, priority=50)]


@hookimpl
def claim_codes(session, ticket, codes, adjustments):
    """A gift card code typed as a ticket code is refused with the way to use it (the
    kernel refuses codes nobody claims; this one says why)."""
    from .services import find_card

    return [CodeClaim(code=code, refused=_l("A gift card pays: choose the gift card payment and scan it there."),
                      addon="giftcard")
            for code in codes if find_card(session, code) is not None]


@hookimpl
def derived_balances(session, customer):
    from .services import customer_balance

    return [Balance("giftcard.balance", customer_balance(session, customer.id))]


@hookimpl
def customer_summary(session, customer, user):
    from .permissions import READ
    from .services import customer_balance

    value = customer_balance(session, customer.id)
    if not value:
        return []
    return [SummaryPanel(title=_l("Gift cards"), fields=((_l("Balance"), value),),
                         permission=READ, addon="giftcard")]
