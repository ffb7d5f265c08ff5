"""Dialect function words: question words and want/can verbs mapped to one spelling each."""
from __future__ import annotations

import re

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
