"""`users export` holds the user's tickets (every status, with the event's code) and their requests for a
person, beside the conversations."""
from __future__ import annotations

import json

from bot.core.db import db
from models.base import utcnow
from tests.dialog.journey import WORDS, upcoming_events
from tests.dialog.seam import Chat


def test_export_lists_registrations_and_handoff_requests(make_app):
    events_bot = make_app(openai_api_key=None)
    with events_bot.app_context(), db.session_scope() as session:
        session.add_all(upcoming_events(utcnow()))
    chat = Chat(events_bot, "+967715500001")
    chat.walk(WORDS["en"]["events"], "1", "1", "2", "yes")  # books 2 seats of the first event
    chat.say("I want to talk to a person")
    result = events_bot.test_cli_runner().invoke(args=["users", "export", "+967715500001"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    [ticket] = document["registrations"]
    assert (ticket["event_code"], ticket["seats"], ticket["status"]) == ("JAZZ", 2, "registered")
    assert len(ticket["ticket_code"]) == 6 and ticket["created_at"]
    [handoff] = document["handoff_requests"]
    assert handoff["conversation_id"] == document["conversations"][0]["id"] and handoff["requested_at"]
