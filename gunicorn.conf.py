"""Gunicorn settings for the Procfile's `web:` line (override with WEB_CONCURRENCY / WEB_THREADS)."""
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
timeout = 30
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
# The app is built in each worker after the fork, so no pooled connection crosses a fork.
preload_app = False


def post_worker_init(worker):
    """The app, its modules and settings live as long as the worker: frozen out of the garbage collector's
    reach, a full collection no longer walks them in the middle of a request (a tail-latency spike)."""
    import gc
    gc.freeze()
