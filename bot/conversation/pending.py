"""The turns awaiting an answer: the user's oldest one (with what answering it needs, in one round trip), how
many are left, and those left waiting too long. The database, not the queue, is the record of pending work."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import Session, aliased

from models import Conversation, Handoff, Message, User, UserBan
from models.base import utcnow

_ANSWER = aliased(Message)
# The user's oldest turn awaiting an answer, with its user and conversation, whether an earlier run already
# stored its answer, how many of the user's turns were waiting, and whether the user may be banned or the
# conversation handed to a person: one round trip instead of six (the gates look further only when it may).
NEXT_TURN = (select(Message, User, Conversation, exists().where(_ANSWER.reply_to_id == Message.id),
                    func.count().over(),
                    exists().where(UserBan.user_id == Message.user_id, UserBan.lifted_at.is_(None)),
                    exists().where(Handoff.conversation_id == Message.conversation_id, Handoff.status == "open"))
             .join(User, User.id == Message.user_id)
             .join(Conversation, Conversation.id == Message.conversation_id)
             .where(Message.user_id == bindparam("user_id"), Message.direction == "inbound",
                    Message.status == "received")
             .order_by(Message.id).limit(1)
             .execution_options(populate_existing=True))
PENDING_TURNS = select(func.count()).where(Message.user_id == bindparam("user_id"), Message.direction == "inbound",
                                           Message.status == "received")


@dataclass
class Turn:
    """An inbound turn awaiting its answer, as `next_turn` reads it."""

    message: Message
    user: User
    conversation: Conversation
    answered: bool  # an earlier run stored its answer's parts
    waiting: int  # the user's turns awaiting an answer when this one was read, this one included
    maybe_banned: bool = True  # False: the user has no ban that was not lifted (BanGate need not look)
    maybe_handed_off: bool = True  # False: no person owns the conversation (HandoffGate need not look)


def next_turn(session: Session, user_id: int) -> Turn | None:
    """The user's oldest turn still `received`, or None."""
    row = session.execute(NEXT_TURN, {"user_id": user_id}).first()
    return None if row is None else Turn(*row)


def pending_turns(session: Session, user_id: int) -> int:
    """How many of the user's turns await an answer, read in autocommit on a connection of its own: one round
    trip, no BEGIN or COMMIT, whatever the session's state."""
    with session.get_bind().engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        return connection.execute(PENDING_TURNS, {"user_id": user_id}).scalar_one()


def stale_turns(session: Session, waited: timedelta) -> list[tuple[int, int]]:
    """(user id, oldest waiting turn id) for each user with a turn unanswered for longer than `waited`."""
    rows = session.execute(select(Message.user_id, func.min(Message.id))
                           .where(Message.direction == "inbound", Message.status == "received",
                                  Message.created_at < utcnow() - waited)
                           .group_by(Message.user_id)).all()
    return [(user_id, message_id) for user_id, message_id in rows]
