"""Natural-language understanding: bilingual normalisation, language detection and an intent/FAQ matcher.

What the bot knows: ``intents`` (intents/*.yaml), ``faq_files`` (FAQ CSV/YAML in and out), ``knowledge`` (intents and
FAQ behind one matcher, the routing decision), ``fitted`` (fitted matchers cached on disk), ``knowledge_cache``
(one trained ``Knowledge`` per process, refreshed when the FAQ table changes).

Text (``normalize.py`` gathers them, standard library only): ``text`` (normalisation), ``stems`` (light stems,
content-word pairs), ``arabizi`` (Arabizi, language detection, consonant skeletons), ``dialect`` (dialect
function words), ``concepts`` with ``lexicon`` (synonyms, dialect words and translations).

Matcher (``matcher.py`` holds ``Matcher`` and re-exports the rest): ``config`` (``MatcherConfig``, thresholds),
``features`` (TF-IDF feature channels), ``scorers`` (linear SVM, nearest centroid, softmax), ``known_words``
(coverage), ``embeddings`` (static word vectors), ``views`` (one representation with its scorer), ``training``
(entries → fitted views), ``evaluation`` (cross-validation, temperature, thresholds); ``entries`` (what it is
trained on).
"""
