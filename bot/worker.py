"""The RQ worker: `python -m bot.worker` (the Procfile's `worker:`); run several side by side.

It builds the app once and keeps its context for every job. `SimpleWorker` runs jobs in this process rather
than forking one child per job: reply jobs are short and I/O-bound, and forking would cost more than the job.
Job timeouts still apply (SIGALRM in this main thread). It takes the `intake` queue (storing buffered turns,
bot/ingest.py) before `replies`.
"""
from __future__ import annotations

import logging
import sys

from rq import SimpleWorker
from rq.serializers import JSONSerializer

from bot import create_app
from bot.db import db
from bot.errors import ConfigurationError
from bot.runtime import runtime


def main() -> int:
    try:
        app = create_app()
    except ConfigurationError as exc:
        print(f"bot worker: configuration error: {exc}", file=sys.stderr)
        return 2
    with app.app_context():
        rt = runtime()
        if rt.redis is None:
            print("bot worker: REDIS_URL is not set; the embedded mode runs jobs inside the web process",
                  file=sys.stderr)
            return 2
        with db.session_scope() as session:  # train the matcher now, not on the first user's message
            rt.knowledge.get(session)
        if rt.intake_buffer is not None and rt.intake_buffer.size():
            rt.queue.enqueue_ingest()  # turns buffered while no worker ran (or whose enqueue was lost)
        worker = SimpleWorker(rt.queue.queues, connection=rt.redis, serializer=JSONSerializer)
        worker.work(logging_level=logging.getLevelName(logging.getLogger().level))
    return 0


if __name__ == "__main__":
    sys.exit(main())
