"""Typed SQLAlchemy 2 models, one module per aggregate; Alembic migrations live in `models/migrations`."""
from models.ai import AIInteraction, ContextRule, PromptTemplate, ResponseCache
from models.base import Base
from models.conversations import Conversation, ConversationParticipant
from models.faq import FAQ
from models.messages import STATUS_RANK, Message, MessageAttachment, MessageStatusEvent
from models.users import User

__all__ = ["AIInteraction", "Base", "ContextRule", "FAQ", "PromptTemplate", "ResponseCache", "Conversation", "ConversationParticipant", "Message", "MessageAttachment",
           "MessageStatusEvent", "STATUS_RANK", "User"]
