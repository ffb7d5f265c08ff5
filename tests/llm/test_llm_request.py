"""`OpenAIChat` posts the Chat Completions body it builds with the openai client's own `post` (bot/llm.py): the
request on the wire must stay what `client.chat.completions.create` sends for the same arguments, and the
SDK's per-call transform, which `post` skips, must still leave the bot's dicts unchanged."""
from __future__ import annotations

import json

import openai
import pytest
from openai._utils._transform import maybe_transform
from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming

from bot.core.errors import LLMError
from bot.llm.client import Completion, OpenAIChat, ToolCall, request_body
from bot.llm.tools import schemas


def conversation() -> list[dict]:
    """A chat as the assistant builds it: prompt, history, a tool round, Arabic and emoji text."""
    asked = Completion(text="", model="m", prompt_tokens=1, completion_tokens=1, latency_ms=1.0,
                       finish_reason="tool_calls",
                       tool_calls=(ToolCall(id="call_1", name="list_events",
                                            arguments=json.dumps({"from_date": "2026-12-01"})),))
    return [{"role": "system", "content": "You are the events assistant of Greenists in Aden."},
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "Hi! How can I help?"},
            {"role": "user", "content": "شو في فعاليات الويكند؟ 🎉"},
            asked.as_message(),
            {"role": "tool", "tool_call_id": "call_1",
             "content": json.dumps({"count": 1, "events": [{"code": "JAZZ", "price_yer": 5000}]})}]


@pytest.mark.parametrize("tools,choice", [(None, None), (schemas(4), "auto"), (schemas(4), "none")],
                         ids=["no tools", "auto", "none"])
def test_the_request_is_what_create_sends(settings, llm, tools, choice):
    chat = OpenAIChat(settings)
    chat.complete(conversation(), tools, choice)
    chat.client.chat.completions.create(model=settings.openai_model, messages=conversation(),
                                        max_tokens=settings.llm_max_tokens, tools=tools or openai.omit,
                                        tool_choice=choice or openai.omit)
    ours, sdk = llm.requests
    assert ours["path"] == sdk["path"] == "/v1/chat/completions"
    assert ours["body"] == sdk["body"]
    assert ("tools" in ours["body"]) is bool(tools)


@pytest.mark.parametrize("tools,choice", [(None, None), (schemas(4), "auto")])
def test_the_sdks_transform_leaves_the_body_unchanged(tools, choice):
    body = request_body("gpt-4o-mini", conversation(), 300, tools, choice)
    assert maybe_transform(body, CompletionCreateParamsNonStreaming) == body


def test_errors_and_retries_are_the_clients(settings, llm):
    """429 is retried by the client (`llm_max_retries`), then raised as LLMError."""
    llm.fail_status = 429
    with pytest.raises(LLMError, match="RateLimitError"):
        OpenAIChat(settings).complete(conversation())
    assert len(llm.requests) == 1 + settings.llm_max_retries


def test_the_answer_is_parsed_into_a_completion(settings, llm):
    done = OpenAIChat(settings).complete([{"role": "user", "content": "مرحبا"}])
    assert done.text == "FAKE-LLM: مرحبا" and done.model and done.finish_reason == "stop"
    assert done.prompt_tokens is not None and done.tool_calls == ()
