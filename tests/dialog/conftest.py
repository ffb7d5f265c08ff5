"""The two apps the dialog tests talk to: one with the events FAQ imported through the CLI (`faq_bot`), and one
that also lists events, two a page (`events_bot`). Both keep the test settings' feedback prompt off, so reply
bodies are exact."""
from __future__ import annotations

import pytest

from bot.core.db import db as database
from models.base import utcnow
from tests.dialog.journey import EVENTS_FAQ, PAGE_SIZE, upcoming_events


def import_faq(app) -> None:
    result = app.test_cli_runner().invoke(args=["faq", "import", str(EVENTS_FAQ)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("28 created"), result.output


@pytest.fixture
def faq_bot(make_app):
    """An app with the events FAQ imported through the CLI, and no events."""
    app = make_app()
    import_faq(app)
    return app


@pytest.fixture
def events_bot(make_app):
    """An app listing two events a page, with the events FAQ imported (as in production) and the events of
    `tests.dialog.journey.upcoming_events`."""
    app = make_app(events_page_size=PAGE_SIZE)
    import_faq(app)
    with app.app_context(), database.session_scope() as s:
        s.add_all(upcoming_events(utcnow()))
    return app
