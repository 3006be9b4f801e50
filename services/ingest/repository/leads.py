"""SQL for leads, their locations and UpsertLead's request ids. Returns StoredLead, never records.

Functions that take a `conn` run inside the caller's transaction; LeadReads
opens its own connection for the read-only RPCs.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any, Literal

import asyncpg

from services.ingest.leads import LeadFields, LeadFilters, lead_missing
from shared import deadlines
from shared.db import Conn, Database
from shared.errors import AlreadyExists, NotFound
from shared.keyset import Keyset

LEAD_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(LeadFields))
_COLS = ", ".join(LEAD_COLUMNS)
# ListLeads: most recently updated first.
# When the record last showed activity: the imported last activity while nothing wrote the
# record since it was inserted (an import writes update_time = create_time), else its last write.
# Events are counted beside it, by the caller.
LAST_ACTIVITY = (
    "CASE WHEN last_activity_time IS NOT NULL AND update_time = create_time"
    " THEN last_activity_time ELSE update_time END"
)
_BY_UPDATE = Keyset(key="update_time", key_type="timestamptz", id="lead_id")
# ListLeads oldest_first: stable while leads change, so an audience pages through every lead once.
_BY_CREATE = Keyset(key="create_time", key_type="timestamptz", id="lead_id", descending=False)

Lock = Literal["", "FOR UPDATE", "FOR SHARE"]


@dataclasses.dataclass(frozen=True)
class StoredLead:
    lead_id: uuid.UUID
    location_id: str
    fields: LeadFields
    create_time: datetime
    update_time: datetime
    delete_time: datetime | None
    # Only ImportLeads sets it (see Lead.last_activity_time); no write of the record changes it.
    last_activity_time: datetime | None = None


def lead_of(row: Any) -> StoredLead:
    values = {name: row[name] for name in LEAD_COLUMNS}
    values["tags"] = tuple(values["tags"])
    return StoredLead(
        lead_id=row["lead_id"],
        location_id=row["location_id"],
        fields=LeadFields(**values),
        create_time=row["create_time"],
        update_time=row["update_time"],
        delete_time=row["delete_time"],
        last_activity_time=row.get("last_activity_time"),
    )


def _maybe(row: Any) -> StoredLead | None:
    return lead_of(row) if row is not None else None


def values_of(fields: LeadFields) -> list[Any]:
    """The LEAD_COLUMNS values of fields, as asyncpg takes them."""
    return [list(v) if isinstance(v, tuple) else v for v in (getattr(fields, n) for n in LEAD_COLUMNS)]


# -- UpsertLead's request ids ------------------------------------------------------------------


async def claim_request_id(conn: Conn, request_id: str) -> bool:
    """True when this call holds the key. A concurrent call holding the same key makes this wait
    for its commit, then see the key taken."""
    claimed = await conn.fetchval(
        "INSERT INTO request_ids (rpc, request_id) VALUES ('UpsertLead', $1)"
        " ON CONFLICT DO NOTHING RETURNING true",
        request_id,
        timeout=deadlines.timeout(5.0),
    )
    return bool(claimed)


async def replayed_request(conn: Conn, request_id: str) -> tuple[StoredLead, bool]:
    """The lead the first call with this request id wrote, and whether that call created it."""
    prior = await conn.fetchrow(
        "SELECT lead_id, created FROM request_ids WHERE rpc = 'UpsertLead' AND request_id = $1",
        request_id,
    )
    row = await conn.fetchrow("SELECT * FROM leads WHERE lead_id = $1", prior["lead_id"])
    return lead_of(row), bool(prior["created"])


async def finish_request(conn: Conn, request_id: str, lead_id: uuid.UUID, created: bool) -> None:
    await conn.execute(
        "UPDATE request_ids SET lead_id = $2, created = $3 WHERE rpc = 'UpsertLead' AND request_id = $1",
        request_id,
        lead_id,
        created,
    )


# -- writes ------------------------------------------------------------------------------------


async def locked(conn: Conn, lead_id: uuid.UUID) -> StoredLead | None:
    row = await conn.fetchrow(
        "SELECT * FROM leads WHERE lead_id = $1 FOR UPDATE", lead_id, timeout=deadlines.timeout(5.0)
    )
    return _maybe(row)


async def by_external(
    conn: Conn, location_id: str, external_id: str | None, *, lock: Lock
) -> StoredLead | None:
    row = await conn.fetchrow(
        "SELECT * FROM leads WHERE location_id = $1 AND external_contact_id = $2"
        + (f" {lock}" if lock else ""),
        location_id,
        external_id,
        timeout=deadlines.timeout(5.0),
    )
    return _maybe(row)


async def ensure_location(conn: Conn, location_id: str) -> None:
    await conn.execute("INSERT INTO locations (location_id) VALUES ($1) ON CONFLICT DO NOTHING", location_id)


async def insert(conn: Conn, location_id: str, fields: LeadFields) -> StoredLead | None:
    """None when a concurrent call created this contact first."""
    placeholders = ", ".join(f"${i}" for i in range(2, len(LEAD_COLUMNS) + 2))
    row = await conn.fetchrow(
        f"INSERT INTO leads (location_id, {_COLS}) VALUES ($1, {placeholders})"
        " ON CONFLICT (location_id, external_contact_id) DO NOTHING RETURNING *",
        location_id,
        *values_of(fields),
        timeout=deadlines.timeout(5.0),
    )
    return _maybe(row)


async def write(conn: Conn, lead_id: uuid.UUID, fields: LeadFields, *, delete: bool = False) -> StoredLead:
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(LEAD_COLUMNS, start=2))
    try:
        row = await conn.fetchrow(
            f"UPDATE leads SET {sets}, update_time = now()"
            + (", delete_time = now()" if delete else "")
            + " WHERE lead_id = $1 RETURNING *",
            lead_id,
            *values_of(fields),
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
    return lead_of(row)


async def shared_lock(conn: Conn, lead_id: uuid.UUID) -> tuple[str, datetime | None] | None:
    """(location_id, delete_time) of a lead, locked FOR SHARE: a concurrent delete waits for
    the caller's transaction."""
    row = await conn.fetchrow(
        "SELECT location_id, delete_time FROM leads WHERE lead_id = $1 FOR SHARE",
        lead_id,
        timeout=deadlines.timeout(5.0),
    )
    return (row["location_id"], row["delete_time"]) if row is not None else None


# -- lookups for inbound events ----------------------------------------------------------------


async def live(conn: Conn, lead_id: uuid.UUID) -> StoredLead | None:
    row = await conn.fetchrow(
        "SELECT * FROM leads WHERE lead_id = $1 AND delete_time IS NULL",
        lead_id,
        timeout=deadlines.timeout(5.0),
    )
    return _maybe(row)


async def live_by_phone(conn: Conn, location_id: str, phone: str) -> StoredLead | None:
    """The location's most recently updated live lead with this phone."""
    row = await conn.fetchrow(
        "SELECT * FROM leads WHERE phone = $1 AND location_id = $2 AND delete_time IS NULL"
        " ORDER BY update_time DESC LIMIT 1",
        phone,
        location_id,
        timeout=deadlines.timeout(5.0),
    )
    return _maybe(row)


async def live_by_email(conn: Conn, location_id: str, email: str) -> StoredLead | None:
    """The location's most recently updated live lead with this email."""
    row = await conn.fetchrow(
        "SELECT * FROM leads WHERE location_id = $1 AND email = $2 AND delete_time IS NULL"
        " ORDER BY update_time DESC LIMIT 1",
        location_id,
        email,
        timeout=deadlines.timeout(5.0),
    )
    return _maybe(row)


async def locations_with_phone(conn: Conn, phone: str) -> list[str]:
    """Every location that has a live lead with this phone (an opt-out concerns each of them)."""
    rows = await conn.fetch(
        "SELECT DISTINCT location_id FROM leads WHERE phone = $1 AND delete_time IS NULL"
        " ORDER BY location_id",
        phone,
        timeout=deadlines.timeout(5.0),
    )
    return [r["location_id"] for r in rows]


# -- reads -------------------------------------------------------------------------------------


class LeadReads:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def profile_page(
        self, location_id: str, after: uuid.UUID | None, limit: int
    ) -> list[asyncpg.Record]:
        """Up to limit + 1 live leads of the location after `after` in lead_id order, only the
        columns bulk scoring reads."""
        # Two statements, not "$2 IS NULL OR lead_id > $2": a generic plan of that cannot seek
        # the (location_id, lead_id) index and reads the whole location for every page.
        columns = (
            "SELECT lead_id, budget_usd, preapproved, timeline_months, phone <> '' AS has_phone,"
            " email <> '' AS has_email, source FROM leads WHERE location_id = $1 AND delete_time IS NULL"
        )
        async with self._db.connection() as conn:
            if after is None:
                rows: list[asyncpg.Record] = await conn.fetch(
                    f"{columns} ORDER BY lead_id LIMIT $2",
                    location_id,
                    limit + 1,
                    timeout=deadlines.timeout(10.0),
                )
            else:
                rows = await conn.fetch(
                    f"{columns} AND lead_id > $2 ORDER BY lead_id LIMIT $3",
                    location_id,
                    after,
                    limit + 1,
                    timeout=deadlines.timeout(10.0),
                )
        return rows

    async def profiles_of(self, location_id: str, lead_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
        """profile_page's columns for these live leads of the location, in lead_id order; ids
        that are deleted, unknown or of another location are left out."""
        async with self._db.connection() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(
                "SELECT lead_id, budget_usd, preapproved, timeline_months, phone <> '' AS has_phone,"
                " email <> '' AS has_email, source FROM leads"
                " WHERE lead_id = any($2::uuid[]) AND location_id = $1 AND delete_time IS NULL"
                " ORDER BY lead_id",
                location_id,
                lead_ids,
                timeout=deadlines.timeout(10.0),
            )
        return rows

    async def get(self, lead_id: uuid.UUID, location_id: str | None) -> StoredLead:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM leads WHERE lead_id = $1", lead_id, timeout=deadlines.timeout(2.0)
            )
        if row is None or (location_id is not None and row["location_id"] != location_id):
            raise lead_missing(lead_id)
        return lead_of(row)

    async def by_external_id(self, location_id: str, external_id: str) -> StoredLead:
        async with self._db.connection() as conn:
            lead = await by_external(conn, location_id, external_id, lock="")
        if lead is None:
            raise NotFound(
                f"no lead in location {location_id} has external_contact_id {external_id}",
                reason="LEAD_NOT_FOUND",
                metadata={"location_id": location_id, "external_contact_id": external_id},
            )
        return lead

    async def page(
        self,
        location_id: str,
        filters: LeadFilters,
        *,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[StoredLead]:
        """Up to limit + 1 live leads of the location, most recently updated first (or
        oldest created first)."""
        # Only the filters in use go into the statement, so each shape gets a plan that uses its index.
        where = ["location_id = $1", "delete_time IS NULL"]
        args: list[Any] = [location_id]

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if filters.source:
            where.append(f"source = {arg(filters.source)}")
        if filters.tag:
            where.append(f"tags @> {arg([filters.tag])}::text[]")
        if filters.updated_since is not None:
            where.append(f"update_time >= {arg(filters.updated_since)}")
        if filters.sources:
            where.append(f"source = any({arg(list(filters.sources))}::smallint[])")
        if filters.any_tags:
            where.append(f"tags && {arg(list(filters.any_tags))}::text[]")
        if filters.inactive_since is not None:
            since = arg(filters.inactive_since)
            where.append(
                f"{LAST_ACTIVITY} < {since} AND NOT EXISTS (SELECT 1 FROM lead_events e"
                f" WHERE e.lead_id = leads.lead_id AND e.occurred_time >= {since})"
            )
        keyset = _BY_CREATE if filters.oldest_first else _BY_UPDATE
        async with self._db.connection() as conn:
            rows = await keyset.fetch(
                conn,
                f"SELECT * FROM leads WHERE {' AND '.join(where)}",
                args,
                after,
                limit,
                deadline_s=deadlines.timeout(5.0),
            )
        return [lead_of(r) for r in rows]
