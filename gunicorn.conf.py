"""Gunicorn settings for the Procfile's `web:` line (override with WEB_CONCURRENCY / WEB_THREADS).

Defaults measured in docs/benchmarks.md ("Gunicorn settings"): with the buffered intake a webhook is about a
millisecond of CPU and one short Redis round trip, so threads only add GIL hand-offs; four single-threaded
gthread workers gave the highest signed-webhook rate and the lowest p99 on two cores (gthread still keeps
idle keep-alive connections in its poller, so a worker's one thread is busy only while a request runs).
"""
import os

_redis = bool(os.environ.get("REDIS_URL", "").strip())
# INTAKE_MODE=direct (or no Redis) writes PostgreSQL inside the request: there threads overlap those waits
# (2 x 4 measured best for it; 4 x 1 gave a p99 over 60 ms)
_buffered = _redis and os.environ.get("INTAKE_MODE", "buffered").strip().lower() != "direct"

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "4" if _buffered else "2"))
threads = int(os.environ.get("WEB_THREADS", "1" if _buffered else "4"))
worker_class = "gthread"
# Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new connections across
# them. With one shared socket, the workers that happen to be awake accept the proxy's few kept-alive
# connections, which then stay with them: with all of them on 2 of the 4 workers, each webhook's Redis round
# trip leaves a core idle and intake fell by a quarter (docs/benchmarks.md, session 6). The cost: connections
# still waiting in the accept queue of a worker that exits are reset rather than taken by another worker
# (unless the kernel's net.ipv4.tcp_migrate_req is 1); these workers exit only on a restart or a 30 s
# request timeout. WEB_REUSE_PORT=0 returns to the shared socket.
reuse_port = os.environ.get("WEB_REUSE_PORT", "1" if _buffered else "0").strip() == "1"
timeout = 30
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
# With Redis (production) the app is built once in the master and forked: the workers share its pages
# (each built its own, ~200 MB, before). Nothing in the app connects at build time, the database pool is
# disposed after the fork (post_fork) and redis-py resets its pool in a new process by itself. Without Redis
# (the embedded mode) each worker builds its own app: the embedded job and clock threads would not survive
# a fork.
preload_app = _redis


def pre_fork(server, worker):
    """The app's long-lived objects are frozen out of the collector's reach before the fork, so a collection
    in a worker neither walks them nor touches (and so copies) the pages they share with the master."""
    import gc
    gc.freeze()


def post_fork(server, worker):
    if preload_app:
        from bot.core.db import db
        db.dispose_after_fork()


def post_worker_init(worker):
    """Without preloading, the worker's own app is frozen once built: a full collection no longer walks it
    in the middle of a request (a tail-latency spike)."""
    import gc
    gc.freeze()
