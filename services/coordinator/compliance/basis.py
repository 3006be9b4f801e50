"""Consent basis: why the law lets us text or email a lead, from the location's policy
and the lead's own record. Pure: no I/O, the caller passes the time.

SMS needs prior express written consent: the lead record says so (`sms_consent` from
UpsertLead), or the lead carries a tag the location's opt-in form applies, which the
policy names together with an attestation of what that form showed. Email follows
CAN-SPAM (commercial email is allowed until the recipient opts out) unless the policy
requires opt-in, when only the lead record counts. Opt-outs and suppressions are not
decided here: the gates apply them over any basis.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.errors import FieldViolation, InvalidArgument

LEAD_RECORD = "lead record"
CAN_SPAM = "CAN-SPAM: commercial email allowed until the recipient opts out"
MAX_TAGS = 50
MAX_TAG_LEN = 100
MAX_ATTESTATION_LEN = 2000


@dataclass(frozen=True)
class Policy:
    """A location's consent policy; version 0 is the default (nothing set)."""

    location_id: str
    version: int = 0
    sms_consent_tags: tuple[str, ...] = ()
    attestation: str = ""
    email_requires_opt_in: bool = False
    update_time: datetime | None = None

    def consent_tag(self, lead_tags: Iterable[str]) -> str:
        """The first of the policy's tags the lead carries (case-insensitive), or ""."""
        carried = {t.strip().casefold() for t in lead_tags}
        return next((t for t in self.sms_consent_tags if t.casefold() in carried), "")


@dataclass(frozen=True)
class Basis:
    """Why a channel is allowed: `key` names the evidence ("" = no basis) so that
    re-evaluating to the same evidence changes nothing; `text` says it in words."""

    key: str = ""
    text: str = ""
    actor: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


NONE = Basis()


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def sms_basis(*, lead_consent: bool, lead_tags: Iterable[str], policy: Policy, at: datetime) -> Basis:
    """The tag under the policy first (it carries its evidence), else the lead record."""
    tag = policy.consent_tag(lead_tags)
    if tag:
        return Basis(
            key=f"tag:{policy.version}:{tag.casefold()}",
            text=f"tag '{tag}' under policy v{policy.version} (attestation: {policy.attestation}),"
            f" {_stamp(at)}",
            actor="consent policy",
            evidence={"policy_version": policy.version, "tag": tag, "attestation": policy.attestation},
        )
    if lead_consent:
        return Basis(key="lead_record", text=LEAD_RECORD, actor=LEAD_RECORD, evidence={"source": LEAD_RECORD})
    return NONE


def email_basis(*, lead_consent: bool, policy: Policy) -> Basis:
    if lead_consent:
        return Basis(key="lead_record", text=LEAD_RECORD, actor=LEAD_RECORD, evidence={"source": LEAD_RECORD})
    if not policy.email_requires_opt_in:
        return Basis(
            key="can_spam",
            text=CAN_SPAM,
            actor="consent policy",
            evidence={"policy_version": policy.version, "law": "CAN-SPAM"},
        )
    return NONE


def needs_call(*, phone: str, sms_allowed: bool, sms_opted_out: bool) -> bool:
    """A lead with a number we may not text (no basis; not an opt-out) is one a person
    should call: the agent is told."""
    return bool(phone) and not sms_allowed and not sms_opted_out


def validated(location_id: str, tags: Iterable[str], attestation: str, email_requires_opt_in: bool) -> Policy:
    """The policy as it will be stored, or INVALID_ARGUMENT naming every bad field.
    Tags are trimmed and de-duplicated case-insensitively (the first spelling is kept)."""
    violations: list[FieldViolation] = []
    location = location_id.strip()
    if not location:
        violations.append(FieldViolation("location_id", "required"))
    kept: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(tags):
        tag = raw.strip()
        path = f"policy.sms_consent_tags[{i}]"
        if not tag:
            violations.append(FieldViolation(path, "a tag must not be empty"))
        elif len(tag) > MAX_TAG_LEN:
            violations.append(FieldViolation(path, f"at most {MAX_TAG_LEN} characters"))
        elif tag.casefold() not in seen:
            seen.add(tag.casefold())
            kept.append(tag)
    if len(kept) > MAX_TAGS:
        violations.append(FieldViolation("policy.sms_consent_tags", f"at most {MAX_TAGS} tags"))
    words = attestation.strip()
    if kept and not words:
        violations.append(
            FieldViolation("policy.attestation", "required with sms_consent_tags: it is the evidence")
        )
    elif len(words) > MAX_ATTESTATION_LEN:
        violations.append(FieldViolation("policy.attestation", f"at most {MAX_ATTESTATION_LEN} characters"))
    if violations:
        raise InvalidArgument(
            "invalid consent policy: " + "; ".join(f"{v.field}: {v.description}" for v in violations),
            reason="INVALID_CONSENT_POLICY",
            violations=violations,
        )
    return Policy(
        location_id=location,
        sms_consent_tags=tuple(kept),
        attestation=words,
        email_requires_opt_in=email_requires_opt_in,
    )
