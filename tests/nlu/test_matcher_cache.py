"""The fitted matcher is cached on disk by catalogue and code, so restarts and `faq match` skip the fit."""
from bot.nlu import fitted
from bot.nlu.entries import Entry

ENTRIES = [Entry("price", "faq", ("how much is a ticket", "كم سعر التذكرة")),
           Entry("venue", "faq", ("where is the venue", "وين مكان الفعالية"))]


def test_second_fit_of_the_same_catalogue_comes_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(fitted, "MATCHER_CACHE", tmp_path)
    first = fitted.trained_matcher(ENTRIES)
    [cached] = list(tmp_path.glob("*.pkl"))
    second = fitted.trained_matcher(ENTRIES)
    assert second is not first
    assert second.rank("بكم التذكرة", 2) == first.rank("بكم التذكرة", 2)
    assert list(tmp_path.glob("*.pkl")) == [cached]


def test_a_changed_catalogue_is_fitted_again(tmp_path, monkeypatch):
    monkeypatch.setattr(fitted, "MATCHER_CACHE", tmp_path)
    fitted.trained_matcher(ENTRIES)
    changed = ENTRIES + [Entry("parking", "faq", ("is there parking",))]
    matcher = fitted.trained_matcher(changed)
    assert len(list(tmp_path.glob("*.pkl"))) == 2
    assert matcher.rank("is there parking", 1)[0][0] == "parking"


def test_a_damaged_cache_file_is_refitted(tmp_path, monkeypatch):
    monkeypatch.setattr(fitted, "MATCHER_CACHE", tmp_path)
    fitted.trained_matcher(ENTRIES)
    [cached] = list(tmp_path.glob("*.pkl"))
    cached.write_bytes(b"not a pickle")
    assert fitted.trained_matcher(ENTRIES).rank("how much is a ticket", 1)[0][0] == "price"


def test_the_cache_key_follows_the_matcher_code_this_process_loaded(monkeypatch):
    key = fitted._fingerprint(ENTRIES)
    assert fitted._fingerprint(ENTRIES) == key
    monkeypatch.setattr(fitted, "_SOURCES_DIGEST", "other matcher code")
    assert fitted._fingerprint(ENTRIES) != key


def test_the_cache_key_covers_the_word_vector_artefact():
    from bot.nlu.embeddings import WORD_VECTORS
    assert WORD_VECTORS in fitted.MATCHER_SOURCES
