"""Reminders before an event: free-form inside WhatsApp's 24 h window, the approved template outside it,
skipped without one; each reminder sent at most once however many sweeps run; scheduled through RQ."""
import json
import threading
import time
from datetime import timedelta

import pytest
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import select

from bot.app import create_app
from bot.campaigns.reminders import send_due_reminders
from bot.core.db import db
from bot.core.errors import ConfigurationError
from bot.core.queue import REPLIES_QUEUE
from bot.core.settings import Settings
from bot.i18n import catalog, localize
from bot.wiring import runtime
from bot.worker.clock import build_scheduler
from bot.worker.jobs import send_reminders
from models import Conversation, Event, Message, Registration, User
from models.base import utcnow
from models.migrate import upgrade
from tests.conftest import run_jobs, send

TEMPLATE_EN = "HX" + "e" * 32
TEMPLATE_AR = "HX" + "a" * 32
ARABIC_DIGITS = set("٠١٢٣٤٥٦٧٨٩")


def add_event(app, code="ADEN-JAZZ", hours=20.0, status="published", **fields) -> int:
    values = dict(title_en="Aden Jazz Night", title_ar="ليلة الجاز في عدن", venue_en="Aden Hall",
                  venue_ar="قاعة عدن", latitude=12.7855, longitude=45.0187, capacity=100)
    values.update(fields)
    with app.app_context(), db.session_scope() as s:
        event = Event(code=code, starts_at=utcnow() + timedelta(hours=hours), status=status, **values)
        s.add(event)
        s.flush()
        return event.id


def add_attendee(app, event_id: int, phone: str, language: str = "en", wrote_hours_ago: float | None = 1.0,
                 seats: int = 2, status: str = "registered", name: str | None = "Sara") -> int:
    """A user (who last wrote `wrote_hours_ago` hours ago, None: never) holding a ticket; returns its id."""
    with app.app_context(), db.session_scope() as s:
        user = s.scalars(select(User).where(User.phone == phone)).first()
        if user is None:
            last = utcnow() - timedelta(hours=wrote_hours_ago) if wrote_hours_ago is not None else None
            user = User(phone=phone, preferred_language=language, display_name=name, last_inbound_at=last)
            s.add(user)
            s.flush()
        ticket = Registration(event_id=event_id, user_id=user.id, ticket_code=f"T{phone[-5:]}", seats=seats,
                              status=status)
        s.add(ticket)
        s.flush()
        return ticket.id


def sweep(app) -> dict:
    with app.app_context(), db.session_scope() as s:
        rt = runtime()
        return send_due_reminders(s, rt.settings, rt.dispatcher).as_dict()


def ticket(app, registration_id: int) -> Registration:
    with app.app_context(), db.session_scope() as s:
        return s.get(Registration, registration_id)


def reminder_messages(app) -> list[Message]:
    with app.app_context(), db.session_scope() as s:
        return list(s.scalars(select(Message).where(Message.route == "reminder").order_by(Message.id)))


def test_in_window_reminders_are_free_form_in_the_users_language(app, twilio):
    event_id = add_event(app)
    english = add_attendee(app, event_id, "+967712000301", "en")
    arabic = add_attendee(app, event_id, "+967712000302", "ar", seats=3)

    assert sweep(app) == {"sent": 2, "skipped": 0, "failed": 0}

    [en] = twilio.sent_to("+967712000301")
    assert en["content_sid"] is None
    for part in ("Aden Jazz Night", "Aden Hall", "*T00301*", "2 seats", "https://maps.google.com/?q=12.785500"):
        assert part in en["body"]
    [ar] = twilio.sent_to("+967712000302")
    assert ar["content_sid"] is None
    assert "ليلة الجاز في عدن" in ar["body"] and "قاعة عدن" in ar["body"] and "٣ مقاعد" in ar["body"]
    assert f"*{localize.LRI}T00302{localize.PDI}*" in ar["body"]  # the Latin code is isolated in RTL text
    with app.app_context(), db.session_scope() as s:
        starts_at = s.get(Event, event_id).starts_at
    when = localize.when(starts_at, "ar", "Asia/Aden")
    assert when in ar["body"] and ARABIC_DIGITS & set(when) and not set("0123456789") & set(when)
    assert ar["body"].startswith("⏰ *تذكير:*")
    for registration_id in (english, arabic):
        assert ticket(app, registration_id).reminder_status == "sent"
        assert ticket(app, registration_id).reminder_at is not None


def test_reminder_is_stored_as_an_outbound_message_in_a_new_conversation(app, twilio):
    event_id = add_event(app, code="ADEN-FEST")
    registration_id = add_attendee(app, event_id, "+967712000303", "ar")
    sweep(app)
    [message] = reminder_messages(app)
    assert (message.direction, message.role, message.route, message.route_key) == (
        "outbound", "assistant", "reminder", "ADEN-FEST")
    assert message.language == "ar" and message.status == "queued"
    assert message.twilio_sid == twilio.sent_to("+967712000303")[0]["sid"]
    assert message.meta == {"registration_id": registration_id}
    with app.app_context(), db.session_scope() as s:
        conversation = s.get(Conversation, message.conversation_id)
        assert (conversation.status, conversation.user_id, conversation.message_count) == (
            "active", message.user_id, 1)
    assert f"message_id={message.id}" in ticket(app, registration_id).reminder_note


def test_reminder_joins_the_users_active_conversation(app, client, twilio):
    send(client, "+967712000304", "hello")
    run_jobs(app)
    event_id = add_event(app)
    add_attendee(app, event_id, "+967712000304")
    sweep(app)
    with app.app_context(), db.session_scope() as s:
        conversations = list(s.scalars(select(Conversation)))
    assert len(conversations) == 1
    assert reminder_messages(app)[0].conversation_id == conversations[0].id


@pytest.mark.parametrize("language,template,variables_language", [("en", TEMPLATE_EN, "en"),
                                                                  ("ar", TEMPLATE_AR, "ar")])
def test_outside_the_window_the_template_of_the_users_language_is_sent(make_app, twilio, language, template,
                                                                       variables_language):
    app = make_app(reminder_template_sid_en=TEMPLATE_EN, reminder_template_sid_ar=TEMPLATE_AR)
    event_id = add_event(app)
    registration_id = add_attendee(app, event_id, "+967712000305", language, wrote_hours_ago=30, name="Sara")

    assert sweep(app) == {"sent": 1, "skipped": 0, "failed": 0}

    [sent] = twilio.sent_to("+967712000305")
    assert sent["content_sid"] == template and sent["body"] == ""
    variables = json.loads(sent["content_variables"])
    with app.app_context(), db.session_scope() as s:
        event = s.get(Event, event_id)
        assert variables == {"1": "Sara", "2": event.title(variables_language),
                             "3": localize.when(event.starts_at, variables_language, event.timezone),
                             "4": event.venue(variables_language),
                             "5": localize.isolate("T00305", variables_language)}
    [message] = reminder_messages(app)
    assert message.meta["send"] == {"content_sid": template, "content_variables": sent["content_variables"]}
    assert ticket(app, registration_id).reminder_status == "sent"
    assert template in ticket(app, registration_id).reminder_note


def test_an_arabic_user_gets_the_only_configured_template_with_matching_variables(make_app, twilio):
    app = make_app(reminder_template_sid_en=TEMPLATE_EN)
    event_id = add_event(app, venue_en=None, venue_ar=None)
    add_attendee(app, event_id, "+967712000306", "ar", wrote_hours_ago=None, name=None)
    sweep(app)
    [sent] = twilio.sent_to("+967712000306")
    assert sent["content_sid"] == TEMPLATE_EN
    variables = json.loads(sent["content_variables"])
    assert variables["1"] == catalog.say("reminder_name_fallback", "en")  # no variable may be empty
    assert variables["2"] == "Aden Jazz Night" and variables["4"] == catalog.say("reminder_venue_tba", "en")
    assert variables["5"] == "T00306"


def test_template_variables_are_single_lines(make_app, twilio):
    app = make_app(reminder_template_sid_en=TEMPLATE_EN)
    event_id = add_event(app, title_en="Jazz\nNight   in\tAden")
    add_attendee(app, event_id, "+967712000307", wrote_hours_ago=25)
    sweep(app)
    variables = json.loads(twilio.sent_to("+967712000307")[0]["content_variables"])
    assert variables["2"] == "Jazz Night in Aden"


def test_near_the_end_of_the_window_the_template_is_used(make_app, twilio):
    """A free-form message sent seconds before the window closes could reach WhatsApp after it (63016)."""
    app = make_app(reminder_template_sid_en=TEMPLATE_EN)
    event_id = add_event(app)
    add_attendee(app, event_id, "+967712000308", wrote_hours_ago=23.95)
    sweep(app)
    assert twilio.sent_to("+967712000308")[0]["content_sid"] == TEMPLATE_EN


def test_outside_the_window_without_a_template_the_reminder_is_skipped(app, twilio, caplog):
    event_id = add_event(app)
    registration_id = add_attendee(app, event_id, "+967712000309", wrote_hours_ago=30)
    with caplog.at_level("WARNING", logger="bot.reminders"):
        assert sweep(app) == {"sent": 0, "skipped": 1, "failed": 0}
    assert twilio.attempts_to("+967712000309") == []
    assert reminder_messages(app) == []
    skipped = ticket(app, registration_id)
    assert skipped.reminder_status == "skipped" and "no reminder template" in skipped.reminder_note
    assert any("reminder skipped" in r.getMessage() for r in caplog.records)
    assert sweep(app) == {"sent": 0, "skipped": 0, "failed": 0}  # decided once, not every sweep


def test_only_registered_tickets_of_published_events_within_the_next_day_are_reminded(app, twilio):
    cases = {
        "+967712000310": add_event(app, code="LATER", hours=30),
        "+967712000311": add_event(app, code="STARTED", hours=-1),
        "+967712000312": add_event(app, code="DRAFT", status="draft"),
        "+967712000313": add_event(app, code="CANCELLED", status="cancelled"),
    }
    untouched = [add_attendee(app, event_id, phone) for phone, event_id in cases.items()]
    due = add_event(app, code="DUE", hours=23.5)
    untouched.append(add_attendee(app, due, "+967712000314", status="cancelled"))
    reminded = add_attendee(app, due, "+967712000315")

    assert sweep(app) == {"sent": 1, "skipped": 0, "failed": 0}

    assert [m["to"] for m in twilio.messages] == ["whatsapp:+967712000315"]
    assert ticket(app, reminded).reminder_status == "sent"
    assert all(ticket(app, r).reminder_status is None for r in untouched)


def test_the_reminder_window_follows_the_setting(make_app, twilio):
    app = make_app(reminder_hours_before=48)
    add_attendee(app, add_event(app, hours=30), "+967712000316")
    assert sweep(app)["sent"] == 1


def test_sweeping_twice_sends_each_reminder_once(app, twilio):
    event_id = add_event(app)
    add_attendee(app, event_id, "+967712000317")
    assert sweep(app)["sent"] == 1
    assert sweep(app) == {"sent": 0, "skipped": 0, "failed": 0}
    assert len(twilio.attempts_to("+967712000317")) == 1


def test_concurrent_sweeps_send_each_reminder_once(app, twilio):
    twilio.delay = 0.05  # keeps each sweep busy while the other one runs
    event_id = add_event(app)
    phones = [f"+9677120004{i:02d}" for i in range(8)]
    for phone in phones:
        add_attendee(app, event_id, phone)
    barrier = threading.Barrier(2)
    results: list[dict] = []

    def run() -> None:
        barrier.wait()
        results.append(sweep(app))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sum(r["sent"] for r in results) == len(phones)
    assert all(len(twilio.attempts_to(phone)) == 1 for phone in phones)
    assert len(reminder_messages(app)) == len(phones)


def test_a_permanent_twilio_error_marks_the_reminder_failed_with_its_code(app, twilio):
    phone = "+967712000318"
    twilio.rules[f"whatsapp:{phone}"] = {"status": 400, "code": 63016}
    registration_id = add_attendee(app, add_event(app), phone)

    assert sweep(app) == {"sent": 0, "skipped": 0, "failed": 1}

    assert len(twilio.attempts_to(phone)) == 1  # permanent: not retried
    failed = ticket(app, registration_id)
    assert failed.reminder_status == "failed" and "twilio_code=63016" in failed.reminder_note
    [message] = reminder_messages(app)
    assert (message.status, message.error_code) == ("failed", 63016)
    assert sweep(app)["failed"] == 0  # a failed reminder is not tried again


def test_a_transient_twilio_error_is_retried_like_a_reply(app, twilio):
    phone = "+967712000319"
    twilio.rules[f"whatsapp:{phone}"] = {"status": 429, "code": 20429, "times": 2}
    registration_id = add_attendee(app, add_event(app), phone)
    assert sweep(app)["sent"] == 1
    assert len(twilio.attempts_to(phone)) == 3 and len(twilio.sent_to(phone)) == 1
    assert ticket(app, registration_id).reminder_status == "sent"


def test_one_failing_reminder_does_not_stop_the_sweep(app, twilio):
    event_id = add_event(app)
    twilio.rules["whatsapp:+967712000320"] = {"status": 400, "code": 21211}
    add_attendee(app, event_id, "+967712000320")
    add_attendee(app, event_id, "+967712000321")
    assert sweep(app) == {"sent": 1, "skipped": 0, "failed": 1}


def test_the_job_runs_through_a_real_rq_worker(app, twilio):
    registration_id = add_attendee(app, add_event(app), "+967712000322")
    with app.app_context():
        rt = runtime()
        job = rt.queue.queue.enqueue("bot.worker.jobs.send_reminders")
    run_jobs(app)
    job.refresh()
    assert job.get_status() == "finished" and job.return_value() == {"sent": 1, "skipped": 0, "failed": 0}
    assert ticket(app, registration_id).reminder_status == "sent"


def test_the_clock_registers_the_sweep_on_the_replies_queue(make_app, redis_client):
    app = make_app(reminder_check_seconds=120)
    with app.app_context():
        scheduler = build_scheduler(runtime().redis, runtime().settings)
    jobs = {job.func_name: job for job in scheduler.get_jobs()}
    cron_job = jobs["bot.worker.jobs.send_reminders"]
    assert cron_job.func is send_reminders
    assert (cron_job.queue_name, cron_job.interval) == (REPLIES_QUEUE, 120)
    assert cron_job.job_options["ttl"] == 120  # a sweep not started within one interval is superseded
    requeue = jobs["bot.worker.jobs.requeue_stale_turns"]  # the lost-run safety net, with its defaults
    assert (requeue.queue_name, requeue.interval, requeue.args) == (REPLIES_QUEUE, 60, (120,))


def test_the_clock_can_leave_out_the_requeue_sweep(make_app, redis_client):
    app = make_app(reminder_check_seconds=120, requeue_check_seconds=0)
    with app.app_context():
        scheduler = build_scheduler(runtime().redis, runtime().settings)
    assert "bot.worker.jobs.requeue_stale_turns" not in {job.func_name for job in scheduler.get_jobs()}


def test_a_sweep_enqueued_by_the_clock_runs_on_the_json_worker(app, twilio, redis_client):
    """rq's own CronJob enqueues with pickle; the workers read JSON. This runs the clock's job for real."""
    registration_id = add_attendee(app, add_event(app), "+967712000323")
    with app.app_context():
        scheduler = build_scheduler(runtime().redis, runtime().settings.replace(reminder_check_seconds=300,
                                                                                requeue_check_seconds=0))
    [enqueued] = scheduler.enqueue_jobs()
    assert enqueued.get_job_ids(redis_client)  # the history rq's cron monitoring reads
    assert Queue(REPLIES_QUEUE, connection=redis_client, serializer=JSONSerializer).count == 1
    run_jobs(app)
    assert ticket(app, registration_id).reminder_status == "sent"
    assert scheduler.enqueue_jobs() == []  # not due again before the interval


def test_the_clock_refuses_to_run_without_an_interval(make_app):
    app = make_app(reminder_check_seconds=0)
    with app.app_context(), pytest.raises(ConfigurationError, match="REMINDER_CHECK_SECONDS"):
        build_scheduler(runtime().redis, runtime().settings)


def test_the_cli_sends_and_prints_a_summary(make_app, twilio):
    app = make_app(reminder_template_sid_ar=TEMPLATE_AR)
    event_id = add_event(app)
    add_attendee(app, event_id, "+967712000324")
    add_attendee(app, event_id, "+967712000325", "ar", wrote_hours_ago=40)
    add_attendee(app, add_event(app, code="OTHER"), "+967712000326", wrote_hours_ago=None)
    result = app.test_cli_runner().invoke(args=["reminders", "send"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "reminders: 3 sent, 0 skipped, 0 failed"
    # the English user without a window gets the only (Arabic) template
    assert twilio.sent_to("+967712000326")[0]["content_sid"] == TEMPLATE_AR


def test_the_embedded_mode_sweeps_in_a_thread_of_the_web_process(make_app, twilio):
    app = make_app(redis_url=None, reminder_check_seconds=1)
    clock = app.extensions["runtime"].clock
    try:
        registration_id = add_attendee(app, add_event(app), "+967712000327")
        assert twilio.wait_for("+967712000327", seconds=10)
        deadline = time.time() + 10
        while ticket(app, registration_id).reminder_status != "sent" and time.time() < deadline:
            time.sleep(0.05)
        assert ticket(app, registration_id).reminder_status == "sent"
    finally:
        clock.stop()
    assert len(twilio.attempts_to("+967712000327")) == 1


def test_no_clock_thread_with_redis_or_when_turned_off(make_app):
    assert make_app().extensions["runtime"].clock is None
    assert make_app(redis_url=None, reminder_check_seconds=0).extensions["runtime"].clock is None


def test_the_embedded_sqlite_mode_sends_reminders_in_aden_time(tmp_path):
    """SQLite hands datetimes back naive: the window check and the local time must still treat them as UTC."""
    url = f"sqlite:///{tmp_path}/bot.sqlite3"
    upgrade(url)
    app = create_app(Settings(env="development", database_url=url,
                              broadcast_check_seconds=0, outbox_path=str(tmp_path / "outbox.jsonl"),
                              reminder_check_seconds=0))
    try:
        now = utcnow()
        starts_at = now.replace(microsecond=0) + timedelta(hours=5)
        with app.app_context(), db.session_scope() as s:
            event = Event(code="SQLITE", title_en="T", title_ar="ت", starts_at=starts_at, status="published",
                          capacity=5, created_at=now, updated_at=now)
            user = User(phone="+967712000399", preferred_language="ar", last_inbound_at=now - timedelta(hours=2),
                        created_at=now, updated_at=now)
            s.add_all([event, user])
            s.flush()
            s.add(Registration(event_id=event.id, user_id=user.id, ticket_code="SQL234", seats=1,
                               status="registered", created_at=now, updated_at=now))
        with app.app_context():
            assert send_reminders() == {"sent": 1, "skipped": 0, "failed": 0}
            assert send_reminders() == {"sent": 0, "skipped": 0, "failed": 0}
        [line] = (tmp_path / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
        sent = json.loads(line)
        assert sent["content_sid"] is None and localize.when(starts_at, "ar", "Asia/Aden") in sent["body"]
    finally:
        app.extensions["db"].engine.dispose()
