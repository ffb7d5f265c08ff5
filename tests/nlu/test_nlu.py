"""Unit tests for bot/nlu: normaliser, language detection, Arabizi skeletons, matcher. No database needed."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.nlu.entries import Entry, load_faq_csv, split_phrasings
from bot.nlu.matcher import (
    THRESHOLDS,
    Matcher,
    MatcherConfig,
    choose_thresholds,
    cross_validated_scores,
    fit_temperature,
    grouped_folds,
    prepare,
)
from bot.nlu.normalize import (
    arabic_skeleton,
    arabizi_skeleton,
    canonical_dialect,
    concepts,
    content_pairs,
    detect_language,
    is_arabizi,
    light_stem,
    light_stems,
    normalize,
    strip_arabic_prefix,
    word_concept,
)

# --- normalize ---------------------------------------------------------------------------------------


def test_nfkc_and_case_folding():
    assert normalize("ＨＥＬＬＯ World") == "hello world"  # full-width Latin folds to ASCII
    assert normalize("STRASSE Straße") == "strasse strasse"  # casefold, not lower
    assert normalize("ﻻ") == "لا"  # Arabic presentation-form ligature


def test_arabic_diacritics_and_tatweel_removed():
    assert normalize("مَرْحَبًا") == "مرحبا"
    assert normalize("هٰذا") == "هذا"  # superscript alef U+0670
    assert normalize("مـــرحبا") == "مرحبا"


def test_alef_forms_unified():
    assert normalize("أحمد إلى آخر ٱلكتاب") == "احمد الي اخر الكتاب"


def test_alef_maqsura_and_ta_marbuta():
    assert normalize("متى") == "متي"
    assert normalize("التذكرة") == "التذكره"
    assert normalize("التذكرة") == normalize("التذكره")


def test_eastern_digits_to_ascii():
    assert normalize("٢٠٠٠ ريال") == "2000 ريال"
    assert normalize("۱۲۳") == "123"


def test_punctuation_and_emoji_become_spaces():
    assert normalize("كم السعر؟!") == "كم السعر"
    assert normalize("hi!!!😀👍how,are-you") == "hi how are you"
    assert normalize("سعر، التذكرة؛") == "سعر التذكره"
    assert normalize("🎉🎉") == ""
    assert normalize("") == ""


def test_apostrophes_deleted_not_spaced():
    assert normalize("don't") == normalize("dont") == "dont"
    assert normalize("What’s") == "whats"


def test_prefix_stripping_is_opt_in_and_light():
    assert normalize("والتذكرة بالمحفظة للطلاب") == "والتذكره بالمحفظه للطلاب"
    assert normalize("والتذكرة بالمحفظة للطلاب", strip_prefixes=True) == "تذكره محفظه طلاب"
    assert strip_arabic_prefix("الكتاب") == "كتاب"
    assert strip_arabic_prefix("فالموعد") == "موعد"
    assert strip_arabic_prefix("وين") == "وين"  # stem would be too short
    assert strip_arabic_prefix("بكم") == "بكم"
    assert strip_arabic_prefix("ticket") == "ticket"


def test_light_stem():
    assert light_stem(normalize("التسجيل")) == light_stem(normalize("تسجيلي")) == "تسجيل"
    assert light_stem(normalize("الفعاليات")) == "فعالي"
    assert "فعالي" in light_stems(normalize("فعالية"))  # ف is read both as a clitic and as part of the word
    assert light_stem("تذكرتها") == "تذكرت"
    assert light_stem("وين") == "وين"  # stems keep at least 3 letters
    assert light_stem("كتبك") == "كتب"
    assert light_stem("refunds") == light_stem("refund") == "refund"
    assert light_stem("booking") == light_stem("booked") == "book"
    assert light_stem("is") == "is" and light_stem("bus") == "bus"
    assert light_stem("3pm") == "3pm" and light_stem("") == ""


def test_light_stems_read_ta_marbuta_before_a_pronoun():
    # تذكرة + ي is written تذكرتي: the ت is the ta marbuta, so the stem of تذكره (تذكر) is offered too.
    assert light_stem(normalize("التذكرة")) in light_stems(normalize("تذكرتي"))
    assert light_stem(normalize("سيارة")) in light_stems(normalize("لسيارتك"))
    assert light_stems(normalize("الفعاليات")) == ("الفعالي", "فعالي")  # a plural ات is not a ta marbuta
    assert light_stems("بيت") == ("بيت",)  # no suffix removed: the ت belongs to the word


def test_concepts_join_synonyms_dialect_words_and_translations():
    def c(text: str) -> list[str]:
        return concepts(prepare(text))
    # Dialect synonyms that share no letters with the MSA word.
    assert c("اطفال") == c("عيالي") == c("جهالي") == c("kids") == ["child"]
    assert c("فلوس") == c("زلط") == c("cash") == ["money"]
    assert c("الكهرباء مقطوعة") == c("power outage") == ["electricity", "outage"]
    # Broken plurals sit next to their singulars; multi-word forms are matched as one.
    assert c("الكراسي") == c("كرسي") == ["wheelchair"]
    assert c("كرسي متحرك") == c("wheelchair") == ["wheelchair"]
    assert c("customer service please") == ["support"]
    # Clitics and pronoun suffixes: by light stem.
    assert c("بسيارتي") == c("the cars") == ["car"]
    # Arabizi spellings.
    assert c("kam si3r el tathkara") == ["price", "ticket"]
    # Words outside the lexicon have no concept.
    assert c("ما هي عاصمة فرنسا") == c("write me a poem") == []


def test_concepts_tolerate_one_typo_after_the_first_letter():
    assert word_concept("tikcets") == word_concept("tickts") == "ticket"
    assert word_concept(normalize("تذكررة")) == "ticket"
    assert word_concept("wheelchiar") == "wheelchair"
    assert word_concept("please") is None  # "lease" is one edit away, but in the first letter
    assert word_concept("tiket") == "ticket" and word_concept("tick") is None  # short words only exactly


def test_content_pairs_join_two_content_words_anywhere_in_the_text():
    assert content_pairs(prepare("Why do I have to verify my identity?")) == [
        "identity+verify", "identity+why", "verify+why"]
    # light stems, unordered, no duplicates; closed-class words (but not negation) are skipped
    assert content_pairs(prepare("my top-up is pending")) == content_pairs(prepare("pending top up"))
    assert "not+work" in content_pairs(prepare("it is not working"))
    assert content_pairs(prepare("wifi")) == content_pairs(prepare("is it")) == []
    assert len(content_pairs(prepare("وين مواقف السيارات"))) == 3


def test_canonical_dialect_question_words():
    assert canonical_dialect(normalize("فين القاعة")) == canonical_dialect(normalize("وين القاعة"))
    assert canonical_dialect(normalize("شو السعر")) == canonical_dialect(normalize("ايش السعر"))
    assert canonical_dialect(normalize("بدي احجز")) == canonical_dialect(normalize("أبغى أحجز"))
    assert canonical_dialect("ما هي سياسه") == "ايش سياسه"
    assert canonical_dialect("where is it") == "where is it"


# --- language detection ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["كم سعر التذكرة؟", "وين القاعة", "ابغى احجز ticket", "١٢"])
def test_detect_arabic_script(text):
    expected = "en" if text == "١٢" else "ar"  # digits alone carry no language
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["How much is a ticket?", "wifi?", "I want 2 tickets at 3pm",
                                  "what is the entry fee", "Is there a 4th floor with 5G?", "hi", ""])
def test_detect_english(text):
    assert detect_language(text) == "en"
    assert not is_arabizi(text)


@pytest.mark.parametrize("text", ["kam si3r el tadhkara", "shu", "mata el haflah", "7abibi wain el qa3a",
                                  "ana ab8a a7jiz", "3ndi so2al", "momken asa2al", "keef el 7al"])
def test_detect_arabizi_as_arabic(text):
    assert is_arabizi(text)
    assert detect_language(text) == "ar"


def test_arabizi_needs_evidence():
    assert not is_arabizi("el paso is a city in texas")  # one function word in a longer English text
    assert not is_arabizi("mp3 player for covid19 win7")  # English digit tokens


def test_skeletons_meet_across_scripts():
    assert arabizi_skeleton("kam si3r el tadhkara") == arabic_skeleton("كم سعر التذكرة")
    assert arabizi_skeleton("mata el haflah") == arabic_skeleton("متى الحفلة")
    assert arabizi_skeleton("shu") == arabic_skeleton("شو")
    assert arabizi_skeleton("khalas") == arabic_skeleton("خلاص")


# --- matcher -----------------------------------------------------------------------------------------

ENTRIES = [
    Entry("tickets_price", "faq", ("How much do tickets cost?", "What is the ticket price?", "Is there an entry fee?",
                                   "كم سعر التذكرة؟", "بكم الدخول؟", "هل في رسوم دخول؟")),
    Entry("venue_location", "faq", ("Where is the venue?", "Send me the address", "How do I get there?",
                                    "وين مكان الفعالية؟", "أرسل لي العنوان", "كيف أوصل للمكان؟")),
    Entry("parking", "faq", ("Is there parking?", "Where can I park my car?", "Do you have a parking lot?",
                             "هل يوجد موقف سيارات؟", "وين أوقف سيارتي؟", "في باركنج؟")),
    Entry("wifi", "faq", ("Is there wifi?", "What's the wifi password?", "Internet at the venue?",
                          "في واي فاي؟", "إيش كلمة سر الواي فاي؟", "في إنترنت بالمكان؟")),
    Entry("greeting", "intent", ("hello", "hi there", "good morning", "مرحبا", "السلام عليكم", "صباح الخير")),
]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher().fit(ENTRIES)


def test_rank_shape_and_confidence_range(matcher):
    ranked = matcher.rank("how much is a ticket", k=3)
    assert len(ranked) == 3
    assert ranked[0][0] == "tickets_price"
    assert all(0.0 <= score <= 1.0 for _, score in ranked)
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    assert sum(s for _, s in matcher.rank("how much is a ticket", k=10)) == pytest.approx(1.0)


def test_ranking_is_deterministic():
    first = Matcher().fit(ENTRIES).rank("where do I leave my car", k=5)
    second = Matcher().fit(ENTRIES).rank("where do I leave my car", k=5)
    assert first == second


def test_arabic_query_matches_through_arabic_phrasings(matcher):
    assert matcher.rank("وين اوقف السيارة", k=1)[0][0] == "parking"
    assert matcher.rank("بكم التذكره", k=1)[0][0] == "tickets_price"
    assert matcher.rank("كلمه سر الوايفاي", k=1)[0][0] == "wifi"
    assert matcher.rank("فين المكان", k=1)[0][0] == "venue_location"  # فين → وين


def test_arabizi_query_matches_arabic_phrasings(matcher):
    assert matcher.rank("kam si3r el tadhkara", k=1)[0][0] == "tickets_price"
    assert matcher.rank("wain awgif sayarti", k=1)[0][0] == "parking"


def test_confidence_orders_clear_over_vague(matcher):
    clear = matcher.rank("what is the wifi password", k=1)[0]
    vague = matcher.rank("is there", k=1)[0]
    assert clear[0] == "wifi"
    assert clear[1] > vague[1]
    assert clear[1] >= THRESHOLDS[0]


def test_out_of_scope_scores_below_in_scope(matcher):
    in_scope = matcher.rank("what is the wifi password", k=1)[0][1]
    for text in ("write me a poem about the sea", "who won the football match yesterday", "اكتب لي قصيدة"):
        assert matcher.rank(text, k=1)[0][1] < in_scope, text


EVENTS_FAQ = Path(__file__).resolve().parents[1] / "data" / "events_faq.csv"  # a copy of ../shared/eval


def test_out_of_scope_stays_below_answer_threshold_on_events_faq():
    m = Matcher().fit(load_faq_csv(EVENTS_FAQ))
    for text in ("write me a poem about the sea", "who won the football match yesterday", "اكتب لي قصيدة",
                 "shu a5bar el korah el yom"):
        assert m.rank(text, k=1)[0][1] < THRESHOLDS[0], text
    assert m.rank("where can I park my car", k=1)[0][0] == "parking"
    assert m.rank("where can I park my car", k=1)[0][1] >= THRESHOLDS[0]


def test_empty_and_symbol_only_text_matches_nothing(matcher):
    assert matcher.rank("") == []
    assert matcher.rank("?! 😀") == []


def test_edge_catalogues():
    assert Matcher().fit([]).rank("hello") == []
    single = Matcher().fit([Entry("only", "faq", ("hello there",))])
    assert single.rank("hello")[0][0] == "only"
    two = Matcher().fit(ENTRIES[:2])
    assert two.rank("the address please", k=2)[0][0] == "venue_location"
    with pytest.raises(ValueError):
        Matcher().fit([ENTRIES[0], ENTRIES[0]])


def test_pair_channel_is_left_out_when_no_text_has_two_content_words():
    keywords = Matcher().fit([Entry("wifi", "faq", ("wifi",)), Entry("parking", "faq", ("parking",))])
    assert keywords.rank("wifi", 1)[0][0] == "wifi"
    pairs = Matcher().fit(ENTRIES)
    assert len(pairs._main.vectorizers) == len(keywords._main.vectorizers) + 1
    assert len(Matcher(MatcherConfig(pair_weight=0)).fit(ENTRIES)._main.vectorizers) == len(pairs._main.vectorizers) - 1


def test_large_catalogue_modes():
    centroid = Matcher(MatcherConfig(max_linear_weights=0, large_mode="centroid")).fit(ENTRIES)
    assert not centroid.linear and centroid.mode == "centroid"
    assert centroid.rank("is there parking for my car", k=1)[0][0] == "parking"
    sparse = Matcher(MatcherConfig(max_linear_weights=0)).fit(ENTRIES)  # the default large mode
    assert sparse.linear and sparse.mode == "sparse"
    assert sparse.rank("is there parking for my car", k=1)[0][0] == "parking"
    assert Matcher().fit(ENTRIES).linear and Matcher().fit(ENTRIES).mode == "linear"


def test_split_phrasings():
    assert split_phrasings("a | b |  | c ") == ["a", "b", "c"]
    assert split_phrasings(None) == []


def _slow_rank(m: Matcher, text: str, k: int) -> list[str]:
    """Top-k keys by the batch path (sklearn transform + decision_function) and a stable full sort."""
    probs = m.probabilities([text, "padding so the batch path is used"])[0]
    return [m.keys[i] for i in np.argsort(-probs, kind="stable")[:k]] if probs.any() else []


@pytest.mark.parametrize("config", [MatcherConfig(), MatcherConfig(max_linear_weights=0),
                                    MatcherConfig(max_linear_weights=0, large_mode="centroid"),
                                    MatcherConfig(embedding_weight=1.0)])
def test_fast_rank_equals_slow_path(config):
    m = Matcher(config).fit(ENTRIES)
    for text in ("how much is a ticket", "وين اوقف السيارة", "kam si3r el tadhkara", "zzz qqq", "is there",
                 "hello", "في واي فاي بالمكان"):
        for k in (1, 3, 5, 10):
            assert [key for key, _ in m.rank(text, k)] == _slow_rank(m, text, k), (text, k)
        fast = m.probabilities([text])[0]
        slow = m.probabilities([text, "padding so the batch path is used"])[0]
        assert np.allclose(fast, slow, atol=1e-5), text


def test_rank_ties_go_to_the_earlier_entry():
    # Unknown words only: the centroid scores are all zero, so every entry ties and entry order decides.
    m = Matcher(MatcherConfig(max_linear_weights=0, large_mode="centroid", arabizi=False)).fit(ENTRIES)
    assert [key for key, _ in m.rank("zzzz", k=3)] == [e.key for e in ENTRIES[:3]]


def test_coverage_counts_words_known_by_their_stem():
    entries = [Entry("cancel", "faq", ("ألغي تسجيلي", "cancel my booking")),
               Entry("price", "faq", ("كم سعر التذكرة", "ticket price"))]
    m = Matcher(MatcherConfig(concept_weight=0.0)).fit(entries)  # stems alone (concepts: the next test)
    similarity, coverage = m.evidence("الغاء التسجيل", "cancel")
    assert 0.0 < coverage < 1.0  # التسجيل is known through تسجيلي; الغاء is not (الغي has no 3-letter stem)
    assert m.evidence("cancels bookings", "cancel")[1] == pytest.approx(1.0)
    assert m.evidence("اكتب قصيدة", "cancel")[1] == 0.0
    assert m.evidence("تسجيلي", "cancel")[1] == 1.0  # exact words keep their own IDF


def test_concepts_match_across_languages_and_count_for_coverage():
    # Arabic queries, English-only examples: only the concept channel links them.
    entries = [Entry("food", "faq", ("is food available", "coffee")),
               Entry("kids", "faq", ("can i bring my children", "kids")),
               Entry("parking", "faq", ("where can i park my car",))]
    m = Matcher().fit(entries)
    assert m.rank("في قهوة؟", k=1)[0][0] == "food"
    assert m.rank("اقدر اجيب عيالي", k=1)[0][0] == "kids"
    assert m.rank("وين اوقف السيارة", k=1)[0][0] == "parking"
    assert m.evidence("قهوة", "food")[1] == pytest.approx(1.0)  # known through its concept
    off = Matcher(MatcherConfig(concept_weight=0.0)).fit(entries)
    assert off.evidence("قهوة", "food")[1] == 0.0


def test_context_texts_are_weak_examples_only():
    entries = [Entry("food", "faq", ("is food available",), context=("Tea, coffee and local snacks are sold.",)),
               Entry("wifi", "faq", ("is there wifi",), context=("The wifi password is on your ticket.",))]
    m = Matcher(MatcherConfig(concept_weight=0.0)).fit(entries)
    assert m.rank("local snacks?", k=1)[0][0] == "food"  # words only the answer has
    # Context is not an example: coverage and similarity look at the questions only.
    similarity, coverage = m.evidence("local snacks", "food")
    assert coverage == 0.0 and similarity < 0.1


def test_arabizi_function_words_do_not_count_against_coverage():
    entries = [Entry("parking", "faq", ("is there parking", "where can i park my car", "وين اوقف سيارتي")),
               Entry("price", "faq", ("ticket price", "كم سعر التذكرة"))]
    m = Matcher().fit(entries)
    assert m.rank("wain el parking", k=1)[0][0] == "parking"
    # wain and el say how the text is written; parking is the only content word, and it is known.
    assert m.evidence("wain el parking", "parking")[1] == pytest.approx(1.0)
    assert m.evidence("wain el mat7af el watani", "parking")[1] < 0.5  # unknown content words still count


def test_nearest_centroid_ignores_features_most_classes_share():
    from scipy.sparse import csr_matrix

    from bot.nlu.matcher import without_common_features
    # features × classes (40 classes): feature 0 in every class, feature 1 in one, feature 2 in twelve
    dense = [[1.0] * 40, [0.0] * 39 + [0.5], [0.25] * 12 + [0.0] * 28]
    pruned = without_common_features(csr_matrix(dense), max_share=0.1).toarray()
    assert not pruned[0].any(), "a feature every class has cannot tell classes apart"
    assert pruned[1].tolist() == dense[1]
    assert not pruned[2].any(), "twelve of forty classes is more than a 10 % share and more than ten"
    assert without_common_features(csr_matrix(dense), max_share=1.0).toarray().tolist() == dense
    small = [[1.0] * 5, [0.5, 0.5, 0, 0, 0]]  # a small catalogue keeps everything
    assert without_common_features(csr_matrix(small), max_share=0.1).toarray().tolist() == small


def test_a_typo_is_one_edit_not_two():
    from bot.nlu.normalize import one_edit_apart, word_concept
    assert word_concept("ticekt") == word_concept("ticket") is not None  # two letters swapped
    assert word_concept("parkng") == word_concept("parking") is not None  # one letter missing
    # "status" and "starts" share the deletion "stats" but are two edits apart: not a typo of "starts"
    assert word_concept("status") != word_concept("starts")
    assert not one_edit_apart("status", "starts") and one_edit_apart("starts", "stats")


def test_word_vectors_relate_synonyms_and_know_no_arabic():
    from bot.nlu.embeddings import WORD_VECTORS, word_vectors
    table = word_vectors()
    assert WORD_VECTORS.stat().st_size < 8_000_000, "the artefact must stay small (docs/matching.md)"
    assert table.vectors.dtype == np.float32 and table.dims >= 64

    def cosine(a: str, b: str) -> float:
        return float(table.embed(a, {}, 1.0) @ table.embed(b, {}, 1.0))
    assert cosine("refund", "reimburse") > cosine("refund", "weather") + 0.3
    assert cosine("cash", "money") > cosine("cash", "weather") + 0.3
    assert cosine("stolen card", "card theft") > cosine("stolen card", "exchange rate")
    assert table.embed(prepare("كم سعر التذكرة"), {}, 1.0) is None  # Arabic: no vector, the block is zero
    assert table.embed("zzqx", {}, 1.0) is None


def test_word_vector_block_only_in_the_linear_main_view():
    config = MatcherConfig(embedding_weight=1.0)
    m = Matcher(config).fit(ENTRIES)
    assert m._main.n_dense == m._main._vectors().dims
    assert m._main.weights.shape[0] == m._main.examples.shape[1] + m._main.n_dense
    assert m._skeleton is None or m._skeleton.n_dense == 0
    assert Matcher(MatcherConfig(embedding_weight=1.0, max_linear_weights=0)).fit(ENTRIES)._main.n_dense == 0
    # Evidence looks at the TF-IDF rows only: the block changes the scores, not similarity or coverage.
    plain = Matcher(MatcherConfig(embedding_weight=0.0)).fit(ENTRIES)
    for text in ("how much is a ticket", "what is the capital of france", "وين اوقف السيارة"):
        assert m.evidence(text, ENTRIES[0].key) == plain.evidence(text, ENTRIES[0].key)


# --- evaluation helpers ------------------------------------------------------------------------------


def test_grouped_folds_keep_near_duplicates_in_one_fold():
    entries = [Entry("card", "faq", ("my card did not work", "my card did not piece of work", "where is my card",
                                     "how do i order a card", "card payment declined", "is there a fee"))]
    [folds] = grouped_folds(entries, folds=5, min_cosine=0.6)
    assert len(folds) == 6 and folds[0] == folds[1]  # the augmented near-copy goes with its original
    assert grouped_folds(entries, folds=5, min_cosine=1.1) == [[0, 1, 2, 3, 4, 0]]  # no groups: spread
    assert grouped_folds([Entry("empty", "faq", ())]) == [[]]


def test_cross_validated_scores_hold_out_every_example_once():
    scores, truth = cross_validated_scores(ENTRIES, folds=3)
    assert scores.shape == (sum(len(e.examples) for e in ENTRIES), len(ENTRIES))
    assert sorted(truth.tolist()) == sorted(i for i, e in enumerate(ENTRIES) for _ in e.examples)
    assert (scores.argmax(axis=1) == truth).mean() > 0.5
    assert fit_temperature(ENTRIES, folds=3, grid=(0.1, 0.2)) in (0.1, 0.2)
    high, low = choose_thresholds(ENTRIES, folds=3)
    assert 0.05 <= low <= high <= 0.95


# --- module boundaries -------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_normaliser_loads_no_third_party_package():
    code = ("import sys, bot.nlu.normalize; print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'numpy', 'scipy', 'sklearn', 'flask', 'sqlalchemy', 'rq', 'twilio', 'redis', 'yaml'})))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""


def test_the_text_normaliser_loads_by_path_alone():
    # scripts/build_static_embeddings.py loads it by path in a virtual environment without the bot.
    spec = importlib.util.spec_from_file_location("standalone_text", ROOT / "bot" / "nlu" / "text.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.normalize("أهلاً، Don't!") == normalize("أهلاً، Don't!") == "اهلا dont"
