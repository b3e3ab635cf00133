"""Banyan kernel: shared chain-store data and the addon platform.

Addons import their hook marker from here: ``from core import hookimpl``.
"""
from core.hookspecs import hookimpl

__version__ = "0.3.0"

__all__ = ["hookimpl", "__version__"]
