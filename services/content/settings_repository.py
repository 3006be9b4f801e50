"""SQL for what a location tells content: settings, template overrides; and the market facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.content.market import MarketFact
from services.content.templates import Override
from shared import deadlines
from shared.db import Database

AUTOPILOT = "autopilot"
SUGGEST = "suggest"


@dataclass(frozen=True)
class LocationSettings:
    location_id: str
    approval_mode: str = AUTOPILOT
    value_propositions: tuple[str, ...] = ()
    link_domains: tuple[str, ...] = ()
    update_time: datetime | None = None  # None: never set, these are the defaults


@dataclass(frozen=True)
class GenerationInputs:
    """What a location stores that writing one message reads."""

    settings: LocationSettings
    overrides: dict[tuple[str, str, str], Override]
    market: MarketFact | None


# One round trip for the three reads of every GenerateMessage (each pooled use of a connection
# costs a query and the pool's reset on release). Rows come back as records of their tables.
_INPUTS_SQL = (
    "SELECT (SELECT s FROM location_settings s WHERE s.location_id = $1) AS settings,"
    " ARRAY(SELECT o FROM template_overrides o WHERE o.location_id = $1) AS overrides,"
    " (SELECT m FROM market_facts m WHERE (m.area_kind = 'zip' AND m.area = $2)"
    "  OR (m.area_kind = 'city' AND m.area = $3) ORDER BY m.area_kind = 'zip' DESC LIMIT 1) AS market"
)


def _overrides(rows: list[asyncpg.Record]) -> dict[tuple[str, str, str], Override]:
    return {
        (r["channel"], r["purpose"], r["language"]): Override(subject=r["subject"], body=r["body"])
        for r in rows
    }


def _market(row: asyncpg.Record | None) -> MarketFact | None:
    if row is None:
        return None
    return MarketFact(
        area_kind=row["area_kind"],
        area=row["area"],
        median_price_usd=row["median_price_usd"],
        days_on_market=row["days_on_market"],
        inventory=row["inventory"],
        as_of_date=row["as_of_date"],
    )


@dataclass(frozen=True)
class StoredOverride:
    channel: str
    purpose: str
    language: str
    override: Override


def _settings(row: asyncpg.Record) -> LocationSettings:
    return LocationSettings(
        location_id=row["location_id"],
        approval_mode=row["approval_mode"],
        value_propositions=tuple(row["value_propositions"]),
        link_domains=tuple(row["link_domains"]),
        update_time=row["update_time"],
    )


class ContentSettingsRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def settings(self, location_id: str) -> LocationSettings:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM location_settings WHERE location_id = $1",
                location_id,
                timeout=deadlines.timeout(2.0),
            )
        return LocationSettings(location_id) if row is None else _settings(row)

    async def put_settings(self, settings: LocationSettings) -> LocationSettings:
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "INSERT INTO location_settings (location_id, approval_mode, value_propositions, link_domains)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (location_id) DO UPDATE SET"
                " approval_mode = EXCLUDED.approval_mode, value_propositions = EXCLUDED.value_propositions,"
                " link_domains = EXCLUDED.link_domains, update_time = now() RETURNING *",
                settings.location_id,
                settings.approval_mode,
                list(settings.value_propositions),
                list(settings.link_domains),
                timeout=deadlines.timeout(2.0),
            )
        assert row is not None
        return _settings(row)

    async def overrides(self, location_id: str) -> dict[tuple[str, str, str], Override]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT * FROM template_overrides WHERE location_id = $1",
                location_id,
                timeout=deadlines.timeout(2.0),
            )
        return _overrides(rows)

    async def inputs(self, location_id: str, zip_code: str, city_key: str) -> GenerationInputs:
        """settings(), overrides() and market_fact() in one query."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                _INPUTS_SQL, location_id, zip_code, city_key, timeout=deadlines.timeout(2.0)
            )
        assert row is not None  # scalar subqueries: always one row
        stored = row["settings"]
        return GenerationInputs(
            settings=LocationSettings(location_id) if stored is None else _settings(stored),
            overrides=_overrides(row["overrides"]),
            market=_market(row["market"]),
        )

    async def replace_overrides(self, location_id: str, overrides: list[StoredOverride]) -> int:
        """The location's overrides become exactly these, in one transaction."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "DELETE FROM template_overrides WHERE location_id = $1",
                location_id,
                timeout=deadlines.timeout(2.0),
            )
            await conn.executemany(
                "INSERT INTO template_overrides (location_id, channel, purpose, language, subject, body)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                [
                    (location_id, o.channel, o.purpose, o.language, o.override.subject, o.override.body)
                    for o in overrides
                ],
                timeout=deadlines.timeout(2.0),
            )
        return len(overrides)

    async def store_market(self, facts: list[MarketFact]) -> int:
        """Upsert each area's row unless a newer one is stored; returns rows written.
        `facts` holds at most one row per area (the caller keeps the newest)."""
        if not facts:
            return 0
        async with self._db.transaction() as conn:
            rows = await conn.fetch(
                "INSERT INTO market_facts"
                " (area_kind, area, median_price_usd, days_on_market, inventory, as_of_date)"
                " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[],"
                " $4::int[], $5::int[], $6::date[])"
                " ON CONFLICT (area_kind, area) DO UPDATE SET"
                " median_price_usd = EXCLUDED.median_price_usd, days_on_market = EXCLUDED.days_on_market,"
                " inventory = EXCLUDED.inventory, as_of_date = EXCLUDED.as_of_date"
                " WHERE market_facts.as_of_date <= EXCLUDED.as_of_date RETURNING area",
                [f.area_kind for f in facts],
                [f.area for f in facts],
                [f.median_price_usd for f in facts],
                [f.days_on_market for f in facts],
                [f.inventory for f in facts],
                [f.as_of_date for f in facts],
                timeout=deadlines.timeout(10.0),
            )
        return len(rows)

    async def market_fact(self, zip_code: str, city_key: str) -> MarketFact | None:
        """The ZIP's row when there is one, else the city's."""
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM market_facts WHERE (area_kind = 'zip' AND area = $1)"
                " OR (area_kind = 'city' AND area = $2) ORDER BY area_kind = 'zip' DESC LIMIT 1",
                zip_code,
                city_key,
                timeout=deadlines.timeout(2.0),
            )
        return _market(row)
