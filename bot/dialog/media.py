"""Turns without words: photos and files, shared locations, empty messages, and bare emoji reactions."""
from __future__ import annotations

import unicodedata

from bot.dialog.context import Reply, TurnContext
from bot.i18n import catalog


class MediaHandler:
    def match(self, ctx: TurnContext) -> bool:
        return not ctx.text and any(a.kind == "media" for a in ctx.attachments)

    def handle(self, ctx: TurnContext) -> Reply:
        media = next(a for a in ctx.attachments if a.kind == "media")
        kind = media_kind(ctx.message.message_type, media.content_type)
        honest = {"sticker": "sticker_received", "audio": "voice_note_received", "contact": "contact_received"}
        if kind in honest:  # what the bot can say about it, in both languages (no words to tell which)
            return Reply(catalog.say_both(honest[kind], ctx.language), "media", ctx.language, route_key=kind)
        names = catalog.MEDIA_KINDS.get(kind, catalog.MEDIA_KINDS["media"])
        return Reply(catalog.say_both("media_received", ctx.language, kind=names), "media", ctx.language,
                     route_key=kind)


def media_kind(message_type: str | None, content_type: str | None) -> str:
    """image, video, audio (voice notes), document, sticker or contact: WhatsApp sends stickers as image/webp
    and contact cards as text/vcard (Twilio's MessageType says so too)."""
    declared = (message_type or "").lower()
    content = (content_type or "").split(";")[0].strip().lower()
    if declared == "sticker" or content == "image/webp":
        return "sticker"
    if declared == "contacts" or content in ("text/vcard", "text/x-vcard"):
        return "contact"
    kind = content.split("/")[0] or "media"
    return "document" if kind in ("application", "text") else kind


class LocationHandler:
    def match(self, ctx: TurnContext) -> bool:
        return not ctx.text and any(a.kind == "location" for a in ctx.attachments)

    def handle(self, ctx: TurnContext) -> Reply:
        place = next(a for a in ctx.attachments if a.kind == "location")
        label = f" ({place.label or place.address})" if (place.label or place.address) else ""
        return Reply(catalog.say_both("location_received", ctx.language, label=label), "location", ctx.language)


class EmptyHandler:
    def match(self, ctx: TurnContext) -> bool:
        return not ctx.text

    def handle(self, ctx: TurnContext) -> Reply:
        return Reply(catalog.say_both("empty_message", ctx.language), "empty", ctx.language)


POSITIVE_EMOJI = frozenset("👍❤♥😂🤣😊😍🥰🙏👏💯🔥✅😀😃😄😁🤩💖💕😘☺🌹👌")
NEGATIVE_EMOJI = frozenset("👎😞😡😠😢😭💔😔🙁☹")


def reaction(text: str) -> str | None:
    """"positive", "negative" or "other" for a message made only of emoji and symbols (no letters or digits);
    None for anything else."""
    signs = [ch for ch in text if not ch.isspace()]
    if not signs or any(unicodedata.category(ch)[0] in "LN" for ch in signs):
        return None
    if not any(unicodedata.category(ch) == "So" for ch in signs):
        return None  # punctuation only ("?", "...") is not a reaction
    if any(ch in NEGATIVE_EMOJI for ch in signs):
        return "negative"
    return "positive" if any(ch in POSITIVE_EMOJI for ch in signs) else "other"


class ReactionHandler:
    """❤️, 😂, 👍 outside a feedback prompt: a short friendly answer, never an LLM call."""

    def match(self, ctx: TurnContext) -> bool:
        return reaction(ctx.text) is not None

    def handle(self, ctx: TurnContext) -> Reply:
        kind = reaction(ctx.text)
        return Reply(catalog.say(f"reaction_{kind}", ctx.language), "reaction", ctx.language, route_key=kind)
