"""Bilingual (Arabic + English) text handling, one import for all of it.

Every matcher feature is computed on ``normalize(text)`` so that the examples and the incoming WhatsApp
message meet in the same form. The pieces live in one module per concern:

* ``text.py``: ``normalize`` itself and ``strip_arabic_prefix`` (standard library only);
* ``stems.py``: light stems (``light_stem``, ``light_stems``) and unordered content-word pairs;
* ``arabizi.py``: Arabizi and language detection, and the consonant skeletons that let "kam si3r el
  tadhkara" meet "كم سعر التذكرة";
* ``dialect.py``: dialect question words and want/can verbs mapped to one spelling (``canonical_dialect``);
* ``concepts.py``: the lexicon concepts (synonyms, dialect words, translations) a text mentions.

Importing this module loads no third-party package.
"""
from __future__ import annotations

from .arabizi import ARABIZI_WORDS, arabic_skeleton, arabizi_skeleton, detect_language, is_arabizi
from .concepts import FUZZY_MIN_LENGTH, concept_text, concepts, one_edit_apart, word_concept
from .dialect import canonical_dialect
from .stems import ARABIC_SUFFIXES, ENGLISH_SUFFIXES, PAIR_STOP_WORDS, content_pairs, light_stem, light_stems
from .text import ARABIC_PREFIXES, is_arabic_letter, normalize, strip_arabic_prefix

__all__ = [
    "ARABIC_PREFIXES", "ARABIC_SUFFIXES", "ARABIZI_WORDS", "ENGLISH_SUFFIXES", "FUZZY_MIN_LENGTH",
    "PAIR_STOP_WORDS", "arabic_skeleton", "arabizi_skeleton", "canonical_dialect", "concept_text", "concepts",
    "content_pairs", "detect_language", "is_arabic_letter", "is_arabizi", "light_stem", "light_stems",
    "normalize", "one_edit_apart", "strip_arabic_prefix", "word_concept",
]
