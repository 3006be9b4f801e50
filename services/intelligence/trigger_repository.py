"""SQL for trigger rules, evaluations, firings and suppression windows. Each method is one
short transaction; none spans a call to another service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.intelligence.trigger_rules import Match, Rule
from shared import deadlines
from shared.db import Database
from shared.keyset import Keyset

_FIRINGS_PAGE = Keyset("fire_time", "timestamptz", "firing_id")


@dataclass(frozen=True)
class Evaluation:
    """One FireTriggers request_id as recorded: whose lead it judged, and what fired."""

    lead_id: uuid.UUID
    location_id: str  # '' when unknown (written before it was kept, or the lead was deleted)
    firings: list[Firing]


@dataclass(frozen=True)
class Firing:
    firing_id: uuid.UUID
    lead_id: uuid.UUID
    location_id: str
    rule_id: str
    rule_version: int
    condition: int
    description: str
    listing_id: str
    listing_label: str
    hot: bool
    event_ids: tuple[str, ...]
    evidence_time: datetime
    fire_time: datetime
    suppression: timedelta


@dataclass(frozen=True)
class Suppression:
    """A rule's last firing for a lead: it fires again only after suppressed_until, and only
    on evidence newer than evidence_time."""

    suppressed_until: datetime
    evidence_time: datetime


def _seconds(d: timedelta) -> int:
    return int(d.total_seconds())


def _rule(row: asyncpg.Record) -> Rule:
    return Rule(
        rule_id=row["rule_id"],
        name=row["name"],
        condition=row["condition"],
        min_count=row["min_count"],
        window=timedelta(seconds=row["window_s"]),
        suppression=timedelta(seconds=row["suppression_s"]),
        hot=row["hot"],
        event_types=tuple(row["event_types"]),
        listing_required=row["listing_required"],
        inactivity=timedelta(seconds=row["inactivity_s"]),
        price_change_percent=row["price_change_percent"],
        baseline=timedelta(seconds=row["baseline_s"]),
        disabled=row["disabled"],
        version=row["version"],
        location_id=row["location_id"],
        update_time=row["update_time"],
    )


def _firing(row: asyncpg.Record) -> Firing:
    return Firing(
        firing_id=row["firing_id"],
        lead_id=row["lead_id"],
        location_id=row["location_id"],
        rule_id=row["rule_id"],
        rule_version=row["rule_version"],
        condition=row["condition"],
        description=row["description"],
        listing_id=row["listing_id"],
        listing_label=row["listing_label"],
        hot=row["hot"],
        event_ids=tuple(row["event_ids"]),
        evidence_time=row["evidence_time"],
        fire_time=row["fire_time"],
        suppression=timedelta(seconds=row["suppression_s"]),
    )


class TriggerRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def rules(self, location_id: str) -> list[Rule]:
        """The location's own rules (defaults it has not overridden are not stored)."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT * FROM trigger_rules WHERE location_id = $1 ORDER BY rule_id",
                location_id,
                timeout=deadlines.timeout(2.0),
            )
        return [_rule(r) for r in rows]

    async def upsert_rule(self, rule: Rule, previous_version: int) -> Rule:
        """Store `rule` as version previous_version + 1, unless another writer moved the
        version meanwhile: then theirs stands and is returned."""
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "INSERT INTO trigger_rules (location_id, rule_id, name, disabled, condition, event_types,"
                " listing_required, min_count, window_s, inactivity_s, price_change_percent, baseline_s,"
                " suppression_s, hot, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
                " $13, $14, $15 + 1)"
                " ON CONFLICT (location_id, rule_id) DO UPDATE SET name = EXCLUDED.name,"
                " disabled = EXCLUDED.disabled, condition = EXCLUDED.condition,"
                " event_types = EXCLUDED.event_types, listing_required = EXCLUDED.listing_required,"
                " min_count = EXCLUDED.min_count, window_s = EXCLUDED.window_s,"
                " inactivity_s = EXCLUDED.inactivity_s, price_change_percent = EXCLUDED.price_change_percent,"
                " baseline_s = EXCLUDED.baseline_s, suppression_s = EXCLUDED.suppression_s,"
                " hot = EXCLUDED.hot, version = EXCLUDED.version, update_time = now()"
                " WHERE trigger_rules.version = $15 RETURNING *",
                rule.location_id,
                rule.rule_id,
                rule.name,
                rule.disabled,
                rule.condition,
                list(rule.event_types),
                rule.listing_required,
                rule.min_count,
                _seconds(rule.window),
                _seconds(rule.inactivity),
                rule.price_change_percent,
                _seconds(rule.baseline),
                _seconds(rule.suppression),
                rule.hot,
                previous_version,
                timeout=deadlines.timeout(2.0),
            )
            if row is None:
                row = await conn.fetchrow(
                    "SELECT * FROM trigger_rules WHERE location_id = $1 AND rule_id = $2",
                    rule.location_id,
                    rule.rule_id,
                )
        assert row is not None
        return _rule(row)

    async def suppressions(self, lead_id: uuid.UUID, rule_ids: list[str]) -> dict[str, Suppression]:
        """The lead's suppression rows for these rules, by rule_id (read-only)."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "SELECT rule_id, suppressed_until, evidence_time FROM trigger_suppressions"
                " WHERE lead_id = $1 AND rule_id = ANY($2::text[])",
                lead_id,
                rule_ids,
                timeout=deadlines.timeout(2.0),
            )
        return {r["rule_id"]: Suppression(r["suppressed_until"], r["evidence_time"]) for r in rows}

    async def evaluated(self, request_id: str) -> Evaluation | None:
        """The evaluation recorded under request_id, with its firings (possibly none)."""
        async with self._db.connection() as conn:
            seen = await conn.fetchrow(
                "SELECT lead_id, location_id FROM trigger_evaluations WHERE request_id = $1",
                request_id,
                timeout=deadlines.timeout(2.0),
            )
            if seen is None:
                return None
            rows = await conn.fetch(
                "SELECT * FROM trigger_firings WHERE request_id = $1 ORDER BY rule_id", request_id
            )
        return Evaluation(seen["lead_id"], seen["location_id"], [_firing(r) for r in rows])

    async def record(
        self,
        request_id: str,
        lead_id: uuid.UUID,
        location_id: str,
        now: datetime,
        matches: list[tuple[Rule, Match]],
    ) -> list[Firing] | None:
        """Record the evaluation and each match whose rule is outside its suppression window
        for this lead and has newer evidence than its last firing. None when the same
        request_id was recorded meanwhile (read that one with `evaluated`)."""
        fired: list[Firing] = []
        async with self._db.transaction() as conn:
            first = await conn.fetchval(
                "INSERT INTO trigger_evaluations (request_id, lead_id, evaluate_time, location_id)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (request_id) DO NOTHING RETURNING 1",
                request_id,
                lead_id,
                now,
                location_id,
                timeout=deadlines.timeout(2.0),
            )
            if first is None:
                return None
            for rule, match in matches:
                firing_id = uuid.uuid4()
                won = await conn.fetchval(
                    "INSERT INTO trigger_suppressions (lead_id, rule_id, suppressed_until, evidence_time,"
                    " firing_id) VALUES ($1, $2, $3, $4, $5)"
                    " ON CONFLICT (lead_id, rule_id) DO UPDATE SET"
                    " suppressed_until = EXCLUDED.suppressed_until, evidence_time = EXCLUDED.evidence_time,"
                    " firing_id = EXCLUDED.firing_id"
                    " WHERE trigger_suppressions.suppressed_until <= $6"
                    " AND trigger_suppressions.evidence_time < EXCLUDED.evidence_time"
                    " RETURNING firing_id",
                    lead_id,
                    rule.rule_id,
                    now + rule.suppression,
                    match.evidence_time,
                    firing_id,
                    now,
                )
                if won is None:
                    continue
                row = await conn.fetchrow(
                    "INSERT INTO trigger_firings (firing_id, request_id, lead_id, location_id, rule_id,"
                    " rule_version, condition, description, listing_id, listing_label, hot, event_ids,"
                    " evidence_time, fire_time, suppression_s) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
                    " $10, $11, $12, $13, $14, $15) RETURNING *",
                    firing_id,
                    request_id,
                    lead_id,
                    location_id,
                    rule.rule_id,
                    rule.version,
                    rule.condition,
                    match.description,
                    match.listing_id,
                    match.listing_label,
                    rule.hot,
                    list(match.event_ids),
                    match.evidence_time,
                    now,
                    _seconds(rule.suppression),
                )
                fired.append(_firing(row))
        return fired

    async def list_firings(
        self, lead_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Firing]:
        """Up to limit + 1 of the lead's firings after `after`, newest first."""
        async with self._db.connection() as conn:
            rows = await _FIRINGS_PAGE.fetch(
                conn,
                "SELECT * FROM trigger_firings WHERE lead_id = $1",
                [lead_id],
                after,
                limit,
                deadline_s=deadlines.timeout(2.0),
            )
        return [_firing(r) for r in rows]
