"""Settings for serving the app under gunicorn (``banyan serve`` and ``config/gunicorn.conf.py``).

``post_worker_init`` runs in each worker once the app is loaded: it configures the ORM
mappers, collects garbage, then *freezes* what is left (``gc.freeze``). The app, its
addons, mappers and schemas are some 150,000 long-lived objects; without the freeze every
full (generation 2) collection walks all of them, a pause of about 50 ms in the middle of
some request, which is where the tail of the API's latency came from. Frozen objects are
never scanned again, so full collections only walk what requests allocate.

Workers are forked from the master. When the master loaded the app first (``banyan serve``,
``preload_app = True``, ``--preload``), it opened database connections while loading, and
every worker would inherit them: one socket shared by several processes. Every worker
therefore starts with empty connection pools and its own job-queue connection
(:mod:`core.forksafe`, run by ``os.fork`` itself, so no hook is needed for that), and
``when_ready`` closes the master's idle connections, which it never uses again.
"""
from __future__ import annotations

import gc


def freeze_after_load() -> int:
    """Configure the mappers, collect, and move every surviving object out of the
    collector's reach. Returns how many objects were frozen."""
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def when_ready(server) -> None:
    """gunicorn server hook, in the master before the first worker is forked: close the
    pooled connections the master opened while loading the app (it serves nothing)."""
    from core.forksafe import close_in_parent

    close_in_parent()


def post_worker_init(worker) -> None:
    """gunicorn server hook (see the module docstring)."""
    frozen = freeze_after_load()
    worker.log.debug("banyan: %d objects frozen after the app loaded", frozen)
