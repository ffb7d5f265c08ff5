"""The background entry: generic off-topic messages (weather, exchange rates, shopping, phone repair,
translation, restaurants, sports, politics, small talk; English, MSA and Gulf/Yemeni dialect, and Arabizi through
the skeleton view) that the matcher learns as one more class, so that an out-of-scope question has a better
place to land than the FAQ entry whose question words it shares. `Knowledge.decide` never answers it: when it
holds the message, the message goes to the LLM (or the fallback). Its texts are written for this purpose
(`data/background.txt`), never taken from an evaluation set; they train the SVM but are not examples for
coverage (docs/matching.md, "Out of scope").
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from .entries import Entry

BACKGROUND_KEY = "__background__"
BACKGROUND_FILE = Path(__file__).resolve().parent / "data" / "background.txt"


@lru_cache(maxsize=1)
def background_texts() -> tuple[str, ...]:
    """The background file's messages, one a line (blank lines and # notes skipped)."""
    lines = BACKGROUND_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))


def background_entry() -> Entry:
    """The background class as a matcher entry (kind "background")."""
    return Entry(key=BACKGROUND_KEY, kind="background", examples=background_texts())
