"""SQL for location profiles, the SMS numbers they own and UpdateLocation's request ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.ingest.locations import LocationFields
from shared import deadlines
from shared.db import Conn, Database
from shared.keyset import Keyset

_BY_CREATE = Keyset(key="create_time", key_type="timestamptz", id="location_id", id_type="text")
_COLUMNS = "location_id, name, brand_name, time_zone, postal_address, sms_from_numbers, email_from,"
_COLUMNS += " create_time, update_time"


@dataclass(frozen=True)
class StoredLocation:
    location_id: str
    fields: LocationFields
    create_time: datetime
    update_time: datetime


def location_of(row: Any) -> StoredLocation:
    return StoredLocation(
        location_id=row["location_id"],
        fields=LocationFields(
            name=row["name"],
            brand_name=row["brand_name"],
            time_zone=row["time_zone"],
            postal_address=row["postal_address"],
            sms_from_numbers=tuple(row["sms_from_numbers"]),
            email_from=row["email_from"],
        ),
        create_time=row["create_time"],
        update_time=row["update_time"],
    )


async def claim_request(conn: Conn, request_id: str, location_id: str) -> bool:
    """True when this call holds the key. A concurrent call holding it makes this wait for its
    commit, then see the key taken."""
    claimed = await conn.fetchval(
        "INSERT INTO location_requests (request_id, location_id, response)"
        " VALUES ($1, $2, ''::bytea) ON CONFLICT DO NOTHING RETURNING true",
        request_id,
        location_id,
        timeout=deadlines.timeout(5.0),
    )
    return bool(claimed)


async def replayed(conn: Conn, request_id: str) -> bytes:
    """The serialized UpdateLocationResponse the first call with this key gave."""
    response = await conn.fetchval(
        "SELECT response FROM location_requests WHERE request_id = $1",
        request_id,
        timeout=deadlines.timeout(2.0),
    )
    return bytes(response)


async def finish_request(conn: Conn, request_id: str, response: bytes) -> None:
    await conn.execute(
        "UPDATE location_requests SET response = $2 WHERE request_id = $1",
        request_id,
        response,
        timeout=deadlines.timeout(2.0),
    )


async def locked_or_created(conn: Conn, location_id: str) -> tuple[StoredLocation, bool]:
    """The location's row under FOR UPDATE, inserted first when absent; True when inserted."""
    created = await conn.fetchval(
        "INSERT INTO locations (location_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING true",
        location_id,
        timeout=deadlines.timeout(5.0),
    )
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM locations WHERE location_id = $1 FOR UPDATE",
        location_id,
        timeout=deadlines.timeout(5.0),
    )
    return location_of(row), bool(created)


async def claim_numbers(conn: Conn, location_id: str, numbers: tuple[str, ...]) -> dict[str, str]:
    """Make `numbers` exactly the ones this location owns. Returns those another location holds
    (then the caller must roll back). A concurrent claim of the same number waits on the key and
    then sees the winner's row, so two locations never both believe they own one."""
    await conn.execute(
        "DELETE FROM location_sms_numbers WHERE location_id = $1 AND NOT number = ANY($2::text[])",
        location_id,
        list(numbers),
        timeout=deadlines.timeout(5.0),
    )
    await conn.execute(
        "INSERT INTO location_sms_numbers (number, location_id)"
        " SELECT unnest($2::text[]), $1 ON CONFLICT DO NOTHING",
        location_id,
        list(numbers),
        timeout=deadlines.timeout(5.0),
    )
    rows = await conn.fetch(
        "SELECT number, location_id FROM location_sms_numbers WHERE number = ANY($1::text[])"
        " AND location_id <> $2",
        list(numbers),
        location_id,
        timeout=deadlines.timeout(5.0),
    )
    return {r["number"]: r["location_id"] for r in rows}


async def write(conn: Conn, location_id: str, fields: LocationFields) -> StoredLocation:
    """The profile row (the caller holds its lock and has claimed its numbers)."""
    row = await conn.fetchrow(
        "UPDATE locations SET name = $2, brand_name = $3, time_zone = $4, postal_address = $5,"
        f" sms_from_numbers = $6, email_from = $7, update_time = now() WHERE location_id = $1"
        f" RETURNING {_COLUMNS}",
        location_id,
        fields.name,
        fields.brand_name,
        fields.time_zone,
        fields.postal_address,
        list(fields.sms_from_numbers),
        fields.email_from,
        timeout=deadlines.timeout(5.0),
    )
    return location_of(row)


async def sms_number_owner(conn: Conn, number: str) -> str | None:
    """The location that owns this SMS number (one at most, by the table's key)."""
    owner: str | None = await conn.fetchval(
        "SELECT location_id FROM location_sms_numbers WHERE number = $1",
        number,
        timeout=deadlines.timeout(5.0),
    )
    return owner


class LocationReads:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, location_id: str) -> StoredLocation | None:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM locations WHERE location_id = $1",
                location_id,
                timeout=deadlines.timeout(2.0),
            )
        return location_of(row) if row is not None else None

    async def page(self, after: tuple[datetime, str] | None, limit: int) -> list[StoredLocation]:
        """Up to limit + 1 locations, newest first."""
        async with self._db.connection() as conn:
            rows = await _BY_CREATE.fetch(
                conn,
                f"SELECT {_COLUMNS} FROM locations WHERE true",
                [],
                after,
                limit,
                deadline_s=deadlines.timeout(5.0),
            )
        return [location_of(r) for r in rows]


async def register(conn: Conn, location_ids: list[str]) -> None:
    """Known from now on (profile empty until UpdateLocation fills it)."""
    await conn.execute(
        "INSERT INTO locations (location_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
        location_ids,
        timeout=deadlines.timeout(5.0),
    )
