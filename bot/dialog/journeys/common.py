"""What the journeys share: the reply of a step, the words they recognise, seat counts in free text, and how
numbers, seats, times and ticket codes read in the user's language."""
from __future__ import annotations

from bot.core.signing import sign
from bot.dialog.context import Reply, TurnContext
from bot.dialog.state import stamped, unstamped
from bot.events.qr import TICKET_PURPOSE
from bot.i18n import catalog, localize
from bot.nlu.normalize import normalize
from models import Event, Registration

MORE_WORDS = frozenset(normalize(w) for w in ("more", "next", "more events", "المزيد", "مزيد", "التالي", "بعد",
                                              "كمان", "زياده", "غيرها"))
REGISTER_WORDS = frozenset(normalize(w) for w in ("register", "book", "book it", "sign me up", "reserve", "سجل",
                                                  "سجلني", "احجز", "احجز لي", "تسجيل", "حجز"))
LOCATION_WORDS = frozenset(normalize(w) for w in ("location", "map", "where", "pin", "address", "directions",
                                                  "الموقع", "موقع", "الخريطه", "وين", "فين", "العنوان", "اللوكيشن"))
CANCEL_WORDS = frozenset(normalize(w) for w in ("cancel", "cancel it", "cancel ticket", "الغاء", "الغي", "الغيها",
                                                "كنسل"))
BOOKING_STEMS = ("book", "regist", "reserv", "احجز", "سجل", "تسجيل", "نحجز", "حجز")
CANCEL_STEMS = ("cancel", "الغ", "كنسل", "الغاء")
BACK_WORDS = frozenset(normalize(w) for w in ("back", "list", "رجوع", "ارجع", "القائمه السابقه"))
SEAT_NOUNS = ("seat", "seats", "ticket", "tickets", "place", "places", "person", "people", "persons",
              "مقعد", "مقاعد", "تذكره", "تذاكر", "كرسي", "كراسي", "شخص", "اشخاص", "نفر", "انفار")
NUMBER_WORDS = {"one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "واحد": 1, "وحده": 1, "اثنين": 2, "اثنان": 2, "ثنين": 2,
                "ثلاث": 3, "ثلاثه": 3, "اربع": 4, "اربعه": 4, "خمس": 5, "خمسه": 5, "ست": 6, "سته": 6}
DUALS = ("تذكرتين", "تذكرتان", "مقعدين", "مقعدان", "كرسيين", "شخصين", "نفرين")


def step(ctx: TurnContext, text: str, key: str, awaiting: dict | None = None, **extra) -> Reply:
    """A reply of the journey; `awaiting` (without the timestamp) is the next step's state. A step about one
    event makes it the conversation's subject ("how much is it?" next asks about that event)."""
    subject = extra.pop("subject", None) or (awaiting or {}).get("event_id")
    return Reply(text, extra.pop("route", "dialog"), ctx.language, route_key=key, awaiting=stamped(awaiting),
                 confidence=extra.pop("confidence", None), subject=subject, **extra)


def say(ctx: TurnContext, key: str, **values) -> str:
    return catalog.say(key, ctx.language, **values)


def parse_seats(text: str) -> int | None:
    """The number of seats a free-text request names: "2 tickets", "two seats", "تذكرتين", "٣ مقاعد"."""
    words = normalize(text).split()
    for i, word in enumerate(words):
        if word in DUALS:
            return 2
        count = int(word) if word.isdigit() else NUMBER_WORDS.get(word)
        if count is None:
            continue
        # "2 tickets", "ثلاث مقاعد" — and Arabic's noun first: "مقعد واحد", "تذكرة وحدة"
        neighbours = words[i + 1:i + 2] + words[max(i - 1, 0):i]
        if any(_is_seat_noun(w) for w in neighbours):
            return count
    return None


def _is_seat_noun(word: str) -> bool:
    return any(word.startswith(noun) or word.endswith(noun) for noun in SEAT_NOUNS)


def is_cancelling(text: str) -> bool:
    return any(w.startswith(CANCEL_STEMS) for w in normalize(text).split())


def is_booking(text: str) -> bool:
    """A sentence that asks to book ("book 2 seats", "احجز مقعدين"), not just to see an event."""
    words = normalize(text).split()
    return parse_seats(text) is not None or any(w in REGISTER_WORDS or w.startswith(BOOKING_STEMS) for w in words)


def unclear(ctx: TurnContext, state: dict) -> Reply | None:
    """A short reply that is neither yes nor no gets the question again; a longer one is a new question."""
    if len(normalize(ctx.text).split()) > 3:
        return None
    return step(ctx, say(ctx, "confirm_unclear"), "confirm_unclear", unstamped(state))


def when_text(ctx: TurnContext, event: Event) -> str:
    return localize.when(event.starts_at, ctx.language, event.timezone)


def number_text(ctx: TurnContext, n: int) -> str:
    return localize.number(n, ctx.language)


def seats_text(ctx: TurnContext, n: int) -> str:
    return localize.seats(n, ctx.language)


def code_text(ctx: TurnContext, ticket: Registration) -> str:
    return localize.code(ticket.ticket_code, ctx.language)


def ticket_qr(ctx: TurnContext, ticket: Registration) -> dict:
    """The ticket's QR image as WhatsApp media (`send` options), at a signed, expiring URL the app serves; none
    without PUBLIC_BASE_URL (Twilio could not fetch it)."""
    base = ctx.settings.public_base_url
    if not base:
        return {}
    token = sign(ctx.settings.secret_key, TICKET_PURPOSE, ticket.ticket_code)
    return {"media_urls": [f"{base}/tickets/{token}.png"]}
