"""Moderation rules as one compiled set, cached per process.

A `words` rule is a word or phrase matched as whole tokens after Arabic normalisation (`bot.nlu.normalize`):
"مص" does not flag "مصر", "خول" does not flag "الدخول", "ass" does not flag "class". A message token also
matches with one clitic prefix removed (ال، و، ب، ل، ف and their combinations, as `strip_arabic_prefix` does),
so "خول" still flags "والخول"; a phrase matches as a sequence of such tokens. A `regex` rule is searched in the
message as written, case-insensitively; a pattern that does not compile, is longer than MAX_REGEX_LENGTH or
nests one unbounded repeat inside another ("(a+)+", which can take exponential time) is refused.

Matching a message costs one dictionary look-up per token plus one search per regex rule; the set is rebuilt
only when the table changes (checked at most every CHECK_SECONDS, like the FAQ's `KnowledgeCache`).
"""
from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from dataclasses import dataclass, field
from re import _parser as sre_parser

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.nlu.normalize import normalize, strip_arabic_prefix
from models import ModerationRule

log = logging.getLogger(__name__)
KINDS = ("words", "regex")
ACTIONS = ("flag", "block", "replace")
STRENGTH = {"flag": 0, "replace": 1, "block": 2}  # several rules hit: the strongest decides
DEFAULT_REPLACEMENT = "***"
MAX_REGEX_LENGTH = 300
CHECK_SECONDS = 5.0
# a token as written: letters, digits, the marks and apostrophes `normalize` deletes rather than spaces
_RAW_TOKEN = re.compile("[\\w\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED'`\u00B4\u2018\u2019\u02BC]+")
_REPEATS = (sre_parser.MAX_REPEAT, sre_parser.MIN_REPEAT, sre_parser.POSSESSIVE_REPEAT)


class RuleError(ValueError):
    """A pattern that cannot be a rule; the message says why."""


@dataclass(frozen=True)
class Rule:
    id: int | None
    kind: str
    action: str
    replacement: str | None = None
    tokens: tuple[str, ...] = ()  # words
    regex: re.Pattern | None = None

    @property
    def mask(self) -> str:
        return self.replacement or DEFAULT_REPLACEMENT


@dataclass(frozen=True)
class Hit:
    rule: Rule
    start: int  # the span in the message as written
    end: int
    text: str


def words_of(pattern: str) -> tuple[str, ...]:
    tokens = tuple(normalize(pattern).split())
    if not tokens:
        raise RuleError(f"words pattern {pattern!r} has no letters or digits")
    return tokens


def compile_regex(pattern: str) -> re.Pattern:
    """The compiled pattern, or RuleError naming what is wrong."""
    if len(pattern) > MAX_REGEX_LENGTH:
        raise RuleError(f"regex is longer than {MAX_REGEX_LENGTH} characters")
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise RuleError(f"regex {pattern!r} is not valid: {exc}") from exc
    if compiled.match(""):
        raise RuleError(f"regex {pattern!r} matches the empty text (so every message)")
    if _nested_unbounded(sre_parser.parse(pattern), False):
        raise RuleError(f"regex {pattern!r} repeats a repeat (like (a+)+), which can take exponential time")
    return compiled


def _nested_unbounded(items, inside: bool) -> bool:
    """An unbounded repeat (+, *, {n,}) inside another, in a parsed pattern."""
    for op, value in items:
        if op in _REPEATS:
            unbounded = value[1] == sre_parser.MAXREPEAT
            if (unbounded and inside) or _nested_unbounded(value[2], inside or unbounded):
                return True
        elif any(_nested_unbounded(sub, inside) for sub in _subpatterns(op, value)):
            return True
    return False


def _subpatterns(op, value) -> list:
    if op is sre_parser.SUBPATTERN:
        return [value[-1]]
    if op is sre_parser.BRANCH:
        return list(value[1])
    if op in (sre_parser.ASSERT, sre_parser.ASSERT_NOT):
        return [value[1]]
    return []


def compile_rule(row_id: int | None, kind: str, pattern: str, action: str, replacement: str | None = None) -> Rule:
    """A rule from its stored (or imported) fields; RuleError when it cannot be one."""
    if kind not in KINDS:
        raise RuleError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if action not in ACTIONS:
        raise RuleError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    if kind == "words":
        return Rule(row_id, kind, action, replacement, tokens=words_of(pattern))
    return Rule(row_id, kind, action, replacement, regex=compile_regex(pattern))


@dataclass
class RuleSet:
    """The active rules, indexed: words rules by their first token."""

    by_first_token: dict[str, list[Rule]] = field(default_factory=dict)
    regexes: list[Rule] = field(default_factory=list)

    def add(self, rule: Rule) -> None:
        if rule.kind == "words":
            self.by_first_token.setdefault(rule.tokens[0], []).append(rule)
        else:
            self.regexes.append(rule)

    def __len__(self) -> int:
        return sum(len(rules) for rules in self.by_first_token.values()) + len(self.regexes)

    def find(self, text: str) -> list[Hit]:
        """Every rule the text breaks, with where."""
        hits = [Hit(rule, m.start(), m.end(), m.group()) for rule in self.regexes
                for m in rule.regex.finditer(text) if m.end() > m.start()]
        if self.by_first_token:
            hits += self._word_hits(text)
        return hits

    def _word_hits(self, text: str) -> list[Hit]:
        tokens = tokenize(text)
        hits = []
        for i, (forms, start, _) in enumerate(tokens):
            for rule in {id(r): r for form in forms for r in self.by_first_token.get(form, ())}.values():
                last = i + len(rule.tokens) - 1
                if last < len(tokens) and all(want in tokens[i + j][0] for j, want in enumerate(rule.tokens)):
                    hits.append(Hit(rule, start, tokens[last][2], text[start:tokens[last][2]]))
        return hits


def tokenize(text: str) -> list[tuple[frozenset[str], int, int]]:
    """(the token's normalised forms — as is, and without a clitic prefix — start, end) for each token; a written
    token that normalises to several (\"don't\" stays one, \"a_b\" is two) gives each the written span."""
    tokens = []
    for m in _RAW_TOKEN.finditer(text):
        for token in normalize(m.group()).split():
            tokens.append((frozenset((token, strip_arabic_prefix(token))), m.start(), m.end()))
    return tokens


def strongest(hits: list[Hit]) -> Hit:
    return max(hits, key=lambda h: STRENGTH[h.rule.action])


def masked(text: str, hits: list[Hit]) -> str:
    """The text with each `replace` hit replaced by its rule's replacement (overlapping hits merged)."""
    spans = sorted((h.start, h.end, h.rule.mask) for h in hits if h.rule.action == "replace")
    merged: list[list] = []
    for start, end, mask in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end, mask])
    for start, end, mask in reversed(merged):
        text = text[:start] + mask + text[end:]
    return text


def load_rules(session: Session) -> RuleSet:
    rules = RuleSet()
    for row in session.scalars(select(ModerationRule).where(ModerationRule.active).order_by(ModerationRule.id)):
        try:
            rules.add(compile_rule(row.id, row.kind, row.pattern, row.action, row.replacement))
        except RuleError as exc:  # written around the import: skipped, not fatal to every turn
            log.warning("moderation rule skipped rule_id=%s: %s", row.id, exc)
    return rules


def _version(session: Session) -> tuple:
    return tuple(session.execute(select(func.count(ModerationRule.id), func.max(ModerationRule.updated_at))).one())


class RuleCache:
    """One compiled RuleSet per process and database, rebuilt when the table changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: RuleSet | None = None
        self._version: tuple | None = None
        self._checked = 0.0

    def get(self, session: Session) -> RuleSet:
        with self._lock:
            if self._rules is None or time.monotonic() - self._checked > CHECK_SECONDS:
                version = _version(session)
                self._checked = time.monotonic()
                if self._rules is None or version != self._version:
                    self._rules, self._version = load_rules(session), version
            return self._rules

    def invalidate(self) -> None:
        with self._lock:
            self._rules = None


_caches: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine → RuleCache
_caches_lock = threading.Lock()


def rules_for(session: Session) -> RuleSet:
    """The active rules of the session's database (a process may serve several apps: tests do)."""
    engine = session.get_bind().engine
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = RuleCache()
    return cache.get(session)


def invalidate() -> None:
    """After an import in this process: the next turn reads the table again."""
    with _caches_lock:
        for cache in _caches.values():
            cache.invalidate()
