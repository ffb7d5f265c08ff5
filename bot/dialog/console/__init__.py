"""The organizer console on WhatsApp: messages that start with `/` (Arabic aliases too) are commands, checked
before any other routing, so a command never reaches the FAQ, the intents or the LLM. Organizers act on their
own events, admins on all; anyone else gets one polite refusal that reveals nothing. Every command is audited."""
