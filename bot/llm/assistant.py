"""The LLM route with its guard-rails: a per-user daily token budget, the response cache for non-personal
questions, the interaction log with cost, and conversation totals kept current; and the tool loop.

With a toolbox the model may call tools for up to `llm_tool_rounds` rounds; their results go back as `tool`
messages, and a tool may end the turn with its own reply (a confirmation question). A turn is logged as ONE
ai_interactions row whatever its rounds: tokens, cost and latency summed, the whole transcript as its prompt,
the tools called as its route_key. Turns that called tools are never stored in the response cache.

`ask` returns None whenever the LLM must not or could not answer; the router then falls through to the
fallback, so the user never meets silence or a stack trace.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from bot.core.errors import LLMError
from bot.llm import response_cache
from bot.llm.client import Completion, LanguageModel, ToolCall
from bot.llm.prompting import Prompt, to_whatsapp
from bot.nlu.normalize import normalize
from models import AIInteraction, Conversation, Message
from models.base import utcnow

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Answer:
    text: str
    model: str | None
    input_tokens: int
    output_tokens: int
    latency_ms: float | None
    finish_reason: str | None
    cache_hit: bool
    interaction_id: int
    tools: tuple[str, ...] = ()  # the tools called, in order, each name once
    final: Any = None  # the reply a tool ended the turn with (sent instead of model prose)
    rounds: int = 1


class ToolOutcome(Protocol):
    content: str  # the `tool` message for the model
    reply: Any  # a reply that ends the turn, or None


class Toolbox(Protocol):
    schemas: list[dict]

    def run(self, call: ToolCall) -> ToolOutcome: ...


@dataclass
class Rounds:
    """What the model was asked and answered over one turn's rounds, summed for the log."""

    messages: list[dict]
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0
    finish_reason: str | None = None
    count: int = 0
    tools: list[str] = field(default_factory=list)
    final: Any = None

    def add(self, done: Completion) -> None:
        self.count += 1
        self.model = done.model
        self.input_tokens += done.prompt_tokens or 0
        self.output_tokens += done.completion_tokens or 0
        self.latency_ms += done.latency_ms
        self.finish_reason = done.finish_reason

    def called(self, name: str) -> None:
        if name not in self.tools:
            self.tools.append(name)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def _run_tools(rounds: Rounds, tools: Toolbox, calls: tuple[ToolCall, ...]) -> bool:
    """Runs the calls in order, adding their results to the chat; True when one ended the turn (the calls
    after it are not run: the turn's reply is already decided)."""
    known = {t["function"]["name"] for t in tools.schemas}
    for call in calls:
        outcome = tools.run(call)
        if call.name in known:  # a made-up name is answered with an error, not recorded as used
            rounds.called(call.name)
        rounds.messages.append({"role": "tool", "tool_call_id": call.id, "content": outcome.content})
        if outcome.reply is not None:
            rounds.final = outcome.reply
            return True
    return False


# The LLM route's statements, built once: building a construct per call (and its cache key) cost more CPU
# than running it, several times per LLM turn.
_INTERACTIONS, _CONVERSATIONS = AIInteraction.__table__, Conversation.__table__
TOKENS_TODAY = (select(func.coalesce(func.sum(_INTERACTIONS.c.input_tokens + _INTERACTIONS.c.output_tokens), 0))
                .where(_INTERACTIONS.c.user_id == bindparam("user_id"),
                       _INTERACTIONS.c.created_at >= bindparam("since")))
LOGGED = insert(_INTERACTIONS).returning(_INTERACTIONS.c.id)
TOKENS_COUNTED = (update(_CONVERSATIONS).where(_CONVERSATIONS.c.id == bindparam("p_id"))
                  .values(total_tokens=_CONVERSATIONS.c.total_tokens + bindparam("p_tokens"),
                          total_cost_usd=_CONVERSATIONS.c.total_cost_usd + bindparam("p_cost")))


def tokens_used_today(session: Session, user_id: int) -> int:
    since = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return session.execute(TOKENS_TODAY, {"user_id": user_id, "since": since}).scalar_one()


class Assistant:
    def __init__(self, llm: LanguageModel | None, settings) -> None:
        self.llm = llm
        self.settings = settings

    def ask(self, session: Session, inbound: Message, prompt: Prompt, language: str,
            tools: Toolbox | None = None) -> Answer | None:
        """Answers from the cache or the LLM (calling `tools` as it asks) and logs the turn.

        Returns:
            The answer, or None when the LLM may not (budget) or could not (an error in any round) answer.
        """
        if self.llm is None:
            return None
        used = tokens_used_today(session, inbound.user_id)
        if used >= self.settings.llm_daily_token_budget:
            log.warning("llm budget exhausted user_id=%s used=%d", inbound.user_id, used)
            return None
        key = (response_cache.cache_key(normalize(inbound.body), prompt.version, language, prompt.data_version)
               if response_cache.cacheable(inbound.body) else None)
        hit = response_cache.cached(session, key) if key else None
        if hit is not None:
            return self._log(session, inbound, prompt.version, prompt.messages, hit.response, hit.model,
                             cache_hit=True, rounds=0)
        rounds = Rounds(messages=list(prompt.messages))
        failure = self._converse(rounds, tools, used, inbound.id)
        if failure is not None:
            self._log_rounds(session, inbound, prompt, rounds, None, error=failure[:1000])
            log.warning("llm failed message_id=%s rounds=%d error=%s", inbound.id, rounds.count, failure)
            return None
        if rounds.final is not None:
            return self._log_rounds(session, inbound, prompt, rounds, rounds.final.text)
        text = to_whatsapp(rounds.messages[-1]["content"])
        rounds.messages.pop()  # the answer is logged as the response, not as part of the prompt
        if key and not rounds.tools:  # answers built from tool results depend on live data: never cached
            response_cache.store(session, key, inbound.body, prompt.version, language, text, rounds.model,
                                 self.settings.llm_cache_ttl_seconds)
        return self._log_rounds(session, inbound, prompt, rounds, text)

    def _converse(self, rounds: Rounds, tools: Toolbox | None, used: int, message_id: int) -> str | None:
        """Asks the model, runs the tools it calls and asks again, until it answers in text, a tool ends the
        turn, or the rounds run out (the last request then demands text). Returns the failure, if any."""
        limit = self.settings.llm_tool_rounds if tools else 0
        for n in range(limit + 1):
            if n and used + rounds.tokens >= self.settings.llm_daily_token_budget:
                return "daily token budget exhausted during the tool rounds"
            choice = None if tools is None else ("none" if n == limit else "auto")
            try:
                done = self.llm.complete(rounds.messages, tools.schemas if tools else None, choice)
            except LLMError as exc:
                return str(exc)
            rounds.add(done)
            log.info("llm round message_id=%s round=%d tools=%s tokens=%d", message_id, n + 1,
                     ",".join(c.name for c in done.tool_calls) or "-",
                     (done.prompt_tokens or 0) + (done.completion_tokens or 0))
            if not done.tool_calls or n == limit:
                if not done.text:
                    return "the model still called tools after the last round"
                rounds.messages.append({"role": "assistant", "content": done.text})
                return None
            rounds.messages.append(done.as_message())
            if _run_tools(rounds, tools, done.tool_calls):
                return None
        return None  # not reached: the last round returns

    def cost(self, model: str | None, input_tokens: int, output_tokens: int) -> float:
        per_million = self.settings.llm_prices.get(model or "") or next(
            (p for name, p in self.settings.llm_prices.items() if model and model.startswith(name)), (0.0, 0.0))
        return round((input_tokens * per_million[0] + output_tokens * per_million[1]) / 1_000_000, 6)

    def _log_rounds(self, session: Session, inbound: Message, prompt: Prompt, rounds: Rounds,
                    response: str | None, error: str | None = None) -> Answer | None:
        return self._log(session, inbound, prompt.version, rounds.messages, response,
                         rounds.model or getattr(self.llm, "model", None), input_tokens=rounds.input_tokens,
                         output_tokens=rounds.output_tokens, latency_ms=rounds.latency_ms if rounds.count else None,
                         finish_reason=rounds.finish_reason, error=error, tools=tuple(rounds.tools),
                         final=rounds.final, rounds=rounds.count)

    def _log(self, session: Session, inbound: Message, version: str, messages: list[dict], response: str | None,
             model: str | None, *, input_tokens: int = 0, output_tokens: int = 0, latency_ms: float | None = None,
             finish_reason: str | None = None, cache_hit: bool = False, error: str | None = None,
             tools: tuple[str, ...] = (), final: Any = None, rounds: int = 1) -> Answer | None:
        cost = self.cost(model, input_tokens, output_tokens)
        interaction_id = session.execute(LOGGED, {
            "message_id": inbound.id, "conversation_id": inbound.conversation_id, "user_id": inbound.user_id,
            "route": "llm", "route_key": ",".join(tools)[:100] or None, "prompt": messages,
            "prompt_version": version, "response": response, "model": model, "input_tokens": input_tokens,
            "output_tokens": output_tokens, "cost_usd": cost, "latency_ms": latency_ms,
            "finish_reason": finish_reason, "cache_hit": cache_hit, "error": error,
            "created_at": utcnow()}).scalar_one()
        if input_tokens or output_tokens:
            session.execute(TOKENS_COUNTED, {"p_id": inbound.conversation_id,
                                             "p_tokens": input_tokens + output_tokens, "p_cost": cost})
        if response is None:
            return None
        return Answer(text=response, model=model, input_tokens=input_tokens, output_tokens=output_tokens,
                      latency_ms=latency_ms, finish_reason=finish_reason, cache_hit=cache_hit,
                      interaction_id=interaction_id, tools=tools, final=final, rounds=rounds)
