from core import hookimpl


@hookimpl
def register_models():
    from .models import FxBaseThing

    return [FxBaseThing]


@hookimpl
def register_file_owners():
    """Things carry attachments (tests/test_files.py: purge with the addon)."""
    from core.contrib import FileOwner

    from .models import FxBaseThing

    return [FileOwner(FxBaseThing, "core.org.read", "core.org.write")]
