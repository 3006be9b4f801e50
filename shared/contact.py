"""Normalising the contact details every service stores: phone, email, time zone."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from phonenumbers import timezone as phone_timezone

from shared.errors import FieldViolation, InvalidArgument

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_ZONES = frozenset(available_timezones())


def normalize_email(raw: str, field: str) -> str:
    """Lower-cased and trimmed; empty stays empty (the caller decides if it is required)."""
    email = raw.strip().lower()
    if not email:
        return ""
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidArgument(
            # Not the value itself: error messages reach other services' logs (#15).
            f"{field} is not an email address",
            reason="INVALID_EMAIL",
            violations=[FieldViolation(field, "must look like name@example.com")],
        )
    return email


def normalize_phone(raw: str, field: str, *, default_region: str = "US") -> str:
    """E.164 (+15125550100); numbers without a country code are read as default_region."""
    text = raw.strip()
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidArgument(
            f"{field} is not a valid phone number",
            reason="INVALID_PHONE",
            violations=[FieldViolation(field, "must be a dialable number, e.g. +15125550100")],
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_timezone(raw: str, field: str) -> str:
    zone = raw.strip()
    if not zone:
        return ""
    if zone not in _ZONES:
        raise InvalidArgument(
            f"{field} {raw[:60]!r} is not an IANA time zone",
            reason="INVALID_TIMEZONE",
            violations=[FieldViolation(field, "must be an IANA zone such as America/Chicago")],
        )
    return zone


def zone_for(timezone_name: str, phone_e164: str) -> ZoneInfo | None:
    """The lead's zone: explicit IANA name first, else the phone number's area code
    when it maps to exactly one zone. None when unknown: callers must not text then."""
    if timezone_name:
        try:
            return ZoneInfo(timezone_name)
        except (ZoneInfoNotFoundError, ValueError):
            return None
    if not phone_e164:
        return None
    try:
        number = phonenumbers.parse(phone_e164)
    except phonenumbers.NumberParseException:
        return None
    zones = [z for z in phone_timezone.time_zones_for_number(number) if z in _ZONES]
    if len(zones) != 1:  # toll-free, unknown, or an area code spanning zones
        return None
    return ZoneInfo(zones[0])
