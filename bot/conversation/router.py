"""Chooses who answers a turn: small handlers tried in priority order, first answer wins.

    a ban (one notice, then silence) ▸ the per-phone rate limit (one notice a window, then silence) ▸ an
    organizer command ("/stats"; refused politely to anyone else) ▸ STOP / START ▸ silence while a person
    owns the conversation (a handoff) ▸ the moderation rules (flag and go on, block, or mask words and go on) ▸
    media ▸ location ▸
    empty ▸ a button's or list row's payload ▸ menu ("menu" / "القائمة" from any step) ▸ the pending step (menu
    numbers, event choice, seats, yes/no confirmations, or the step of the bot message the turn replies to;
    clarify number, 👍/👎, feedback text) ▸ 👍/👎 reacting to an answer ▸ a bare emoji ▸ a question about events
    answered from the events table (when, price, where, seats, length; what is on a day) ▸ a booking or
    cancelling request naming one event ▸ intent ▸ FAQ ▸ clarify ▸ LLM (with tools) ▸ fallback

This module holds only the order; each handler lives in `bot.dialog` with the code it shares. The ban and the
rate limit come first so a silenced user is answered by nobody, commands included (STOP / START still take
effect for them, silently: bot/dialog/moderation/). Every reply records its route, the intent or FAQ key and
the confidence; the fallback always answers, so a turn is never left in silence. A gate that lets the turn go
on may leave notices (`ctx.notices`: a flagged message's team) that go with whatever answers it.
"""
from __future__ import annotations

from dataclasses import replace

from bot.dialog import agent, answers, consent, event_facts, feedback, handoff, media, payloads
from bot.dialog.console.commands import ConsoleHandler
from bot.dialog.context import Handler, Reply, TurnContext
from bot.dialog.journeys import handlers as journeys
from bot.dialog.moderation import bans, gate, rate


def default_handlers() -> list[Handler]:
    """A new list for every turn: a handler may keep what it worked out in `match` for its `handle`."""
    return [bans.BanGate(), rate.RateLimitGate(), ConsoleHandler(), consent.ConsentHandler(), handoff.HandoffGate(),
            gate.ModerationGate(), media.MediaHandler(), media.LocationHandler(), media.EmptyHandler(),
            payloads.PayloadHandler(), journeys.MenuHandler(), journeys.JourneyDialogHandler(),
            feedback.PendingDialogHandler(), feedback.AnswerReactionHandler(), media.ReactionHandler(),
            event_facts.EventFactsHandler(), journeys.NamedEventHandler(), answers.IntentHandler(),
            answers.FAQHandler(), answers.ClarifyHandler(), agent.LLMHandler(), agent.FallbackHandler()]


def route(ctx: TurnContext, handlers: list[Handler] | None = None) -> Reply:
    """Asks each handler in order; the fallback always answers."""
    for handler in handlers or default_handlers():
        if handler.match(ctx):
            reply = handler.handle(ctx)
            if reply is not None:
                return with_notices(ctx, reply)
    return with_notices(ctx, agent.FallbackHandler().handle(ctx))


def with_notices(ctx: TurnContext, reply: Reply) -> Reply:
    return replace(reply, notify=(*reply.notify, *ctx.notices)) if ctx.notices else reply
