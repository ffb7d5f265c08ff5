"""Requests to change a booking, as the LLM's tools make them: they change nothing themselves. The dialog turns
a request into its confirm step, so the user's own "yes" makes the change through the journeys' code path."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BookingRequest:
    """Book `seats` seats of an event for the user of the turn."""

    event_id: int
    seats: int


@dataclass(frozen=True)
class CancelRequest:
    """Cancel one of the user's tickets."""

    registration_id: int


BookingChange = BookingRequest | CancelRequest
