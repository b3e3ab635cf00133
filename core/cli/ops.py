"""Operations commands: ``banyan init``, ``demo``, ``check``, ``serve``, ``worker``, ``jobs``,
``shell``; and the addon commands (``register_cli_commands``) of the installed addons.

Addon commands are looked up lazily: only when a command name is not a built-in (or when
``--help`` lists commands) and only if the configured database already exists, so
``banyan --help`` works on a machine with no database at all.
"""
from __future__ import annotations

import os
import sys

import click

from core.cli import BanyanGroup, Finite, get_runtime, main
from core.errors import BanyanError, BusinessError


# ---------------------------------------------------------------------------------------
# addon commands on the root group
# ---------------------------------------------------------------------------------------

def _database_exists(cfg: dict) -> bool:
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url

    url = make_url(cfg["database"]["url"])
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:" or not os.path.exists(url.database):
            return False
    engine = create_engine(url) if url.get_backend_name() == "sqlite" else None
    try:
        if engine is None:
            from core.db import make_engine

            engine = make_engine(url.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
        return inspect(engine).has_table("core_addon")
    except Exception:
        return False
    finally:
        if engine is not None:
            engine.dispose()


def addon_commands(ctx: click.Context) -> click.Group:
    """A scratch group holding the commands the installed addons register (cached per run)."""
    root = ctx.find_root()
    root.ensure_object(dict)
    cached = root.obj.get("addon_commands")
    if cached is not None:
        return cached
    group = click.Group("addons-commands")
    root.obj["addon_commands"] = group
    if root.params.get("config_path") and "config_path" not in root.obj:
        root.obj["config_path"] = root.params["config_path"]
    try:
        from core.config import load_config

        cfg = load_config(root.obj.get("config_path"))
        if not _database_exists(cfg):
            return group
        rt = get_runtime(ctx)
        rt.hook.register_cli_commands(cli=group)
    except BanyanError as exc:
        click.echo(f"warning: addon commands not loaded: {exc}", err=True)
    return group


class AddonAwareGroup(BanyanGroup):
    """The root group: built-in commands first, then the installed addons' commands."""

    def get_command(self, ctx, cmd_name):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None:
            cmd = addon_commands(ctx).get_command(ctx, cmd_name)
        return cmd

    def list_commands(self, ctx):
        names = set(super().list_commands(ctx))
        try:
            names |= set(addon_commands(ctx).list_commands(ctx))
        except Exception:  # listing must never break --help
            pass
        return sorted(names)


# ``main`` is built in core/cli/__init__.py; give it the addon-aware lookup.
main.__class__ = AddonAwareGroup


# ---------------------------------------------------------------------------------------
# init, demo, check
# ---------------------------------------------------------------------------------------

SCHEMA_CHOICE = click.Choice(["migrate", "create_all"])


def _initialised(rt) -> bool:
    from sqlalchemy import inspect

    return inspect(rt.engine).has_table("core_addon")


def create_superuser(rt, username: str, password: str):
    from sqlalchemy import select

    from core.models import Role, User
    from core.security.passwords import check_password, hash_password

    # the first login of ``banyan init``: 4 characters (a throwaway install's "x1234"); no
    # control character, as everywhere a password is set
    check_password(password, "password", min_length=4)
    with rt.session() as s:
        if s.execute(select(User.id).where(User.username == username)).first():
            raise BusinessError({"username": f"user {username} already exists"})
        role = s.get(Role, "hq_admin")
        s.add(User(username=username, password_hash=hash_password(password), is_superuser=True,
                   scope_kind="all", roles=[role] if role else []))
        s.commit()


@main.command("init")
@click.option("--admin-user", default=None, help="Create this superuser.")
@click.option("--admin-password", default=None, help="Password of --admin-user (prompted if missing).")
@click.option("--schema", type=SCHEMA_CHOICE, default="migrate", show_default=True,
              help="Bring the schema to head with the migrations, or create it from the models.")
@click.pass_context
def init_cmd(ctx, admin_user, admin_password, schema):
    """Create the database schema (kernel) and, optionally, a superuser."""
    from core.addons.installer import init_db

    rt = get_runtime(ctx, load=False)
    rt.reload()
    init_db(rt, schema=schema)
    click.echo(f"database ready: {rt.engine.url.render_as_string(hide_password=True)}")
    if admin_user:
        if admin_password is None:
            admin_password = click.prompt("password", hide_input=True, confirmation_prompt=True)
        create_superuser(rt, admin_user, admin_password)
        click.echo(f"superuser {admin_user} created")


@main.command("demo")
@click.option("--addons", "addon_names", default=None,
              help="Comma-separated addons to install (default: every available addon).")
@click.option("--scale", type=Finite(0, 100, min_open=True), default=1.0, show_default=True,
              help="Multiplies customers and sales (more than 0, at most 100).")
@click.option("--months", type=click.IntRange(1, 36), default=6, show_default=True, help="Months of sales.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=42, show_default=True,
              help="Random seed (same seed, same data).")
@click.option("--schema", type=SCHEMA_CHOICE, default="migrate", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def demo_cmd(ctx, addon_names, scale, months, seed, schema, quiet):
    """Build a demo chain with months of sales (initialises the database if needed)."""
    import time

    from core.addons.installer import init_db, install
    from core.demo import ADMIN_LOGIN, DEMO_PASSWORD, build_demo

    started = time.monotonic()
    rt = get_runtime(ctx, load=False)
    rt.reload()
    if not _initialised(rt):
        init_db(rt, schema=schema)
    rt.reload()
    if addon_names is None:
        names = sorted(n for n, info in rt.registry.available.items() if info.manifest.installable)
    else:
        names = [n.strip() for n in addon_names.split(",") if n.strip()]
    if names:
        new = install(rt, names, schema=schema)
        if new:
            click.echo(f"installed: {', '.join(new)}")
    rt.reload()
    demo = build_demo(rt, scale=scale, months=months, seed=seed, progress=not quiet)
    res = demo.extra["result"]
    click.echo(f"demo ready in {time.monotonic() - started:.1f}s: {len(demo.stores)} stores, "
               f"{len(demo.customers)} customers, {len(demo.products)} products, "
               f"{res['sales']} sales, {res['refunds']} refunds"
               + (f", {res['skipped']} refused by addons" if res["skipped"] else ""))
    click.echo(f"log in as {ADMIN_LOGIN[0]} / password {ADMIN_LOGIN[1]} (HQ administrator)")
    others = [u.username for u in demo.users if u.username != ADMIN_LOGIN[0]]
    click.echo(f"other demo users ({', '.join(others)}) have password {DEMO_PASSWORD}")


@main.command("check")
@click.pass_context
def check_cmd(ctx):
    """Check invariants of the kernel and every installed addon; exit 1 on any breach."""
    from core.services.check import run_checks

    rt = get_runtime(ctx)
    with rt.session() as s:
        breaches = run_checks(s)
        s.rollback()
    for b in breaches:
        click.echo(f"BREACH [{b.check}] {b.message}")
        for rec in b.records:
            click.echo(f"    {rec}")
    if breaches:
        click.echo(f"{len(breaches)} breach(es) found", err=True)
        sys.exit(1)
    click.echo("all checks passed")


# ---------------------------------------------------------------------------------------
# serve, worker, jobs, shell
# ---------------------------------------------------------------------------------------

def _app(ctx):
    root = ctx.find_root()
    path = (root.obj or {}).get("config_path")
    if path:
        os.environ["BANYAN_CONFIG"] = os.path.abspath(path)
    from core.app import create_app

    return create_app()


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True, help="gunicorn worker processes.")
@click.option("--dev", is_flag=True, help="Werkzeug development server with reloader.")
@click.pass_context
def serve_cmd(ctx, host, port, workers, dev):
    """Serve the back office and the API (gunicorn; werkzeug with --dev or without gunicorn)."""
    app = _app(ctx)
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        BaseApplication = None
    if dev or BaseApplication is None:
        from werkzeug.serving import run_simple

        run_simple(host, port, app, use_reloader=dev, threaded=True)
        return

    from core.serving import post_worker_init, when_ready

    # the app is loaded here, in the master, before gunicorn forks the workers: each worker
    # starts with its own empty connection pools (core.forksafe), and the master closes the
    # connections it opened while loading (when_ready)
    class _Gunicorn(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")
            self.cfg.set("when_ready", when_ready)
            self.cfg.set("post_worker_init", post_worker_init)

        def load(self):
            return app

    _Gunicorn().run()


@main.command("worker")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker threads, 1 to 64 (default: [jobs] workers).")
@click.option("--no-periodic", is_flag=True, help="Do not schedule periodic jobs.")
@click.pass_context
def worker_cmd(ctx, workers, no_periodic):
    """Run the background job consumer (Huey) with the installed addons' jobs."""
    import logging

    from core.jobs import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rt = get_runtime(ctx)
    run_worker(rt, workers=workers, periodic=not no_periodic)


@main.group("jobs")
def jobs_group():
    """Background jobs declared by the installed addons."""


@jobs_group.command("list")
@click.pass_context
def jobs_list(ctx):
    """List the declared jobs and their schedules."""
    from core.jobs import declared_jobs

    jobs = declared_jobs(get_runtime(ctx, initialised=False))
    if not jobs:
        click.echo("no jobs declared")
    for name, job in sorted(jobs.items()):
        click.echo(f"{name:40} {job.schedule or 'on demand':20} retries={job.retries}")


@jobs_group.command("run")
@click.argument("name")
@click.option("--queue", is_flag=True, help="Queue it for the worker instead of running it here.")
@click.pass_context
def jobs_run(ctx, name, queue):
    """Run one job now in this process (or queue it with --queue)."""
    from core.jobs import enqueue, run_job_now

    rt = get_runtime(ctx)
    if queue:
        enqueue(rt, name)
        click.echo(f"queued {name}")
        return
    try:
        run_job_now(rt, name)
    except BanyanError:
        raise
    except Exception as exc:
        click.echo(f"error: job {name} failed: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    click.echo(f"job {name} done")


def shell_namespace(rt) -> dict:
    import core.models as kernel_models
    from sqlalchemy import func, select

    ns = {"rt": rt, "session": rt.session(), "select": select, "func": func}
    ns.update({name: getattr(kernel_models, name) for name in kernel_models.__all__})
    for owner, models in rt.registry.models_by_addon.items():
        for m in models:
            ns.setdefault(m.__name__, m)
    return ns


@main.command("shell")
@click.pass_context
def shell_cmd(ctx):
    """An interactive Python shell with ``rt``, ``session`` and every model."""
    import code

    rt = get_runtime(ctx)
    ns = shell_namespace(rt)
    banner = (f"Banyan shell on {rt.engine.url.render_as_string(hide_password=True)}\n"
              f"rt, session, select, func and the models ({len(ns) - 4}) are defined; "
              "session.commit() to save.")
    try:
        code.interact(banner=banner, local=ns, exitmsg="")
    finally:
        ns["session"].close()
