"""Messages the bot starts itself: event reminders (broadcasts join here)."""
