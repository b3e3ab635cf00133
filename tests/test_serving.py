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
        gc.collect(2)  # a full collection leaves them where they are
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
