"""GenerateMessage with ANTHROPIC_API_KEY set: the real anthropic SDK against a local fake
Anthropic API (success, 429 then success, 529 storm and the breaker, malformed and slow
answers), through gRPC on real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid

import grpc
import pytest
from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as pb

from services.content.claude.cost import Tokens, cost_micros_usd
from services.content.claude.settings import DEFAULT_PRICES
from tests.claude import claude_content, request

MODEL = "claude-sonnet-5-5"


async def conversation(content, lead: str, location: str) -> list[pb.Message]:
    page = await content.GetConversation(
        pb.GetConversationRequest(lead_id=lead, location_id=location), timeout=5
    )
    return list(page.messages)


async def test_claude_writes_the_message_and_it_is_costed_and_stored(migrated_dsn) -> None:
    async with claude_content(migrated_dsn) as c:
        req = request()
        first = (await c.content.GenerateMessage(req, timeout=10)).message
        second = (await c.content.GenerateMessage(request(), timeout=10)).message

        assert first.generator == pb.GENERATOR_CLAUDE
        assert first.model == MODEL
        assert first.fallback_reason == ""
        assert first.body.startswith("Hi Maria, this is LeadEngine Realty.")
        assert first.body.endswith("Reply STOP to opt out.")  # the guardrails still add it
        assert len(first.prompt_sha256) == 64
        assert c.fake.calls == 2  # one request each: nothing retried
        # The system part is cached: written the first time, read the second.
        assert first.cache_creation_input_tokens > 0
        assert first.cache_read_input_tokens == 0
        assert second.cache_read_input_tokens == first.cache_creation_input_tokens
        expected = cost_micros_usd(
            Tokens(
                input=first.input_tokens,
                output=first.output_tokens,
                cache_write_5m=first.cache_creation_input_tokens,
            ),
            DEFAULT_PRICES[MODEL],
        )
        assert first.cost_micros_usd == expected > 0
        assert second.cost_micros_usd < first.cost_micros_usd  # cache reads cost a tenth of writes
        stored = await conversation(c.content, req.lead_id, req.location_id)
        assert [(m.message_id, m.generator, m.cost_micros_usd, m.prompt_sha256) for m in stored] == [
            (first.message_id, pb.GENERATOR_CLAUDE, first.cost_micros_usd, first.prompt_sha256)
        ]


async def test_the_prompt_keeps_a_stable_cached_system_part_and_only_this_leads_facts(migrated_dsn) -> None:
    async with claude_content(migrated_dsn) as c:
        await c.content.GenerateMessage(request(), timeout=10)
        other = request(channel=common_pb2.CHANNEL_EMAIL)
        other.context.lead_first_name = "Jordan"
        other.context.city = "Dallas"
        await c.content.GenerateMessage(other, timeout=10)

        a, b = c.fake.requests
        assert a["system"] == b["system"]  # byte-identical: the cache applies
        assert a["system"][0]["cache_control"] == {"type": "ephemeral"}
        assert "Maria" not in json.dumps(a["system"])
        assert "Maria" not in json.dumps(b)
        task = json.loads(b["messages"][0]["content"])
        assert task["channel"] == "email"
        assert task["facts"]["lead_first_name"] == "Jordan"
        assert task["facts"]["city"] == "Dallas"
        assert a["model"] == MODEL


async def test_a_429_is_retried_and_claude_still_writes(migrated_dsn) -> None:
    async with claude_content(migrated_dsn) as c:
        c.fake.faults.extend(["429", "529"])
        msg = (await c.content.GenerateMessage(request(), timeout=10)).message
        assert msg.generator == pb.GENERATOR_CLAUDE
        assert c.fake.calls == 3


async def test_a_529_storm_opens_the_breaker_and_templates_write_without_calling_the_api(
    migrated_dsn,
) -> None:
    async with claude_content(migrated_dsn, breaker_failures=3, max_attempts=2, breaker_cooldown_s=3600) as c:
        c.fake.storm = "529"
        messages = [(await c.content.GenerateMessage(request(), timeout=10)).message for _ in range(6)]

        assert all(m.generator == pb.GENERATOR_FALLBACK for m in messages)
        assert all(m.model.startswith("sms.first_touch.") for m in messages)  # a template wrote each
        assert all(m.body.endswith("Reply STOP to opt out.") for m in messages)
        assert [m.fallback_reason for m in messages] == ["API_UNAVAILABLE"] * 2 + ["CIRCUIT_OPEN"] * 4
        assert c.fake.calls == 3  # 2 attempts, 1 more, then the breaker kept every call off the API
        c.fake.storm = ""
        still_open = (await c.content.GenerateMessage(request(), timeout=10)).message
        assert still_open.fallback_reason == "CIRCUIT_OPEN"
        assert c.fake.calls == 3


async def test_a_malformed_answer_falls_back_flagged_and_its_tokens_are_still_counted(migrated_dsn) -> None:
    async with claude_content(migrated_dsn) as c:
        c.fake.faults.extend(["malformed", "not_json", "refusal"])
        unreadable, not_json, refused = [
            (await c.content.GenerateMessage(request(), timeout=10)).message for _ in range(3)
        ]
        assert [m.generator for m in (unreadable, not_json, refused)] == [pb.GENERATOR_FALLBACK] * 3
        assert unreadable.fallback_reason == "MALFORMED_REPLY"
        assert unreadable.cost_micros_usd == 0  # no usage could be read
        assert not_json.fallback_reason == "MALFORMED_REPLY"
        assert not_json.output_tokens == 40
        assert not_json.cost_micros_usd > 0
        assert refused.fallback_reason == "MODEL_REFUSED"
        assert c.fake.calls == 3  # an unusable answer is not asked again


async def test_an_answer_that_breaks_the_message_rules_falls_back(migrated_dsn) -> None:
    async with claude_content(migrated_dsn) as c:
        c.fake.reply = lambda _req: json.dumps({"subject": "", "body": "Hi Maria! " + "x" * 400})
        long = (await c.content.GenerateMessage(request(), timeout=10)).message
        c.fake.reply = lambda _req: json.dumps({"subject": "", "body": "Hi Maria, want to see homes?"})
        unbranded = (await c.content.GenerateMessage(request(), timeout=10)).message
        assert (long.fallback_reason, unbranded.fallback_reason) == ("MALFORMED_REPLY", "MALFORMED_REPLY")
        assert "x" * 50 not in long.body


async def test_a_slow_api_times_out_and_the_message_falls_back_without_retrying(migrated_dsn) -> None:
    async with claude_content(migrated_dsn, attempt_timeout_s=0.3, total_timeout_s=5.0) as c:
        c.fake.slow_s = 3.0
        c.fake.faults.append("slow")
        msg = (await c.content.GenerateMessage(request(), timeout=10)).message
        assert msg.generator == pb.GENERATOR_FALLBACK
        assert msg.fallback_reason == "API_TIMEOUT"
        assert c.fake.calls == 1


async def test_a_rejected_key_is_not_retried(migrated_dsn) -> None:
    async with claude_content(migrated_dsn) as c:
        c.fake.faults.append("401")
        msg = (await c.content.GenerateMessage(request(), timeout=10)).message
        assert (msg.generator, msg.fallback_reason) == (pb.GENERATOR_FALLBACK, "API_REJECTED")
        assert c.fake.calls == 1


async def test_email_from_claude_has_its_subject_and_the_compliant_footer(migrated_dsn) -> None:
    async with claude_content(migrated_dsn) as c:
        msg = (await c.content.GenerateMessage(request(channel=common_pb2.CHANNEL_EMAIL), timeout=10)).message
        assert msg.generator == pb.GENERATOR_CLAUDE
        assert msg.subject == "Your home search"
        assert "100 Congress Ave" in msg.body
        assert "Unsubscribe" in msg.body


async def test_analyze_reply_asks_claude_and_falls_back_to_the_lexicon(migrated_dsn) -> None:
    async with claude_content(migrated_dsn, breaker_failures=1, max_attempts=1, breaker_cooldown_s=3600) as c:
        lead = str(uuid.uuid4())
        body = "I'm not ready, maybe next year"
        claude = await c.content.AnalyzeReply(
            pb.AnalyzeReplyRequest(lead_id=lead, body=body, location_id="loc-r"), timeout=10
        )
        assert (claude.model, claude.intent, claude.fallback_reason) == (
            MODEL,
            pb.REPLY_INTENT_INTERESTED,
            "",
        )
        assert claude.score == 0.6
        c.fake.storm = "529"
        lexicon = await c.content.AnalyzeReply(pb.AnalyzeReplyRequest(lead_id=lead, body=body), timeout=10)
        assert (lexicon.model, lexicon.intent) == ("lexicon.v1", pb.REPLY_INTENT_NOT_NOW)
        assert lexicon.fallback_reason == "API_UNAVAILABLE"
        assert lexicon.phrases  # the lexicon says why
        again = await c.content.AnalyzeReply(pb.AnalyzeReplyRequest(lead_id=lead, body=body), timeout=10)
        assert again.fallback_reason == "CIRCUIT_OPEN"
        assert c.fake.calls == 2


async def test_a_slow_api_still_leaves_the_caller_time_for_the_fallback(migrated_dsn) -> None:
    # The API would answer after 3 s; the caller gives content 1.5 s in all.
    async with claude_content(migrated_dsn, attempt_timeout_s=8.0, total_timeout_s=15.0) as c:
        c.fake.slow_s = 3.0
        c.fake.faults.append("slow")
        msg = (await c.content.GenerateMessage(request(), timeout=1.5)).message
        assert (msg.generator, msg.fallback_reason) == (pb.GENERATOR_FALLBACK, "API_TIMEOUT")


async def test_agent_notifications_stay_templates_and_cost_nothing(migrated_dsn) -> None:
    async with claude_content(migrated_dsn) as c:
        req = request(purpose=pb.MESSAGE_PURPOSE_AGENT_NOTIFICATION)
        req.context.lead_full_name = "Maria Garcia"
        msg = (await c.content.GenerateMessage(req, timeout=10)).message
        assert (msg.generator, msg.fallback_reason, msg.cost_micros_usd) == (pb.GENERATOR_TEMPLATE, "", 0)
        assert c.fake.calls == 0


async def test_after_the_cooldown_one_probe_closes_the_breaker_again(migrated_dsn) -> None:
    async with claude_content(migrated_dsn, breaker_failures=1, max_attempts=1, breaker_cooldown_s=0.2) as c:
        c.fake.storm = "529"
        opened = (await c.content.GenerateMessage(request(), timeout=10)).message
        assert opened.fallback_reason == "API_UNAVAILABLE"
        c.fake.storm = ""
        reasons = []
        for _ in range(100):  # until the cooldown has passed; each call while open skips the API
            msg = (await c.content.GenerateMessage(request(), timeout=10)).message
            reasons.append(msg.fallback_reason)
            if msg.generator == pb.GENERATOR_CLAUDE:
                break
            await asyncio.sleep(0.05)
        assert reasons[-1] == ""  # the probe was answered, and Claude wrote
        assert set(reasons[:-1]) <= {"CIRCUIT_OPEN"}
        assert c.fake.calls == 2  # the storm's one call and the probe
        after = (await c.content.GenerateMessage(request(), timeout=10)).message
        assert after.generator == pb.GENERATOR_CLAUDE
        assert c.fake.calls == 3


async def test_analyze_reply_refuses_an_overlong_location_and_asks_nothing(migrated_dsn) -> None:
    async with claude_content(migrated_dsn) as c:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await c.content.AnalyzeReply(
                pb.AnalyzeReplyRequest(lead_id=str(uuid.uuid4()), body="yes please", location_id="x" * 201),
                timeout=10,
            )
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert c.fake.calls == 0
