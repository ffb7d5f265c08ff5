"""Earlier turns of a conversation, as chat messages for the LLM."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.i18n import catalog
from models import Message

_PROMPTS = tuple(catalog.MESSAGES["feedback_prompt"].values())


def _without_prompts(body: str) -> str:
    for prompt in _PROMPTS:
        body = body.replace(prompt, "")
    return body.strip()


def history(session: Session, message: Message, turns: int) -> list[dict]:
    """The conversation's last `turns` turns before `message`, oldest first; split replies are joined."""
    rows = session.execute(
        select(Message.direction, Message.body)
        .where(Message.conversation_id == message.conversation_id, Message.id < message.id,
               Message.status != "failed")
        .order_by(Message.id.desc()).limit(turns * 3)).all()
    result: list[dict] = []
    for row in reversed(rows):
        role = "user" if row.direction == "inbound" else "assistant"
        body = row.body if role == "user" else _without_prompts(row.body)
        if result and role == "assistant" and result[-1]["role"] == "assistant":
            result[-1]["content"] = f"{result[-1]['content']} {body}".strip()
        elif body.strip():
            result.append({"role": role, "content": body})
    return result[-turns:]
