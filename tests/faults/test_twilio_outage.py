"""Twilio answering 500 for 20 s (issue 15): every turn that arrives during the outage is sent exactly once
after Twilio recovers, by the Procfile's worker with the production retry settings (SEND_MAX_ATTEMPTS,
SEND_RETRY_SECONDS), and nothing is marked failed."""
import time

import pytest
from sqlalchemy import create_engine, text

from tests.faults.stack import Stream, assert_exactly_once, wait_answered

pytestmark = pytest.mark.faults

OUTAGE_SECONDS = 20.0


def test_a_twenty_second_twilio_outage_delays_answers_but_loses_and_duplicates_none(stack, settings, twilio):
    stack.up(workers=1)
    twilio.outage_until = time.time() + OUTAGE_SECONDS
    stream = Stream(stack, [f"+96771600{i:04d}" for i in range(4)], per_phone=3, every=0.5).start()
    stream.join(60)
    started = twilio.outage_until - OUTAGE_SECONDS
    last = wait_answered(twilio, stream.turns, 90)
    assert_exactly_once(twilio, stream.turns)
    assert min(m["t"] for m in twilio.messages) >= twilio.outage_until, "nothing is accepted during the outage"
    with create_engine(settings.database_url).connect() as db:
        failed = db.execute(text("SELECT count(*) FROM messages WHERE direction = 'outbound' "
                                 "AND status = 'failed'")).scalar()
    assert failed == 0
    print(f"\ntwilio outage {OUTAGE_SECONDS:.0f}s: {len(stream.turns)} turns answered once, the last "
          f"{last - started:.1f}s after the outage began, {len(twilio.attempts)} REST attempts")
