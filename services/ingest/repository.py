"""SQL for the ingest schema. Translates database outcomes into domain errors.

Every change to a lead writes its outbox row in the same transaction, and
sets `outbox_written` once that transaction has committed so the relay can
deliver it without waiting for its next poll.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
from leadengine.common.v1 import common_pb2 as common_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb

from services.ingest import leads
from services.ingest.leads import EventFields, LeadFields
from shared import deadlines
from shared.db import Conn, Database
from shared.errors import AlreadyExists, FailedPrecondition, NotFound

LEAD_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(LeadFields))
_COLS = ", ".join(LEAD_COLUMNS)
_STAGING_COLUMNS = ("lead_id", "location_id", *LEAD_COLUMNS)

KIND_CREATED = coordinator_pb.LEAD_EVENT_KIND_LEAD_CREATED
KIND_UPDATED = coordinator_pb.LEAD_EVENT_KIND_LEAD_UPDATED
KIND_DELETED = coordinator_pb.LEAD_EVENT_KIND_LEAD_DELETED
KIND_BEHAVIOR = coordinator_pb.LEAD_EVENT_KIND_BEHAVIOR
KIND_INBOUND = coordinator_pb.LEAD_EVENT_KIND_INBOUND_MESSAGE
KIND_OUTBOUND = coordinator_pb.LEAD_EVENT_KIND_OUTBOUND_MESSAGE
KIND_DELIVERY = coordinator_pb.LEAD_EVENT_KIND_DELIVERY_STATUS
KIND_SUPPRESSION = coordinator_pb.LEAD_EVENT_KIND_SUPPRESSION

# Lead.sms_dnd / email_dnd are the CRM's marks (GHL dnd, dndSettings).
DND_REASON = "GHL do-not-disturb"

# Column types of the COPY target; custom_fields travels as text and is cast on the way into leads,
# so binary COPY never needs a jsonb codec.
_STAGING_DDL = (
    "CREATE TEMP TABLE import_staging (lead_id uuid, location_id text, external_contact_id text,"
    " first_name text, last_name text, email text, phone text, timezone text, company text, city text,"
    " state text, country text, job_title text, seniority text, source smallint, tags text[],"
    " custom_fields text, sms_consent boolean, email_consent boolean, budget_usd bigint,"
    " timeline_months integer, preapproved boolean, sms_dnd boolean, email_dnd boolean) ON COMMIT DROP"
)


def lead_missing(lead_id: uuid.UUID | str) -> NotFound:
    # The same answer whether the lead is absent or belongs to another location: never
    # confirm to one tenant that another tenant's lead exists.
    return NotFound(
        f"lead {lead_id} does not exist in this location; find leads with ListLeads",
        reason="LEAD_NOT_FOUND",
        metadata={"lead_id": str(lead_id)},
    )


def _lead_deleted(lead_id: uuid.UUID) -> FailedPrecondition:
    return FailedPrecondition(
        f"lead {lead_id} was deleted and its personal data erased; it cannot be changed",
        reason="LEAD_DELETED",
        metadata={"lead_id": str(lead_id)},
    )


def fields_of(row: Any) -> LeadFields:
    values = {name: row[name] for name in LEAD_COLUMNS}
    values["tags"] = tuple(values["tags"])
    return LeadFields(**values)


def _values(fields: LeadFields) -> list[Any]:
    return [list(v) if isinstance(v, tuple) else v for v in (getattr(fields, n) for n in LEAD_COLUMNS)]


@dataclasses.dataclass(frozen=True)
class UpsertResult:
    row: Any
    created: bool
    # False for a no-op update and for a repeated request_id: nothing was published.
    published: bool


class IngestRepository:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.outbox_written = asyncio.Event()

    # -- leads ---------------------------------------------------------------------------------

    async def upsert_lead(
        self,
        *,
        lead_id: uuid.UUID | None,
        location_id: str,
        incoming: LeadFields,
        paths: frozenset[str],
        request_id: str | None,
    ) -> UpsertResult:
        async with self._db.transaction() as conn:
            if request_id is not None:
                # A concurrent call holding the same key makes this wait for its commit,
                # then see the key taken and return that call's answer.
                claimed = await conn.fetchval(
                    "INSERT INTO request_ids (rpc, request_id) VALUES ('UpsertLead', $1)"
                    " ON CONFLICT DO NOTHING RETURNING true",
                    request_id,
                    timeout=deadlines.timeout(5.0),
                )
                if not claimed:
                    prior = await conn.fetchrow(
                        "SELECT lead_id, created FROM request_ids"
                        " WHERE rpc = 'UpsertLead' AND request_id = $1",
                        request_id,
                    )
                    row = await conn.fetchrow("SELECT * FROM leads WHERE lead_id = $1", prior["lead_id"])
                    return UpsertResult(row, bool(prior["created"]), published=False)
            result = await self.upsert_in(conn, lead_id, location_id, incoming, paths)
            if request_id is not None:
                await conn.execute(
                    "UPDATE request_ids SET lead_id = $2, created = $3"
                    " WHERE rpc = 'UpsertLead' AND request_id = $1",
                    request_id,
                    result.row["lead_id"],
                    result.created,
                )
        if result.published:
            self.outbox_written.set()
        return result

    async def upsert_in(
        self,
        conn: Conn,
        lead_id: uuid.UUID | None,
        location_id: str,
        incoming: LeadFields,
        paths: frozenset[str],
        *,
        create_only: frozenset[str] = frozenset(),
    ) -> UpsertResult:
        """The one upsert, inside the caller's transaction. Paths in create_only are written
        only when this creates the lead (e.g. where it came from)."""
        existing = None
        if lead_id is not None:
            existing = await conn.fetchrow(
                "SELECT * FROM leads WHERE lead_id = $1 FOR UPDATE", lead_id, timeout=deadlines.timeout(5.0)
            )
            if existing is None or existing["location_id"] != location_id:
                raise lead_missing(lead_id)
        elif incoming.external_contact_id is not None:
            existing = await self._by_external(conn, location_id, incoming.external_contact_id, lock=True)
        if existing is None:
            fields = leads.merge(None, incoming, paths | {"external_contact_id"})
            await conn.execute(
                "INSERT INTO locations (location_id) VALUES ($1) ON CONFLICT DO NOTHING", location_id
            )
            placeholders = ", ".join(f"${i}" for i in range(2, len(LEAD_COLUMNS) + 2))
            row = await conn.fetchrow(
                f"INSERT INTO leads (location_id, {_COLS}) VALUES ($1, {placeholders})"
                " ON CONFLICT (location_id, external_contact_id) DO NOTHING RETURNING *",
                location_id,
                *_values(fields),
                timeout=deadlines.timeout(5.0),
            )
            if row is not None:
                await _publish_dnd(conn, None, row)
                await publish(conn, KIND_CREATED, row["lead_id"], location_id, row["update_time"])
                return UpsertResult(row, created=True, published=True)
            # A concurrent call created this contact first: update the row it wrote.
            existing = await self._by_external(conn, location_id, incoming.external_contact_id, lock=True)
            assert existing is not None
        if existing["delete_time"] is not None:
            raise _lead_deleted(existing["lead_id"])
        before = fields_of(existing)
        after = leads.merge(before, incoming, paths - create_only)
        if after == before:
            return UpsertResult(existing, created=False, published=False)
        row = await self._write(conn, existing["lead_id"], after)
        await _publish_dnd(conn, existing, row)
        await publish(conn, KIND_UPDATED, row["lead_id"], location_id, row["update_time"])
        return UpsertResult(row, created=False, published=True)

    async def _by_external(self, conn: Conn, location_id: str, external_id: str | None, *, lock: bool) -> Any:
        return await conn.fetchrow(
            "SELECT * FROM leads WHERE location_id = $1 AND external_contact_id = $2"
            + (" FOR UPDATE" if lock else ""),
            location_id,
            external_id,
            timeout=deadlines.timeout(5.0),
        )

    async def _write(
        self, conn: Conn, lead_id: uuid.UUID, fields: LeadFields, *, delete: bool = False
    ) -> Any:
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(LEAD_COLUMNS, start=2))
        try:
            return await conn.fetchrow(
                f"UPDATE leads SET {sets}, update_time = now()"
                + (", delete_time = now()" if delete else "")
                + " WHERE lead_id = $1 RETURNING *",
                lead_id,
                *_values(fields),
                timeout=deadlines.timeout(5.0),
            )
        except asyncpg.UniqueViolationError as err:
            if err.constraint_name != "leads_location_external":
                raise
            raise AlreadyExists(
                f"another lead in this location already has external_contact_id {fields.external_contact_id};"
                " update that lead instead",
                reason="EXTERNAL_CONTACT_ID_TAKEN",
                metadata={"external_contact_id": fields.external_contact_id or ""},
            ) from err

    async def get_lead(self, lead_id: uuid.UUID, location_id: str | None) -> Any:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM leads WHERE lead_id = $1", lead_id, timeout=deadlines.timeout(2.0)
            )
        if row is None or (location_id is not None and row["location_id"] != location_id):
            raise lead_missing(lead_id)
        return row

    async def get_lead_by_external_id(self, location_id: str, external_id: str) -> Any:
        async with self._db.connection() as conn:
            row = await self._by_external(conn, location_id, external_id, lock=False)
        if row is None:
            raise NotFound(
                f"no lead in location {location_id} has external_contact_id {external_id}",
                reason="LEAD_NOT_FOUND",
                metadata={"location_id": location_id, "external_contact_id": external_id},
            )
        return row

    async def list_leads(
        self,
        location_id: str,
        *,
        source: int,
        tag: str,
        updated_since: datetime | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[Any]:
        # Only the filters in use go into the statement, so each shape gets a plan that uses its index.
        where = ["location_id = $1", "delete_time IS NULL"]
        args: list[Any] = [location_id]
        if source:
            args.append(source)
            where.append(f"source = ${len(args)}")
        if tag:
            args.append([tag])
            where.append(f"tags @> ${len(args)}::text[]")
        if updated_since is not None:
            args.append(updated_since)
            where.append(f"update_time >= ${len(args)}")
        if after is not None:
            args.extend(after)
            where.append(f"(update_time, lead_id) < (${len(args) - 1}, ${len(args)})")
        args.append(limit + 1)
        async with self._db.connection() as conn:
            rows: list[Any] = await conn.fetch(
                f"SELECT * FROM leads WHERE {' AND '.join(where)}"
                f" ORDER BY update_time DESC, lead_id DESC LIMIT ${len(args)}",
                *args,
                timeout=deadlines.timeout(5.0),
            )
        return rows

    async def delete_lead(self, lead_id: uuid.UUID, location_id: str | None) -> Any:
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM leads WHERE lead_id = $1 FOR UPDATE", lead_id, timeout=deadlines.timeout(5.0)
            )
            if row is None or (location_id is not None and row["location_id"] != location_id):
                raise lead_missing(lead_id)
            erased, published = await self.erase_in(conn, row)
        if published:
            self.outbox_written.set()
        return erased

    async def erase_in(self, conn: Conn, row: Any) -> tuple[Any, bool]:
        """Erase a lead locked FOR UPDATE by the caller; True when this call erased it (and published)."""
        if row["delete_time"] is not None:
            return row, False  # deleted before: nothing more to erase or announce
        lead_id = row["lead_id"]
        erased = await self._write(conn, lead_id, leads.erase(fields_of(row)), delete=True)
        # Events stay for scoring history, minus free-form properties that may hold PII.
        await conn.execute(
            "UPDATE lead_events SET properties = '{}' WHERE lead_id = $1",
            lead_id,
            timeout=deadlines.timeout(10.0),
        )
        # The raw webhooks matched to the lead carry the same personal data.
        await conn.execute(
            "UPDATE inbox SET payload = ''::bytea WHERE lead_id = $1",
            lead_id,
            timeout=deadlines.timeout(10.0),
        )
        await publish(conn, KIND_DELETED, lead_id, row["location_id"], erased["delete_time"])
        return erased, True

    # -- events --------------------------------------------------------------------------------

    async def record_event(self, event: EventFields) -> tuple[Any, bool]:
        async with self._db.transaction() as conn:
            row, duplicate = await self.record_event_in(conn, event)
        if not duplicate:
            self.outbox_written.set()
        return row, duplicate

    async def record_event_in(self, conn: Conn, event: EventFields) -> tuple[Any, bool]:
        """Record one event inside the caller's transaction; True when it was recorded before."""
        # FOR SHARE: a concurrent DeleteLead waits for this event, then anonymises it too.
        lead = await conn.fetchrow(
            "SELECT location_id, delete_time FROM leads WHERE lead_id = $1 FOR SHARE",
            event.lead_id,
            timeout=deadlines.timeout(5.0),
        )
        if lead is None or lead["location_id"] != event.location_id:
            raise lead_missing(event.lead_id)
        row = None
        if lead["delete_time"] is None:
            row = await conn.fetchrow(
                "INSERT INTO lead_events (lead_id, event_id, location_id, type, occurred_time,"
                " listing_id, listing_price_usd, properties) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (lead_id, event_id) DO NOTHING RETURNING *",
                event.lead_id,
                event.event_id,
                event.location_id,
                event.type,
                event.occurred_time,
                event.listing_id,
                event.listing_price_usd,
                event.properties,
                timeout=deadlines.timeout(5.0),
            )
        if row is None:
            seen = await conn.fetchrow(
                "SELECT * FROM lead_events WHERE lead_id = $1 AND event_id = $2",
                event.lead_id,
                event.event_id,
            )
            if seen is None:
                raise _lead_deleted(event.lead_id)
            return seen, True
        await publish(
            conn,
            KIND_BEHAVIOR,
            event.lead_id,
            event.location_id,
            event.occurred_time,
            behavior_type=leads.behavior_type(event.type),
        )
        return row, False

    async def list_events(
        self,
        lead_id: uuid.UUID,
        *,
        occurred_since: datetime | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Any]:
        async with self._db.connection() as conn:
            exists = await conn.fetchval(
                "SELECT true FROM leads WHERE lead_id = $1", lead_id, timeout=deadlines.timeout(2.0)
            )
            if not exists:
                raise lead_missing(lead_id)
            rows: list[Any] = await conn.fetch(
                "SELECT * FROM lead_events WHERE lead_id = $1"
                " AND ($2::timestamptz IS NULL OR occurred_time >= $2)"
                " AND ($3::timestamptz IS NULL OR (occurred_time, event_id) < ($3, $4::text))"
                " ORDER BY occurred_time DESC, event_id DESC LIMIT $5",
                lead_id,
                occurred_since,
                after[0] if after else None,
                after[1] if after else None,
                limit + 1,
                timeout=deadlines.timeout(5.0),
            )
        return rows

    # -- import --------------------------------------------------------------------------------

    async def import_batch(self, location_id: str, batch: Sequence[LeadFields]) -> int:
        """COPY one batch into a staging table, then keep only contacts the location lacks.
        Returns how many rows were inserted; the rest already existed. Publishes nothing."""
        records = [(uuid.uuid4(), location_id, *_import_values(fields)) for fields in batch]
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO locations (location_id) VALUES ($1) ON CONFLICT DO NOTHING", location_id
            )
            # Without arguments execute() uses the simple protocol: no cached plan outlives the
            # temporary table, which is recreated for every batch.
            await conn.execute("DROP TABLE IF EXISTS pg_temp.import_staging")
            await conn.execute(_STAGING_DDL)
            await conn.copy_records_to_table(
                "import_staging", records=records, columns=_STAGING_COLUMNS, timeout=deadlines.timeout(120.0)
            )
            status = await conn.execute(
                f"INSERT INTO leads (lead_id, location_id, {_COLS})"
                " SELECT lead_id, location_id, "
                + ", ".join("custom_fields::jsonb" if c == "custom_fields" else c for c in LEAD_COLUMNS)
                + " FROM import_staging ON CONFLICT (location_id, external_contact_id) DO NOTHING",
                timeout=deadlines.timeout(120.0),
            )
        return int(status.rsplit(" ", 1)[-1])

    # -- outbox --------------------------------------------------------------------------------

    async def claim_outbox(self, limit: int, lease_s: float) -> list[Any]:
        """Lease up to `limit` due rows. A row waits while an earlier row of the same lead is
        unpublished, so each lead's events reach the coordinator in the order they happened. Rows
        without a lead (delivery reports, suppressions of an unknown address) never wait: NULL
        equals nothing, so the NOT EXISTS below holds for them."""
        async with self._db.transaction() as conn:
            rows: list[Any] = await conn.fetch(
                "WITH due AS ("
                " SELECT o.id FROM outbox o"
                " WHERE o.published_time IS NULL AND o.next_attempt_time <= now()"
                " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.lead_id = o.lead_id"
                "   AND p.published_time IS NULL AND p.id < o.id)"
                " ORDER BY o.next_attempt_time, o.id LIMIT $1 FOR UPDATE SKIP LOCKED)"
                " UPDATE outbox SET next_attempt_time = now() + make_interval(secs => $2)"
                " FROM due WHERE outbox.id = due.id RETURNING outbox.*",
                limit,
                lease_s,
                timeout=10.0,
            )
        return rows

    async def mark_published(self, outbox_id: int) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "UPDATE outbox SET published_time = now(), attempts = attempts + 1, last_error = NULL"
                " WHERE id = $1",
                outbox_id,
                timeout=10.0,
            )

    async def mark_failed(self, outbox_id: int, error: str, retry_in_s: float) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2,"
                " next_attempt_time = now() + make_interval(secs => $3) WHERE id = $1",
                outbox_id,
                error[:1000],
                retry_in_s,
                timeout=10.0,
            )


def _import_values(fields: LeadFields) -> list[Any]:
    values = _values(fields)
    values[LEAD_COLUMNS.index("custom_fields")] = json.dumps(fields.custom_fields)
    return values


async def publish(
    conn: Conn,
    kind: int,
    lead_id: uuid.UUID | None,
    location_id: str,
    occurred: datetime,
    *,
    behavior_type: str = "",
    facts: coordinator_pb.LeadEventEnvelope | None = None,
) -> None:
    """Queue one envelope for the coordinator. `facts` holds the envelope's message, delivery or
    suppression part; the relay merges it into the envelope it builds from the row."""
    await conn.execute(
        "INSERT INTO outbox (kind, lead_id, location_id, occurred_time, behavior_type, payload)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        kind,
        lead_id,
        location_id,
        occurred,
        behavior_type,
        facts.SerializeToString() if facts is not None else b"",
        timeout=deadlines.timeout(5.0),
    )


async def _publish_dnd(conn: Conn, before: Any, after: Any) -> None:
    """A do-not-disturb mark that just turned on suppresses its channel. Queued ahead of the
    lead's CREATED/UPDATED row, so the coordinator never sends a first touch before it."""
    for flag, channel, address in (
        ("sms_dnd", common_pb.CHANNEL_SMS, "phone"),
        ("email_dnd", common_pb.CHANNEL_EMAIL, "email"),
    ):
        if after[flag] and not (before is not None and before[flag]):
            await publish(
                conn,
                KIND_SUPPRESSION,
                after["lead_id"],
                after["location_id"],
                after["update_time"],
                facts=coordinator_pb.LeadEventEnvelope(
                    suppression=coordinator_pb.SuppressionFacts(
                        channel=channel, address=after[address], reason=DND_REASON
                    )
                ),
            )
