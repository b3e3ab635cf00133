"""core.db.insert_from_select: the true number of rows an ``INSERT ... SELECT`` wrote, on
SQLite and PostgreSQL (psycopg's cursor answers -1 unless the count is preserved)."""
from sqlalchemy import func, literal, select

from core.db import insert_from_select
from core.models import Notification, User


def _notify_all(executor, kind, *where):
    return insert_from_select(executor, Notification, ["user_id", "kind", "subject", "body"],
                              select(User.id, literal(kind), literal("hello"), literal("")).where(*where))


def _count(session, kind):
    return session.execute(select(func.count()).select_from(Notification).where(Notification.kind == kind)).scalar()


def test_counts_the_rows_written_through_a_session(session, make):
    users = [make.user(username=f"ins-sel-{n}") for n in range(7)]
    session.flush()
    assert _notify_all(session, "test.ins", User.username.like("ins-sel-%")) == len(users) == _count(session, "test.ins")


def test_counts_on_a_connection_and_the_table_and_zero(session, make):
    make.user(username="ins-sel-x")
    session.flush()
    conn = session.connection()
    assert insert_from_select(conn, Notification.__table__, ["user_id", "kind", "subject", "body"],
                              select(User.id, literal("test.tab"), literal("s"), literal(""))
                              .where(User.username == "ins-sel-x")) == 1
    assert _notify_all(session, "test.none", User.username == "nobody-at-all") == 0
    assert _count(session, "test.none") == 0
