"""The console's gate and dispatch: a message that starts with `/` is a command (names in English or Arabic,
any case, Arabic-Indic digits in arguments), answered in the organizer's language and audited."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from bot.dialog.console import bans, broadcasts, flags, handoffs, reports
from bot.dialog.console.access import may_use_console
from bot.dialog.console.replies import Outcome, say
from bot.dialog.context import Reply, TurnContext
from models import AuditEntry
from models.base import utcnow

log = logging.getLogger(__name__)
DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
# command → its names (English first, then the Arabic aliases)
NAMES = {
    "help": ("help", "مساعدة", "مساعده", "الاوامر", "الأوامر"),
    "events": ("events", "فعالياتي", "الفعاليات", "فعاليات"),
    "stats": ("stats", "احصائيات", "إحصائيات", "الاحصائيات", "الإحصائيات"),
    "attendees": ("attendees", "الحضور", "المسجلين", "الحاضرين"),
    "checkin": ("checkin", "check-in", "دخول", "تسجيل_دخول", "تسجيل-دخول"),
    "handoffs": ("handoffs", "المحادثات", "التحويلات"),
    "reply": ("reply", "رد"),
    "close": ("close", "اغلاق", "إغلاق"),
    "broadcast": ("broadcast", "بث", "اعلان", "إعلان", "تعميم"),
    "broadcasts": ("broadcasts", "البث", "الاعلانات", "الإعلانات", "التعاميم"),
    "flags": ("flags", "البلاغات", "بلاغات"),
    "ban": ("ban", "حظر"),
    "unban": ("unban", "رفع_الحظر", "الغاء_الحظر", "إلغاء_الحظر"),
}
BY_NAME = {name: command for command, names in NAMES.items() for name in names}


def parse(text: str) -> tuple[str, list[str]] | None:
    """("/Stats  JAZZ" → ("stats", ["JAZZ"])); None when the text is not a command."""
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2:
        return None
    name, *arguments = stripped[1:].translate(DIGITS).split()
    return name.lower(), arguments


class ConsoleHandler:
    """Runs before every other handler: a command never reaches the FAQ, the intents or the LLM."""

    def match(self, ctx: TurnContext) -> bool:
        return parse(ctx.text) is not None or _answers_plan(ctx)

    def handle(self, ctx: TurnContext) -> Reply:
        if _answers_plan(ctx):
            outcome = broadcasts.answer_plan(ctx)
            audit(ctx, "broadcast_confirm", [ctx.text[:40]], outcome)
            if parse(ctx.text) is None:
                return outcome.reply  # else: a command instead of a yes cancelled the plan, and runs
        name, arguments = parse(ctx.text)
        command = BY_NAME.get(name)
        if not may_use_console(ctx.user):
            outcome = Outcome(say(ctx, "console_refused", "refused"), "refused")
        elif command is None:
            outcome = Outcome(say(ctx, "console_unknown", "unknown"), "unknown")
        else:
            outcome = COMMANDS[command](ctx, arguments)
        audit(ctx, command or name, arguments, outcome)
        return outcome.reply


def _answers_plan(ctx: TurnContext) -> bool:
    """The organizer's message right after a broadcast's plan: their yes, or whatever cancels it."""
    awaiting = ctx.awaiting
    return bool(awaiting) and awaiting.get("kind") == broadcasts.CONFIRM and may_use_console(ctx.user)


def audit(ctx: TurnContext, command: str, arguments: list[str], outcome: Outcome) -> None:
    """One row per command, in the turn's transaction (stored with the reply)."""
    ctx.session.add(AuditEntry(user_id=ctx.user.id, phone=ctx.user.phone, role=ctx.user.role, command=command[:40],
                               arguments=" ".join(arguments)[:1000] or None, result=outcome.result,
                               detail=outcome.detail, created_at=utcnow()))
    log.info("console command user_id=%s command=%s result=%s", ctx.user.id, command, outcome.result)


def _help(ctx: TurnContext, arguments: list[str]) -> Outcome:
    more = say(ctx, "console_help_moderation", "help").text
    help_ = say(ctx, "console_help", "help")
    return Outcome(replace(help_, text=f"{help_.text}\n\n{more}"))


COMMANDS: dict[str, Callable[[TurnContext, list[str]], Outcome]] = {
    "help": _help, "events": reports.events, "stats": reports.stats, "attendees": reports.attendees,
    "checkin": reports.checkin, "handoffs": handoffs.handoffs, "reply": handoffs.reply, "close": handoffs.close,
    "broadcast": broadcasts.broadcast, "broadcasts": broadcasts.broadcasts,
    "flags": flags.flags, "ban": bans.ban, "unban": bans.unban,
}
