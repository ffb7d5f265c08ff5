"""What a console command answers: a reply under the `command` route, and how it ended (for the audit log)."""
from __future__ import annotations

from dataclasses import dataclass

from bot.dialog.context import Reply, TurnContext
from bot.i18n import catalog

ROUTE = "command"


@dataclass(frozen=True)
class Outcome:
    reply: Reply
    result: str = "ok"  # ok | refused | unknown | not_found | invalid | already | cancelled | other_event
    detail: str | None = None


def say(ctx: TurnContext, key: str, route_key: str, **values) -> Reply:
    return Reply(catalog.say(key, ctx.language, **values), ROUTE, ctx.language, route_key=route_key)
