"""The LLM route (with the top FAQ candidates as facts) and the bilingual fallback."""
from __future__ import annotations

from bot import catalog
from bot.handlers.understanding import with_feedback_prompt
from bot.knowledge import FAQEntry
from bot.prompting import build_prompt
from bot.router import Reply, TurnContext
from bot.turn_history import history

FACTS = 3


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


class LLMHandler:
    def match(self, ctx: TurnContext) -> bool:
        return ctx.assistant.llm is not None

    def handle(self, ctx: TurnContext) -> Reply | None:
        prompt = build_prompt(ctx.session, ctx.language, history(ctx.session, ctx.message, ctx.settings.llm_history_turns),
                              user_turn(ctx), facts(ctx), ctx.settings.llm_prompt_token_budget)
        answer = ctx.assistant.ask(ctx.session, ctx.message, prompt, ctx.language)
        if answer is None:
            return None
        reply = Reply(answer.text, "llm", ctx.language, confidence=ctx.decision.confidence, model=answer.model,
                      prompt_tokens=answer.input_tokens, completion_tokens=answer.output_tokens,
                      latency_ms=answer.latency_ms,
                      meta={"finish_reason": answer.finish_reason, "cache_hit": answer.cache_hit,
                            "prompt_version": prompt.version, "best_match": ctx.decision.key})
        return with_feedback_prompt(ctx, reply, answer.interaction_id)


class FallbackHandler:
    def match(self, ctx: TurnContext) -> bool:
        return True

    def handle(self, ctx: TurnContext) -> Reply:
        return Reply(catalog.say_both("fallback", ctx.language), "fallback", ctx.language)
