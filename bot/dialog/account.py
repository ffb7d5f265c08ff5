"""The user's own settings and requests: language, asking for a person, leaving feedback."""
from __future__ import annotations

import logging

from bot.dialog import handoff, state
from bot.dialog.context import Reply, TurnContext
from bot.i18n import catalog
from bot.nlu.intents import Intent
from bot.nlu.normalize import normalize
from models.base import utcnow

log = logging.getLogger(__name__)
ARABIC_STEMS = ("عربي", "arab", "3arab")  # عربي، بالعربي، للعربي، العربيه، arabic, 3arabi
ENGLISH_STEMS = ("انجليز", "انقليز", "english", "inglizi")


def request_human(ctx: TurnContext, intent: Intent, confidence: float) -> Reply:
    """Opens a handoff (bot/dialog/handoff.py): one acknowledgement, the team told, then silence."""
    log.info("human requested user_id=%s conversation_id=%s", ctx.user.id, ctx.conversation.id)
    context = dict(ctx.conversation.context or {})
    context["handoff_requested_at"] = utcnow().isoformat()
    ctx.conversation.context = context
    opened = handoff.open_handoff(ctx.session, ctx.user, ctx.conversation.id)
    notices = handoff.team_notices(ctx.session, opened, ctx.user, ctx.language, ctx.settings.handoff_template_sid)
    return Reply(catalog.say("human_requested", ctx.language), "intent", ctx.language, route_key=intent.name,
                 confidence=confidence, notify=notices)


def collect_feedback(ctx: TurnContext, intent: Intent, confidence: float) -> Reply:
    return Reply(catalog.say("feedback_invite", ctx.language), "intent", ctx.language, route_key=intent.name,
                 confidence=confidence, awaiting=state.stamped({"kind": "free_feedback"}))


def switch_language(ctx: TurnContext, intent: Intent, confidence: float) -> Reply:
    """"English" / "عربي" pick a language explicitly; it sticks until the user switches again."""
    return set_language(ctx, target_language(ctx), intent.name, confidence)


def asks_for_a_language(ctx: TurnContext) -> bool:
    """"English", "عربي", "in arabic please": the language intent's patterns."""
    intent = ctx.knowledge.intents.get("language")
    return intent is not None and intent.matches_pattern(normalize(ctx.text))


def target_language(ctx: TurnContext) -> str:
    """The language the text asks for (the other one when it does not say)."""
    words = normalize(ctx.text).split()
    if any(stem in w for w in words for stem in ARABIC_STEMS):
        return "ar"
    if any(stem in w for w in words for stem in ENGLISH_STEMS) or "eng" in words or "en" in words:
        return "en"
    return "en" if ctx.language == "ar" else "ar"


def set_language(ctx: TurnContext, target: str, key: str, confidence: float) -> Reply:
    ctx.user.preferred_language = target
    ctx.user.language_explicit = True
    return Reply(catalog.say("language_set", target), "intent", target, route_key=key, confidence=confidence)
