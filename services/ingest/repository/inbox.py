"""SQL for the webhook inbox: every provider event stored raw, keyed by (provider, provider event id)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from shared import deadlines
from shared.db import Conn


@dataclass(frozen=True)
class StoredOutcome:
    """What an event stored earlier came to."""

    outcome: str
    detail: str
    lead_id: uuid.UUID | None
    location_id: str


async def insert(
    conn: Conn,
    *,
    provider: int,
    provider_event_id: str,
    event_type: str,
    location_id: str,
    payload: bytes,
    receive_time: datetime,
    outcome: str,
    detail: str,
) -> bool:
    """Store one event, registering its location on the way (HighLevel does not promise INSTALL
    first: any event of a location makes it known). False when it was stored before."""
    inserted = await conn.fetchval(
        "WITH location AS (INSERT INTO locations (location_id) SELECT $4 WHERE $4 <> ''"
        " ON CONFLICT DO NOTHING)"
        " INSERT INTO inbox (provider, provider_event_id, event_type, location_id, payload,"
        " receive_time, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT DO NOTHING RETURNING true",
        provider,
        provider_event_id,
        event_type,
        location_id,
        payload,
        receive_time,
        outcome,
        detail,
        timeout=deadlines.timeout(5.0),
    )
    return bool(inserted)


async def settle(
    conn: Conn,
    *,
    provider: int,
    provider_event_id: str,
    outcome: str,
    detail: str,
    lead_id: uuid.UUID | None,
    location_id: str,
) -> None:
    await conn.execute(
        "UPDATE inbox SET outcome = $3, detail = $4, lead_id = $5, location_id = $6,"
        # A ContactDelete's own payload holds the personal data it asked us to erase.
        " payload = CASE WHEN $3 = 'lead_deleted' THEN ''::bytea ELSE payload END"
        " WHERE provider = $1 AND provider_event_id = $2",
        provider,
        provider_event_id,
        outcome,
        detail,
        lead_id,
        location_id,
        timeout=deadlines.timeout(5.0),
    )


async def stored(conn: Conn, provider: int, provider_event_id: str) -> StoredOutcome:
    row = await conn.fetchrow(
        "SELECT outcome, detail, lead_id, location_id FROM inbox"
        " WHERE provider = $1 AND provider_event_id = $2",
        provider,
        provider_event_id,
        timeout=deadlines.timeout(5.0),
    )
    return StoredOutcome(row["outcome"], row["detail"], row["lead_id"], row["location_id"])


async def erase_payloads(conn: Conn, lead_id: uuid.UUID) -> None:
    """The raw webhooks matched to a lead carry the same personal data as the lead."""
    await conn.execute(
        "UPDATE inbox SET payload = ''::bytea WHERE lead_id = $1",
        lead_id,
        timeout=deadlines.timeout(10.0),
    )
