"""Parsing and checking the request fields every RPC receives: ids, required text, request ids."""

from __future__ import annotations

import uuid

from shared.errors import FieldViolation, InvalidArgument


def parse_uuid(raw: str, field: str, *, what: str = "id") -> uuid.UUID:
    if not raw:
        raise InvalidArgument(
            f"{field} is required", reason="MISSING_FIELD", violations=[FieldViolation(field, "required")]
        )
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise InvalidArgument(
            f"{field} {raw[:64]!r} is not a valid {what}",
            reason="INVALID_ID",
            violations=[FieldViolation(field, f"must be a UUID {what}")],
        ) from None


def require_text(raw: str, field: str, *, max_len: int = 200) -> str:
    value = raw.strip()
    if not value:
        raise InvalidArgument(
            f"{field} is required", reason="MISSING_FIELD", violations=[FieldViolation(field, "required")]
        )
    if len(value) > max_len:
        raise InvalidArgument(
            f"{field} is {len(value)} characters; the limit is {max_len}",
            reason="FIELD_TOO_LONG",
            violations=[FieldViolation(field, f"at most {max_len} characters")],
        )
    return value


def request_key(raw: str, field: str = "request_id") -> str | None:
    """An idempotency key, or None when the caller did not send one."""
    value = raw.strip()
    if len(value) > 128:
        raise InvalidArgument(
            f"{field} is longer than 128 characters",
            reason="FIELD_TOO_LONG",
            violations=[FieldViolation(field, "at most 128 characters")],
        )
    return value or None
