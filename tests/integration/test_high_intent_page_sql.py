"""The high-intent page query on its own: the function the service calls holds LIST_SQL verbatim
and keeps a generic plan, and skipping groups that cannot place never changes a page. Straight
against intelligence's schema in PostgreSQL (the listing through gRPC is covered in
test_intelligence_as_of_now)."""

from __future__ import annotations

import json
import math
import random
import uuid

import asyncpg
import pytest

from services.intelligence import high_intent, score_parts
from shared import timestamps


@pytest.fixture
async def tables(migrated_dsn):
    conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "intelligence"})
    tx = conn.transaction()
    await tx.start()
    yield conn
    await tx.rollback()
    await conn.close()


async def _location(tables, loc: str, rng: random.Random) -> list[tuple[float, float, uuid.UUID]]:
    """A dense top group (fit 40, engagement at its cap: many equal scores of 100, told apart by
    eng_key and lead_id), thin groups below it and a spread of others; returns each row's
    (fit, eng_key, lead_id)."""
    lam_t = score_parts.rate(14.0) * score_parts.day_number(timestamps.now())
    rows = []
    for _ in range(120):  # capped: exp(eng_key - lam_t) >= 60
        rows.append((40.0, lam_t + math.log(60) + rng.uniform(0, 3), uuid.uuid4()))
    for fit in (39.0, 38.0, 35.0):  # a few each, so the best group's floor must be used right
        rows += [(fit, lam_t + math.log(rng.uniform(1, 70)), uuid.uuid4()) for _ in range(3)]
    for _ in range(900):
        eng = lam_t + math.log(rng.uniform(0.5, 80)) if rng.random() < 0.7 else -math.inf
        rows.append((float(rng.randrange(0, 41)), eng, uuid.uuid4()))
    await tables.executemany(
        "INSERT INTO scores (lead_id, location_id, score, tier, factors, model_version, score_time, fit,"
        " eng_key) VALUES ($1, $2, 0, 'cold', '[]', 'test', now(), $3, $4)",
        [(lead, loc, fit, eng) for fit, eng, lead in rows],
    )
    return rows


def _expected(rows, lam_t: float, band: tuple[float, float]) -> list[tuple[float, float, uuid.UUID]]:
    def score(fit: float, eng: float) -> float:
        return min(100.0, max(0.0, fit + min(60.0, math.exp(eng - lam_t))))

    scored = [(score(f, k), k, lead) for f, k, lead in rows]
    return sorted((s for s in scored if band[0] <= s[0] < band[1]), reverse=True)


async def _walk(tables, loc: str, lam_t: float, band: tuple[float, float], size: int) -> list[uuid.UUID]:
    seen: list[uuid.UUID] = []
    after = None
    while True:
        got = await tables.fetch(high_intent.PAGE_SQL, *high_intent.list_args(loc, lam_t, band, after, size))
        seen += [r["lead_id"] for r in got[:size]]
        if len(got) <= size:
            return seen
        last = got[size - 1]
        after = (last["score_now"], last["eng_key"], last["lead_id"])


async def test_the_function_holds_list_sql_verbatim(tables) -> None:
    source = await tables.fetchval("SELECT prosrc FROM pg_proc WHERE proname = 'high_intent_page'")
    assert high_intent.LIST_SQL.strip("\n") in source
    settings = await tables.fetchval("SELECT proconfig FROM pg_proc WHERE proname = 'high_intent_page'")
    assert "plan_cache_mode=force_generic_plan" in settings


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_pages_equal_a_full_sort_of_the_location(tables, seed: int) -> None:
    rng = random.Random(seed)
    loc = f"loc-{uuid.uuid4()}"
    rows = await _location(tables, loc, rng)
    lam_t = score_parts.rate(14.0) * score_parts.day_number(timestamps.now())
    for band in (
        (0.0, math.inf),
        (60.0, math.inf),
        (99.0, math.inf),
        (45.0, 100.0),
        (20.0, 70.0),
        (100.0, math.inf),
    ):
        want = [lead for _, _, lead in _expected(rows, lam_t, band)]
        for size in (1, 7, 50, 200):
            assert await _walk(tables, loc, lam_t, band, size) == want, (band, size)


async def test_groups_that_cannot_place_are_not_read(tables) -> None:
    loc = f"loc-{uuid.uuid4()}"
    await _location(tables, loc, random.Random(7))
    await tables.execute("ANALYZE scores")
    lam_t = score_parts.rate(14.0) * score_parts.day_number(timestamps.now())
    plan = await tables.fetchval(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + high_intent.LIST_SQL,
        *high_intent.list_args(loc, lam_t, (60.0, math.inf), None, 50),
    )
    scans = []

    def walk(node) -> None:
        if node.get("Index Name") == "scores_location_fit_key" and "eng_key" in node.get("Index Cond", ""):
            scans.append(node)
        for child in node.get("Plans", []):
            walk(child)

    walk(json.loads(plan)[0]["Plan"])
    # The floor from the three highest fits (40, 39, 38: up to 51 rows each), then the page's
    # rows only from the fits that can reach it, above it: fit 40 alone, as its 51 best rows all
    # score 100. Without the floor, each of the 41 fits gave its next 51 rows.
    read = sum(n["Actual Rows"] * n["Actual Loops"] for n in scans)
    assert read <= 4 * 51
    assert max(n["Actual Loops"] for n in scans) == 3
