"""A lead's consent as the coordinator holds it (contact facts, basis per channel,
opt-outs, suppressions), and which of its changes go to the consent ledger."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from leadengine.common.v1 import common_pb2

from services.coordinator.compliance import ledger
from services.coordinator.compliance.basis import Basis
from services.coordinator.compliance.gates import ContactFacts
from services.coordinator.compliance.ledger import LedgerEntry

SMS = common_pb2.CHANNEL_SMS
EMAIL = common_pb2.CHANNEL_EMAIL
CRM_DND = "crm_dnd"


@dataclass(frozen=True)
class Consent:
    """A row of the consent view: the lead's contact facts and own opt-outs, and why
    (if at all) its phone or email is on the suppression list."""

    lead_id: uuid.UUID
    phone: str
    email: str
    timezone: str
    sms_consent: bool
    email_consent: bool
    sms_opted_out: bool
    email_opted_out: bool
    # Why the lead's phone / email is suppressed; empty when it is not.
    sms_suppressed: str
    email_suppressed: str
    update_time: datetime
    # Why each channel is allowed, in words ("" = no basis); see compliance.basis.
    sms_basis: str = ""
    email_basis: str = ""
    sms_basis_key: str = ""
    email_basis_key: str = ""
    state: str = ""
    postal_code: str = ""

    @property
    def facts(self) -> ContactFacts:
        """What the gates read: a channel is consented to when it has a basis (the lead
        record's own flag is one; rows written before bases existed have only that)."""
        return ContactFacts(
            phone=self.phone,
            email=self.email,
            timezone=self.timezone,
            sms_consent=self.sms_consent or bool(self.sms_basis_key),
            email_consent=self.email_consent or bool(self.email_basis_key),
            sms_opted_out=self.sms_opted_out,
            email_opted_out=self.email_opted_out,
            sms_suppressed=self.sms_suppressed,
            email_suppressed=self.email_suppressed,
            state=self.state,
            postal_code=self.postal_code,
        )


def consent_from_row(row: asyncpg.Record) -> Consent:
    """From a row of the consent view (consents joined with suppressions)."""
    return Consent(
        lead_id=row["lead_id"],
        phone=row["phone"],
        email=row["email"],
        timezone=row["timezone"],
        sms_consent=row["sms_consent"],
        email_consent=row["email_consent"],
        sms_opted_out=row["sms_opted_out"],
        email_opted_out=row["email_opted_out"],
        sms_suppressed=row["sms_suppressed"],
        email_suppressed=row["email_suppressed"],
        update_time=row["update_time"],
        sms_basis=row["sms_basis"],
        email_basis=row["email_basis"],
        sms_basis_key=row["sms_basis_key"],
        email_basis_key=row["email_basis_key"],
        state=row["state"],
        postal_code=row["postal_code"],
    )


def changes(
    before: asyncpg.Record | None,
    after: Consent,
    bases: dict[common_pb2.Channel.ValueType, Basis],
    location_id: str,
    at: datetime,
) -> list[LedgerEntry]:
    """What upsert_consent changed, as ledger entries: a basis granted, changed or
    withdrawn, and an opt-out the CRM's do-not-disturb added."""
    entries = []
    for channel, basis in bases.items():
        prefix = "sms" if channel == SMS else "email"
        common: dict[str, Any] = {
            "channel": channel,
            "occur_time": at,
            "lead_id": after.lead_id,
            "location_id": location_id,
            "address": after.facts.address(channel),
        }
        old_key = before[f"{prefix}_basis_key"] if before is not None else ""
        if basis.key != old_key:
            if basis.key:
                text = after.sms_basis if channel == SMS else after.email_basis
                entries.append(
                    LedgerEntry(
                        change=ledger.BASIS, actor=basis.actor, basis=text, evidence=basis.evidence, **common
                    )
                )
            else:
                entries.append(
                    LedgerEntry(
                        change=ledger.BASIS_WITHDRAWN,
                        actor="re-evaluation",
                        evidence={"previous": old_key},
                        **common,
                    )
                )
        was_out = before is not None and before[f"{prefix}_opted_out"]
        now_out = after.sms_opted_out if channel == SMS else after.email_opted_out
        if now_out and not was_out:
            entries.append(
                LedgerEntry(
                    change=ledger.OPT_OUT, actor="CRM do-not-disturb", evidence={"source": CRM_DND}, **common
                )
            )
    return entries
