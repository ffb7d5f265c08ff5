"""Behaviour 8: sending through Twilio's REST API, retries for transient errors only, never twice."""
import pytest
from sqlalchemy import select

from bot.jobs import reply_to_user
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
