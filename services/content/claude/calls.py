"""One Anthropic call with our retries: backoff with jitter on 429, 529, other 5xx and
connection errors, inside a bounded total time, behind the circuit breaker.

The SDK's own retries are off (max_retries=0): they would wait up to 8 s a try with no
overall bound and without telling the breaker. A timeout is not retried: an API that is
slow now is likely slow again, and the lead's first message should not wait for it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anthropic
from anthropic.types import Message as ApiMessage

from services.content.claude.breaker import CircuitBreaker
from services.content.claude.settings import ClaudeSettings
from shared import deadlines

log = logging.getLogger(__name__)

API_UNAVAILABLE = "API_UNAVAILABLE"
API_TIMEOUT = "API_TIMEOUT"
API_REJECTED = "API_REJECTED"
CIRCUIT_OPEN = "CIRCUIT_OPEN"
MALFORMED_REPLY = "MALFORMED_REPLY"
# An attempt given less than this would only add a request the API cannot answer in time.
_MIN_ATTEMPT_S = 0.05
_RETRY_AFTER_MAX_S = 60.0
_FALLBACK_RESERVE_S = 0.5


@dataclass(frozen=True)
class CallResult:
    message: ApiMessage | None
    failure: str  # "" when message is set
    attempts: int  # HTTP requests made
    latency_ms: int


def _retry_after(err: anthropic.APIStatusError) -> float | None:
    headers = err.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) * scale
        except ValueError:
            continue
        if 0 <= value <= _RETRY_AFTER_MAX_S:
            return value
    return None


def _retryable(err: anthropic.APIStatusError) -> bool:
    should = err.response.headers.get("x-should-retry")
    if should in ("true", "false"):
        return should == "true"
    return err.status_code == 429 or err.status_code >= 500


class ApiCaller:
    def __init__(
        self,
        client: anthropic.AsyncAnthropic,
        settings: ClaudeSettings,
        breaker: CircuitBreaker,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._client = client
        self._settings = settings
        self.breaker = breaker
        self._sleep = sleep
        self._jitter = jitter

    def _backoff(self, attempt: int) -> float:
        # "Equal jitter": at least half the exponential step, so retries spread but still back off.
        step = min(self._settings.backoff_cap_s, self._settings.backoff_base_s * 2.0 ** (attempt - 1))
        return step * (0.5 + self._jitter() / 2)

    async def create(self, **params: Any) -> CallResult:
        settings = self._settings
        start = time.monotonic()
        budget = deadlines.timeout(settings.total_timeout_s)
        if budget < settings.total_timeout_s:
            # The caller's deadline is the bound: keep some of it for the fallback to write and store.
            budget -= min(_FALLBACK_RESERVE_S, budget * 0.2)
        end = start + budget
        attempts = 0
        failure = CIRCUIT_OPEN

        def result(message: ApiMessage | None, why: str) -> CallResult:
            return CallResult(message, why, attempts, round((time.monotonic() - start) * 1000))

        while True:
            if not self.breaker.allow():
                return result(None, failure)
            attempts += 1
            timeout = min(settings.attempt_timeout_s, max(end - time.monotonic(), _MIN_ATTEMPT_S))
            retry_after: float | None = None
            settled = False
            try:
                message = await self._client.messages.create(**params, timeout=timeout)
                settled = True
                self.breaker.succeeded()
                return result(message, "")
            except anthropic.APITimeoutError:
                settled = True
                self.breaker.failed()
                log.warning("anthropic call timed out", extra={"timeout_s": timeout, "attempt": attempts})
                return result(None, API_TIMEOUT)
            except (anthropic.APIResponseValidationError, ValueError) as err:
                # A 200 whose body is not a Message (bad JSON, missing fields): the API is misbehaving.
                settled = True
                self.breaker.failed()
                log.warning("anthropic answered unreadably", extra={"error": type(err).__name__})
                return result(None, MALFORMED_REPLY)
            except anthropic.APIConnectionError as err:
                settled = True
                self.breaker.failed()
                failure = API_UNAVAILABLE
                log.warning("anthropic unreachable", extra={"error": type(err).__name__, "attempt": attempts})
            except anthropic.APIStatusError as err:
                settled = True
                self.breaker.failed()
                if not _retryable(err):
                    # Our request or key is wrong: retrying cannot help, and someone must look.
                    log.error(
                        "anthropic rejected the request",
                        extra={"status": err.status_code, "anthropic_request_id": err.request_id},
                    )
                    return result(None, API_REJECTED)
                failure = API_UNAVAILABLE
                retry_after = _retry_after(err)
                log.warning(
                    "anthropic busy or failing",
                    extra={
                        "status": err.status_code,
                        "attempt": attempts,
                        "anthropic_request_id": err.request_id,
                    },
                )
            finally:
                if not settled:  # cancelled mid-call: neither a success nor a failure
                    self.breaker.abandoned()
            if attempts >= settings.max_attempts:
                return result(None, failure)
            delay = self._backoff(attempts)
            if retry_after is not None:
                delay = max(delay, retry_after)
            if time.monotonic() + delay + _MIN_ATTEMPT_S >= end:
                return result(None, failure)
            await self._sleep(delay)
