"""Per-location delivery settings: which provider carries SMS and which carries email."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared import deadlines
from shared.db import Database


@dataclass(frozen=True)
class DeliverySettings:
    location_id: str
    sms_provider: str = ""
    email_provider: str = ""
    update_time: datetime | None = None


class DeliverySettingsRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, settings: DeliverySettings) -> DeliverySettings:
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "INSERT INTO delivery_settings (location_id, sms_provider, email_provider)"
                " VALUES ($1, $2, $3)"
                " ON CONFLICT (location_id) DO UPDATE SET sms_provider = EXCLUDED.sms_provider,"
                " email_provider = EXCLUDED.email_provider,"
                # The same settings again change nothing, not even the time.
                " update_time = CASE WHEN delivery_settings.sms_provider = EXCLUDED.sms_provider"
                " AND delivery_settings.email_provider = EXCLUDED.email_provider"
                " THEN delivery_settings.update_time ELSE now() END"
                " RETURNING *",
                settings.location_id,
                settings.sms_provider,
                settings.email_provider,
                timeout=deadlines.timeout(2.0),
            )
        return DeliverySettings(
            row["location_id"], row["sms_provider"], row["email_provider"], row["update_time"]
        )

    async def get(self, location_id: str) -> DeliverySettings:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM delivery_settings WHERE location_id = $1",
                location_id,
                timeout=deadlines.timeout(2.0),
            )
        if row is None:
            return DeliverySettings(location_id)
        return DeliverySettings(
            row["location_id"], row["sms_provider"], row["email_provider"], row["update_time"]
        )
