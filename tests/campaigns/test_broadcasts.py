"""Broadcasts: the plan an organizer confirms (window, template, opted-out and banned users), "yes" / anything
else, who may broadcast to whom, and the sending — each recipient at most once in their language, the template
outside the window, 429 retried, 21610 and 63016 recorded, two runs at once, a run killed before or during the
REST call, 63018 pausing — and the summary and /broadcasts, whose counts are the fake Twilio's."""
from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.campaigns import broadcasts
from bot.campaigns.broadcasts import send_due_summaries
from bot.core.db import db
from bot.delivery.audience import outcome
from bot.i18n import catalog
from bot.wiring import runtime
from bot.worker.clock import sweep_broadcasts
from models import (
    Broadcast,
    BroadcastRecipient,
    ConsentEvent,
    Event,
    EventOrganizer,
    Message,
    Notification,
    Registration,
    User,
    UserBan,
)
from models.base import utcnow
from tests.conftest import PUBLIC_BASE_URL, post_signed, run_jobs
from tests.dialog.journey import upcoming_events
from tests.dialog.seam import Chat
from tests.fakes import status_params

OWNER, OTHER, ADMIN = "+967718900001", "+967718900002", "+967718900003"
TEMPLATE_EN, TEMPLATE_AR = "HX" + "b" * 32, "HX" + "c" * 32
TEXT = "The doors open at 7 pm.\nBring your ticket."


def add_user(session, phone: str, language: str = "en", wrote_hours_ago: float | None = 1.0, **fields) -> User:
    last = utcnow() - timedelta(hours=wrote_hours_ago) if wrote_hours_ago is not None else None
    user = User(phone=phone, preferred_language=language, last_inbound_at=last, display_name="U" + phone[-3:],
                **fields)
    session.add(user)
    session.flush()
    return user


def register(session, user: User, code: str, status: str = "registered") -> None:
    event = session.scalars(select(Event).where(Event.code == code)).one()
    session.add(Registration(event_id=event.id, user_id=user.id, ticket_code="T" + user.phone[-6:], seats=1,
                             status=status))


@pytest.fixture
def town(make_app):
    """JAZZ with an organizer; registrants: two in the window (en, ar), one outside it, one opted out, one banned,
    one whose ban expired, one cancelled; OUD with an organizer of its own; an admin."""
    app = make_app(openai_api_key=None, broadcast_mps=80.0, broadcast_template_sid_en=TEMPLATE_EN,
                   broadcast_template_sid_ar=TEMPLATE_AR)
    with app.app_context(), db.session_scope() as s:
        s.add_all(upcoming_events(utcnow()))
        s.flush()
        owner, other = add_user(s, OWNER, role="organizer"), add_user(s, OTHER, role="organizer")
        add_user(s, ADMIN, "ar", role="admin")
        for code, organizer in (("JAZZ", owner), ("OUD", other)):
            event = s.scalars(select(Event).where(Event.code == code)).one()
            s.add(EventOrganizer(event_id=event.id, user_id=organizer.id, created_at=utcnow()))
        register(s, add_user(s, "+967711000001", "en"), "JAZZ")
        register(s, add_user(s, "+967711000002", "ar"), "JAZZ")
        register(s, add_user(s, "+967711000003", "ar", wrote_hours_ago=30), "JAZZ")
        register(s, add_user(s, "+967711000004", opted_out_at=utcnow()), "JAZZ")
        banned = add_user(s, "+967711000005")
        register(s, banned, "JAZZ")
        s.add(UserBan(user_id=banned.id, reason="spam", created_at=utcnow()))
        forgiven = add_user(s, "+967711000006")
        register(s, forgiven, "JAZZ")
        s.add(UserBan(user_id=forgiven.id, created_at=utcnow() - timedelta(days=3),
                      expires_at=utcnow() - timedelta(days=1)))
        register(s, add_user(s, "+967711000007"), "JAZZ", status="cancelled")
        register(s, add_user(s, "+967711000008"), "OUD")
    return app


def run(app, broadcast_id: int, budget: float = 5.0) -> int:
    with app.app_context():
        return runtime().broadcasts.run(broadcast_id, budget)


def the_broadcast(app) -> Broadcast:
    with app.app_context(), db.session_scope() as s:
        return s.scalars(select(Broadcast).order_by(Broadcast.id.desc())).first()


def confirmed(app, twilio, text: str = TEXT, code: str = "JAZZ") -> int:
    organizer = Chat(app, OWNER, profile=None)
    organizer.say(f"/broadcast {code} {text}")
    organizer.say("yes")
    return the_broadcast(app).id


def test_the_plan_counts_everyone_and_sends_nothing_until_yes(town, twilio):
    organizer = Chat(town, OWNER, profile=None)
    plan = organizer.say(f"/broadcast JAZZ {TEXT}")
    broadcast = the_broadcast(town)
    assert broadcast.status == "planned" and broadcast.body == TEXT, "line breaks kept, nothing sent"
    assert broadcast.plan == {"recipients": 6, "inside": 3, "template": 1, "no_template": 0, "opted_out": 1,
                              "banned": 1}
    assert f"#{broadcast.id}" in plan.body and "Registrants: 6" in plan.body and "Opted out, excluded: 1" in plan.body
    assert plan.awaiting["kind"] == "confirm_broadcast" and twilio.messages == []
    started = organizer.say("yes")
    assert started.body.startswith(f"Broadcast #{broadcast.id} is on its way to 4 people")
    with town.app_context(), db.session_scope() as s:
        rows = s.execute(select(User.phone, BroadcastRecipient.status, BroadcastRecipient.reason)
                         .join(User, User.id == BroadcastRecipient.user_id).order_by(User.phone)).all()
    assert [tuple(r) for r in rows] == [
        ("+967711000001", "queued", None), ("+967711000002", "queued", None), ("+967711000003", "queued", None),
        ("+967711000004", "skipped", "opted_out"), ("+967711000005", "skipped", "banned"),
        ("+967711000006", "queued", None)]
    assert twilio.messages == [], "the workers send, not the organizer's turn"


def test_each_recipient_gets_one_message_in_their_language_and_the_template_outside_the_window(town, twilio):
    broadcast_id = confirmed(town, twilio)
    assert run(town, broadcast_id) == 4
    assert run(town, broadcast_id) == 0, "a second run finds nobody left"
    english, arabic = twilio.sent_to("+967711000001"), twilio.sent_to("+967711000002")
    assert [m["body"] for m in english] == [catalog.say("broadcast_message", "en", title="Jazz Night", text=TEXT)]
    assert [m["body"] for m in arabic] == [catalog.say("broadcast_message", "ar", title="ليلة الجاز", text=TEXT)]
    [outside] = twilio.sent_to("+967711000003")
    assert outside["content_sid"] == TEMPLATE_AR and outside["body"] == ""
    assert json.loads(outside["content_variables"]) == {"1": "The doors open at 7 pm. Bring your ticket."}
    assert english[0]["status_callback"].endswith(f"/webhooks/twilio/status?m={message_id(town, '+967711000001')}")
    for excluded in ("+967711000004", "+967711000005", "+967711000007", "+967711000008"):
        assert twilio.attempts_to(excluded) == []
    assert the_broadcast(town).status == "finished"


def test_without_a_template_users_outside_the_window_are_skipped_never_sent_free_form(make_app, twilio):
    app = make_app(openai_api_key=None, broadcast_mps=80.0)
    with app.app_context(), db.session_scope() as s:
        s.add_all(upcoming_events(utcnow()))
        s.flush()
        add_user(s, ADMIN, role="admin")
        register(s, add_user(s, "+967711000011", wrote_hours_ago=30), "JAZZ")
        register(s, add_user(s, "+967711000012"), "OUD")
    admin = Chat(app, ADMIN, profile=None)
    plan = admin.say("/broadcast all Welcome!")
    assert the_broadcast(app).plan["no_template"] == 1 and "no broadcast template configured): 1" in plan.body
    admin.say("نعم")
    run(app, the_broadcast(app).id)
    assert twilio.attempts_to("+967711000011") == []
    assert [m["body"] for m in twilio.sent_to("+967711000012")] == [
        catalog.say("broadcast_message_all", "en", text="Welcome!")]


def test_anything_but_yes_cancels_and_a_command_instead_still_runs(town, twilio):
    organizer = Chat(town, OWNER, profile=None)
    organizer.say(f"/broadcast JAZZ {TEXT}")
    assert organizer.say("wait, no").body == catalog.say("broadcast_dropped", "en", id=the_broadcast(town).id)
    assert the_broadcast(town).status == "cancelled"
    assert organizer.say("yes").route[0] != "command", "the plan is gone: a later yes confirms nothing"
    organizer.say("/broadcast JAZZ again")
    stats = organizer.say("/stats")
    assert the_broadcast(town).status == "cancelled" and stats.route[1] == "stats"


def test_only_admins_broadcast_to_all_and_organizers_only_to_their_events(town, twilio):
    organizer = Chat(town, OWNER, profile=None)
    assert organizer.say("/broadcast all hello").body == catalog.say("broadcast_all_admins", "en")
    other = Chat(town, OTHER, profile=None)
    assert "no event with the code JAZZ" in other.say("/broadcast JAZZ hello").body
    attendee = Chat(town, "+967711000001", profile=None)
    assert attendee.say("/broadcast JAZZ hello").route[1] == "refused"
    admin = Chat(town, ADMIN, profile=None)
    plan = admin.say("/بث الكل مرحبا بالجميع")
    assert "المسجلون: ٧" in plan.body, "every registrant of every event, in the admin's Arabic"


def test_cancel_stops_what_has_not_been_sent(town, twilio):
    broadcast_id = confirmed(town, twilio)
    stopped = Chat(town, OWNER, profile=None).say(f"/broadcast cancel {broadcast_id}")
    assert stopped.body == catalog.say("broadcast_cancelled", "en", id=broadcast_id, count=4)
    assert run(town, broadcast_id) == 0 and twilio.messages == []
    assert Chat(town, OTHER, profile=None).say(f"/broadcast cancel {broadcast_id}").route[1] == "broadcast"
    assert "no broadcast" in Chat(town, OTHER, profile=None).say(f"/broadcast cancel {broadcast_id}").body


def test_429_is_retried_21610_opts_the_user_out_and_the_summary_counts_what_twilio_recorded(town, twilio):
    twilio.rules["whatsapp:+967711000001"] = {"status": 429, "code": 20429, "times": 2}
    twilio.rules["whatsapp:+967711000002"] = {"status": 400, "code": 21610}
    twilio.rules["whatsapp:+967711000006"] = {"status": 400, "code": 63016}
    broadcast_id = confirmed(town, twilio)
    run(town, broadcast_id)
    assert len(twilio.attempts_to("+967711000001")) == 3 and len(twilio.sent_to("+967711000001")) == 1
    with town.app_context(), db.session_scope() as s:
        out = s.scalars(select(User).where(User.phone == "+967711000002")).one()
        assert out.opted_out_at is not None
        assert s.scalars(select(ConsentEvent.source).where(ConsentEvent.user_id == out.id)).all() == ["twilio_21610"]
        result = outcome(s, broadcast_id)
    assert result.accepted == len(twilio.messages) == 2
    assert dict(result.failed) == {21610: 1, 63016: 1} and dict(result.skipped) == {"opted_out": 1, "banned": 1}
    with town.app_context(), db.session_scope() as s:
        assert send_due_summaries(s, runtime().dispatcher, runtime().settings) == 0, "waits for the callbacks"
        s.execute(update(Broadcast).values(finished_at=utcnow() - timedelta(minutes=5)))
        s.commit()
        assert send_due_summaries(s, runtime().dispatcher, runtime().settings) == 1
        assert send_due_summaries(s, runtime().dispatcher, runtime().settings) == 0, "once"
        [note] = s.scalars(select(Notification)).all()
    [summary] = twilio.sent_to(OWNER)
    assert note.kind == "broadcast_finished" and note.ref_id == broadcast_id and note.status == "sent"
    assert "sent: 2" in summary["body"] and "Failed 21610 (the recipient opted out or blocked the sender): 1" in \
        summary["body"] and "Failed 63016 (outside the 24-hour window" in summary["body"]


def test_delivery_callbacks_move_the_counts_and_broadcasts_lists_them(town, twilio, client):
    broadcast_id = confirmed(town, twilio)
    run(town, broadcast_id)
    for record in twilio.messages:
        for status in ("sent", "delivered", "read"):
            post_signed_test(client, record["status_callback"], status_params(record["sid"], status, record["to"]))
    listing = Chat(town, OWNER, profile=None).say("/broadcasts")
    assert f"#{broadcast_id} · Jazz Night · finished" in listing.body
    assert "Recipients: 6 · sent: 4 · delivered: 4 · read: 4" in listing.body
    assert "Skipped, banned: 1" in listing.body and "Skipped, opted out: 1" in listing.body


def test_two_runs_at_once_send_each_recipient_once(make_app, twilio):
    app = make_app(openai_api_key=None, broadcast_mps=80.0)
    with app.app_context(), db.session_scope() as s:
        s.add_all(upcoming_events(utcnow()))
        s.flush()
        add_user(s, ADMIN, role="admin")
        for i in range(60):
            register(s, add_user(s, f"+96771200{i:04d}"), "JAZZ")
    admin = Chat(app, ADMIN, profile=None)
    admin.say("/broadcast JAZZ hello")
    admin.say("yes")
    broadcast_id = the_broadcast(app).id
    runs = [threading.Thread(target=run, args=(app, broadcast_id)) for _ in range(3)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()
    assert len(twilio.messages) == 60 and len({m["to"] for m in twilio.messages}) == 60


def test_a_message_stored_but_not_sent_is_sent_by_the_next_run_and_one_in_flight_is_never_resent(town, twilio,
                                                                                                client):
    broadcast_id = confirmed(town, twilio)
    run(town, broadcast_id)
    assert len(twilio.messages) == 4
    first, second = message_id(town, "+967711000001"), message_id(town, "+967711000002")
    accepted = twilio.sent_to("+967711000002")[0]
    with town.app_context(), db.session_scope() as s:  # as if two senders died: one before, one during its call
        s.execute(update(Message).where(Message.id == first).values(status="pending", status_rank=0, twilio_sid=None))
        s.execute(update(Message).where(Message.id == second).values(status="submitting", status_rank=1,
                                                                     twilio_sid=None))
        s.execute(update(BroadcastRecipient).values(claimed_at=utcnow() - timedelta(minutes=5)))
        s.execute(update(Broadcast).values(status="sending"))
    run(town, broadcast_id)
    assert len(twilio.sent_to("+967711000001")) == 2, "the pending one went (its first send is the test's rewind)"
    assert len(twilio.sent_to("+967711000002")) == 1, "the submitting one was not sent again"
    url = accepted["status_callback"]
    assert url.endswith(f"?m={second}")
    post_signed_test(client, url, status_params(accepted["sid"], "delivered", accepted["to"]))
    with town.app_context(), db.session_scope() as s:
        found = s.get(Message, second)
    assert (found.twilio_sid, found.status) == (accepted["sid"], "delivered"), "its callback found it by id"


def test_63018_pauses_the_broadcast_and_the_message_goes_on_resuming(town, twilio):
    twilio.rules["whatsapp:+967711000002"] = {"status": 429, "code": 63018, "times": 1}
    broadcast_id = confirmed(town, twilio)
    run(town, broadcast_id)
    broadcast = the_broadcast(town)
    assert broadcast.paused_until is not None and broadcast.status == "sending"
    assert twilio.sent_to("+967711000002") == []
    with town.app_context(), db.session_scope() as s:
        assert s.get(Message, message_id(town, "+967711000002")).status == "pending"
        s.execute(update(Broadcast).values(paused_until=utcnow() - timedelta(seconds=1)))
    run(town, broadcast_id)
    assert len(twilio.sent_to("+967711000002")) == 1 and len(twilio.messages) == 4
    assert the_broadcast(town).status == "finished"


def test_the_clock_queues_runs_that_a_real_worker_sends(town, twilio):
    broadcast_id = confirmed(town, twilio)
    assert sweep_broadcasts(town) == 1
    assert sweep_broadcasts(town) == 0, "one run queued at a time"
    run_jobs(town)
    assert len(twilio.messages) == 4 and the_broadcast(town).id == broadcast_id
    assert the_broadcast(town).status == "finished"


def message_id(app, phone: str) -> int:
    with app.app_context(), db.session_scope() as s:
        return s.scalar(select(BroadcastRecipient.message_id).join(User, User.id == BroadcastRecipient.user_id)
                        .where(User.phone == phone))


def post_signed_test(client, url: str, params: dict):
    """A status callback to the URL our message named (its `?m=` kept), signed as Twilio signs it."""
    path, _, query = url.removeprefix(PUBLIC_BASE_URL).partition("?")
    response = post_signed(client, path, params, query=query)
    assert response.status_code == 200, response.data
    return response


def test_without_redis_a_thread_of_the_web_process_sends_and_summarizes(make_app, twilio, monkeypatch):
    monkeypatch.setattr(broadcasts, "SETTLE_SECONDS", 0)  # no status callbacks here: summarize at once
    app = make_app(openai_api_key=None, redis_url=None, broadcast_mps=80.0, broadcast_check_seconds=1)
    try:
        with app.app_context(), db.session_scope() as s:
            s.add_all(upcoming_events(utcnow()))
            s.flush()
            add_user(s, ADMIN, role="admin")
            for i in range(5):
                register(s, add_user(s, f"+96771300{i:04d}"), "OUD")
        admin = Chat(app, ADMIN, profile=None)
        admin.say("/broadcast OUD Parking is behind the hall.")
        admin.say("yes")
        assert len(twilio.wait_for(ADMIN, 1, 30)) == 1, "the summary, once everything was sent and settled"
        assert len(twilio.messages) == 6 and the_broadcast(app).status == "summarized"
    finally:
        app.extensions["runtime"].broadcast_clock.stop()
