"""A circuit breaker for the Anthropic API: after `failures` consecutive failed calls it
opens, and for `cooldown_s` nothing calls the API (messages fall back at once instead of
each waiting out its retries). Then one probe is let through (half-open): its success
closes the breaker, its failure opens it for another cooldown.

One per process, shared by message writing and reply analysis: they hit the same API.
"""

from __future__ import annotations

import time
from collections.abc import Callable

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._threshold = failures
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._consecutive = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return CLOSED
        return HALF_OPEN if self._clock() - self._opened_at >= self._cooldown_s else OPEN

    def allow(self) -> bool:
        """May a call go out now? In half-open, only one probe at a time."""
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def succeeded(self) -> None:
        self._consecutive = 0
        self._opened_at = None
        self._probing = False

    def abandoned(self) -> None:
        """A call let through ended without an answer either way (its caller left)."""
        self._probing = False

    def failed(self) -> None:
        self._consecutive += 1
        if self._probing or self._consecutive >= self._threshold:
            self._opened_at = self._clock()
        self._probing = False
