"""ListHighIntentLeads in SQL: a location's leads by score as of one time, from the index alone.

A score is fit + min(60, exp(eng_key - rate x t)). Fit does not decay and engagement
does, so the order of two leads of different fit can change as time passes; within one
fit it never does (eng_key is fixed). So the listing walks the location's few distinct
fit values (a loose index scan, pruned to those that can reach the band), takes from each
the next rows in (eng_key, lead_id) order straight off the index (an index-only scan, LIMIT
n + 1 each), and merges them: the only sort is of at most groups x (n + 1) rows, never of the
location; only the n + 1 rows of the page are then read from the table. Rows that cannot place
are never read: any n + 1 rows bound the (n + 1)th best score from below, so the next n + 1 rows
of the three highest fits give a floor, the walk then visits only fits that can reach it (fit +
60 >= floor) and takes from each only rows at or above it, bounded in the index (at 1 M leads:
28 groups and 1,409 rows before, 4 groups and about 200 rows now).

The statement runs as the function high_intent_page (migration 0250, which must hold LIST_SQL
verbatim; a test checks) so that it keeps a generic plan: as a prepared statement it was
re-planned on every call, at more cost than its execution.

Pages of one listing are computed as of the first page's time (carried in the token), and
the order (score, eng_key, lead_id) is total, so decay between pages neither skips nor
repeats a lead. Within a group, "after the cursor" holds for a suffix of the index order;
its start is bounded by `_UPPER` so deep pages seek instead of filtering, and the exact
comparison then re-checks the boundary rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import NamedTuple

import asyncpg

from services.intelligence.repository import StoredScore
from services.intelligence.scoring import ENGAGEMENT_MAX
from shared import deadlines
from shared.db import Database

# $2 = rate x t of the listing's time; the score expression matches score_parts.score_at.
_SCORE = "least(100.0, greatest(0.0, s.fit + least($9::float8, exp(s.eng_key - $2::float8))))"


# Engagement key bounds of a group g for score >= low, score < $4 and "after the cursor ($5, $6,
# $7)"; 1e-9 widens each for rounding, the exact filter decides.
def _lower(low: str) -> str:
    return (
        f"CASE WHEN {low} - g.fit <= 0 THEN '-Infinity'::float8"
        f" ELSE ln({low} - g.fit) + $2::float8 - 1e-9 END"
    )


_BELOW_HI = (
    "CASE WHEN $4::float8 - g.fit > $9::float8 THEN 'Infinity'::float8"
    " ELSE ln($4::float8 - g.fit) + $2::float8 + 1e-9 END"
)
_UPPER = (
    "CASE WHEN $5::float8 IS NULL OR $5::float8 > g.fit + $9::float8 THEN 'Infinity'::float8"
    " WHEN $5::float8 = g.fit + $9::float8 THEN greatest($6::float8, ln($9::float8) + $2::float8 + 1e-9)"
    " WHEN $5::float8 > g.fit THEN ln($5::float8 - g.fit) + $2::float8 + 1e-9"
    " ELSE '-Infinity'::float8 END"
)


# The rows of group g that the listing may show, best first: band, cursor and index bounds, with
# `low` (at least $3) as the lowest score wanted.
def _group_rows(low: str) -> str:
    return f"""
        FROM scores s
        WHERE s.location_id = $1 AND s.fit = g.fit
          AND s.eng_key >= {_lower(low)} AND s.eng_key <= {_BELOW_HI} AND s.eng_key <= {_UPPER}
          AND {_SCORE} >= {low} AND {_SCORE} < $4::float8
          AND ($5::float8 IS NULL OR ({_SCORE}, s.eng_key, s.lead_id) < ($5::float8, $6::float8, $7::uuid))
        ORDER BY s.eng_key DESC, s.lead_id DESC"""


# A walk down the location's distinct fits from the highest that can still reach score `low`.
def _fits(name: str, low: str) -> str:
    return f"""{name}(fit) AS (
    (SELECT s.fit FROM scores s WHERE s.location_id = $1 AND s.fit >= {low} - $9::float8
       AND s.fit < $4::float8
     ORDER BY s.fit DESC LIMIT 1)
    UNION ALL
    SELECT (SELECT s.fit FROM scores s
            WHERE s.location_id = $1 AND s.fit < {name}.fit AND s.fit >= {low} - $9::float8
            ORDER BY s.fit DESC LIMIT 1)
    FROM {name} WHERE {name}.fit IS NOT NULL
)"""


# g is read only as far as the floor needs (a recursive CTE runs as far as it is read).
LIST_SQL = f"""
WITH RECURSIVE {_fits("g", "$3::float8")},
floor AS MATERIALIZED (
    SELECT greatest($3::float8, coalesce((
        SELECT r.score_now FROM (SELECT fit FROM g WHERE fit IS NOT NULL LIMIT 3) g CROSS JOIN LATERAL (
            SELECT {_SCORE} AS score_now {_group_rows("$3::float8")}
            LIMIT $8
        ) r
        ORDER BY r.score_now DESC OFFSET $8 - 1 LIMIT 1
    ), '-Infinity'::float8)) AS low
),
{_fits("h", "(SELECT low FROM floor)")},
top AS (
    SELECT r.* FROM h g CROSS JOIN floor f CROSS JOIN LATERAL (
        SELECT s.lead_id, s.eng_key, {_SCORE} AS score_now {_group_rows("f.low")}
        LIMIT $8
    ) r
    WHERE g.fit IS NOT NULL
    ORDER BY r.score_now DESC, r.eng_key DESC, r.lead_id DESC
    LIMIT $8
)
SELECT s.lead_id, s.xmin::text::bigint AS row_version, s.location_id, s.profile::text AS profile,
       s.kinds::text AS kinds, s.eng_key, top.score_now
FROM top JOIN scores s ON s.lead_id = top.lead_id
ORDER BY top.score_now DESC, top.eng_key DESC, top.lead_id DESC
"""
PAGE_SQL = "SELECT * FROM high_intent_page($1, $2, $3, $4, $5, $6, $7, $8, $9)"


@dataclass(frozen=True)
class Ranked:
    stored: StoredScore
    score: float  # unrounded, as of the listing's time: the cursor key


class PageRow(NamedTuple):
    """A listed lead as LIST_SQL returns it. row_version is the row's xmin, new on every write of
    it, so (lead_id, row_version) names one version of the stored parts (page_wire's template
    key); profile and kinds are jsonb as text, decoded only when no template is cached."""

    lead_id: uuid.UUID
    row_version: int
    location_id: str
    profile: str
    kinds: str
    eng_key: float
    score: float  # unrounded, as of the listing's time: the cursor key


Cursor = tuple[float, float, uuid.UUID]  # (score, eng_key, lead_id) of the last row shown


def list_args(
    location_id: str, lam_t: float, band: tuple[float, float], after: Cursor | None, limit: int
) -> list[object]:
    low, high = band
    s0, k0, id0 = after if after is not None else (None, None, None)
    return [location_id, lam_t, low, high, s0, k0, id0, limit + 1, ENGAGEMENT_MAX]


class HighIntentRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(
        self, location_id: str, lam_t: float, band: tuple[float, float], after: Cursor | None, limit: int
    ) -> list[PageRow]:
        """Up to limit + 1 leads with band[0] <= score < band[1] after `after`, best first, scored at
        the time whose rate x day number is lam_t."""
        async with self._db.connection() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(
                PAGE_SQL,
                *list_args(location_id, lam_t, band, after, limit),
                timeout=deadlines.timeout(2.0),
            )
        return [PageRow(*r) for r in rows]
