# gunicorn settings for Banyan:  gunicorn -c config/gunicorn.conf.py 'core.app:create_app()'
# (``banyan serve`` applies the same hook). See core/serving.py for why workers freeze the
# objects the app leaves after loading.
from core.serving import post_worker_init  # noqa: F401  (a gunicorn server hook)

bind = "127.0.0.1:5000"
workers = 2
