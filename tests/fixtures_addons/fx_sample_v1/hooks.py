"""Version 1.0.0 of the sample addon: ships only the first migration. Its models are
those of the test process (fx_sample); only the migrations differ."""
from core import hookimpl


@hookimpl
def register_models():
    from fx_sample.models import MODELS

    return MODELS
