"""Settings come from the environment in one place; production refuses to start without what it needs."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.errors import ConfigurationError
from bot.core.settings import (
    DEV_AUTH_TOKEN,
    INSTANCE_DIR,
    PROJECT_ROOT,
    REQUIRED_IN_PRODUCTION,
    Settings,
    normalise_database_url,
)

PRODUCTION = {
    "BOT_ENV": "production",
    "DATABASE_URL": "postgres://bot:secret@db.internal:5432/bot",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "TWILIO_ACCOUNT_SID": "AC" + "2" * 32,
    "TWILIO_AUTH_TOKEN": "prod-token",
    "TWILIO_WHATSAPP_NUMBER": "whatsapp:+14155238886",
    "PUBLIC_BASE_URL": "https://bot.example.org/",
    "SECRET_KEY": "prod-secret",
}


@pytest.mark.parametrize("url, expected", [
    ("postgres://u:p@h:5432/d", "postgresql+psycopg2://u:p@h:5432/d"),
    ("postgresql://u@h/d", "postgresql+psycopg2://u@h/d"),
    ("postgresql+psycopg2://u@h/d", "postgresql+psycopg2://u@h/d"),
    ("sqlite:////tmp/x.sqlite3", "sqlite:////tmp/x.sqlite3"),
])
def test_database_url_normalised(url, expected):
    assert normalise_database_url(url) == expected
    assert Settings.from_env({"DATABASE_URL": url}).database_url == expected


def test_defaults_are_the_embedded_mode():
    settings = Settings.from_env({})
    assert settings.env == "development"
    assert settings.database_url == f"sqlite:///{INSTANCE_DIR / 'bot.sqlite3'}"
    assert INSTANCE_DIR == PROJECT_ROOT / "instance"
    assert Path(settings.outbox_path).parent == INSTANCE_DIR
    assert settings.redis_url is None and settings.embedded_queue
    assert settings.openai_api_key is None and settings.twilio_auth_token is None
    assert settings.signing_token == DEV_AUTH_TOKEN
    assert settings.status_callback_url is None
    assert Settings().database_url == settings.database_url


def test_complete_production_environment_is_read():
    settings = Settings.from_env(PRODUCTION)
    assert settings.env == "production"
    assert settings.database_url == "postgresql+psycopg2://bot:secret@db.internal:5432/bot"
    assert settings.public_base_url == "https://bot.example.org"
    assert settings.status_callback_url == "https://bot.example.org/webhooks/twilio/status"
    assert settings.signing_token == "prod-token" and not settings.embedded_queue


@pytest.mark.parametrize("missing", REQUIRED_IN_PRODUCTION)
def test_production_names_the_missing_setting(missing):
    environ = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(environ)
    assert missing in str(info.value)
    assert "\n" not in str(info.value)


def test_production_names_the_first_missing_setting():
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env({"BOT_ENV": "production", "SECRET_KEY": "s"})
    assert "DATABASE_URL" in str(info.value)
    assert "REDIS_URL" not in str(info.value)


def test_blank_setting_counts_as_missing():
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        Settings.from_env({**PRODUCTION, "SECRET_KEY": "   "})


@pytest.mark.parametrize("name", ["SEND_MAX_ATTEMPTS", "LLM_MAX_RETRIES", "LLM_HISTORY_TURNS",
                                  "CONVERSATION_IDLE_MINUTES", "TWILIO_TIMEOUT", "LLM_TIMEOUT"])
@pytest.mark.parametrize("garbage", ["ten", "5s", "1e"])
def test_numeric_setting_with_garbage_names_the_setting(name, garbage):
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env({name: garbage})
    assert name in str(info.value) and repr(garbage) in str(info.value)


def test_numeric_settings_are_parsed():
    settings = Settings.from_env({"SEND_MAX_ATTEMPTS": " 7 ", "LLM_TIMEOUT": "2.5", "LLM_HISTORY_TURNS": ""})
    assert settings.send_max_attempts == 7 and settings.llm_timeout == 2.5
    assert settings.llm_history_turns == Settings.llm_history_turns


def _import_app(environ: dict) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
           "LANG": "C.UTF-8", **environ}
    return subprocess.run([sys.executable, "-c", "import app"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=30)


def test_production_start_without_twilio_token_prints_one_line():
    environ = {k: v for k, v in PRODUCTION.items() if k != "TWILIO_AUTH_TOKEN"}
    done = _import_app(environ)
    assert done.returncode != 0
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "TWILIO_AUTH_TOKEN" in lines[0] and "Traceback" not in lines[0]


def test_garbage_integer_at_start_prints_one_line():
    done = _import_app({"SEND_MAX_ATTEMPTS": "lots"})
    assert done.returncode != 0
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "SEND_MAX_ATTEMPTS" in lines[0], lines
