"""What a question asks about an event: the facts it wants (when, price, where, seats, duration) and the days it
names ("tomorrow", "this weekend", "Saturday", "بكرة", "الخميس", "نهاية الأسبوع").

Words are matched on the normalised text (bot/nlu/normalize.py: no diacritics, one alef, ه for ة, ASCII digits),
also after an Arabic clitic prefix (و، ف، ب، ل، ال) is stripped, in English, Arabic (MSA and Yemeni/Gulf) and
common Arabizi. These are general question words of the two languages, not phrasings of any test set.
"""
from __future__ import annotations

from datetime import date, timedelta

from bot.nlu.normalize import light_stems, normalize, strip_arabic_prefix

# the fact -> words (one token) and phrases (several tokens) that ask for it; common misspellings of the
# question words too, as people type them on a phone keyboard
ASPECT_WORDS: dict[str, tuple[str, ...]] = {
    "when": ("when", "time", "start", "starts", "starting", "begin", "begins", "date", "timing", "o'clock", "whn",
             "wehn", "whens", "tiem", "strat", "satrt",
             "متى", "امتى", "ايمتى", "متا", "وقت", "الوقت", "موعد", "ميعاد", "تاريخ", "يبدا", "تبدا", "يبتدي",
             "تبتدي", "الساعه", "ساعه", "emta", "imta", "amta", "mata", "meta", "wa2t", "wakt", "waqt"),
    "price": ("price", "prices", "cost", "costs", "fee", "fees", "charge", "pay", "free", "paid", "entry", "prise",
              "pirce", "cots", "fre",
              "entrance", "rial", "rials", "yer", "بكم", "سعر", "السعر", "اسعار", "تكلفه", "رسوم", "قيمه", "مجاني",
              "مجانا", "ببلاش", "بلاش", "فلوس", "ادفع", "الدخول", "دخول", "bkam", "bikam", "se3r", "si3r",
              "s3r", "majani", "mjani"),
    "where": ("where", "venue", "location", "address", "place", "map", "directions", "located", "held", "wher",
              "whre", "adress", "addres", "locaton", "venu",
              "وين", "فين", "اين", "مكان", "المكان", "موقع", "الموقع", "عنوان", "العنوان", "لوكيشن", "اللوكيشن",
              "wein", "wain", "wen", "fein", "fen", "feen", "makan", "mawqe3"),
    # not "seat(s)" alone: "book 2 seats" is a booking, not a question about what is left
    "seats": ("available", "availability", "left", "remaining", "full", "capacity", "sold", "باقي", "متبقي",
              "متبقيه", "متاح", "متاحه", "فاضي", "فاضيه", "شاغر", "مكتمل", "السعه", "ba2i", "baqi"),
    "details": ("details", "detail", "info", "information", "describe", "تفاصيل", "التفاصيل", "معلومات", "تفصيل"),
    "duration": ("long", "duration", "last", "lasts", "end", "ends", "finish", "finishes", "over", "مده", "المده",
                 "تخلص", "يخلص", "ينتهي", "تنتهي", "نهايه", "يستمر", "تستمر", "كم ساعه"),
}
ASPECT_PHRASES: dict[str, tuple[str, ...]] = {
    "when": ("what time", "which day", "what day", "كم الساعه", "اي ساعه", "اي يوم", "في اي يوم", "ايش الساعه",
             "وش الساعه"),
    "price": ("how much", "hw much", "how mch", "howmuch", "كم سعر", "كم السعر", "كم التذكره", "كم الدخول", "كم تكلفه",
              "kam se3r", "kam si3r"),
    "seats": ("how many seats", "how many places", "sold out", "كم مقعد", "كم مكان", "كم باقي"),
    "details": ("tell me about", "more about", "احكي لي عن", "قل لي عن", "عطني تفاصيل"),
    "duration": ("how long", "what time does it end", "when does it end", "كم مده", "كم ساعه", "متى يخلص",
                 "متى تخلص", "متى ينتهي"),
}
# "what's on", "anything on": a question about what is happening (on a day), not about one event
WHATS_ON = ("whats on", "what s on", "what is on", "anything on", "what events", "which events", "any events",
            "events on", "happening", "ايش في", "وش في", "شو في", "ايش فيه", "فيه فعاليات", "في فعاليات",
            "ايش الفعاليات", "وش الفعاليات", "فعاليات", "الفعاليات", "esh fi", "shu fi", "eish fi")
# Nouns that name a kind of event ("the concert", "الورشة"): a question with one of them speaks of an event even
# when no event's name matches. "event" itself names no kind (`GENERIC_EVENT`).
GENERIC_EVENT = frozenset(normalize(w) for w in ("event", "events", "فعاليه", "الفعاليه", "فعاليات"))
EVENT_NOUNS = frozenset(normalize(w) for w in (
    "concert", "workshop", "festival", "tournament", "lecture", "seminar", "exhibition", "gala", "screening",
    "competition", "conference", "meetup", "bazaar", "hackathon", "marathon", "recital", "performance", "night",
    "evening", "party", "gig", "race", "fair", "play", "screening", "ceremony",
    "حفله", "حفل", "ورشه", "مهرجان", "بطوله", "مباراه", "محاضره", "ندوه", "معرض", "امسيه", "مسابقه", "مؤتمر",
    "ماراثون", "عرض", "ليله", "سهره", "مسرحيه", "سباق", "احتفال",
))
WEEKDAYS = {  # Monday = 0
    0: ("monday", "mon", "الاثنين", "الاتنين", "اثنين", "الإثنين"),
    1: ("tuesday", "tue", "tues", "الثلاثاء", "الثلاثا", "ثلاثاء"),
    2: ("wednesday", "wed", "الاربعاء", "الاربعا", "اربعاء"),
    3: ("thursday", "thu", "thurs", "الخميس", "خميس", "5amis"),
    4: ("friday", "fri", "الجمعه", "جمعه", "jum3a", "jom3a"),
    5: ("saturday", "sat", "السبت", "سبت", "sabt"),
    6: ("sunday", "sun", "الاحد", "احد"),
}
TODAY = ("today", "tonight", "this evening", "اليوم", "الليله", "الليلة", "هذا المساء", "el youm", "elyoum", "alyoum",
         "lyom", "el lela")
TOMORROW = ("tomorrow", "tmrw", "tmr", "بكره", "بكرا", "باكر", "غدا", "بكرة", "bokra", "bukra", "bokrah", "bachir")
WEEKEND = ("weekend", "this weekend", "the weekend", "نهايه الاسبوع", "الويكند", "ويكند", "الويك اند", "el weekend")
THIS_WEEK = ("this week", "هذا الاسبوع", "الاسبوع هذا", "هالاسبوع", "هذا الأسبوع")
NEXT_WEEK = ("next week", "الاسبوع الجاي", "الاسبوع القادم", "الاسبوع الياي")
WEEKEND_DAYS = (3, 4)  # Thursday and Friday: the weekend in Yemen


def _tokens(text: str) -> tuple[list[str], str]:
    """The words with their prefix-stripped forms and light stems, and the text padded for phrase search."""
    words = normalize(text).split()
    forms = set(words) | {strip_arabic_prefix(w) for w in words}
    forms |= {stem for w in list(forms) for stem in light_stems(w) if len(stem) >= 3}
    return sorted(forms), " " + " ".join(words) + " "


def _has_phrase(padded: str, phrases) -> bool:
    return any(f" {normalize(p)} " in padded for p in phrases)


def asked_aspects(text: str) -> list[str]:
    """The facts the text asks for, in a fixed order (when, price, where, seats, details, duration)."""
    words, padded = _tokens(text)
    found = []
    for aspect, vocabulary in ASPECT_WORDS.items():
        if set(words) & {normalize(w) for w in vocabulary} or _has_phrase(padded, ASPECT_PHRASES.get(aspect, ())):
            found.append(aspect)
    return found


def asks_whats_on(text: str) -> bool:
    return _has_phrase(_tokens(text)[1], WHATS_ON)


def names_an_event_kind(text: str) -> bool:
    """Whether the text speaks of a kind of event ("the concert", "الورشة"), whatever its name."""
    words, _ = _tokens(text)
    return bool(set(words) & EVENT_NOUNS)


def speaks_of_an_event(text: str) -> bool:
    """"the event", "الفعالية", or a kind of event."""
    words, _ = _tokens(text)
    return bool(set(words) & (EVENT_NOUNS | GENERIC_EVENT))


def date_span(text: str, today: date) -> tuple[date, date] | None:
    """The days the text names, as (first, last) in the event's local calendar; None when it names none."""
    words, padded = _tokens(text)
    if _has_phrase(padded, NEXT_WEEK):
        start = today + timedelta(days=7 - today.weekday())
        return start, start + timedelta(days=6)
    if _has_phrase(padded, WEEKEND):
        thursday = today + timedelta(days=(WEEKEND_DAYS[0] - today.weekday()) % 7)
        if today.weekday() == WEEKEND_DAYS[1]:  # on the Friday itself: today
            return today, today
        return thursday, thursday + timedelta(days=1)
    if _has_phrase(padded, THIS_WEEK):
        return today, today + timedelta(days=6 - today.weekday())
    if _has_phrase(padded, TOMORROW):
        return today + timedelta(days=1), today + timedelta(days=1)
    if _has_phrase(padded, TODAY):
        return today, today
    return _weekday(set(words), today)


def _weekday(words: set[str], today: date) -> tuple[date, date] | None:
    for weekday, names in WEEKDAYS.items():
        if words & {normalize(n) for n in names}:
            day = today + timedelta(days=(weekday - today.weekday()) % 7)
            return day, day
    return None


QUESTION_WORDS = frozenset(normalize(w) for words in (*ASPECT_WORDS.values(), *ASPECT_PHRASES.values(), WHATS_ON,
                                                       TODAY, TOMORROW, WEEKEND, THIS_WEEK, NEXT_WEEK,
                                                       *WEEKDAYS.values())
                           for phrase in words for w in normalize(phrase).split())
