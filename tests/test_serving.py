"""gunicorn settings: workers freeze the objects the loaded app leaves behind."""
import gc
import logging
import runpy
from pathlib import Path

from core import serving

ROOT = Path(__file__).resolve().parent.parent


def test_config_file_uses_the_worker_hook():
    settings = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    assert settings["post_worker_init"] is serving.post_worker_init
    assert settings["when_ready"] is serving.when_ready
    assert settings["workers"] == 2


def test_post_worker_init_freezes_what_the_app_left(rt):
    from core.app import create_app

    class Worker:
        log = logging.getLogger("test.gunicorn")

    create_app(runtime=rt)
    gc.unfreeze()
    try:
        serving.post_worker_init(Worker())
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # the app, its addons, mappers and schemas
        gc.collect(2)  # a full collection does not move them back into the generations;
        # a few may still die by reference count (a frozen object whose last reference the
        # collection dropped), so the count may fall a little, never rise or halve
        after = gc.get_freeze_count()
        assert frozen * 0.99 <= after <= frozen
    finally:
        gc.unfreeze()


def test_empty_secret_key_is_made_once_and_shared_by_every_app(tmp_path):
    """Without ``[security] secret_key`` every worker (each builds its own app) and every
    restart must sign sessions with one key: it is made once in the instance folder."""
    import os
    import stat

    from core.app import instance_secret_key

    first = instance_secret_key(tmp_path)
    assert len(first) == 64 and instance_secret_key(tmp_path) == first
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    # two processes racing to make it agree on the winner's key
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        os.write(w, instance_secret_key(tmp_path / "race").encode())
        os._exit(0)
    os.close(w)
    mine = instance_secret_key(tmp_path / "race")
    os.waitpid(pid, 0)
    theirs = os.read(r, 200).decode()
    assert mine == theirs and len(mine) == 64
