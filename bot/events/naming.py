"""Which events a free-text name points to: "the jazz night", "حفلة العود", "the robotcs workshop" (a typo),
"7aflat el oud" (Arabizi), "the concert" (a kind of event), a day ("Saturday's concert") or a code.

An event's words are its code, titles, venue, category and weekday, with light stems; a kind of event also
brings the words of its kind ("concert" for a music event). A text's words are compared with them exactly, by
stem, one edit apart (words of five letters or more), and by consonant skeleton across the two scripts. A
word shared by many events (a venue, "festival") says less than one only this event has, so each shared word
weighs 1 / (events that have it); only the events with the best score are returned.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.events.questions import QUESTION_WORDS
from bot.i18n import localize
from bot.nlu.normalize import arabic_skeleton, arabizi_skeleton, is_arabizi, light_stems, normalize, one_edit_apart
from models import Event

# Words that name no event in particular ("the", "event", "ticket") must not pick one.
NAME_STOPWORDS = frozenset(normalize(w) for w in (
    "the", "a", "an", "for", "to", "of", "in", "on", "at", "and", "or", "me", "my", "i", "want", "book",
    "register", "reserve", "seat", "seats", "ticket", "tickets", "event", "events", "please", "show", "details",
    "about", "this", "that", "next", "upcoming", "with", "from", "one", "two", "three", "is", "it", "does", "do",
    "are", "there", "any", "still", "can", "you", "tell", "what", "how", "which", "will", "be", "much", "many",
    "في", "على", "من", "الى", "عن", "و", "او", "انا", "ابي", "ابغى", "ابغي", "اريد", "احجز", "سجل", "سجلني",
    "تذكره", "تذاكر", "تذكرتين", "مقعد", "مقاعد", "فعاليه", "فعاليات", "الفعاليه", "لي", "حق", "هذي", "هذا",
    "ممكن", "بغيت", "هل", "كم", "ايش", "وش", "شو", "متى", "هو", "هي", "يا", "عندكم", "تبع", "حقت",
)) | QUESTION_WORDS
# Kinds of event: a word of one names every event of that kind (by its category or a word of its title).
KINDS = tuple(frozenset(normalize(w) for w in group) for group in (
    ("music", "concert", "gig", "حفله", "حفل", "موسيقى", "موسيقيه", "غناء", "طرب"),
    ("sport", "sports", "tournament", "match", "بطوله", "مباراه", "رياضه"),
    ("workshop", "class", "course", "training", "bootcamp", "ورشه", "دوره", "تدريب", "تدريبيه"),
    ("talk", "lecture", "seminar", "panel", "conference", "محاضره", "ندوه", "مؤتمر", "لقاء"),
    ("family", "kids", "children", "عائله", "العائله", "اطفال", "عائلي"),
    ("food", "cooking", "cuisine", "اكل", "اكلات", "طعام", "مأكولات", "طبخ"),
    ("art", "arts", "exhibition", "gallery", "معرض", "فن", "فنون"),
    ("tour", "walk", "trip", "hike", "جوله", "رحله", "مشي"),
    ("festival", "fest", "carnival", "مهرجان", "كرنفال"),
))
KIND_WORDS = frozenset().union(*KINDS)
MIN_FUZZY = 5  # shorter words must match exactly: one edit turns "jazz" into "jams"


def text_words(text: str) -> set[str]:
    """The words of a text that could name an event, with their light stems."""
    words = set()
    for word in normalize(text).split():
        stems = [s for s in light_stems(word) if len(s) >= 3]
        if word in NAME_STOPWORDS or (len(word) < 3 and not word.isdigit()) or NAME_STOPWORDS.intersection(stems):
            continue
        words.add(word)
        words.update(s for s in stems if s not in NAME_STOPWORDS)
    return words


def event_words(event: Event) -> set[str]:
    local = event.starts_at.astimezone(localize.zone(event.timezone))
    day = (localize.DAYS_EN[local.weekday()], localize.DAYS_AR[local.weekday()])
    words = text_words(" ".join(filter(None, (event.code, event.title_en, event.title_ar, event.category,
                                              event.venue_en, event.venue_ar, *day))))
    for kind in KINDS:
        if words & kind:
            words |= kind
    return words


def skeletons(words: Iterable[str]) -> set[str]:
    """Consonant skeletons of Arabic-script and Arabizi words (three letters or more), to meet across scripts."""
    found = set()
    for word in words:
        skeleton = arabizi_skeleton(word) if word.isascii() else arabic_skeleton(word)
        if len(skeleton) >= 3:
            found.add(skeleton)
    return found


def shared(wanted: set[str], words: set[str]) -> set[str]:
    """The event's words the text names: exactly, one edit apart (long words), or by skeleton."""
    found = wanted & words
    for word in wanted - found:
        if len(word) >= MIN_FUZZY:
            found |= {w for w in words if len(w) >= MIN_FUZZY and one_edit_apart(word, w)}
    return found


@dataclass(frozen=True)
class NameMatch:
    """The events a text names best, and how strongly: the text's name words, and those an event shares."""

    events: list[Event]
    words: frozenset[str] = frozenset()
    named: frozenset[str] = frozenset()


def best_matches(text: str, events: list[Event]) -> list[Event]:
    """The events the text names best (several on a tie), or [] when it names none."""
    return name_match(text, events).events


def name_match(text: str, events: list[Event]) -> NameMatch:
    """The events the text names best (several on a tie), and how strongly."""
    exact = [e for e in events if e.code.upper() == text.strip().upper()]
    if exact:
        return NameMatch(exact)
    wanted = text_words(text)
    if not wanted or not events:
        return NameMatch([])
    vocab = {e.id: event_words(e) for e in events}
    latin = {e.id: skeletons(w for w in vocab[e.id] if not w.isascii()) for e in events}
    # Arabizi meets Arabic titles by skeleton; English words would meet them by chance ("doors", "العيدروس")
    wanted_skeletons = skeletons(w for w in wanted if w.isascii() and not w.isdigit()) if is_arabizi(text) else set()
    df: dict[str, int] = {}
    for words in (*vocab.values(), *latin.values()):
        for w in words:
            df[w] = df.get(w, 0) + 1
    # "the rap concert": "rap" must match too, not only "concert"
    specific = {w for w in wanted if w not in KIND_WORDS and KIND_WORDS.isdisjoint(light_stems(w))}
    scores, named = {}, {}
    for e in events:
        named[e.id] = shared(wanted, vocab[e.id]) | (wanted_skeletons & latin[e.id])
        only_kind = named[e.id] <= KIND_WORDS and bool(specific)
        scores[e.id] = 0.0 if only_kind else sum(1.0 / df[w] for w in named[e.id])
    best = max(scores.values())
    if best <= 0:
        return NameMatch([], frozenset(wanted))
    found = [e for e in events if scores[e.id] >= best - 1e-9]
    return NameMatch(found, frozenset(wanted), frozenset(named[found[0].id]))
