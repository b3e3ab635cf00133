"""core.cache.TransactionMemo (values for one transaction of one session) and the typed keys
of ``session.info`` (core.db.InfoKey): every key in the source is one, and Banyan sessions
refuse any other."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from core.cache import TransactionMemo, memo_names
from core.db import RUNTIME, InfoKey, SessionInfo, transaction
from core.models import Customer, Product

ROOT = Path(__file__).resolve().parents[1]
CUSTOMERS = TransactionMemo("test.customers", watch=(Customer,))
PRODUCTS = TransactionMemo("test.products", watch=(Product,), watch_updates=())
NUMBER: InfoKey[int] = InfoKey("test.number")


def _fill(session) -> None:
    session.connection()  # in a transaction, as any loader that reads is
    CUSTOMERS.lookup(session, "n", lambda: 1)
    PRODUCTS.lookup(session, "n", lambda: 2)


# ---------------------------------------------------------------- the memo

def test_value_is_loaded_once_per_transaction(session):
    session.connection()
    calls = []
    for _ in range(3):
        assert CUSTOMERS.lookup(session, "k", lambda: calls.append(1) or "v") == "v"
    assert calls == [1]
    assert CUSTOMERS.lookup(session, "none", lambda: None) is None
    assert CUSTOMERS.lookup(session, "none", lambda: calls.append(2)) is None  # None is kept too
    assert calls == [1]


def test_commit_and_rollback_drop_every_memo(rt):
    with rt.session() as s:
        _fill(s)
        assert memo_names(s) == ["test.customers", "test.products"]
        s.commit()
        assert memo_names(s) == []
        _fill(s)
        s.rollback()
        assert memo_names(s) == []
        assert CUSTOMERS.lookup(s, "n", lambda: "fresh") == "fresh"


def test_savepoint_rollback_drops_what_was_read(session):
    _fill(session)
    sp = session.begin_nested()
    assert CUSTOMERS.lookup(session, "inside", lambda: "x") == "x"
    sp.rollback()
    assert memo_names(session) == []
    assert CUSTOMERS.lookup(session, "inside", lambda: "again") == "again"


def test_a_released_savepoint_keeps_the_memo(session):
    _fill(session)
    with session.begin_nested():
        pass
    assert memo_names(session) == ["test.customers", "test.products"]


def test_flush_of_a_watched_model_empties_that_memo_only(session, make):
    _fill(session)
    make.customer()  # the factory flushes the new customer
    assert memo_names(session) == ["test.products"]
    product = make.product()
    assert memo_names(session) == []
    PRODUCTS.lookup(session, "n", lambda: 2)
    product.name = "renamed"  # watch_updates=(): a changed product keeps it
    session.flush()
    assert memo_names(session) == ["test.products"]


def test_a_pending_watched_object_makes_the_read_start_afresh(session, make):
    CUSTOMERS.lookup(session, "n", lambda: "old")
    with session.no_autoflush:
        session.add(Customer(name="pending"))
        assert CUSTOMERS.lookup(session, "n", lambda: "new") == "new"


def test_forget(session):
    _fill(session)
    CUSTOMERS.forget(session)
    assert memo_names(session) == ["test.products"]


def test_names_are_owned_and_unique():
    with pytest.raises(ValueError, match="owner"):
        TransactionMemo("nodot")
    with pytest.raises(ValueError, match="taken"):
        TransactionMemo("test.customers")


# ------------------------------------------------- no addon code in a database without it

def _addon_frames(run) -> set[str]:
    """Functions of addon modules (``addons/``, the example add-on) called while ``run()``."""
    seen: set[str] = set()
    roots = (str(ROOT / "addons"), str(ROOT / "examples"))

    def prof(frame, event, _arg):
        if event == "call" and frame.f_code.co_filename.startswith(roots):
            seen.add(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")

    sys.setprofile(prof)
    try:
        run()
    finally:
        sys.setprofile(None)
    return seen


def _write_commit_rollback(rt) -> None:
    with rt.session() as s:
        with transaction(s):
            s.add(Customer(name="someone"))
        s.begin_nested()
        s.add(Customer(name="someone else"))
        s.flush()
        s.rollback()


def test_a_database_without_membership_runs_none_of_its_code_on_flush_and_commit(banyan_databases):
    import addons.membership.members  # noqa: F401 - loaded in this process, as in a shared worker

    banyan_databases.runtime(("membership",))  # another database of the process has it
    rt = banyan_databases.runtime(())
    assert rt.registry.pm.get_plugin("membership") is None
    assert _addon_frames(lambda: _write_commit_rollback(rt)) == set()


def test_after_uninstall_no_membership_code_runs(banyan_databases):
    from core.addons.installer import init_db, install, uninstall
    from core.config import load_config
    from core.runtime import Runtime

    cfg = load_config(overrides={"database": {"url": banyan_databases.new_url()},
                                 "instance": {"path": banyan_databases.tmp.name},
                                 "jobs": {"immediate": True, "backend": "memory"},
                                 "locale": {"default": "en"}})
    rt = Runtime.from_config(cfg, load=False)
    try:
        rt.reload()
        init_db(rt, schema="create_all")
        install(rt, ["membership"], schema="create_all")
        uninstall(rt, "membership")
        assert _addon_frames(lambda: _write_commit_rollback(rt)) == set()
    finally:
        rt.dispose()


# ------------------------------------------------------------------------ typed keys

def test_info_key_reads_and_writes(session):
    assert NUMBER.get(session) is None and NUMBER.get(session, 7) == 7
    assert not NUMBER.is_set(session)
    with pytest.raises(KeyError, match="test.number"):
        NUMBER.require(session)
    assert NUMBER.setdefault(session, lambda: 3) == 3
    assert NUMBER.setdefault(session, lambda: 4) == 3
    NUMBER.set(session, 5)
    assert NUMBER.require(session) == 5 and NUMBER.is_set(session)
    assert NUMBER.pop(session) == 5 and NUMBER.pop(session) is None
    assert RUNTIME.require(session) is not None


def test_banyan_sessions_refuse_plain_keys(rt):
    with rt.session() as s:
        assert isinstance(s.info, SessionInfo)
        with pytest.raises(TypeError, match="InfoKey"):
            s.info["runtime"] = rt
        with pytest.raises(TypeError, match="InfoKey"):
            s.info.setdefault("scope", None)
        with pytest.raises(TypeError, match="InfoKey"):
            s.info.update({"user_id": 1})
        assert all(isinstance(k, InfoKey) for k in s.info)


def _sources():
    for top in ("core", "addons", "examples"):
        yield from (p for p in (ROOT / top).rglob("*.py") if "migrations" not in p.parts)


def _info_target(node) -> bool:
    """``<anything>.info``: a column's ``info`` read with a plain key (``col.info["min"]``)
    would be flagged too; the kernel reads those through a local name (``core.fields``)."""
    return isinstance(node, ast.Attribute) and node.attr == "info"


def _key_uses(tree):
    """(line, key expression) of every ``x.info[key]``, ``x.info.get/pop/setdefault(key)``
    and ``key in x.info``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _info_target(node.value):
            yield node.lineno, node.slice
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("get", "pop", "setdefault") and _info_target(node.func.value)
              and node.args):
            yield node.lineno, node.args[0]
        elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops) \
                and any(_info_target(c) for c in node.comparators):
            yield node.lineno, node.left


def _info_key_names() -> set[str]:
    names = set()
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            value = getattr(node, "value", None)
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(value, ast.Call) \
                    and getattr(value.func, "id", getattr(value.func, "attr", None)) == "InfoKey":
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def test_every_session_info_key_in_the_source_is_an_info_key():
    """A plain string (or a module constant holding one) as a ``session.info`` key fails:
    keys are module-level ``InfoKey`` objects (``self`` inside ``InfoKey`` itself)."""
    keys = _info_key_names()
    assert {"RUNTIME", "USER_ID", "HOLD_COMMIT", "SCOPE", "_MEMOS"} <= keys
    bad = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, key in _key_uses(tree):
            name = key.id if isinstance(key, ast.Name) else key.attr if isinstance(key, ast.Attribute) else None
            if name not in keys and name != "self":
                bad.append(f"{path.relative_to(ROOT)}:{line}: {ast.unparse(key)}")
    assert bad == [], "session.info keys must be core.db.InfoKey objects:\n" + "\n".join(bad)


def test_the_contract_catches_a_plain_key():
    tree = ast.parse('session.info["runtime"]\ns.info.get(_KEY)\nif "x" in self.session.info: pass\n')
    assert [ast.unparse(k) for _, k in _key_uses(tree)] == ["'runtime'", "_KEY", "'x'"]


def test_no_addon_registers_a_global_session_listener():
    """Addons cache through core.cache; a listener on ``Session`` would run in every database."""
    bad = []
    for top in ("addons", "examples"):
        for path in (ROOT / top).rglob("*.py"):
            if "tests" in path.parts:
                continue
            text = path.read_text(encoding="utf-8")
            if "listens_for(Session" in text or "event.listen(Session" in text:
                bad.append(str(path.relative_to(ROOT)))
    assert bad == []
