"""Questions about events answered from the events table, without the LLM: "when does the sufi evening start?",
"بكم تذكرة مهرجان أكلات الشارع", "where is it?" (the event in context), "what's on Saturday?".

The facts (start, end and length, price or free, venue with a map link, seats left) come from the row, in the
language of the question with the journeys' localisation (Aden time, Arabic month names and digits, YER); the
reply leaves the event's step, so "1" registers and "2" sends the location pin. Several events match → a
numbered choice; a kind of event that none matches → say so and list what is on. A question that names no
event and has none in context is left to the FAQ, the intents and the LLM.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from bot.dialog.context import Reply, TurnContext
from bot.dialog.journeys.common import step
from bot.dialog.words import option_number
from bot.events import naming, questions, views
from bot.events import service as events
from bot.i18n import catalog, localize
from models import Event

ROUTE = "facts"
MAX_CHOICES = 5


def aden_today() -> date:
    return datetime.now(localize.zone(None)).date()


class EventFactsHandler:
    """Answers when the text asks a fact (or what is on a day) about events it names or has in context."""

    def match(self, ctx: TurnContext) -> bool:
        # a new handler per turn: this holds one turn's answer
        self._reply = None
        if ctx.text:
            awaiting = ctx.awaiting
            if awaiting and awaiting.get("kind") == "pick_facts":
                self._reply = pick_facts_choice(ctx, awaiting)
            self._reply = self._reply or answer(ctx)
        return self._reply is not None

    def handle(self, ctx: TurnContext) -> Reply:
        return self._reply


def answer(ctx: TurnContext) -> Reply | None:
    aspects = questions.asked_aspects(ctx.text)
    span = questions.date_span(ctx.text, aden_today())
    if not aspects and span is None:
        return None
    match = events.match_events(ctx.session, ctx.text)
    named = match.events
    if named and _by_a_common_word(ctx, match.named):
        named = []  # "when do doors *open*" shares one word with "Aden Open Chess": the FAQ knows better
    if span is not None:
        named = [e for e in named if _on(e, span)]
    if named:
        return _about(ctx, named, aspects or ["when"])
    if span is not None and (questions.asks_whats_on(ctx.text) or questions.speaks_of_an_event(ctx.text)
                             or not naming.text_words(ctx.text)):  # "tomorrow?", "this weekend?"
        return on_days(ctx, span)
    if not aspects:
        return None
    return _unnamed(ctx, aspects)


def _by_a_common_word(ctx: TurnContext, named: frozenset[str]) -> bool:
    """Named by one word only, which the FAQ uses too, while the matcher has an answer of its own."""
    return (len(named) <= 1 and named <= _faq_words(ctx.knowledge)
            and ctx.decision.route in ("faq", "intent", "clarify"))


_faq_words_of: list = [None, frozenset()]  # [the catalogue, its words]: one catalogue at a time


def _faq_words(knowledge) -> frozenset[str]:
    """Every word of the FAQ's questions and keywords, once per trained catalogue (the knowledge cache builds a
    new one when the FAQ changes)."""
    if _faq_words_of[0] is not knowledge:
        texts = [q for f in knowledge.faqs.values() for q in (*f.questions_en, *f.questions_ar, *f.keywords)]
        _faq_words_of[:] = [knowledge, frozenset(naming.text_words(" ".join(texts)))]
    return _faq_words_of[1]


def _unnamed(ctx: TurnContext, aspects: list[str]) -> Reply | None:
    """A fact asked of no event by name: the event in context ("how much is it?"), a kind that none matches
    ("the chess tournament" when there is none), or "the event" among several."""
    subject = ctx.subject
    if subject is not None and not naming.text_words(ctx.text) and not questions.names_an_event_kind(ctx.text):
        event = ctx.session.get(Event, subject)
        if event is not None:
            return facts(ctx, event, aspects)
    if questions.names_an_event_kind(ctx.text):
        return _listed(ctx, "facts_no_such_event", events.upcoming(ctx.session, limit=MAX_CHOICES), aspects)
    if questions.speaks_of_an_event(ctx.text) and not naming.text_words(ctx.text):
        return _about(ctx, events.upcoming(ctx.session, limit=MAX_CHOICES), aspects)
    return None


def _about(ctx: TurnContext, found: list[Event], aspects: list[str]) -> Reply:
    if len(found) == 1:
        return facts(ctx, found[0], aspects)
    return _listed(ctx, "facts_which", found[:MAX_CHOICES], aspects)


def _listed(ctx: TurnContext, key: str, listed: list[Event], aspects: list[str], **values) -> Reply:
    lines = "\n".join(views.event_line(i, e, ctx.language) for i, e in enumerate(listed, start=1))
    return step(ctx, catalog.say(key, ctx.language, lines=lines, **values), key,
                {"kind": "pick_facts", "ids": [e.id for e in listed], "aspects": aspects}, route=ROUTE)


def pick_facts_choice(ctx: TurnContext, state: dict) -> Reply | None:
    """The answer to "which event do you mean?": a number, or a name among those offered."""
    number = option_number(ctx.text, len(state["ids"]))
    event = ctx.session.get(Event, state["ids"][number - 1]) if number else None
    if event is None:
        named = [e for e in events.find_events(ctx.session, ctx.text) if e.id in state["ids"]]
        event = named[0] if len(named) == 1 else None
    return facts(ctx, event, state["aspects"]) if event is not None else None


def facts(ctx: TurnContext, event: Event, aspects: list[str]) -> Reply:
    """The facts asked, one line each, and the event's next steps."""
    language, title = ctx.language, event.title(ctx.language)
    if "details" in aspects:  # the whole card says every fact
        aspects = ["details"]
    lines = [FACTS[aspect](event, language, title) for aspect in aspects]
    if event.status == "cancelled":
        lines = [catalog.say("fact_cancelled", language, title=title)]
    text = "\n".join(lines) + "\n\n" + catalog.say("fact_next", language)
    return step(ctx, text, ",".join(aspects), {"kind": "event", "event_id": event.id, "offset": 0}, route=ROUTE,
                meta={"event_code": event.code})


def on_days(ctx: TurnContext, span: tuple[date, date]) -> Reply:
    """What is on the days asked; the next events when nothing is."""
    days = _days(span, ctx.language)
    listed = [e for e in events.upcoming(ctx.session) if _on(e, span)]
    key = "facts_on_days"
    if not listed:
        listed, key = events.upcoming(ctx.session, limit=MAX_CHOICES), "facts_nothing_on_days"
    lines = "\n".join(views.event_line(i, e, ctx.language) for i, e in enumerate(listed, start=1))
    return step(ctx, catalog.say(key, ctx.language, days=days, lines=lines), key,
                {"kind": "events", "ids": [e.id for e in listed], "offset": 0}, route=ROUTE)


def _on(event: Event, span: tuple[date, date]) -> bool:
    local = event.starts_at.astimezone(localize.zone(event.timezone)).date()
    return span[0] <= local <= span[1]


def _days(span: tuple[date, date], language: str) -> str:
    first, last = span
    if first == last:
        return catalog.say("facts_day", language, day=localize.day(first, language))
    return catalog.say("facts_span", language, first=localize.day(first, language), last=localize.day(last, language))


def _when(event: Event, language: str, title: str) -> str:
    until = ""
    if event.ends_at is not None:
        same_day = _local(event.ends_at, event).date() == _local(event.starts_at, event).date()
        end = (localize.clock(event.ends_at, language, event.timezone) if same_day
               else localize.when(event.ends_at, language, event.timezone))
        until = catalog.say("fact_until", language, end=end)
    return catalog.say("fact_when", language, title=title, when=localize.when(event.starts_at, language,
                                                                            event.timezone), until=until)


def _price(event: Event, language: str, title: str) -> str:
    if event.price_yer <= 0:
        return catalog.say("fact_price_free", language, title=title)
    return catalog.say("fact_price_paid", language, title=title, price=localize.price(event.price_yer, language))


def _where(event: Event, language: str, title: str) -> str:
    venue = views.venue_line(event, language)
    if not venue:
        return catalog.say("fact_where_unknown", language, title=title)
    return catalog.say("fact_where", language, title=title, venue=venue, map=views.map_suffix(event, language))


def _seats(event: Event, language: str, title: str) -> str:
    return catalog.say("fact_seats", language, title=title, seats=views.seats_note(event, language))


def _duration(event: Event, language: str, title: str) -> str:
    if event.ends_at is None:
        return catalog.say("fact_duration_unknown", language, title=title,
                           when=localize.when(event.starts_at, language, event.timezone))
    hours = (event.ends_at - event.starts_at) / timedelta(hours=1)
    length = catalog.say("fact_hours", language, hours=localize.digits(f"{hours:g}", language))
    return catalog.say("fact_duration", language, title=title, length=length,
                       start=localize.when(event.starts_at, language, event.timezone),
                       end=localize.clock(event.ends_at, language, event.timezone))


def _local(moment: datetime, event: Event) -> datetime:
    return moment.astimezone(localize.zone(event.timezone))


def _details(event: Event, language: str, title: str) -> str:
    return views.event_details(event, language)


FACTS = {"when": _when, "price": _price, "where": _where, "seats": _seats, "duration": _duration, "details": _details}
