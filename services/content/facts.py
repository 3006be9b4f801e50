"""The caller's context made safe to write with: untrusted text printable, one line, length-capped."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import phonenumbers

from services.content import guardrails
from services.content.writer import ENGLISH, LANGUAGES, Facts
from shared import contact
from shared.errors import FieldViolation, InvalidArgument

# Longest each context field may be after sanitising: together they keep the
# longest required SMS text inside two segments.
FIELD_LIMITS = {
    "lead_first_name": 30,
    "agent_name": 40,
    "city": 40,
    "source": 40,
    "brand_name": 50,
    "lead_full_name": 60,
    "trigger_description": 120,
    "listing_label": 60,
    "appointment_label": 80,
}
# REPLY_TO_INBOUND: the most recent messages of a thread a writer sees, and each one's length.
THREAD_MESSAGES = 20
THREAD_MESSAGE_CHARS = 1_000
BRAND_LIMIT = FIELD_LIMITS["brand_name"]
# A postal address is never shortened (a cut one is no address), so a longer one is refused.
POSTAL_LIMIT = 300


def display_phone(raw: str) -> str:
    e164 = contact.normalize_phone(raw, "context.agent_phone")
    if not e164:
        return ""
    number = phonenumbers.parse(e164)
    style = phonenumbers.PhoneNumberFormat.NATIONAL if number.country_code == 1 else None
    return phonenumbers.format_number(number, style or phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def from_context(
    texts: Mapping[str, str], *, agent_phone: str, lead_score: float, default_brand: str
) -> Facts:
    """`texts` holds the raw FIELD_LIMITS fields of a MessageContext; `default_brand` is already safe."""
    clean = {name: guardrails.sanitize(texts[name], limit) for name, limit in FIELD_LIMITS.items()}
    if not math.isfinite(lead_score) or not 0 <= lead_score <= 100:
        raise InvalidArgument(
            f"context.lead_score {lead_score} is outside 0..100",
            violations=[FieldViolation("context.lead_score", "0 (unknown) up to 100")],
        )
    return Facts(
        lead_first_name=clean["lead_first_name"],
        agent_name=clean["agent_name"],
        agent_phone=display_phone(agent_phone),
        city=clean["city"],
        source=clean["source"],
        brand_name=clean["brand_name"] or default_brand,
        lead_full_name=clean["lead_full_name"],
        lead_score=lead_score,
        trigger_description=clean["trigger_description"],
        listing_label=clean["listing_label"],
        appointment_label=clean["appointment_label"],
    )


def language(raw: str) -> str:
    """A BCP 47 tag's primary subtag when we write that language ("es-MX" -> "es"); else English."""
    primary = raw.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else ENGLISH


def thread(entries: Iterable[tuple[bool, str]]) -> tuple[tuple[str, str], ...]:
    """The latest THREAD_MESSAGES of a conversation, each sanitised, as ("lead" | "us", text)."""
    kept = [
        ("lead" if from_lead else "us", guardrails.sanitize(body, THREAD_MESSAGE_CHARS))
        for from_lead, body in entries
    ]
    return tuple((who, text) for who, text in kept[-THREAD_MESSAGES:] if text)


def checked_fields(facts: Facts) -> dict[str, str]:
    """The caller-supplied text a message is written from, by context field name."""
    return {name: getattr(facts, name) for name in FIELD_LIMITS} | {"agent_phone": facts.agent_phone}


def postal_address(raw: str) -> str:
    """The caller's (the location's) CAN-SPAM address, on one line; "" = content's default."""
    value = guardrails.sanitize(raw, len(raw) + 1)
    if len(value) > POSTAL_LIMIT:
        raise InvalidArgument(
            f"context.postal_address is {len(value)} characters; the limit is {POSTAL_LIMIT}",
            reason="FIELD_TOO_LONG",
            violations=[FieldViolation("context.postal_address", f"at most {POSTAL_LIMIT} characters")],
        )
    return value
