"""Consent facts, opt-outs and the suppression list.

A lead's own opt-out flags live on its consent row; a suppression is keyed by address
(E.164 phone, lower-cased email) and applies to every lead and location with that
address (revoke-all). The consent "view" joins the two, so what GetConsent and the
gates see is the union. Each lead's consent basis per channel is kept beside its
opt-outs, and every change to either is appended to the consent ledger.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.compliance import ledger
from services.coordinator.compliance.basis import Basis
from services.coordinator.compliance.consent import CRM_DND, Consent, changes, consent_from_row
from services.coordinator.compliance.gates import ContactFacts
from services.coordinator.compliance.ledger import LedgerEntry
from services.coordinator.journeys import unreachable
from shared import deadlines
from shared.db import Conn, Database
from shared.errors import NotFound

SMS = common_pb2.CHANNEL_SMS
EMAIL = common_pb2.CHANNEL_EMAIL
SCHEDULED = pb.COMMUNICATION_STATUS_SCHEDULED
BLOCKED = pb.COMMUNICATION_STATUS_BLOCKED

# Where an opt-out came from. Only KEYWORD may be lifted by the lead's own opt-in keyword.
KEYWORD = "keyword"
REPORT = "report"  # a provider or the CRM reported the address (bounce, spam report, unsubscribe)

# The consent view of rows `c` (the table, or rows an upsert returned).
_VIEW_OF_C = (
    "SELECT c.*, coalesce(ss.reason, '') AS sms_suppressed, coalesce(se.reason, '') AS email_suppressed"
    " FROM c"
    f" LEFT JOIN suppressions ss ON ss.channel = {SMS} AND ss.address = c.phone AND ss.lift_time IS NULL"
    f" LEFT JOIN suppressions se ON se.channel = {EMAIL} AND se.address = c.email AND se.lift_time IS NULL"
)
_VIEW = _VIEW_OF_C.replace(" FROM c", " FROM consents c", 1) + " WHERE c.lead_id = $1"


@dataclass(frozen=True)
class Revocation:
    """Nothing automated may reach `address` on `channel` any more."""

    channel: common_pb2.Channel.ValueType
    # Normalised address; "" when unknown (then only the lead's own flag changes).
    address: str
    # The lead whose opt-out it is; None for a report that names only an address.
    lead_id: uuid.UUID | None
    source: str  # KEYWORD or REPORT
    # Kept on the suppression row, e.g. "lead texted STOP".
    reason: str
    # status_reason of every waiting message it blocks, e.g. "lead opted out (STOP)".
    block_reason: str
    # When it happened: a keyword older than the lead's latest keyword changes nothing.
    at: datetime
    # The location it came through, when known (kept in the ledger).
    location_id: str = ""


def _columns(channel: common_pb2.Channel.ValueType) -> tuple[str, str]:
    return (
        ("sms_opted_out", "sms_opt_out_source")
        if channel == SMS
        else (
            "email_opted_out",
            "email_opt_out_source",
        )
    )


async def _keyword_is_stale(conn: Conn, lead_id: uuid.UUID, at: datetime) -> bool:
    newer = await conn.fetchval(
        "SELECT sms_keyword_time > $2 FROM consents WHERE lead_id = $1 FOR UPDATE",
        lead_id,
        at,
        timeout=deadlines.timeout(2.0),
    )
    return bool(newer)


async def _note_keyword(conn: Conn, lead_id: uuid.UUID, at: datetime) -> None:
    await conn.execute(
        "UPDATE consents SET sms_keyword_time = greatest(coalesce(sms_keyword_time, $2), $2)"
        " WHERE lead_id = $1",
        lead_id,
        at,
        timeout=deadlines.timeout(2.0),
    )


def _dnd_source(prefix: str) -> str:
    # A keyword opt-out the CRM now also holds as DND may no longer be lifted by keyword.
    source = f"{prefix}_opt_out_source"
    return (
        f"{source} = CASE WHEN consents.{prefix}_opted_out AND consents.{source} <> '{KEYWORD}'"
        f" THEN consents.{source} WHEN EXCLUDED.{prefix}_dnd THEN '{CRM_DND}' ELSE consents.{source} END"
    )


def _basis(prefix: str) -> str:
    # Same evidence, same words: the time a basis was established is kept.
    key, text = f"{prefix}_basis_key", f"{prefix}_basis"
    return (
        f"{text} = CASE WHEN consents.{key} = EXCLUDED.{key} THEN consents.{text} ELSE EXCLUDED.{text} END,"
        f" {key} = EXCLUDED.{key}"
    )


class ConsentRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def upsert_consent(
        self,
        lead_id: uuid.UUID,
        *,
        phone: str,
        email: str,
        timezone: str,
        sms_consent: bool,
        email_consent: bool,
        sms_dnd: bool = False,
        email_dnd: bool = False,
        sms_basis: Basis,
        email_basis: Basis,
        location_id: str,
        at: datetime,
        state: str = "",
        postal_code: str = "",
    ) -> Consent:
        """Record the lead's current contact facts and consent basis; returns the
        consent view. A basis whose evidence is unchanged keeps its original words (and
        time); a changed basis, or a new DND opt-out, is appended to the ledger.

        Opt-outs are never cleared here: a lead who texted STOP stays opted out whatever
        the CRM says about consent, and the CRM's do-not-disturb only adds an opt-out
        (lifting DND in the CRM does not re-enable automated messages)."""
        async with self._db.transaction() as conn:
            before = await conn.fetchrow(
                "SELECT sms_basis_key, email_basis_key, sms_opted_out, email_opted_out"
                " FROM consents WHERE lead_id = $1 FOR UPDATE",
                lead_id,
                timeout=deadlines.timeout(2.0),
            )
            # The row as stored and its suppressions in the same statement (the consent view).
            row: asyncpg.Record = await conn.fetchrow(
                "WITH c AS (INSERT INTO consents (lead_id, phone, email, timezone,"
                " sms_consent, email_consent, sms_dnd, email_dnd, sms_opted_out, email_opted_out,"
                " sms_opt_out_source, email_opt_out_source,"
                " sms_basis_key, sms_basis, email_basis_key, email_basis, state, postal_code)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $8,"
                f" CASE WHEN $7 THEN '{CRM_DND}' ELSE '' END, CASE WHEN $8 THEN '{CRM_DND}' ELSE '' END,"
                " $9, $10, $11, $12, $13, $14)"
                " ON CONFLICT (lead_id) DO UPDATE SET phone = EXCLUDED.phone, email = EXCLUDED.email,"
                " timezone = EXCLUDED.timezone, state = EXCLUDED.state, postal_code = EXCLUDED.postal_code,"
                " sms_consent = EXCLUDED.sms_consent,"
                " email_consent = EXCLUDED.email_consent, sms_dnd = EXCLUDED.sms_dnd,"
                " email_dnd = EXCLUDED.email_dnd,"
                " sms_opted_out = consents.sms_opted_out OR EXCLUDED.sms_dnd,"
                " email_opted_out = consents.email_opted_out OR EXCLUDED.email_dnd,"
                f" {_dnd_source('sms')}, {_dnd_source('email')},"
                f" {_basis('sms')}, {_basis('email')}, update_time = now() RETURNING *) {_VIEW_OF_C}",
                lead_id,
                phone,
                email,
                timezone,
                sms_consent,
                email_consent,
                sms_dnd,
                email_dnd,
                sms_basis.key,
                sms_basis.text,
                email_basis.key,
                email_basis.text,
                state,
                postal_code,
                timeout=deadlines.timeout(2.0),
            )
            consent = consent_from_row(row)
            await ledger.append(
                conn,
                changes(before, consent, {SMS: sms_basis, EMAIL: email_basis}, location_id, at),
            )
            await unreachable.stop_unreachable(conn, SMS, "", lead_id)  # e.g. DND on every channel
        return consent

    async def get_consent(self, lead_id: uuid.UUID) -> Consent:
        async with self._db.connection() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(_VIEW, lead_id, timeout=deadlines.timeout(2.0))
        if row is None:
            raise NotFound(
                f"no consent is known for lead {lead_id}; it is recorded when ingest reports the lead",
                reason="CONSENT_NOT_FOUND",
                metadata={"lead_id": str(lead_id)},
            )
        return consent_from_row(row)

    async def find_facts(self, lead_id: uuid.UUID) -> ContactFacts | None:
        """The contact facts a claimed message is rechecked against; None before any are known."""
        async with self._db.connection() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(_VIEW, lead_id, timeout=deadlines.timeout(2.0))
        return consent_from_row(row).facts if row is not None else None

    async def revoke(self, r: Revocation) -> bool:
        """Apply an opt-out at once, in one transaction: the lead's flag, the address's
        suppression, and every waiting message it covers BLOCKED. Idempotent. False when
        the lead's later keyword (an opt-in sent after this STOP) already overrode it."""
        flag, source = _columns(r.channel)
        address_column = "phone" if r.channel == SMS else "email"
        keyword = r.source == KEYWORD and r.channel == SMS
        async with self._db.transaction() as conn:
            if r.lead_id is not None:
                if keyword and await _keyword_is_stale(conn, r.lead_id, r.at):
                    return False
                await conn.execute(
                    f"INSERT INTO consents (lead_id, {address_column}, {flag}, {source})"
                    " VALUES ($1, $2, true, $3)"
                    f" ON CONFLICT (lead_id) DO UPDATE SET {flag} = true,"
                    # Any other source outranks a keyword: only a keyword opt-out is liftable.
                    f" {source} = CASE WHEN consents.{flag} AND consents.{source} <> '{KEYWORD}'"
                    f" THEN consents.{source} ELSE EXCLUDED.{source} END, update_time = now()",
                    r.lead_id,
                    r.address,
                    r.source,
                    timeout=deadlines.timeout(2.0),
                )
                if keyword:
                    await _note_keyword(conn, r.lead_id, r.at)
            if r.address:
                await conn.execute(
                    "INSERT INTO suppressions (channel, address, source, reason, lead_id, suppress_time)"
                    " VALUES ($1, $2, $3, $4, $5, $6)"
                    " ON CONFLICT (channel, address) DO UPDATE SET source = EXCLUDED.source,"
                    " reason = EXCLUDED.reason, lead_id = EXCLUDED.lead_id,"
                    " suppress_time = EXCLUDED.suppress_time, lift_time = NULL, lift_reason = '',"
                    " update_time = now()"
                    # Re-suppress a lifted address (unless a keyword older than the lift),
                    # and let a report replace a keyword reason so START cannot lift it.
                    " WHERE (suppressions.lift_time IS NOT NULL AND (EXCLUDED.source <> $7"
                    " OR suppressions.lift_time <= EXCLUDED.suppress_time))"
                    " OR (suppressions.lift_time IS NULL AND suppressions.source = $7"
                    " AND EXCLUDED.source <> $7)",
                    r.channel,
                    r.address,
                    r.source,
                    r.reason,
                    r.lead_id,
                    r.at,
                    KEYWORD,
                    timeout=deadlines.timeout(2.0),
                )
                # The status is spelled out so that a prepared plan can use the partial index.
                await conn.execute(
                    "UPDATE communications SET status = $3, status_reason = $4, claim_until = NULL,"
                    f" update_time = now() WHERE channel = $1 AND address = $2 AND status = {SCHEDULED}",
                    r.channel,
                    r.address,
                    BLOCKED,
                    r.block_reason,
                    timeout=deadlines.timeout(5.0),
                )
            if r.lead_id is not None:
                await conn.execute(
                    "UPDATE communications SET status = $3, status_reason = $4, claim_until = NULL,"
                    " update_time = now() WHERE lead_id = $1 AND channel = $2 AND status = $5",
                    r.lead_id,
                    r.channel,
                    BLOCKED,
                    r.block_reason,
                    SCHEDULED,
                    timeout=deadlines.timeout(5.0),
                )
            await ledger.append(
                conn,
                [
                    LedgerEntry(
                        channel=r.channel,
                        change=ledger.OPT_OUT,
                        actor="lead (keyword)" if r.source == KEYWORD else "provider or CRM report",
                        occur_time=r.at,
                        lead_id=r.lead_id,
                        location_id=r.location_id,
                        basis=r.reason,
                        evidence={"source": r.source, "reason": r.reason},
                        address=r.address,
                    )
                ],
            )
            await unreachable.stop_unreachable(conn, r.channel, r.address, r.lead_id)
        return True

    async def restore_sms_by_keyword(
        self, lead_id: uuid.UUID, address: str, reason: str, at: datetime
    ) -> bool:
        """The lead texted START/UNSTOP/YES: lift what their own keyword imposed (the
        lead's flag unless the CRM holds DND, and the number's keyword suppression).
        Opt-outs from any other source stay. True when something was lifted."""
        async with self._db.transaction() as conn:
            if await _keyword_is_stale(conn, lead_id, at):
                return False
            lifted = await conn.fetchval(
                "UPDATE consents SET sms_opted_out = sms_dnd,"
                f" sms_opt_out_source = CASE WHEN sms_dnd THEN '{CRM_DND}' ELSE '' END, update_time = now()"
                f" WHERE lead_id = $1 AND sms_opted_out AND sms_opt_out_source = '{KEYWORD}'"
                " RETURNING NOT sms_opted_out",
                lead_id,
                timeout=deadlines.timeout(2.0),
            )
            await _note_keyword(conn, lead_id, at)
            unsuppressed: bool | None = None
            if address:
                unsuppressed = await conn.fetchval(
                    "UPDATE suppressions SET lift_time = $3, lift_reason = $4, update_time = now()"
                    " WHERE channel = $1 AND address = $2 AND lift_time IS NULL AND source = $5"
                    " AND suppress_time <= $3 RETURNING true",
                    SMS,
                    address,
                    at,
                    reason,
                    KEYWORD,
                    timeout=deadlines.timeout(2.0),
                )
            if lifted or unsuppressed:
                entry = LedgerEntry(
                    channel=SMS,
                    change=ledger.OPT_IN,
                    actor="lead (keyword)",
                    occur_time=at,
                    lead_id=lead_id,
                    basis=reason,
                    evidence={"source": KEYWORD, "reason": reason},
                    address=address,
                )
                await ledger.append(conn, [entry])
        return bool(lifted) or bool(unsuppressed)
