"""The language model behind a small interface, so providers can be swapped and tests use a fake server.

`OpenAIChat` calls any OpenAI-compatible Chat Completions endpoint through the official client with an
explicit timeout and bounded retries (the client's defaults are 600 s and 2 retries).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

import openai

from bot.errors import LLMError
from bot.settings import Settings

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float
    finish_reason: str | None


class LanguageModel(Protocol):
    def complete(self, messages: list[dict]) -> Completion:
        """Answers a chat; raises LLMError on timeout, rate limit, outage or an empty answer."""


class OpenAIChat:
    def __init__(self, settings: Settings) -> None:
        self.model = settings.openai_model
        self.max_tokens = settings.llm_max_tokens
        self.client = openai.OpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url,
                                    timeout=settings.llm_timeout, max_retries=settings.llm_max_retries)

    def complete(self, messages: list[dict]) -> Completion:
        started = time.perf_counter()
        try:
            response = self.client.chat.completions.create(model=self.model, messages=messages,
                                                           max_tokens=self.max_tokens)
        except openai.OpenAIError as exc:
            raise LLMError(f"{type(exc).__name__}: {exc}") from exc
        latency_ms = (time.perf_counter() - started) * 1000
        if not response.choices or not (response.choices[0].message.content or "").strip():
            raise LLMError("the model returned an empty answer")
        usage = response.usage
        return Completion(text=response.choices[0].message.content.strip(), model=response.model or self.model,
                          prompt_tokens=usage.prompt_tokens if usage else None,
                          completion_tokens=usage.completion_tokens if usage else None,
                          latency_ms=latency_ms, finish_reason=response.choices[0].finish_reason)


def make_llm(settings: Settings) -> LanguageModel | None:
    """The configured model, or None when no API key is set (the bot then answers with its fallback)."""
    if not settings.openai_api_key:
        return None
    return OpenAIChat(settings)
