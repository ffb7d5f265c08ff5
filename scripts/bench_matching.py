#!/usr/bin/env python3
"""Benchmark of intent/FAQ matching as the product routes it (bot.knowledge.Knowledge.decide).

    .venv/bin/python scripts/bench_matching.py            # table
    .venv/bin/python scripts/bench_matching.py --json     # machine-readable
    .venv/bin/python scripts/bench_matching.py --fit-temperature   # also re-run the CV calibration
    .venv/bin/python scripts/bench_matching.py --cv-pair-weight 0,0.5,0.7,1,1.5   # only the pair-weight CV
    .venv/bin/python scripts/bench_matching.py --large-modes    # only Banking77 forced into the large modes

Every catalogue is the production one unless a row says otherwise: ``production_knowledge`` builds
``Knowledge(load_intents(), faqs, high, low)`` with the FAQ entries in the order and shape ``faq_snapshot``
gives them (by key, keywords included), as ``flask --app app faq match`` does after ``faq import``.

Measures (see docs/matching.md):
* events FAQ + built-in intents, high/low from the ``Settings()`` defaults and the default gates. On
  events_faq_dev.csv: top-1 accuracy of ``Decision.key`` (whatever the route) by language, then what the
  router does: in-scope rows answered (route faq/intent) and how many of those are right, clarified, sent to
  the LLM; out-of-scope rows answered. An intent that carries out what an FAQ entry describes counts as right
  for it (``INTENT_EQUIVALENTS``: human for contact_human, register_event for tickets_buy, cancel_ticket for
  cancel_registration). The off-topic set (scripts/bench/data/off_topic.csv, written for this bench) is
  routed by the same catalogue. Ablations: the FAQ alone, without the background class, without the gates;
* Banking77/ArBanking77 + built-in intents: top-1 of ``Decision.key`` on dev by language;
* the mode the matcher ran in (linear / centroid), its memory, fit times, and the latency of one ``decide``
  call (rank + evidence) with Banking77 + intents and with 10,000 synthetic entries + intents.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

from bench.matching_report import print_table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project's packages, wherever this runs from

from bench.lexicon_ablation import ablation  # imports bot.nlu: after the path above

from bot.core.settings import Settings
from bot.nlu.entries import Entry, load_queries
from bot.nlu.faq_files import FAQRow, read_faq_file
from bot.nlu.intents import load_intents
from bot.nlu.knowledge import FAQEntry, Gates, Knowledge
from bot.nlu.matcher import MatcherConfig, cross_validated_scores, fit_temperature, grouped_folds
from bot.nlu.normalize import detect_language

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EVAL = ROOT.parent / "shared" / "eval"
DEFAULT_OFF_TOPIC = ROOT / "scripts" / "bench" / "data" / "off_topic.csv"
DEFAULT_FRESH = ROOT / "scripts" / "bench" / "data" / "events_fresh.csv"
ANSWER_ROUTES = ("faq", "intent")
# With the built-in intents loaded, an intent that does what the FAQ entry describes is the same request:
# "human" hands over as contact_human says; "register_event" starts the booking tickets_buy explains ("I want to
# reserve a place"), "cancel_ticket" the cancellation cancel_registration explains.
INTENT_EQUIVALENTS = {"contact_human": {"human"}, "tickets_buy": {"register_event"},
                      "cancel_registration": {"cancel_ticket"}}


def faq_entries(path: Path, include_keywords: bool = True) -> list[FAQEntry]:
    """The FAQ file as the bot loads it after an import (bot.faq_io), as Knowledge's FAQEntry snapshots."""
    return [to_entry(row, include_keywords) for row in read_faq_file(path)]


def production_knowledge(faqs: list[FAQEntry], high: float, low: float, **options) -> Knowledge:
    """The catalogue ``faq match`` loads (bot/ops/faq_cli.py): the built-in intents and the FAQ entries as
    ``faq_snapshot`` returns them after an import (ordered by key, keywords included)."""
    return Knowledge(load_intents(), sorted(faqs, key=lambda f: f.key), high, low, **options)


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (the sparse mode's forked fits)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def model_report(knowledge: Knowledge, fit_s: float, fit_cpu_s: float | None = None) -> dict:
    """Mode, size and fit time (wall; CPU with its children when given) of a fitted catalogue."""
    matcher = knowledge.matcher
    report = {"mode": matcher.mode, "entries": len(matcher.keys),
              "memory_mb": round(matcher.memory_bytes() / 1e6, 1), "fit_s": round(fit_s, 2)}
    if fit_cpu_s is not None:
        report["fit_cpu_s"] = round(fit_cpu_s, 1)
    return report


def to_entry(row: FAQRow, include_keywords: bool = True) -> FAQEntry:
    return FAQEntry(row.key, row.category, tuple(row.questions_en), tuple(row.questions_ar), row.answer_en,
                    row.answer_ar, tuple(row.keywords) if include_keywords else ())


def language_of(row: dict) -> str:
    return row.get("language") or detect_language(row["text"])


def decisions(knowledge: Knowledge, rows: list[dict], equivalents: dict | None = None) -> list[dict]:
    equivalents = equivalents or {}
    out = []
    for row in rows:
        d = knowledge.decide(row["text"])
        expected = row["expected_key"]
        out.append({"text": row["text"], "expected": expected, "language": language_of(row), "route": d.route,
                    "key": d.key, "confidence": round(d.confidence, 4), "similarity": d.similarity,
                    "coverage": d.coverage,
                    "correct": d.key == expected or d.key in equivalents.get(expected, ())})
    return out


def accuracy(preds: list[dict]) -> dict:
    """Top-1 accuracy (Decision.key, whatever the route) of in-scope rows, overall and by language."""
    out: dict = {}
    for lang in ("en", "ar", "all"):
        sel = [p for p in preds if p["expected"] != "none" and (lang == "all" or p["language"] == lang)]
        if sel:
            out[lang] = {"n": len(sel), "top1": sum(p["correct"] for p in sel) / len(sel)}
    return out


def routing(preds: list[dict], high: float, gates: Gates) -> dict:
    """What the router does with the dev rows: answered (faq or intent), clarified, sent to the LLM."""
    ins = [p for p in preds if p["expected"] != "none"]
    # Confident (≥ high) in-scope rows a gate kept from being answered, by the first gate that failed.
    held = [p for p in ins if p["confidence"] >= high and p["route"] not in ANSWER_ROUTES]
    oos = [p for p in preds if p["expected"] == "none"]
    answered = [p for p in ins if p["route"] in ANSWER_ROUTES]
    return {
        "in_scope": len(ins),
        "answered": len(answered),
        "answered_faq": sum(p["route"] == "faq" for p in ins),
        "answered_intent": sum(p["route"] == "intent" for p in ins),
        "answered_correct": sum(p["correct"] for p in answered),
        "answer_precision": (sum(p["correct"] for p in answered) / len(answered)) if answered else None,
        "clarify": sum(p["route"] == "clarify" for p in ins),
        "clarify_top1_correct": sum(p["correct"] for p in ins if p["route"] == "clarify"),
        "to_llm": sum(p["route"] in ("llm", "fallback") for p in ins),
        "confident_held_by_coverage": sum(p["coverage"] < gates.min_coverage for p in held),
        "confident_held_by_similarity": sum(p["coverage"] >= gates.min_coverage for p in held),
        "confident_held_top1_correct": sum(p["correct"] for p in held),
        "oos_total": len(oos),
        "oos_answered_faq": sum(p["route"] == "faq" for p in oos),
        "oos_answered_intent": sum(p["route"] == "intent" for p in oos),
        "oos_clarify": sum(p["route"] == "clarify" for p in oos),
        "oos_to_llm": sum(p["route"] in ("llm", "fallback") for p in oos),
    }


def events_report(faqs: list[FAQEntry], intents: list | None, rows: list[dict], high: float, low: float,
                  equivalents: dict | None = None, **options) -> dict:
    """Routing of ``rows`` by the events catalogue: with the built-in intents (``intents`` None: the
    production catalogue) or only ``intents``; ``options`` go to Knowledge (gates, background)."""
    t = time.perf_counter()
    if intents is None:
        knowledge = production_knowledge(faqs, high, low, **options)
    else:
        knowledge = Knowledge(intents=intents, faqs=faqs, high=high, low=low, **options)
    fit_s = time.perf_counter() - t
    preds = decisions(knowledge, rows, equivalents)
    return {"entries": len(faqs) + len(knowledge.intents), "fit_s": fit_s, "mode": knowledge.matcher.mode,
            "accuracy": accuracy(preds), "routing": routing(preds, high, knowledge.gates),
            "errors": [p for p in preds if p["expected"] != "none" and not p["correct"]],
            "not_answered": [p for p in preds if p["expected"] != "none" and p["correct"]
                             and p["route"] not in ANSWER_ROUTES],
            "oos": [p for p in preds if p["expected"] == "none"]}


def synthetic_entries(base: list[FAQEntry], n: int, seed: int = 0) -> list[FAQEntry]:
    """``n`` entries with distinct keys, each 3 EN + 3 AR phrasings sampled from one Banking77 intent."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        src = base[i % len(base)]
        en, ar = list(src.questions_en), list(src.questions_ar)
        out.append(FAQEntry(f"{src.key}_{i}", src.category, tuple(rng.sample(en, min(3, len(en)))),
                            tuple(rng.sample(ar, min(3, len(ar)))), src.answer_en, src.answer_ar))
    return out


def p99(xs: list[float]) -> float:
    """The 99th percentile as docs/matching.md's figures were taken: the value at index floor(0.99 (n - 1))."""
    return sorted(xs)[int(0.99 * (len(xs) - 1))]


def latency(knowledge: Knowledge, queries: list[str]) -> dict:
    """Per-query time of ``Knowledge.decide`` (normalise, patterns, Matcher.rank, Matcher.evidence).

    Wall time is what a user waits; CPU time (this process) leaves out waiting for a core that other
    processes hold, so the two differ only on a busy machine (the load average is reported alongside).
    """
    for q in queries[:20]:  # warm-up: first-call allocations are not per-query cost
        knowledge.decide(q)
    wall, cpu = [], []
    load = os.getloadavg()[0]
    for q in queries:
        t, c = time.perf_counter(), time.process_time()
        knowledge.decide(q)
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
    # Attribution: the two matcher calls inside decide, timed on their own (wall time).
    parts: dict[str, list[float]] = {"rank": [], "evidence": []}
    for q in queries:
        t = time.perf_counter()
        ranked = knowledge.matcher.rank(q, 5)
        parts["rank"].append((time.perf_counter() - t) * 1000)
        if ranked:
            t = time.perf_counter()
            knowledge.matcher.evidence(q, ranked[0][0])
            parts["evidence"].append((time.perf_counter() - t) * 1000)
    return {"n": len(wall), "p50_ms": statistics.median(wall), "p99_ms": p99(wall), "max_ms": max(wall),
            "cpu_p50_ms": statistics.median(cpu), "cpu_p99_ms": p99(cpu),
            "load_avg_1min": round((load + os.getloadavg()[0]) / 2, 2),
            **{f"{name}_{stat}_ms": fn(xs) for name, xs in parts.items() if xs
               for stat, fn in (("p50", statistics.median), ("p99", p99))}}


def cv_configs(train: Path, configs: dict[str, MatcherConfig], language: str = "en", folds: int = 5,
               grouped: bool = False) -> dict:
    """Top-1 of ``folds``-fold cross-validation over Banking77's training phrasings in one language (with the
    answers as context, as Knowledge passes them) for each named configuration: how the weights of the
    content-word pair channel and of the word-vector block were chosen, without the dev set. ``grouped``
    keeps near-duplicate phrasings in one fold (``grouped_folds``), the stricter estimate."""
    faqs = faq_entries(train, include_keywords=False)
    entries = [Entry(f.key, "faq", f.questions_en if language == "en" else f.questions_ar,
                     tuple(a for a in (f.answer_en, f.answer_ar) if a)) for f in faqs]
    fold_of = grouped_folds(entries, folds) if grouped else None
    out = {}
    for name, config in configs.items():
        scores, truth = cross_validated_scores(entries, folds, config, fold_of)
        out[name] = {"n": len(truth), "top1": float((scores.argmax(axis=1) == truth).mean())}
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events-faq", type=Path, default=DEFAULT_EVAL / "events_faq.csv")
    ap.add_argument("--events-dev", type=Path, default=DEFAULT_EVAL / "events_faq_dev.csv")
    ap.add_argument("--banking-train", type=Path, default=DEFAULT_EVAL / "banking77" / "faq_train.csv")
    ap.add_argument("--banking-dev", type=Path, default=DEFAULT_EVAL / "banking77" / "dev.csv")
    ap.add_argument("--off-topic", type=Path, default=DEFAULT_OFF_TOPIC, help="text,expected_key (none) rows")
    ap.add_argument("--entries", type=int, default=10_000, help="synthetic catalogue size for latency")
    ap.add_argument("--queries", type=int, default=2000, help="latency queries")
    ap.add_argument("--fit-temperature", action="store_true", help="re-fit softmax temperatures by 5-fold CV")
    ap.add_argument("--skip-banking", action="store_true", help="skip Banking77 accuracy and its 77-entry latency")
    ap.add_argument("--cv-pair-weight", metavar="W,W,…",
                    help="only cross-validate these pair-channel weights on the Banking77 training file and exit")
    ap.add_argument("--cv-embedding-weight", metavar="W,W,…",
                    help="only cross-validate these word-vector block weights (0 = off) and exit")
    ap.add_argument("--cv-neighbour-blend", metavar="W,W,…",
                    help="only cross-validate these weights of the per-entry SVMs next to the dense SVM and exit")
    ap.add_argument("--cv-embedding-file", help="word-vector table for --cv-embedding-weight (default: shipped)")
    ap.add_argument("--cv-embedding-dims", type=int, help="keep only the first N components of the table")
    ap.add_argument("--cv-embedding-mean", action="store_true", help="plain mean of word vectors, not IDF-weighted")
    ap.add_argument("--cv-grouped", action="store_true",
                    help="CV keeps near-duplicate phrasings (word TF-IDF cosine >= 0.6) in one fold")
    ap.add_argument("--cv-language", default="en", choices=("en", "ar"))
    ap.add_argument("--cv-folds", type=int, default=5)
    ap.add_argument("--lexicon-ablation", action="store_true",
                    help="only the dev-blind lexicon ablation (events dev and --fresh, full vs dev-blind lexicon)")
    ap.add_argument("--fresh", type=Path, default=DEFAULT_FRESH, help="events paraphrases the lexicon never saw")
    ap.add_argument("--large-modes", metavar="MODE,MODE", nargs="?", const="sparse,centroid",
                    help="only Banking77 + intents forced into the large-catalogue modes (default: sparse,centroid)")
    ap.add_argument("--json", action="store_true")
    return ap.parse_args(argv)


def cv_only(args: argparse.Namespace) -> None:
    """--cv-pair-weight / --cv-embedding-weight: cross-validate those configurations, print, nothing else."""
    if args.cv_pair_weight:
        configs = {f"pair_weight {w}": MatcherConfig(pair_weight=float(w)) for w in args.cv_pair_weight.split(",")}
    elif args.cv_neighbour_blend:
        configs = {f"neighbour_blend {w}": MatcherConfig(neighbour_blend=float(w))
                   for w in args.cv_neighbour_blend.split(",")}
    else:
        configs = {f"embedding_weight {w}": MatcherConfig(embedding_weight=float(w),
                                                          embedding_file=args.cv_embedding_file,
                                                          embedding_dims=args.cv_embedding_dims,
                                                          embedding_idf=not args.cv_embedding_mean)
                   for w in args.cv_embedding_weight.split(",")}
    cv = cv_configs(args.banking_train, configs, args.cv_language, args.cv_folds, args.cv_grouped)
    if args.json:
        print(json.dumps(cv, indent=2))
        return
    kind = "grouped " if args.cv_grouped else ""
    for name, r in cv.items():
        print(f"{name}: {kind}{args.cv_folds}-fold CV top-1 {args.cv_language.upper()} "
              f"{100 * r['top1']:.2f}% (n={r['n']})", flush=True)


def events_reports(args: argparse.Namespace, high: float, low: float) -> dict:
    """The events FAQ through Knowledge.decide: the production catalogue (intents and background class) on
    dev and on the off-topic set, and the ablations (FAQ only; no background class; gates off)."""
    events = faq_entries(args.events_faq)
    dev = load_queries(args.events_dev)
    off_topic = load_queries(args.off_topic)
    report = {"events_with_intents": events_report(events, None, dev, high, low, INTENT_EQUIVALENTS),
              "off_topic": events_report(events, None, off_topic, high, low),
              "events": events_report(events, [], dev, high, low),
              "off_topic_no_background": events_report(events, None, off_topic, high, low, background=False),
              "events_no_background": events_report(events, None, dev, high, low, INTENT_EQUIVALENTS,
                                                    background=False),
              # The production catalogue routed on the softmax confidence alone (evidence gates off).
              "events_confidence_only": events_report(events, None, dev + off_topic, high, low, INTENT_EQUIVALENTS,
                                                      gates=Gates(0.0, 0.0, 0.0))}
    if args.fit_temperature:
        report["temperature_cv_events"] = fit_temperature(
            [Entry(f.key, "faq", f.questions_en + f.questions_ar + f.keywords) for f in events])
    return report


def banking_report(args: argparse.Namespace, banking: list[FAQEntry], bank_rows: list[dict], queries: list[str],
                   high: float, low: float) -> dict:
    """Banking77 + ArBanking77 with the built-in intents: dev top-1 of ``Decision.key`` by language (what
    ``faq match --json`` prints as key), mode, memory, fit time and decide latency."""
    t = time.perf_counter()
    k_bank = production_knowledge(banking, high, low)
    report = {"banking_model": model_report(k_bank, time.perf_counter() - t),
              "banking_examples": sum(len(f.questions_en) + len(f.questions_ar) for f in banking)}
    preds = [{"expected": r["expected_key"], "language": language_of(r),
              "correct": k_bank.decide(r["text"]).key == r["expected_key"]} for r in bank_rows]
    report["banking"] = accuracy(preds)
    report["latency_banking77"] = latency(k_bank, queries)
    del k_bank
    if args.fit_temperature:
        report["temperature_cv_banking"] = fit_temperature(
            [Entry(f.key, "faq", f.questions_en + f.questions_ar) for f in banking], folds=3)
    return report


def scale_report(banking: list[FAQEntry], entries: int, queries: list[str], high: float, low: float) -> dict:
    """Fit time, mode, memory and decide latency with a synthetic catalogue of `entries` FAQ entries (10,000 by
    default) and the built-in intents."""
    synth = synthetic_entries(banking, entries)
    t, c = time.perf_counter(), cpu_seconds()
    k_big = production_knowledge(synth, high, low)
    return {**model_report(k_big, time.perf_counter() - t, cpu_seconds() - c),
            "examples": sum(len(f.questions_en) + len(f.questions_ar) for f in synth),
            "latency": latency(k_big, queries)}


def large_modes_only(args: argparse.Namespace, high: float, low: float) -> None:
    """--large-modes: Banking77 + intents (the production catalogue) forced into each large-catalogue mode
    (``min_linear_columns`` above any catalogue, so the dense SVM never fits; the weight budget is the default):
    how much accuracy a catalogue of 10,000 entries keeps, measured where there is a dev set. Mode, memory,
    fit time (wall and CPU) and dev top-1."""
    banking = faq_entries(args.banking_train, include_keywords=False)
    bank_rows = load_queries(args.banking_dev)
    out = {}
    for mode in args.large_modes.split(","):
        t, c = time.perf_counter(), cpu_seconds()
        knowledge = production_knowledge(banking, high, low,
                                         config=MatcherConfig(min_linear_columns=10**9, large_mode=mode))
        report = model_report(knowledge, time.perf_counter() - t, cpu_seconds() - c)
        preds = [{"expected": r["expected_key"], "language": language_of(r),
                  "correct": knowledge.decide(r["text"]).key == r["expected_key"]} for r in bank_rows]
        out[mode] = {**report, "accuracy": accuracy(preds)}
        if not args.json:
            top1 = " / ".join(f"{100 * a['top1']:.1f}" for a in out[mode]["accuracy"].values())
            print(f"| banking77 + intents forced large, {mode} | mode {report['mode']}, {report['memory_mb']} MB, fit "
                  f"{report['fit_s']} s (CPU {report['fit_cpu_s']} s) | dev top-1 EN / AR / all {top1} |", flush=True)
    if args.json:
        print(json.dumps(out, indent=2))


def lexicon_ablation_only(args: argparse.Namespace, high: float, low: float) -> None:
    """--lexicon-ablation: the production catalogue on events dev and on the fresh paraphrases, with the full
    lexicon and without the forms only dev rows have (scripts/bench/lexicon_ablation.py)."""
    events = faq_entries(args.events_faq)
    dev, fresh = load_queries(args.events_dev), load_queries(args.fresh)
    faq_texts = [t for f in events for t in (*f.questions_en, *f.questions_ar, *f.keywords,
                                               f.answer_en or "", f.answer_ar or "")]

    def report_of() -> dict:
        out = {}
        for name, rows in (("dev", dev), ("fresh", fresh)):
            r = events_report(events, None, rows, high, low, INTENT_EQUIVALENTS)
            out[name] = {"top1": r["accuracy"], "answered": r["routing"]["answered"],
                         "answered_correct": r["routing"]["answered_correct"], "in_scope": r["routing"]["in_scope"]}
        return out

    result = ablation(report_of, [r["text"] for r in dev], faq_texts)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    print(f"dev-blind lexicon: {result['dropped_forms']} forms dropped")
    for variant in ("full", "dev_blind"):
        for name, r in result[variant].items():
            top1 = " / ".join(f"{100 * r['top1'][lang]['top1']:.1f}" for lang in ("en", "ar", "all"))
            print(f"| {variant} lexicon, events {name} top-1 EN / AR / all | {top1} | answered {r['answered']}/"
                  f"{r['in_scope']}, {r['answered_correct']} correct |")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cv_pair_weight or args.cv_embedding_weight or args.cv_neighbour_blend:
        cv_only(args)
        return 0
    if args.lexicon_ablation:
        settings = Settings()
        lexicon_ablation_only(args, settings.match_high, settings.match_low)
        return 0
    if args.large_modes:
        settings = Settings()
        large_modes_only(args, settings.match_high, settings.match_low)
        return 0
    settings = Settings()
    high, low = settings.match_high, settings.match_low
    gates = Gates()
    report: dict = {"high": high, "low": low, "gates": gates.__dict__}
    report.update(events_reports(args, high, low))
    banking = faq_entries(args.banking_train, include_keywords=False)
    bank_rows = load_queries(args.banking_dev)
    queries = [r["text"] for r in bank_rows]
    random.Random(1).shuffle(queries)
    queries = queries[: args.queries]
    if not args.skip_banking:
        report.update(banking_report(args, banking, bank_rows, queries, high, low))
    report["scale"] = scale_report(banking, args.entries, queries, high, low)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
