"""Replies, opt-outs, delivery statuses and suppressions through HandleLeadEvent.

All five services in-process on real PostgreSQL. Leads enter through ingest (its outbox
starts their journeys); the provider signals are driven as envelopes straight into the
coordinator, as ingest's outbox will deliver them. Suppressions are global by address,
so every test uses its own phone number and email.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import grpc
import pytest
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.delivery.scheduler import Scheduler
from shared import timestamps
from tests.journeys import (
    DAY_HOURS,
    NIGHT_HOURS,
    add_lead,
    comms_of,
    drain,
    handle,
    inbound,
    journey_of,
    notes_of,
    settled_first_touch,
    started_lead,
    unique_phone,
    zone_where,
)
from tests.support import Mesh, field_violations, location_of
from tests.support import error_reason as reason

SMS = common_pb2.CHANNEL_SMS
EMAIL = common_pb2.CHANNEL_EMAIL
LEAD = str(uuid.uuid4())  # for envelopes refused before any lead is looked up


def unique_email() -> str:
    return f"lee-{uuid.uuid4().hex[:12]}@example.com"


def delivery(sid: str, status: str, error_code: str = "", channel: int = SMS) -> pb.LeadEventEnvelope:
    return pb.LeadEventEnvelope(
        event_id=str(uuid.uuid4()),
        kind=pb.LEAD_EVENT_KIND_DELIVERY_STATUS,
        delivery=pb.DeliveryFacts(
            provider_message_id=sid, provider_status=status, error_code=error_code, channel=channel
        ),
    )


async def consent_of(m: Mesh, lead_id: str) -> pb.Consent:
    resp = await m.clients.coordinator.GetConsent(
        pb.GetConsentRequest(lead_id=lead_id, location_id=await location_of(m, lead_id)), timeout=5
    )
    return resp.consent


def inbound_rows(comms: list[pb.Communication]) -> list[pb.Communication]:
    return [c for c in comms if c.direction == pb.DIRECTION_INBOUND]


# -- opt-out ------------------------------------------------------------------------------


async def test_stop_opts_the_number_out_everywhere_and_stops_the_journey(m: Mesh) -> None:
    lead = await started_lead(m)
    touch = (await comms_of(m, lead.lead_id))[-1]
    assert touch.status == pb.COMMUNICATION_STATUS_SIMULATED

    resp = await handle(m, inbound(lead, "Stop."))
    assert not resp.duplicate
    assert resp.journey.state == pb.JOURNEY_STATE_STOPPED
    assert resp.journey.stop_reason == "lead opted out"

    consent = await consent_of(m, lead.lead_id)
    assert consent.sms_opted_out
    assert consent.sms_consent  # what the lead once agreed to is kept; the opt-out overrides it
    received = inbound_rows(await comms_of(m, lead.lead_id))
    assert [(c.status, c.channel, c.body, c.address) for c in received] == [
        (pb.COMMUNICATION_STATUS_RECEIVED, SMS, "Stop.", lead.phone)
    ]
    assert "opt-out keyword STOP" in received[0].status_reason

    notes = await notes_of(m, lead.lead_id)
    assert len(notes) == 2  # assigned, then the reply
    assert notes[0].status == pb.COMMUNICATION_STATUS_SIMULATED
    assert "opted out" in notes[0].body

    # Revoke-all: the same number, as another location's new lead, gets no text.
    other = await add_lead(
        m, f"loc-{uuid.uuid4()}", phone=lead.phone, timezone=zone_where(DAY_HOURS), sms_consent=True
    )
    blocked = await settled_first_touch(m, other.lead_id)
    assert blocked.status == pb.COMMUNICATION_STATUS_BLOCKED
    assert blocked.channel == SMS
    assert "suppressed" in blocked.status_reason
    assert not blocked.body  # refused before content wrote anything
    assert (await consent_of(m, other.lead_id)).sms_opted_out


async def test_a_reply_containing_end_is_not_an_opt_out_but_stops_the_journey(m: Mesh) -> None:
    lead = await started_lead(m)
    text = "I will attend the open house this weekend"
    resp = await handle(m, inbound(lead, text))
    assert resp.journey.state == pb.JOURNEY_STATE_STOPPED
    assert resp.journey.stop_reason == "lead replied"

    consent = await consent_of(m, lead.lead_id)
    assert not consent.sms_opted_out
    received = inbound_rows(await comms_of(m, lead.lead_id))
    assert [c.body for c in received] == [text]
    assert received[0].status_reason == ""
    notes = await notes_of(m, lead.lead_id)
    assert len(notes) == 2
    assert "replied" in notes[0].body
    assert text in notes[0].body

    # The number is still textable for anyone else.
    other = await add_lead(
        m, f"loc-{uuid.uuid4()}", phone=lead.phone, timezone=zone_where(DAY_HOURS), sms_consent=True
    )
    assert (await settled_first_touch(m, other.lead_id)).status == pb.COMMUNICATION_STATUS_SIMULATED


async def test_a_reply_blocks_the_waiting_first_touch_for_good(m: Mesh, scheduler: Scheduler) -> None:
    lead = await started_lead(m, hours=NIGHT_HOURS)
    touch = (await comms_of(m, lead.lead_id))[-1]
    assert touch.status == pb.COMMUNICATION_STATUS_SCHEDULED

    await handle(m, inbound(lead, "who is this?"))
    after = next(c for c in await comms_of(m, lead.lead_id) if c.communication_id == touch.communication_id)
    assert after.status == pb.COMMUNICATION_STATUS_BLOCKED
    assert after.status_reason == "journey stopped: lead replied"

    opens = timestamps.from_proto(touch.scheduled_time)
    assert opens is not None
    await drain(scheduler, opens + timedelta(minutes=1))
    again = next(c for c in await comms_of(m, lead.lead_id) if c.communication_id == touch.communication_id)
    assert again.status == pb.COMMUNICATION_STATUS_BLOCKED


async def test_stop_at_night_blocks_the_waiting_text_as_an_opt_out(m: Mesh) -> None:
    lead = await started_lead(m, hours=NIGHT_HOURS)
    touch = (await comms_of(m, lead.lead_id))[-1]
    assert touch.status == pb.COMMUNICATION_STATUS_SCHEDULED
    await handle(m, inbound(lead, "  stop  "))
    after = next(c for c in await comms_of(m, lead.lead_id) if c.communication_id == touch.communication_id)
    assert after.status == pb.COMMUNICATION_STATUS_BLOCKED
    assert after.status_reason == "lead opted out (STOP)"


async def test_start_lifts_a_keyword_opt_out(m: Mesh) -> None:
    lead = await started_lead(m)
    await handle(m, inbound(lead, "STOP"))
    assert (await consent_of(m, lead.lead_id)).sms_opted_out

    await handle(m, inbound(lead, "Start"))
    assert not (await consent_of(m, lead.lead_id)).sms_opted_out
    start_row = next(c for c in inbound_rows(await comms_of(m, lead.lead_id)) if c.body == "Start")
    assert start_row.status_reason == "opt-in keyword START: SMS re-enabled"
    # The journey stays stopped: a person took over when the lead first wrote.
    assert (await journey_of(m, lead.lead_id)).state == pb.JOURNEY_STATE_STOPPED
    other = await add_lead(
        m, f"loc-{uuid.uuid4()}", phone=lead.phone, timezone=zone_where(DAY_HOURS), sms_consent=True
    )
    assert (await settled_first_touch(m, other.lead_id)).status == pb.COMMUNICATION_STATUS_SIMULATED


async def test_a_stop_older_than_the_leads_start_changes_nothing(m: Mesh) -> None:
    lead = await started_lead(m)
    now = timestamps.now()
    stop = inbound(lead, "STOP", occurred_time=timestamps.to_proto(now - timedelta(minutes=5)))
    start = inbound(lead, "START", occurred_time=timestamps.to_proto(now - timedelta(minutes=1)))
    await handle(m, stop)
    await handle(m, start)
    late = inbound(lead, "stop", occurred_time=timestamps.to_proto(now - timedelta(minutes=3)))
    await handle(m, late)  # delivered late: the START after it is the lead's last word
    assert not (await consent_of(m, lead.lead_id)).sms_opted_out
    await handle(m, inbound(lead, "STOP", occurred_time=timestamps.to_proto(now)))
    assert (await consent_of(m, lead.lead_id)).sms_opted_out


async def test_yes_or_help_from_a_lead_who_never_opted_out_changes_no_consent(m: Mesh) -> None:
    lead = await started_lead(m)
    await handle(m, inbound(lead, "HELP"))
    await handle(m, inbound(lead, "yes"))
    assert not (await consent_of(m, lead.lead_id)).sms_opted_out
    notes = {c.body: c.status_reason for c in inbound_rows(await comms_of(m, lead.lead_id))}
    assert notes == {
        "HELP": "help keyword HELP: no change",
        "yes": "opt-in keyword YES: no keyword opt-out to lift",
    }
    assert (await journey_of(m, lead.lead_id)).stop_reason == "lead replied"


async def test_opt_in_does_not_lift_a_crm_do_not_disturb(m: Mesh) -> None:
    lead = await started_lead(m, email=unique_email(), email_consent=True, sms_dnd=True)
    consent = await consent_of(m, lead.lead_id)
    assert consent.sms_opted_out
    await handle(m, inbound(lead, "START"))
    assert (await consent_of(m, lead.lead_id)).sms_opted_out


async def test_a_reply_with_no_parsable_sender_still_opts_out_the_leads_phone(m: Mesh) -> None:
    # GHL's InboundMessage names no phone for SMS: the number on record is suppressed.
    lead = await started_lead(m)
    await handle(m, inbound(lead, "unsubscribe", address=""))
    assert (await consent_of(m, lead.lead_id)).sms_opted_out
    other = await add_lead(
        m, f"loc-{uuid.uuid4()}", phone=lead.phone, timezone=zone_where(DAY_HOURS), sms_consent=True
    )
    assert (await settled_first_touch(m, other.lead_id)).status == pb.COMMUNICATION_STATUS_BLOCKED


# -- duplicates -----------------------------------------------------------------------------


async def test_duplicate_envelopes_and_redelivered_messages_change_nothing(m: Mesh) -> None:
    lead = await started_lead(m)
    event = inbound(lead, "Sounds good, call me")
    first = await handle(m, event)
    again = await handle(m, event)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.journey == first.journey
    # The same provider message under a new event id (another webhook path, a replay).
    replay = pb.LeadEventEnvelope()
    replay.CopyFrom(event)
    replay.event_id = str(uuid.uuid4())
    assert not (await handle(m, replay)).duplicate
    assert len(inbound_rows(await comms_of(m, lead.lead_id))) == 1
    assert len(await notes_of(m, lead.lead_id)) == 2  # assignment + one reply notice


# -- CRM messages and delivery statuses -----------------------------------------------------


async def crm_message(m: Mesh, lead: Any, sid: str) -> pb.Communication:
    resp = await handle(
        m,
        pb.LeadEventEnvelope(
            event_id=str(uuid.uuid4()),
            kind=pb.LEAD_EVENT_KIND_OUTBOUND_MESSAGE,
            lead_id=lead.lead_id,
            location_id=lead.location_id,
            message=pb.MessageFacts(
                channel=SMS,
                body="Hi, it's Ana from the team",
                lead_address=lead.phone,
                provider_message_id=sid,
            ),
        ),
    )
    assert resp.journey.state == pb.JOURNEY_STATE_ACTIVE  # a human touch does not stop the journey
    return next(c for c in await comms_of(m, lead.lead_id) if c.provider_message_id == sid)


async def test_crm_message_is_recorded_as_sent_and_statuses_only_move_forward(m: Mesh) -> None:
    lead = await started_lead(m)
    sid = f"SM{uuid.uuid4().hex}"
    row = await crm_message(m, lead, sid)
    assert (row.direction, row.status, row.channel) == (
        pb.DIRECTION_OUTBOUND,
        pb.COMMUNICATION_STATUS_SENT,
        SMS,
    )

    resp = await handle(m, delivery(sid, "delivered"))
    assert resp.journey.lead_id == lead.lead_id
    await handle(m, delivery(sid, "sent"))  # late and out of order
    await handle(m, delivery(sid, "queued"))
    final = next(c for c in await comms_of(m, lead.lead_id) if c.provider_message_id == sid)
    assert final.status == pb.COMMUNICATION_STATUS_DELIVERED
    assert final.communication_id == row.communication_id
    # The same CRM message reported again never makes a second row.
    await crm_message(m, lead, sid)
    assert len([c for c in await comms_of(m, lead.lead_id) if c.provider_message_id == sid]) == 1


async def test_carrier_failure_is_recorded_with_the_error(m: Mesh) -> None:
    lead = await started_lead(m)
    sid = f"SM{uuid.uuid4().hex}"
    await crm_message(m, lead, sid)
    await handle(m, delivery(sid, "undelivered", "30007"))
    row = next(c for c in await comms_of(m, lead.lead_id) if c.provider_message_id == sid)
    assert row.status == pb.COMMUNICATION_STATUS_UNDELIVERED
    assert row.status_reason == "Twilio 30007: carrier filtered"
    assert not (await consent_of(m, lead.lead_id)).sms_opted_out


async def test_twilio_21610_opts_the_number_out(m: Mesh) -> None:
    lead = await started_lead(m)
    sid = f"SM{uuid.uuid4().hex}"
    await crm_message(m, lead, sid)
    await handle(m, delivery(sid, "failed", "21610"))
    assert (await consent_of(m, lead.lead_id)).sms_opted_out
    row = next(c for c in await comms_of(m, lead.lead_id) if c.provider_message_id == sid)
    assert row.status == pb.COMMUNICATION_STATUS_FAILED
    assert row.status_reason == "Twilio 21610: recipient replied STOP"


async def test_status_for_a_message_we_never_sent_is_acknowledged(m: Mesh) -> None:
    event = delivery(f"SM{uuid.uuid4().hex}", "delivered")
    resp = await handle(m, event)
    assert not resp.duplicate
    assert not resp.journey.lead_id
    assert (await handle(m, event)).duplicate


# -- suppressions ---------------------------------------------------------------------------


async def test_email_suppressed_before_the_lead_exists_blocks_its_first_touch(m: Mesh) -> None:
    email = unique_email()
    event = pb.LeadEventEnvelope(
        event_id=str(uuid.uuid4()),
        kind=pb.LEAD_EVENT_KIND_SUPPRESSION,
        suppression=pb.SuppressionFacts(channel=EMAIL, address=email.upper(), reason="SendGrid spamreport"),
    )
    assert not (await handle(m, event)).duplicate
    assert (await handle(m, event)).duplicate

    lead = await started_lead(m, phone="", sms_consent=False, email=email, email_consent=True, agent=False)
    touch = (await comms_of(m, lead.lead_id))[-1]
    assert touch.channel == EMAIL
    assert touch.status == pb.COMMUNICATION_STATUS_BLOCKED
    assert "suppressed" in touch.status_reason
    assert "SendGrid spamreport" in touch.status_reason
    consent = await consent_of(m, lead.lead_id)
    assert consent.email_opted_out
    assert not consent.sms_opted_out


async def test_suppressed_text_falls_back_to_email(m: Mesh) -> None:
    phone = unique_phone()
    await handle(
        m,
        pb.LeadEventEnvelope(
            event_id=str(uuid.uuid4()),
            kind=pb.LEAD_EVENT_KIND_SUPPRESSION,
            suppression=pb.SuppressionFacts(channel=SMS, address=phone, reason="carrier says landline"),
        ),
    )
    lead = await started_lead(m, phone=phone, email=unique_email(), email_consent=True, agent=False)
    touch = (await comms_of(m, lead.lead_id))[-1]
    assert (touch.channel, touch.status) == (EMAIL, pb.COMMUNICATION_STATUS_SIMULATED)


async def test_suppression_naming_a_lead_opts_that_lead_out(m: Mesh) -> None:
    # With an email address the lead keeps a lawful channel (a phone-only lead's journey
    # stops instead: tests/integration/test_coordinator_timeline.py).
    lead = await started_lead(m, hours=NIGHT_HOURS, email=f"lee.{uuid.uuid4().hex[:10]}@example.com")
    touch = (await comms_of(m, lead.lead_id))[-1]
    assert touch.status == pb.COMMUNICATION_STATUS_SCHEDULED
    resp = await handle(
        m,
        pb.LeadEventEnvelope(
            event_id=str(uuid.uuid4()),
            kind=pb.LEAD_EVENT_KIND_SUPPRESSION,
            lead_id=lead.lead_id,
            location_id=lead.location_id,
            suppression=pb.SuppressionFacts(channel=SMS, address=lead.phone, reason="GHL do-not-disturb"),
        ),
    )
    assert resp.journey.state == pb.JOURNEY_STATE_ACTIVE  # email may still reach them
    assert (await consent_of(m, lead.lead_id)).sms_opted_out
    after = (await comms_of(m, lead.lead_id))[-1]
    assert after.status == pb.COMMUNICATION_STATUS_BLOCKED
    assert after.status_reason == "SMS address suppressed: GHL do-not-disturb"


# -- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "why", "field"),
    [
        (pb.LeadEventEnvelope(event_id="x", kind=pb.LEAD_EVENT_KIND_INBOUND_MESSAGE, lead_id=LEAD),
         "MISSING_FIELD", "event.message"),
        # Without a lead, an inbound text is acted on by its sender's address alone: it needs one.
        (pb.LeadEventEnvelope(event_id="x", kind=pb.LEAD_EVENT_KIND_INBOUND_MESSAGE,
                              message=pb.MessageFacts(channel=SMS, body="STOP")),
         "MISSING_FIELD", "event.message.lead_address"),
        (pb.LeadEventEnvelope(event_id="x", kind=pb.LEAD_EVENT_KIND_OUTBOUND_MESSAGE,
                              message=pb.MessageFacts(channel=SMS, body="hi", lead_address="+15125550100")),
         "MISSING_FIELD", "event.lead_id"),
        (pb.LeadEventEnvelope(event_id="x", kind=pb.LEAD_EVENT_KIND_OUTBOUND_MESSAGE, lead_id=LEAD,
                              message=pb.MessageFacts(body="hi")),
         "MISSING_FIELD", "event.message.channel"),
        (pb.LeadEventEnvelope(event_id="x", kind=pb.LEAD_EVENT_KIND_DELIVERY_STATUS),
         "MISSING_FIELD", "event.delivery"),
        (pb.LeadEventEnvelope(event_id="x", kind=pb.LEAD_EVENT_KIND_DELIVERY_STATUS,
                              delivery=pb.DeliveryFacts(provider_status="sent")),
         "MISSING_FIELD", "event.delivery.provider_message_id"),
        (pb.LeadEventEnvelope(event_id="x", kind=pb.LEAD_EVENT_KIND_DELIVERY_STATUS, lead_id="nope",
                              delivery=pb.DeliveryFacts(provider_message_id="SM1", provider_status="sent")),
         "INVALID_ID", "event.lead_id"),
        (pb.LeadEventEnvelope(event_id="x", kind=pb.LEAD_EVENT_KIND_SUPPRESSION),
         "MISSING_FIELD", "event.suppression"),
        (pb.LeadEventEnvelope(event_id="x", kind=pb.LEAD_EVENT_KIND_SUPPRESSION,
                              suppression=pb.SuppressionFacts(channel=SMS, address="not a phone")),
         "INVALID_PHONE", "event.suppression.address"),
        (pb.LeadEventEnvelope(event_id="x", kind=pb.LEAD_EVENT_KIND_SUPPRESSION,
                              suppression=pb.SuppressionFacts(channel=EMAIL)),
         "MISSING_FIELD", "event.suppression.address"),
    ],
)  # fmt: skip
async def test_bad_envelopes_are_refused_naming_the_field(
    m: Mesh, event: pb.LeadEventEnvelope, why: str, field: str
) -> None:
    event.event_id = str(uuid.uuid4())
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await handle(m, event)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason(exc.value) == why
    assert field in field_violations(exc.value)


async def test_a_refused_envelope_is_not_marked_handled(m: Mesh) -> None:
    event = pb.LeadEventEnvelope(
        event_id=str(uuid.uuid4()),
        kind=pb.LEAD_EVENT_KIND_SUPPRESSION,
        suppression=pb.SuppressionFacts(channel=EMAIL, address="nobody"),
    )
    with pytest.raises(grpc.aio.AioRpcError):
        await handle(m, event)
    event.suppression.address = unique_email()  # the producer fixed it: same event id
    assert not (await handle(m, event)).duplicate
