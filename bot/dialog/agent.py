"""The LLM route — an agent with the event tools, the top FAQ candidates and the next events as facts — and
the bilingual fallback."""
from __future__ import annotations

from dataclasses import replace

from bot.dialog import state
from bot.dialog.answers import option_label
from bot.dialog.context import Reply, TurnContext
from bot.dialog.faq import with_feedback_prompt
from bot.dialog.journeys import booking, recovery, tickets
from bot.events.requests import BookingChange, BookingRequest
from bot.i18n import catalog, localize
from bot.llm.assistant import Answer
from bot.llm.history import history
from bot.llm.prompting import Prompt, build_prompt
from bot.llm.tools import EventTools, ToolTurn, upcoming_lines
from bot.nlu.knowledge import FAQEntry
from models import Event, Registration

FACTS = 3
UPCOMING = 5  # events given as facts; the model calls list_events for more
CLOSEST = 3  # topics offered when there is no LLM to answer


def user_turn(ctx: TurnContext) -> dict:
    text = ctx.message.body
    for a in ctx.attachments:
        if a.kind == "media":
            text += f"\n[the user attached a {a.content_type or 'file'}]"
        elif a.kind == "location":
            text += f"\n[the user shared a location: {a.latitude}, {a.longitude} {a.label or a.address or ''}]"
    return {"role": "user", "content": text.strip()}


def facts(ctx: TurnContext) -> list[FAQEntry]:
    """The closest FAQ entries, so the LLM can ground its answer in what the organisers wrote."""
    keys = [c.key for c in ctx.decision.candidates if c.kind == "faq"][:FACTS]
    return [ctx.knowledge.faqs[k] for k in keys if k in ctx.knowledge.faqs]


def confirm_step(ctx: TurnContext, request: BookingChange) -> Reply:
    """A tool's booking request as the journeys' confirm step (or their refusal): what ends the turn."""
    if isinstance(request, BookingRequest):
        event = ctx.session.get(Event, request.event_id)
        return booking.confirm_registration_reply(ctx, event, request.seats, source="llm")
    ticket = ctx.session.get(Registration, request.registration_id)
    return tickets.confirm_cancel_reply(ctx, ticket, ctx.session.get(Event, ticket.event_id))


def event_tools(ctx: TurnContext) -> EventTools:
    turn = ToolTurn(session=ctx.session, user_id=ctx.user.id, language=ctx.language, message_id=ctx.message.id)
    return EventTools(turn, ctx.settings.max_seats_per_ticket, lambda request: confirm_step(ctx, request))


class LLMHandler:
    def match(self, ctx: TurnContext) -> bool:
        return ctx.assistant.llm is not None

    def handle(self, ctx: TurnContext) -> Reply | None:
        earlier = history(ctx.session, ctx.message, ctx.settings.llm_history_turns)
        prompt = build_prompt(ctx.session, ctx.language, earlier, user_turn(ctx), facts(ctx),
                              ctx.settings.llm_prompt_token_budget,
                              events=upcoming_lines(ctx.session, ctx.language, UPCOMING, ctx.text))
        answer = ctx.assistant.ask(ctx.session, ctx.message, prompt, ctx.language, tools=event_tools(ctx))
        if answer is None:
            return None
        usage = {"model": answer.model, "prompt_tokens": answer.input_tokens,
                 "completion_tokens": answer.output_tokens, "latency_ms": answer.latency_ms,
                 "tool_used": ",".join(answer.tools) or None}
        if answer.final is not None:
            return confirmation(ctx, answer, prompt, usage)
        reply = Reply(answer.text, "llm", ctx.language, confidence=ctx.decision.confidence, **usage,
                      meta=meta_of(ctx, answer, prompt))
        return with_feedback_prompt(ctx, reply, answer.interaction_id)


def meta_of(ctx: TurnContext, answer: Answer, prompt: Prompt) -> dict:
    return {"finish_reason": answer.finish_reason, "cache_hit": answer.cache_hit, "prompt_version": prompt.version,
            "best_match": ctx.decision.key, "tool_rounds": answer.rounds}


def confirmation(ctx: TurnContext, answer: Answer, prompt: Prompt, usage: dict) -> Reply:
    """A tool ended the turn: its reply goes out as is, under the LLM route with the turn's usage.
    No feedback prompt: the reply awaits the user's yes/no, and a rating would take its place."""
    final: Reply = answer.final
    return replace(final, route="llm", route_key=final.route_key or final.route, confidence=ctx.decision.confidence,
                   **usage, meta={**final.meta, **meta_of(ctx, answer, prompt),
                                  "interaction_id": answer.interaction_id})


class FallbackHandler:
    """The last word. Without an LLM configured it is an honest, useful answer in the user's language — what
    the bot knows, the closest topics as numbered options, the person option; when the LLM is configured but
    could not answer (an outage, the budget), a short apology in both languages."""

    def match(self, ctx: TurnContext) -> bool:
        return True

    def handle(self, ctx: TurnContext) -> Reply:
        if ctx.assistant.llm is not None:
            return Reply(catalog.say_both("fallback", ctx.language), "fallback", ctx.language)
        if ctx.in_step:
            return self._step_again(ctx) or Reply(catalog.say("fallback_no_llm", ctx.language, options=""),
                                                  "fallback", ctx.language)
        options = [c for c in ctx.decision.candidates if c.kind == "faq"][:CLOSEST]
        if not options:
            return Reply(catalog.say("fallback_no_llm", ctx.language, options=""), "fallback", ctx.language)
        lines = "\n".join(f"{localize.number(i, ctx.language)}) {option_label(ctx, c)}"
                          for i, c in enumerate(options, start=1))
        awaiting = state.stamped({"kind": "clarify", "options": [{"key": c.key, "kind": c.kind, "score": c.score}
                                                                 for c in options]})
        text = catalog.say("fallback_no_llm", ctx.language,
                           options=catalog.say("fallback_closest", ctx.language, lines=lines))
        return Reply(text, "fallback", ctx.language, route_key=ctx.decision.key, awaiting=awaiting)

    @staticmethod
    def _step_again(ctx: TurnContext) -> Reply | None:
        """In the middle of a step, numbered topics would collide with the step's own numbers ("2" is still two
        seats): the honest answer, then the step's question again, which stays the step."""
        awaiting = ctx.awaiting
        step = awaiting if awaiting and awaiting.get("kind") in state.STEP_KINDS else ctx.resume
        again = recovery.render(ctx, step) if step else None
        if again is None:
            return None
        text = f"{catalog.say('fallback_no_llm', ctx.language, options='')}\n\n{again.text}"
        return Reply(text, "fallback", ctx.language, route_key="step_again", awaiting=again.awaiting)
