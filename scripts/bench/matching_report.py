"""bench_matching's printed table (Markdown, as docs/matching.md quotes it) and its lists of misrouted rows."""
from __future__ import annotations

EVENT_REPORTS = (("events", "events FAQ only"), ("events_with_intents", "events FAQ + built-in intents"))


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def precision(routing: dict) -> str:
    return pct(routing["answer_precision"]) if routing["answer_precision"] is not None else "n/a"


def print_table(report: dict) -> None:
    g = report["gates"]
    print(f"thresholds (Settings defaults): high={report['high']}, low={report['low']}; gates: answer similarity "
          f"≥ {g['answer_similarity']}, clarify similarity ≥ {g['clarify_similarity']}, "
          f"coverage ≥ {g['min_coverage']}\n")
    print("| measure | value | target |")
    print("|---|---|---|")
    for name, label in EVENT_REPORTS:
        _print_events(name, label, report[name])
    _print_ablation(report["events_confidence_only"]["routing"])
    if "banking" in report:
        _print_banking(report)
    _print_scale(report)
    for key in ("temperature_cv_events", "temperature_cv_banking"):
        if key in report:
            print(f"| {key} | {report[key]} | |")
    _print_rows(report)


def _print_events(name: str, label: str, ev: dict) -> None:
    print(f"| **{label}** ({ev['entries']} entries, fit {ev['fit_s']:.2f} s) | | |")
    for lang in ("en", "ar", "all"):
        a = ev["accuracy"][lang]
        print(f"| dev top-1 {lang.upper()} (n={a['n']}) | {pct(a['top1'])} | ≥ 95% |")
    r = ev["routing"]
    split = f" ({r['answered_faq']} faq + {r['answered_intent']} intent)" if r["answered_intent"] else ""
    print(f"| in-scope answered{split}, correct | {r['answered']}/{r['in_scope']}, "
          f"{r['answered_correct']} correct = {precision(r)} | |")
    print(f"| in-scope clarified / to LLM | {r['clarify']} / {r['to_llm']} | |")
    held = r["confident_held_by_coverage"] + r["confident_held_by_similarity"]
    print(f"| in-scope with confidence ≥ high held back by a gate (coverage / similarity) | {held} "
          f"({r['confident_held_by_coverage']} / {r['confident_held_by_similarity']}), "
          f"{r['confident_held_top1_correct']} of them with the right key | |")
    extra = f"; answered by an intent {r['oos_answered_intent']}" if name == "events_with_intents" else ""
    print(f"| out-of-scope answered from the FAQ | {r['oos_answered_faq']}/{r['oos_total']} "
          f"(clarify {r['oos_clarify']}, LLM {r['oos_to_llm']}{extra}) | ≤ 1 |")


def _print_ablation(r: dict) -> None:
    print(f"| ablation, FAQ only, confidence alone (gates off): answered, correct / clarify / LLM / out-of-scope "
          f"answered | {r['answered']}/{r['in_scope']}, {r['answered_correct']} correct = {precision(r)} / "
          f"{r['clarify']} / {r['to_llm']} / {r['oos_answered_faq']}/{r['oos_total']} (clarify {r['oos_clarify']}) "
          f"| |")


def _print_banking(report: dict) -> None:
    for lang, target in (("en", "≥ 93%"), ("ar", "≥ 90%")):
        a = report["banking"][lang]
        print(f"| banking77 dev top-1 {lang.upper()} (n={a['n']}) | {pct(a['top1'])} | {target} |")
    print(f"| fit time, Banking77 (77 entries, {report['banking_examples']} examples) | "
          f"{report['banking_fit_s']:.1f} s | |")
    lb = report["latency_banking77"]
    print(f"| decide latency, 77 entries, p50 / p99 (CPU p50 / p99) | {lb['p50_ms']:.2f} / {lb['p99_ms']:.2f} ms "
          f"({lb['cpu_p50_ms']:.2f} / {lb['cpu_p99_ms']:.2f}; load {lb['load_avg_1min']}) | |")


def _print_scale(report: dict) -> None:
    s = report["scale"]
    print(f"| fit time, {s['entries']} entries ({s['examples']} examples, {s['mode']}) | {s['fit_s']:.1f} s | |")
    sl = s["latency"]
    print(f"| decide latency, {s['entries']} entries, p50 / p99 (CPU p50 / p99) | {sl['p50_ms']:.2f} / "
          f"{sl['p99_ms']:.2f} ms ({sl['cpu_p50_ms']:.2f} / {sl['cpu_p99_ms']:.2f}; load {sl['load_avg_1min']}) "
          f"| p99 < 5 ms |")
    for name, lat in (("77", report.get("latency_banking77")), (str(s["entries"]), sl)):
        if lat:
            print(f"| … of which Matcher.rank / Matcher.evidence alone, {name} entries, p50 / p99 | "
                  f"{lat['rank_p50_ms']:.2f} / {lat['rank_p99_ms']:.2f} ms, {lat['evidence_p50_ms']:.2f} / "
                  f"{lat['evidence_p99_ms']:.2f} ms | |")


def _row(p: dict) -> str:
    return (f"  {p['text']!r} → {p['route']}:{p['key']} (conf {p['confidence']:.2f}, sim {p['similarity']:.2f}, "
            f"cov {p['coverage']:.2f}), expected {p['expected']}")


def _print_rows(report: dict) -> None:
    for name, _label in EVENT_REPORTS:
        ev = report[name]
        print(f"\n{name}: top-1 errors", *map(_row, ev["errors"]), sep="\n")
        print(f"{name}: right key but not answered", *map(_row, ev["not_answered"]), sep="\n")
        print(f"{name}: out of scope", *map(_row, ev["oos"]), sep="\n")
