"""Personal data out of log lines (#15: no phones, emails or bodies in logs by default).

Our own log calls put no phone, email, name or message body in their text or fields (audited;
tests/integration/test_log_privacy.py runs a journey and reads every line). What this catches
is text we do not write ourselves: a peer's error message, an exception's text and traceback
(PostgreSQL's DETAIL echoes the key values of a violated constraint, the whole row of a
NOT NULL failure). Patterns only, so names and bodies must still stay out at the source."""

from __future__ import annotations

import re
from collections.abc import Mapping

REDACTED = "[redacted]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# E.164, and the written North American forms. Not bare runs of ten digits: epoch seconds,
# counters and ids look the same. UUIDs and ISO times never match (no 3-3-4 groups, no '+').
_PHONE = re.compile(
    r"\+\d[\d\s().-]{6,18}\d"
    r"|\(\d{3}\)\s?\d{3}[\s.-]\d{4}\b"
    r"|(?<![\w-])\d{3}[\s.-]\d{3}[\s.-]\d{4}\b"
)
# PostgreSQL's DETAIL lines carry the values themselves.
_PG_KEY = re.compile(r"(Key \([^)]*\)=)\((.*?)\)( already exists| is not present| conflicts)")
_PG_ROW = re.compile(r"(Failing row contains )\(.*\)")


def text(value: str) -> str:
    value = _PG_KEY.sub(rf"\1({REDACTED})\3", value)
    value = _PG_ROW.sub(rf"\1({REDACTED})", value)
    value = _EMAIL.sub(REDACTED, value)
    return _PHONE.sub(REDACTED, value)


def value(item: object) -> object:
    """Strings redacted, containers walked; numbers and ids (not text) as they are."""
    if isinstance(item, str):
        return text(item)
    if isinstance(item, Mapping):
        return {k: value(v) for k, v in item.items()}
    if isinstance(item, (list, tuple, set, frozenset)):
        return [value(v) for v in item]
    return item
