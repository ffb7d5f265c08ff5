"""The language model behind a small interface, so providers can be swapped and tests use a fake server.

`OpenAIChat` calls any OpenAI-compatible Chat Completions endpoint through the official client with an
explicit timeout and bounded retries (the client's defaults are 600 s and 2 retries). With `tools` the model may
answer with tool calls instead of (or besides) text; the caller runs them and asks again.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Protocol

import openai
from openai.types.chat import ChatCompletion

from bot.core.errors import LLMError
from bot.core.settings import Settings

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text as the model wrote it: validated by the tool, never trusted


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float
    finish_reason: str | None
    tool_calls: tuple[ToolCall, ...] = ()

    def as_message(self) -> dict:
        """The assistant message to send back with the tool results, as Chat Completions expects it."""
        message: dict = {"role": "assistant", "content": self.text or None}
        if self.tool_calls:
            message["tool_calls"] = [{"id": c.id, "type": "function",
                                      "function": {"name": c.name, "arguments": c.arguments}}
                                     for c in self.tool_calls]
        return message


class LanguageModel(Protocol):
    def complete(self, messages: list[dict], tools: list[dict] | None = None,
                 tool_choice: str | None = None) -> Completion:
        """Answers a chat, in text or with calls of the offered `tools`; raises LLMError on timeout, rate
        limit, outage or an answer with neither text nor tool calls."""


CHAT_COMPLETIONS = "/chat/completions"


def request_body(model: str, messages: list[dict], max_tokens: int, tools: list[dict] | None,
                 tool_choice: str | None) -> dict:
    """The Chat Completions request, as `client.chat.completions.create` would send it.

    `OpenAIChat` posts it with the client's own `post` (same retries, timeout, errors and typed response)
    because `create` first walks every message and tool schema against the SDK's TypedDicts — about 2.4 ms
    of CPU per call here — only to produce, for the plain JSON dicts the bot builds, the same dict
    (tests/llm/test_llm_request.py checks that it still does, and that the request on the wire is the same).
    """
    body: dict = {"model": model, "messages": messages, "max_tokens": max_tokens}
    if tools:  # some OpenAI-compatible servers refuse an empty `tools` list: the field goes only with tools
        body["tools"] = tools
        if tool_choice:
            body["tool_choice"] = tool_choice
    return body


class OpenAIChat:
    def __init__(self, settings: Settings) -> None:
        self.model = settings.openai_model
        self.max_tokens = settings.llm_max_tokens
        self.client = openai.OpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url,
                                    timeout=settings.llm_timeout, max_retries=settings.llm_max_retries)

    def complete(self, messages: list[dict], tools: list[dict] | None = None,
                 tool_choice: str | None = None) -> Completion:
        """One Chat Completions request (timeout and retries as configured on the client).

        Args:
            messages: the chat so far, including earlier rounds' tool calls and `tool` results.
            tools: JSON-schema function tools the model may call; None offers none.
            tool_choice: "auto" (the API's default), "none" to demand text, "required".
        Returns:
            The answer's text (may be empty when it calls tools), its tool calls and usage.
        """
        started = time.perf_counter()
        try:
            response = self.client.post(CHAT_COMPLETIONS, cast_to=ChatCompletion,
                                        body=request_body(self.model, messages, self.max_tokens, tools, tool_choice))
        except openai.OpenAIError as exc:
            raise LLMError(f"{type(exc).__name__}: {exc}") from exc
        latency_ms = (time.perf_counter() - started) * 1000
        if not response.choices:
            raise LLMError("the model returned no choices")
        message = response.choices[0].message
        text = (message.content or "").strip()
        calls = tuple(ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "{}")
                      for c in message.tool_calls or () if getattr(c, "function", None) is not None)
        if not text and not calls:
            raise LLMError("the model returned an empty answer")
        usage = response.usage
        return Completion(text=text, model=response.model or self.model,
                          prompt_tokens=usage.prompt_tokens if usage else None,
                          completion_tokens=usage.completion_tokens if usage else None,
                          latency_ms=latency_ms, finish_reason=response.choices[0].finish_reason,
                          tool_calls=calls)


def make_llm(settings: Settings) -> LanguageModel | None:
    """The configured model, or None when no API key is set (the bot then answers with its fallback)."""
    if not settings.openai_api_key:
        return None
    return OpenAIChat(settings)
