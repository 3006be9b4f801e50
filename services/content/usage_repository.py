"""SQL for Claude's accounting: every generation, per-location budgets, and the
month-to-date spend a budget is checked against. Returns frozen dataclasses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from shared import deadlines
from shared.db import Database

MESSAGE = "message"
REPLY_ANALYSIS = "reply_analysis"


@dataclass(frozen=True)
class GenerationRecord:
    location_id: str
    lead_id: uuid.UUID | None
    kind: str  # MESSAGE or REPLY_ANALYSIS
    generator: str  # writer.CLAUDE or writer.FALLBACK
    fallback_reason: str
    model: str  # the Claude model asked
    prompt_sha256: str
    output: str
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    cost_micros_usd: int
    latency_ms: int
    api_calls: int


@dataclass(frozen=True)
class UsageRow:
    day: str  # YYYY-MM-DD, UTC
    model: str
    generations: int
    fallbacks: int
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    cost_micros_usd: int


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class UsageRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, g: GenerationRecord) -> None:
        async with self._db.connection() as conn:
            await conn.execute(
                "INSERT INTO generations (location_id, lead_id, kind, generator, fallback_reason, model,"
                " prompt_sha256, output, input_tokens, output_tokens, cache_read_input_tokens,"
                " cache_creation_input_tokens, cost_micros_usd, latency_ms, api_calls)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                g.location_id,
                g.lead_id,
                g.kind,
                g.generator,
                g.fallback_reason,
                g.model,
                g.prompt_sha256,
                g.output,
                g.input_tokens,
                g.output_tokens,
                g.cache_read_input_tokens,
                g.cache_creation_input_tokens,
                g.cost_micros_usd,
                g.latency_ms,
                g.api_calls,
                timeout=deadlines.timeout(2.0),
            )

    async def spent_since(self, location_id: str, since: datetime) -> int:
        async with self._db.connection() as conn:
            value = await conn.fetchval(
                "SELECT coalesce(sum(cost_micros_usd), 0) FROM generations"
                " WHERE location_id = $1 AND create_time >= $2",
                location_id,
                since,
                timeout=deadlines.timeout(2.0),
            )
        return int(value)

    async def over_budget(self, location_id: str, default_micros: int, since: datetime) -> bool:
        """Has the location spent its budget (its override, else the default) since `since`?
        One round trip: it is asked before every paid call."""
        async with self._db.connection() as conn:
            over = await conn.fetchval(
                "SELECT coalesce((SELECT monthly_budget_micros_usd FROM location_budgets"
                " WHERE location_id = $1), $2::bigint) <= coalesce((SELECT sum(cost_micros_usd)"
                " FROM generations WHERE location_id = $1 AND create_time >= $3), 0)",
                location_id,
                default_micros,
                since,
                timeout=deadlines.timeout(2.0),
            )
        return bool(over)

    async def budget_override(self, location_id: str) -> int | None:
        async with self._db.connection() as conn:
            value = await conn.fetchval(
                "SELECT monthly_budget_micros_usd FROM location_budgets WHERE location_id = $1",
                location_id,
                timeout=deadlines.timeout(2.0),
            )
        return None if value is None else int(value)

    async def set_budget(self, location_id: str, micros: int | None) -> None:
        """Store the location's override; None drops it (back to the default)."""
        async with self._db.connection() as conn:
            if micros is None:
                await conn.execute(
                    "DELETE FROM location_budgets WHERE location_id = $1",
                    location_id,
                    timeout=deadlines.timeout(2.0),
                )
                return
            await conn.execute(
                "INSERT INTO location_budgets (location_id, monthly_budget_micros_usd) VALUES ($1, $2)"
                " ON CONFLICT (location_id) DO UPDATE SET monthly_budget_micros_usd = EXCLUDED"
                ".monthly_budget_micros_usd, update_time = now()"
                " WHERE location_budgets.monthly_budget_micros_usd <> EXCLUDED.monthly_budget_micros_usd",
                location_id,
                micros,
                timeout=deadlines.timeout(2.0),
            )

    async def usage(self, location_id: str, start: datetime, end: datetime) -> list[UsageRow]:
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT to_char(create_time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, model,"
                " count(*) FILTER (WHERE generator = 'claude') AS generations,"
                " count(*) FILTER (WHERE generator = 'fallback') AS fallbacks,"
                " sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,"
                " sum(cache_read_input_tokens) AS cache_read_input_tokens,"
                " sum(cache_creation_input_tokens) AS cache_creation_input_tokens,"
                " sum(cost_micros_usd) AS cost_micros_usd"
                " FROM generations WHERE location_id = $1 AND create_time >= $2 AND create_time < $3"
                " GROUP BY 1, 2 ORDER BY 1, 2",
                location_id,
                start,
                end,
                timeout=deadlines.timeout(5.0),
            )
        return [
            UsageRow(
                day=r["day"],
                model=r["model"],
                generations=r["generations"],
                fallbacks=r["fallbacks"],
                input_tokens=int(r["input_tokens"]),
                output_tokens=int(r["output_tokens"]),
                cache_read_input_tokens=int(r["cache_read_input_tokens"]),
                cache_creation_input_tokens=int(r["cache_creation_input_tokens"]),
                cost_micros_usd=int(r["cost_micros_usd"]),
            )
            for r in rows
        ]


class Budgets:
    """A location's monthly budget: its override, else the configured default."""

    def __init__(self, usage: UsageRepository, default_micros: int) -> None:
        self._usage = usage
        self.default_micros = default_micros

    async def of(self, location_id: str) -> tuple[int, bool]:
        """(budget in micro-USD, is it the default)."""
        override = await self._usage.budget_override(location_id)
        return (self.default_micros, True) if override is None else (override, False)

    async def spent_this_month(self, location_id: str, now: datetime) -> int:
        return await self._usage.spent_since(location_id, month_start(now))

    async def exhausted(self, location_id: str, now: datetime) -> bool:
        return await self._usage.over_budget(location_id, self.default_micros, month_start(now))
