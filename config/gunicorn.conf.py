# gunicorn settings for Banyan:  gunicorn -c config/gunicorn.conf.py 'core.app:create_app()'
# (``banyan serve`` applies the same hook). See core/serving.py for why workers freeze the
# objects the app leaves after loading.
# Preloading (``preload_app = True`` or ``--preload``) is safe: workers never share the
# master's database connections (core/forksafe.py).
from core.serving import post_worker_init, when_ready  # noqa: F401  (gunicorn server hooks)

bind = "127.0.0.1:5000"
workers = 2
