"""Errors every surface knows how to show to a person.

A `BusinessError` carries field -> message pairs; the API turns it into a 422 (or the
status it names), the back office into a flashed form error, the CLI into one line and a
non-zero exit. Raising one anywhere in a business operation rolls the whole operation back.
"""
from __future__ import annotations


class BanyanError(Exception):
    """Base of every error the kernel shows to users as one clear line."""


class BusinessError(BanyanError):
    """A rule refused the operation. ``errors`` maps a field name (or ``"_"``) to messages."""

    status = 422

    def __init__(self, errors: dict | str, status: int | None = None):
        if isinstance(errors, str):
            errors = {"_": [errors]}
        self.errors = {k: ([str(v)] if not isinstance(v, (list, tuple)) else [str(x) for x in v])
                       for k, v in errors.items()}
        if status is not None:
            self.status = status
        super().__init__("; ".join(f"{k}: {', '.join(v)}" if k != "_" else ", ".join(v)
                                   for k, v in self.errors.items()))


class NotFound(BusinessError):
    status = 404


class Conflict(BusinessError):
    """The request clashes with stored state (e.g. an idempotency key reused with other data)."""

    status = 409


class Forbidden(BusinessError):
    status = 403


class AddonError(BanyanError):
    """Addon discovery, manifest, dependency or install-state problem (one line, names the addons)."""


class ConfigError(BanyanError):
    """A setting is missing or wrong."""
