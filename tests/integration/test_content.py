"""ContentService against real PostgreSQL, served in-process on port 0."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as pb

from tests.support import error_reason as reason
from tests.support import field_violations, mesh

ADDRESS = "100 Congress Ave, Austin, TX 78701"


@pytest.fixture(scope="module")
async def content(migrated_dsn):
    async with mesh(migrated_dsn, only=("content",), overrides={"content": {"postal_address": ADDRESS}}) as m:
        yield m.clients.content


def ctx(**kw) -> pb.MessageContext:
    base = dict(lead_first_name="Maria", agent_name="Ana Lopez", city="Austin", source="web form")
    return pb.MessageContext(**{**base, **kw})


def first_touch(
    lead: str, *, channel=common_pb2.CHANNEL_SMS, request_id="", **kw
) -> pb.GenerateMessageRequest:
    return pb.GenerateMessageRequest(
        lead_id=lead,
        location_id="loc-1",
        channel=channel,
        purpose=pb.MESSAGE_PURPOSE_FIRST_TOUCH,
        context=ctx(**kw),
        request_id=request_id,
    )


async def conversation(content, lead: str, page_size: int = 0) -> list[pb.Message]:
    messages, token = [], ""
    while True:
        page = await content.GetConversation(
            pb.GetConversationRequest(
                lead_id=lead, location_id="loc-1", page_size=page_size, page_token=token
            ),
            timeout=5,
        )
        messages += page.messages
        token = page.next_page_token
        if not token:
            return messages


async def test_sms_first_touch_is_written_stored_and_honest_about_cost(content) -> None:
    lead = str(uuid.uuid4())
    msg = (await content.GenerateMessage(first_touch(lead), timeout=5)).message
    assert msg.lead_id == lead
    assert msg.channel == common_pb2.CHANNEL_SMS
    assert "Maria" in msg.body
    assert "Ana Lopez" in msg.body
    assert "LeadEngine Realty" in msg.body  # the configured brand when the caller names none
    assert msg.body.endswith("Reply STOP to opt out.")
    assert len(msg.body) <= 306
    assert msg.generator == pb.GENERATOR_TEMPLATE
    assert msg.model.startswith("sms.first_touch.")
    assert (msg.input_tokens, msg.output_tokens, msg.cost_micros_usd) == (0, 0, 0)
    assert [m.message_id for m in await conversation(content, lead)] == [msg.message_id]


async def test_same_lead_gets_the_same_words(content) -> None:
    lead = str(uuid.uuid4())
    a = (await content.GenerateMessage(first_touch(lead), timeout=5)).message
    b = (await content.GenerateMessage(first_touch(lead), timeout=5)).message
    assert a.message_id != b.message_id  # no request_id: two messages
    assert (a.body, a.model) == (b.body, b.model)


async def test_email_has_subject_and_compliant_footer(content) -> None:
    lead = str(uuid.uuid4())
    msg = (
        await content.GenerateMessage(
            first_touch(lead, channel=common_pb2.CHANNEL_EMAIL, brand_name="Hill Country Homes"), timeout=5
        )
    ).message
    assert msg.subject
    assert "Hill Country Homes" in msg.body
    assert "{{unsubscribe_url}}" in msg.body
    assert ADDRESS in msg.body


async def test_concurrent_identical_calls_store_one_message(content) -> None:
    lead = str(uuid.uuid4())
    request_id = str(uuid.uuid4())
    results = await asyncio.gather(
        *(content.GenerateMessage(first_touch(lead, request_id=request_id), timeout=10) for _ in range(10))
    )
    assert len({r.message.message_id for r in results}) == 1
    assert len(await conversation(content, lead)) == 1


async def test_missing_channel_or_purpose_names_the_field_and_stores_nothing(content) -> None:
    lead = str(uuid.uuid4())
    no_channel = first_touch(lead, channel=common_pb2.CHANNEL_UNSPECIFIED)
    no_purpose = first_touch(lead)
    no_purpose.purpose = pb.MESSAGE_PURPOSE_UNSPECIFIED
    for request, field in ((no_channel, "channel"), (no_purpose, "purpose")):
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await content.GenerateMessage(request, timeout=5)
        assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(exc.value) == [field]
    assert await conversation(content, lead) == []


async def test_fair_housing_language_in_context_is_refused(content) -> None:
    lead = str(uuid.uuid4())
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await content.GenerateMessage(first_touch(lead, city="a family-friendly part of Austin"), timeout=5)
    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(exc.value) == "CONTENT_GUARDRAIL"
    assert await conversation(content, lead) == []


async def test_control_characters_and_overlong_context_are_sanitised(content) -> None:
    lead = str(uuid.uuid4())
    msg = (
        await content.GenerateMessage(
            first_touch(lead, lead_first_name="Ma\x00ri\x1ba\n", city="Austin " + "x" * 500), timeout=5
        )
    ).message
    assert "Maria" in msg.body
    assert "\x00" not in msg.body
    assert "x" * 41 not in msg.body
    assert len(msg.body) <= 306


async def test_agent_notification_names_the_lead(content) -> None:
    lead = str(uuid.uuid4())
    msg = (
        await content.GenerateMessage(
            pb.GenerateMessageRequest(
                lead_id=lead,
                location_id="loc-1",
                channel=common_pb2.CHANNEL_SMS,
                purpose=pb.MESSAGE_PURPOSE_AGENT_NOTIFICATION,
                context=ctx(lead_full_name="Maria Garcia", lead_score=81),
            ),
            timeout=5,
        )
    ).message
    assert "Maria Garcia" in msg.body
    assert "81/100" in msg.body
    assert "STOP" not in msg.body


async def test_conversation_pages_oldest_first(content) -> None:
    lead = str(uuid.uuid4())
    written = []
    for purpose in (pb.MESSAGE_PURPOSE_FIRST_TOUCH, pb.MESSAGE_PURPOSE_FOLLOW_UP) * 3:
        request = first_touch(lead)
        request.purpose = purpose
        written.append((await content.GenerateMessage(request, timeout=5)).message.message_id)
    assert [m.message_id for m in await conversation(content, lead, page_size=2)] == written
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await content.GetConversation(
            pb.GetConversationRequest(lead_id=lead, location_id="loc-1", page_token="junk"), timeout=5
        )
    assert reason(exc.value) == "INVALID_PAGE_TOKEN"


async def test_email_without_a_postal_address_is_refused(migrated_dsn) -> None:
    async with mesh(migrated_dsn, only=("content",)) as m:
        lead = str(uuid.uuid4())
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await m.clients.content.GenerateMessage(
                first_touch(lead, channel=common_pb2.CHANNEL_EMAIL), timeout=5
            )
        assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert reason(exc.value) == "POSTAL_ADDRESS_NOT_CONFIGURED"
        sms = await m.clients.content.GenerateMessage(first_touch(lead), timeout=5)
        assert sms.message.body.endswith("Reply STOP to opt out.")
