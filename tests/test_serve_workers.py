"""The app served by several forked workers on PostgreSQL answers every concurrent request
right: ``banyan serve`` (the app is loaded in the master, then forked) and gunicorn with
``--preload`` and config/gunicorn.conf.py. Workers that shared the master's pooled
connection answered with another request's sale, 404s and 500s, and once committed a sale
without its payment (core/forksafe.py is the fix). After the load, the checks of ``banyan
check`` (core.services.check.run_checks) must find nothing."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

import core

ROOT = Path(core.__file__).resolve().parent.parent
WORKERS = 3
SALES = 8  # confirmed sales read back concurrently
GETS = 200
MEMBERS = 10  # stored-value buyers
POSTS = 30


@pytest.fixture(scope="module")
def served_db(banyan_databases, tmp_path_factory):
    """A committed PostgreSQL database with membership installed: a store, products, an admin
    token, ``SALES`` confirmed sales and ``MEMBERS`` members holding stored value."""
    if not banyan_databases.is_postgres:
        pytest.skip("needs PostgreSQL (--db-url): workers sharing one database socket is a server "
                    "connection fault; on SQLite the fork mechanism is tested in test_forksafe.py")
    from addons.membership import services as svc
    from core.addons.installer import init_db, install
    from core.config import load_config
    from core.db import transaction
    from core.runtime import Runtime
    from core.security.tokens import create_token
    from core.services.checkout import PaymentRequest
    from core.testing.factories import Factories

    url = banyan_databases.new_url()
    instance = tmp_path_factory.mktemp("served-instance")
    cfg = load_config(overrides={"database": {"url": url}, "instance": {"path": str(instance)},
                                 "locale": {"default": "en"}})
    rt = Runtime.from_config(cfg, load=False)
    rt.reload()
    init_db(rt, schema="create_all")
    install(rt, ["membership"], schema="create_all")
    with rt.session() as s, transaction(s):
        make = Factories(s)
        store = make.store()
        products = [make.product(price=f"{3 + i}.25") for i in range(5)]
        admin = make.user(roles=("hq_admin",), superuser=True, username="serve-admin")
        token, _t = create_token(s, admin, "serve-test")
        sales = {}
        for i in range(SALES):
            sale = make.sale(store=store, products=products[: 1 + i % 5], qty=str(i + 1))
            sales[sale.id] = (sale.number, str(sale.total))
        members = []
        for i in range(MEMBERS):
            customer = make.customer(home_store_id=store.id)
            svc.enrol(s, customer.id, store_id=store.id, card_number=f"SERVE-{i:04d}")
            svc.topup(s, customer.id, "500", store.id)
            members.append(customer.id)
        # one stored-value sale before serving, so the addon's tables are warm and checked
        make.sale(store=store, products=products[:1], customer=s.get(type(customer), members[0]),
                  payments=[PaymentRequest("stored_value")])
        ids = {"store": store.id, "products": [p.id for p in products], "members": members}
    rt.dispose()
    env = dict(os.environ, BANYAN_DATABASE_URL=url, BANYAN_INSTANCE_PATH=str(instance),
               BANYAN_SECURITY_SECRET_KEY="serve-test-secret", BANYAN_LOCALE_DEFAULT="en",
               PYTHONPATH=str(ROOT))
    env.pop("BANYAN_CONFIG", None)
    return {"env": env, "token": token, "sales": sales, "ids": ids}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(port, method, path, token, body=None, key=None):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()[:300]


def _serve(cmd, env, log: Path):
    """Start the server (output to ``log``) and wait until a worker answers: (process, port)."""
    port = _free_port()
    cmd = [arg.replace("{port}", str(port)) for arg in cmd]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=out)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
    return proc, port


def _stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _hammer(port, db):
    token, sales, ids = db["token"], db["sales"], db["ids"]
    sale_ids = sorted(sales)
    with ThreadPoolExecutor(max_workers=32) as pool:
        got = list(pool.map(lambda i: (sale_ids[i % SALES],
                                       _call(port, "GET", f"/api/v1/sales/{sale_ids[i % SALES]}", token)),
                            range(GETS)))
    wrong = [(want, status, body if status != 200 else (body["id"], body["number"], body["total"]))
             for want, (status, body) in got
             if status != 200 or (body["id"], body["number"], body["total"]) != (want, *sales[want])]
    assert not wrong, f"{len(wrong)} of {GETS} answers wrong, e.g. {wrong[:5]}"

    run = os.urandom(4).hex()
    members, products = ids["members"], ids["products"]

    def post(i):
        body = {"store_id": ids["store"], "customer_id": members[i % MEMBERS],
                "lines": [{"product_id": products[i % len(products)], "qty": "1"}],
                "payments": [{"method": "stored_value"} if i % 3 else {"method": "cash"}]}
        return _call(port, "POST", "/api/v1/sales", token, body, key=f"serve-{run}-{i}")

    with ThreadPoolExecutor(max_workers=POSTS) as pool:
        posted = list(pool.map(post, range(POSTS)))
    bad = [(status, body) for status, body in posted if status != 201]
    assert not bad, f"{len(bad)} of {POSTS} sales not recorded, e.g. {bad[:3]}"
    for status, body in posted:
        paid = sum(Decimal(p["amount"]) for p in body["payments"])
        assert paid == Decimal(body["total"]) and body["state"] == "confirmed"

    # what ``banyan check`` runs: no sale without its payments, stored-value spend, tier entry
    from core.config import load_config
    from core.runtime import Runtime
    from core.services.check import run_checks

    rt = Runtime.from_config(load_config(overrides={"database": {"url": db["env"]["BANYAN_DATABASE_URL"]},
                                                    "locale": {"default": "en"}}))
    try:
        with rt.session() as s:
            breaches = run_checks(s)
        assert breaches == [], breaches
    finally:
        rt.dispose()
    return len({b["id"] for _s, b in posted})


def test_banyan_serve_workers_never_share_a_connection(served_db, tmp_path):
    proc, port = _serve([sys.executable, "-m", "core.cli", "serve", "--port", "{port}",
                         "--workers", str(WORKERS)], served_db["env"], tmp_path / "serve.log")
    try:
        assert _hammer(port, served_db) == POSTS
    finally:
        _stop(proc)


def test_gunicorn_preload_workers_never_share_a_connection(served_db, tmp_path):
    proc, port = _serve([sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "--preload",
                         "-w", str(WORKERS), "-b", "127.0.0.1:{port}", "--log-level", "warning",
                         "core.app:create_app()"], served_db["env"], tmp_path / "gunicorn.log")
    try:
        assert _hammer(port, served_db) == POSTS
    finally:
        _stop(proc)
