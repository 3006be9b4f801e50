"""Claude's accounting through gRPC on real PostgreSQL: claim-first GenerateMessage (one
paid generation per request_id, however many concurrent calls), GetUsage per day and
model, and the monthly budget that sends a location back to templates."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
import pytest
from leadengine.content.v1 import content_service_pb2 as pb

from shared import timestamps
from tests.claude import claude_content, request
from tests.support import error_reason as reason

MODEL = "claude-sonnet-5-5"


def window(days: int = 1) -> tuple:
    now = datetime.now(UTC)
    return timestamps.to_proto(now - timedelta(days=days)), timestamps.to_proto(now + timedelta(days=days))


async def test_concurrent_identical_requests_make_one_paid_generation(migrated_dsn) -> None:
    async with claude_content(migrated_dsn) as c:
        c.fake.slow_s = 0.5  # the first answer is slow, so every call overlaps it
        c.fake.faults.append("slow")
        req = request(request_id=str(uuid.uuid4()))
        answers = await asyncio.gather(*(c.content.GenerateMessage(req, timeout=10) for _ in range(5)))

        assert c.fake.calls == 1
        assert len({a.message.message_id for a in answers}) == 1
        assert {a.message.generator for a in answers} == {pb.GENERATOR_CLAUDE}
        again = await c.content.GenerateMessage(req, timeout=10)  # a later retry replays too
        assert again.message.message_id == answers[0].message.message_id
        assert c.fake.calls == 1


async def test_a_claim_left_by_a_crashed_call_expires_and_the_next_call_writes(migrated_dsn) -> None:
    request_id = str(uuid.uuid4())
    conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "content"})
    try:
        await conn.execute(
            "INSERT INTO generation_claims (request_id, holder, expire_time)"
            " VALUES ($1, $2, now() + interval '1 second')",
            request_id,
            uuid.uuid4(),
        )
        async with claude_content(migrated_dsn) as c:
            msg = (await c.content.GenerateMessage(request(request_id=request_id), timeout=10)).message
            assert msg.generator == pb.GENERATOR_CLAUDE
            assert c.fake.calls == 1
        # The writer released its claim once the message was stored.
        left = await conn.fetchval("SELECT count(*) FROM generation_claims WHERE request_id = $1", request_id)
        assert left == 0
    finally:
        await conn.close()


async def test_get_usage_sums_tokens_and_cost_per_day_and_model(migrated_dsn) -> None:
    location = f"loc-{uuid.uuid4()}"
    async with claude_content(migrated_dsn, max_attempts=1) as c:
        written = [(await c.content.GenerateMessage(request(location), timeout=10)).message for _ in range(2)]
        c.fake.faults.append("529")
        fallback = (await c.content.GenerateMessage(request(location), timeout=10)).message
        await c.content.GenerateMessage(request(f"other-{location}"), timeout=10)
        start, end = window()
        usage = await c.content.GetUsage(
            pb.GetUsageRequest(location_id=location, start_time=start, end_time=end), timeout=5
        )

    assert fallback.generator == pb.GENERATOR_FALLBACK
    (row,) = usage.rows
    assert row.day == datetime.now(UTC).date().isoformat()
    assert row.model == MODEL
    assert (row.generations, row.fallbacks) == (2, 1)
    assert row.input_tokens == sum(m.input_tokens for m in written)
    assert row.output_tokens == sum(m.output_tokens for m in written)
    assert row.cache_creation_input_tokens == sum(m.cache_creation_input_tokens for m in written)
    assert row.cache_read_input_tokens == sum(m.cache_read_input_tokens for m in written)
    assert row.cost_micros_usd == usage.total_cost_micros_usd == sum(m.cost_micros_usd for m in written)


async def test_get_usage_refuses_a_missing_or_backwards_window(migrated_dsn) -> None:
    async with claude_content(migrated_dsn) as c:
        start, end = window()
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await c.content.GetUsage(pb.GetUsageRequest(location_id="loc", start_time=start), timeout=5)
        assert (missing.value.code(), reason(missing.value)) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "MISSING_FIELD",
        )
        with pytest.raises(grpc.aio.AioRpcError) as backwards:
            await c.content.GetUsage(
                pb.GetUsageRequest(location_id="loc", start_time=end, end_time=start), timeout=5
            )
        assert reason(backwards.value) == "INVALID_TIME_RANGE"


async def test_a_spent_budget_sends_the_location_back_to_templates(migrated_dsn) -> None:
    location = f"loc-{uuid.uuid4()}"
    async with claude_content(migrated_dsn) as c:
        before = (
            await c.content.GetLocationBudget(pb.GetLocationBudgetRequest(location_id=location), timeout=5)
        ).budget
        assert before.is_default
        assert before.monthly_budget_micros_usd == c.settings.monthly_budget_micros_usd
        set_to = await c.content.SetLocationBudget(
            pb.SetLocationBudgetRequest(location_id=location, monthly_budget_micros_usd=1), timeout=5
        )
        assert (set_to.budget.monthly_budget_micros_usd, set_to.budget.is_default) == (1, False)

        paid = (await c.content.GenerateMessage(request(location), timeout=10)).message
        assert paid.generator == pb.GENERATOR_CLAUDE
        assert paid.cost_micros_usd > 1
        spent = (await c.content.GenerateMessage(request(location), timeout=10)).message
        assert (spent.generator, spent.fallback_reason) == (pb.GENERATOR_FALLBACK, "BUDGET_EXHAUSTED")
        assert spent.cost_micros_usd == 0
        assert c.fake.calls == 1  # the spent budget kept the call off the API

        now = (
            await c.content.GetLocationBudget(pb.GetLocationBudgetRequest(location_id=location), timeout=5)
        ).budget
        assert now.spent_micros_usd == paid.cost_micros_usd
        reset = await c.content.SetLocationBudget(
            pb.SetLocationBudgetRequest(location_id=location, use_default=True), timeout=5
        )
        assert reset.budget.is_default
        again = (await c.content.GenerateMessage(request(location), timeout=10)).message
        assert again.generator == pb.GENERATOR_CLAUDE
        assert c.fake.calls == 2

        start, end = window()
        usage = await c.content.GetUsage(
            pb.GetUsageRequest(location_id=location, start_time=start, end_time=end), timeout=5
        )
        assert [(r.generations, r.fallbacks) for r in usage.rows] == [(2, 1)]


async def test_a_zero_budget_keeps_claude_off_and_bad_budgets_change_nothing(migrated_dsn) -> None:
    location = f"loc-{uuid.uuid4()}"
    async with claude_content(migrated_dsn) as c:
        await c.content.SetLocationBudget(
            pb.SetLocationBudgetRequest(location_id=location, monthly_budget_micros_usd=0), timeout=5
        )
        msg = (await c.content.GenerateMessage(request(location), timeout=10)).message
        assert msg.fallback_reason == "BUDGET_EXHAUSTED"
        assert c.fake.calls == 0
        for bad in (
            pb.SetLocationBudgetRequest(location_id=location, monthly_budget_micros_usd=-5),
            pb.SetLocationBudgetRequest(location_id=location, monthly_budget_micros_usd=5, use_default=True),
            pb.SetLocationBudgetRequest(monthly_budget_micros_usd=5),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await c.content.SetLocationBudget(bad, timeout=5)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        kept = (
            await c.content.GetLocationBudget(pb.GetLocationBudgetRequest(location_id=location), timeout=5)
        ).budget
        assert (kept.monthly_budget_micros_usd, kept.is_default) == (0, False)
