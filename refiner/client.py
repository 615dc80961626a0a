"""Calls the LLM for a batch of pairs: the openai client against any OpenAI-compatible endpoint,
a bounded number of requests in flight, the persistent cache in front, and every failure turned
into a named fault so that the pair can fall back to the guide instead of failing the bundle.

Retries with exponential backoff (honouring Retry-After) on 408/409/429/5xx, connection errors
and timeouts are the openai client's own; this module only sets how many and how long.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import List, Optional, Sequence

from mmkg.refiner.answer import parse_answer
from mmkg.refiner.cache import AnswerCache, CachedAnswer, request_key
from mmkg.refiner.prompt import ImageDescriber, build_request, no_image_description
from mmkg.refiner.settings import LlmSettings
from mmkg.schemas.records import RelationScores

_LOG = logging.getLogger("mmkg.refiner")

# Transport fault kinds (answer fault kinds are in refiner.answer).
TIMEOUT = "timeout"
CONNECTION = "connection"
RATE_LIMIT = "rate_limit"
SERVER_ERROR = "http_5xx"
CLIENT_ERROR = "http_4xx"
MALFORMED = "malformed_response"
EMPTY_CHOICE = "empty_choice"
BUDGET = "budget"
OTHER = "error"

_SIMPLER = {"json_schema": "json_object", "json_object": "none"}


@dataclass(frozen=True)
class LlmOutcome:
    """What asking the LLM about one pair gave. ``label`` is a valid candidate or None, and then
    ``fault`` names why."""

    label: Optional[str]
    fault: Optional[str] = None
    detail: str = ""
    called: bool = False  # a request was sent (cache misses only)
    cache_hit: bool = False
    prompt_tokens: int = 0  # of the request, also when answered from the cache
    completion_tokens: int = 0
    seconds: float = 0.0


def classify_exception(exc: BaseException) -> str:
    import openai

    # Order matters: APITimeoutError is a subclass of APIConnectionError.
    if isinstance(exc, openai.APITimeoutError):
        return TIMEOUT
    if isinstance(exc, openai.APIConnectionError):
        return CONNECTION
    if isinstance(exc, openai.RateLimitError):
        return RATE_LIMIT
    if isinstance(exc, openai.APIStatusError):
        return SERVER_ERROR if exc.status_code >= 500 else CLIENT_ERROR
    if isinstance(exc, (openai.APIResponseValidationError, ValueError, TypeError, KeyError, AttributeError)):
        return MALFORMED
    return OTHER


class Refiner:
    """One per worker (DoFn.setup): owns the HTTP client, the thread pool and the cache handle."""

    def __init__(
        self,
        settings: LlmSettings,
        top_k: Optional[int] = None,
        describe: ImageDescriber = no_image_description,
    ):
        if not settings.base_url or not settings.model:
            raise ValueError("Refiner needs a resolved endpoint (base_url and model)")
        self.settings = settings
        self.top_k = top_k
        self.describe = describe
        self._client = None
        self._pool: Optional[ThreadPoolExecutor] = None
        self._cache: Optional[AnswerCache] = None
        self._key = ""
        self._mode = settings.response_format
        self._lock = threading.Lock()
        self._calls = 0

    def open(self) -> "Refiner":
        import openai

        s = self.settings
        self._key = s.api_key()
        self._client = openai.OpenAI(
            base_url=s.base_url, api_key=self._key, timeout=s.timeout_s, max_retries=s.max_retries
        )
        self._pool = ThreadPoolExecutor(max_workers=s.concurrency, thread_name_prefix="mmkg-llm")
        if s.cache_path:
            self._cache = AnswerCache(s.cache_path)
        return self

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def __enter__(self) -> "Refiner":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def ask_many(self, batch: Sequence[RelationScores]) -> List[LlmOutcome]:
        """Outcomes in input order; at most ``concurrency`` requests in flight."""
        if self._pool is None:
            self.open()
        return list(self._pool.map(self.ask, batch))  # type: ignore[union-attr]

    def ask(self, scores: RelationScores) -> LlmOutcome:
        start = time.monotonic()
        try:
            outcome = self._ask(scores)
        except Exception as exc:  # one pair's failure must never fail the batch
            outcome = LlmOutcome(None, classify_exception(exc), self._scrub(f"{type(exc).__name__}: {exc}"))
        return _with_seconds(outcome, time.monotonic() - start)

    def _ask(self, scores: RelationScores) -> LlmOutcome:
        while True:
            mode = self._mode
            outcome = self._ask_with(scores, mode)
            # A server that rejects the response format (400) is asked again with a simpler one;
            # the answer is validated the same way whatever the format.
            if outcome.fault == CLIENT_ERROR and mode in _SIMPLER and _refuses_format(outcome.detail):
                if self._mode == mode:
                    _LOG.warning("endpoint refused response_format=%s; falling back to %s", mode, _SIMPLER[mode])
                    self._mode = _SIMPLER[mode]
                continue
            return outcome

    def _ask_with(self, scores: RelationScores, mode: str) -> LlmOutcome:
        s = self.settings
        body, labels = build_request(
            scores,
            s.model,  # type: ignore[arg-type]
            top_k=self.top_k,
            mode=mode,
            max_tokens=s.max_tokens,
            temperature=s.temperature,
            describe=self.describe,
        )
        key = request_key(body)
        cached = self._cache.get(key) if self._cache else None
        if cached is not None:
            parsed = parse_answer(cached.content, labels)
            # Token counts of a cached answer say what the request costs; nothing was spent now.
            return LlmOutcome(
                parsed.label, parsed.fault, parsed.detail, False, True, cached.prompt_tokens, cached.completion_tokens
            )
        if not self._claim_call():
            return LlmOutcome(None, BUDGET, f"run budget of {s.budget} calls spent")
        try:
            response = self._client.chat.completions.create(**body)  # type: ignore[union-attr]
        except Exception as exc:
            return LlmOutcome(None, classify_exception(exc), self._scrub(f"{type(exc).__name__}: {exc}"), called=True)
        usage = getattr(response, "usage", None)
        ptok = int(getattr(usage, "prompt_tokens", 0) or 0)
        ctok = int(getattr(usage, "completion_tokens", 0) or 0)
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list):
            return LlmOutcome(None, MALFORMED, "response has no choices list", True, False, ptok, ctok)
        if not choices:
            return LlmOutcome(None, EMPTY_CHOICE, "response has no choice", True, False, ptok, ctok)
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None)
        parsed = parse_answer(content, labels)
        if self._cache is not None and content and content.strip():
            # Off-label replies are cached too: at temperature 0 asking again gives the same.
            self._cache.put(key, s.model or "", CachedAnswer(content, ptok, ctok))  # type: ignore[arg-type]
        return LlmOutcome(parsed.label, parsed.fault, parsed.detail, True, False, ptok, ctok)

    def _claim_call(self) -> bool:
        """The run's budget lives in the cache database (shared by all processes); without a
        cache it is counted in this process only."""
        s = self.settings
        if self._cache is not None:
            return self._cache.claim_call(s.run_id, s.budget)
        with self._lock:
            if self._calls >= s.budget:
                return False
            self._calls += 1
            return True

    def _scrub(self, text: str) -> str:
        if self._key and len(self._key) >= 4:
            text = text.replace(self._key, "***")
        return text[:300]


def _refuses_format(detail: str) -> bool:
    low = detail.lower()
    return "badrequest" in low and any(w in low for w in ("response_format", "json", "schema", "grammar"))


def _with_seconds(outcome: LlmOutcome, seconds: float) -> LlmOutcome:
    import dataclasses

    return dataclasses.replace(outcome, seconds=seconds)
