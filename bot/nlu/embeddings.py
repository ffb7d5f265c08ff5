"""Static English word vectors: a semantic signal (synonyms, paraphrases) without a neural network at run time.

``data/word_vectors.npz`` holds one int8 vector (with a float32 scale per component) per English word, distilled
offline from the sentence encoder all-MiniLM-L6-v2 (each word run through the model on its own, mean-pooled,
PCA-reduced; see scripts/build_static_embeddings.py and docs/matching.md). A text's vector is the IDF-weighted
mean of the vectors of its words that the table knows, L2-normalised. Arabic words are not in the table (the
model is English-only), so an Arabic text gets no vector and the channel adds nothing to it.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

WORD_VECTORS = Path(__file__).resolve().parent / "data" / "word_vectors.npz"


class WordVectors:
    """A word → vector table (rows float32, in the artefact's word order)."""

    def __init__(self, path: Path = WORD_VECTORS, dims: int | None = None) -> None:
        with np.load(path, allow_pickle=False) as data:
            words = str(data["words"]).split("\n")
            vectors = data["vectors"].astype(np.float32)
            if "scales" in data:  # int8 per component (scripts/build_static_embeddings.py)
                vectors *= data["scales"]
        self.vectors = np.ascontiguousarray(vectors[:, :dims] if dims else vectors)
        self.index = {w: i for i, w in enumerate(words)}
        self.dims = self.vectors.shape[1]
        self.digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()

    def embed(self, prepared: str, idf: Mapping[str, float], default_idf: float) -> np.ndarray | None:
        """Unit vector of a prepared text: mean of its known words' vectors weighted by ``idf`` (words the
        catalogue does not know weigh ``default_idf``); None when no word is in the table."""
        rows, weights = [], []
        for word in prepared.split():
            row = self.index.get(word)
            if row is not None:
                rows.append(row)
                weights.append(idf.get(word, default_idf))
        if not rows:
            return None
        vector = np.asarray(weights, dtype=np.float32) @ self.vectors[rows]
        norm = float(np.sqrt(np.dot(vector, vector)))
        return vector / norm if norm > 0 else None

    def embed_all(self, texts: Sequence[str], idf: Mapping[str, float], default_idf: float) -> np.ndarray:
        """One row per text (zeros where a text has no known word)."""
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for i, text in enumerate(texts):
            vector = self.embed(text, idf, default_idf)
            if vector is not None:
                out[i] = vector
        return out


@lru_cache(maxsize=4)
def word_vectors(path: str | None = None, dims: int | None = None) -> WordVectors:
    """The table, loaded once per process (path None = the shipped artefact)."""
    return WordVectors(Path(path) if path else WORD_VECTORS, dims)
