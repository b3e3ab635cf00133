from core import hookimpl


@hookimpl
def register_models():
    from .models import MODELS

    return MODELS
