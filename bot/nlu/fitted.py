"""Fitted matchers kept on disk, so a process that starts (a worker, `faq match`) reuses the fit of an
unchanged catalogue instead of refitting it (seconds for a large FAQ). A fit is found by a fingerprint of the
entries, the matcher's code and scikit-learn's version; the cache holds only files this process wrote itself.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
from pathlib import Path

import sklearn

from bot.core.settings import INSTANCE_DIR
from bot.nlu.entries import Entry
from bot.nlu.matcher import Matcher, MatcherConfig

log = logging.getLogger(__name__)
MATCHER_CACHE = INSTANCE_DIR / "matcher-cache"
NLU_DIR = Path(__file__).resolve().parent
# Every module of this package and the word-vector artefact are hashed: a pickled matcher names the classes it
# was built from, and a rebuilt vector table changes every fitted model's features. A change to any of them
# refits (the knowledge modules included: conservative, and they change rarely).
MATCHER_SOURCES = (*sorted(NLU_DIR.glob("*.py")), NLU_DIR / "data" / "word_vectors.npz")
CACHE_KEEP = 8
# Read once, when this module (and so the matcher) is imported: a source edited while a process runs must not
# label a model that the already loaded code fits.
_SOURCES_DIGEST = hashlib.sha256(b"".join(source.read_bytes() for source in MATCHER_SOURCES)).hexdigest()


def _fingerprint(entries: list[Entry], config: MatcherConfig | None = None) -> str:
    """Changes with the entries, the matcher's code and configuration and scikit-learn's version."""
    digest = hashlib.sha256(sklearn.__version__.encode())
    digest.update(_SOURCES_DIGEST.encode())
    if config is not None:
        digest.update(repr(config).encode())
    digest.update(json.dumps([(e.key, e.kind, list(e.examples), list(e.context)) for e in entries],
                             ensure_ascii=False).encode())
    return digest.hexdigest()[:32]


def trained_matcher(entries: list[Entry], config: MatcherConfig | None = None) -> Matcher:
    """A matcher fitted on `entries`, from the on-disk cache when the same catalogue was fitted before.

    Fitting a Banking77-sized catalogue takes ~20 s on two cores; workers restart and `faq match` runs far
    more often than the catalogue changes. The cache holds only files this process wrote itself.
    """
    path = MATCHER_CACHE / f"{_fingerprint(entries, config)}.pkl"
    try:
        with path.open("rb") as f:
            return pickle.load(f)
    except FileNotFoundError:
        pass
    except Exception:  # a damaged or incompatible file is simply refitted
        log.warning("matcher cache unreadable, refitting path=%s", path)
    matcher = Matcher(config).fit(entries)
    try:
        MATCHER_CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            pickle.dump(matcher, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the whole new one
        for old in sorted(MATCHER_CACHE.glob("*.pkl"), key=lambda p: p.stat().st_mtime)[:-CACHE_KEEP]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("matcher cache not written: %s", exc)
    return matcher
