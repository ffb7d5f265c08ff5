"""Earlier turns of a conversation, as chat messages for the LLM. A stretch where a person from the events team
owned the conversation (a handoff: the team's relayed replies, the attendee's turns the bot left unanswered) is
framed by two system notes, so the model neither claims the team's words nor contradicts them unknowingly."""
from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.i18n import catalog
from models import Message

_PROMPTS = tuple(catalog.MESSAGES["feedback_prompt"].values())
HUMAN_BEGAN = "[From here a person from the events team answered the attendee; the assistant was silent.]"
HUMAN_ENDED = "[Here the conversation returned to the assistant.]"


def _without_prompts(body: str) -> str:
    for prompt in _PROMPTS:
        body = body.replace(prompt, "")
    return body.strip()


def _by_a_person(row) -> bool:
    """A team member's relayed reply, or an attendee's turn the bot left to the team."""
    return row.route == "agent" or (row.route == "handoff" and (row.route_key or "").startswith("open:"))


def _as_read(row) -> str:
    """A user's turn as the bot read it: with the words a moderation rule masked (bot/dialog/moderation/gate.py)."""
    return (row.meta or {}).get("moderated_body") or row.body


# Built once: composing the statement cost more CPU than running it (every LLM-route turn reads history).
_EARLIER = (select(Message.direction, Message.body, Message.route, Message.route_key, Message.meta)
            .where(Message.conversation_id == bindparam("conversation_id"), Message.id < bindparam("before"),
                   Message.status != "failed")
            .order_by(Message.id.desc()).limit(bindparam("rows")))


def history(session: Session, message: Message, turns: int) -> list[dict]:
    """The conversation's last `turns` turns before `message`, oldest first; split replies are joined, and a
    handoff's stretch is framed by HUMAN_BEGAN / HUMAN_ENDED system notes."""
    rows = session.execute(_EARLIER, {"conversation_id": message.conversation_id, "before": message.id,
                                      "rows": turns * 3}).all()
    result: list[dict] = []
    human = False
    for row in reversed(rows):
        if _by_a_person(row) != human:
            human = not human
            result.append({"role": "system", "content": HUMAN_BEGAN if human else HUMAN_ENDED})
        role = "user" if row.direction == "inbound" else "assistant"
        body = _as_read(row) if role == "user" else _without_prompts(row.body)
        if result and role == "assistant" and result[-1]["role"] == "assistant":
            result[-1]["content"] = f"{result[-1]['content']} {body}".strip()
        elif body.strip():
            result.append({"role": role, "content": body})
    if human:
        result.append({"role": "system", "content": HUMAN_ENDED})
    return result[-turns:]
