"""Behaviours 2–5: fast intake, users by phone, atomic dedupe, storage per the seeds."""
import threading
from datetime import timedelta

from sqlalchemy import func, select, update

from bot.core.phones import to_e164
from models import Conversation, ConversationParticipant, Message, User
from tests.conftest import deliver_concurrently, load_payload, post_signed, send


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_turn_is_stored_and_one_job_queued(client, session, redis_client, twilio, llm):
    response, sid = send(client, "+967712345678", "When is the concert?", profile="Sara Ahmed")
    assert response.status_code == 200
    message = session.scalars(select(Message)).one()
    assert (message.direction, message.role, message.status, message.twilio_sid) == ("inbound", "user", "received", sid)
    assert message.body == "When is the concert?"
    assert redis_client.llen("rq:queue:replies") == 1
    assert not twilio.messages and not llm.requests, "no REST or LLM call may happen inside the request"


def test_user_found_by_e164_phone_with_profile_name(client, session):
    post_signed(client, "/webhooks/twilio/messages", load_payload("inbound_text_ar.json"))
    user = session.scalars(select(User)).one()
    assert user.phone == "+967733221100"
    assert user.wa_id == "967733221100"
    assert user.display_name == "محمد العدني"
    assert user.last_inbound_at is not None
    send(client, "+967733221100", "again", profile="Mohammed")
    assert count(session, User) == 1
    session.expire_all()
    assert session.scalars(select(User)).one().display_name == "Mohammed"


def test_phone_normalisation():
    assert to_e164("whatsapp:+967712345678") == "+967712345678"
    assert to_e164("whatsapp:+967 71-234-5678") == "+967712345678"
    assert to_e164("+14155238886") == "+14155238886"


def test_conversation_counts_and_participants(client, session):
    for text in ("one", "two", "three"):
        send(client, "+967712000010", text)
    conversation = session.scalars(select(Conversation)).one()
    assert conversation.status == "active" and conversation.message_count == 3
    roles = sorted(p.role for p in session.scalars(select(ConversationParticipant)))
    assert roles == ["attendee", "bot"]


def test_new_conversation_after_idle_gap(client, session, app):
    send(client, "+967712000011", "first visit")
    session.execute(update(Conversation).values(last_message_at=func.now() - timedelta(days=2)))
    session.commit()
    send(client, "+967712000011", "back again")
    statuses = [c.status for c in session.scalars(select(Conversation).order_by(Conversation.id))]
    assert statuses == ["closed", "active"]


def test_duplicate_delivery_stored_once(client, session, redis_client):
    params = load_payload("inbound_text_en.json")
    for _ in range(3):
        assert post_signed(client, "/webhooks/twilio/messages", params).status_code == 200
    assert count(session, Message) == 1
    assert redis_client.llen("rq:queue:replies") == 1
    assert session.scalars(select(Conversation)).one().message_count == 1


def test_concurrent_duplicates_store_one_turn_and_one_job(app, session, redis_client):
    """20 simultaneous deliveries of one MessageSid race on PostgreSQL's unique constraint."""
    codes = deliver_concurrently(app, load_payload("inbound_text_en.json"), 20)
    assert codes == [200] * 20
    assert count(session, Message) == 1
    assert count(session, User) == 1
    assert count(session, Conversation) == 1
    assert redis_client.llen("rq:queue:replies") == 1


def test_concurrent_first_messages_of_one_user_share_one_conversation(app, session):
    barrier = threading.Barrier(10)

    def deliver(i):
        client = app.test_client()
        barrier.wait()
        send(client, "+967712000012", f"message {i}")

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count(session, Message) == 10
    assert count(session, User) == 1
    conversation = session.scalars(select(Conversation)).one()
    assert conversation.message_count == 10


def test_button_reply_metadata_kept(client, session):
    post_signed(client, "/webhooks/twilio/messages", load_payload("inbound_button_reply.json"))
    message = session.scalars(select(Message)).one()
    assert message.message_type == "button"
    assert message.meta["ButtonPayload"] == "remind_yes"
    assert message.meta["OriginalRepliedMessageSid"].startswith("SM")
