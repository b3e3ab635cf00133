"""The parts catalog: parts, what they fit, and supersession chains.

A part may be superseded by a newer one (``Part.superseded_by``); the newer one may be
superseded in turn. A request for any part of the chain is served with the part at its end
(:func:`current_part`). A supersession that would close a loop is refused when it is saved,
and a loop found in stored data (written around the services) is an error when followed,
never an endless walk.

Functions work on the caller's session (flush, never commit) and read unscoped (the catalog
is chain-wide).
"""
from __future__ import annotations

from sqlalchemy import or_, select

from core.errors import BusinessError, NotFound
from core.i18n import lazy_gettext as _l
from core.models import Product
from core.validation import is_id, money_input

from .models import Part, PartFit

_U = {"banyan_unscoped": True}

#: a supersession chain longer than this is treated as broken data (and refused on save)
MAX_CHAIN = 50


def get_part(session, part_id: int, field: str = "part_id") -> Part:
    """The part ``part_id``; ``NotFound({field})`` when there is none."""
    # an id no row can have (a form's ``part_99999999999``) is no part, not a value the
    # database is asked about and refuses (``core.validation.is_id``)
    part = session.execute(select(Part).where(Part.id == part_id).execution_options(**_U)).scalar() \
        if is_id(part_id) else None
    if part is None:
        raise NotFound({field: _l("No such part.")})
    return part


def find_part(session, number: str) -> Part | None:
    """The part with part number ``number`` (typed in any case or width), or None."""
    return session.execute(select(Part).where(Part.number == number).execution_options(**_U)).scalar()


def save_part(session, number: str, name: str, *, unit: str = "pcs", cost="0", warranty_covered: bool = True,
              product_id: int | None = None, active: bool = True, part: Part | None = None) -> Part:
    """Create a part (``part`` None) or change ``part``. ``cost`` in the chain's currency, at
    most two decimals, zero or more. BusinessError naming ``number`` (empty or already used),
    ``name`` (empty), ``unit``, ``cost`` or ``product_id`` (no such product)."""
    name = (name or "").strip()
    unit = (unit or "").strip()
    errors: dict = {}
    if not name:
        errors["name"] = [_l("A name is required.")]
    elif len(name) > 160:
        errors["name"] = [_l("At most %(n)s characters.", n=160)]
    if not unit or len(unit) > 16:
        errors["unit"] = [_l("Give a unit of at most 16 characters.")]
    try:
        cost = money_input(cost, "cost", allow_zero=True)
    except BusinessError as exc:
        errors.update(exc.errors)
    if product_id is not None and session.get(Product, product_id) is None:
        errors["product_id"] = [_l("No such product.")]
    if errors:
        raise BusinessError(errors)
    new = part is None
    if new:
        part = Part()
    with session.no_autoflush:
        part.number = number
        if not part.number:
            raise BusinessError({"number": _l("A part number is required.")})
        clash = session.execute(select(Part.id).where(Part.number == part.number, Part.id != (part.id or 0))
                                .execution_options(**_U)).scalar()
    if clash is not None:
        raise BusinessError({"number": _l("This part number is already used.")})
    part.name, part.unit, part.cost = name, unit, cost
    part.warranty_covered, part.product_id, part.active = bool(warranty_covered), product_id, bool(active)
    if new:
        session.add(part)
    session.flush()
    return part


def supersession_chain(session, part_id: int) -> list[Part]:
    """``[part, successor, successor's successor, ...]`` up to the part nobody supersedes.
    BusinessError ``{"superseded_by_id"}`` when the stored chain loops (or is absurdly long)."""
    chain = [get_part(session, part_id)]
    seen = {part_id}
    while chain[-1].superseded_by_id is not None:
        nxt = chain[-1].superseded_by_id
        if nxt in seen or len(chain) > MAX_CHAIN:
            raise BusinessError({"superseded_by_id": _l("The supersession chain of part %(number)s loops.",
                                                        number=chain[0].number)})
        seen.add(nxt)
        chain.append(get_part(session, nxt))
    return chain


def current_part(session, part_id: int) -> Part:
    """The part to supply for a request for ``part_id``: the end of its supersession chain."""
    return supersession_chain(session, part_id)[-1]


def supersede(session, part_id: int, successor_id: int | None) -> Part:
    """Record that ``successor_id`` supersedes part ``part_id`` (None: no longer superseded).
    BusinessError ``{"superseded_by_id"}`` when the successor is the part itself or already
    leads back to it (A → B → C, then C → A: refused)."""
    part = get_part(session, part_id)
    if successor_id is not None:
        get_part(session, successor_id, "superseded_by_id")
        if successor_id == part_id:
            raise BusinessError({"superseded_by_id": _l("A part cannot supersede itself.")})
        if any(p.id == part_id for p in supersession_chain(session, successor_id)):
            raise BusinessError({"superseded_by_id": _l("This would make the supersession chain loop.")})
    part.superseded_by_id = successor_id
    session.flush()
    return part


def add_fit(session, part_id: int, product_id: int, model: str | None = None) -> PartFit:
    """Record that the part fits ``product_id`` (model ``model``, or all its models).
    BusinessError ``{"product_id"}`` for an unknown product, ``{"model"}`` when already recorded."""
    get_part(session, part_id)
    if session.get(Product, product_id) is None:
        raise BusinessError({"product_id": _l("No such product.")})
    model = (model or "").strip()
    if len(model) > 80:
        raise BusinessError({"model": _l("At most %(n)s characters.", n=80)})
    exists = session.execute(select(PartFit.id).where(PartFit.part_id == part_id, PartFit.product_id == product_id,
                                                      PartFit.model == model).execution_options(**_U)).scalar()
    if exists is not None:
        raise BusinessError({"model": _l("This fit is already recorded.")})
    fit = PartFit(part_id=part_id, product_id=product_id, model=model)
    session.add(fit)
    session.flush()
    return fit


def parts_for(session, product_id: int, model: str | None = None) -> list[Part]:
    """The active parts that fit ``product_id`` (and ``model`` when given: the fits for that
    model and those for every model), by part number."""
    cond = [PartFit.product_id == product_id]
    if model:
        cond.append(or_(PartFit.model == "", PartFit.model == model.strip()))
    return list(session.execute(select(Part).join(PartFit, PartFit.part_id == Part.id).where(*cond, Part.active)
                                .distinct().order_by(Part.number).execution_options(**_U)).scalars())


def fits(session, part_id: int, product_id: int | None, model: str | None = None) -> bool:
    """Whether the part fits the product (True when the part records no fit at all: a
    universal part, or one whose fits were never entered)."""
    rows = session.execute(select(PartFit.product_id, PartFit.model).where(PartFit.part_id == part_id)
                           .execution_options(**_U)).all()
    if not rows:
        return True
    return any(p == product_id and (m == "" or m == (model or "").strip()) for p, m in rows)

