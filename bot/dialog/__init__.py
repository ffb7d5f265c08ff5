"""What the bot says to a turn: `TurnContext`, `Reply` and the handlers (menus and journeys, intents, FAQ,
feedback, media, the LLM agent), and the dialog state they share (one owner, one expiry)."""
