"""Turns without text: photos and files, shared locations, empty messages."""
from __future__ import annotations

from bot.dialog.context import Reply, TurnContext
from bot.i18n import catalog


class MediaHandler:
    def match(self, ctx: TurnContext) -> bool:
        return not ctx.text and any(a.kind == "media" for a in ctx.attachments)

    def handle(self, ctx: TurnContext) -> Reply:
        media = next(a for a in ctx.attachments if a.kind == "media")
        kind = (media.content_type or "media").split("/")[0]
        kind = "document" if kind == "application" else kind
        names = catalog.MEDIA_KINDS.get(kind, catalog.MEDIA_KINDS["media"])
        return Reply(catalog.say_both("media_received", ctx.language, kind=names), "media", ctx.language)


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
