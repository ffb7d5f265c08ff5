"""Moderation (seed 002): bans, the per-phone rate limit and the rules matched against what users write — the
gates near the front of the router (bot/conversation/router.py) — and the flagged-content queue they fill.
docs/moderation.md describes the whole."""
