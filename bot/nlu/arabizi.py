"""Arabizi (Arabic in Latin letters): telling it apart from English, and one consonant skeleton for both scripts.

``arabizi_skeleton`` and ``arabic_skeleton`` map Latin-script Arabic and Arabic script onto one consonant
skeleton so that "kam si3r el tadhkara" can meet "كم سعر التذكرة".
"""
from __future__ import annotations

import re

from .text import is_arabic_letter, normalize

# Very common Arabizi function/question words that are not English words (so "fee", "min", "hal" and
# "ana" are deliberately absent: they collide with English words or names).
ARABIZI_WORDS: frozenset[str] = frozenset({
    "shu", "shou", "shoo", "sho", "esh", "eish", "aish", "aysh", "wesh", "weish", "ish",
    "kaif", "kaef", "keef", "kif", "kef", "kayf", "kam", "bkam", "bikam", "mata", "emta", "imta", "amta",
    "wain", "wein", "wen", "fein", "fen", "feen", "ween", "leesh", "lesh", "laish", "laysh", "leish",
    "3shan", "ashan", "3ashan", "abgha", "abga", "abi", "abghi", "ab8a", "bghit", "biddi", "baddi",
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
        if is_arabic_letter(ch) and ch.isalpha():
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
# (ث/س/ص → s, ذ/ز/ظ → z, ت/ط → t, د/ض → d, ق/ك → k, ح/ه → h); ش خ غ use upper-case codes. Alef, hamza,
# ain, waw and ya are dropped: Arabic script leaves short vowels unwritten and uses ا/و/ي for long ones,
# while Arabizi writes vowels freely, so only the remaining consonants can be compared reliably.
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
        if is_arabic_letter(tok[0]):
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
