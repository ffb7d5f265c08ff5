"""The fitted matcher is cached on disk by catalogue and code, so restarts and `faq match` skip the fit."""
from bot import knowledge
from bot.nlu.entries import Entry

ENTRIES = [Entry("price", "faq", ("how much is a ticket", "كم سعر التذكرة")),
           Entry("venue", "faq", ("where is the venue", "وين مكان الفعالية"))]


def test_second_fit_of_the_same_catalogue_comes_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(knowledge, "MATCHER_CACHE", tmp_path)
    first = knowledge.trained_matcher(ENTRIES)
    [cached] = list(tmp_path.glob("*.pkl"))
    second = knowledge.trained_matcher(ENTRIES)
    assert second is not first
    assert second.rank("بكم التذكرة", 2) == first.rank("بكم التذكرة", 2)
    assert list(tmp_path.glob("*.pkl")) == [cached]


def test_a_changed_catalogue_is_fitted_again(tmp_path, monkeypatch):
    monkeypatch.setattr(knowledge, "MATCHER_CACHE", tmp_path)
    knowledge.trained_matcher(ENTRIES)
    changed = ENTRIES + [Entry("parking", "faq", ("is there parking",))]
    matcher = knowledge.trained_matcher(changed)
    assert len(list(tmp_path.glob("*.pkl"))) == 2
    assert matcher.rank("is there parking", 1)[0][0] == "parking"


def test_a_damaged_cache_file_is_refitted(tmp_path, monkeypatch):
    monkeypatch.setattr(knowledge, "MATCHER_CACHE", tmp_path)
    knowledge.trained_matcher(ENTRIES)
    [cached] = list(tmp_path.glob("*.pkl"))
    cached.write_bytes(b"not a pickle")
    assert knowledge.trained_matcher(ENTRIES).rank("how much is a ticket", 1)[0][0] == "price"


def test_the_cache_key_follows_the_matcher_code_this_process_loaded(monkeypatch):
    key = knowledge._fingerprint(ENTRIES)
    assert knowledge._fingerprint(ENTRIES) == key
    monkeypatch.setattr(knowledge, "_SOURCES_DIGEST", "other matcher code")
    assert knowledge._fingerprint(ENTRIES) != key


def test_the_cache_key_covers_the_word_vector_artefact():
    from bot.nlu.embeddings import WORD_VECTORS
    assert WORD_VECTORS in knowledge.MATCHER_SOURCES
