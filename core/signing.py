"""Signed tokens for links and references: the kernel's one way to put data in a URL that
nobody can forge or alter.

A token is an itsdangerous ``URLSafeTimedSerializer`` dump of a JSON payload (a dict of
plain values: ids, codes, the address a link was mailed to), signed with the instance secret
(``[security] secret_key``, else ``<instance>/secret_key``) and salted with its *purpose*
(``"campaign.confirm"``, ``"call_center.rating"``...: the salt is the purpose itself), so a
token made for one purpose is never valid for another. The payload is serialised, never joined with a separator: any
value (a list code with a dot, an address with a ``+``) survives the round trip.

Bind a token to everything it was issued for (the ticket *and* its customer, the customer
*and* the address the link went to) and check, when it comes back, that those are still
what the database says: a link outlives the facts it was sent for.

    sign(rt, purpose, payload) -> str
    unsign(rt, purpose, token, max_age=None) -> dict      # raises BadLink / ExpiredLink
"""
from __future__ import annotations

__all__ = ["BadLink", "ExpiredLink", "MAX_TOKEN", "sign", "unsign"]

#: longer tokens are refused before any work
MAX_TOKEN = 2048


class BadLink(ValueError):
    """The token is forged, altered, made for another purpose or not a dict payload."""


class ExpiredLink(BadLink):
    """The token is genuine but older than ``max_age`` seconds."""


def _serializer(rt, purpose: str):
    cache = rt.extra.setdefault("core_signing", {})
    signer = cache.get(purpose)
    if signer is None:
        from itsdangerous import URLSafeTimedSerializer

        from core.app import instance_secret_key

        secret = rt.config["security"].get("secret_key") or instance_secret_key(rt.config["instance"]["path"])
        signer = cache.setdefault(purpose, URLSafeTimedSerializer(secret, salt=purpose))
    return signer


def sign(rt, purpose: str, payload: dict) -> str:
    """A URL-safe token carrying ``payload`` (JSON-serialisable dict) for ``purpose``."""
    if not isinstance(payload, dict):
        raise TypeError("a signed payload is a dict")
    return _serializer(rt, purpose).dumps(payload)


def unsign(rt, purpose: str, token, max_age: int | None = None) -> dict:
    """The payload of a token made by :func:`sign` for ``purpose``; :class:`ExpiredLink`
    when older than ``max_age`` seconds (None: no limit), :class:`BadLink` otherwise."""
    from itsdangerous import BadSignature, SignatureExpired

    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
        raise BadLink(purpose)
    try:
        data = _serializer(rt, purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise ExpiredLink(purpose) from None
    except BadSignature:
        raise BadLink(purpose) from None
    if not isinstance(data, dict):
        raise BadLink(purpose)
    return data
