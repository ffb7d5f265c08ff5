"""The rule matcher on its own, table-driven in Arabic and English: whole tokens after normalisation (the
substring pitfalls of common Arabic lists), phrases as token sequences, regexes refused when invalid or unsafe,
and the masking of `replace` hits."""
from __future__ import annotations

import pytest

from bot.dialog.moderation.rules import RuleError, RuleSet, compile_regex, compile_rule, masked

WORDS = {"مص": "flag", "خول": "block", "مصر": "flag", "ass": "replace", "go to hell": "block", "كلب": "flag"}


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    rule_set = RuleSet()
    for i, (pattern, action) in enumerate(WORDS.items(), start=1):
        rule_set.add(compile_rule(i, "words", pattern, action))
    rule_set.add(compile_rule(99, "regex", r"\b\d{16}\b", "replace", "[card]"))
    return rule_set


@pytest.mark.parametrize("text, expected", [
    ("الدخول مجاني؟", []),  # خول inside الدخول
    ("متى موعد الدخول", []),
    ("مصري وأحب مصر", ["مصر"]),  # مصري is another word; مص is inside both
    ("انا من مصر", ["مصر"]),
    ("مِصْرُ", ["مِصْرُ"]),  # diacritics do not hide it
    ("يا خول!", ["خول"]),
    ("والخول", ["والخول"]),  # a clitic prefix does not hide it
    ("الكلاب", []),  # another word, not a prefix + كلب
    ("يا كلب", ["كلب"]),
    ("I need a class schedule", []),
    ("assistance please", []),
    ("you ASS.", ["ASS"]),
    ("I will go to the hotel", []),
    ("Go to  HELL!!", ["Go to  HELL"]),
    ("card 4111111111111111 ok", ["4111111111111111"]),
    ("card 41111111111111112", []),
])
def test_words_match_whole_tokens_and_phrases_match_sequences(rules, text, expected):
    assert [hit.text for hit in rules.find(text)] == expected


def test_replace_masks_the_words_as_written_and_leaves_the_rest(rules):
    text = "you ass, my card is 4111111111111111!"
    assert masked(text, rules.find(text)) == "you ***, my card is [card]!"
    assert masked("you go to hell", rules.find("you go to hell")) == "you go to hell", "block is not masking"


@pytest.mark.parametrize("pattern, reason", [
    ("a(", "not valid"), ("[z-a]", "not valid"), ("(a+)+", "repeats a repeat"), (r"(\w+\s?)*x", "repeats a repeat"),
    ("x|.*", "empty text"), ("a" * 301, "longer than"),
])
def test_unsafe_or_invalid_regexes_are_refused(pattern, reason):
    with pytest.raises(RuleError, match=reason):
        compile_regex(pattern)


def test_bounded_repeats_are_allowed():
    assert compile_regex(r"(\d{3}[- ]?){3}\d{4}").search("call 777-123-456-7890")


@pytest.mark.parametrize("kind, pattern, action", [("word", "x", "flag"), ("words", "x", "delete"),
                                                   ("words", "!!!", "flag")])
def test_a_rule_needs_a_known_kind_and_action_and_a_pattern_with_letters(kind, pattern, action):
    with pytest.raises(RuleError):
        compile_rule(None, kind, pattern, action)
