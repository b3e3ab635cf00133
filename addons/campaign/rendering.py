"""Message templates rendered with sandboxed Jinja2, and signed unsubscribe links
(``core.signing``).

A template is chosen by the plan's template code, its channel and the customer's language
(falling back to the chain's language, then to any language of that code and channel). The
personal fields a template may use are ``customer.name``, ``customer.first_name`` (the name
to greet by, ``core.names.given_name``: 王芳 → 芳, 欧阳娜娜 → 娜娜, Amy Smith → Amy),
``customer.email``, ``customer.birthday``, ``customer.language``, ``store.name``,
``plan.code``, ``plan.name`` and ``unsubscribe_url``. The sandbox refuses attribute access to
anything else (a template cannot reach the database, the session or Python internals).
"""
from __future__ import annotations

import functools
import hashlib
import hmac

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select

from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.models import Customer, Store

from .models import Template

#: the longest message a template may render (characters), and the largest number a template
#: may hand to a repetition, a padding or a width (``'x' * n``, ``center(n)``, ``'%9999999s'``)
MAX_MESSAGE = 200_000
MAX_COUNT = 100_000


class BoundedSandbox(SandboxedEnvironment):
    """The sandbox with bounded arithmetic: besides refusing attribute access, it refuses
    what would build a huge string or number before it is built -- a repetition (``*``) past
    :data:`MAX_MESSAGE` characters, a power (``**``) past a few thousand bits, a ``%`` or
    ``format`` width or a filter's or method's count past :data:`MAX_COUNT`. Each refusal is
    a ``SecurityError`` (a ``TemplateError``: the 422 of :func:`render`), so a typo in a
    template never takes the worker's memory."""

    intercepted_binops = frozenset(["*", "**", "%"])

    def call_binop(self, context, operator, left, right):
        from jinja2.exceptions import SecurityError

        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_MESSAGE:
                    raise SecurityError("the repeated text would be too long")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and \
                    (right > 4096 or max(abs(left), 2).bit_length() * max(right, 0) > 4096):
                raise SecurityError("the number would be too large")
        elif operator == "%" and isinstance(left, str):
            _check_widths(left)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 -- the sandbox's signature
        from jinja2.exceptions import SecurityError

        _check_counts(args, kwargs)
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str) and getattr(__obj, "__name__", "") in ("ljust", "rjust", "center", "zfill",
                                                                         "expandtabs") and not args:
            raise SecurityError("a width is needed")
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value):
        owner = getattr(value, "__self__", None)
        if isinstance(owner, str) and getattr(value, "__name__", "") in ("format", "format_map"):
            _check_widths(owner)
        return super().wrap_str_format(value)


def _check_counts(args, kwargs) -> None:
    from jinja2.exceptions import SecurityError

    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_COUNT:
            raise SecurityError(f"{value} is too large here")


def _check_widths(fmt: str) -> None:
    """Refuse a ``%``/``format`` string whose width or precision exceeds :data:`MAX_COUNT`."""
    import re

    from jinja2.exceptions import SecurityError

    for number in re.findall(r"\d+", " ".join(re.findall(r"%[-#0 +]*[\d.*]+|\{[^{}]*:[^{}]*\}", fmt))):
        if int(number) > MAX_COUNT:
            raise SecurityError("a width in the template is too large")


def _bounded_filter(func):
    import functools

    @functools.wraps(func)
    def guarded(*args, **kwargs):
        _check_counts(args[1:], kwargs)  # the value filtered is bounded already; its arguments here
        if args and isinstance(args[0], str) and func.__name__ in ("do_format",):
            _check_widths(args[0])
        return func(*args, **kwargs)

    return guarded


_ENV = BoundedSandbox(autoescape=False, trim_blocks=True)
_ENV.filters = {name: _bounded_filter(f) for name, f in _ENV.filters.items()}


def check_source(source: str, field: str) -> None:
    """Refuse a template that does not parse (422 naming ``field``)."""
    try:
        _ENV.parse(source or "")
    except TemplateError as exc:
        raise BusinessError({field: [_l("The template does not parse: %(error)s", error=str(exc))]}) from None


def pick_template(session, code: str, channel: str, language: str | None, default_language: str) -> Template:
    rows = session.execute(select(Template).where(Template.code == code, Template.channel == channel)
                           .execution_options(banyan_unscoped=True)).scalars().all()
    if not rows:
        raise NotFound({"template_code": _l("No template %(code)s for channel %(channel)s.", code=code,
                                            channel=channel)})
    by_lang = {t.language: t for t in rows}
    return by_lang.get(language or "") or by_lang.get(default_language) or rows[0]


def _secret(rt) -> bytes:
    from core.app import instance_secret_key

    return (rt.config["security"].get("secret_key") or instance_secret_key(rt.config["instance"]["path"])).encode()


def sign(rt, purpose: str, payload: str) -> str:
    """HMAC-SHA256 (32 hex digits) of ``payload`` for ``purpose`` with the instance secret: a
    signature made for one purpose (a consent confirmation, a tracked link) is never valid for
    another (the unsubscribe tokens sign the bare payload, which starts with a digit)."""
    return hmac.new(_secret(rt), f"{purpose}:{payload}".encode(), hashlib.sha256).hexdigest()[:32]


def check_signature(rt, purpose: str, payload: str, signature: str) -> bool:
    return hmac.compare_digest(sign(rt, purpose, payload), signature or "")


UNSUBSCRIBE = "campaign.unsubscribe"


def unsubscribe_token(rt, customer_id: int, channel: str, list_code: str) -> str:
    """The signed token of an unsubscribe link (``core.signing``): the customer, channel and
    list as a serialised payload, so any list code survives. It does not expire: a customer
    can always leave a list from any message they received."""
    from core.signing import sign as sign_link

    return sign_link(rt, UNSUBSCRIBE, {"c": int(customer_id), "ch": channel, "l": list_code})


def _legacy_token(rt, token: str) -> tuple[int, str, str] | None:
    """Links mailed before round 22: ``<customer>.<channel>.<list>.<signature>`` (HMAC of the
    dotted payload). Still honoured (a customer keeps the right to leave); the list is
    whatever lies between the channel and the signature, dots included."""
    parts = token.split(".")
    if len(parts) < 4 or not parts[0].isdigit():
        return None
    payload = ".".join(parts[:-1])
    good = hmac.new(_secret(rt), payload.encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(good, parts[-1]):
        return None
    return int(parts[0]), parts[1], ".".join(parts[2:-1])


def read_token(rt, token: str) -> tuple[int, str, str]:
    """``(customer_id, channel, list_code)`` of a valid token; a forged one is a 422."""
    from core.signing import BadLink, unsign

    try:
        data = unsign(rt, UNSUBSCRIBE, token)
    except BadLink:
        legacy = _legacy_token(rt, token) if isinstance(token, str) and len(token) <= 512 else None
        if legacy is not None:
            return legacy
    else:
        cid, channel, list_code = data.get("c"), data.get("ch"), data.get("l")
        if isinstance(cid, int) and isinstance(channel, str) and isinstance(list_code, str):
            return cid, channel, list_code
    raise BusinessError({"token": [_l("This unsubscribe link is not valid.")]})


def context(session, rt, customer: Customer, plan, store: Store | None = None, occurrence: str | None = None) -> dict:
    """The names a template may use: ``customer``, ``store``, ``plan``, ``unsubscribe_url``,
    and for a holiday greeting ``holiday`` (the festival's name in the customer's language,
    from the recipient's occurrence ``holiday:YYYY-MM-DD``)."""
    from core.notify import mail_settings

    from core.names import given_name

    base = mail_settings(rt)["base_url"].rstrip("/")
    token = unsubscribe_token(rt, customer.id, plan.channel, plan.list_code)
    name = customer.name or ""
    return {
        "customer": {"name": name, "first_name": given_name(name),
                     "email": customer.email, "birthday": customer.birthday, "language": customer.language},
        "store": {"name": store.name if store else ""},
        "plan": {"code": plan.code, "name": plan.name},
        "unsubscribe_url": f"{base}/campaign/unsubscribe/{token}",
        "holiday": _holiday_name(occurrence, customer.language),
    }


def _holiday_name(occurrence: str | None, language: str | None) -> str:
    if not occurrence or not occurrence.startswith("holiday:"):
        return ""
    from datetime import date

    from .triggers import holiday_on

    try:
        day = date.fromisoformat(occurrence.split(":", 1)[1])
    except ValueError:
        return ""
    return holiday_on(day, "zh_CN" if (language or "").startswith("zh") else "en_US") or ""


@functools.lru_cache(maxsize=256)
def _compiled(source: str):
    """The sandboxed template of ``source``, compiled once per process (a send renders the
    same few templates thousands of times)."""
    return _ENV.from_string(source)


def render(template: Template, ctx: dict) -> tuple[str | None, str]:
    """``(subject, body)`` of ``template`` with ``ctx``; a sandbox or syntax error is a 422."""
    try:
        subject = _compiled(template.subject).render(ctx) if template.subject else None
        if subject is not None:  # a header is one line (a name typed over two never injects a header)
            subject = " ".join(subject.split())
        body = _compiled(template.body).render(ctx)
    except TemplateError as exc:
        raise BusinessError({"body": [_l("The template cannot be rendered: %(error)s", error=str(exc))]}) from None
    if len(body) > MAX_MESSAGE or len(subject or "") > MAX_MESSAGE:
        raise BusinessError({"body": [_l("The message is too long: at most %(n)s characters.", n=MAX_MESSAGE)]})
    return subject, body


def preview(session, plan, customer_id: int) -> dict:
    """The message ``plan`` would send to ``customer_id``: ``{to, subject, body, language}``."""
    from core.db import RUNTIME
    from core.notify import chain_locale

    rt = RUNTIME.get(session)
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound({"customer_id": _l("No such customer.")})
    from .audience import plan_stores

    stores = plan_stores(plan)
    if stores is not None and customer.home_store_id not in stores:
        raise BusinessError({"customer_id": [_l("This customer is outside the plan's stores: the plan never "
                                                "messages them.")]})
    if not plan.template_code:
        raise BusinessError({"template_code": _l("Choose a template.")})
    tpl = pick_template(session, plan.template_code, plan.channel, customer.language, chain_locale(rt))
    store = session.get(Store, customer.home_store_id) if customer.home_store_id else None
    subject, body = render(tpl, context(session, rt, customer, plan, store))
    return {"to": customer.email, "subject": subject, "body": body, "language": tpl.language}
