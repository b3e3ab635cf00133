"""The sending worker's peak memory does not grow with the audience: recipients are claimed in
batches by keyset (never a list of the whole audience) and each batch's garbage is freed.
Measured with tracemalloc for two audience sizes (6x apart) in one run, on the outbox channel
and on the email channel against a local SMTP server (aiosmtpd in another process, so that
only the worker's memory is traced)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.db import transaction
from core.localtime import local_today
from core.testing.memory import traced_peak

from addons.campaign import sending
from addons.campaign import services as svc
from addons.campaign.models import Outbox, Plan, Template

pytestmark = pytest.mark.addons("campaign")

SMALL, LARGE, BATCH = 40, 240, 20


def _audience(rt, n: int, tag: str, channel: str = "outbox") -> int:
    """A store with ``n`` customers and a started plan (``channel``, no hold-out) on them."""
    from core.testing.factories import Factories

    with rt.session() as s, transaction(s):
        make = Factories(s)
        store = make.store()
        for i in range(n):
            make.customer(name=f"{tag}{i}", email=f"{tag}{i}@example.com", home_store_id=store.id,
                          language="zh_Hans" if i % 2 else "en", consent_email=True)
        if not s.execute(select(Template.id).where(Template.code == "mem", Template.channel == channel)).first():
            s.add(Template(code="mem", channel=channel, language="en", subject="Hi {{ customer.name }}",
                           body="Hello {{ customer.name }} from {{ store.name }}: see https://shop.example.com/"
                                "offers?c={{ customer.id }}. {{ unsubscribe_url }}"))
        seg = svc.save_segment(s, name=tag, rules={"op": "and", "rules": [
            {"field": "core.home_store", "operator": "eq", "value": store.id}]})
        plan = Plan(code=tag, name=tag, state="running", date_from=local_today(),
                    date_to=local_today() + timedelta(days=7), channel=channel, list_code="news",
                    segment_id=seg.id, template_code="mem", holdout_share=0)
        s.add(plan)
        s.flush()
        svc.snapshot(s, plan, address=svc.channels(rt)[channel].address())
        return plan.id


def _peak(rt, pid: int) -> tuple[int, int]:
    """Messages sent and the peak traced memory (bytes) of one run of the worker."""
    with traced_peak() as peak:
        out = sending.send_due(rt, plan_id=pid)
    return out["sent"], peak.bytes


def test_worker_peak_memory_flat_in_the_audience(rt):
    rt.config.setdefault("campaign", {})["batch"] = BATCH
    try:
        warm = _audience(rt, BATCH, "MEMW")
        small = _audience(rt, SMALL, "MEMS")
        large = _audience(rt, LARGE, "MEML")
        sending.send_due(rt, plan_id=warm)                 # first-use caches (templates, statements)
        sent_s, peak_s = _peak(rt, small)
        sent_l, peak_l = _peak(rt, large)
    finally:
        rt.config["campaign"].pop("batch", None)
    assert (sent_s, sent_l) == (SMALL, LARGE)
    with rt.session() as s:
        assert s.execute(select(func.count()).select_from(Outbox).where(Outbox.plan_id == large)).scalar() == LARGE
        s.execute(Plan.__table__.update().where(Plan.id.in_([warm, small, large])).values(state="done"))
        s.commit()
    ratio = peak_l / peak_s
    print(f"\nworker peak: {peak_s / 1024:.0f} KiB for {SMALL}, {peak_l / 1024:.0f} KiB for {LARGE} "
          f"recipients; ratio {ratio:.2f} for a {LARGE // SMALL}x audience")
    assert ratio < 1.5, (peak_s, peak_l)


@pytest.fixture
def smtp_server(tmp_path):
    """A local SMTP server (aiosmtpd's command line, ``Mailbox`` handler: one file per message
    in a maildir) in its own process; yields ``(port, count of messages received)``."""
    import socket
    import subprocess
    import sys
    import time

    pytest.importorskip("aiosmtpd")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    box = tmp_path / "maildir"
    proc = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Mailbox",
                             "-l", f"127.0.0.1:{port}", str(box)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port, lambda: sum(1 for _ in (box / "new").iterdir()) if (box / "new").exists() else 0
    finally:
        proc.terminate()
        proc.wait(10)


EMAIL_SMALL, EMAIL_LARGE = 30, 240


def test_email_worker_peak_memory_flat_in_the_audience(rt, smtp_server):
    """The email channel over real SMTP (rendering, tracked links, the open pixel, the MIME
    message, the SMTP exchange): an audience 8x larger peaks within 1.3x."""
    port, received = smtp_server
    rt.config.setdefault("mail", {}).update({"host": "127.0.0.1", "port": port, "sender": "shop@example.com"})
    rt.config.setdefault("campaign", {})["batch"] = BATCH
    try:
        warm = _audience(rt, BATCH, "EMW", "email")
        small = _audience(rt, EMAIL_SMALL, "EMS", "email")
        large = _audience(rt, EMAIL_LARGE, "EML", "email")
        sending.send_due(rt, plan_id=warm)
        sent_s, peak_s = _peak(rt, small)
        sent_l, peak_l = _peak(rt, large)
    finally:
        rt.config["campaign"].pop("batch", None)
        with rt.session() as s, transaction(s):
            s.execute(Plan.__table__.update().where(Plan.code.in_(["EMW", "EMS", "EML"])).values(state="done"))
    assert (sent_s, sent_l) == (EMAIL_SMALL, EMAIL_LARGE)
    assert received() == BATCH + EMAIL_SMALL + EMAIL_LARGE          # every message reached the server
    ratio = peak_l / peak_s
    print(f"\nemail worker peak: {peak_s / 1024:.0f} KiB for {EMAIL_SMALL}, {peak_l / 1024:.0f} KiB for "
          f"{EMAIL_LARGE} recipients; ratio {ratio:.2f} for a {EMAIL_LARGE // EMAIL_SMALL}x audience")
    assert ratio < 1.3, (peak_s, peak_l)


def test_claim_walks_the_queue_by_keyset(rt):
    pid = _audience(rt, 30, "MEMK")
    try:
        token, first = sending.claim(rt, 10, pid)
        token2, second = sending.claim(rt, 10, pid, after=first[-1])
        assert len(first) == len(second) == 10 and min(second) > max(first)
        _t, none = sending.claim(rt, 10, pid, after=10 ** 9)
        assert none == []
    finally:
        with rt.session() as s, transaction(s):
            s.execute(Plan.__table__.update().where(Plan.id == pid).values(state="done"))
