"""Sending a running plan: resumable, idempotent, several workers at once.

Each worker (the ``campaign.send`` job on the kernel's Huey queue, any backend) repeats:

1. **recover**: rows ``claimed`` longer than :data:`STALE` by a worker that died go back to
   ``queued`` (they were never started); rows left ``sending`` by a dead worker become
   ``uncertain`` and are *not* sent again (we cannot know whether the channel accepted them).
2. **claim** a batch of ``queued`` rows of running plans in one short transaction
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, and a conditional ``UPDATE ... WHERE state =
   'queued'`` everywhere), so two workers never claim the same recipient.
   Then the batch is **screened**, set-based (:func:`screen`): without a confirmed double
   opt-in (when the chain requires one) an email row is ``skipped``; a customer who already
   got ``cap_messages`` messages in the last ``cap_days`` days, across every campaign, is
   ``capped`` (within the batch, a customer's rows count in id order; a message that may have
   gone out -- ``uncertain`` -- counts). The cap is atomic
   across workers: the batch's customers are locked (:func:`lock_customers`) before they are
   counted, and rows another worker claimed count as sent.
   **Hold-out rows go through the same claim and the same screening** (they are ``queued``
   like the others, with ``holdout`` set, and claimed in the same keyset order): a hold-out
   member the checks would have skipped or capped at that moment is ``skipped``/``capped``
   with the same reason code, and the others become ``holdout`` -- measured, never messaged
   (:func:`screen`). The results then compare the customers messaged with the hold-out
   members who *would* have been messaged at the same time (``results.py``).
3. for each claimed row (messaged rows only): mark it ``sending`` (commit), send, mark it ``sent`` (commit). A
   *transactional* channel (the outbox) writes its message in the same transaction that marks
   the row sent: exactly once. A channel error puts the row back in the queue until
   ``max_attempts``, then ``failed``.

Only one batch of recipients is in memory at a time; the audience is never loaded whole. A
worker walks the queue by keyset (``id > last claimed``), so each claim reads one batch from
where the last ended; when it reaches the end it starts again from the first queued row (rows
put back for a retry), at most ``max_attempts`` times. After each batch the garbage of its per-message sessions is collected, so
the worker's peak memory does not grow with the audience (``tests/test_memory.py``,
``bench/campaign_bench.py``).
"""
from __future__ import annotations

import gc
import time
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from core.db import is_postgres, transaction
from core.mixins import utcnow
from core.models import Customer, Store

from .models import Plan, Recipient

STALE = timedelta(minutes=15)
BATCH = 200


def settings(rt) -> dict:
    cfg = dict(rt.config.get("campaign", {}))
    cfg.setdefault("max_attempts", 3)
    cfg.setdefault("batch", BATCH)
    return cfg


def recover(rt, now=None) -> dict:
    now = now or utcnow()
    from .bulk import update_recipients

    with rt.session() as s, transaction(s):
        back = len(update_recipients(
            s, update(Recipient).where(Recipient.state == "claimed", Recipient.claimed_at < now - STALE)
            .values(state="queued", claim=None), "stale_claim", "claimed", "queued"))
        lost = len(update_recipients(
            s, update(Recipient).where(Recipient.state == "sending", Recipient.claimed_at < now - STALE)
            .values(state="uncertain", claim=None, reason="worker_stopped", error=None),
            "worker_stopped", "sending", "uncertain"))
    return {"requeued": back, "uncertain": lost}


def claim(rt, limit: int, plan_id: int | None = None, after: int = 0) -> tuple[str, list[int]]:
    """Claim up to ``limit`` queued recipients of running plans with ids above ``after``
    (keyset pagination: a worker walks the queue forward and never rereads what it passed)."""
    token = uuid.uuid4().hex
    with rt.session() as s, transaction(s):
        from core.localtime import local_today

        # a plan sends on its own days only (the chain's local calendar): nothing before its
        # first day (started ahead, its queue waits), nothing after its last (expire_ended)
        today = local_today()
        q = (select(Recipient.id).join(Plan, Plan.id == Recipient.plan_id)
             .where(Recipient.state == "queued", Plan.state == "running", Plan.date_from <= today,
                    Plan.date_to >= today, Recipient.id > after)
             .order_by(Recipient.id).limit(limit))
        if plan_id is not None:
            q = q.where(Recipient.plan_id == plan_id)
        if is_postgres(s.get_bind()):
            q = q.with_for_update(of=Recipient, skip_locked=True)
        ids = s.execute(q).scalars().all()
        if not ids:
            return token, []
        from .bulk import update_recipients

        update_recipients(s, update(Recipient).where(Recipient.id.in_(ids), Recipient.state == "queued")
                          .values(state="claimed", claim=token, claimed_at=utcnow(), attempts=Recipient.attempts + 1),
                          "claimed", "queued", "claimed", claim=token)
        screen(s, token)
        got = s.execute(select(Recipient.id).where(Recipient.claim == token).order_by(Recipient.id)).scalars().all()
    return token, list(got)


#: first key of the two-key PostgreSQL advisory locks of the frequency cap ("CAMP"): the
#: second key is the customer id
CAP_LOCK_CLASS = 0x43414D50


def lock_customers(session, token: str) -> int:
    """Lock, until the end of the claiming transaction, every customer of the batch claimed
    with ``token`` (PostgreSQL: ``pg_advisory_xact_lock(CAP_LOCK_CLASS, customer_id)``, in
    customer-id order so that two workers never deadlock). A worker screening the same
    customer waits for this batch to commit and then counts its claimed rows. SQLite needs
    nothing: ``BEGIN IMMEDIATE`` already lets one writer in at a time. Returns the number of
    customers locked."""
    from sqlalchemy import text

    if not is_postgres(session.get_bind()):
        return 0
    ids = sorted(set(session.execute(select(Recipient.customer_id).where(Recipient.claim == token)).scalars()))
    if ids:
        session.execute(text("SELECT count(pg_advisory_xact_lock(:k, c)) FROM unnest(CAST(:ids AS integer[])) "
                             "WITH ORDINALITY AS u(c, n)"), {"k": CAP_LOCK_CLASS, "ids": ids})
    return len(ids)


def expire_ended(rt) -> int:
    """Queued recipients of running plans past their end date (the chain's local day,
    ``core.localtime``) are ``skipped`` with reason ``plan_ended``: nothing goes out after a campaign
    ends (one audited statement). Returns how many."""
    from core.localtime import local_today

    from .bulk import update_recipients_chunked

    with rt.session() as s, transaction(s):
        ended = select(Plan.id).where(Plan.state == "running", Plan.date_to < local_today())
        # a plan may end with its whole audience queued: chunk by chunk, never every id at once
        return update_recipients_chunked(
            s, [Recipient.state == "queued", Recipient.plan_id.in_(ended)],
            {"state": "skipped", "claim": None, "reason": "plan_ended", "error": None},
            "plan_ended", "queued", "skipped")


def recheck(session, token: str) -> dict:
    """Re-check the batch claimed with ``token`` against the customers as they are *now*
    (the snapshot may be days old), set-based, a few statements per channel of the batch and
    never a customer loaded: the recipient's address becomes the customer's current address
    on the plan's channel, and a row whose customer was merged away or deactivated, withdrew
    consent on the channel (the kernel's consent flags), opted out of the plan's list (itself,
    or its mailbox through another customer record) or has no address any more is
    ``skipped`` with the reason's code (``RECIPIENT_REASON``); a row of a channel no adapter
    serves any more is ``skipped`` with ``no_channel``. Hold-out rows of the batch are checked
    alike (:func:`screen`). Returns ``{"readdressed": n, "skipped": n}``."""
    from sqlalchemy import case, or_

    from core.db import RUNTIME

    from sqlalchemy.orm import aliased

    from .audience import address_of, consent_expr, mailbox
    from .bulk import update_recipients
    from .channels import channels
    from .models import OptOut

    out = {"readdressed": 0, "skipped": 0}
    mine = (Recipient.claim == token, Recipient.state == "claimed")
    used = session.execute(select(Plan.channel).where(Plan.id.in_(select(Recipient.plan_id).where(*mine)))
                           .distinct()).scalars().all()
    adapters = channels(RUNTIME.get(session))
    for code in used:
        adapter = adapters.get(code)
        of_channel = Recipient.plan_id.in_(select(Plan.id).where(Plan.channel == code))
        if adapter is None:
            # the channel's addon is gone: nobody of the batch can be messaged on it, the
            # hold-out rows no more than the others (same code, both groups)
            out["skipped"] += len(update_recipients(
                session, update(Recipient).where(*mine, of_channel)
                .values(state="skipped", claim=None, reason="no_channel", error=None), "no_channel", "claimed",
                "skipped"))
            continue
        now_addr = (select(adapter.address()).where(Customer.id == Recipient.customer_id)
                    .correlate(Recipient).scalar_subquery())
        out["readdressed"] += len(update_recipients(
            session, update(Recipient).where(*mine, of_channel, Recipient.address.is_distinct_from(now_addr))
            .values(address=now_addr), "readdressed"))
        gone = ~(select(Customer.id).where(Customer.id == Recipient.customer_id, Customer.active.is_(True),
                                           Customer.merged_into_id.is_(None)).correlate(Recipient).exists())
        refused = ~(select(Customer.id).where(Customer.id == Recipient.customer_id, consent_expr(code, consent=adapter.consent))
                    .correlate(Recipient).exists())
        plan_list = select(Plan.list_code).where(Plan.id == Recipient.plan_id).correlate(Recipient).scalar_subquery()
        opted = (select(OptOut.id).where(OptOut.customer_id == Recipient.customer_id, OptOut.channel == code,
                                         or_(OptOut.list_code == "*", OptOut.list_code == plan_list))
                 .correlate(Recipient).exists())
        # ...or the mailbox opted out through another record of the same person
        other = aliased(Customer)
        other_addr = address_of(adapter.address(), other)
        opted = or_(opted, select(OptOut.id).join(other, other.id == OptOut.customer_id).where(
            OptOut.channel == code, or_(OptOut.list_code == "*", OptOut.list_code == plan_list),
            mailbox(other_addr) == mailbox(Recipient.address)).correlate(Recipient).exists())
        no_addr = or_(Recipient.address.is_(None), Recipient.address == "")
        why = case((gone, "customer_gone"), (refused, "consent_withdrawn"), (opted, "opted_out"),
                   else_="no_address")
        out["skipped"] += len(update_recipients(
            session, update(Recipient).where(*mine, of_channel, or_(gone, refused, opted, no_addr))
            .values(state="skipped", claim=None, reason=why, error=None), "rechecked", "claimed", "skipped"))
    return out


def screen(session, token: str, now=None) -> dict:
    """Set-based checks of the batch claimed with ``token`` at send time: the customers as
    they are now (:func:`recheck`: address, consent, opt-outs, merged or inactive), double
    opt-in for email, then the frequency cap across campaigns; last, the batch's hold-out rows
    that passed become ``holdout`` (measured, never messaged). Returns ``{"readdressed": n,
    "skipped": n, "unconfirmed": n, "capped": n, "held_out": n}``.

    **The hold-out group is screened like the messaged group** (the rule of a fair
    comparison): a hold-out row is claimed in the same batches, at the moment its plan sends,
    and every check that would have stopped its message stops its measurement, with the same
    reason code -- consent withdrawn, opted out (itself or its mailbox), merged or
    deactivated, no address on the channel, email consent not confirmed. The frequency cap
    asks *would this message have been capped?*: the customer's messages counted as for any
    row (sent in the last ``cap_days`` days across campaigns, being sent, uncertain, claimed
    by another worker) plus the messaged rows of this batch before it (id order), plus the
    hold-out row itself. A hold-out row is no message: it never uses up a slot of the cap,
    neither for the batch's other rows nor later. Rows left out this way (``skipped`` or
    ``capped``, ``holdout`` still set) are out of the results on both sides: the uplift
    compares customers messaged with hold-out customers who would have been messaged."""
    from sqlalchemy import and_, case, func, or_
    from sqlalchemy.orm import aliased

    from .bulk import update_recipients
    from .consent import confirmed_expr, get_policy

    policy = get_policy(session)
    out = {**recheck(session, token), "unconfirmed": 0, "capped": 0}
    if policy.double_opt_in:
        out["unconfirmed"] = len(update_recipients(
            session, update(Recipient).where(Recipient.claim == token, Recipient.state == "claimed",
                                             Recipient.plan_id.in_(select(Plan.id).where(Plan.channel == "email")),
                                             ~confirmed_expr("email", Recipient.customer_id))
            .values(state="skipped", claim=None, reason="unconfirmed", error=None),
            "unconfirmed", "claimed", "skipped"))
    if policy.cap_messages:
        lock_customers(session, token)
        since = (now or utcnow()) - timedelta(days=int(policy.cap_days))
        prior = aliased(Recipient)
        # what counts against the cap: sent in the period, being sent, and claimed (screened,
        # committed) by another worker's batch; the per-customer locks above make sure that
        # batch is committed, so two workers never both pass the same customer's last slot.
        # A hold-out row is never a message (it is never sent, sending or uncertain; and a
        # claimed one is settled before its batch commits): it counts for nobody.
        had = (select(func.count(prior.id))
               .where(prior.customer_id == Recipient.customer_id, prior.holdout.is_(False),
                      # "uncertain": the worker stopped while the channel took it -- it may well
                      # have gone out, so it counts (the cap protects the customer)
                      or_(and_(prior.state == "sent", prior.sent_at >= since), prior.state == "sending",
                          and_(prior.state == "uncertain", prior.claimed_at >= since),
                          and_(prior.state == "claimed", prior.claim != token)))
               .correlate(Recipient).scalar_subquery())
        # within the batch, in id order: the messages up to this row (a hold-out row adds
        # none for the rows after it), and a hold-out row counts itself -- the message it
        # stands for
        held = Recipient.holdout.is_(True)
        upto = func.sum(case((held, 0), else_=1)).over(partition_by=Recipient.customer_id, order_by=Recipient.id)
        ranked = (select(Recipient.id.label("id"), (upto + case((held, 1), else_=0) + had).label("n"))
                  .where(Recipient.claim == token, Recipient.state == "claimed").subquery())
        over = select(ranked.c.id).where(ranked.c.n > int(policy.cap_messages))
        out["capped"] = len(update_recipients(
            session, update(Recipient).where(Recipient.id.in_(over))
            .values(state="capped", claim=None, reason="frequency_cap", error=None),
            "frequency_cap", "claimed", "capped", cap_messages=int(policy.cap_messages), cap_days=int(policy.cap_days)))
    # the hold-out rows that passed every check: measured from now on, never handed to a channel
    out["held_out"] = len(update_recipients(
        session, update(Recipient).where(Recipient.claim == token, Recipient.state == "claimed",
                                         Recipient.holdout.is_(True))
        .values(state="holdout", claim=None, reason=None, error=None), "held_out", "claimed", "holdout"))
    return out


def _message(s, rt, rec: Recipient, plan: Plan, cache: dict):
    from core.notify import chain_locale

    from .channels import Message
    from .rendering import context, pick_template, render, unsubscribe_token

    customer = s.get(Customer, rec.customer_id)
    key = (plan.id, customer.language)
    if key not in cache:
        cache[key] = pick_template(s, plan.template_code, plan.channel, customer.language, chain_locale(rt))
    store = s.get(Store, customer.home_store_id) if customer.home_store_id else None
    ctx = context(s, rt, customer, plan, store, rec.occurrence)
    subject, body = render(cache[key], ctx)
    headers, html = (), None
    if plan.channel == "email":
        from .tracking import track_body

        headers = (("List-Unsubscribe", f"<{ctx['unsubscribe_url']}>"),
                   ("X-Banyan-Token", unsubscribe_token(rt, customer.id, plan.channel, plan.list_code)))
        body, html = track_body(rt, rec.id, body, keep=(ctx["unsubscribe_url"],))
    return Message(to=rec.address, subject=subject, body=body, headers=headers, key=f"{plan.id}.{rec.id}",
                   html=html)


def _optout_check(cache: dict, plan: Plan, adapter):
    """The statement (built once per plan's channel and list, for the worker's life: one
    compiled statement, whatever the audience) telling whether the recipient (``cid``) or its
    mailbox (``addr``) opted out of the plan's list or of every list."""
    from sqlalchemy import String, bindparam, or_

    from .audience import mailbox_opted_out, optout_exists

    key = ("optout", plan.channel, plan.list_code)
    if key not in cache:
        crit = optout_exists(plan.channel, plan.list_code, bindparam("cid"))
        if adapter is not None:
            crit = or_(crit, mailbox_opted_out(plan.channel, plan.list_code, adapter.address(),
                                               bindparam("addr", type_=String())))
        cache[key] = select(crit)
    return cache[key]


def _poison(exc: BaseException) -> bool:
    """A failure of one message (its template cannot be rendered for this customer, its
    template is gone, the channel refuses its header...): that recipient fails, the queue goes
    on. A database error is not one: it stops the worker (the rows are recovered)."""
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(exc, Exception) and not isinstance(exc, SQLAlchemyError)


def unsendable(exc: BaseException, recipient_id: int | None = None) -> str:
    """The reason recorded on a recipient whose message could not be built or handed over
    (and logged for the operator): the error's own words, at most 255 characters."""
    import logging

    logging.getLogger("banyan.campaign").warning("campaign recipient %s not sent: %r", recipient_id, exc)
    text = str(exc) or type(exc).__name__
    return f"not sent: {text}"[:255]


def send_due(rt, plan_id: int | None = None, limit: int | None = None, stop_after: int | None = None) -> dict:
    """Send claimed batches until no queued recipient of a running plan is left (or
    ``stop_after`` messages). Returns ``{"sent", "failed", "retry", "skipped", "requeued",
    "uncertain"}``. Channel errors are recorded per recipient, never raised; so is a message
    that cannot be built for one recipient (``failed`` with the reason: one poison message
    never stops the queue of every campaign)."""
    from .channels import ChannelError, channels

    cfg = settings(rt)
    out = {"sent": 0, "failed": 0, "retry": 0, "skipped": 0}
    out.update(recover(rt))
    out["ended"] = expire_ended(rt)
    adapters = channels(rt)
    senders: dict[str, object] = {}
    last_at: dict[str, float] = {}
    cache: dict = {}
    after, passes = 0, 1
    try:
        while stop_after is None or out["sent"] < stop_after:
            token, ids = claim(rt, limit or int(cfg["batch"]), plan_id, after)
            if not ids:
                if after == 0 or passes > int(cfg["max_attempts"]):
                    break
                # again from the start: rows put back in the queue for a retry behind us
                after, passes = 0, passes + 1
                continue
            after = ids[-1]
            for rid in ids:
                with rt.session() as s:
                    with transaction(s):
                        rec = s.get(Recipient, rid)
                        plan = s.get(Plan, rec.plan_id)
                        adapter = adapters.get(plan.channel)
                        opted = s.execute(_optout_check(cache, plan, adapter),
                                          {"cid": rec.customer_id, "addr": rec.address or ""}).scalar()
                        if adapter is None or opted or plan.state != "running":
                            rec.state, rec.claim = ("skipped" if opted or adapter is None else "queued"), None
                            rec.reason = "opted_out" if opted else ("no_channel" if adapter is None else None)
                            rec.error = None
                            out["skipped"] += 1
                            continue
                        try:
                            msg = _message(s, rt, rec, plan, cache)
                        except Exception as exc:  # noqa: BLE001 -- one poison message fails alone
                            if not _poison(exc):
                                raise
                            rec.state, rec.claim, rec.reason = "failed", None, "message_error"
                            rec.error = unsendable(exc, rid)
                            out["failed"] += 1
                            continue
                        if not adapter.transactional:
                            # committed before the channel is called: a crash now leaves 'sending'
                            from .bulk import update_recipients

                            moved = len(update_recipients(
                                s, update(Recipient).where(Recipient.id == rid, Recipient.claim == token,
                                                           Recipient.state == "claimed")
                                .values(state="sending", claimed_at=utcnow()), "handed_over",
                                "claimed", "sending"))
                            if not moved:
                                continue
                    if adapter.rate_per_minute:
                        gap = 60.0 / adapter.rate_per_minute - (time.monotonic() - last_at.get(adapter.code, 0.0))
                        if gap > 0:
                            time.sleep(gap)
                    sender = senders.get(adapter.code) or senders.setdefault(adapter.code, adapter.connect(rt))
                    with transaction(s):
                        rec = s.get(Recipient, rid)
                        s.refresh(rec)
                        if rec.claim != token:
                            continue
                        try:
                            sender.send(s, msg, rec)
                            last_at[adapter.code] = time.monotonic()
                            rec.state, rec.sent_at, rec.claim, rec.reason, rec.error = "sent", utcnow(), None, None, None
                            out["sent"] += 1
                        except ChannelError as exc:
                            final = exc.permanent or rec.attempts >= int(cfg["max_attempts"])
                            rec.state, rec.claim = ("failed" if final else "queued"), None
                            rec.reason, rec.error = "channel_error", str(exc)[:255]
                            out["failed" if final else "retry"] += 1
                        except Exception as exc:  # noqa: BLE001 -- the channel could not take it: not sent
                            if not _poison(exc):
                                raise
                            for pending in list(s.new):  # what a transactional sender had added
                                s.expunge(pending)
                            rec.state, rec.claim, rec.reason = "failed", None, "channel_error"
                            rec.error = unsendable(exc, rid)
                            out["failed"] += 1
                if stop_after is not None and out["sent"] >= stop_after:
                    break
            # each message's session is freed with its reference cycles now, not when the
            # collector's oldest generation next runs: the worker's memory stays one batch
            gc.collect()
        finish_done(rt)
    finally:
        for sender in senders.values():
            sender.close()
    return out


def finish_done(rt) -> int:
    """Running plans with nobody left to send to (and past their end date) become done, with
    their actual cost computed as :func:`plans.finish` computes it (unless it was entered)."""
    from core.localtime import local_today

    from .models import Plan

    with rt.session() as s, transaction(s):
        busy = select(Recipient.id).where(Recipient.plan_id == Plan.id,
                                          Recipient.state.in_(("queued", "claimed", "sending"))).exists()
        ids = s.execute(update(Plan).where(Plan.state == "running", Plan.date_to < local_today(), ~busy)
                        .values(state="done", finished_at=utcnow()).returning(Plan.id)
                        .execution_options(synchronize_session=False)).scalars().all()
        if ids:
            from sqlalchemy import insert

            from core.models import AuditLog

            from .plans import computed_costs

            # the actual cost, as a plan finished by hand gets it (messages sent × cost per
            # message), unless someone entered it
            costs = computed_costs(s, ids)
            entered = set(s.execute(select(Plan.id).where(Plan.id.in_(ids), Plan.actual_cost.is_not(None)))
                          .scalars())
            for pid in ids:  # the plans that ended now (a handful), never their recipients
                if pid not in entered:
                    s.execute(update(Plan).where(Plan.id == pid).values(actual_cost=costs[pid])
                              .execution_options(synchronize_session=False))
            s.execute(insert(AuditLog.__table__), [{
                "user_id": None, "model": Plan.__tablename__, "record_id": str(pid), "action": "update",
                "changes": {"state": ["running", "done"], "why": "ended_done",
                            **({} if pid in entered else {"actual_cost": [None, str(costs[pid])]})},
                "at": utcnow()} for pid in ids])
        return len(ids)


def send_job(session) -> None:
    """The ``campaign.send`` job: :func:`send_due` with the session's runtime (its own short
    transactions, so no lock is held while a channel is called)."""
    from core.db import RUNTIME

    send_due(RUNTIME.get(session))
