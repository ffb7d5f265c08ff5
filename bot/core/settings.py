"""Settings, read from the environment in one place.

Every setting is listed in `.env.example` and in the README's configuration table. With nothing set, the bot
runs in its embedded mode: SQLite under `instance/`, jobs in a background thread, replies to a local outbox.
In production (`BOT_ENV=production`) a missing required setting stops start-up with one line naming it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from bot.core.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INSTANCE_DIR = PROJECT_ROOT / "instance"
DEV_AUTH_TOKEN = "embedded-dev-token"  # signs the local chat's webhooks when no Twilio token is set

# USD per million tokens (input, output); LLM_PRICES='{"model": [in, out]}' adds or overrides entries.
DEFAULT_LLM_PRICES = {"gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00), "gpt-4.1-mini": (0.40, 1.60),
                      "gpt-4.1": (2.00, 8.00), "gpt-4.1-nano": (0.10, 0.40)}

REQUIRED_IN_PRODUCTION = ("DATABASE_URL", "REDIS_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
                          "TWILIO_WHATSAPP_NUMBER", "PUBLIC_BASE_URL", "SECRET_KEY")


def parse_boolean(value: str | None, default: bool = False) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def int_or_default(name: str, value: str | None, default: int) -> int:
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, got {value!r}") from exc


def float_or_default(name: str, value: str | None, default: float) -> float:
    if value is None or value.strip() == "":
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a number, got {value!r}") from exc


def prices_from(value: str | None) -> dict:
    prices = dict(DEFAULT_LLM_PRICES)
    if not value:
        return prices
    try:
        extra = json.loads(value)
        prices.update({str(model): (float(p[0]), float(p[1])) for model, p in extra.items()})
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise ConfigurationError(
            'LLM_PRICES must be JSON like {"model": [input_usd_per_1m, output_usd_per_1m]}') from exc
    return prices


def normalise_database_url(url: str) -> str:
    """Heroku-style `postgres://` and plain `postgresql://` select psycopg2 explicitly.

    SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3, which this project does not install.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'bot.sqlite3'}"


@dataclass
class Settings:
    env: str = "development"
    database_url: str = field(default_factory=default_database_url)
    redis_url: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_whatsapp_number: str = "whatsapp:+14155238886"
    twilio_api_base_url: str = "https://api.twilio.com"
    twilio_timeout: float = 10.0
    send_max_attempts: int = 5
    send_backoff_seconds: float = 0.5
    send_retry_seconds: float = 60.0
    public_base_url: str | None = None
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    llm_timeout: float = 20.0
    llm_max_retries: int = 2
    llm_history_turns: int = 10
    llm_max_tokens: int = 600
    secret_key: str = "dev-secret-change-me"
    admin_api_token: str | None = None
    conversation_idle_minutes: int = 240
    max_request_bytes: int = 64 * 1024
    outbox_path: str = field(default_factory=lambda: str(INSTANCE_DIR / "outbox.jsonl"))
    user_lock_seconds: int = 10  # renewed by the holder's process while it works (bot/core/locks.py)
    match_high: float = 0.5
    match_low: float = 0.25
    llm_daily_token_budget: int = 20000
    llm_cache_ttl_seconds: int = 6 * 3600
    llm_prompt_token_budget: int = 3000
    llm_prices: dict = field(default_factory=lambda: dict(DEFAULT_LLM_PRICES))
    feedback_prompt: bool = True
    max_seats_per_ticket: int = 5
    events_page_size: int = 5
    dialog_idle_minutes: int = 30
    reminder_hours_before: int = 24
    reminder_template_sid_en: str | None = None
    reminder_template_sid_ar: str | None = None
    reminder_check_seconds: int = 300
    handoff_template_sid: str | None = None  # telling organizers of a handoff outside the 24 h window
    handoff_idle_hours: int = 12  # a handoff the team has not answered for this long returns to the bot
    user_rate_limit: int = 20  # turns a minute per phone before one notice and silence (bot/dialog/moderation/)
    llm_tool_rounds: int = 4
    intake_mode: str = "buffered"  # with Redis: buffered (the webhook writes Redis) or direct (PostgreSQL)
    intake_sweep_seconds: int = 15
    requeue_check_seconds: int = 60
    requeue_after_seconds: int = 120
    lost_check_seconds: int = 5  # how often the clock looks for users whose lock holder is gone
    worker_threads: int = 4
    worker_pumps: bool = True  # the worker's pumps take turns and ready users off Redis (bot/worker/pumps.py)
    sender_mps: int = 80  # the WhatsApp sender's limit at Twilio (80/s by default, up to 400/s on request)
    broadcast_mps: float = 10.0  # broadcast sends per second, shared by all workers; at most SENDER_MPS
    broadcast_template_sid_en: str | None = None  # a broadcast outside the 24 h window: {"1": the text}
    broadcast_template_sid_ar: str | None = None
    broadcast_check_seconds: int = 2  # how often the clock looks for broadcasts with recipients left
    broadcast_pause_seconds: int = 900  # after WhatsApp's 63018 (sender rate limit), resume this much later

    @property
    def embedded_queue(self) -> bool:
        """No Redis configured: jobs run in a background thread of the web process."""
        return not self.redis_url

    @property
    def buffered_intake(self) -> bool:
        """Webhooks hand turns to Redis and a job stores them (bot/intake/buffer.py); needs Redis."""
        return bool(self.redis_url) and self.intake_mode == "buffered"

    @property
    def signing_token(self) -> str:
        return self.twilio_auth_token or DEV_AUTH_TOKEN

    @property
    def status_callback_url(self) -> str | None:
        if not self.public_base_url:
            return None
        return self.public_base_url.rstrip("/") + "/webhooks/twilio/status"

    @classmethod
    def from_env(cls, environ: dict | None = None) -> "Settings":
        """Reads the settings; raises ConfigurationError naming the first missing or bad one."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            return (env.get(name) or "").strip() or None

        def integer(name: str) -> int:  # the setting NAME, read into the field `name.lower()`
            return int_or_default(name, get(name), getattr(cls, name.lower()))

        def decimal(name: str) -> float:
            return float_or_default(name, get(name), getattr(cls, name.lower()))

        settings = cls(
            env=get("BOT_ENV") or "development",
            database_url=normalise_database_url(get("DATABASE_URL") or default_database_url()),
            redis_url=get("REDIS_URL"),
            twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
            twilio_whatsapp_number=get("TWILIO_WHATSAPP_NUMBER") or cls.twilio_whatsapp_number,
            twilio_api_base_url=(get("TWILIO_API_BASE_URL") or cls.twilio_api_base_url).rstrip("/"),
            twilio_timeout=decimal("TWILIO_TIMEOUT"),
            send_max_attempts=integer("SEND_MAX_ATTEMPTS"),
            send_retry_seconds=decimal("SEND_RETRY_SECONDS"),
            public_base_url=(get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
            openai_api_key=get("OPENAI_API_KEY"),
            openai_base_url=get("OPENAI_BASE_URL"),
            openai_model=get("OPENAI_MODEL") or cls.openai_model,
            llm_timeout=decimal("LLM_TIMEOUT"),
            llm_max_retries=integer("LLM_MAX_RETRIES"),
            llm_history_turns=integer("LLM_HISTORY_TURNS"),
            secret_key=get("SECRET_KEY") or cls.secret_key,
            admin_api_token=get("ADMIN_API_TOKEN"),
            conversation_idle_minutes=integer("CONVERSATION_IDLE_MINUTES"),
            outbox_path=get("OUTBOX_PATH") or str(INSTANCE_DIR / "outbox.jsonl"),
            match_high=decimal("MATCH_HIGH"),
            match_low=decimal("MATCH_LOW"),
            llm_daily_token_budget=integer("LLM_DAILY_TOKEN_BUDGET"),
            llm_cache_ttl_seconds=integer("LLM_CACHE_TTL_SECONDS"),
            llm_prompt_token_budget=integer("LLM_PROMPT_TOKEN_BUDGET"),
            llm_prices=prices_from(get("LLM_PRICES")),
            feedback_prompt=parse_boolean(get("FEEDBACK_PROMPT"), default=True),
            max_seats_per_ticket=integer("MAX_SEATS_PER_TICKET"),
            events_page_size=integer("EVENTS_PAGE_SIZE"),
            dialog_idle_minutes=integer("DIALOG_IDLE_MINUTES"),
            reminder_hours_before=integer("REMINDER_HOURS_BEFORE"),
            reminder_template_sid_en=get("REMINDER_TEMPLATE_SID_EN"),
            reminder_template_sid_ar=get("REMINDER_TEMPLATE_SID_AR"),
            reminder_check_seconds=integer("REMINDER_CHECK_SECONDS"),
            handoff_template_sid=get("HANDOFF_TEMPLATE_SID"),
            handoff_idle_hours=integer("HANDOFF_IDLE_HOURS"),
            user_rate_limit=integer("USER_RATE_LIMIT"),
            llm_tool_rounds=integer("LLM_TOOL_ROUNDS"),
            intake_mode=(get("INTAKE_MODE") or cls.intake_mode).lower(),
            worker_threads=integer("WORKER_THREADS"),
            worker_pumps=parse_boolean(get("WORKER_PUMPS"), default=True),
            intake_sweep_seconds=integer("INTAKE_SWEEP_SECONDS"),
            requeue_check_seconds=integer("REQUEUE_CHECK_SECONDS"),
            requeue_after_seconds=integer("REQUEUE_AFTER_SECONDS"),
            user_lock_seconds=integer("USER_LOCK_SECONDS"),
            lost_check_seconds=integer("LOST_CHECK_SECONDS"),
            sender_mps=integer("SENDER_MPS"),
            broadcast_mps=decimal("BROADCAST_MPS"),
            broadcast_template_sid_en=get("BROADCAST_TEMPLATE_SID_EN"),
            broadcast_template_sid_ar=get("BROADCAST_TEMPLATE_SID_AR"),
            broadcast_check_seconds=integer("BROADCAST_CHECK_SECONDS"),
            broadcast_pause_seconds=integer("BROADCAST_PAUSE_SECONDS"),
        )
        if settings.user_lock_seconds < 3:
            raise ConfigurationError("USER_LOCK_SECONDS must be at least 3 (the locks are renewed every third)")
        if not 0 < settings.broadcast_mps <= settings.sender_mps:
            raise ConfigurationError(f"BROADCAST_MPS must be above 0 and at most SENDER_MPS ({settings.sender_mps})")
        if settings.intake_mode not in ("buffered", "direct"):
            raise ConfigurationError(f"INTAKE_MODE must be buffered or direct, got {settings.intake_mode!r}")
        if settings.env == "production":
            missing = [name for name in REQUIRED_IN_PRODUCTION if not get(name)]
            if missing:
                raise ConfigurationError(f"missing required setting {missing[0]} (BOT_ENV=production)")
        return settings

    def replace(self, **changes) -> "Settings":
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)
