"""Long answers are split into WhatsApp-sized parts (≤ 1,600 characters) without losing or reordering text,
cutting at sentence ends (English and Arabic), else at word boundaries, and inside a word only when one
token alone is longer than the limit."""
import random
import re

import pytest
from sqlalchemy import select

from bot.delivery.splitting import LIMIT, split_message
from models import Message
from tests.conftest import run_jobs, send
from tests.fakes import long_answer

EN_WORDS = ["festival", "ticket", "venue", "Aden", "music", "night", "family", "day", "programme", "starts",
            "at", "the", "gate", "YER", "5,000", "Crater", "bring", "your", "QR", "code", "a", "I", "o'clock"]
AR_WORDS = ["مهرجان", "تذكرة", "المكان", "عدن", "الموسيقى", "ليلة", "العائلة", "يبدأ", "البرنامج", "عند",
            "البوابة", "ريال", "كريتر", "أحضر", "رمز", "في", "الساعة", "٥٠٠٠", "مرحباً", "فعالية"]
EMOJI = ["🎉", "🎶", "🇾🇪", "👍🏽", "❤️", "👨‍👩‍👧"]
SENTENCE_ENDS = [".", "!", "?", "…", "؟", "؛", "۔"]
ENDS_PATTERN = re.compile(r"[.!?…؟۔؛][\"')\]»”’]*$")


def normalise(text: str) -> str:
    return " ".join(text.split())


def word(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.45:
        w = rng.choice(EN_WORDS)
    elif roll < 0.9:
        w = rng.choice(AR_WORDS)
    else:
        w = rng.choice(EMOJI)
    if rng.random() < 0.08:
        w += rng.choice([",", "،", ":"])  # commas and colons are not sentence ends
    return w


def sentence(rng: random.Random, max_words: int = 40) -> str:
    text = " ".join(word(rng) for _ in range(rng.randint(1, max_words)))
    end = rng.choice(SENTENCE_ENDS)
    closing = rng.choice(["", "", "", "»", "”", ")"])
    return text + end + closing


def sentence_text(rng: random.Random) -> str:
    pieces = []
    for _ in range(rng.randint(0, 90)):
        pieces.append(sentence(rng))
        pieces.append(rng.choice([" ", " ", " ", "\n", "\n\n", "  ", " \n"]))
    return "".join(pieces)


def word_text(rng: random.Random) -> str:
    """No sentence ends and no paragraph breaks: only word boundaries to cut at."""
    return "".join(word(rng).rstrip(",،:") + rng.choice([" ", " ", " ", "\n", "\t"])
                   for _ in range(rng.randint(0, 1500)))


def check_invariants(text: str, parts: list[str]) -> None:
    assert parts, "at least one part"
    assert all(len(p) <= LIMIT for p in parts), [len(p) for p in parts]
    if normalise(text):
        assert all(p.strip() for p in parts), "no empty parts"
    assert normalise(" ".join(parts)) == normalise(text), "text lost, changed or reordered"


@pytest.mark.parametrize("seed", range(4))
def test_random_texts_with_sentences_cut_at_sentence_ends(seed):
    rng = random.Random(seed)
    multi = 0
    for _ in range(75):
        text = sentence_text(rng)
        parts = split_message(text)
        check_invariants(text, parts)
        multi += len(parts) > 1
        for part in parts[:-1]:  # no sentence is longer than LIMIT // 3, so every cut is at a sentence end
            assert ENDS_PATTERN.search(part), f"cut mid-sentence: ...{part[-40:]!r}"
    assert multi >= 20, "the generator must exercise splitting"


@pytest.mark.parametrize("seed", range(4))
def test_random_texts_without_sentence_ends_cut_at_word_boundaries(seed):
    rng = random.Random(1000 + seed)
    multi = 0
    for _ in range(50):
        text = word_text(rng)
        parts = split_message(text)
        check_invariants(text, parts)  # equal token sequences: every cut fell between two words
        multi += len(parts) > 1
        longest = max((len(w) for w in text.split()), default=0)
        for part in parts[:-1]:
            assert len(part) >= LIMIT - longest - 1, "a part must be filled up to the last word that fits"
    assert multi >= 20


@pytest.mark.parametrize("end", SENTENCE_ENDS)
@pytest.mark.parametrize("words", [EN_WORDS, AR_WORDS], ids=["en", "ar"])
def test_cut_after_last_sentence_end_in_window(end, words):
    rng = random.Random(7)
    first = ""
    while len(first) < 1000:
        first += rng.choice(words) + " "
    first = first.rstrip() + end
    rest = " ".join(rng.choice(words) for _ in range(400))  # one long sentence with no end at all
    text = first + " " + rest
    parts = split_message(text)
    check_invariants(text, parts)
    assert parts[0] == first


def test_arabic_comma_is_no_sentence_end_but_text_survives():
    """`،` is a comma: a cut may fall after it only as an ordinary word boundary."""
    text = " ".join(["مرحباً،"] * 150 + ["نص"] * 300)
    parts = split_message(text)
    check_invariants(text, parts)
    assert len(parts) >= 2


def test_paragraph_break_preferred():
    para1 = " ".join(f"First paragraph sentence {i}." for i in range(40))  # ~1,100 characters
    para2 = " ".join(f"Second paragraph sentence {i}." for i in range(40))
    parts = split_message(para1 + "\n\n" + para2)
    assert parts == [para1, para2]


@pytest.mark.parametrize("text, expected", [
    ("", [""]),
    ("   \n\t ", [""]),
    ("Hello!", ["Hello!"]),
    ("  مرحباً بك  ", ["مرحباً بك"]),
    ("x" * LIMIT, ["x" * LIMIT]),
    ("x" * (LIMIT + 1), ["x" * LIMIT, "x"]),
])
def test_small_and_boundary_texts(text, expected):
    assert split_message(text) == expected


def test_exactly_limit_with_spaces_is_one_part():
    text = ("ab " * 600)[:LIMIT - 1] + "z"
    assert len(text) == LIMIT
    assert split_message(text) == [text]
    assert len(split_message(text + " y")) == 2


def test_hard_cut_only_inside_a_single_overlong_token():
    token = "y" * 3500
    text = f"intro words {token} outro"
    parts = split_message(text)
    assert all(len(p) <= LIMIT for p in parts)
    assert parts[0] == "intro words", "the words before the token are cut at the space, not hard"
    assert "".join(parts[1:]) == token + " outro", "the token is hard-cut but nothing is lost"
    assert parts[1] == "y" * LIMIT


def test_custom_limit_is_honoured():
    text = " ".join(f"Sentence {i} is here." for i in range(50))
    parts = split_message(text, limit=100)
    assert all(len(p) <= 100 for p in parts)
    assert normalise(" ".join(parts)) == normalise(text)


def test_long_llm_answer_is_sent_in_ordered_parts(app, client, session, twilio, llm):
    phone = "+967712200001"
    send(client, phone, "Tell me everything LONGANSWER")
    run_jobs(app)
    sent = twilio.sent_to(phone)
    assert len(sent) >= 3
    assert all(len(m["body"]) <= LIMIT for m in sent)
    joined = " ".join(m["body"] for m in sent)
    position = -1
    for sentence_text_ in long_answer().split(". "):
        sentence_text_ = sentence_text_.rstrip(".") + "."
        found = joined.find(sentence_text_, position + 1)
        assert found > position, f"missing or out of order: {sentence_text_!r}"
        position = found
    assert normalise(joined) == normalise(long_answer())
    assert [m["t"] for m in sent] == sorted(m["t"] for m in sent)

    rows = session.scalars(select(Message).where(Message.direction == "outbound")
                           .order_by(Message.part_index)).all()
    n = len(sent)
    assert [r.part_index for r in rows] == list(range(n))
    assert {r.part_count for r in rows} == {n}
    assert [r.body for r in rows] == [m["body"] for m in sent]
    assert [r.twilio_sid for r in rows] == [m["sid"] for m in sent]
    assert {r.route for r in rows} == {"llm"}
    assert len({r.reply_to_id for r in rows}) == 1
