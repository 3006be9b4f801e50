"""Checking a location's template overrides and settings before they are stored. Pure: no I/O.

An override is refused (INVALID_ARGUMENT, nothing stored) when its Jinja2 does not
parse, names a variable templates do not have, or, rendered for a sample lead with
full and with empty context, fails any guardrail. So a stored override passes by
construction for ordinary input; generation still judges every message it writes.
"""

from __future__ import annotations

import re
import uuid

import jinja2

from services.content import guardrails, verdicts
from services.content.market import city_key
from services.content.settings_repository import LocationSettings
from services.content.template_parts import compile_text
from services.content.templates import Override, render
from services.content.writer import AGENT_NOTIFICATION, EMAIL, LANGUAGES, SMS, Draft, Facts
from shared.errors import FieldViolation, InvalidArgument

MAX_BODY_CHARS = 5_000
MAX_SUBJECT_CHARS = 200
MAX_VALUE_PROPOSITIONS = 10
VALUE_PROPOSITION_CHARS = 120
MAX_LINK_DOMAINS = 10
_DOMAIN = re.compile(r"^(?=.{3,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
SAMPLE_ADDRESS = "100 Main St, Springfield, IL 62701"
# The leads an override is tried on: everything known, and nothing but the brand.
_SAMPLES = (
    Facts(
        lead_first_name="Maria",
        agent_name="Ana Lopez",
        agent_phone="(512) 555-0100",
        city="Austin",
        source="web form",
        brand_name="Sample Realty",
        lead_full_name="Maria Garcia",
        lead_score=82,
        listing_label="12 Oak St",
        value_proposition="We answer every message the same day.",
        appointment_label="Tue at 3:00 PM, 12 Oak St",
    ),
    Facts(brand_name="Sample Realty"),
)


def _bad(field: str, why: str, reason: str) -> InvalidArgument:
    return InvalidArgument(f"{field}: {why}", reason=reason, violations=[FieldViolation(field, why)])


def validate_override(
    index: int,
    channel: str,
    purpose: str,
    language: str,
    subject: str,
    body: str,
    settings: LocationSettings,
) -> Override:
    where = f"overrides[{index}]"
    if language not in LANGUAGES:
        raise _bad(f"{where}.language", f"one of {', '.join(LANGUAGES)}", "UNSUPPORTED_LANGUAGE")
    if not body.strip():
        raise _bad(f"{where}.body", "the message text, a Jinja2 template", "MISSING_FIELD")
    if len(body) > MAX_BODY_CHARS or len(subject) > MAX_SUBJECT_CHARS:
        raise _bad(
            f"{where}.body",
            f"at most {MAX_BODY_CHARS} characters (subject {MAX_SUBJECT_CHARS})",
            "FIELD_TOO_LONG",
        )
    if channel == EMAIL and not subject.strip():
        raise _bad(f"{where}.subject", "an email override needs a subject", "MISSING_FIELD")
    if channel == SMS and subject:
        raise _bad(f"{where}.subject", "an SMS has no subject; leave it empty", "INVALID_ARGUMENT")
    override = Override(subject=subject, body=body)
    for part, source in (("subject", subject), ("body", body)):
        try:
            compile_text(source)
        except jinja2.TemplateSyntaxError as err:
            why = f"template syntax error on line {err.lineno}: {err.message}"
            raise _bad(f"{where}.{part}", why, "TEMPLATE_SYNTAX") from None
        except ValueError as err:
            raise _bad(f"{where}.{part}", str(err), "TEMPLATE_UNKNOWN_VARIABLE") from None
    policy = verdicts.Policy(postal_address=SAMPLE_ADDRESS, link_domains=settings.link_domains)
    for facts in _SAMPLES:
        draft = Draft(
            lead_id=str(uuid.UUID(int=0)),
            channel=channel,
            purpose=purpose,
            facts=facts,
            max_body_chars=guardrails.body_budget(channel, purpose != AGENT_NOTIFICATION, language),
            language=language,
        )
        try:
            written = guardrails.finish(draft, render(draft, override), postal_address=SAMPLE_ADDRESS)
        except jinja2.TemplateError as err:
            raise _bad(f"{where}.body", f"does not render: {err}", "TEMPLATE_RENDER_FAILED") from None
        failed = verdicts.failures(verdicts.judge(draft, written, policy))
        if failed:
            raise InvalidArgument(
                f"{where} fails the {failed[0].rule} guardrail for a sample lead ({failed[0].detail})",
                reason="TEMPLATE_FAILS_GUARDRAIL",
                violations=[FieldViolation(f"{where}.body", f"{v.rule}: {v.detail}") for v in failed],
                metadata={"rule": failed[0].rule},
            )
    return override


def validate_settings(
    location_id: str, approval_mode: str, value_propositions: list[str], link_domains: list[str]
) -> LocationSettings:
    if len(value_propositions) > MAX_VALUE_PROPOSITIONS:
        raise _bad("settings.value_propositions", f"at most {MAX_VALUE_PROPOSITIONS}", "TOO_MANY_ITEMS")
    pitches: list[str] = []
    blocklist = guardrails.Blocklist()
    for i, raw in enumerate(value_propositions):
        pitch = guardrails.sanitize(raw, len(raw) + 1)
        field = f"settings.value_propositions[{i}]"
        if not pitch or len(pitch) > VALUE_PROPOSITION_CHARS:
            raise _bad(field, f"1..{VALUE_PROPOSITION_CHARS} printable characters", "INVALID_ARGUMENT")
        found = blocklist.find(pitch)
        if found:
            why = f"{found.rule}: {found.phrase!r} may not appear in a message"
            raise _bad(field, why, "CONTENT_GUARDRAIL")
        if verdicts.promise_in(pitch):
            raise _bad(field, "promises and rates may not appear in a message", "CONTENT_GUARDRAIL")
        pitches.append(pitch)
    if len(link_domains) > MAX_LINK_DOMAINS:
        raise _bad("settings.link_domains", f"at most {MAX_LINK_DOMAINS}", "TOO_MANY_ITEMS")
    domains: list[str] = []
    for i, raw in enumerate(link_domains):
        domain = city_key(raw).removeprefix("www.")
        if not _DOMAIN.match(domain):
            raise _bad(
                f"settings.link_domains[{i}]", "a domain name such as oakrealty.com", "INVALID_ARGUMENT"
            )
        domains.append(domain)
    return LocationSettings(location_id, approval_mode, tuple(pitches), tuple(sorted(set(domains))))
