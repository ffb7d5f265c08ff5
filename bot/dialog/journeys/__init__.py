"""Attendee journeys: the menu, browsing events, booking with a confirm step, tickets and cancelling."""
