"""The console's commands: /events, /stats [EVENT], /attendees EVENT [page], /checkin CODE."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select

from bot.core.phones import mask
from bot.core.signing import sign
from bot.dialog.console.access import own_event, own_events
from bot.dialog.console.handoffs import waiting
from bot.dialog.console.replies import Outcome, say
from bot.dialog.context import TurnContext
from bot.events.checkin import check_in
from bot.events.roster import ROSTER_LINK_HOURS, ROSTER_PURPOSE, roster_token
from bot.i18n import localize
from models import AIInteraction, Event, Message, Registration, User
from models.base import utcnow

PAGE = 10
ANSWERED_BY = ("dialog", "intent", "facts", "faq", "llm", "button")


def events(ctx: TurnContext, arguments: list[str]) -> Outcome:
    mine = own_events(ctx.session, ctx.user)
    if not mine:
        return Outcome(say(ctx, "console_events_none", "events"))
    checked = _status_counts(ctx, [e.id for e in mine], "checked_in")
    lines = "\n".join(_event_line(ctx, e, checked.get(e.id, 0)) for e in mine)
    return Outcome(say(ctx, "console_events", "events", lines=lines))


def stats(ctx: TurnContext, arguments: list[str]) -> Outcome:
    bot_wide = say(ctx, "console_stats_bot", "stats", **_bot_numbers(ctx))
    if not arguments:
        return Outcome(bot_wide)
    event = own_event(ctx.session, ctx.user, arguments[0])
    if event is None:
        return Outcome(say(ctx, "console_no_such_event", "stats", code=arguments[0]), "not_found")
    counts = dict(ctx.session.execute(select(Registration.status, func.count())
                                      .where(Registration.event_id == event.id)
                                      .group_by(Registration.status)).all())
    n = _number(ctx)
    about = say(ctx, "console_stats_event", "stats", title=event.title(ctx.language), code=event.code,
                registrations=n(counts.get("registered", 0) + counts.get("checked_in", 0)),
                seats=n(event.seats_taken), capacity=n(event.capacity), checked_in=n(counts.get("checked_in", 0)),
                cancelled=n(counts.get("cancelled", 0)))
    return Outcome(replace(about, text=f"{about.text}\n\n{bot_wide.text}"))


def attendees(ctx: TurnContext, arguments: list[str]) -> Outcome:
    if not arguments:
        example = own_events(ctx.session, ctx.user)[:1]
        return Outcome(say(ctx, "console_needs_event", "attendees", command="/attendees",
                           example=example[0].code if example else "CODE"), "invalid")
    event = own_event(ctx.session, ctx.user, arguments[0])
    if event is None:
        return Outcome(say(ctx, "console_no_such_event", "attendees", code=arguments[0]), "not_found")
    page = int(arguments[1]) if len(arguments) > 1 and arguments[1].isdigit() and int(arguments[1]) > 0 else 1
    rows = ctx.session.execute(select(Registration, User).join(User, User.id == Registration.user_id)
                               .where(Registration.event_id == event.id, Registration.status != "cancelled")
                               .order_by(Registration.id)).all()
    if not rows:
        return Outcome(say(ctx, "console_attendees_none", "attendees", title=event.title(ctx.language)))
    first = (page - 1) * PAGE
    shown = rows[first:first + PAGE]
    lines = "\n".join(_attendee_line(ctx, first + i, r, u) for i, (r, u) in enumerate(shown, start=1))
    more = (say(ctx, "console_attendees_more", "attendees", code=event.code, page=page + 1).text
            if first + PAGE < len(rows) else "")
    n = _number(ctx)
    return Outcome(say(ctx, "console_attendees", "attendees", title=event.title(ctx.language), first=n(first + 1),
                       last=n(first + len(shown)), total=n(len(rows)), lines=lines,
                       more=more + _roster_link(ctx, event)))


def checkin(ctx: TurnContext, arguments: list[str]) -> Outcome:
    if not arguments:
        return Outcome(say(ctx, "checkin_needs_code", "checkin"), "invalid")
    code = arguments[0].upper()
    allowed = None if ctx.user.role == "admin" else {e.id for e in own_events(ctx.session, ctx.user)}
    done = check_in(ctx.session, code, ctx.user, allowed)
    shown = localize.code(code, ctx.language)
    if done.status in ("unknown", "other_event"):
        return Outcome(say(ctx, f"checkin_{done.status}", "checkin", code=shown), done.status)
    title = done.event.title(ctx.language)
    if done.status == "cancelled":
        return Outcome(say(ctx, "checkin_cancelled", "checkin", code=shown, title=title), "cancelled")
    values = {"name": _name(done.attendee), "seats": localize.seats(done.registration.seats, ctx.language),
              "title": title, "code": shown}
    if done.status == "already":
        at = localize.clock(done.at, ctx.language, done.event.timezone) if done.at else "?"
        return Outcome(say(ctx, "checkin_already", "checkin", time=at, by=_name(done.by), **values), "already")
    return Outcome(say(ctx, "checkin_done", "checkin", **values), detail=f"registration_id={done.registration.id}")


def _roster_link(ctx: TurnContext, event: Event) -> str:
    """The whole list as CSV at a signed link valid for ROSTER_LINK_HOURS (none without PUBLIC_BASE_URL). A link,
    not WhatsApp media: Twilio sends PDF and Office documents over WhatsApp, not CSV."""
    base = ctx.settings.public_base_url
    if not base:
        return ""
    token = sign(ctx.settings.secret_key, ROSTER_PURPOSE, roster_token(event.id, ctx.user.id))
    return say(ctx, "console_attendees_csv", "attendees", url=f"{base}/attendees/{token}.csv",
               hours=localize.number(ROSTER_LINK_HOURS, ctx.language)).text


def _number(ctx: TurnContext):
    return lambda n: localize.number(n, ctx.language)


def _name(user: User | None) -> str:
    if user is None:
        return "?"
    return user.display_name or user.name_en or user.name_ar or mask(user.phone)


def _status_counts(ctx: TurnContext, event_ids: list[int], status: str) -> dict[int, int]:
    return dict(ctx.session.execute(select(Registration.event_id, func.count())
                                    .where(Registration.event_id.in_(event_ids), Registration.status == status)
                                    .group_by(Registration.event_id)).all())


def _event_line(ctx: TurnContext, event: Event, checked_in: int) -> str:
    n = _number(ctx)
    status = "" if event.status == "published" else f" ({event.status})"
    return say(ctx, "console_event_line", "events", code=event.code, title=event.title(ctx.language),
               date=localize.short_date(event.starts_at, ctx.language, event.timezone), sold=n(event.seats_taken),
               capacity=n(event.capacity), checked_in=n(checked_in), status=status).text


def _attendee_line(ctx: TurnContext, n: int, ticket: Registration, user: User) -> str:
    return say(ctx, "console_attendee_line", "attendees", n=localize.number(n, ctx.language), name=_name(user),
               phone=localize.isolate(mask(user.phone), ctx.language),
               seats=localize.seats(ticket.seats, ctx.language), code=localize.code(ticket.ticket_code, ctx.language),
               mark=" ✅" if ticket.status == "checked_in" else "").text


def _bot_numbers(ctx: TurnContext) -> dict:
    """Messages today and over 7 days, the share answered by each route, tokens, cost, 👍/👎, and the open
    handoffs this person may answer."""
    now, n = utcnow(), _number(ctx)
    inbound = select(func.count()).select_from(Message).where(Message.direction == "inbound")
    today = ctx.session.scalar(inbound.where(Message.created_at >= now.replace(hour=0, minute=0, second=0,
                                                                              microsecond=0)))
    week = ctx.session.scalar(inbound.where(Message.created_at >= now - timedelta(days=7)))
    routes = dict(ctx.session.execute(select(Message.route, func.count())
                                      .where(Message.direction == "outbound", Message.part_index == 0,
                                             Message.created_at >= now - timedelta(days=7))
                                      .group_by(Message.route)).all())
    total = sum(routes.values()) or 1
    shares = ", ".join(f"{route} {round(100 * routes[route] / total)}%" for route in ANSWERED_BY if routes.get(route))
    tokens, cost = ctx.session.execute(select(func.coalesce(func.sum(AIInteraction.input_tokens
                                                                     + AIInteraction.output_tokens), 0),
                                              func.coalesce(func.sum(AIInteraction.cost_usd), 0))).one()
    votes = dict(ctx.session.execute(select(AIInteraction.feedback, func.count())
                                     .where(AIInteraction.feedback.is_not(None))
                                     .group_by(AIInteraction.feedback)).all())
    return {"today": n(today), "week": n(week), "routes": shares or "—", "unanswered": n(routes.get("fallback", 0)),
            "tokens": n(int(tokens)), "cost": f"{float(cost):.4f}", "up": n(votes.get(1, 0)),
            "down": n(votes.get(-1, 0)), "handoffs": n(len(waiting(ctx)))}
