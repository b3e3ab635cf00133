"""Banyan kernel: shared chain-store data and the addon platform.

Addons import their hook markers from here: ``from core import hookimpl`` to implement a hook,
``from core import hookspec`` to offer hooks of their own in ``<addon>/hookspecs.py``.
"""
from core.hookspecs import hookimpl, hookspec

__version__ = "0.3.0"

__all__ = ["hookimpl", "hookspec", "__version__"]
