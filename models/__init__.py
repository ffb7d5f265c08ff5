"""Typed SQLAlchemy 2 models, one module per aggregate; Alembic migrations live in `models/migrations`."""
from models.base import Base
from models.conversations import Conversation, ConversationParticipant
from models.messages import STATUS_RANK, Message, MessageAttachment, MessageStatusEvent
from models.users import User

__all__ = ["Base", "Conversation", "ConversationParticipant", "Message", "MessageAttachment",
           "MessageStatusEvent", "STATUS_RANK", "User"]
