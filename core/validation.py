"""Normalisers for contact data; raise BusinessError naming the field on bad input."""
from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from core.errors import BusinessError
from core.i18n import lazy_gettext as _l

DEFAULT_REGION = "CN"


def normalize_phone(raw: str | None, field: str = "phone", region: str = DEFAULT_REGION) -> str | None:
    """Return the number in E.164 (``+8613800138000``) or raise ``BusinessError``."""
    if raw is None or not str(raw).strip():
        return None
    try:
        num = phonenumbers.parse(str(raw), region)
    except phonenumbers.NumberParseException:
        raise BusinessError({field: _l("Not a phone number.")}) from None
    if not phonenumbers.is_valid_number(num):
        raise BusinessError({field: _l("Not a valid phone number.")})
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str | None, field: str = "email") -> str | None:
    if raw is None or not str(raw).strip():
        return None
    try:
        return validate_email(str(raw).strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise BusinessError({field: _l("Not a valid email address.")}) from None
