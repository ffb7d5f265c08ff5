"""The WhatsApp event bot. Stages live in sub-packages; see docs/architecture.md for the folder map.

This file stays a docstring: importing `bot.nlu` (or any small part) must not load Flask, RQ or Twilio.
"""
