"""Argon2 password hashes."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

import os

# The test plugin sets BANYAN_FAST_HASH: cheap parameters, same algorithm and code path.
_hasher = (PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
           if os.environ.get("BANYAN_FAST_HASH") else PasswordHasher())


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(hashed: str | None, password: str) -> bool:
    if not hashed:
        return False
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


#: the shortest password a person may choose (preferences, user admin, ``banyan users create``)
MIN_PASSWORD = 8


def _has_control(password: str) -> bool:
    import unicodedata

    return any(unicodedata.category(ch) == "Cc" for ch in password)


def password_errors(password, min_length: int = MIN_PASSWORD) -> list:
    """What is wrong with ``password`` as a new password (translated messages; empty: fine).
    The one rule wherever a password is set (preferences, user admin, CLI): at least
    ``min_length`` characters, and no control character (NUL, tab, line breaks, DEL, the C1
    block): they cannot be typed at the login form, and NUL cannot be stored or hashed alike
    everywhere."""
    from core.i18n import lazy_gettext as _l

    text = password if isinstance(password, str) else ""
    out = []
    if _has_control(text):
        out.append(_l("A password cannot contain control characters (such as NUL, tab or a line break)."))
    if len(text) < min_length:
        out.append(_l("At least %(n)d characters.", n=min_length))
    return out


def check_password(password, field: str = "password", min_length: int = MIN_PASSWORD) -> None:
    """:func:`password_errors`, raised as ``BusinessError({field: [messages]})``."""
    errors = password_errors(password, min_length)
    if errors:
        from core.errors import BusinessError

        raise BusinessError({field: errors})


class PasswordRules:
    """The same rule as a WTForms validator (the back office's user form)."""

    def __init__(self, min_length: int = MIN_PASSWORD):
        self.min_length = min_length
        self.field_flags = {"minlength": min_length}

    def __call__(self, form, field):
        from wtforms.validators import StopValidation

        errors = password_errors(field.data or "", self.min_length)
        if errors:
            field.errors.extend(str(e) for e in errors)
            raise StopValidation()
