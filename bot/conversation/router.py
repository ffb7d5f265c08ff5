"""Chooses who answers a turn: small handlers tried in priority order, first answer wins.

    an organizer command ("/stats"; refused politely to anyone else) ▸ STOP / START ▸ silence while a person
    owns the conversation (a handoff) ▸ media ▸ location ▸
    empty ▸ a button's or list row's payload ▸ menu ("menu" / "القائمة" from any step) ▸ the pending step (menu
    numbers, event choice, seats, yes/no confirmations, or the step of the bot message the turn replies to;
    clarify number, 👍/👎, feedback text) ▸ 👍/👎 reacting to an answer ▸ a bare emoji ▸ a question about events
    answered from the events table (when, price, where, seats, length; what is on a day) ▸ a booking or
    cancelling request naming one event ▸ intent ▸ FAQ ▸ clarify ▸ LLM (with tools) ▸ fallback

This module holds only the order; each handler lives in `bot.dialog` with the code it shares. Bans will join
the console, consent and handoff at the front as gates. Every reply records its route, the intent or FAQ key and
the confidence; the fallback always answers, so a turn is never left in silence.
"""
from __future__ import annotations

from bot.dialog import agent, answers, consent, event_facts, feedback, handoff, media, payloads
from bot.dialog.console.commands import ConsoleHandler
from bot.dialog.context import Handler, Reply, TurnContext
from bot.dialog.journeys import handlers as journeys


def default_handlers() -> list[Handler]:
    """A new list for every turn: a handler may keep what it worked out in `match` for its `handle`."""
    return [ConsoleHandler(), consent.ConsentHandler(), handoff.HandoffGate(),
            media.MediaHandler(), media.LocationHandler(), media.EmptyHandler(), payloads.PayloadHandler(),
            journeys.MenuHandler(), journeys.JourneyDialogHandler(), feedback.PendingDialogHandler(),
            feedback.AnswerReactionHandler(), media.ReactionHandler(), event_facts.EventFactsHandler(),
            journeys.NamedEventHandler(), answers.IntentHandler(), answers.FAQHandler(), answers.ClarifyHandler(),
            agent.LLMHandler(), agent.FallbackHandler()]


def route(ctx: TurnContext, handlers: list[Handler] | None = None) -> Reply:
    """Asks each handler in order; the fallback always answers."""
    for handler in handlers or default_handlers():
        if handler.match(ctx):
            reply = handler.handle(ctx)
            if reply is not None:
                return reply
    return agent.FallbackHandler().handle(ctx)
