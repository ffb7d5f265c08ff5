"""Behaviour 8: sending through Twilio's REST API, retries for transient errors only, never twice."""
import time

import pytest
from sqlalchemy import select

from bot.worker.jobs import reply_to_user
from models import Message, User
from models.base import utcnow
from tests.conftest import BOT_NUMBER, PUBLIC_BASE_URL, run_jobs, send


def replies(session):
    return list(session.scalars(select(Message).where(Message.direction == "outbound").order_by(Message.id)))


def test_status_callback_and_sender_are_set(app, client, twilio):
    send(client, "+967712000200", "hi")
    run_jobs(app)
    [sent] = twilio.sent_to("+967712000200")
    assert sent["status_callback"] == PUBLIC_BASE_URL + "/webhooks/twilio/status"
    assert sent["from"] == BOT_NUMBER


@pytest.mark.parametrize("status,code", [(429, 20429), (500, 20500), (503, 20503)])
def test_transient_errors_are_retried_then_sent_once(app, client, session, twilio, status, code):
    phone = "+967712000201"
    twilio.rules[f"whatsapp:{phone}"] = {"status": status, "code": code, "times": 2}
    send(client, phone, "busy twilio")
    run_jobs(app)
    assert len(twilio.attempts_to(phone)) == 3
    assert len(twilio.sent_to(phone)) == 1
    [reply] = replies(session)
    assert reply.status == "queued" and reply.twilio_sid == twilio.sent_to(phone)[0]["sid"]


@pytest.mark.parametrize("status,code", [(400, 21211), (400, 21610), (400, 63016), (400, 21408), (403, 20003)])
def test_permanent_errors_are_not_retried(app, client, session, twilio, status, code):
    """Invalid number, opted out, outside the 24 h window, no permission, and any other 4xx."""
    phone = "+967712000202"
    twilio.rules[f"whatsapp:{phone}"] = {"status": status, "code": code}
    send(client, phone, "bad number")
    run_jobs(app)
    assert len(twilio.attempts_to(phone)) == 1
    [reply] = replies(session)
    assert (reply.status, reply.error_code) == ("failed", code)
    assert session.get(Message, reply.reply_to_id).status == "processed"


def test_retries_are_bounded(make_app, session, twilio):
    app = make_app(send_max_attempts=3)
    phone = "+967712000204"
    twilio.rules[f"whatsapp:{phone}"] = {"status": 503, "code": 20503}
    send(app.test_client(), phone, "twilio is down")
    run_jobs(app)
    assert len(twilio.attempts_to(phone)) == 3
    [reply] = replies(session)
    assert (reply.status, reply.error_code) == ("failed", 20503)


def test_transient_errors_are_retried_past_the_attempts_while_the_retry_window_lasts(make_app, session, twilio):
    app = make_app(send_max_attempts=2, send_retry_seconds=1.5)
    phone = "+967712000207"
    twilio.rules[f"whatsapp:{phone}"] = {"status": 500, "code": 20500, "times": 4}
    send(app.test_client(), phone, "twilio is back soon")
    run_jobs(app)
    assert len(twilio.attempts_to(phone)) == 5 and len(twilio.sent_to(phone)) == 1
    [reply] = replies(session)
    assert reply.status != "failed" and reply.twilio_sid


def test_the_retry_window_ends_the_retries(make_app, session, twilio):
    app = make_app(send_max_attempts=2, send_retry_seconds=0.5)
    phone = "+967712000208"
    twilio.rules[f"whatsapp:{phone}"] = {"status": 500, "code": 20500}
    started = time.monotonic()
    send(app.test_client(), phone, "twilio is down for good")
    run_jobs(app)
    assert 3 <= len(twilio.attempts_to(phone)) <= 5 and time.monotonic() - started < 5
    [reply] = replies(session)
    assert (reply.status, reply.error_code) == ("failed", 20500)


def test_network_errors_are_retried_and_recorded(make_app, session):
    app = make_app(twilio_api_base_url="http://127.0.0.1:9", send_max_attempts=2)
    send(app.test_client(), "+967712000205", "no network")
    run_jobs(app)
    [reply] = replies(session)
    assert reply.status == "failed" and reply.error_code is None
    assert "network" in reply.error_message


def test_a_rerun_job_never_sends_twice(app, client, session, twilio):
    phone = "+967712000206"
    send(client, phone, "once only")
    run_jobs(app)
    user_id = session.scalars(select(User.id)).one()
    with app.app_context():
        assert reply_to_user(user_id) == 0
        app.extensions["runtime"].queue.enqueue_reply(user_id, 999)
    run_jobs(app)
    assert len(twilio.attempts_to(phone)) == 1


def test_a_part_interrupted_while_submitting_is_not_resent(app, client, session, twilio):
    """A worker killed between claiming a part and storing Twilio's answer: the send may have happened."""
    phone = "+967712000207"
    send(client, phone, "crash test")
    inbound = session.scalars(select(Message)).one()
    session.add(Message(conversation_id=inbound.conversation_id, user_id=inbound.user_id, direction="outbound",
                        role="assistant", body="maybe sent", status="submitting", status_rank=1,
                        reply_to_id=inbound.id, route="llm", created_at=utcnow(), updated_at=utcnow()))
    session.commit()
    run_jobs(app)
    assert not twilio.attempts_to(phone)
    session.expire_all()
    [part] = replies(session)
    assert part.status == "failed" and "interrupted" in part.error_message
    assert session.get(Message, inbound.id).status == "processed"


def test_permanent_failure_stops_the_remaining_parts(app, client, session, twilio):
    phone = "+967712000208"
    twilio.rules[f"whatsapp:{phone}"] = {"status": 400, "code": 63016}
    send(client, phone, "LLMPROBE LONGANSWER")
    run_jobs(app)
    assert len(twilio.attempts_to(phone)) == 1
    parts = replies(session)
    assert len(parts) >= 3
    assert all(p.status == "failed" and p.error_code == 63016 for p in parts)


def test_requeue_answers_turns_whose_job_was_lost(app, client, session, twilio, redis_client, runner):
    phone = "+967712000209"
    send(client, phone, "my job was lost")
    redis_client.flushdb()  # Redis lost the job
    result = runner.invoke(args=["replies", "requeue", "--older-than", "0"])
    assert result.exit_code == 0 and "requeued 1 user" in result.output
    run_jobs(app)
    assert len(twilio.sent_to(phone)) == 1
    result = runner.invoke(args=["replies", "requeue", "--older-than", "0"])
    assert "requeued 0 user" in result.output


class Killed(BaseException):
    """The worker process dying at this point: not an Exception, so nothing in the job catches it."""


class KillingSender:
    """The real sender, except that the process 'dies' around its `call`-th send: `before` the REST call
    (after the part was claimed) or `after` it (before Twilio's answer is stored)."""

    def __init__(self, real, when: str, call: int = 1):
        self.real, self.when, self.call, self.calls = real, when, call, 0

    def send(self, outbound):
        self.calls += 1
        if self.calls == self.call and self.when == "before":
            raise Killed
        result = self.real.send(outbound)
        if self.calls == self.call and self.when == "after":
            raise Killed
        return result


def crash_then_rerun(app, session, phone: str, text: str, when: str, call: int = 1) -> Message:
    """The job dies at the given point, then runs again (as RQ's retry would); returns the inbound turn."""
    send(app.test_client(), phone, text)
    inbound = session.scalars(select(Message).where(Message.direction == "inbound")).one()
    rt = app.extensions["runtime"]
    real = rt.dispatcher.sender
    rt.dispatcher.sender = KillingSender(real, when, call)
    with app.app_context():
        with pytest.raises(Killed):
            reply_to_user(inbound.user_id)
        rt.dispatcher.sender = real
        session.expire_all()
        assert session.get(Message, inbound.id).status == "received", "the dead run did not finish the turn"
        reply_to_user(inbound.user_id)
    session.expire_all()
    return session.get(Message, inbound.id)


@pytest.mark.parametrize("when, attempts", [("before", 0), ("after", 1)])
def test_a_rerun_after_a_crash_around_the_rest_call_never_resends(app, session, twilio, when, attempts):
    """A fresh answer's first part is stored already claimed: dying before the REST call or before its answer
    is stored leaves it `submitting`, and the re-run marks it failed instead of sending it (again)."""
    phone = "+967712000210"
    inbound = crash_then_rerun(app, session, phone, "tell me about quantum origami", when)
    assert len(twilio.attempts_to(phone)) == attempts
    [part] = replies(session)
    assert (part.status, part.twilio_sid) == ("failed", None) and "interrupted" in part.error_message
    assert inbound.status == "processed"


def test_a_rerun_after_a_crash_between_parts_sends_each_part_at_most_once(app, session, twilio):
    """Part 2 is claimed in the commit that stores part 1's SID; dying before part 2's REST call leaves part
    1 sent and part 2 `submitting`: the re-run fails part 2 and sends the rest, each once."""
    phone = "+967712000211"
    inbound = crash_then_rerun(app, session, phone, "LLMPROBE LONGANSWER", "before", call=2)
    parts = replies(session)
    assert len(parts) >= 3
    bodies = [m["body"] for m in twilio.sent_to(phone)]
    assert len(bodies) == len(set(bodies)) == len(parts) - 1
    assert parts[0].status == "queued" and parts[0].twilio_sid == twilio.sent_to(phone)[0]["sid"]
    assert parts[1].status == "failed" and "interrupted" in parts[1].error_message
    assert parts[1].body not in bodies
    assert all(p.status == "queued" and p.twilio_sid for p in parts[2:])
    assert inbound.status == "processed"


def test_no_row_lock_is_held_across_the_llm_call(app, client, session, twilio, llm):
    """A first message (its language is remembered) waiting on a slow LLM: the user's row stays free, so the
    webhook's user upsert for their next message does not wait for the answer."""
    import threading
    import time

    from sqlalchemy import text
    phone = "+967712000212"
    send(client, phone, "مرحبا، ما هي خطة الرحلة الطويلة؟")
    user_id = session.scalars(select(User.id)).one()
    llm.delay = 1.5

    def job():
        with app.app_context():
            reply_to_user(user_id)
    worker = threading.Thread(target=job)
    worker.start()
    try:
        deadline = time.time() + 10
        while not llm.requests and time.time() < deadline:
            time.sleep(0.02)
        assert llm.requests, "the turn did not reach the LLM"
        session.execute(text("SET LOCAL lock_timeout = '300ms'"))
        session.execute(text("UPDATE users SET last_inbound_at = now() WHERE id = :id"), {"id": user_id})
        session.commit()
    finally:
        worker.join(30)
    session.expire_all()
    assert session.get(User, user_id).preferred_language == "ar", "the language is remembered with the answer"
    assert len(twilio.sent_to(phone)) == 1


def test_the_users_lock_is_renewed_only_once_a_tenth_of_its_ttl_has_passed(redis_client):
    """Renewing moments after taking the lock is a Redis round trip that changes nothing; later it is due."""
    from bot.conversation.runs import _RenewWhenDue
    from bot.core.locks import RedisLocks, RedisUserLock

    locks = RedisLocks(redis_client, 300)

    class Counted(RedisUserLock):
        renewed = 0

        def renew(self):
            Counted.renewed += 1
            super().renew()

    fresh = _RenewWhenDue(Counted(locks, 1), 300)
    assert fresh.acquire()
    fresh.renew()
    assert Counted.renewed == 0 and redis_client.pttl("bot:lock:user:1") > 290_000
    fresh.release()
    due = _RenewWhenDue(Counted(locks, 2), 0)  # every renew is due
    assert due.acquire()
    due.renew()
    due.renew()
    assert Counted.renewed == 2
    due.release()


def _hold_the_user_while_a_turn_arrives(app, client, session, llm, tries_meanwhile: bool) -> tuple[int, list]:
    """A job answers the user's only waiting turn (a slow LLM); meanwhile a second turn arrives and, if
    `tries_meanwhile`, a run tries to take the user, as the run queued for that turn does when it gets there
    first. Returns (user id, what the job returned)."""
    import threading
    import time

    from bot.wiring import runtime
    phone = "+967712000213"
    send(client, phone, "tell me about quantum origami")
    user_id = session.scalars(select(User.id)).one()
    llm.delay = 0.5
    result = []

    def job():
        with app.app_context():
            result.append(reply_to_user(user_id))
    worker = threading.Thread(target=job)
    worker.start()
    deadline = time.time() + 10
    while not llm.requests and time.time() < deadline:
        time.sleep(0.02)
    send(client, phone, "and about paper boats")
    if tries_meanwhile:
        with app.app_context():
            assert not runtime().locks.for_user(user_id).acquire(), "the job holds the user"
    worker.join(30)
    return user_id, result


BOTH = ["FAKE-LLM: tell me about quantum origami", "FAKE-LLM: and about paper boats"]


def test_a_turn_whose_run_found_the_user_held_is_answered_by_the_holder_after_its_release(app, client, session,
                                                                                          twilio, llm):
    """After the only turn that was waiting, the job reads no further under the lock. The run that found the
    user held left a mark; the release reports it, and the job looks again and answers the new turn, in order."""
    _, result = _hold_the_user_while_a_turn_arrives(app, client, session, llm, tries_meanwhile=True)
    assert result == [2]
    assert [m["body"] for m in twilio.sent_to("+967712000213")] == BOTH


def test_a_turn_nobody_came_for_meanwhile_is_left_to_its_own_run(app, client, session, twilio, llm):
    """No attempt on the user while the job held them: the job spends no read after its release, and the run
    queued for the new turn, which finds the user free, answers it — in order, once."""
    _, result = _hold_the_user_while_a_turn_arrives(app, client, session, llm, tries_meanwhile=False)
    assert result == [1]
    llm.delay = 0.0
    run_jobs(app)
    assert [m["body"] for m in twilio.sent_to("+967712000213")] == BOTH
    assert session.scalars(select(Message.status).where(Message.direction == "inbound")).all() == ["processed"] * 2


def test_the_sender_reads_proxy_settings_once_at_start(settings, monkeypatch):
    """requests would look proxies up in the environment on every send; the sender takes them once."""
    from bot.channels.twilio.sender import TwilioSender
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    sender = TwilioSender(settings.replace(twilio_api_base_url="https://api.twilio.com"))
    session = sender.client.http_client.session
    assert session.trust_env is False
    assert session.proxies.get("https") == "http://proxy.example:3128"
    assert session.verify == "/etc/ssl/certs/ca-certificates.crt"
