"""Importing the parts catalog through the kernel's bulk import: new and changed parts,
successors and fits, errors named per row and column, all-or-nothing and valid-rows-only."""
import csv
import io
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.db import transaction
from core.imports import create, execute, importers
from core.models import ImportRun

from addons.spare_parts import services as svc
from addons.spare_parts.models import Part, PartFit

pytestmark = pytest.mark.addons("spare_parts")


def run(rt, session, rows, mode="all_or_nothing"):
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    with transaction(session):
        rec = create(session, "spare_parts.parts", "parts.csv", buf.getvalue().encode(), None, mode)
    execute(rt, rec.id)
    session.expire_all()
    return session.get(ImportRun, rec.id)


def test_importer_is_declared(rt):
    imp = importers(rt.registry)["spare_parts.parts"]
    assert imp.addon == "spare_parts" and imp.permission == "spare_parts.part.write"


def test_parts_import(rt, session, chain, make):
    fridge = make.product(price="3000.00", name="Fridge")
    old = chain.parts["P-A"]
    head = ["number", "name", "unit", "cost", "warranty_covered", "product", "superseded_by", "fits", "active"]
    rows = [head,
            ["imp-1", "Door seal", "pcs", "12.50", "yes", "", "", f"{fridge.sku}; {chain.product.sku}:X1", ""],
            ["IMP-2", "Door seal v2", "", "13", "", fridge.sku, "", fridge.sku, ""],
            ["IMP-1", "", "", "", "", "", "IMP-2", "", ""],          # 4: duplicate number in the file
            ["IMP-3", "", "", "1", "", "", "", "", ""],               # 5: a new part needs a name
            ["IMP-4", "Hinge", "", "-1", "", "NO-SKU", "", "", ""],   # 6: cost and product
            ["IMP-5", "Gasket", "", "1", "yes", "", "", "BAD-SKU", ""],  # 7: fits
            ["IMP-6", "Knob", "", "1", "", "", "IMP-99", "", ""],     # 8: successor unknown
            [old.number, "", "", "85", "", "", "", "", "no"],          # 9: a known part changed
            ["IMP-7", "Lid", "", "1", "maybe", "", "", "", ""]]        # 10: yes or no
    rec = run(rt, session, rows)
    assert rec.state == "failed" and rec.written_rows == 0
    errors = {(e["row"], e["column"]) for e in rec.errors}
    assert errors == {(4, "number"), (5, "name"), (6, "cost"), (6, "product"), (7, "fits"), (8, "superseded_by"),
                      (10, "warranty_covered")}, rec.errors
    assert session.execute(select(Part).where(Part.number == "IMP-1")).scalar() is None
    rec = run(rt, session, rows, mode="valid_only")
    assert rec.written_rows == 3, rec.errors
    p1 = svc.find_part(session, "IMP-1")
    assert (p1.name, p1.cost, p1.warranty_covered, p1.active) == ("Door seal", Decimal("12.50"), True, True)
    fits = set(session.execute(select(PartFit.product_id, PartFit.model).where(PartFit.part_id == p1.id)).all())
    assert fits == {(fridge.id, ""), (chain.product.id, "X1")}
    p2 = svc.find_part(session, "IMP-2")
    assert p2.product_id == fridge.id and p2.unit == "pcs"
    session.refresh(old)
    assert old.cost == Decimal("85.00") and old.active is False and old.name == "Pump P-A"  # blank keeps
    # a second file: the successor comes earlier in the file; a loop is refused on its row
    rec = run(rt, session, [["number", "superseded_by"], ["IMP-1", "IMP-2"], ["IMP-2", "IMP-1"]],
              mode="valid_only")
    assert rec.written_rows == 1 and [(e["row"], e["column"]) for e in rec.errors] == [(3, "superseded_by")]
    assert svc.current_part(session, p1.id).id == p2.id


def test_wrong_header_refused_at_upload(rt, session, chain):
    from core.errors import BusinessError

    with pytest.raises(BusinessError) as err:
        with transaction(session):
            create(session, "spare_parts.parts", "p.csv", b"name,bogus\nX,1\n", None, "dry_run")
    assert "file" in err.value.errors
