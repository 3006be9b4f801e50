"""A local fake of the Anthropic Messages API (integrations.md §4.5): POST /v1/messages
answers in the documented wire format, scriptable, counting every request.

Faults are queued and consumed one request at a time (`fake.faults.extend(["429", "529"])`);
`storm` answers every request with one fault until cleared:
  "429"        rate_limit_error, Retry-After: 0
  "529"        overloaded_error, Retry-After: 0
  "500"        api_error
  "401"        authentication_error
  "malformed"  200 with a body that is not JSON
  "not_json"   200, a valid Message whose text is not our JSON answer
  "refusal"    200, stop_reason "refusal"
  "slow"       a normal answer after `slow_s`
Without a fault the answer is `reply(request_json)`; the default writes a short message that
names the brand from the prompt. Usage counts prompt characters / 4 as tokens; a system part
of at least `min_cache_tokens` (Anthropic caches nothing shorter: 1,024 to 4,096 tokens by
model) is reported as a cache write the first time it is seen and a cache read after.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_KEY = "sk-ant-fake-key"  # the fake's own, not a secret
_ERRORS = {
    "429": (429, "rate_limit_error"),
    "529": (529, "overloaded_error"),
    "500": (500, "api_error"),
    "401": (401, "authentication_error"),
}


def default_reply(request: dict[str, Any]) -> str:
    """A usable answer to our prompts: a message naming the brand, or a reply reading."""
    user = request["messages"][0]["content"]
    task = json.loads(user) if isinstance(user, str) else {}
    if not isinstance(task, dict):  # AnalyzeReply: the user part is the reply as a JSON string
        return json.dumps({"intent": "interested", "score": 0.6})
    facts = task.get("facts", {})
    name = facts.get("lead_first_name", "there")
    brand = facts.get("brand_name", "our team")
    body = f"Hi {name}, this is {brand}. Happy to help with your home search whenever suits you."
    subject = "Your home search" if task.get("channel") == "email" else ""
    return json.dumps({"subject": subject, "body": body})


@dataclass
class FakeAnthropic:
    faults: list[str] = field(default_factory=list)
    storm: str = ""
    slow_s: float = 2.0
    min_cache_tokens: int = 2048
    model: str = "claude-sonnet-5-5"
    reply: Callable[[dict[str, Any]], str] = default_reply
    # Every request's JSON body, in arrival order (whatever its answer was).
    requests: list[dict[str, Any]] = field(default_factory=list)
    unauthorized: int = 0
    _seen_systems: set[str] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def calls(self) -> int:
        return len(self.requests)

    def _next_fault(self) -> str:
        with self._lock:
            if self.storm:
                return self.storm
            return self.faults.pop(0) if self.faults else ""

    def _usage(self, request: dict[str, Any]) -> dict[str, int]:
        system = "".join(b.get("text", "") for b in request.get("system", []) if isinstance(b, dict))
        user = json.dumps(request.get("messages", []))
        digest = hashlib.sha256(system.encode()).hexdigest()
        cached = len(system) // 4
        if cached < self.min_cache_tokens:  # too short to cache: all of it is plain input
            return {"input_tokens": max((len(system) + len(user)) // 4, 1)}
        with self._lock:
            seen = digest in self._seen_systems
            self._seen_systems.add(digest)
        return {
            "input_tokens": max(len(user) // 4, 1),
            "cache_creation_input_tokens": 0 if seen else cached,
            "cache_read_input_tokens": cached if seen else 0,
        }

    async def messages(self, request: Request) -> Response:
        key = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix(
            "Bearer "
        )
        if key != API_KEY:
            self.unauthorized += 1
            return self._error(401, "authentication_error", "invalid x-api-key")
        body = await request.json()
        with self._lock:
            self.requests.append(body)
        fault = self._next_fault()
        if fault in _ERRORS:
            return self._error(*_ERRORS[fault], f"fake {fault}")
        if fault == "malformed":
            return Response("{not json", media_type="application/json")
        if fault == "slow":
            await asyncio.sleep(self.slow_s)
        text = {"not_json": "Sure! Here is a lovely message for you.", "refusal": ""}.get(fault)
        usage = self._usage(body)
        return JSONResponse(
            {
                "id": f"msg_fake_{next(self._ids):06d}",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", self.model),
                "content": [{"type": "text", "text": self.reply(body) if text is None else text}],
                "stop_reason": "refusal" if fault == "refusal" else "end_turn",
                "stop_sequence": None,
                "usage": {**usage, "output_tokens": 40},
            },
            headers={"request-id": f"req_fake_{self.calls:06d}"},
        )

    def _error(self, status: int, kind: str, message: str) -> Response:
        return JSONResponse(
            {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"},
            status_code=status,
            headers={"retry-after": "0"},
        )

    def routes(self) -> list[Route]:
        return [Route("/v1/messages", self.messages, methods=["POST"])]


def env_for(base_url: str) -> dict[str, str]:
    """Content settings that point Claude at the fake."""
    return {"ANTHROPIC_API_KEY": API_KEY, "ANTHROPIC_BASE_URL": base_url}
