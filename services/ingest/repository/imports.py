"""SQL for ImportLeads: one COPY into a staging table per batch, then one INSERT … SELECT."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.ingest.leads import LeadFields
from services.ingest.repository import outbox
from services.ingest.repository.leads import LEAD_COLUMNS, ensure_location, values_of
from shared import deadlines, timestamps
from shared.db import Database

_COLS = ", ".join(LEAD_COLUMNS)
_STAGING_COLUMNS = ("lead_id", "location_id", *LEAD_COLUMNS, "last_activity_time")

# Column types of the COPY target; custom_fields travels as text and is cast on the way into leads,
# so binary COPY never needs a jsonb codec.
_STAGING_DDL = (
    "CREATE TEMP TABLE import_staging (lead_id uuid, location_id text, external_contact_id text,"
    " first_name text, last_name text, email text, phone text, timezone text, company text, city text,"
    " state text, country text, job_title text, seniority text, source smallint, tags text[],"
    " custom_fields text, sms_consent boolean, email_consent boolean, budget_usd bigint,"
    " timeline_months integer, preapproved boolean, sms_dnd boolean, email_dnd boolean, postal_code text,"
    " preferred_language text, intent smallint, last_activity_time timestamptz) ON COMMIT DROP"
)


@dataclasses.dataclass(frozen=True)
class ImportRow:
    fields: LeadFields
    # The lead's activity before the import (Lead.last_activity_time), if the row gave it.
    last_activity_time: datetime | None = None


def _import_values(fields: LeadFields) -> list[Any]:
    values = values_of(fields)
    values[LEAD_COLUMNS.index("custom_fields")] = json.dumps(fields.custom_fields)
    return values


async def import_batch(db: Database, location_id: str, batch: Sequence[ImportRow]) -> int:
    """COPY one batch into a staging table, then keep only contacts the location lacks.
    Returns how many rows were inserted; the rest already existed. A batch that inserted any
    queues one LEADS_IMPORTED row for its location in the same transaction, naming the leads it
    inserted, so every committed import gets scored, even when intelligence is down at the
    time; nothing per lead is published (imports send no messages)."""
    records = [
        (uuid.uuid4(), location_id, *_import_values(row.fields), row.last_activity_time) for row in batch
    ]
    async with db.transaction() as conn:
        await ensure_location(conn, location_id)
        # Without arguments execute() uses the simple protocol: no cached plan outlives the
        # temporary table, which is recreated for every batch.
        await conn.execute("DROP TABLE IF EXISTS pg_temp.import_staging")
        await conn.execute(_STAGING_DDL)
        await conn.copy_records_to_table(
            "import_staging", records=records, columns=_STAGING_COLUMNS, timeout=deadlines.timeout(120.0)
        )
        ids: list[uuid.UUID] = await conn.fetchval(
            "WITH inserted AS (INSERT INTO leads (lead_id, location_id, " + _COLS + ", last_activity_time)"
            " SELECT lead_id, location_id, "
            + ", ".join("custom_fields::jsonb" if c == "custom_fields" else c for c in LEAD_COLUMNS)
            + ", last_activity_time FROM import_staging"
            " ON CONFLICT (location_id, external_contact_id) DO NOTHING"
            " RETURNING lead_id) SELECT coalesce(array_agg(lead_id), '{}') FROM inserted",
            timeout=deadlines.timeout(120.0),
        )
        if ids:
            await outbox.insert(
                conn, outbox.LEADS_IMPORTED, None, location_id, timestamps.now(), "", imported_payload(ids)
            )
    return len(ids)


# Intelligence scores just the imported leads when the outbox row names them (16 bytes each); a
# batch that inserted more than this asks for the whole location (an empty payload), which keeps
# RequestLocationScoring and ListLeadProfiles within their 20,000 ids.
MAX_IMPORTED_IDS = 20_000


def imported_payload(ids: Sequence[uuid.UUID]) -> bytes:
    return b"".join(i.bytes for i in ids) if len(ids) <= MAX_IMPORTED_IDS else b""


def imported_ids(payload: bytes) -> list[str]:
    """The lead ids a LEADS_IMPORTED row names (none: score the whole location)."""
    return [str(uuid.UUID(bytes=payload[i : i + 16])) for i in range(0, len(payload) - 15, 16)]
