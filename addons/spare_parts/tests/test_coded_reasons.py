"""Migration c3d9e5f1a826 (``*_spare_parts_approval_subjects.py``): a nearest-location
transfer's reason, stored as the English or Chinese sentence of the user who made it, becomes
the code ``nearest`` (``MOVE_REASON``), read back in each reader's language; a reason typed by
a person stays as typed. Replacement and stock-take approval requests keep only their number
(``subject``). A second run changes nothing; the way back writes the English sentence."""
import pytest
from sqlalchemy import insert, select

from core.i18n import force_locale
from core.models.approval import ApprovalRequest
from core.testing.migrations import load_migration

from addons.spare_parts.models import MOVE_REASON, StockMove
from addons.spare_parts.requests import ACTION as REPLACEMENT
from addons.spare_parts.stocktake import ACTION as STOCK_TAKE

pytestmark = pytest.mark.addons("spare_parts")


def _migration():
    return load_migration("spare_parts", "*_spare_parts_approval_subjects.py")


def _upgrade(mig, conn, which="upgrade"):
    """Run the migration's ``upgrade`` (or ``downgrade``) on ``conn``, as Alembic would."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    with Operations.context(MigrationContext.configure(conn)):
        getattr(mig, which)()


def _reasons(session, ids) -> list:
    session.expire_all()
    got = dict(session.execute(select(StockMove.id, StockMove.reason).where(StockMove.id.in_(ids))).all())
    return [got[i] for i in ids]


def _requests(session, ids) -> list:
    session.expire_all()
    return [(r.label, r.subject) for r in (session.get(ApprovalRequest, i) for i in ids)]


def test_the_migration_maps_the_stored_sentences_to_codes(session, chain):
    mig = _migration()
    part, wh = chain.parts["P-A"], chain.wh["A1"]
    # the words the code wrote, in each language: what the code now reads back for ``nearest``
    with force_locale("en"):
        english = str(MOVE_REASON.label("nearest"))
    with force_locale("zh_Hans"):
        chinese = str(MOVE_REASON.label("nearest"))
    assert set(mig.NEAREST) == {english, chinese} and english != chinese
    reasons = [english, chinese, "damaged in transit", None]
    moves = [session.execute(insert(StockMove).values(part_id=part.id, warehouse_id=wh.id, kind="transfer_in", qty=1,
                                                      reason=reason).returning(StockMove.id)).scalar()
             for reason in reasons]
    labels = [(REPLACEMENT, "Replacement request RQ-MIG-1"), (REPLACEMENT, "换件申请单 RQ-MIG-2"),
              (STOCK_TAKE, "Stock take SC-MIG-1"), (STOCK_TAKE, "盘点单 SC-MIG-2"),
              (REPLACEMENT, "Approved by phone")]
    reqs = []
    for action, label in labels:
        req = ApprovalRequest(action=action, label=label, required=2, payload={})
        session.add(req)
        session.flush()
        reqs.append(req.id)
    conn = session.connection()

    coded = ["nearest", "nearest", "damaged in transit", None]
    subjects = [("", "RQ-MIG-1"), ("", "RQ-MIG-2"), ("", "SC-MIG-1"), ("", "SC-MIG-2"), ("Approved by phone", None)]
    _upgrade(mig, conn)
    assert _reasons(session, moves) == coded
    assert _requests(session, reqs) == subjects
    assert "nearest" in MOVE_REASON.codes

    _upgrade(mig, conn)                                    # a second run changes nothing
    assert (_reasons(session, moves), _requests(session, reqs)) == (coded, subjects)

    _upgrade(mig, conn, "downgrade")                       # the way back: English
    assert _reasons(session, moves) == [english, english, "damaged in transit", None]
    assert _requests(session, reqs) == [("Replacement request RQ-MIG-1", None), ("Replacement request RQ-MIG-2", None),
                                        ("Stock take SC-MIG-1", None), ("Stock take SC-MIG-2", None),
                                        ("Approved by phone", None)]
