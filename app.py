"""WSGI entry point: gunicorn serves `app:app`, and `flask --app app` finds the CLI here."""
from bot.app import create_app
from bot.core.errors import ConfigurationError

try:
    app = create_app()
except ConfigurationError as exc:  # one line naming the setting, not a traceback
    raise SystemExit(f"bot: configuration error: {exc}") from None
