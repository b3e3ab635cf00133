"""Chain-wide lookups: find a customer (or a card) anywhere in the chain by one exact
identifier, and answer with the least the till needs.

Record scope (``core.security.scope``) keeps every read of another franchisee's customers
out of a user's reach. A few reads must cross it: a membership or a gift card is valid in
every store, so a cashier of franchisee A must be able to serve a member of franchisee B
who shows a card or gives a phone number. Those reads go through :func:`lookup` only, which
holds the rules for all of them (kernel and addons):

1. **Permission.** The target names a permission (e.g. ``membership.member.lookup``) granted
   to the roles that serve customers; anyone else gets :class:`~core.errors.Forbidden` (403)
   and nothing else, not even whether the identifier exists.
2. **Rate limit per user** (:mod:`core.ratelimit`, settings ``[lookup]``): over the limit,
   :class:`RateLimited` (HTTP 429 with ``Retry-After``). One number at a time, the whole
   customer base cannot be walked.
3. **Exact identifiers only.** :func:`normalize_identifier` turns what was typed into the
   stored form (phone -> E.164, card numbers and codes -> :func:`normalize_code`); the
   target compares it with ``=``. No prefix, no ``LIKE``, no fuzzy match: a partial number
   finds nothing (404) or is refused as malformed (422).
4. **Least data.** The target's ``answer`` gets ``proven``: True only when the person
   presented the secret that proves they hold the account (the card number or gift-card
   code itself, or a card number given beside a phone). Without it: a masked name
   (:func:`mask_name`), the tier, what payment is possible. With it: also the balance.
   Never card numbers, contact data, history or anything the record scope hides.
5. **Audit.** Every lookup (found, not found, refused, limited) is one ``core_audit_log`` row,
   ``model = "core.lookup"``: who (``user_id``), when, ``record_id`` = the customer found (or
   ``"-"``), ``action`` = ``found`` / ``missing`` / ``refused`` / ``limited``, and in
   ``changes`` the target, the identifier kind, a masked identifier and whether proof was
   given. The row is committed by the lookup itself (one transaction per lookup), so a 404
   or a 429 is recorded too.

6. **A signed reference, not the record.** Every answer that names a customer also carries
   ``customer_ref``: a short-lived token signed with the instance secret (itsdangerous),
   bound to the user who looked up and to the customer found, and saying whether the
   card was presented (``proven``). The checkout and its preview (``CheckoutRequest.
   customer_ref``, ``customer_ref`` in ``POST /api/v1/sales`` and ``/sales/preview``, the
   till) accept it *as* the customer, reading that one customer past the record scope
   (:func:`read_customer_ref`). It opens no other read: the customer's page, list and API
   record stay behind the scope, and another user, a changed token or one older than
   ``[lookup] ref_minutes`` is refused (422 naming ``customer_ref``).

Addons declare a :class:`LookupTarget` (see ``addons/membership/lookup.py`` and the gift card
example) and call :func:`lookup` from their endpoints and pages; they never read another
franchisee's customer for a person any other way. The kernel's own target,
:data:`CUSTOMER`, finds any active customer by exact phone (the till, for customers who are
not members).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable

from core.db import RUNTIME
from core.errors import BusinessError, Forbidden, NotFound
from core.i18n import lazy_gettext as _l
from core.models import AuditLog

AUDIT_MODEL = "core.lookup"
#: identifier kinds the kernel knows how to normalise
KINDS = ("phone", "card", "code")


class RateLimited(BusinessError):
    """Too many lookups: HTTP 429; ``retry_after`` is in whole seconds."""

    status = 429

    def __init__(self, retry_after: int, field: str = "_"):
        self.retry_after = int(retry_after)
        super().__init__({field: [_l("Too many lookups. Try again in %(seconds)s seconds.", seconds=self.retry_after)]})


@dataclass(frozen=True)
class LookupHit:
    """What a target found: the customer behind it (None for an anonymous bearer card), the
    record's id (for the audit row), whether the identifier itself is the proof (a card
    number, a gift-card code), and anything the target's ``answer`` needs (``data``)."""

    customer_id: int | None
    record_id: Any = None
    proven: bool = False
    data: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class LookupTarget:
    """A chain-wide lookup an addon (or the kernel) offers.

    * ``name``: ``"<addon>.<thing>"``, written to the audit row;
    * ``permission``: needed to look up at all (declare it with ``register_permissions``);
    * ``kinds``: identifier kinds accepted, from :data:`KINDS`;
    * ``find(session, kind, value) -> LookupHit | None``: exact match on the normalised
      ``value``, reading unscoped (``execution_options(banyan_unscoped=True)``); may raise
      ``BusinessError`` (say, a card reported lost), which is audited as ``refused``;
    * ``answer(session, hit, proven) -> dict``: the response; only with ``proven`` may it
      contain balances;
    * ``prove(session, hit, secret) -> bool`` (optional): whether ``secret`` (a normalised
      card number or code presented beside another identifier) belongs to ``hit``;
    * ``min_length``: the shortest card number or code accepted (default 4; a coupon code
      may be shorter: the rate limit is what keeps short codes from being walked).
    """

    name: str
    permission: str
    kinds: tuple[str, ...]
    find: Callable[..., LookupHit | None]
    answer: Callable[..., dict]
    prove: Callable[..., bool] | None = None
    min_length: int = 4


# --------------------------------------------------------------------------- normalising

def normalize_code(raw: str | None) -> str:
    """A card number or code as stored: the kernel's one rule (:func:`core.codes.normalize_code`:
    full-width to half-width, spaces dropped, upper case), or ``""``."""
    from core.codes import normalize_code as canonical

    return canonical(raw) or ""


def normalize_identifier(kind: str, raw, field: str, min_length: int = 4) -> str:
    """``raw`` in its stored form, or ``BusinessError`` naming ``field``: a phone must be a
    valid number (E.164, via ``core.validation.normalize_phone``); a card number or code must
    be ``min_length`` (default 4) to 64 printable characters without spaces inside."""
    if kind not in KINDS:
        raise BusinessError({field: [_l("Unknown kind of identifier.")]})
    if raw is None or not str(raw).strip():
        raise BusinessError({field: [_l("Give the exact number or code.")]})
    if kind == "phone":
        from core.validation import normalize_phone

        return normalize_phone(str(raw), field=field)
    value = normalize_code(str(raw))
    if not (min_length <= len(value) <= 64) or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise BusinessError({field: [_l("Give the exact number or code.")]})
    return value


# --------------------------------------------------------------------------- masking

def _is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def mask_name(name: str | None) -> str:
    """A name a cashier may read aloud without learning it: ``张小明`` -> ``张*明``,
    ``张明`` -> ``张*``, ``欧阳小明`` -> ``欧**明``, ``John Smith`` -> ``J*** S.``,
    ``Mary Ann Smith`` -> ``M*** S.``, ``Madonna`` -> ``M***``. Empty stays empty."""
    name = (name or "").strip()
    if not name:
        return ""
    words = [w for w in re.split(r"\s+", name) if w]
    if len(words) == 1 and any(_is_cjk(ch) for ch in name):
        if len(name) == 1:
            return "*"
        if len(name) == 2:
            return name[0] + "*"
        return name[0] + "*" * (len(name) - 2) + name[-1]
    first = words[0][0] + "***"
    if len(words) == 1:
        return first
    return f"{first} {words[-1][0]}."


def mask_identifier(kind: str, value: str) -> str:
    """The identifier as written to the audit row: the middle hidden (``+86138****8000``,
    ``CARD****0001``), so the log does not become a list of numbers to try."""
    from core.api.schemas import mask

    return mask(value, "phone" if kind == "phone" else "code") or ""


# --------------------------------------------------------------------------- the service

def limiter(runtime):
    """The runtime's :class:`core.ratelimit.RateLimiter` for lookups, built from settings
    ``[lookup]`` on first use (``backend = ""``: Redis when ``[jobs] backend = "redis"``,
    otherwise a SQLite file ``ratelimit.sqlite`` in the instance folder)."""
    cached = runtime.extra.get("lookup_limiter")
    if cached is not None:
        return cached
    from pathlib import Path

    from core.ratelimit import RateLimiter

    cfg = runtime.config.get("lookup", {})
    backend = cfg.get("backend") or ("redis" if runtime.config["jobs"]["backend"] == "redis" else "sqlite")
    made = RateLimiter(int(cfg.get("per_minute", 10)), int(cfg.get("burst", 30)), backend,
                       path=Path(runtime.config["instance"]["path"]) / "ratelimit.sqlite",
                       redis_url=runtime.config["jobs"]["redis_url"])
    return runtime.extra.setdefault("lookup_limiter", made)


def _audit(session, user, target: LookupTarget, kind: str, value: str | None, action: str,
           hit: LookupHit | None = None, proven: bool = False) -> None:
    """One ``core.lookup`` audit row, committed with the lookup's transaction."""
    customer_id = hit.customer_id if hit is not None else None
    session.add(AuditLog(user_id=getattr(user, "id", None), model=AUDIT_MODEL,
                         record_id=str(customer_id) if customer_id is not None else "-", action=action,
                         changes={"target": target.name, "kind": kind, "found": hit is not None,
                                  "customer_id": customer_id,
                                  "record": None if hit is None or hit.record_id is None else str(hit.record_id),
                                  "identifier": mask_identifier(kind, value) if value else None,
                                  "proof": proven}))
    session.commit()


def lookup(session, user, target: LookupTarget, kind: str, raw, *, proof=None, field: str | None = None) -> dict:
    """Look ``raw`` (an identifier of ``kind``) up chain-wide through ``target``.

    Returns ``target.answer(session, hit, proven)``. Raises ``Forbidden`` (403) without
    ``target.permission``, :class:`RateLimited` (429) over the user's limit,
    ``BusinessError`` (422, naming ``field``, default the kind) for a malformed identifier
    or proof, ``NotFound`` (404) when nothing matches exactly. ``proof`` is a card number or
    code presented beside the identifier: the balance is shown only when it belongs to what
    was found (a wrong one is refused with 422 naming ``proof``). Commits its audit row."""
    from core.security.permissions import has_permission

    field = field or kind
    if not has_permission(session, user, target.permission):
        raise Forbidden({"_": [_l("You may not look customers up.")]})
    rt = RUNTIME.get(session)
    if rt is not None:
        allowed, wait = limiter(rt).hit(target.name, user.id)
        if not allowed:
            _audit(session, user, target, kind, None, "limited")
            raise RateLimited(wait)
    if kind not in target.kinds:
        raise BusinessError({field: [_l("Unknown kind of identifier.")]})
    value = normalize_identifier(kind, raw, field, target.min_length)
    secret = normalize_identifier("code", proof, "proof") if proof not in (None, "") else None
    try:
        hit = target.find(session, kind, value)
    except BusinessError:
        _audit(session, user, target, kind, value, "refused")
        raise
    if hit is None:
        _audit(session, user, target, kind, value, "missing")
        raise NotFound({field: [_l("Nothing matches exactly.")]})
    proven = hit.proven
    if secret is not None and not proven:
        proven = bool(target.prove and target.prove(session, hit, secret))
        if not proven:
            _audit(session, user, target, kind, value, "refused", hit)
            raise BusinessError({"proof": [_l("This card does not belong to the customer found.")]})
    out = target.answer(session, hit, proven)
    if hit.customer_id is not None:
        out["customer_ref"] = issue_customer_ref(session, user, hit.customer_id, proven)
    _audit(session, user, target, kind, value, "found", hit, proven)
    return out


# --------------------------------------------------------------------------- references

#: what the signature is for (a token signed for anything else never verifies here)
REF_SALT = "banyan.lookup.customer-ref"
#: the default lifetime of a reference, minutes (setting ``[lookup] ref_minutes``)
REF_MINUTES = 10


@dataclass(frozen=True)
class CustomerRef:
    """A verified reference: the customer, whether the card was presented, who looked up."""

    customer_id: int
    proven: bool
    user_id: int


def _ref_minutes(rt) -> int:
    return int(rt.config.get("lookup", {}).get("ref_minutes", REF_MINUTES))


def issue_customer_ref(session, user, customer_id: int, proven: bool = False) -> str:
    """A signed, URL-safe reference to ``customer_id`` for ``user`` (see rule 6 above),
    valid ``[lookup] ref_minutes`` minutes. Only :func:`lookup` issues them."""
    from core.runtime import runtime_of

    from core.signing import sign

    return sign(runtime_of(session), REF_SALT, {"u": int(user.id), "c": int(customer_id), "p": bool(proven)})


def read_customer_ref(session, user, token, field: str = "customer_ref") -> CustomerRef:
    """Verify ``token`` for ``user``: the :class:`CustomerRef`, or ``BusinessError`` (422)
    naming ``field`` when it is expired (older than ``[lookup] ref_minutes``), forged or
    altered, or issued to another user."""
    from core.runtime import runtime_of
    from core.signing import BadLink, ExpiredLink, unsign

    if user is None or not isinstance(token, str) or not token or len(token) > 512:
        raise BusinessError({field: [_l("Not a valid customer reference: look the customer up again.")]})
    rt = runtime_of(session)
    try:
        data = unsign(rt, REF_SALT, token, max_age=_ref_minutes(rt) * 60)
    except ExpiredLink:
        raise BusinessError({field: [_l("This customer reference has expired: look the customer up again.")]}) from None
    except BadLink:
        raise BusinessError({field: [_l("Not a valid customer reference: look the customer up again.")]}) from None
    if data.get("u") != user.id or not isinstance(data.get("c"), int):
        raise BusinessError({field: [_l("Not a valid customer reference: look the customer up again.")]})
    return CustomerRef(customer_id=data["c"], proven=bool(data.get("p")), user_id=user.id)


# --------------------------------------------------------------------------- kernel target

def _customer_find(session, kind: str, value: str) -> LookupHit | None:
    from sqlalchemy import select

    from core.models import Customer

    ids = session.execute(select(Customer.id).where(Customer.phone == value, Customer.active.is_(True))
                          .order_by(Customer.id).limit(1).execution_options(banyan_unscoped=True)).scalars().all()
    return LookupHit(customer_id=ids[0], record_id=f"customer:{ids[0]}") if ids else None


def _customer_answer(session, hit: LookupHit, proven: bool) -> dict:
    from sqlalchemy import select

    from core.models import Customer

    name = session.execute(select(Customer.name).where(Customer.id == hit.customer_id)
                           .execution_options(banyan_unscoped=True)).scalar()
    return {"customer_id": hit.customer_id, "name": mask_name(name), "proof": proven}


#: any active customer by exact phone, for whoever may ring up sales (``core.sale.create``)
CUSTOMER = LookupTarget(name="core.customer", permission="core.sale.create", kinds=("phone",),
                        find=_customer_find, answer=_customer_answer)
