"""/broadcast EVENT TEXT (admins also /broadcast all TEXT), /broadcast cancel ID, /broadcasts.

Nothing is sent on the command itself: it answers with the plan (recipients, inside and outside WhatsApp's
24-hour window, the template or the skip outside it, opted-out and banned users excluded, the time it will take)
and the broadcast's id, and waits. "yes" / "نعم" confirms — the broadcast becomes `sending` and its recipients
are written, once (a conditional UPDATE and the (broadcast, user) key) — and anything else cancels. The clock
and the workers do the sending (bot/campaigns/broadcasts.py).
"""
from __future__ import annotations

import math
import re
from dataclasses import replace

from sqlalchemy import insert, select, update

from bot.delivery import audience
from bot.delivery.broadcast_report import describe
from bot.delivery.reach import SKIP
from bot.dialog import state
from bot.dialog.console.access import own_event
from bot.dialog.console.replies import Outcome, say
from bot.dialog.context import TurnContext
from bot.i18n import catalog, localize
from bot.nlu.normalize import normalize
from models import Broadcast, BroadcastRecipient, Event
from models.base import utcnow

CONFIRM = "confirm_broadcast"  # the dialog state while a plan waits for its yes
MAX_TEXT = 1000  # the text also travels as a template variable (WhatsApp's limit is 1,024)
YES = frozenset(normalize(w) for w in ("yes", "y", "send", "ok", "نعم", "ايوه", "ايه", "اي", "ارسل", "أرسل",
                                       "موافق", "تمام"))
CANCEL_WORDS = ("cancel", "الغاء", "إلغاء", "الغ")
LISTED = 5


def broadcast(ctx: TurnContext, arguments: list[str]) -> Outcome:
    if arguments and arguments[0].lower() in CANCEL_WORDS:
        return cancel(ctx, arguments[1:])
    if len(arguments) < 2:
        return Outcome(say(ctx, "broadcast_usage", "broadcast"), "invalid")
    text = _text_after(ctx.text, 2)
    if len(text) > MAX_TEXT:
        return Outcome(say(ctx, "broadcast_too_long", "broadcast", limit=localize.number(MAX_TEXT, ctx.language)),
                       "invalid")
    if arguments[0].lower() in ("all", "الكل", "الجميع"):
        if ctx.user.role != "admin":
            return Outcome(say(ctx, "broadcast_all_admins", "broadcast"), "refused")
        return _plan(ctx, None, text)
    event = own_event(ctx.session, ctx.user, arguments[0])
    if event is None:
        return Outcome(say(ctx, "console_no_such_event", "broadcast", code=arguments[0]), "not_found")
    return _plan(ctx, event, text)


def _plan(ctx: TurnContext, event: Event | None, text: str) -> Outcome:
    now = utcnow()
    planned = audience.plan(ctx.session, audience.audience(ctx.session, event.id if event else None), now,
                            _templates(ctx))
    counts = audience.plan_counts(planned)
    row = Broadcast(event_id=event.id if event else None, author_id=ctx.user.id, scope="event" if event else "all",
                    body=text, language=ctx.language, status="planned", plan=counts, created_at=now)
    ctx.session.add(row)
    ctx.session.flush()
    reachable = counts["inside"] + counts["template"]
    if not reachable:
        row.status = "expired"
        return Outcome(say(ctx, "broadcast_nobody", "broadcast", audience=_audience(ctx, event),
                           **_numbers(ctx, counts)), "invalid", detail=f"broadcast_id={row.id}")
    seconds = math.ceil(reachable / ctx.settings.broadcast_mps)
    reply = say(ctx, "broadcast_plan", "broadcast", id=localize.number(row.id, ctx.language),
                audience=_audience(ctx, event), text=text, eta=_duration(seconds, ctx.language),
                mps=localize.number(round(ctx.settings.broadcast_mps), ctx.language), **_numbers(ctx, counts))
    awaiting = state.stamped({"kind": CONFIRM, "id": row.id})
    return Outcome(replace(reply, awaiting=awaiting), detail=f"broadcast_id={row.id}")


def answer_plan(ctx: TurnContext) -> Outcome:
    """The reply to a plan: "yes" sends it, anything else cancels it."""
    broadcast_id = ctx.awaiting["id"]
    if normalize(ctx.text) not in YES:
        _cancel_row(ctx, broadcast_id, ("planned",))
        return Outcome(say(ctx, "broadcast_dropped", "broadcast", id=localize.number(broadcast_id, ctx.language)),
                       "cancelled", detail=f"broadcast_id={broadcast_id}")
    started = ctx.session.execute(update(Broadcast).where(Broadcast.id == broadcast_id, Broadcast.status == "planned",
                                                          Broadcast.author_id == ctx.user.id)
                                  .values(status="sending", confirmed_at=utcnow())).rowcount == 1
    if not started:
        return Outcome(say(ctx, "broadcast_already", "broadcast", id=localize.number(broadcast_id, ctx.language)),
                       "already", detail=f"broadcast_id={broadcast_id}")
    row = ctx.session.get(Broadcast, broadcast_id)
    planned = audience.plan(ctx.session, audience.audience(ctx.session, row.event_id), utcnow(), _templates(ctx))
    ctx.session.execute(insert(BroadcastRecipient), [
        {"broadcast_id": broadcast_id, "user_id": p.user_id, "status": "skipped" if p.how == SKIP else "queued",
         "reason": p.reason if p.how == SKIP else None, "created_at": utcnow()} for p in planned])
    queued = sum(1 for p in planned if p.how != SKIP)
    return Outcome(say(ctx, "broadcast_started", "broadcast", id=localize.number(broadcast_id, ctx.language),
                       count=localize.number(queued, ctx.language)), detail=f"broadcast_id={broadcast_id}")


def cancel(ctx: TurnContext, arguments: list[str]) -> Outcome:
    if not arguments or not arguments[0].lstrip("#").isdigit():
        return Outcome(say(ctx, "broadcast_usage", "broadcast"), "invalid")
    broadcast_id = int(arguments[0].lstrip("#"))
    row = ctx.session.get(Broadcast, broadcast_id)
    if row is None or not _may_see(ctx, row):
        return Outcome(say(ctx, "broadcast_not_found", "broadcast", id=arguments[0]), "not_found")
    if not _cancel_row(ctx, broadcast_id, ("planned", "sending")):
        return Outcome(say(ctx, "broadcast_not_running", "broadcast", id=localize.number(broadcast_id, ctx.language)),
                       "already", detail=f"broadcast_id={broadcast_id}")
    stopped = ctx.session.execute(update(BroadcastRecipient)
                                  .where(BroadcastRecipient.broadcast_id == broadcast_id,
                                         BroadcastRecipient.status == "queued")
                                  .values(status="cancelled", reason="cancelled")).rowcount
    return Outcome(say(ctx, "broadcast_cancelled", "broadcast", id=localize.number(broadcast_id, ctx.language),
                       count=localize.number(stopped, ctx.language)), detail=f"broadcast_id={broadcast_id}")


def broadcasts(ctx: TurnContext, arguments: list[str]) -> Outcome:
    query = select(Broadcast).where(Broadcast.status.notin_(("planned", "expired"))).order_by(Broadcast.id.desc())
    rows = [b for b in ctx.session.scalars(query.limit(50)) if _may_see(ctx, b)][:LISTED]
    if not rows:
        return Outcome(say(ctx, "broadcast_list_none", "broadcasts"))
    blocks = [catalog.say("broadcast_list_item", ctx.language, id=localize.number(b.id, ctx.language),
                          audience=_audience(ctx, ctx.session.get(Event, b.event_id) if b.event_id else None),
                          status=catalog.say(f"broadcast_status_{b.status}", ctx.language),
                          counts=describe(audience.outcome(ctx.session, b.id), ctx.language)) for b in rows]
    return Outcome(say(ctx, "broadcast_list", "broadcasts", items="\n\n".join(blocks)))


def _cancel_row(ctx: TurnContext, broadcast_id: int, states: tuple[str, ...]) -> bool:
    return ctx.session.execute(update(Broadcast).where(Broadcast.id == broadcast_id, Broadcast.status.in_(states))
                               .values(status="cancelled", finished_at=utcnow())).rowcount == 1


def _may_see(ctx: TurnContext, row: Broadcast) -> bool:
    """Admins see every broadcast; organizers those of their events (and their own)."""
    if ctx.user.role == "admin" or row.author_id == ctx.user.id:
        return True
    event = ctx.session.get(Event, row.event_id) if row.event_id else None
    return event is not None and own_event(ctx.session, ctx.user, event.code) is not None


def _text_after(text: str, words: int) -> str:
    """The message after the command and its first `words - 1` arguments, its own line breaks kept."""
    parts = re.split(r"[ \t\r\n]+", text.strip(), maxsplit=words)
    return parts[words].strip() if len(parts) > words else ""


def _templates(ctx: TurnContext) -> dict[str, str | None]:
    return {"en": ctx.settings.broadcast_template_sid_en, "ar": ctx.settings.broadcast_template_sid_ar}


def _audience(ctx: TurnContext, event: Event | None) -> str:
    return event.title(ctx.language) if event else catalog.say("broadcast_audience_all", ctx.language)


def _numbers(ctx: TurnContext, counts: dict[str, int]) -> dict[str, str]:
    return {key: localize.number(value, ctx.language) for key, value in counts.items()}


def _duration(seconds: int, language: str) -> str:
    if seconds < 10:
        return catalog.say("broadcast_eta_moment", language)
    if seconds < 90:
        return catalog.say("broadcast_eta_seconds", language, n=localize.number(max(seconds, 1), language))
    return catalog.say("broadcast_eta_minutes", language, n=localize.number(math.ceil(seconds / 60), language))
