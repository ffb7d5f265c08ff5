"""bench_matching's printed table (Markdown, as docs/matching.md quotes it) and its lists of misrouted rows."""
from __future__ import annotations

EVENT_REPORTS = (("events_with_intents", "events FAQ + built-in intents (production catalogue)"),
                 ("events", "ablation: events FAQ only, no intents"),
                 ("events_no_background", "ablation: production catalogue without the background class"))
OFF_TOPIC_REPORTS = (("off_topic", "off-topic set, production catalogue"),
                     ("off_topic_no_background", "off-topic set, without the background class"))


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def precision(routing: dict) -> str:
    return pct(routing["answer_precision"]) if routing["answer_precision"] is not None else "n/a"


def print_table(report: dict) -> None:
    g = report["gates"]
    print(f"thresholds (Settings defaults): high={report['high']}, low={report['low']}; gates: answer similarity "
          f"≥ {g['answer_similarity']}, clarify similarity ≥ {g['clarify_similarity']}, "
          f"coverage ≥ {g['min_coverage']}, off-topic at background probability ≥ {g['off_topic']}\n")
    print("| measure | value | target |")
    print("|---|---|---|")
    for name, label in EVENT_REPORTS:
        _print_events(label, report[name])
    for name, label in OFF_TOPIC_REPORTS:
        _print_off_topic(label, report[name]["routing"])
    _print_ablation(report["events_confidence_only"]["routing"])
    if "banking" in report:
        _print_banking(report)
    _print_scale(report)
    for key in ("temperature_cv_events", "temperature_cv_banking"):
        if key in report:
            print(f"| {key} | {report[key]} | |")
    _print_rows(report)


def _print_events(label: str, ev: dict) -> None:
    print(f"| **{label}** ({ev['entries']} entries, {ev['mode']}, fit {ev['fit_s']:.2f} s) | | |")
    for lang in ("en", "ar", "all"):
        a = ev["accuracy"][lang]
        print(f"| dev top-1 {lang.upper()} (n={a['n']}) | {pct(a['top1'])} | ≥ 95% |")
    r = ev["routing"]
    split = f" ({r['answered_faq']} faq + {r['answered_intent']} intent)" if r["answered_intent"] else ""
    share = pct(r["answered"] / r["in_scope"])
    print(f"| in-scope answered{split}, correct | {r['answered']}/{r['in_scope']} = {share}, "
          f"{r['answered_correct']} correct = {precision(r)} | ≥ 80% at ≥ 97% |")
    print(f"| in-scope clarified / to LLM | {r['clarify']} / {r['to_llm']} | |")
    held = r["confident_held_by_coverage"] + r["confident_held_by_similarity"]
    print(f"| in-scope with confidence ≥ high held back by a gate or the background (coverage / other) | {held} "
          f"({r['confident_held_by_coverage']} / {r['confident_held_by_similarity']}), "
          f"{r['confident_held_top1_correct']} of them with the right key | |")
    _print_off_topic("dev out-of-scope rows", r)


def _print_off_topic(label: str, r: dict) -> None:
    answered = r["oos_answered_faq"] + r["oos_answered_intent"]
    print(f"| {label}: answered (FAQ / intent) | {answered}/{r['oos_total']} ({r['oos_answered_faq']} / "
          f"{r['oos_answered_intent']}; clarify {r['oos_clarify']}, LLM {r['oos_to_llm']}) | ≤ 1 in 12 |")


def _print_ablation(r: dict) -> None:
    print(f"| ablation, production catalogue, confidence alone (gates off), dev + off-topic: answered, correct / "
          f"clarify / LLM / out-of-scope answered | {r['answered']}/{r['in_scope']}, {r['answered_correct']} correct "
          f"= {precision(r)} / {r['clarify']} / {r['to_llm']} / "
          f"{r['oos_answered_faq'] + r['oos_answered_intent']}/{r['oos_total']} (clarify {r['oos_clarify']}) | |")


def _model(m: dict) -> str:
    return f"{m['entries']} entries, {m['mode']}, {m['memory_mb']} MB of fitted arrays"


def _print_banking(report: dict) -> None:
    m = report["banking_model"]
    for lang, target in (("en", "≥ 93.5% (test)"), ("ar", "≥ 91% (MSA test)")):
        a = report["banking"][lang]
        print(f"| banking77 + intents, dev top-1 {lang.upper()} (n={a['n']}; {_model(m)}) | {pct(a['top1'])} "
              f"| {target} |")
    print(f"| fit time, Banking77 + intents ({report['banking_examples']} FAQ examples) | {m['fit_s']:.1f} s | |")
    lb = report["latency_banking77"]
    print(f"| decide latency, Banking77 + intents, p50 / p99 (CPU p50 / p99) | {lb['p50_ms']:.2f} / "
          f"{lb['p99_ms']:.2f} ms ({lb['cpu_p50_ms']:.2f} / {lb['cpu_p99_ms']:.2f}; load {lb['load_avg_1min']}) | |")


def _print_scale(report: dict) -> None:
    s = report["scale"]
    print(f"| fit time, {s['entries']} entries with intents ({s['examples']} examples; {_model(s)}) | "
          f"{s['fit_s']:.1f} s (CPU {s.get('fit_cpu_s', '?')} s) | < 60 s |")
    sl = s["latency"]
    print(f"| decide latency, {s['entries']} entries, p50 / p99 (CPU p50 / p99) | {sl['p50_ms']:.2f} / "
          f"{sl['p99_ms']:.2f} ms ({sl['cpu_p50_ms']:.2f} / {sl['cpu_p99_ms']:.2f}; load {sl['load_avg_1min']}) "
          f"| p99 < 5 ms |")
    for name, lat in (("Banking77 + intents", report.get("latency_banking77")), (str(s["entries"]), sl)):
        if lat:
            print(f"| … of which Matcher.rank / Matcher.evidence alone, {name} entries, p50 / p99 | "
                  f"{lat['rank_p50_ms']:.2f} / {lat['rank_p99_ms']:.2f} ms, {lat['evidence_p50_ms']:.2f} / "
                  f"{lat['evidence_p99_ms']:.2f} ms | |")


def _row(p: dict) -> str:
    return (f"  {p['text']!r} → {p['route']}:{p['key']} (conf {p['confidence']:.2f}, sim {p['similarity']:.2f}, "
            f"cov {p['coverage']:.2f}), expected {p['expected']}")


def _print_rows(report: dict) -> None:
    ev = report["events_with_intents"]
    print("\nevents_with_intents: top-1 errors", *map(_row, ev["errors"]), sep="\n")
    print("events_with_intents: right key but not answered", *map(_row, ev["not_answered"]), sep="\n")
    answered = [p for p in ev["oos"] + report["off_topic"]["oos"] if p["route"] not in ("llm", "fallback")]
    print("out of scope (dev and off-topic set) not sent to the LLM", *map(_row, answered), sep="\n")
