"""Bilingual (Arabic + English) text normalisation and language detection.

Every matcher feature is computed on ``normalize(text)`` so that the examples and the incoming WhatsApp
message meet in the same form: users type without diacritics, mix alef/hamza spellings, write ة as ه,
use Arabic-Indic digits, and pepper messages with emoji and punctuation.

The Arabizi helpers (``is_arabizi``, ``arabizi_skeleton``, ``arabic_skeleton``) map Latin-script Arabic
and Arabic script onto one consonant skeleton so that "kam si3r el tadhkara" can meet "كم سعر التذكرة".
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Harakat (fathatan .. sukun, the extended marks up to U+065F) and the superscript alef U+0670: users
# almost never type them, so they only split otherwise identical words.
_DIACRITICS = re.compile("[\u064B-\u065F\u0670\u06D6-\u06ED]")
_TATWEEL = "\u0640"  # kashida: pure elongation, carries no meaning

_CHAR_MAP = str.maketrans({
    # Alef forms are spelled interchangeably in informal writing.
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا",
    # Final ya/alef maqsura and ta marbuta/ha are confused constantly in chat text.
    "ى": "ي", "ة": "ه",
    # Arabic-Indic and Persian (Eastern Arabic) digits -> ASCII so prices and counts match either way.
    **{chr(0x0660 + i): str(i) for i in range(10)},
    **{chr(0x06F0 + i): str(i) for i in range(10)},
    # Persian letter variants that Gulf/Yemeni phone keyboards sometimes produce.
    "ی": "ي", "ک": "ك",
})

# Apostrophes are deleted rather than spaced so "don't" and "dont" become one token.
_APOSTROPHES = re.compile("['\u2018\u2019\u02BC\u0060\u00B4]")
_SPACES = re.compile(r"\s+")

ARABIC_PREFIXES: tuple[str, ...] = ("وال", "بال", "فال", "كال", "لل", "ال", "و", "ب", "ل", "ف")
"""Clitic prefixes stripped by ``strip_arabic_prefix``; longest first so وال wins over و."""


def _is_kept(ch: str) -> bool:
    """Letters and digits survive; punctuation, symbols and emoji become spaces."""
    cat = unicodedata.category(ch)
    return cat[0] in "LN" or ch.isspace()


class _KeptOrSpace(dict):
    """`str.translate` table, filled on first sight of each character: itself if kept, else a space."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        self[code] = kept = ch if _is_kept(ch) else " "
        return kept


_KEPT_OR_SPACE = _KeptOrSpace()


@lru_cache(maxsize=8192)
def normalize(text: str, strip_prefixes: bool = False) -> str:
    """Return the canonical form used by every matcher.

    Steps: NFKC, case folding, Arabic diacritics and tatweel removed, alef forms → ا, ى → ي, ة → ه,
    Arabic-Indic/Persian digits → ASCII, apostrophes deleted, other punctuation/symbols/emoji → space,
    whitespace collapsed. With ``strip_prefixes`` Arabic clitic prefixes (ال، و، ب، ل، ف and combinations)
    are removed from each Arabic token as well.
    """
    if not text:
        return ""
    # NFKC first: it folds Arabic presentation forms (e.g. the ﻻ ligature) and full-width Latin.
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _DIACRITICS.sub("", text).replace(_TATWEEL, "")
    text = text.translate(_CHAR_MAP)
    text = _APOSTROPHES.sub("", text)
    text = text.translate(_KEPT_OR_SPACE)
    text = _SPACES.sub(" ", text).strip()
    if strip_prefixes:
        text = " ".join(strip_arabic_prefix(tok) for tok in text.split(" "))
    return text


def _is_arabic_letter(ch: str) -> bool:
    return "\u0600" <= ch <= "\u06FF" or "\u0750" <= ch <= "\u077F" or "\uFB50" <= ch <= "\uFEFF"


def strip_arabic_prefix(token: str, min_stem: int = 3) -> str:
    """Remove one clitic prefix from an Arabic token, keeping a stem of at least ``min_stem`` letters.

    Light on purpose: only the article and the one-letter conjunctions/prepositions, and only when the
    remainder is long enough to be a word (so وين or بكم are left alone).
    """
    if not token or not _is_arabic_letter(token[0]):
        return token
    for prefix in ARABIC_PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= min_stem:
            return token[len(prefix):]
    return token


ARABIC_SUFFIXES: tuple[str, ...] = ("ها", "هم", "نا", "ات", "ين", "ون", "ي", "ه", "ك")
"""Pronoun and plural suffixes removed by ``light_stem`` (one, longest first)."""
ENGLISH_SUFFIXES: tuple[str, ...] = ("ings", "ing", "es", "ed", "s")


def _strip_suffix(token: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            return token[: -len(suffix)]
    return token


def light_stem(token: str) -> str:
    """A light stem of one *normalised* token, used to tell whether a word is known in another form.

    Arabic: one clitic prefix (``strip_arabic_prefix``) and then one pronoun/plural suffix
    (ي ه ك ها هم نا ات ين ون), each only when at least 3 letters remain, so "التسجيل" and "تسجيلي" share
    the stem تسجيل. Latin: one of -ings -ing -es -ed -s when at least 3 letters remain ("refunds" →
    "refund"). Deliberately crude: it is only compared with stems made by the same function.
    """
    if not token:
        return token
    if _is_arabic_letter(token[0]):
        return _strip_suffix(strip_arabic_prefix(token), ARABIC_SUFFIXES)
    if token.isascii() and token.isalpha():
        return _strip_suffix(token, ENGLISH_SUFFIXES)
    return token


def light_stems(token: str) -> tuple[str, ...]:
    """``light_stem`` and the readings it can get wrong: an Arabic first letter و ب ل ف may be part of the
    word (فعاليه, not ف + عاليه), so the suffix-only stem is included too. A stem ending in ت after a
    suffix was removed is a ta marbuta that turned into ت before the pronoun (تذكرتي, سيارتك), so the stem
    without it is included as well: it equals the stem of تذكره (ه is removed as a suffix). Distinct, most
    literal first."""
    if not token or not _is_arabic_letter(token[0]):
        return (light_stem(token),)
    suffix_only = _strip_suffix(token, ARABIC_SUFFIXES)
    stems = [suffix_only, light_stem(token)]
    for stem in stems[:]:
        if stem != token and len(stem) >= 4 and stem.endswith("ت") and not token.endswith("ات"):
            stems.append(stem[:-1])
    return tuple(dict.fromkeys(stems))


# English closed-class words (articles, pronouns, auxiliaries and modals, prepositions, conjunctions) left out
# of ``content_pairs``, as ``normalize`` spells them (apostrophes deleted: im, ive, its). Negation and
# question words stay: they carry a request's intent ("not working"; "why" vs "how" to verify).
# scikit-learn's stop list is not used: it also drops content words such as "top", "up", "bill", "call".
PAIR_STOP_WORDS: frozenset[str] = frozenset("""
a an the this that these those there here it its itself
i me my mine myself im ive id ill you your yours yourself youre youve we us our ours ourselves
he him his she her hers they them their theirs
am is are was were be been being do does did doing have has had having
will would shall should can could may might must
of in on at to for from with by about into onto over under as than
and or but if so then because while also just
""".split())


def content_pairs(prepared: str) -> list[str]:
    """Every unordered pair of distinct content-word light stems of a prepared text ("top+pend", "fail+top").

    A linear model over words adds their evidence independently; a pair feature lets it weigh two words
    *together* anywhere in the sentence (top-up + pending vs top-up + failed), which word bigrams see only
    when the words are adjacent. English closed-class words (``PAIR_STOP_WORDS``) and one-letter tokens are
    skipped; Arabic words are all kept.
    """
    stems = sorted({light_stem(w) for w in prepared.split() if len(w) > 1 and w not in PAIR_STOP_WORDS})
    return [f"{a}+{b}" for i, a in enumerate(stems) for b in stems[i + 1:]]


# --- Language detection ------------------------------------------------------------------------------

# Very common Arabizi function/question words that are not English words (so "fee", "min", "hal" and
# "ana" are deliberately absent: they collide with English words or names).
ARABIZI_WORDS: frozenset[str] = frozenset({
    "shu", "shou", "shoo", "sho", "esh", "eish", "aish", "aysh", "wesh", "weish", "ish",
    "kaif", "kaef", "keef", "kif", "kef", "kayf", "kam", "bkam", "bikam", "mata", "emta", "imta", "amta",
    "wain", "wein", "wen", "fein", "fen", "feen", "ween", "leesh", "lesh", "laish", "laysh", "leish",
    "3shan", "ashan", "3ashan", "abgha", "abga", "abi", "abghi", "ab8a", "abi", "bghit", "biddi", "baddi",
    "momken", "mumkin", "mmkn", "mumken", "ya3ni", "yani", "yalla", "yallah", "inshallah", "insha",
    "shukran", "shokran", "marhaba", "ahlan", "habibi", "mashallah", "wallah", "walla", "akhi", "ukhti",
    "hala", "keefak", "kaifak", "shlonak", "shlon", "eshloon", "ayna", "limatha", "madha", "mada",
    "enta", "inta", "anta", "inti", "enti", "ihna", "e7na", "7na", "ma3", "ma3ak", "fi", "fih", "fiih",
    "el", "al", "wil", "wel", "bil", "fil", "lil",
})
# Common English words that contain "al"/"el"-like tokens are not needed: tokens are matched whole.

# A digit standing for an Arabic consonant: 2 ء, 3 ع, 5 خ, 6 ط, 7 ح, 8 ق/غ, 9 ق/ص.
_ARABIZI_DIGITS = "2356789"
_DIGIT_INSIDE = re.compile(rf"[a-z][{_ARABIZI_DIGITS}]+[a-z]")       # sa3a, ma7al, ta2ja
_DIGIT_FIRST = re.compile(rf"^[{_ARABIZI_DIGITS}][a-z]{{2,}}$")       # 3ndi, 7abibi, 5alas
_DIGIT_LAST = re.compile(rf"^[a-z]{{2,}}[{_ARABIZI_DIGITS}]$")        # shaba7, ma3 (len>=3)
# English digit+letter tokens that the rules above would otherwise catch.
_ENGLISH_DIGIT_TOKEN = re.compile(r"^\d+(st|nd|rd|th|am|pm|km|kg|gb|mb|k|m|g|h|hr|hrs|min|mins|s|x|d|yr|yrs)$"
                                  r"|^(mp|win|covid|b|g|ps|h|a|p|v|f|s)\d+$")


def _arabizi_digit_token(token: str) -> bool:
    """True for a Latin token that uses a digit as an Arabic letter inside a word."""
    if _ENGLISH_DIGIT_TOKEN.match(token):
        return False
    return bool(_DIGIT_INSIDE.search(token) or _DIGIT_FIRST.match(token) or _DIGIT_LAST.match(token))


def is_arabizi(text: str) -> bool:
    """Heuristic: is this Latin-script text Arabic written in Latin letters (Arabizi)?

    True when a token uses a digit as a letter (sa3r, 7ajz, 3ndi), or when the Arabizi function words
    make up a clear share of the message (two hits, or one hit in a message of at most three words).
    English sentences rarely meet either condition; short ambiguous texts stay English.
    """
    tokens = normalize(text).split()
    latin = [t for t in tokens if t.isascii()]
    if not latin:
        return False
    if any(_arabizi_digit_token(t) for t in latin):
        return True
    hits = sum(1 for t in latin if t in ARABIZI_WORDS)
    return hits >= 2 or (hits == 1 and len(latin) <= 3 and latin[0] not in {"el", "al", "fi"})


def detect_language(text: str) -> str:
    """Return 'ar' for Arabic script or Arabizi, 'en' for other Latin text ('en' when there are no letters).

    The script with more letters wins; Latin text goes to 'ar' only when ``is_arabizi`` says so.
    """
    arabic = latin = 0
    for ch in text:
        if _is_arabic_letter(ch) and ch.isalpha():
            arabic += 1
        elif ch.isascii() and ch.isalpha():
            latin += 1
    if arabic and arabic >= latin:
        return "ar"
    if latin and is_arabizi(text):
        return "ar"
    return "en"


# --- A shared consonant skeleton for Arabic script and Arabizi ---------------------------------------

# Arabic letters -> Latin consonant classes. Letters that Arabizi writers render alike share a class
# (ث/س/ص → s, ذ/ز/ظ → z, ت/ط → t, د/ض → d, ق/ك → k, ح/ه → h); ش خ غ use upper-case codes. Alef, hamza, ain, waw and ya are dropped:
# Arabic script leaves short vowels unwritten and uses ا/و/ي for long ones, while Arabizi writes vowels
# freely, so only the remaining consonants can be compared reliably.
_AR_TO_SKELETON = str.maketrans({
    "ا": "", "ء": "", "ؤ": "", "ئ": "", "ي": "", "و": "", "ع": "", "ه": "h", "ة": "h", "ح": "h",
    "ب": "b", "ت": "t", "ث": "s", "ج": "j", "خ": "X", "د": "d", "ذ": "z", "ر": "r",
    "ز": "z", "س": "s", "ش": "C", "ص": "s", "ض": "d", "ط": "t", "ظ": "z", "غ": "G",
    "ف": "f", "ق": "k", "ك": "k", "ل": "l", "م": "m", "ن": "n", "پ": "b", "چ": "j", "گ": "G", "ڤ": "f",
})
# Digraph outputs are upper case so the single-letter table below cannot rewrite them again.
_LATIN_DIGRAPHS = (("sh", "C"), ("ch", "C"), ("kh", "X"), ("gh", "G"), ("th", "s"), ("dh", "z"),
                   ("ph", "f"))
_LATIN_SINGLE = str.maketrans({
    "a": "", "e": "", "i": "", "o": "", "u": "", "y": "", "w": "",
    # Digits follow the common Gulf/Levantine usage (5 خ, 6 ط, 7 ح, 8 ق, 9 ص); a lone g is ق in
    # Yemeni and Gulf speech (gahwa, gaat), which is why it joins the ق/ك class.
    "2": "", "3": "", "5": "X", "6": "t", "7": "h", "8": "k", "9": "s", "q": "k", "c": "k", "g": "k",
    "x": "ks", "v": "f", "p": "b",
})
_ARTICLES = frozenset({"el", "al", "il", "l"})


def _finish_skeleton(sk: str) -> str:
    # Doubled consonants (shadda, "tadhkarra") are written once; a final h is usually ta marbuta, which
    # Arabizi writes as "a" or "ah" or leaves out, so it is dropped on both sides.
    sk = re.sub(r"(.)\1+", r"\1", sk)
    return sk[:-1] if len(sk) > 2 and sk.endswith("h") else sk


def arabic_skeleton(text: str) -> str:
    """Consonant skeleton of Arabic-script text (non-Arabic tokens dropped), comparable with Arabizi."""
    words = []
    for tok in normalize(text).split():
        if _is_arabic_letter(tok[0]):
            sk = _finish_skeleton(tok.translate(_AR_TO_SKELETON))
            if sk:
                words.append(sk)
    return " ".join(words)


def arabizi_skeleton(text: str) -> str:
    """Consonant skeleton of Latin-script Arabizi ("kam si3r el tadhkara" → "km sr ltzkr")."""
    words: list[str] = []
    article = ""
    for tok in normalize(text).split():
        if not tok.isascii():
            continue
        if tok in _ARTICLES:
            # Arabic script writes the article joined to its noun (التذكرة); Arabizi often splits it.
            article = "l"
            continue
        for src, dst in _LATIN_DIGRAPHS:
            tok = tok.replace(src, dst)
        sk = _finish_skeleton(article + tok.translate(_LATIN_SINGLE))
        article = ""
        if sk:
            words.append(sk)
    return " ".join(words)


# --- Dialect function words ------------------------------------------------------------------------

# Question words and "want/can" verbs differ most between Yemeni, Gulf, Levantine, Egyptian and MSA
# Arabic while the content words stay the same, so each group is mapped to one canonical spelling
# (keys are already normalised: alef unified, ى → ي). Ambiguous words (ايه "yes", يصير "happens")
# are left out on purpose.
_DIALECT_GROUPS: dict[str, tuple[str, ...]] = {
    "وين": ("فين", "اين", "وينه", "فينه", "ويش مكان"),
    "ايش": ("شو", "وش", "ماذا", "شنو", "اشو", "ايشو", "شنهو", "ما هو", "ما هي"),
    "متي": ("امتي", "ايمتي", "امتا", "متين", "ايمتا", "وقتيش", "اماتي"),
    "كيف": ("كيفن", "شلون", "ازاي", "كيفاش"),
    "ابغي": ("ابي", "اريد", "بدي", "ودي", "ابا", "عايز", "عاوز", "حاب", "ابغا", "ابى", "نبغي", "نبي",
             "نريد", "بدنا", "ودنا"),
    "اقدر": ("استطيع", "يمديني", "اكدر", "اقدر", "بقدر", "يمكنني", "امدي"),
    "ليش": ("لماذا", "ليه", "لمه", "علاش"),
}
_DIALECT_MAP: dict[str, str] = {
    variant: canon for canon, variants in _DIALECT_GROUPS.items() for variant in (canon, *variants)
}
_DIALECT_PHRASES = {v: c for v, c in _DIALECT_MAP.items() if " " in v}


def canonical_dialect(text: str) -> str:
    """Map dialect question words and want/can verbs in *normalised* text to one spelling each.

    For example فين/اين → وين, شو/وش/ماذا → ايش, بدي/ودي/اريد → ابغي, so "فين القاعه" meets "وين القاعه".
    """
    for phrase, canon in _DIALECT_PHRASES.items():
        if phrase in text:
            text = re.sub(rf"(?<!\S){phrase}(?!\S)", canon, text)
    return " ".join(_DIALECT_MAP.get(tok, tok) for tok in text.split(" "))


# --- Concepts: synonyms, dialect words and translations (bot/nlu/lexicon.py) --------------------------

_CONCEPT_WORDS: dict[str, str] | None = None
_CONCEPT_STEMS: dict[str, str] = {}
_CONCEPT_PHRASES: dict[tuple[str, ...], str] = {}
_CONCEPT_DELETES: dict[str, str] = {}
_CONCEPT_DELETE_WORDS: dict[str, tuple[str, ...]] = {}  # deletion → the lexicon words it comes from
FUZZY_MIN_LENGTH = {"latin": 5, "arabic": 6}
"""Words this long are also looked up with one typo after the first letter (a letter deleted, added,
changed, or two swapped). Arabic needs longer words: its roots put many real words one letter apart
(عاصمه "capital" / عاصفه "storm")."""


def _fuzzy_min(word: str) -> int:
    return FUZZY_MIN_LENGTH["arabic" if word and _is_arabic_letter(word[0]) else "latin"]


def _deletes(word: str) -> set[str]:
    # The first letter is kept: typos rarely hit it, and "please" must not meet "lease".
    return {word[:i] + word[i + 1:] for i in range(1, len(word))}


def _concept_tables() -> dict[str, str]:
    global _CONCEPT_WORDS, _CONCEPT_STEMS, _CONCEPT_PHRASES, _CONCEPT_DELETES, _CONCEPT_DELETE_WORDS
    if _CONCEPT_WORDS is None:
        from .lexicon import concept_index
        words, phrases = concept_index(lambda form: canonical_dialect(normalize(form)))
        stems: dict[str, str] = {}
        for word, concept in words.items():
            for stem in light_stems(word):
                stems.setdefault(stem, concept)
        # One-edit neighbours by the symmetric-delete method: two words within one edit share a deletion
        # (or one is a deletion of the other). Ambiguous deletions (two concepts) are dropped.
        deletes: dict[str, str | None] = {}
        sources: dict[str, list[str]] = {}
        for word, concept in words.items():
            if len(word) >= _fuzzy_min(word) - 1:
                for variant in _deletes(word) | {word}:
                    deletes[variant] = concept if deletes.get(variant, concept) == concept else None
                    sources.setdefault(variant, []).append(word)
        _CONCEPT_STEMS, _CONCEPT_PHRASES = stems, phrases
        _CONCEPT_DELETES = {k: v for k, v in deletes.items() if v is not None}
        _CONCEPT_DELETE_WORDS = {k: tuple(sources[k]) for k in _CONCEPT_DELETES}
        _CONCEPT_WORDS = words
    return _CONCEPT_WORDS


@lru_cache(maxsize=65536)
def word_concept(token: str) -> str | None:
    """The lexicon concept of one prepared token, as spelled or by a light stem (None if it has none)."""
    words = _concept_tables()
    concept = words.get(token)
    if concept is None and len(token) >= 3:
        concept = next((_CONCEPT_STEMS[s] for s in light_stems(token) if s in _CONCEPT_STEMS), None)
    if concept is None and len(token) >= _fuzzy_min(token) and not token.isdigit():
        # A typo: the token (or a deletion of it) is a lexicon word or one of its deletions — and really one
        # edit from that word: deleting a different letter on each side meets words two edits apart
        # ("status" and "starts" both give "stats").
        concept = next((_CONCEPT_DELETES[v] for v in (token, *sorted(_deletes(token)))
                        if v in _CONCEPT_DELETES and any(one_edit_apart(token, w) for w in _CONCEPT_DELETE_WORDS[v])),
                       None)
    return concept


def one_edit_apart(a: str, b: str) -> bool:
    """True when `b` is `a` with one letter deleted, added or changed, or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return a == b
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1:] == b[i + 1:] or (a[i:i + 2] == b[i:i + 2][::-1] and a[i + 2:] == b[i + 2:])
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[i + 1:] == shorter[i:]


def concepts(prepared: str) -> list[str]:
    """The lexicon concepts a *prepared* text mentions, in order, e.g. "ابغي اجيب ولدي" → ["child"].

    Multi-word forms ("كرسي متحرك", "customer service") are matched first; their words are not looked up
    again. Single words match as spelled or by a light stem (كراسي, لسيارتي)."""
    _concept_tables()
    tokens = prepared.split()
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for length in (3, 2):
            phrase = tuple(tokens[i:i + length])
            if len(phrase) == length and phrase in _CONCEPT_PHRASES:
                out.append(_CONCEPT_PHRASES[phrase])
                i += length
                break
        else:
            concept = word_concept(tokens[i])
            if concept is not None:
                out.append(concept)
            i += 1
    return out


def concept_text(prepared: str) -> str:
    """``concepts`` as one space-separated string (the matcher's concept channel analyses it as words)."""
    return " ".join(concepts(prepared))
