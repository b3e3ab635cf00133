from core import hookimpl


@hookimpl
def on_sale_confirmed(session, sale):
    """Reacts to sales but never undoes it on refund: the loader must refuse this addon."""
