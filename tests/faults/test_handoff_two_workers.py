"""Handoff silence across processes (issue 16): with two worker processes answering side by side, an attendee
who asked for a person gets one acknowledgement and nothing else however fast they write, while another user
is answered as usual; every turn is stored."""
import time

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import inbound_params

pytestmark = pytest.mark.faults

ATTENDEE, OTHER = "+967717700001", "+967717700002"


def test_the_bot_stays_silent_in_a_handoff_whichever_worker_takes_the_turn(stack, settings, twilio):
    stack.up(workers=2)
    assert stack.post(inbound_params(ATTENDEE, "I want to talk to a person")) == 200
    assert twilio.wait_for(ATTENDEE, 1, 30), "the acknowledgement"
    for n in range(8):
        assert stack.post(inbound_params(ATTENDEE, f"hello? anyone there {n}")) == 200
        assert stack.post(inbound_params(OTHER, f"sequence {n + 1}")) == 200
    assert twilio.wait_for(OTHER, 8, 60), "the other user is answered as usual"
    time.sleep(3)  # a reply over the person would come now
    assert len(twilio.sent_to(ATTENDEE)) == 1, [m["body"] for m in twilio.sent_to(ATTENDEE)]
    with create_engine(settings.database_url).connect() as db:
        stored = db.execute(text("SELECT count(*) FROM messages m JOIN users u ON u.id = m.user_id "
                                 "WHERE u.phone = :p AND m.direction = 'inbound' AND m.route = 'handoff'"),
                            {"p": ATTENDEE}).scalar()
    assert stored == 8, "every turn is stored and answered by nobody"
