"""Sending: stored parts claimed and sent once with retries (`sending`), delivery status callbacks (`status`),
splitting long answers, WhatsApp's 24-hour window, and the conversation a message belongs to."""
