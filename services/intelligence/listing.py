"""ListHighIntentLeads: keyset pages of a location's leads by score as of the listing's time.

The first page fixes the listing's time (as_of); its token carries it, so every later page
ranks and scores as of the same moment (see high_intent.py). First pages are cached whole
(the response as sent) for `page_ttl_s`: a lead rescored in the meantime reaches the cached
page within that bound, and the scores on it are at most that old (decay in 5 s moves a score
by under 0.001 points). Deletions, bulk scoring and new points drop a location's pages at
once. Warming computes each location's default first page at start-up and after bulk scoring.
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import datetime

from services.intelligence import page_wire, score_parts
from services.intelligence.high_intent import Cursor, HighIntentRepository
from services.intelligence.lead_scoring import LeadScoring, LocationState
from services.intelligence.score_parts import Parts
from services.intelligence.scoring import Rules, tier_for
from shared import deadlines, pagination, timestamps
from shared.cache import Kind, TwoLevelCache
from shared.db import Database
from shared.errors import FieldViolation, InvalidArgument

# Row templates kept per process (page_wire): enough for the first pages of many locations and
# listings; about 1 kB each.
ROW_TEMPLATES = 20_000


# Pages are kept as the serialised response (the bytes gRPC sends, see wire.py), so a hit is
# answered without building or serialising a message; in Redis as those bytes too. A computed
# page is answered before it reaches Redis: its TTL is its staleness bound already.
def _page_kind(ttl_s: float) -> Kind:
    return Kind(
        "page.pb",  # renamed with the format: entries of the JSON format are never read as bytes
        ttl_s=ttl_s,
        l1_ttl_s=ttl_s,
        encode=bytes,
        decode=bytes,
        binary=True,
        write_behind=True,
    )


class HighIntentListing:
    def __init__(
        self,
        db: Database,
        scoring: LeadScoring,
        state: LocationState,
        rules: Rules,
        cache: TwoLevelCache,
        *,
        high_intent_score: float,
        page_ttl_s: float,
        row_templates: int = ROW_TEMPLATES,
    ) -> None:
        self._db = db
        self._repo = HighIntentRepository(db)
        self._scoring = scoring
        self._state = state
        self._rules = rules
        self._cache = cache
        self._high_intent_score = high_intent_score
        self.pages = _page_kind(page_ttl_s)
        self.templates = page_wire.RowTemplates(row_templates)

    def band(self, min_score: float, tier: str | None) -> tuple[float, float]:
        """[low, high) of scores listed: the tier's band, raised to min_score; with neither,
        the configured high-intent score and up."""
        if math.isnan(min_score) or min_score < 0 or min_score > 100:
            raise InvalidArgument(
                f"min_score {min_score} is outside 0..100",
                violations=[FieldViolation("min_score", "0 (use the configured threshold) up to 100")],
            )
        r = self._rules
        if tier is None:
            return (min_score if min_score > 0 else self._high_intent_score, math.inf)
        low, high = {"hot": (r.hot_threshold, math.inf), "warm": (r.warm_threshold, r.hot_threshold)}.get(
            tier, (0.0, r.warm_threshold)
        )
        return max(low, min_score), high

    async def page(self, location_id: str, band: tuple[float, float], size: int, token: str) -> bytes:
        """The serialised ListHighIntentLeadsResponse."""
        query = f"{location_id}|{band[0]!r}|{band[1]!r}"
        if not token:
            found: bytes = await self._cache.get_or_load(
                self.pages,
                location_id,
                f"{query}|{size}",
                lambda: self._compute(location_id, band, size, None),
            )
            return found
        cursor = pagination.decode_cursor(
            token,
            lambda c: (
                datetime.fromisoformat(c["t"]),
                (float(c["s"]), float(c["k"]), uuid.UUID(c["id"])),
            ),
            query=query,
        )
        assert cursor is not None  # a token always decodes to a cursor or raises
        return await self._compute(location_id, band, size, cursor)

    async def _compute(
        self, location_id: str, band: tuple[float, float], size: int, cursor: tuple[datetime, Cursor] | None
    ) -> bytes:
        as_of = cursor[0] if cursor else timestamps.now()
        lam_t = score_parts.rate(self._rules.half_life_days) * score_parts.day_number(as_of)
        rows = await self._repo.page(location_id, lam_t, band, cursor[1] if cursor else None, size)
        points = await self._state.points(location_id)
        model = await self._state.model(location_id)
        score_time = page_wire.timestamp_bytes(as_of)
        tail = page_wire.page_tail(score_time, self._scoring.model_version(points, model))
        rules, templates, tiers = self._rules, self.templates, page_wire.TIER_VALUES
        leads = []
        for row in rows[:size]:
            key = (row.lead_id, row.row_version, points.version, model.version)
            template = templates.get(key)
            if template is None:
                parts = Parts(
                    score_parts.profile_from_json(json.loads(row.profile)),
                    score_parts.kinds_from_json(json.loads(row.kinds)),
                )
                template = page_wire.build_template(
                    row.lead_id, row.location_id, parts, row.eng_key, points, model, rules
                )
                templates.put(key, template)
            tier = tiers[tier_for(round(row.score, 2), rules)]
            leads.append(template.render(lam_t, row.score, tier, tail))
        query = f"{location_id}|{band[0]!r}|{band[1]!r}"
        _, token = pagination.page_of(
            rows,
            size,
            lambda r: {
                "t": as_of.isoformat(),
                "s": repr(r.score),
                "k": repr(r.eng_key),
                "id": str(r.lead_id),
            },
            query=query,
        )
        return page_wire.response_bytes(leads, token, score_time)

    async def forget_pages(self, location_id: str) -> None:
        await self._cache.invalidate(self.pages, location_id, None)

    async def warm(self, location_id: str) -> None:
        """Compute and cache the location's default first page."""
        await self.forget_pages(location_id)
        await self.page(location_id, self.band(0.0, None), pagination.DEFAULT_PAGE_SIZE, "")

    async def warm_all(self, limit: int = 1000) -> int:
        """Warm up to `limit` locations (a loose index scan finds them), at start-up."""
        async with self._db.connection() as conn:
            rows = await conn.fetch(
                "WITH RECURSIVE l(id) AS ((SELECT location_id FROM scores ORDER BY location_id LIMIT 1)"
                " UNION ALL SELECT (SELECT location_id FROM scores WHERE location_id > l.id"
                " ORDER BY location_id LIMIT 1) FROM l WHERE l.id IS NOT NULL)"
                " SELECT id FROM l WHERE id IS NOT NULL LIMIT $1",
                limit,
                timeout=deadlines.timeout(30.0),
            )
        for row in rows:
            await self.warm(row["id"])
        return len(rows)
