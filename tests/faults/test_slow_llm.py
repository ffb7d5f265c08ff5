"""An LLM slower than its timeout (issue 15): each turn gets one bilingual fallback, no duplicate — the
answer the LLM sends after the client gave up is never used, and the job is not retried into a second reply."""
import time

import pytest

from tests.conftest import inbound_params

pytestmark = pytest.mark.faults


@pytest.fixture
def stack_env() -> dict:
    return {"LLM_TIMEOUT": "1", "LLM_MAX_RETRIES": "0"}


def test_an_llm_slower_than_its_timeout_gives_one_fallback_per_turn(stack, twilio, llm):
    stack.up(workers=1)
    llm.delay = 3.0
    turns = {"+967715000001": "tell me something about the weather on mars today",
             "+967715000002": "احكي لي شيئا عن الطقس على المريخ اليوم",
             "+967715000003": "what do astronauts eat for breakfast in orbit"}
    started = time.time()
    for phone, body in turns.items():
        assert stack.post(inbound_params(phone, body)) == 200
    for phone in turns:
        assert twilio.wait_for(phone, 1, 60), f"{phone} got no reply"
    answered = time.time() - started
    time.sleep(llm.delay + 2)  # the LLM's late answers arrive now: none may be sent
    print(f"\nslow LLM: {len(turns)} fallbacks {answered:.1f}s after the first message, {len(llm.requests)} LLM calls")
    for phone, body in turns.items():
        [reply] = twilio.sent_to(phone)
        assert "FAKE-LLM" not in reply["body"]
        assert "menu" in reply["body"] and "القائمة" in reply["body"], "the fallback is bilingual"
        assert reply["body"].index("القائمة") < reply["body"].index("menu") if "المريخ" in body else True
