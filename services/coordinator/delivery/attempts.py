"""Send attempts: the durable half of exactly-once delivery.

A provider call is made only after a transaction that (1) holds the message's row lock,
(2) sees the caller's claim still current, (3) finds no earlier call whose outcome is
unknown, (4) re-reads consent, suppression and the sending window, and (5) commits an
attempt row in state 'sending'. A crash after that leaves the row behind; nobody calls
the provider for that message again until the provider's own records have said whether
the call arrived (see dispatch.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import asyncpg
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.compliance.consent import consent_from_row
from services.coordinator.compliance.gates import ContactFacts
from services.coordinator.compliance.repository import _VIEW as CONSENT_VIEW
from services.coordinator.delivery.repository import Communication, communication_from_row
from shared import deadlines
from shared.db import Conn, Database

SCHEDULED = pb.COMMUNICATION_STATUS_SCHEDULED
SENDING, IN_DOUBT, ACCEPTED, REFUSED, ABSENT = "sending", "in_doubt", "accepted", "refused", "absent"
OPEN = (SENDING, IN_DOUBT)


@dataclass(frozen=True)
class Attempt:
    attempt_id: uuid.UUID
    communication_id: uuid.UUID
    provider: str
    state: str
    provider_message_id: str
    detail: str
    start_time: datetime


@dataclass(frozen=True)
class Held:
    """A message under its row lock, with what the send-time check needs."""

    message: Communication
    location_id: str
    contact_id: str
    sms_provider: str
    email_provider: str
    facts: ContactFacts
    # Calls whose outcome is unknown; the message may already be with the provider.
    open_attempts: list[Attempt]
    # The location's HighLevel app install: "" (none), 'active', 'needs_reinstall', 'uninstalled'.
    highlevel_state: str = ""
    highlevel_reason: str = ""


@dataclass(frozen=True)
class Begin:
    """What the send-time check decided under the lock."""

    # Set when a call may go out now: the committed 'sending' attempt.
    attempt: Attempt | None = None
    # Set when the caller must first find out what open attempts did.
    held: Held | None = None
    # The row as settled when nothing goes out (blocked, rescheduled, simulated, claim lost).
    settled: Communication | None = None


# What the dispatcher decides for a held message: ('send', provider) or
# ('settle', status, reason, scheduled_time).
Decision = tuple[str, str] | tuple[str, pb.CommunicationStatus.ValueType, str, datetime | None]


class AttemptLedger:
    """What every attempt table (lead messages, agent notifications) does the same way: the
    open attempts of what is sent, a new 'sending' attempt, the accepted one (the others
    then known absent), an attempt's state after the call, and the in-doubt ones the
    provider says never arrived. A table names what it sends in its `_OWNER` column."""

    _TABLE = "send_attempts"
    _OWNER = "communication_id"

    def __init__(self, db: Database) -> None:
        self._db = db

    def _attempt(self, row: asyncpg.Record) -> Attempt:
        return Attempt(
            attempt_id=row["attempt_id"],
            communication_id=row[self._OWNER],
            provider=row["provider"],
            state=row["state"],
            provider_message_id=row["provider_message_id"],
            detail=row["detail"],
            start_time=row["start_time"],
        )

    async def _open_attempts(self, conn: Conn, owner_id: uuid.UUID) -> list[Attempt]:
        """Calls of unknown outcome, oldest first."""
        rows = await conn.fetch(
            f"SELECT * FROM {self._TABLE} WHERE {self._OWNER} = $1 AND state = ANY($2::text[])"
            " ORDER BY start_time",
            owner_id,
            list(OPEN),
            timeout=deadlines.timeout(2.0),
        )
        return [self._attempt(r) for r in rows]

    async def _start(self, conn: Conn, owner_id: uuid.UUID, provider: str, now: datetime) -> Attempt:
        """The 'sending' attempt committed before the provider is called."""
        row = await conn.fetchrow(
            f"INSERT INTO {self._TABLE} (attempt_id, {self._OWNER}, provider, state, start_time)"
            " VALUES ($1, $2, $3, $4, $5) RETURNING *",
            uuid.uuid4(),
            owner_id,
            provider,
            SENDING,
            now,
            timeout=deadlines.timeout(2.0),
        )
        return self._attempt(row)

    async def _accept(self, conn: Conn, attempt_id: uuid.UUID, provider_message_id: str) -> uuid.UUID:
        """The provider has it under this attempt; every other open attempt of the same
        message is now known not to have been the one. Returns what was sent's id."""
        owner_id: uuid.UUID = await conn.fetchval(
            f"UPDATE {self._TABLE} SET state = $2, provider_message_id = $3, finish_time = now()"
            f" WHERE attempt_id = $1 RETURNING {self._OWNER}",
            attempt_id,
            ACCEPTED,
            provider_message_id,
            timeout=deadlines.timeout(2.0),
        )
        await conn.execute(
            f"UPDATE {self._TABLE} SET state = $3, finish_time = now()"
            f" WHERE {self._OWNER} = $1 AND attempt_id <> $2 AND state = ANY($4::text[])",
            owner_id,
            attempt_id,
            ABSENT,
            list(OPEN),
            timeout=deadlines.timeout(2.0),
        )
        return owner_id

    async def mark(self, attempt_id: uuid.UUID, state: str, detail: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                f"UPDATE {self._TABLE} SET state = $2, detail = $3,"
                " finish_time = CASE WHEN $2 = ANY($4::text[]) THEN NULL ELSE now() END"
                " WHERE attempt_id = $1",
                attempt_id,
                state,
                detail,
                list(OPEN),
                timeout=deadlines.timeout(2.0),
            )

    async def absent(self, attempt_ids: list[uuid.UUID]) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(
                f"UPDATE {self._TABLE} SET state = $2, finish_time = now()"
                " WHERE attempt_id = ANY($1::uuid[]) AND state = ANY($3::text[])",
                attempt_ids,
                ABSENT,
                list(OPEN),
                timeout=deadlines.timeout(2.0),
            )


class AttemptRepository(AttemptLedger):
    async def _hold(self, conn: Conn, communication_id: uuid.UUID) -> Held | None:
        row = await conn.fetchrow(
            "SELECT c.*, coalesce(j.location_id, '') AS location_id,"
            " coalesce(dc.external_contact_id, '') AS contact_id,"
            " coalesce(ds.sms_provider, '') AS sms_provider,"
            " coalesce(ds.email_provider, '') AS email_provider,"
            " coalesce(hi.state, '') AS highlevel_state, coalesce(hi.state_reason, '') AS highlevel_reason"
            " FROM communications c LEFT JOIN journeys j ON j.journey_id = c.journey_id"
            " LEFT JOIN delivery_contacts dc ON dc.lead_id = c.lead_id"
            " LEFT JOIN delivery_settings ds ON ds.location_id = j.location_id"
            " LEFT JOIN highlevel_installs hi ON hi.location_id = j.location_id"
            " WHERE c.communication_id = $1 FOR UPDATE OF c",
            communication_id,
            timeout=deadlines.timeout(5.0),
        )
        if row is None:
            return None
        # An opt-out or DND change holds this row's lock until it commits: waiting for it
        # here means the facts read next include any opt-out that won the race.
        await conn.execute(
            "SELECT 1 FROM consents WHERE lead_id = $1 FOR SHARE",
            row["lead_id"],
            timeout=deadlines.timeout(5.0),
        )
        consent = await conn.fetchrow(CONSENT_VIEW, row["lead_id"], timeout=deadlines.timeout(2.0))
        attempts = await self._open_attempts(conn, communication_id)
        return Held(
            message=communication_from_row(row),
            location_id=row["location_id"],
            contact_id=row["contact_id"],
            sms_provider=row["sms_provider"],
            email_provider=row["email_provider"],
            facts=consent_from_row(consent).facts if consent is not None else ContactFacts(),
            open_attempts=attempts,
            highlevel_state=row["highlevel_state"],
            highlevel_reason=row["highlevel_reason"],
        )

    async def begin(
        self,
        communication_id: uuid.UUID,
        claim_token: uuid.UUID | None,
        now: datetime,
        decide: Callable[[Held], Decision],
    ) -> Begin:
        async with self._db.transaction() as conn:
            held = await self._hold(conn, communication_id)
            if held is None:
                return Begin()
            m = held.message
            claim_current = (
                m.status == SCHEDULED
                and m.claim_token == claim_token
                and m.claim_until is not None
                and m.claim_until > now
            )
            if not claim_current:
                # Another worker holds it now, or something settled it: not ours to send.
                return Begin(settled=m)
            if held.open_attempts:
                return Begin(held=held)
            decision = decide(held)
            if decision[0] == "send":
                attempt = await self._start(conn, communication_id, cast(str, decision[1]), now)
                return Begin(attempt=attempt, held=held)
            _, status, reason, scheduled_time = decision  # type: ignore[misc]
            settled = await conn.fetchrow(
                "UPDATE communications SET status = $2, status_reason = $3,"
                " scheduled_time = coalesce($4, scheduled_time), claim_until = NULL, claim_token = NULL,"
                " update_time = now() WHERE communication_id = $1 RETURNING *",
                communication_id,
                status,
                reason,
                scheduled_time,
                timeout=deadlines.timeout(2.0),
            )
            return Begin(settled=communication_from_row(settled), held=held)

    async def hold(self, communication_id: uuid.UUID) -> Held | None:
        """The message and its attempts as they are now (no lock kept)."""
        async with self._db.transaction() as conn:
            return await self._hold(conn, communication_id)

    async def accepted(
        self, attempt_id: uuid.UUID, provider_message_id: str, status: pb.CommunicationStatus.ValueType
    ) -> Communication:
        """The provider has the message: record its id. Unconditional on the message's
        status, because once a message went out that is the truth (an opt-out committed
        while the call was in flight blocked what was still waiting, not this)."""
        async with self._db.transaction() as conn:
            communication_id = await self._accept(conn, attempt_id, provider_message_id)
            message = await conn.fetchrow(
                "UPDATE communications SET status = $2, status_reason = '', provider_message_id = $3,"
                " claim_until = NULL, claim_token = NULL, update_time = now()"
                " WHERE communication_id = $1 RETURNING *",
                communication_id,
                status,
                provider_message_id,
                timeout=deadlines.timeout(2.0),
            )
        return communication_from_row(message)

    async def fail(
        self, communication_id: uuid.UUID, status: pb.CommunicationStatus.ValueType, reason: str
    ) -> Communication:
        """Settle a message that did not go out (FAILED, or SIMULATED without credentials)."""
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "UPDATE communications SET status = $2, status_reason = $3, claim_until = NULL,"
                " claim_token = NULL, update_time = now() WHERE communication_id = $1 RETURNING *",
                communication_id,
                status,
                reason,
                timeout=deadlines.timeout(2.0),
            )
        return communication_from_row(row)

    async def extend(self, communication_id: uuid.UUID, token: uuid.UUID | None, until: datetime) -> bool:
        """Keep the claim while retrying; False when it is no longer ours."""
        async with self._db.transaction() as conn:
            done = await conn.fetchval(
                "UPDATE communications SET claim_until = $3 WHERE communication_id = $1"
                " AND claim_token = $2 AND status = $4 RETURNING true",
                communication_id,
                token,
                until,
                SCHEDULED,
                timeout=deadlines.timeout(2.0),
            )
        return bool(done)

    async def release(self, communication_id: uuid.UUID, token: uuid.UUID | None, reason: str = "") -> None:
        """Give the message back to the scheduler (due again at once), saying why when asked."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE communications SET claim_until = NULL, claim_token = NULL,"
                " status_reason = CASE WHEN $3 = '' THEN status_reason ELSE $3 END, update_time = now()"
                " WHERE communication_id = $1 AND claim_token IS NOT DISTINCT FROM $2",
                communication_id,
                token,
                reason,
                timeout=deadlines.timeout(2.0),
            )

    async def claim_stale(
        self, older_than: datetime, now: datetime, claim_until: datetime, limit: int
    ) -> list[Communication]:
        """Messages with a call of unknown outcome that nobody holds: the reconciler's work.
        Whatever their status, since an opt-out may have blocked a message whose call had
        already reached the provider."""
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            rows = await conn.fetch(
                "WITH stale AS ("
                "  SELECT c.communication_id FROM communications c"
                "  WHERE c.communication_id IN (SELECT communication_id FROM send_attempts"
                "    WHERE state = ANY($1::text[]) AND start_time < $2)"
                "    AND (c.claim_until IS NULL OR c.claim_until <= $3)"
                "  LIMIT $5 FOR UPDATE OF c SKIP LOCKED)"
                " UPDATE communications c SET claim_until = $4, claim_token = gen_random_uuid()"
                " FROM stale WHERE c.communication_id = stale.communication_id RETURNING c.*",
                list(OPEN),
                older_than,
                now,
                claim_until,
                limit,
                timeout=deadlines.timeout(5.0),
            )
        return [communication_from_row(r) for r in rows]

    async def ids_sent_to(self, channel: int, address: str, communication_id: uuid.UUID) -> set[str]:
        """Provider ids other messages to the same address own: a lookup must not take one
        of those for this message."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT provider_message_id FROM communications WHERE channel = $1 AND address = $2"
                " AND communication_id <> $3 AND provider_message_id <> ''",
                channel,
                address,
                communication_id,
                timeout=deadlines.timeout(2.0),
            )
        return {r["provider_message_id"] for r in rows}

    async def remember_contact(self, lead_id: uuid.UUID, location_id: str, contact_id: str) -> None:
        if not contact_id:
            return
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            await conn.execute(
                "INSERT INTO delivery_contacts (lead_id, location_id, external_contact_id)"
                " VALUES ($1, $2, $3)"
                " ON CONFLICT (lead_id) DO UPDATE SET location_id = EXCLUDED.location_id,"
                " external_contact_id = EXCLUDED.external_contact_id, update_time = now()"
                " WHERE delivery_contacts.external_contact_id <> EXCLUDED.external_contact_id",
                lead_id,
                location_id,
                contact_id,
                timeout=deadlines.timeout(2.0),
            )

    async def sent_through(self, provider_message_ids: list[str]) -> str:
        """Which provider accepted the message with one of these ids ("" when none of ours)."""
        async with self._db.connection() as conn:
            provider: str | None = await conn.fetchval(
                "SELECT provider FROM send_attempts WHERE provider_message_id = ANY($1::text[])"
                " AND state = $2 LIMIT 1",
                provider_message_ids,
                ACCEPTED,
                timeout=deadlines.timeout(2.0),
            )
        return provider or ""
