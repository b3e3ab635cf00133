"""Errors every surface knows how to show to a person.

A `BusinessError` carries field -> message pairs; the API turns it into a 422 (or the
status it names), the back office into a flashed form error, the CLI into one line and a
non-zero exit. Raising one anywhere in a business operation rolls the whole operation back.
"""
from __future__ import annotations


class Message(str):
    """A message already in the reader's language, with a stable machine code
    (``"too_large"``, ``"required"``...): what an API client branches on, whatever the
    language. ``Message("数值过大。", "too_large")`` is a ``str`` like any other."""

    code: str = "invalid"

    def __new__(cls, text, code: str = "invalid"):
        obj = str.__new__(cls, str(text))
        obj.code = code
        return obj


#: Codes of the kernel's own messages, by English msgid (the lazy string keeps its msgid,
#: so a message raised with ``_l(...)`` gets its code whatever language it is shown in).
#: A message not listed gets ``"invalid"`` (or the code of its HTTP status: ``not_found``...).
MESSAGE_CODES = {
    "Not a number.": "invalid_number",
    "Too large.": "too_large",
    "At most two decimals.": "too_many_decimals",
    "At most three decimals.": "too_many_decimals",
    "At most %(places)s decimals.": "too_many_decimals",
    "A whole number is required.": "not_whole",
    "Points are whole numbers.": "not_whole",
    "This product is sold by the piece: whole units only.": "not_whole",
    "Must be at most %(max)s.": "too_large",
    "Must be at least %(min)s.": "too_small",
    "Must be greater than %(min)s.": "too_small",
    "Must be a positive amount.": "not_positive",
    "Must be a positive number of points.": "not_positive",
    "Quantity must be greater than zero.": "not_positive",
    "Must not be zero.": "zero",
    "Points must not be zero.": "zero",
    "Must not contain control characters.": "control_character",
    "Must not contain NUL characters.": "control_character",
    "At most %(max)s characters.": "too_long",
    "At least %(min)s characters.": "too_short",
    "Contains characters that are not allowed here.": "invalid_character",
    "Given twice: name each line once.": "duplicate",
    "No such store.": "not_found",
    "No such customer.": "not_found",
    "No such product.": "not_found",
    "No such sale.": "not_found",
    "Out of range.": "out_of_range",
    "Must be %(op)s %(low)s and below %(high)s.": "out_of_range",
    "Insufficient stored value: the balance is %(balance)s.": "insufficient_funds",
    "Not enough points: %(have)s available.": "insufficient_points",
    "The gift card balance is too low.": "insufficient_funds",
}


def message_code(message, default: str = "invalid") -> str:
    """The code of ``message``: its own (:class:`Message`), the one of its msgid (a lazy
    string, :data:`MESSAGE_CODES`), else ``default``."""
    code = getattr(message, "code", None)
    if isinstance(code, str):
        return code
    args = getattr(message, "_args", None)  # babel's LazyProxy keeps (msgid,)
    if args and isinstance(args[0], str):
        return MESSAGE_CODES.get(args[0], default)
    return default


def coded(message) -> Message:
    """``message`` (str, lazy string, :class:`Message`) as a :class:`Message` in the current
    language, keeping or finding its code."""
    if isinstance(message, Message):
        return message
    return Message(str(message), message_code(message))


class BanyanError(Exception):
    """Base of every error the kernel shows to users as one clear line."""


class BusinessError(BanyanError):
    """A rule refused the operation. ``errors`` maps a field name (or ``"_"``) to messages."""

    status = 422

    def __init__(self, errors: dict | str, status: int | None = None):
        if isinstance(errors, str):
            errors = {"_": [errors]}
        # each message becomes a Message: text in the current language plus its code
        self.errors = {k: ([coded(v)] if not isinstance(v, (list, tuple)) else [coded(x) for x in v])
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
