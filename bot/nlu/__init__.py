"""Natural-language understanding: bilingual normalisation, language detection and an intent/FAQ matcher."""
