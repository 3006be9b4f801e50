"""Reading provider bodies: JSON and form data. Pure: no I/O.

The gateway reads a body to verify and route it; ingest reads the same bytes
again to normalise them. Both read them here, so both agree on what a body is.
Each caller turns PayloadError into its own answer (an HTTP 400, a stored-only
event); `detail` is safe to log and store: it never quotes more than 20
characters of the body.
"""

from __future__ import annotations

import json
import math
import urllib.parse
from typing import Any


class PayloadError(Exception):
    """The body is not what it claims to be; detail says why."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; stored payloads must parse anywhere (jsonb refuses them).
    raise PayloadError(f"payload holds {name}, which is not a JSON number")


def _finite(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise PayloadError(f"payload number {raw[:20]} is out of range")
    return value


def read_json(raw: bytes, *, finite: bool = False) -> Any:
    """Any JSON value. NaN and Infinity are refused; with finite, so are numbers too large for
    a float (1e999), which Python would read as infinity."""
    try:
        return json.loads(raw, parse_constant=_reject_constant, parse_float=_finite if finite else None)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise PayloadError(f"payload is not JSON: {type(err).__name__}") from None


def read_json_object(raw: bytes) -> dict[str, Any]:
    """A JSON object whose numbers are finite and whose text holds no NUL: one that
    PostgreSQL's text and jsonb can store."""
    value = read_json(raw, finite=True)
    if not isinstance(value, dict):
        raise PayloadError("payload is not a JSON object")
    reject_nul(value)
    return value


def reject_nul(value: Any) -> None:
    """PostgreSQL text and jsonb cannot hold U+0000; refuse it once here instead of per column."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise PayloadError("payload contains a NUL character")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def read_form(raw: bytes, *, max_fields: int | None = None) -> list[tuple[str, str]]:
    """Every field of a UTF-8 form body, in order, blank values kept; more than max_fields
    fields is not a form we read."""
    try:
        return urllib.parse.parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=max_fields
        )
    except (UnicodeDecodeError, ValueError):
        raise PayloadError("payload is not a UTF-8 form body") from None


def read_form_fields(raw: bytes) -> dict[str, str]:
    """A form body as {name: first value}, with no NUL in any name or value."""
    result: dict[str, str] = {}
    for name, value in read_form(raw):
        reject_nul((name, value))
        result.setdefault(name, value)
    return result
