"""Suggest mode and ApproveMessage through gRPC against real PostgreSQL; what the coordinator's
content client does with a draft that waits."""

from __future__ import annotations

import uuid

import grpc
import pytest
from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as pb

from shared.clients import ContentClient, Refused
from tests.support import error_reason as reason
from tests.support import field_violations, mesh

ADDRESS = "100 Congress Ave, Austin, TX 78701"


@pytest.fixture(scope="module")
async def m(migrated_dsn):
    async with mesh(
        migrated_dsn, only=("content",), overrides={"content": {"postal_address": ADDRESS}}
    ) as running:
        yield running


@pytest.fixture
def content(m):
    return m.clients.content


async def location(content, mode=pb.APPROVAL_MODE_SUGGEST, **kw) -> str:
    loc = f"loc-{uuid.uuid4()}"
    settings = pb.LocationContentSettings(location_id=loc, approval_mode=mode, **kw)
    await content.SetLocationContentSettings(
        pb.SetLocationContentSettingsRequest(settings=settings), timeout=5
    )
    return loc


def request(loc: str, lead: str | None = None, **kw) -> pb.GenerateMessageRequest:
    base = dict(
        lead_id=lead or str(uuid.uuid4()),
        location_id=loc,
        channel=common_pb2.CHANNEL_SMS,
        purpose=pb.MESSAGE_PURPOSE_FIRST_TOUCH,
        context=pb.MessageContext(lead_first_name="Maria", agent_name="Ana Lopez", brand_name="Oak Realty"),
    )
    return pb.GenerateMessageRequest(**{**base, **kw})


async def stored(content, message: pb.Message, loc: str) -> pb.Message:
    page = await content.GetConversation(
        pb.GetConversationRequest(lead_id=message.lead_id, location_id=loc), timeout=5
    )
    (found,) = [x for x in page.messages if x.message_id == message.message_id]
    return found


async def test_suggest_mode_stores_a_pending_draft_until_an_agent_approves_it(content) -> None:
    loc = await location(content)
    msg = (await content.GenerateMessage(request(loc), timeout=5)).message
    assert msg.status == pb.MESSAGE_STATUS_PENDING_APPROVAL
    assert msg.guardrail_verdicts
    assert all(v.passed for v in msg.guardrail_verdicts)
    assert (await stored(content, msg, loc)).status == pb.MESSAGE_STATUS_PENDING_APPROVAL

    approved = (
        await content.ApproveMessage(
            pb.ApproveMessageRequest(message_id=msg.message_id, agent_id="agent-7", location_id=loc),
            timeout=5,
        )
    ).message
    assert approved.status == pb.MESSAGE_STATUS_APPROVED
    assert approved.approved_by_agent_id == "agent-7"
    assert approved.HasField("approve_time")
    assert not approved.edited
    assert approved.body == msg.body
    assert (await stored(content, msg, loc)).status == pb.MESSAGE_STATUS_APPROVED

    again = (
        await content.ApproveMessage(
            pb.ApproveMessageRequest(message_id=msg.message_id, agent_id="agent-7", location_id=loc),
            timeout=5,
        )
    ).message
    assert again.approve_time == approved.approve_time  # a retry changes nothing
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await content.ApproveMessage(
            pb.ApproveMessageRequest(message_id=msg.message_id, agent_id="agent-8", location_id=loc),
            timeout=5,
        )
    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason(exc.value) == "MESSAGE_ALREADY_APPROVED"


async def test_an_edit_is_judged_again_and_a_failing_one_changes_nothing(content) -> None:
    loc = await location(content)
    msg = (await content.GenerateMessage(request(loc), timeout=5)).message
    steering = msg.body.replace("Reply STOP", "It's a safe neighborhood. Reply STOP")
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await content.ApproveMessage(
            pb.ApproveMessageRequest(
                message_id=msg.message_id, agent_id="a1", edited_body=steering, location_id=loc
            ),
            timeout=5,
        )
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(exc.value) == "CONTENT_GUARDRAIL"
    no_stop = msg.body.replace(" Reply STOP to opt out.", "")
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await content.ApproveMessage(
            pb.ApproveMessageRequest(
                message_id=msg.message_id, agent_id="a1", edited_body=no_stop, location_id=loc
            ),
            timeout=5,
        )
    assert reason(exc.value) == "CONTENT_GUARDRAIL"
    unchanged = await stored(content, msg, loc)
    assert unchanged.status == pb.MESSAGE_STATUS_PENDING_APPROVAL
    assert unchanged.body == msg.body

    edit = "Hi Maria, Ana Lopez with Oak Realty here. Free for a call this week? Reply STOP to opt out."
    approved = (
        await content.ApproveMessage(
            pb.ApproveMessageRequest(
                message_id=msg.message_id, agent_id="a1", edited_body=edit, location_id=loc
            ),
            timeout=5,
        )
    ).message
    assert approved.status == pb.MESSAGE_STATUS_APPROVED
    assert approved.edited
    assert approved.body == edit
    assert (await stored(content, msg, loc)).body == edit
    assert all(v.passed for v in approved.guardrail_verdicts)


async def test_only_pending_messages_can_be_approved(content) -> None:
    loc = await location(content, mode=pb.APPROVAL_MODE_AUTOPILOT)
    msg = (await content.GenerateMessage(request(loc), timeout=5)).message
    assert msg.status == pb.MESSAGE_STATUS_READY
    for req, code, why in [
        (
            pb.ApproveMessageRequest(message_id=msg.message_id, agent_id="a", location_id=loc),
            "FAILED_PRECONDITION",
            "MESSAGE_NOT_PENDING",
        ),
        (
            pb.ApproveMessageRequest(message_id=str(uuid.uuid4()), agent_id="a", location_id=loc),
            "NOT_FOUND",
            "MESSAGE_NOT_FOUND",
        ),
        (
            pb.ApproveMessageRequest(message_id=msg.message_id, location_id=loc),
            "INVALID_ARGUMENT",
            "MISSING_FIELD",
        ),
        (
            pb.ApproveMessageRequest(
                message_id=msg.message_id, agent_id="a", edited_body=" ", location_id=loc
            ),
            "INVALID_ARGUMENT",
            "MISSING_FIELD",
        ),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await content.ApproveMessage(req, timeout=5)
        assert (exc.value.code().name, reason(exc.value)) == (code, why)
    assert (await stored(content, msg, loc)).status == pb.MESSAGE_STATUS_READY


async def test_an_approval_must_claim_the_drafts_location(content) -> None:
    """The claim is required (#15): without it, INVALID_ARGUMENT naming location_id even for
    the location's own draft; another location's claim answers as an unknown id does. Either
    way the draft stays pending, unedited."""
    loc = await location(content)
    msg = (await content.GenerateMessage(request(loc), timeout=5)).message
    other = await location(content)
    edit = "Hi Maria, Ana Lopez with Oak Realty here. Free for a call this week? Reply STOP to opt out."
    for claim in ("", "  "):
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await content.ApproveMessage(
                pb.ApproveMessageRequest(
                    message_id=msg.message_id, agent_id="a1", edited_body=edit, location_id=claim
                ),
                timeout=5,
            )
        assert (exc.value.code(), reason(exc.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "MISSING_FIELD")
        assert field_violations(exc.value) == ["location_id"]
    answers = []
    for message_id in (msg.message_id, str(uuid.uuid4())):
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await content.ApproveMessage(
                pb.ApproveMessageRequest(
                    message_id=message_id, agent_id="a1", edited_body=edit, location_id=other
                ),
                timeout=5,
            )
        answers.append((exc.value.code(), reason(exc.value)))
    assert answers == [(grpc.StatusCode.NOT_FOUND, "MESSAGE_NOT_FOUND")] * 2
    unchanged = await stored(content, msg, loc)
    assert unchanged.status == pb.MESSAGE_STATUS_PENDING_APPROVAL
    assert (unchanged.body, unchanged.approved_by_agent_id, unchanged.edited) == (msg.body, "", False)
    approved = (
        await content.ApproveMessage(
            pb.ApproveMessageRequest(message_id=msg.message_id, agent_id="a1", location_id=loc), timeout=5
        )
    ).message
    assert approved.status == pb.MESSAGE_STATUS_APPROVED  # the owner's claim still approves it


async def test_agent_notifications_never_wait_for_approval(content) -> None:
    loc = await location(content)
    msg = (
        await content.GenerateMessage(request(loc, purpose=pb.MESSAGE_PURPOSE_AGENT_NOTIFICATION), timeout=5)
    ).message
    assert msg.status == pb.MESSAGE_STATUS_READY


async def test_the_coordinators_content_client_gets_a_gate_not_a_message_to_send(m, content) -> None:
    loc = await location(content)
    client = ContentClient(m.clients)
    result = await client.generate_message(request(loc))
    assert isinstance(result, Refused)
    assert result.reason == "MESSAGE_PENDING_APPROVAL"
    preview = await client.generate_message(request(loc, dry_run=True))
    assert isinstance(preview, pb.Message)  # a preview sends nothing, so it need not wait
    auto = await client.generate_message(request(await location(content, mode=pb.APPROVAL_MODE_AUTOPILOT)))
    assert isinstance(auto, pb.Message)
    assert auto.status == pb.MESSAGE_STATUS_READY


async def test_location_settings_default_to_autopilot_and_round_trip(content) -> None:
    loc = f"loc-{uuid.uuid4()}"
    got = (
        await content.GetLocationContentSettings(
            pb.GetLocationContentSettingsRequest(location_id=loc), timeout=5
        )
    ).settings
    assert got.approval_mode == pb.APPROVAL_MODE_AUTOPILOT
    assert not got.HasField("update_time")
    settings = pb.LocationContentSettings(
        location_id=loc,
        approval_mode=pb.APPROVAL_MODE_SUGGEST,
        value_propositions=["We answer every message the same day."],
        link_domains=["WWW.OakRealty.com"],
    )
    await content.SetLocationContentSettings(
        pb.SetLocationContentSettingsRequest(settings=settings), timeout=5
    )
    got = (
        await content.GetLocationContentSettings(
            pb.GetLocationContentSettingsRequest(location_id=loc), timeout=5
        )
    ).settings
    assert got.approval_mode == pb.APPROVAL_MODE_SUGGEST
    assert list(got.link_domains) == ["oakrealty.com"]
    assert list(got.value_propositions) == ["We answer every message the same day."]


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("value_propositions", ["Perfect for young professionals."], "CONTENT_GUARDRAIL"),
        ("value_propositions", ["We guarantee a sale."], "CONTENT_GUARDRAIL"),
        ("link_domains", ["not a domain"], "INVALID_ARGUMENT"),
    ],
)
async def test_bad_settings_are_refused_and_change_nothing(content, field, value, why) -> None:
    loc = await location(content, mode=pb.APPROVAL_MODE_AUTOPILOT)
    bad = pb.LocationContentSettings(
        location_id=loc, approval_mode=pb.APPROVAL_MODE_SUGGEST, **{field: value}
    )
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await content.SetLocationContentSettings(
            pb.SetLocationContentSettingsRequest(settings=bad), timeout=5
        )
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(exc.value) == why
    got = (
        await content.GetLocationContentSettings(
            pb.GetLocationContentSettingsRequest(location_id=loc), timeout=5
        )
    ).settings
    assert got.approval_mode == pb.APPROVAL_MODE_AUTOPILOT


async def test_language_reply_and_reminder_purposes_through_grpc(content) -> None:
    loc = await location(content, mode=pb.APPROVAL_MODE_AUTOPILOT)
    es = (
        await content.GenerateMessage(
            request(
                loc,
                context=pb.MessageContext(lead_first_name="Lucía", brand_name="Oak Realty", language="es-MX"),
            ),
            timeout=5,
        )
    ).message
    assert es.language == "es"
    assert es.body.endswith("Responda STOP para cancelar.")
    assert ".es." in es.model
    unknown = (
        await content.GenerateMessage(
            request(loc, context=pb.MessageContext(brand_name="Oak Realty", language="xx")), timeout=5
        )
    ).message
    assert unknown.language == "en"
    thread = [pb.ThreadMessage(from_lead=True, body="Is 12 Oak St still available?")]
    reply = (
        await content.GenerateMessage(
            request(
                loc,
                purpose=pb.MESSAGE_PURPOSE_REPLY_TO_INBOUND,
                context=pb.MessageContext(lead_first_name="Maria", brand_name="Oak Realty", thread=thread),
            ),
            timeout=5,
        )
    ).message
    assert reply.purpose == pb.MESSAGE_PURPOSE_REPLY_TO_INBOUND
    assert reply.model.startswith("sms.reply_to_inbound.")
    reminder = (
        await content.GenerateMessage(
            request(
                loc,
                channel=common_pb2.CHANNEL_EMAIL,
                purpose=pb.MESSAGE_PURPOSE_APPOINTMENT_REMINDER,
                context=pb.MessageContext(
                    lead_first_name="Maria", brand_name="Oak Realty", appointment_label="Tue Dec 1 at 3:00 PM"
                ),
            ),
            timeout=5,
        )
    ).message
    assert "Tue Dec 1 at 3:00 PM" in reminder.body
    assert {v.rule for v in reminder.guardrail_verdicts} >= {"unsubscribe", "postal_address", "numbers"}
