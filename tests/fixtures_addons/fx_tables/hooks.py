"""Declares a mapped class and a plain association Table."""
from core import hookimpl


@hookimpl
def register_models():
    from .models import FxTablesThing, thing_tag

    return [FxTablesThing, thing_tag]
