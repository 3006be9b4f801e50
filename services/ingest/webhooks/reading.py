"""Reading single values out of a provider payload, the same way for every provider. Pure."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

from services.ingest.webhooks.actions import PayloadError
from shared import contact, payloads
from shared.errors import InvalidArgument

MAX_LOCATION_ID = 200


def json_object(payload: bytes) -> dict[str, Any]:
    try:
        return payloads.read_json_object(payload)
    except payloads.PayloadError as err:
        raise PayloadError(err.detail) from None


def form_fields(payload: bytes) -> dict[str, str]:
    """A form body as {name: first value}."""
    try:
        return payloads.read_form_fields(payload)
    except payloads.PayloadError as err:
        raise PayloadError(err.detail) from None


def text(obj: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    """A string value; None when absent or null, since a null never blanks what we hold."""
    value = obj.get(key)
    if value is None:
        if required:
            raise PayloadError(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{key} must be a string, not {type(value).__name__}")
    if required and not value.strip():
        raise PayloadError(f"{key} is required")
    return value


def ident(obj: dict[str, Any], key: str) -> str:
    value = (text(obj, key, required=True) or "").strip()
    if len(value) > MAX_LOCATION_ID:
        raise PayloadError(f"{key} is {len(value)} characters; the limit is {MAX_LOCATION_ID}")
    return value


def location(named: str | None, envelope: str) -> str:
    """The tenant: the gateway's, else the payload's; they must agree when both are given."""
    value = (named or "").strip()
    if len(value) > MAX_LOCATION_ID:
        raise PayloadError(f"location id is {len(value)} characters; the limit is {MAX_LOCATION_ID}")
    if envelope and value and value != envelope:
        raise PayloadError(f"payload location {value!r} differs from the event's location_id", envelope)
    return envelope or value


def iso_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def unix_time(raw: Any) -> datetime | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    try:
        return datetime.fromtimestamp(raw, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def invalid(err: InvalidArgument, location_id: str) -> PayloadError:
    where = err.violations[0].field if err.violations else "payload"
    return PayloadError(f"{where}: {err.message}", location_id)


def email_address(raw: str | None) -> str:
    """The address of 'Name <a@b>' or 'a@b', lower-cased; "" when it is not one."""
    if not raw:
        return ""
    try:
        return contact.normalize_email(parseaddr(raw)[1], "address")
    except InvalidArgument:
        return ""
