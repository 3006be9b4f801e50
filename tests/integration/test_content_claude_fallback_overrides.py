"""Claude's fallback writes with the location's template overrides (`load-templates`), as
the no-key path does: API down, breaker open, budget spent, guardrail rejected. Through
gRPC, with the real SDK against the fake Anthropic API, on real PostgreSQL."""

from __future__ import annotations

import json
import uuid

from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as pb

from tests.claude import claude_content, request

OWN_WORDS = "our own words: still house hunting?"
OVERRIDE = pb.TemplateOverride(
    channel=common_pb2.CHANNEL_SMS,
    purpose=pb.MESSAGE_PURPOSE_FIRST_TOUCH,
    language="en",
    body="Hi {{ greeting_name }}, {{ brand }} here, " + OWN_WORDS,
)


async def with_override(content) -> str:
    location = f"loc-{uuid.uuid4().hex[:10]}"
    await content.LoadTemplateOverrides(
        pb.LoadTemplateOverridesRequest(location_id=location, overrides=[OVERRIDE]), timeout=5
    )
    return location


def by_override(msg: pb.Message) -> bool:
    return ".override." in msg.model and OWN_WORDS in msg.body


async def test_api_down_and_breaker_open_fall_back_to_the_locations_override(migrated_dsn) -> None:
    async with claude_content(migrated_dsn, breaker_failures=1, max_attempts=1, breaker_cooldown_s=3600) as c:
        location = await with_override(c.content)
        plain = f"loc-{uuid.uuid4().hex[:10]}"
        c.fake.storm = "529"
        down = (await c.content.GenerateMessage(request(location), timeout=10)).message
        still = (await c.content.GenerateMessage(request(location), timeout=10)).message
        other = (await c.content.GenerateMessage(request(plain), timeout=10)).message

        assert (down.generator, down.fallback_reason) == (pb.GENERATOR_FALLBACK, "API_UNAVAILABLE")
        assert by_override(down), down.model
        assert down.body.endswith("Reply STOP to opt out.")
        assert (still.generator, still.fallback_reason) == (pb.GENERATOR_FALLBACK, "CIRCUIT_OPEN")
        assert by_override(still), still.model
        # A location without overrides still falls back to the built-in templates.
        assert other.fallback_reason == "CIRCUIT_OPEN"
        assert other.model.startswith("sms.first_touch.")
        assert OWN_WORDS not in other.body


async def test_a_spent_budget_falls_back_to_the_locations_override(migrated_dsn) -> None:
    async with claude_content(migrated_dsn) as c:
        location = await with_override(c.content)
        await c.content.SetLocationBudget(
            pb.SetLocationBudgetRequest(location_id=location, monthly_budget_micros_usd=0), timeout=5
        )
        msg = (await c.content.GenerateMessage(request(location), timeout=10)).message
        assert (msg.generator, msg.fallback_reason) == (pb.GENERATOR_FALLBACK, "BUDGET_EXHAUSTED")
        assert by_override(msg), msg.model
        assert c.fake.calls == 0


async def test_a_draft_the_guardrails_reject_twice_is_replaced_by_the_override(migrated_dsn) -> None:
    async with claude_content(migrated_dsn) as c:
        location = await with_override(c.content)
        # A figure the lead's facts do not hold: the numbers guardrail fails it, every time.
        c.fake.reply = lambda _req: json.dumps(
            {"subject": "", "body": "Hi Maria, LeadEngine Realty here. Homes in Austin sell in 9 days!"}
        )
        msg = (await c.content.GenerateMessage(request(location), timeout=10)).message
        assert (msg.generator, msg.fallback_reason) == (pb.GENERATOR_FALLBACK, "GUARDRAIL_REJECTED")
        assert by_override(msg), msg.model
        assert c.fake.calls == 2  # the draft and its redraft
