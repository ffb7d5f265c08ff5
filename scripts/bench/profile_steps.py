"""What bench_profile times: the steps of the webhook path and of the worker path, named by the bot's modules.

These tables name the code under test by file suffix and module path; a step the profiled commit does not have
shows 0 calls and is left out of the printout; a TIMED_STEPS entry it does not have (an older layout) is
skipped, with a note.
"""
from __future__ import annotations

import importlib
import sys
import threading
import time
from collections.abc import Callable

# (label, file suffix, function name): cumulative time of these functions, per request / per reply
WEBHOOK_STEPS = [
    ("whole request (Flask wsgi_app)", "flask/app.py", "wsgi_app"),
    ("signature: RequestValidator.validate", "twilio/request_validator.py", "validate"),
    ("  of which compute_signature (x2: with and without port)", "twilio/request_validator.py",
     "compute_signature"),
    ("form parsing: Request.form", "werkzeug/wrappers/request.py", "form"),
    ("parse_inbound", "bot/channels/twilio/inbound.py", "parse_inbound"),
    ("  of which to_e164 (phonenumbers)", "bot/core/phones.py", "to_e164"),
    ("store_inbound (all SQL + commit)", "bot/intake/store.py", "store_inbound"),
    ("  upsert_users", "bot/intake/rows.py", "upsert_users"),
    ("  active_conversation", "bot/delivery/conversations.py", "active_conversation"),
    ("  Session.commit", "sqlalchemy/orm/session.py", "commit"),
    ("  pool checkout (+ pre-ping SELECT 1 if configured)", "sqlalchemy/pool/base.py", "_checkout"),
    ("  SQL compile/cache-key (_compile_w_cache)", "sqlalchemy/sql/elements.py", "_compile_w_cache"),
    ("  psycopg2 cursor.execute (do_execute)", "sqlalchemy/engine/default.py", "do_execute"),
    ("RQ enqueue: RQTaskQueue.enqueue_reply (direct mode)", "bot/core/queue.py", "enqueue_reply"),
    ("buffered intake: IntakeBuffer.push", "bot/intake/buffer.py", "push"),
    ("  redis pipeline execute", "redis/client.py", "execute"),
    ("session teardown (scoped_session.remove)", "bot/core/db.py", "_remove_session"),
    ("logging (Logger.info/_log)", "logging/__init__.py", "info"),
    ("empty_twiml", "bot/web/webhooks.py", "empty_twiml"),
]

WORKER_STEPS = [
    ("whole job loop (Worker.execute_job)", "rq/worker/worker_classes.py", "execute_job"),
    ("RQ dequeue (dequeue_job_and_maintain_ttl)", "rq/worker/base.py", "dequeue_job_and_maintain_ttl"),
    ("RQ prepare_execution", "rq/worker/base.py", "prepare_execution"),
    ("RQ perform_job (incl. the job)", "rq/worker/base.py", "perform_job"),
    ("RQ handle_job_success", "rq/worker/base.py", "handle_job_success"),
    ("job: answer_ready_users (a reply run)", "bot/worker/runs.py", "answer_ready_users"),
    ("  ready list: take_ready_user (Lua: LPOP + the user's lock)", "bot/core/queue.py", "take_ready_user"),
    ("  buffered intake: ingest_buffered", "bot/intake/ingest.py", "ingest_buffered"),
    ("    store_inbound_batch", "bot/intake/batch.py", "store_inbound_batch"),
    ("reply_to_user (per user)", "bot/worker/runs.py", "reply_to_user"),
    ("  user lock acquire (Lua, when not taken with the user)", "bot/core/locks.py", "acquire"),
    ("  user lock release (Lua script)", "bot/core/locks.py", "release"),
    ("  user lock renew (Lua script)", "bot/core/locks.py", "renew"),
    ("  _drain", "bot/worker/runs.py", "_drain"),
    ("  pending_turns (count after the drain, if an attempt came)", "bot/conversation/pending.py", "pending_turns"),
    ("  Answerer.answer", "bot/conversation/answering.py", "answer"),
    ("    Answerer.context (attachments query, language)", "bot/conversation/answering.py", "context"),
    ("    router.route (all handlers)", "bot/conversation/router.py", "route"),
    ("      history (history query)", "bot/llm/history.py", "history"),
    ("      knowledge.decide (NLU matcher + FAQ)", "bot/nlu/knowledge.py", "decide"),
    ("        matcher.rank (scikit-learn)", "bot/nlu/matcher.py", "rank"),
    ("      assistant.ask (guarded LLM)", "bot/llm/assistant.py", "ask"),
    ("        assistant.tokens_used_today (SUM query)", "bot/llm/assistant.py", "tokens_used_today"),
    ("        assistant._log (ai_interactions + tokens)", "bot/llm/assistant.py", "_log"),
    ("      LLM: OpenAIChat.complete (openai client)", "bot/llm/client.py", "complete"),
    ("    store_reply (parts, route, counters + commit)", "bot/conversation/reply_store.py", "store_reply"),
    ("    parts_of", "bot/delivery/sending.py", "parts_of"),
    ("    _claim (UPDATE + commit)", "bot/delivery/sending.py", "_claim"),
    ("    Twilio: TwilioSender.send (twilio client)", "bot/channels/twilio/sender.py", "send"),
    ("    _mark_submitted (UPDATE + events query + commit)", "bot/delivery/sending.py", "_mark_submitted"),
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
    ("reply run, take_ready_user included (answer_ready_users)", "bot.worker.runs", "answer_ready_users"),
    ("  take a ready user with their lock (Lua)", "bot.core.locks", "RedisLocks.take_ready"),
    ("  store buffered turns (ingest_buffered)", "bot.intake.ingest", "ingest_buffered"),
    ("  reply_to_user", "bot.worker.runs", "reply_to_user"),
    ("    release the user's lock (Lua)", "bot.core.locks", "RedisUserLock.release"),
    ("    pending_turns after a release with an attempt", "bot.conversation.pending", "pending_turns"),
    ("    next_turn (ORM SELECT)", "bot.conversation.pending", "next_turn"),
    ("    Answerer.answer", "bot.conversation.answering", "Answerer.answer"),
    ("      Answerer.context", "bot.conversation.answering", "Answerer.context"),
    ("      router.route", "bot.conversation.router", "route"),
    ("        knowledge.decide (matcher)", "bot.nlu.knowledge", "Knowledge.decide"),
    ("        IntentHandler.handle (journeys, FAQ answers)", "bot.dialog.answers", "IntentHandler.handle"),
    ("        LLMHandler.handle", "bot.dialog.agent", "LLMHandler.handle"),
    ("          build_prompt (templates, rules, budget)", "bot.llm.prompting", "build_prompt"),
    ("          history (SELECT)", "bot.llm.history", "history"),
    ("          tools.upcoming_lines (events SELECT)", "bot.llm.tools", "upcoming_lines"),
    ("          Assistant.ask", "bot.llm.assistant", "Assistant.ask"),
    ("            tokens_used_today (SUM)", "bot.llm.assistant", "tokens_used_today"),
    ("            Assistant._cached (SELECT)", "bot.llm.assistant", "Assistant._cached"),
    ("            OpenAIChat.complete (openai client)", "bot.llm.client", "OpenAIChat.complete"),
    ("            Assistant._store (cache INSERT)", "bot.llm.assistant", "Assistant._store"),
    ("            Assistant._log (ai_interactions, tokens)", "bot.llm.assistant", "Assistant._log"),
    ("      store_reply", "bot.conversation.reply_store", "store_reply"),
    ("      TwilioSender.send (twilio client)", "bot.channels.twilio.sender", "TwilioSender.send"),
    ("      status.store_sid (lock + UPDATE)", "bot.delivery.status", "store_sid"),
    ("      finish_turn (turn processed)", "bot.delivery.sending", "finish_turn"),
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
        for label, module_name, path in TIMED_STEPS:
            try:
                owner, name = _owner_of(module_name, path)
            except (ImportError, AttributeError):
                print(f"bench_profile: step {label.strip()!r} ({module_name}.{path}) not in this code; skipped",
                      file=sys.stderr)
                continue
            original = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name)
            wrapped = self._wrap(label, original)
            for target, attr in [(owner, name), *_copies(owner, original)]:
                self._undo.append((target, attr, original))
                setattr(target, attr, wrapped)

    def remove(self) -> None:
        for target, attr, original in reversed(self._undo):
            setattr(target, attr, original)
        self._undo.clear()

    def _wrap(self, label: str, original: Callable) -> Callable:
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


def _owner_of(module_name: str, path: str) -> tuple[object, str]:
    """The module or class holding the step's function, and the function's name there."""
    owner = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    return owner, name


def _copies(owner: object, original: Callable) -> list[tuple[object, str]]:
    """Where `from module import f` copied a module-level function to (a method has no copies)."""
    if isinstance(owner, type):
        return []
    return [(m, attr) for m in list(sys.modules.values()) if m is not None and m is not owner
            for attr, value in list(getattr(m, "__dict__", {}).items()) if value is original]
