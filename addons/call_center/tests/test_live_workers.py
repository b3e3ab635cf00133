"""The live push of the screen-pop served by several gunicorn workers on PostgreSQL: the
phone system's post lands on one worker, the agent's page polls the bell's live feed on
any worker, and every answer carries the call (the feed is rows of the database, not a
worker's memory); a second agent polling at the same time never gets it."""
from __future__ import annotations

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import core

ROOT = Path(core.__file__).resolve().parent.parent
WORKERS = 3
POLLS = 30
PASSWORD = "live-workers-1"

pytestmark = pytest.mark.addons("call_center")


@pytest.fixture(scope="module")
def served(banyan_databases, tmp_path_factory):
    if not banyan_databases.is_postgres:
        pytest.skip("needs PostgreSQL (--db-url): several gunicorn workers on one database")
    from core.addons.installer import init_db, install
    from core.config import load_config
    from core.db import transaction
    from core.runtime import Runtime
    from core.testing.factories import Factories

    from addons.call_center import services as svc

    url = banyan_databases.new_url()
    instance = tmp_path_factory.mktemp("live-instance")
    cfg = load_config(overrides={"database": {"url": url}, "instance": {"path": str(instance)},
                                 "locale": {"default": "en"}})
    rt = Runtime.from_config(cfg, load=False)
    rt.reload()
    init_db(rt, schema="create_all")
    install(rt, ["call_center"], schema="create_all")
    with rt.session() as s, transaction(s):
        make = Factories(s)
        make.customer(name="李雷", phone="+8613900139000")
        agent = make.user(username="live-agent", password=PASSWORD, roles=("agent",))
        make.user(username="live-other", password=PASSWORD, roles=("agent",))
        token, _row = svc.create_line_token(s, "PBX", make.user(roles=("agent",)).id)
        agent_id = agent.id
    rt.dispose()
    env = dict(os.environ, BANYAN_DATABASE_URL=url, BANYAN_INSTANCE_PATH=str(instance),
               BANYAN_SECURITY_SECRET_KEY="live-workers-secret", BANYAN_LOCALE_DEFAULT="en",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.pop("BANYAN_CONFIG", None)
    return {"env": env, "token": token, "agent": agent_id}


def _serve(env, log: Path):
    """gunicorn with WORKERS workers (as tests/test_serve_workers.py): (process, port)."""
    import socket
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "--preload", "-w", str(WORKERS),
           "-b", f"127.0.0.1:{port}", "--log-level", "warning", "core.app:create_app()"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=out)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2).read()
            return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)


def _stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _signed_in(base, username):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login", timeout=30).read().decode()
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrf_token": csrf}).encode()
    opener.open(f"{base}/login", data=data, timeout=30).read()
    html = opener.open(f"{base}/admin/call_center_screenpop/", timeout=30).read().decode()
    cursor = int(re.search(r'data-live-cursor="(\d+)"', html).group(1))
    return opener, cursor


def test_the_pop_reaches_the_agent_through_any_worker_and_only_them(served, tmp_path):
    proc, port = _serve(served["env"], tmp_path / "gunicorn.log")
    base = f"http://127.0.0.1:{port}"
    try:
        agent, cursor = _signed_in(base, "live-agent")
        other, other_cursor = _signed_in(base, "live-other")
        req = urllib.request.Request(f"{base}/api/v1/call_center/telephony/calls", method="POST",
                                     data=json.dumps({"number": "139 0013 9000", "line": "8001",
                                                      "agent_id": served["agent"]}).encode(),
                                     headers={"Content-Type": "application/json",
                                              "X-Call-Center-Token": served["token"]})
        with urllib.request.urlopen(req, timeout=30) as r:
            call_id = json.loads(r.read())["call_id"]

        def poll(i):
            opener, after = (agent, cursor) if i % 2 == 0 else (other, other_cursor)
            with opener.open(f"{base}/admin/notifications/live?after={after}", timeout=30) as r:
                return i % 2 == 0, json.loads(r.read())

        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(poll, range(POLLS)))
        for mine, feed in answers:
            if mine:
                assert [(n["kind"], n["subject"]) for n in feed["items"]] == [
                    ("call_center.call.incoming", "Incoming call: 李雷")], feed
                assert feed["items"][0]["link"].endswith(f"call_id={call_id}")
            else:
                assert feed["items"] == [] and feed["unread"] == 0, feed
    finally:
        _stop(proc)
