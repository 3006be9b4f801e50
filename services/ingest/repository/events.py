"""SQL for a lead's behavioural events (the lead_events table). Returns StoredEvent, never records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest.leads import EventFields, lead_missing
from shared import deadlines
from shared.db import Conn, Database
from shared.keyset import Keyset

# ListLeadEvents: most recent occurrence first.
_BY_OCCURRENCE = Keyset(key="occurred_time", key_type="timestamptz", id="event_id", id_type="text")
# The lead's page of events when the lead is in location $3, else no row at all.
_PAGE_IN_LOCATION = (
    "SELECT e.* FROM leads l LEFT JOIN LATERAL ("
    + _BY_OCCURRENCE.sql(
        "SELECT * FROM lead_events WHERE lead_id = $1 AND ($2::timestamptz IS NULL OR occurred_time >= $2)", 3
    )
    + ") e ON true WHERE l.lead_id = $1 AND l.location_id = $3"
    " ORDER BY e.occurred_time DESC, e.event_id DESC"
)


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    lead_id: uuid.UUID
    location_id: str
    type: pb.EventType.ValueType
    occurred_time: datetime
    record_time: datetime
    listing_id: str
    listing_price_usd: int
    properties: dict[str, Any]


def event_of(row: Any) -> StoredEvent:
    return StoredEvent(
        event_id=row["event_id"],
        lead_id=row["lead_id"],
        location_id=row["location_id"],
        type=row["type"],
        occurred_time=row["occurred_time"],
        record_time=row["record_time"],
        listing_id=row["listing_id"],
        listing_price_usd=row["listing_price_usd"],
        properties=row["properties"],
    )


async def insert(conn: Conn, event: EventFields) -> StoredEvent | None:
    """None when the lead already has an event with this event_id."""
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
    return event_of(row) if row is not None else None


async def get(conn: Conn, lead_id: uuid.UUID, event_id: str) -> StoredEvent | None:
    row = await conn.fetchrow(
        "SELECT * FROM lead_events WHERE lead_id = $1 AND event_id = $2", lead_id, event_id
    )
    return event_of(row) if row is not None else None


async def erase_properties(conn: Conn, lead_id: uuid.UUID) -> None:
    """Events stay for scoring history, minus free-form properties that may hold PII."""
    await conn.execute(
        "UPDATE lead_events SET properties = '{}' WHERE lead_id = $1",
        lead_id,
        timeout=deadlines.timeout(10.0),
    )


class EventReads:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(
        self,
        lead_id: uuid.UUID,
        location_id: str,
        *,
        occurred_since: datetime | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[StoredEvent]:
        """Up to limit + 1 events of the lead, most recent first; LEAD_NOT_FOUND without the
        lead, or when it is another location's. The check and the page are one statement
        (scoring a new lead reads its events: one round trip, not three)."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                _PAGE_IN_LOCATION,
                lead_id,
                occurred_since,
                location_id,
                *_BY_OCCURRENCE.params(after, limit),
                timeout=deadlines.timeout(5.0),
            )
        if not rows:
            raise lead_missing(lead_id)
        # The lead's row alone (no event on the page) comes back with NULL columns.
        return [event_of(r) for r in rows if r["event_id"] is not None]
