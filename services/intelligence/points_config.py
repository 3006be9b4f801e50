"""Per-location points (UpsertScoringConfig / GetScoringConfig), and rescoring a location in SQL.

A change of points rescores every stored score of the location in the same transaction:
the rows keep the fit attributes and per-kind event masses (score_parts), so one UPDATE
recomputes fit and engagement key for all of them; the index is never out of step with
the points a read uses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from services.intelligence import score_parts
from services.intelligence.scoring import (
    ENGAGEMENT_MAX,
    EVENT_WEIGHTS,
    FIT_MAX,
    FIT_POINTS,
    Points,
    Rules,
)
from shared import deadlines
from shared.db import Conn, Database
from shared.errors import FieldViolation, InvalidArgument

# Fit and engagement key from the row's stored parts under points $2 (fit) and $3 (events).
FIT_SQL = (
    f"least({FIT_MAX}::float8, coalesce((SELECT sum(greatest(coalesce(($2::jsonb ->> a)::float8, 0), 0))"
    " FROM jsonb_array_elements_text(s.profile -> 'attrs') a), 0))"
)
KEY_SQL = (
    "(SELECT CASE WHEN count(*) = 0 THEN '-Infinity'::float8 ELSE max(t.top) + ln(sum(exp(t.l - t.top))) END"
    " FROM (SELECT x.l, max(x.l) OVER () AS top FROM"
    " (SELECT ln(($3::jsonb ->> k.key)::float8) + (k.value ->> 'm')::float8 AS l FROM jsonb_each(s.kinds) k"
    " WHERE coalesce(($3::jsonb ->> k.key)::float8, 0) > 0) x) t)"
)
# Score and tier as of each row's score_time ($5 = rate per day, $6/$7 = warm/hot thresholds).
SCORE_AT_SQL = (
    f"round(least(100, n.fit + least({ENGAGEMENT_MAX}::float8, exp(n.k - $5::float8 *"
    " extract(epoch FROM s.score_time - '2020-01-01T00:00Z'::timestamptz) / 86400)))::numeric, 2)::float8"
)
RESCORE_SQL = f"""
WITH n AS (SELECT s.lead_id, {FIT_SQL} AS fit, {KEY_SQL} AS k FROM scores s WHERE s.location_id = $1)
UPDATE scores s SET fit = n.fit, eng_key = n.k, config_version = $4, score = {SCORE_AT_SQL},
    tier = CASE WHEN {SCORE_AT_SQL} >= $7 THEN 'hot' WHEN {SCORE_AT_SQL} >= $6 THEN 'warm' ELSE 'cold' END
FROM n WHERE s.lead_id = n.lead_id
"""


def validate(events: Mapping[str, float], fit: Mapping[str, float]) -> Points:
    """The defaults overlaid with the caller's points; unknown names and negative or non-finite
    points are refused, naming the field."""
    violations = [
        FieldViolation(f"config.{where}[{name}]", why)
        for where, given, known in (("event_points", events, EVENT_WEIGHTS), ("fit_points", fit, FIT_POINTS))
        for name, value in given.items()
        for why in ([f"unknown name; use one of {', '.join(sorted(known))}"] if name not in known else [])
        + ([] if math.isfinite(value) and 0 <= value <= 1000 else ["points must be within 0..1000"])
    ]
    if violations:
        raise InvalidArgument("the scoring config has invalid points", violations=violations)
    return Points(events={**EVENT_WEIGHTS, **events}, fit={**FIT_POINTS, **fit})


def from_row(row: Mapping[str, object] | None) -> Points:
    if row is None:
        return Points()
    events, fit, version = row["event_points"], row["fit_points"], row["version"]
    assert isinstance(events, dict)
    assert isinstance(fit, dict)
    assert isinstance(version, int)
    return Points(events=events, fit=fit, version=version)


class PointsRepository:
    def __init__(self, db: Database, rules: Rules) -> None:
        self._db = db
        self._rules = rules

    async def get(self, location_id: str) -> Points:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM scoring_configs WHERE location_id = $1",
                location_id,
                timeout=deadlines.timeout(2.0),
            )
        return from_row(row)

    async def upsert(self, location_id: str, points: Points, request_id: str) -> tuple[Points, int]:
        """Store the points as the next version and rescore the location; a retried request_id
        returns what its first call stored, rescoring nothing."""
        async with self._db.transaction() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM scoring_configs WHERE location_id = $1 FOR UPDATE", location_id
            )
            if row is not None and row["request_id"] == request_id:
                return from_row(row), 0
            version = (row["version"] if row is not None else 0) + 1
            saved = await conn.fetchrow(
                "INSERT INTO scoring_configs (location_id, version, event_points, fit_points, request_id)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (location_id) DO UPDATE SET"
                " version = EXCLUDED.version, event_points = EXCLUDED.event_points,"
                " fit_points = EXCLUDED.fit_points, request_id = EXCLUDED.request_id, update_time = now()"
                " RETURNING *",
                location_id,
                version,
                dict(points.events),
                dict(points.fit),
                request_id,
            )
            stored = from_row(saved)
            count = await rescore(conn, location_id, stored, self._rules)
        return stored, count


async def rescore(conn: Conn, location_id: str, points: Points, rules: Rules) -> int:
    """Every stored score of the location recomputed under `points`, in one statement."""
    status: str = await conn.execute(
        RESCORE_SQL,
        location_id,
        dict(points.fit),
        dict(points.events),
        points.version,
        score_parts.rate(rules.half_life_days),
        rules.warm_threshold,
        rules.hot_threshold,
        timeout=deadlines.timeout(600.0),
    )
    return int(status.split()[-1])
