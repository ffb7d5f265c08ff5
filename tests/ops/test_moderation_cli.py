"""`moderation import FILE` (CSV and YAML: upsert on (kind, pattern), idempotent, added/updated/unchanged, errors
naming the line and writing nothing) and `moderation list`; an import takes effect on the next turn, in this
process at once and in the others when they next check the table."""
from __future__ import annotations

import json

from sqlalchemy import select, update

from bot.core.db import db
from bot.dialog.moderation import rules
from models import ModerationRule
from tests.dialog.seam import Chat

CSV = """pattern,kind,action,replacement,active,note
خول,words,flag,,,insult
go to hell,words,block,,,
\\b\\d{16}\\b,regex,replace,[card],true,card numbers
"""
YAML = """rules:
  - pattern: خول
    action: block
  - pattern: idiot
    action: replace
    replacement: "#"
  - {pattern: go to hell, action: block, active: false}
"""


def run(app, *args):
    return app.test_cli_runner().invoke(args=["moderation", *args])


def stored(app) -> list[tuple]:
    with app.app_context(), db.session_scope() as session:
        return [(r.kind, r.pattern, r.action, r.replacement, r.active, r.note)
                for r in session.scalars(select(ModerationRule).order_by(ModerationRule.id))]


def test_csv_then_yaml_upsert_by_kind_and_pattern_and_again_changes_nothing(app, tmp_path):
    (tmp_path / "rules.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(YAML, encoding="utf-8")
    assert run(app, "import", str(tmp_path / "rules.csv")).output == "3 added, 0 updated, 0 unchanged\n"
    assert run(app, "import", str(tmp_path / "rules.csv")).output == "0 added, 0 updated, 3 unchanged\n"
    assert run(app, "import", str(tmp_path / "rules.yaml")).output == "1 added, 2 updated, 0 unchanged\n"
    assert stored(app) == [("words", "خول", "block", None, True, None),
                           ("words", "go to hell", "block", None, False, None),
                           ("regex", r"\b\d{16}\b", "replace", "[card]", True, "card numbers"),
                           ("words", "idiot", "replace", "#", True, None)]
    listed = run(app, "list").output.splitlines()
    assert listed[0].split() == ["1", "words", "block", "on", "خول"]
    assert "off" in listed[1] and "→ [card]" in listed[2] and "# card numbers" in listed[2]
    as_json = [json.loads(line) for line in run(app, "list", "--json").output.splitlines()]
    assert as_json[3] == {"id": 4, "kind": "words", "action": "replace", "active": True, "pattern": "idiot",
                          "replacement": "#", "note": None}


def test_bad_lines_are_named_and_nothing_is_written(app, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("pattern,kind,action,replacement\nfine,words,flag,\na(,regex,block,\n(x+)+y,regex,flag,\n"
                   "ok,words,delete,\n!!!,words,flag,\nfine,words,block,\nx,words,flag,***\n", encoding="utf-8")
    result = run(app, "import", str(bad))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("error: line 3: regex 'a(' is not valid")
    assert [line.split(":")[0] for line in lines[1:]] == ["line 4", "line 5", "line 6", "line 7", "line 8"]
    assert "the same words pattern as line 2" in lines[4] and "only for action replace" in lines[5]
    assert stored(app) == []
    yaml_bad = tmp_path / "bad.yaml"
    yaml_bad.write_text("- pattern: ok\n- pattern: '(a+)+b'\n  kind: regex\n", encoding="utf-8")
    assert run(app, "import", str(yaml_bad)).output.startswith("error: line 2: regex '(a+)+b' repeats")
    assert run(app, "list").output.startswith("no moderation rules")


def test_an_import_applies_at_once_here_and_within_the_check_interval_elsewhere(app, tmp_path, monkeypatch):
    chat = Chat(app, "+967719700001")
    assert chat.say("go to hell").route[0] != "moderation"
    (tmp_path / "rules.csv").write_text(CSV, encoding="utf-8")
    run(app, "import", str(tmp_path / "rules.csv"))
    assert chat.say("go to hell").route[:2] == ("moderation", "blocked"), "this process: invalidated"
    with app.app_context(), db.session_scope() as session:  # another process retires the rule
        session.execute(update(ModerationRule).where(ModerationRule.pattern == "go to hell").values(active=False))
    monkeypatch.setattr(rules, "CHECK_SECONDS", 0.0)
    assert chat.say("go to hell").route[0] != "moderation"
