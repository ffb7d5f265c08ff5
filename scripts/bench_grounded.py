#!/usr/bin/env python
"""Grounded answers and broken-step dialogues, end to end: signed webhooks into the embedded bot (SQLite, jobs in
a thread, replies to a local outbox, no LLM), judged on what the bot sent.

    .venv/bin/python scripts/bench_grounded.py [--questions tests/data/grounded_dev.csv]
        [--events tests/data/grounded_events.yaml] [--dialogues tests/data/broken_steps_dev.yaml] [--json OUT]

Questions (`text,code,aspect,language`): answered right when the reply was routed from the events table (not the
LLM, which is off), is in the question's language and carries the event's own fact (its Aden start time, price
or "free", venue, seats note or end time). Dialogues (YAML: turns, and what the last reply must be) recover when
the last reply has the expected route key and dialog state. Prints the shares and every miss.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import yaml
from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import create_app
from bot.core.db import db
from bot.core.settings import DEV_AUTH_TOKEN, Settings
from bot.events import files, views
from bot.events.demo import aden_today, event_file_row
from bot.i18n import catalog, localize
from models import Conversation, Event, Message
from models.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
PATH = "/webhooks/twilio/messages"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", default=str(DATA / "grounded_dev.csv"))
    parser.add_argument("--events", default=str(DATA / "grounded_events.yaml"))
    parser.add_argument("--dialogues", default=str(DATA / "broken_steps_dev.yaml"))
    parser.add_argument("--faq", default=str(DATA / "events_faq.csv"))
    parser.add_argument("--json", help="write the figures and misses here")
    return parser.parse_args()


def build_app(workdir: Path, args):
    url = f"sqlite:///{workdir}/bot.sqlite3"
    upgrade(url)
    app = create_app(Settings(env="development", database_url=url, outbox_path=str(workdir / "outbox.jsonl"),
                              reminder_check_seconds=0, feedback_prompt=True))
    assert app.test_cli_runner().invoke(args=["faq", "import", args.faq]).exit_code == 0
    spec = yaml.safe_load(Path(args.events).read_text(encoding="utf-8"))
    rows = files.check_rows([(n, event_file_row(e, spec["organizer"], aden_today()))
                             for n, e in enumerate(spec["events"], start=1)])
    with app.app_context(), db.session_scope() as session:
        files.import_rows(session, rows)
    return app


class Sender:
    """Signed webhooks from one phone, through the app's real webhook; the reply read back from the database."""

    def __init__(self, app, phone: str) -> None:
        self.app, self.phone, self.client, self.n = app, phone, app.test_client(), 0
        self.validator = RequestValidator(DEV_AUTH_TOKEN)

    def say(self, text: str) -> dict:
        self.n += 1
        sid = f"SMbench{self.phone[-6:]}{self.n:04d}{time.monotonic_ns() % 10**6}"
        form = {"MessageSid": sid, "From": f"whatsapp:{self.phone}", "To": "whatsapp:+14155238886", "Body": text,
                "NumMedia": "0", "ProfileName": "Bench", "WaId": self.phone.lstrip("+")}
        signature = self.validator.compute_signature("http://localhost" + PATH, form)
        response = self.client.post(PATH, data=urllib.parse.urlencode(form),
                                    content_type="application/x-www-form-urlencoded",
                                    headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200, response.data
        self.app.extensions["runtime"].queue.join()
        return self._reply(sid)

    def _reply(self, sid: str) -> dict:
        with self.app.app_context(), db.session_scope() as session:
            inbound = session.query(Message).filter(Message.twilio_sid == sid).one()
            reply = (session.query(Message).filter(Message.reply_to_id == inbound.id)
                     .order_by(Message.part_index).first())
            conversation = session.get(Conversation, inbound.conversation_id)
            awaiting = (conversation.context or {}).get("awaiting")
            return {"route": reply.route, "route_key": reply.route_key, "language": reply.language,
                    "body": reply.body, "awaiting": (awaiting or {}).get("kind")}


def expected_fact(event: Event, aspect: str, language: str) -> str:
    if aspect == "when":
        return localize.when(event.starts_at, language, event.timezone)
    if aspect == "price":
        if event.price_yer == 0:
            return catalog.say("fact_price_free", language, title=event.title(language))
        return localize.price(event.price_yer, language)
    if aspect == "where":
        return event.venue(language)
    if aspect == "seats":
        return views.seats_note(event, language)
    return localize.clock(event.ends_at, language, event.timezone)


def run_questions(app, path: Path) -> tuple[int, list[dict]]:
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    misses = []
    for i, row in enumerate(rows):
        reply = Sender(app, f"+9677166{i:05d}").say(row["text"])
        with app.app_context(), db.session_scope() as session:
            event = session.query(Event).filter(Event.code == row["code"]).one()
            fact = expected_fact(event, row["aspect"], row["language"])
        right = reply["route"] == "facts" and reply["language"] == row["language"] and fact in reply["body"]
        if not right:
            misses.append({**row, "got": reply})
    return len(rows), misses


def run_dialogues(app, path: Path) -> tuple[int, list[dict]]:
    dialogues = yaml.safe_load(path.read_text(encoding="utf-8"))
    misses = []
    for i, dialogue in enumerate(dialogues):
        sender = Sender(app, f"+9677177{i:05d}")
        reply = None
        for turn in dialogue["turns"]:
            reply = sender.say(turn)
        want = dialogue["expect"]
        ok = all(reply.get(k) == v for k, v in want.items())
        if not ok:
            misses.append({"name": dialogue["name"], "expect": want, "got": reply})
    return len(dialogues), misses


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Path(tmp), args)
        started = time.perf_counter()
        asked, wrong = run_questions(app, Path(args.questions))
        dialogues, stuck = run_dialogues(app, Path(args.dialogues))
        seconds = time.perf_counter() - started
        app.extensions["db"].engine.dispose()
    figures = {"questions": asked, "grounded_right": asked - len(wrong),
               "grounded_share": round((asked - len(wrong)) / asked, 4) if asked else None,
               "dialogues": dialogues, "recovered": dialogues - len(stuck), "seconds": round(seconds, 1),
               "question_misses": wrong, "dialogue_misses": stuck}
    print(f"grounded questions answered with the event's own fact, in their language, without the LLM: "
          f"{figures['grounded_right']}/{asked} ({100 * (figures['grounded_share'] or 0):.1f} %)")
    print(f"broken-step dialogues that recovered: {figures['recovered']}/{dialogues}")
    for miss in wrong:
        print(f"  miss: {miss['text']!r} ({miss['code']} {miss['aspect']}) -> {miss['got']['route']} "
              f"{miss['got']['route_key']}: {miss['got']['body'][:90]!r}")
    for miss in stuck:
        print(f"  stuck: {miss['name']}: want {miss['expect']}, got {({k: miss['got'][k] for k in miss['expect']})}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
