"""The summary a broadcast's author gets when it has finished: a stored notification, sent once."""
from __future__ import annotations

from sqlalchemy.orm import Session

from bot.delivery.audience import outcome
from bot.delivery.broadcast_report import describe
from bot.delivery.notify import Notice
from bot.i18n import catalog, localize
from models import Broadcast, Event


def summary_notice(session: Session, broadcast: Broadcast) -> Notice | None:
    """The author's summary in each language (their own is used), or None when the author is gone."""
    if broadcast.author_id is None:
        return None
    result = outcome(session, broadcast.id)
    event = session.get(Event, broadcast.event_id) if broadcast.event_id else None
    texts = {}
    for language in ("en", "ar"):
        audience = event.title(language) if event else catalog.say("broadcast_audience_all", language)
        texts[language] = catalog.say("broadcast_summary", language, id=localize.number(broadcast.id, language),
                                      audience=audience, counts=describe(result, language))
    return Notice(broadcast.author_id, texts, route="broadcast_summary", record=("broadcast_finished", broadcast.id),
                  meta={"broadcast_id": broadcast.id})
