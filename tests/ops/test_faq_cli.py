"""`flask faq import|export|match`: the FAQ as data (CSV and YAML, upserted by key, all or nothing) and the
router's decision explained, one JSON object a line for evaluation scripts."""
from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, text, update

from bot.core.db import db as database
from models import FAQ

EVAL = Path(__file__).resolve().parents[1] / "data"  # copies of ../shared/eval/events_faq*.csv
EVENTS_FAQ = EVAL / "events_faq.csv"
EVENTS_DEV = EVAL / "events_faq_dev.csv"
COLUMNS = ["key", "category", "question_en", "question_ar", "answer_en", "answer_ar", "keywords"]
CONTENT = ("key", "category", "questions_en", "questions_ar", "answer_en", "answer_ar", "keywords", "is_active")


def faq_import(runner, path):
    return runner.invoke(args=["faq", "import", str(path)])


def rows(app) -> dict[str, tuple]:
    """Every FAQ row's content by key."""
    with app.app_context(), database.session_scope() as s:
        return {f.key: tuple(getattr(f, c) for c in CONTENT) for f in s.scalars(select(FAQ))}


def full_rows(app) -> dict[str, dict]:
    with app.app_context(), database.session_scope() as s:
        return {f.key: {a.key: getattr(f, a.key) for a in FAQ.__mapper__.column_attrs}
                for f in s.scalars(select(FAQ))}


def truncate_faq(app) -> None:
    with app.app_context(), database.session_scope() as s:
        s.execute(text("TRUNCATE chatbot_faq RESTART IDENTITY"))


def read_events() -> list[dict]:
    return list(csv.DictReader(EVENTS_FAQ.open(encoding="utf-8")))


def write_csv(path: Path, records: list[dict]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(records)
    return path


# --- import ----------------------------------------------------------------------------------------------

def test_import_creates_the_28_events_entries(app, runner):
    result = faq_import(runner, EVENTS_FAQ)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("28 created, 0 updated, 0 unchanged"), result.stdout
    assert "28 FAQ entries" in result.stdout
    stored = rows(app)
    assert len(stored) == 28
    parking = dict(zip(CONTENT, stored["parking"], strict=True))
    assert parking["category"] == "venue"
    assert parking["questions_en"] == ["Is there parking?", "Where can I park my car?", "Do you have a parking lot?"]
    assert parking["questions_ar"] == ["هل يوجد موقف سيارات؟", "وين أوقف سيارتي؟", "في باركنج؟"]
    assert parking["answer_en"].startswith("Free parking is available behind Greenists Hall")
    assert parking["is_active"] is True
    source = {r["key"]: r for r in read_events()}
    assert stored["tickets_price"][CONTENT.index("keywords")] == source["tickets_price"]["keywords"].split(",")
    for key, record in source.items():
        assert stored[key][CONTENT.index("answer_ar")] == record["answer_ar"]


def test_import_again_changes_nothing(app, runner):
    assert faq_import(runner, EVENTS_FAQ).exit_code == 0
    before = full_rows(app)
    result = faq_import(runner, EVENTS_FAQ)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("0 created, 0 updated, 28 unchanged"), result.stdout
    assert full_rows(app) == before, "ids, counters and updated_at are untouched"


def test_modified_file_updates_changed_rows_and_keeps_counters(app, runner, tmp_path):
    assert faq_import(runner, EVENTS_FAQ).exit_code == 0
    with app.app_context(), database.session_scope() as s:
        s.execute(update(FAQ).where(FAQ.key == "parking").values(view_count=7, helpful_count=2))
    records = read_events()
    for r in records:
        if r["key"] == "parking":
            r["answer_en"] = "Parking is now paid: 500 YER."
        if r["key"] == "wifi":
            r["question_ar"] += " | وش باسورد الواي فاي؟"
    records.append({"key": "prayer_room", "category": "venue", "question_en": "Is there a prayer room?",
                    "question_ar": "في مصلى؟", "answer_en": "Yes, next to the entrance.",
                    "answer_ar": "نعم، بجانب المدخل.", "keywords": "prayer,مصلى"})
    result = faq_import(runner, write_csv(tmp_path / "changed.csv", records))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1 created, 2 updated, 26 unchanged"), result.stdout
    stored = full_rows(app)
    assert len(stored) == 29
    assert stored["parking"]["answer_en"] == "Parking is now paid: 500 YER."
    assert (stored["parking"]["view_count"], stored["parking"]["helpful_count"]) == (7, 2)
    assert stored["wifi"]["questions_ar"][-1] == "وش باسورد الواي فاي؟"
    assert stored["prayer_room"]["keywords"] == ["prayer", "مصلى"]


GOOD = {"key": "good_one", "category": "x", "question_en": "Is it good?", "question_ar": "", "answer_en": "Yes.",
        "answer_ar": "", "keywords": ""}

# name, the bad record (placed as the 3rd data row = CSV line 4), what the message must say
BAD_ROWS = [
    ("missing key", {**GOOD, "key": ""}, ["row 4", "key"]),
    ("key with spaces", {**GOOD, "key": "bad key"}, ["row 4", "'bad key'"]),
    ("no question", {**GOOD, "key": "no_question", "question_en": ""}, ["row 4", "'no_question'", "question"]),
    ("no answer", {**GOOD, "key": "no_answer", "answer_en": ""}, ["row 4", "'no_answer'", "answer"]),
    ("duplicate key", {**GOOD, "key": "first"}, ["row 4", "'first'", "duplicate of row 2"]),
]


@pytest.mark.parametrize("name, bad, expected", BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_bad_row_fails_the_whole_import(app, runner, tmp_path, name, bad, expected):
    assert faq_import(runner, EVENTS_FAQ).exit_code == 0
    before = full_rows(app)
    records = [{**GOOD, "key": "first"}, {**GOOD, "key": "second"}, bad,
               {**read_events()[6], "answer_en": "CHANGED"}]  # would update parking if the file were good
    result = faq_import(runner, write_csv(tmp_path / "bad.csv", records))
    assert result.exit_code == 1
    for fragment in expected:
        assert fragment in result.stderr, (fragment, result.stderr)
    assert full_rows(app) == before, "nothing is written when any row is bad"


def test_every_bad_row_is_named_and_nothing_written_to_an_empty_table(app, runner, tmp_path):
    records = [GOOD, {**GOOD, "key": ""}, {**GOOD, "key": "q", "question_en": ""},
               {**GOOD, "key": "a", "answer_en": ""}, GOOD]
    result = faq_import(runner, write_csv(tmp_path / "bad.csv", records))
    assert result.exit_code == 1
    for fragment in ("row 3", "row 4 (key 'q')", "row 5 (key 'a')", "row 6 (key 'good_one'): duplicate of row 2"):
        assert fragment in result.stderr, (fragment, result.stderr)
    assert rows(app) == {}


def test_yaml_import_with_lists(app, runner, tmp_path):
    path = tmp_path / "faq.yaml"
    path.write_text(yaml.safe_dump([
        {"key": "prayer_room", "category": "venue",
         "question_en": ["Is there a prayer room?", "Where can I pray?"],
         "question_ar": ["في مصلى؟", "وين أصلي؟"],
         "answer_en": "Yes, next to the entrance.", "answer_ar": "نعم، بجانب المدخل.",
         "keywords": ["prayer", "مصلى"]},
        {"key": "lockers", "question_en": "Are there lockers? | Can I leave my bag?",
         "answer_en": "Small lockers are free at the door.", "keywords": "locker, bag"},
    ], allow_unicode=True), encoding="utf-8")
    result = faq_import(runner, path)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("2 created, 0 updated, 0 unchanged"), result.stdout
    stored = full_rows(app)
    assert stored["prayer_room"]["questions_en"] == ["Is there a prayer room?", "Where can I pray?"]
    assert stored["prayer_room"]["questions_ar"] == ["في مصلى؟", "وين أصلي؟"]
    assert stored["prayer_room"]["keywords"] == ["prayer", "مصلى"]
    assert stored["lockers"]["questions_en"] == ["Are there lockers?", "Can I leave my bag?"]
    assert (stored["lockers"]["questions_ar"], stored["lockers"]["answer_ar"]) == ([], None)
    assert stored["lockers"]["keywords"] == ["locker", "bag"]
    assert stored["lockers"]["category"] is None


def test_yaml_bad_row_is_named_and_nothing_written(app, runner, tmp_path):
    path = tmp_path / "faq.yaml"
    path.write_text(yaml.safe_dump([{"key": "ok", "question_en": ["Q?"], "answer_en": "A."},
                                    {"key": "empty", "question_en": ["Q?"]}]), encoding="utf-8")
    result = faq_import(runner, path)
    assert result.exit_code == 1
    assert "row 2 (key 'empty')" in result.stderr
    assert rows(app) == {}


@pytest.mark.parametrize("intent", ["greeting", "human"])
def test_key_clashing_with_an_intent_is_refused(app, runner, tmp_path, intent):
    result = faq_import(runner, write_csv(tmp_path / "clash.csv", [GOOD, {**GOOD, "key": intent}]))
    assert result.exit_code == 1
    assert intent in result.stderr and "intent" in result.stderr
    assert rows(app) == {}


# --- export ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["out.csv", "out.yaml"])
def test_export_round_trips(app, runner, tmp_path, name):
    assert faq_import(runner, EVENTS_FAQ).exit_code == 0
    before = rows(app)
    path = tmp_path / name
    result = runner.invoke(args=["faq", "export", str(path)])
    assert result.exit_code == 0, result.output
    assert "exported 28 entries" in result.stdout

    again = faq_import(runner, path)
    assert again.stdout.startswith("0 created, 0 updated, 28 unchanged"), again.output

    truncate_faq(app)
    assert rows(app) == {}
    result = faq_import(runner, path)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("28 created"), result.stdout
    assert rows(app) == before


def test_export_csv_is_the_import_format(app, runner, tmp_path):
    assert faq_import(runner, EVENTS_FAQ).exit_code == 0
    path = tmp_path / "out.csv"
    assert runner.invoke(args=["faq", "export", str(path)]).exit_code == 0
    exported = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert list(exported[0]) == COLUMNS
    source = {r["key"]: r for r in read_events()}
    assert [r["key"] for r in exported] == sorted(source)
    for record in exported:
        assert record == source[record["key"]], record["key"]


def test_export_yaml_lists_phrasings_as_lists(app, runner, tmp_path):
    assert faq_import(runner, EVENTS_FAQ).exit_code == 0
    path = tmp_path / "out.yaml"
    assert runner.invoke(args=["faq", "export", str(path)]).exit_code == 0
    assert "وين أوقف سيارتي؟" in path.read_text(encoding="utf-8"), "Arabic is written as text, not escapes"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert len(data) == 28
    parking = next(d for d in data if d["key"] == "parking")
    assert parking["question_en"] == ["Is there parking?", "Where can I park my car?", "Do you have a parking lot?"]
    source = next(r for r in read_events() if r["key"] == "parking")
    assert parking["keywords"] == [k.strip() for k in source["keywords"].split(",")]
    assert (parking["answer_en"], parking["answer_ar"]) == (source["answer_en"], source["answer_ar"])
    assert {"key", "category", "question_en", "question_ar", "answer_en", "answer_ar", "keywords"} <= set(parking)


# --- match -----------------------------------------------------------------------------------------------

def test_match_explains_the_decision(app, runner):
    assert faq_import(runner, EVENTS_FAQ).exit_code == 0
    result = runner.invoke(args=["faq", "match", "how much is a ticket"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "text:       how much is a ticket" in out
    route_line = next(line for line in out.splitlines() if line.startswith("route:"))
    assert route_line.split()[1] in ("faq", "clarify", "llm")
    candidate_lines = [line for line in out.splitlines() if line.startswith("  ")]
    assert len(candidate_lines) >= 2
    keys = [line.split()[-1] for line in candidate_lines]
    assert "tickets_price" in keys
    assert all(line.split()[1] in ("faq", "intent") for line in candidate_lines)


def test_match_without_text_or_file_is_a_usage_error(app, runner):
    result = runner.invoke(args=["faq", "match"])
    assert result.exit_code == 2


def test_match_file_json_over_the_dev_set(app, runner, tmp_path):
    assert faq_import(runner, EVENTS_FAQ).exit_code == 0
    dev = list(csv.DictReader(EVENTS_DEV.open(encoding="utf-8")))
    assert len(dev) == 70
    queries = tmp_path / "queries.txt"
    queries.write_text("\n".join(r["text"] for r in dev) + "\n\n", encoding="utf-8")

    started = time.perf_counter()
    result = runner.invoke(args=["faq", "match", "--file", str(queries), "--json"])
    seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert seconds < 15, f"70 queries took {seconds:.1f}s"

    lines = result.stdout.splitlines()
    assert len(lines) == 70, "one JSON object per query, blank lines skipped"
    results = [json.loads(line) for line in lines]
    assert [r["text"] for r in results] == [r["text"] for r in dev]
    for r in results:
        assert set(r) == {"text", "route", "key", "confidence", "candidates"}
        assert r["route"] in ("intent", "faq", "clarify", "llm", "fallback")
        assert isinstance(r["confidence"], float) and 0 <= r["confidence"] <= 1
        assert r["candidates"] and all(set(c) == {"key", "score"} for c in r["candidates"])
        assert r["key"] == r["candidates"][0]["key"]
        scores = [c["score"] for c in r["candidates"]]
        assert scores == sorted(scores, reverse=True)
    out_of_scope = [r for r, d in zip(results, dev, strict=True) if d["expected_key"] == "none"]
    assert len(out_of_scope) == 6
    assert sum(r["route"] == "faq" for r in out_of_scope) <= 1, out_of_scope
    answered = [(r, d) for r, d in zip(results, dev, strict=True) if r["route"] == "faq"]
    assert answered, "the in-scope dev questions are mostly answered"
    assert all(r["key"] in {x["key"] for x in read_events()} for r, _ in answered)
    assert '"\\u06' not in result.stdout, "Arabic is printed as text"


def test_file_that_is_not_utf8_is_refused(app, runner, tmp_path):
    path = tmp_path / "windows.csv"
    path.write_bytes((",".join(COLUMNS) + "\nparking,venue,Is there parking?,هل يوجد موقف؟,Yes.,نعم.,\n")
                     .encode("cp1256"))
    result = faq_import(runner, path)
    assert result.exit_code == 1
    assert result.stderr.startswith("error:")
    assert rows(app) == {}


def test_csv_without_the_answer_columns_is_refused(app, runner, tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("key,question_en\nparking,Is there parking?\n", encoding="utf-8")
    result = faq_import(runner, path)
    assert result.exit_code == 1
    assert "answer_en" in result.stderr and "answer_ar" in result.stderr
    assert rows(app) == {}
