"""When the LLM answers a question about an event the table alone cannot answer, the event the question names
is in the prompt's facts even when it is not among the next few."""
from __future__ import annotations

from datetime import timedelta

from bot.core.db import db
from models import Event
from models.base import utcnow
from tests.dialog.seam import Chat


def test_the_named_event_goes_into_the_prompt_beyond_the_next_five(make_app, llm):
    app = make_app()
    now = utcnow()
    with app.app_context(), db.session_scope() as session:
        for day in range(1, 7):
            session.add(Event(code=f"SOON-{day}", title_en=f"Evening Talk {day}", title_ar=f"محاضرة {day}",
                              starts_at=now + timedelta(days=day), capacity=10, status="published"))
        session.add(Event(code="KITE-FEST", title_en="Kite Festival", title_ar="مهرجان الطائرات الورقية",
                          venue_en="Abyan Beach", starts_at=now + timedelta(days=20), ends_at=now + timedelta(days=20,
                          hours=4), price_yer=700, capacity=300, status="published"))
    said = Chat(app, "+967717700001").say("would a photographer enjoy the kite festival")
    assert said.stored.route == "llm"
    system = llm.requests[0]["body"]["messages"][0]["content"]
    assert "KITE-FEST" in system and "700 YER" in system and "Abyan Beach" in system
