"""Typed SQLAlchemy 2 models, one module per aggregate; Alembic migrations live in `models/migrations`."""
from models.ai import AIInteraction, ContextRule, PromptTemplate, ResponseCache
from models.audit import AuditEntry
from models.base import Base
from models.consent import ConsentEvent
from models.conversations import Conversation, ConversationParticipant
from models.events import Event, EventOrganizer, Registration
from models.faq import FAQ
from models.handoffs import Handoff
from models.messages import STATUS_RANK, Message, MessageAttachment, MessageStatusEvent
from models.moderation import FlaggedContent, ModerationRule, UserBan
from models.outreach import Broadcast, BroadcastRecipient, Notification
from models.users import User

__all__ = [
    "AIInteraction", "AuditEntry", "Base", "Broadcast", "BroadcastRecipient", "ConsentEvent", "ContextRule",
    "Conversation", "ConversationParticipant", "Event", "EventOrganizer", "FAQ", "FlaggedContent", "Handoff",
    "Message", "MessageAttachment", "MessageStatusEvent", "ModerationRule", "Notification", "PromptTemplate",
    "Registration", "ResponseCache", "STATUS_RANK", "User", "UserBan",
]
