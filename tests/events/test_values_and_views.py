"""Cells as organisers type them, and how an event reads in Arabic."""
from __future__ import annotations

import pytest

from bot.events import values, views
from models import Event


@pytest.mark.parametrize("typed", ["3000", "3,000", "٣٠٠٠", "٣٬٠٠٠", "٣,٠٠٠", "3٬000", "۳٬۰۰۰"])
def test_a_whole_number_in_either_script_with_either_separator(typed):
    assert values.whole_number(typed) == 3000


@pytest.mark.parametrize("typed", ["3.000", "-5", "1,00", "٣٫٠٠٠", "three"])
def test_anything_else_is_refused(typed):
    with pytest.raises(ValueError):
        values.whole_number(typed)


def test_the_arabic_venue_line_does_not_repeat_the_latin_address():
    event = Event(venue_en="Tawahi Hall", venue_ar="قاعة التواهي", address="Main St, Tawahi, Aden")
    assert views.venue_line(event, "ar") == "قاعة التواهي"
    assert views.venue_line(event, "en") == "Tawahi Hall, Main St, Tawahi, Aden"
    no_arabic_venue = Event(venue_en="Tawahi Hall", address="Main St")
    assert "Main St" in views.venue_line(no_arabic_venue, "ar"), "the address is all an Arabic reader would get"


def test_the_venue_line_does_not_repeat_what_the_venue_already_says():
    event = Event(venue_en="Tawila Gardens, Crater", address="Tawila Tanks Rd, crater , Aden")
    assert views.venue_line(event, "en") == "Tawila Gardens, Crater, Tawila Tanks Rd, Aden"
    assert views.venue_line(Event(venue_en="Crater", address="Crater"), "en") == "Crater"
