"""Consent basis use-cases: a location's consent policy, and each lead's basis
evaluated under it when the lead changes (see compliance.basis for the rules)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.coordinator.compliance import basis
from services.coordinator.compliance.basis import Policy
from services.coordinator.compliance.checks import ComplianceChecks
from services.coordinator.compliance.consent import Consent
from services.coordinator.compliance.ledger import ConsentPolicyRepository
from services.coordinator.compliance.repository import ConsentRepository
from shared.errors import FieldViolation, InvalidArgument


def _location(location_id: str) -> str:
    location = location_id.strip()
    if not location:
        raise InvalidArgument(
            "location_id is required",
            reason="MISSING_FIELD",
            violations=[FieldViolation("location_id", "required")],
        )
    return location


class ConsentPolicies:
    def __init__(
        self,
        consents: ConsentRepository,
        policies: ConsentPolicyRepository,
        clock: Callable[[], datetime],
        checks: ComplianceChecks | None = None,
    ) -> None:
        self._consents = consents
        self._policies = policies
        self._clock = clock
        # Releases texts held for review once the lead's zone is known.
        self._checks = checks

    async def get(self, location_id: str) -> Policy:
        return await self._policies.current(_location(location_id))

    async def set(
        self,
        location_id: str,
        tags: list[str],
        attestation: str,
        email_requires_opt_in: bool,
        request_id: str | None,
    ) -> Policy:
        """Validated first: a bad field changes nothing."""
        policy = basis.validated(location_id, tags, attestation, email_requires_opt_in)
        return await self._policies.set_policy(policy, request_id)

    async def record(self, lead_id: uuid.UUID, lead: ingest_pb.Lead) -> Consent:
        """The lead's contact facts and its basis per channel under its location's
        current policy; a change is appended to the consent ledger."""
        policy = await self._policies.current(lead.location_id)
        at = self._clock()
        sms = basis.sms_basis(lead_consent=lead.sms_consent, lead_tags=lead.tags, policy=policy, at=at)
        consent = await self._consents.upsert_consent(
            lead_id,
            phone=lead.phone,
            email=lead.email,
            timezone=lead.timezone,
            sms_consent=lead.sms_consent,
            email_consent=lead.email_consent,
            sms_dnd=lead.sms_dnd,
            email_dnd=lead.email_dnd,
            sms_basis=sms,
            email_basis=basis.email_basis(lead_consent=lead.email_consent, policy=policy),
            location_id=lead.location_id,
            at=at,
            state=lead.state if lead.country.upper() in ("", "US") else "",
            postal_code=lead.postal_code if lead.country.upper() in ("", "US") else "",
        )
        if self._checks is not None:
            await self._checks.release_held(lead_id, consent.facts, at)
        return consent
