#!/usr/bin/env python
"""Where the time goes: the webhook path and the worker path, one request / one job at a time, profiled.

    .venv/bin/python scripts/bench_profile.py [--requests 1000] [--turns 500] [--dump DIR] [--json out.json]

Companion of scripts/bench_intake.py (same fakes, same signed payloads, same env). It builds the app in this
process against PostgreSQL (database `bench_intake_profile`, created and dropped here) and Redis db 13, then:

  webhook  --requests signed webhooks through Flask's test client (no gunicorn, no network to the app), under
           cProfile: wall and CPU ms per request, SQL statements / transactions / pool pings / Redis round trips
           per request, and the cumulative time of each step (signature, form, phonenumbers, each SQL step,
           commit, RQ enqueue, logging).
  worker   --turns queued turns (distinct users) answered by `BotWorker(...).work(burst=True)`, the
           worker class `python -m bot.worker` runs, under cProfile: the same figures per reply, split into RQ's
           own bookkeeping, the user lock, SQL steps, the OpenAI client and the Twilio client.

Serial, so the figures are per-request costs, not throughput. The fakes run in a child process with
TCP_NODELAY (see bench_intake.py). Everything targets 127.0.0.1; loops are bounded by count.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_intake as bi  # noqa: E402

DB = f"bench_intake_profile_{os.getpid()}"

# (label, file suffix, function name): cumulative time of these functions, per request / per reply
WEBHOOK_STEPS = [
    ("whole request (Flask wsgi_app)", "flask/app.py", "wsgi_app"),
    ("signature: RequestValidator.validate", "twilio/request_validator.py", "validate"),
    ("  of which compute_signature (x2: with and without port)", "twilio/request_validator.py",
     "compute_signature"),
    ("form parsing: Request.form", "werkzeug/wrappers/request.py", "form"),
    ("parse_inbound", "bot/channels/twilio.py", "parse_inbound"),
    ("  of which to_e164 (phonenumbers)", "bot/channels/twilio.py", "to_e164"),
    ("store_inbound (all SQL + commit)", "bot/intake.py", "store_inbound"),
    ("  _upsert_user", "bot/intake.py", "_upsert_user"),
    ("  active_conversation", "bot/intake.py", "active_conversation"),
    ("  Session.commit", "sqlalchemy/orm/session.py", "commit"),
    ("  pool checkout (+ pre-ping SELECT 1 if configured)", "sqlalchemy/pool/base.py", "_checkout"),
    ("  SQL compile/cache-key (_compile_w_cache)", "sqlalchemy/sql/elements.py", "_compile_w_cache"),
    ("  psycopg2 cursor.execute (do_execute)", "sqlalchemy/engine/default.py", "do_execute"),
    ("RQ enqueue: RQTaskQueue.enqueue_reply (direct mode)", "bot/queue.py", "enqueue_reply"),
    ("buffered intake: IntakeBuffer.push", "bot/intake_buffer.py", "push"),
    ("  redis pipeline execute", "redis/client.py", "execute"),
    ("session teardown (scoped_session.remove)", "bot/db.py", "_remove_session"),
    ("logging (Logger.info/_log)", "logging/__init__.py", "info"),
    ("empty_twiml", "bot/webhooks.py", "empty_twiml"),
]

WORKER_STEPS = [
    ("whole job loop (Worker.execute_job)", "rq/worker/worker_classes.py", "execute_job"),
    ("RQ dequeue (dequeue_job_and_maintain_ttl)", "rq/worker/base.py", "dequeue_job_and_maintain_ttl"),
    ("RQ prepare_execution", "rq/worker/base.py", "prepare_execution"),
    ("RQ perform_job (incl. the job)", "rq/worker/base.py", "perform_job"),
    ("RQ handle_job_success", "rq/worker/base.py", "handle_job_success"),
    ("job: answer_ready_users (a reply run)", "bot/jobs.py", "answer_ready_users"),
    ("  ready list: take_ready_user (Lua: LPOP + the user's lock)", "bot/queue.py", "take_ready_user"),
    ("  buffered intake: ingest_buffered", "bot/ingest.py", "ingest_buffered"),
    ("    store_inbound_batch", "bot/intake.py", "store_inbound_batch"),
    ("reply_to_user (per user)", "bot/jobs.py", "reply_to_user"),
    ("  user lock acquire (Lua, when not taken with the user)", "bot/locks.py", "acquire"),
    ("  user lock release (Lua script)", "bot/locks.py", "release"),
    ("  user lock renew (Lua script)", "bot/locks.py", "renew"),
    ("  _drain", "bot/jobs.py", "_drain"),
    ("  pending_turns (count after the drain, if an attempt came)", "bot/pipeline.py", "pending_turns"),
    ("  answer_turn", "bot/pipeline.py", "answer_turn"),
    ("    _context (attachments query, language)", "bot/pipeline.py", "_context"),
    ("    router.route (all handlers)", "bot/router.py", "route"),
    ("      router.history (history query)", "bot/router.py", "history"),
    ("      turn_history.history (history query)", "bot/turn_history.py", "history"),
    ("      knowledge.decide (NLU matcher + FAQ)", "bot/knowledge.py", "decide"),
    ("        matcher.rank (scikit-learn)", "bot/nlu/matcher.py", "rank"),
    ("      assistant.ask (guarded LLM)", "bot/assistant.py", "ask"),
    ("        assistant.tokens_used_today (SUM query)", "bot/assistant.py", "tokens_used_today"),
    ("        assistant._log (ai_interactions + tokens)", "bot/assistant.py", "_log"),
    ("      LLM: OpenAIChat.complete (openai client)", "bot/llm.py", "complete"),
    ("    _store_reply (ORM insert + update + commit)", "bot/pipeline.py", "_store_reply"),
    ("    _parts_of", "bot/pipeline.py", "_parts_of"),
    ("    _claim (UPDATE + commit)", "bot/pipeline.py", "_claim"),
    ("    Twilio: TwilioSender.send (twilio client)", "bot/channels/twilio.py", "send"),
    ("    _mark_submitted (UPDATE + events query + commit)", "bot/pipeline.py", "_mark_submitted"),
    ("  Session.commit (all)", "sqlalchemy/orm/session.py", "commit"),
    ("  pool checkout (+ pre-ping SELECT 1 if configured)", "sqlalchemy/pool/base.py", "_checkout"),
    ("  SQL compile/cache-key (_compile_w_cache)", "sqlalchemy/sql/elements.py", "_compile_w_cache"),
    ("  ORM flush", "sqlalchemy/orm/session.py", "flush"),
    ("  psycopg2 cursor.execute (do_execute)", "sqlalchemy/engine/default.py", "do_execute"),
    ("logging (Logger.info/_log)", "logging/__init__.py", "info"),
]


# Steps timed with the thread's CPU clock in the run without the profiler (cProfile inflates code that makes many
# small calls — SQLAlchemy, the clients — far more than C-heavy code, so its shares mislead). Inclusive times;
# (label, module, attribute path).
TIMED_STEPS = [
    ("reply run, take_ready_user included (answer_ready_users)", "bot.jobs", "answer_ready_users"),
    ("  take a ready user with their lock (Lua)", "bot.locks", "RedisLocks.take_ready"),
    ("  store buffered turns (ingest_buffered)", "bot.ingest", "ingest_buffered"),
    ("  reply_to_user", "bot.jobs", "reply_to_user"),
    ("    release the user's lock (Lua)", "bot.locks", "RedisUserLock.release"),
    ("    pending_turns after a release with an attempt", "bot.pipeline", "pending_turns"),
    ("    next_turn (ORM SELECT)", "bot.pipeline", "next_turn"),
    ("    answer_turn", "bot.pipeline", "answer_turn"),
    ("      _context", "bot.pipeline", "_context"),
    ("      router.route", "bot.router", "route"),
    ("        knowledge.decide (matcher)", "bot.knowledge", "Knowledge.decide"),
    ("        IntentHandler.handle (journeys, FAQ answers)", "bot.handlers.understanding", "IntentHandler.handle"),
    ("        LLMHandler.handle", "bot.handlers.llm", "LLMHandler.handle"),
    ("          build_prompt (templates, rules, budget)", "bot.prompting", "build_prompt"),
    ("          turn_history.history (SELECT)", "bot.turn_history", "history"),
    ("          tools.upcoming_lines (events SELECT)", "bot.tools", "upcoming_lines"),
    ("          Assistant.ask", "bot.assistant", "Assistant.ask"),
    ("            tokens_used_today (SUM)", "bot.assistant", "tokens_used_today"),
    ("            Assistant._cached (SELECT)", "bot.assistant", "Assistant._cached"),
    ("            OpenAIChat.complete (openai client)", "bot.llm", "OpenAIChat.complete"),
    ("            Assistant._store (cache INSERT)", "bot.assistant", "Assistant._store"),
    ("            Assistant._log (ai_interactions, tokens)", "bot.assistant", "Assistant._log"),
    ("      _store_reply", "bot.pipeline", "_store_reply"),
    ("      TwilioSender.send (twilio client)", "bot.channels.twilio", "TwilioSender.send"),
    ("      status.store_sid (lock + UPDATE)", "bot.status", "store_sid"),
    ("      _finish (turn processed)", "bot.pipeline", "_finish"),
    ("  Session.commit (all)", "sqlalchemy.orm.session", "Session.commit"),
    ("  Session.execute (all)", "sqlalchemy.orm.session", "Session.execute"),
]


class StepTimers:
    """Wraps TIMED_STEPS with the calling thread's CPU clock (`time.thread_time`); re-entrant calls of one
    step count once. Every module holding the function under any name gets the wrapper."""

    def __init__(self) -> None:
        self.cpu = {label: 0.0 for label, _, _ in TIMED_STEPS}
        self.calls = {label: 0 for label, _, _ in TIMED_STEPS}
        self._undo: list = []
        self._depth = threading.local()

    def install(self) -> None:
        import importlib
        for label, module_name, path in TIMED_STEPS:
            owner = importlib.import_module(module_name)
            *parents, name = path.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            original = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name)
            wrapped = self._wrap(label, original)
            targets = [(owner, name)]
            if not isinstance(owner, type):  # `from module import f` copies elsewhere
                targets += [(m, attr) for m in list(sys.modules.values()) if m is not None and m is not owner
                            for attr, value in list(getattr(m, "__dict__", {}).items()) if value is original]
            for target, attr in targets:
                self._undo.append((target, attr, original))
                setattr(target, attr, wrapped)

    def remove(self) -> None:
        for target, attr, original in reversed(self._undo):
            setattr(target, attr, original)
        self._undo.clear()

    def _wrap(self, label: str, original):
        timers, clock = self, time.thread_time

        def timed(*args, **kwargs):
            depth = getattr(timers._depth, label, 0)
            setattr(timers._depth, label, depth + 1)
            start = clock()
            try:
                return original(*args, **kwargs)
            finally:
                setattr(timers._depth, label, depth)
                if depth == 0:
                    timers.cpu[label] += clock() - start
                    timers.calls[label] += 1
        return timed

    def rows(self, n: int) -> list[tuple[str, float, float]]:
        return [(label, round(1000 * self.cpu[label] / n, 3), round(self.calls[label] / n, 2))
                for label, _, _ in TIMED_STEPS]


class Counters:
    """SQL statements, transactions, pool checkouts and Redis round trips, counted through public hooks."""

    def __init__(self, engine):
        from sqlalchemy import event
        self.sql = self.begin = self.commit = self.rollback = self.checkout = self.redis = 0
        # with pool_pre_ping every checkout costs a SELECT 1; a custom "ping when idle" listener is not counted
        self.pre_ping = bool(getattr(engine.pool, "_pre_ping", False))
        self.statements: dict[str, int] = {}

        @event.listens_for(engine, "before_cursor_execute")
        def _stmt(conn, cursor, statement, parameters, context, executemany):
            self.sql += 1
            key = " ".join(statement.split()[:4])[:60]
            self.statements[key] = self.statements.get(key, 0) + 1

        # On a connection in autocommit (isolation_level="AUTOCOMMIT") psycopg2 sends no BEGIN, COMMIT or
        # ROLLBACK, though SQLAlchemy still fires these events: they are not round trips (checked with strace).
        def _wire(conn) -> bool:
            return not getattr(conn.connection.dbapi_connection, "autocommit", False)

        @event.listens_for(engine, "begin")
        def _begin(conn):
            self.begin += _wire(conn)

        @event.listens_for(engine, "commit")
        def _commit(conn):
            self.commit += _wire(conn)

        @event.listens_for(engine, "rollback")
        def _rollback(conn):
            self.rollback += _wire(conn)

        @event.listens_for(engine.pool, "checkout")
        def _checkout(dbapi_conn, record, proxy):
            self.checkout += 1

        import redis.connection
        original = redis.connection.AbstractConnection.send_packed_command
        counters = self

        def counted(conn, command, check_health=True):
            counters.redis += 1
            return original(conn, command, check_health)
        redis.connection.AbstractConnection.send_packed_command = counted  # this process only

    def snapshot(self) -> dict:
        return {"sql": self.sql, "begin": self.begin, "commit": self.commit, "rollback": self.rollback,
                "checkout": self.checkout, "ping": self.checkout if self.pre_ping else 0, "redis": self.redis,
                "statements": dict(self.statements)}


def diff(after: dict, before: dict, n: int) -> dict:
    out = {k: round((after[k] - before[k]) / n, 2) for k in after if k != "statements"}
    out["statements"] = {k: round((v - before["statements"].get(k, 0)) / n, 2)
                         for k, v in after["statements"].items() if v - before["statements"].get(k, 0)}
    # libpq round trips: every statement, psycopg2's implicit BEGIN, COMMIT, and the pre-ping SELECT 1
    # (the ping runs in autocommit, so it is not preceded by BEGIN and is not counted by before_cursor_execute)
    out["pg_round_trips"] = round(out["sql"] + out["begin"] + out["commit"] + out["rollback"] + out["ping"], 2)
    return out


def steps(stats: pstats.Stats, table, n: int) -> list[tuple[str, float, float]]:
    rows = []
    for label, suffix, name in table:
        cum = calls = 0.0
        for (file, _line, func), (_cc, nc, _tt, ct, _callers) in stats.stats.items():
            if func == name and file.replace("\\", "/").endswith(suffix):
                cum += ct
                calls += nc
        rows.append((label, round(1000 * cum / n, 3), round(calls / n, 2)))
    return rows


def top_self(stats: pstats.Stats, n: int, count: int = 15) -> list[tuple[str, float]]:
    items = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:count]
    out = []
    for (file, line, func), (_cc, _nc, tt, _ct, _callers) in items:
        short = file.split("site-packages/")[-1].split("/main/")[-1].split("python3.11/")[-1]
        out.append((f"{short}:{line} {func}", round(1000 * tt / n, 3)))
    return out


def print_section(title: str, n: int, wall_ms: float, cpu_ms: float, counts: dict, rows, top) -> None:
    print(f"\n== {title}: {n} serial, {wall_ms:.2f} ms wall and {cpu_ms:.2f} ms CPU each (under cProfile)")
    print(f"   per item: {counts['pg_round_trips']:g} PostgreSQL round trips = {counts['sql']:g} statements "
          f"+ {counts['begin']:g} BEGIN + {counts['commit']:g} COMMIT + {counts['rollback']:g} ROLLBACK "
          f"+ {counts['ping']:g} pool pre-ping ({counts['checkout']:g} pool checkouts); "
          f"{counts['redis']:g} Redis round trips")
    for stmt, per in sorted(counts["statements"].items(), key=lambda kv: -kv[1]):
        print(f"     {per:5g} x {stmt}")
    print(f"   {'step':<58} {'ms/item':>8} {'calls':>6}")
    for label, ms, calls in rows:
        if calls:  # steps this version of the code does not have are left out
            print(f"   {label:<58} {ms:8.3f} {calls:6g}")
    print("   top self time (ms/item):")
    for name, ms in top:
        print(f"     {ms:7.3f}  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="profiled webhooks")
    parser.add_argument("--turns", type=int, default=500, help="profiled worker replies (distinct users)")
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--dump", metavar="DIR", help="write webhook.prof and worker.prof here (pstats format)")
    parser.add_argument("--ref", help="profile a `git archive` of this commit (e.g. HEAD) instead of the working tree")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--timers", action="store_true",
                        help="time TIMED_STEPS with the thread CPU clock in the run without the profiler: "
                             "undistorted CPU per step")
    parser.add_argument("--cpu-clock", action="store_true",
                        help="profile with the process CPU clock: the steps' ms are CPU, not wall (waits on "
                             "PostgreSQL, Redis and the fakes count for nothing)")
    args = parser.parse_args()

    lock = bi.acquire_lock(timeout=1800)  # noqa: F841 - held until this process ends
    workdir = bi.tempfile.mkdtemp(prefix="bench_profile-")
    code = bi.use_snapshot(args.ref, workdir)
    print(f"code: {code}")
    fakes = subprocess.Popen([os.path.join(bi.VENV_BIN, "python"), os.path.join(HERE, "bench_intake.py"), "_fakes",
                              bi.FAKES], stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    created = False
    report: dict = {"code": code}
    try:
        ports = json.loads(fakes.stdout.readline())
        fk = bi.load_fakes()
        port = bi.free_port()  # only names the signed URL; nothing listens on it
        bi.pg_admin(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        bi.pg_admin(f"CREATE DATABASE {DB}")
        created = True
        bi.flush_redis()
        env = dict(DATABASE_URL=f"{bi.PG_ADMIN}/{DB}", REDIS_URL=bi.REDIS_URL, TWILIO_ACCOUNT_SID=fk.ACCOUNT_SID,
                   TWILIO_AUTH_TOKEN=fk.AUTH_TOKEN, TWILIO_WHATSAPP_NUMBER=bi.BOT_NUMBER,
                   TWILIO_API_BASE_URL=f"http://127.0.0.1:{ports['twilio']}", PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
                   OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=f"http://127.0.0.1:{ports['openai']}/v1",
                   OPENAI_MODEL="gpt-4o-mini", SECRET_KEY="x", LOG_LEVEL="WARNING")
        os.environ.update(env)
        release = subprocess.run(bi.procfile()["release"], shell=True, cwd=bi.SRC, capture_output=True, text=True,
                                 timeout=120, env=dict(os.environ, PATH=bi.VENV_BIN + os.pathsep + os.environ["PATH"]))
        if release.returncode:
            raise RuntimeError(release.stderr[-800:])
        sys.path.insert(0, bi.SRC)
        from bot import create_app
        from bot.db import db
        from bot.runtime import runtime
        app = create_app()
        counters = Counters(db.engine)

        class _Stack:  # what bench_intake.Signer needs
            public, account_sid, auth_token = f"http://127.0.0.1:{port}", fk.ACCOUNT_SID, fk.AUTH_TOKEN
        signer = bi.Signer(_Stack)
        client = app.test_client()

        def post(sig: str, body: str) -> None:
            r = client.post(bi.WEBHOOK_PATH, data=body, headers={
                "X-Twilio-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"})
            if r.status_code != 200:
                raise RuntimeError(f"webhook answered {r.status_code}: {r.get_data(as_text=True)[:200]}")

        # ---- webhook path
        for sig, body in signer.batch(args.users, pool=1, users=args.users, tag="warm"):  # every user exists
            post(sig, body)
        signed = signer.batch(args.requests, pool=1, users=args.users, tag="prof")
        before = counters.snapshot()
        profiler = cProfile.Profile(time.process_time) if args.cpu_clock else cProfile.Profile()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        profiler.enable()
        for sig, body in signed:
            post(sig, body)
        profiler.disable()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        n = len(signed)
        stats = pstats.Stats(profiler)
        counts = diff(counters.snapshot(), before, n)
        # the same requests without the profiler, for the undistorted cost
        plain = signer.batch(min(n, 500), pool=1, users=args.users, tag="plain")
        p0, c0 = time.perf_counter(), time.process_time()
        for sig, body in plain:
            post(sig, body)
        plain_wall, plain_cpu = (time.perf_counter() - p0) / len(plain), (time.process_time() - c0) / len(plain)
        rows, top = steps(stats, WEBHOOK_STEPS, n), top_self(stats, n)
        print_section("webhook path (Flask test client)", n, 1000 * wall / n, 1000 * cpu / n, counts, rows, top)
        print(f"   without the profiler: {1000 * plain_wall:.2f} ms wall, {1000 * plain_cpu:.2f} ms CPU per request")
        report["webhook"] = {"n": n, "wall_ms": 1000 * wall / n, "cpu_ms": 1000 * cpu / n,
                             "plain_wall_ms": 1000 * plain_wall, "plain_cpu_ms": 1000 * plain_cpu,
                             "counts": counts, "steps": rows, "top_self": top}
        if args.dump:
            os.makedirs(args.dump, exist_ok=True)
            stats.dump_stats(os.path.join(args.dump, "webhook.prof"))

        # ---- worker path: queue --turns turns from distinct users, then one BotWorker in burst mode
        from rq.serializers import JSONSerializer

        from bot.worker import BotWorker
        bi.flush_redis()
        for sig, body in signer.batch(args.turns, pool=3, users=args.turns, tag="job"):
            post(sig, body)
        with app.app_context():
            rt = runtime()
            # with the buffered intake (the default) the turns wait in Redis and one `intake` job stores them
            # and queues the replies: the worker listens to both queues, as `bot.worker` does
            queued = rt.queue.queue.count + rt.queue.intake.count
            worker = BotWorker(rt.queue.queues, connection=rt.redis, serializer=JSONSerializer)
            before = counters.snapshot()
            got0 = bi.json.loads(_fakes_cmd(fakes, "count"))["messages"]
            profiler = cProfile.Profile(time.process_time) if args.cpu_clock else cProfile.Profile()
            wall0, cpu0 = time.perf_counter(), time.process_time()
            profiler.enable()
            worker.work(burst=True, logging_level="WARNING")
            profiler.disable()
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            after = counters.snapshot()
            replies = bi.json.loads(_fakes_cmd(fakes, "count"))["messages"] - got0
            # the same again without the profiler, for the undistorted cost
            for sig, body in signer.batch(args.turns, pool=4, users=args.turns, tag="plainjob"):
                post(sig, body)
            got1 = bi.json.loads(_fakes_cmd(fakes, "count"))["messages"]
            timers = StepTimers()
            if args.timers:
                timers.install()
            p0, c0, t0 = time.perf_counter(), time.process_time(), time.thread_time()
            worker.work(burst=True, logging_level="WARNING")
            plain_wall, plain_cpu = time.perf_counter() - p0, time.process_time() - c0
            plain_thread_cpu = time.thread_time() - t0
            timers.remove()
            plain_n = max(bi.json.loads(_fakes_cmd(fakes, "count"))["messages"] - got1, 1)
        n = max(replies, 1)
        stats = pstats.Stats(profiler)
        counts = diff(after, before, n)
        rows, top = steps(stats, WORKER_STEPS, n), top_self(stats, n)
        print_section(f"worker path (BotWorker burst, {queued} jobs, {replies} replies)", n, 1000 * wall / n,
                      1000 * cpu / n, counts, rows, top)
        print(f"   without the profiler: {1000 * plain_wall / plain_n:.2f} ms wall, {1000 * plain_cpu / plain_n:.2f} ms "
              f"CPU per reply ({plain_n} replies, {plain_n / plain_wall:.1f} replies/s in this process)")
        report["worker"] = {"jobs": queued, "replies": replies, "wall_ms": 1000 * wall / n, "cpu_ms": 1000 * cpu / n,
                            "plain_wall_ms": 1000 * plain_wall / plain_n, "plain_cpu_ms": 1000 * plain_cpu / plain_n,
                            "counts": counts, "steps": rows, "top_self": top}
        if args.timers:
            timed = timers.rows(plain_n)
            print(f"   CPU per reply by step, without the profiler (thread CPU clock; the worker's thread: "
                  f"{1000 * plain_thread_cpu / plain_n:.2f} ms per reply)")
            print(f"   {'step':<58} {'ms/item':>8} {'calls':>6}")
            for label, ms, calls in timed:
                if calls:
                    print(f"   {label:<58} {ms:8.3f} {calls:6g}")
            report["worker"]["timed_steps"] = timed
        if args.dump:
            stats.dump_stats(os.path.join(args.dump, "worker.prof"))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(report, f, indent=2)
        return 0
    finally:
        try:
            fakes.stdin.write(b"quit\n")
            fakes.stdin.flush()
            fakes.wait(timeout=5)
        except Exception:  # noqa: BLE001
            os.killpg(fakes.pid, bi.signal.SIGKILL)
        try:
            from bot.db import db as _db
            if _db.engine is not None:
                _db.engine.dispose()
        except Exception:  # noqa: BLE001
            pass
        if created:
            bi.pg_admin(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        bi.flush_redis()
        bi.shutil.rmtree(workdir, ignore_errors=True)


def _fakes_cmd(proc, cmd: str) -> str:
    proc.stdin.write((cmd + "\n").encode())
    proc.stdin.flush()
    return proc.stdout.readline().decode()


if __name__ == "__main__":
    sys.exit(main())
