"""Records every sale it sees, so tests can tell whether it took part in the hook call."""
from core import hookimpl

CALLS: list = []


@hookimpl
def register_models():
    from .models import FxChildLink

    return [FxChildLink]


@hookimpl
def on_sale_confirmed(session, sale):
    CALLS.append(("confirmed", sale.id))


@hookimpl
def on_sale_refunded(session, refund, sale):
    CALLS.append(("refunded", sale.id))
