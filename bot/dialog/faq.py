"""An FAQ entry's answer, and the feedback prompt that FAQ and LLM answers carry."""
from __future__ import annotations

import logging
from dataclasses import replace

from sqlalchemy import update

from bot.dialog import state
from bot.dialog.context import Reply, TurnContext
from bot.i18n import catalog
from models import FAQ, AIInteraction
from models.base import utcnow

log = logging.getLogger(__name__)


def answer_faq(ctx: TurnContext, key: str, confidence: float) -> Reply:
    """The entry's answer in the user's language (else the other, logging the gap), with a feedback prompt."""
    text, answered_in = ctx.knowledge.faqs[key].answer(ctx.language)
    language = ctx.language
    meta = {}
    if answered_in != language:
        meta["faq_gap"] = language
        log.warning("faq answer missing key=%s language=%s", key, language)
    ctx.session.execute(update(FAQ).where(FAQ.key == key).values(view_count=FAQ.view_count + 1))
    interaction = AIInteraction(message_id=ctx.message.id, conversation_id=ctx.message.conversation_id,
                                user_id=ctx.user.id, route="faq", route_key=key, response=text, created_at=utcnow())
    ctx.session.add(interaction)
    ctx.session.flush()
    return with_feedback_prompt(ctx, Reply(text, "faq", language, route_key=key, confidence=confidence, meta=meta),
                                interaction.id)


def with_feedback_prompt(ctx: TurnContext, reply: Reply, interaction_id: int) -> Reply:
    # In the middle of a step a rating prompt would compete with the step's own answers ("1", "yes"): none then.
    prompted = bool(ctx.settings.feedback_prompt) and not ctx.in_step
    # Unprompted, only 👍/👎 count as a rating: a plain "ok" or "2" is then an ordinary message.
    awaiting = state.stamped({"kind": "feedback", "interaction_id": interaction_id, "prompted": prompted,
                              "faq_key": reply.route_key if reply.route == "faq" else None})
    text = reply.text
    if prompted:
        text = f"{text}\n\n{catalog.say('feedback_prompt', reply.language)}"
    return replace(reply, text=text, meta={**reply.meta, "interaction_id": interaction_id}, awaiting=awaiting)
