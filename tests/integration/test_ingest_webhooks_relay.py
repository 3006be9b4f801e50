"""The outbox relay carries webhook facts to the coordinator: message, delivery and suppression
envelopes, including those that name no lead. Uses the purpose-built coordinator fake and a
database of its own, as the relay tests do."""

from __future__ import annotations

import json
import urllib.parse
import uuid

from leadengine.common.v1 import common_pb2 as common_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from tests.relay import eventually

Kind = coordinator_pb.LeadEventKind


async def published(relay_tables, location_id: str) -> bool:
    left = await relay_tables.fetchval(
        "SELECT count(*) FROM outbox WHERE location_id = $1 AND published_time IS NULL", location_id
    )
    return left == 0


def ghl(payload: dict) -> pb.WebhookEvent:
    webhook_id = str(uuid.uuid4())
    return pb.WebhookEvent(
        provider=pb.PROVIDER_GHL,
        provider_event_id=webhook_id,
        event_type=payload["type"],
        payload=json.dumps({**payload, "webhookId": webhook_id}).encode(),
        location_id=payload["locationId"],
    )


def spam_report(location_id: str) -> pb.WebhookEvent:
    event = {
        "event": "spamreport",
        "email": f"{uuid.uuid4().hex}@example.com",
        "sg_event_id": str(uuid.uuid4()),
        "location_id": location_id,
    }
    return pb.WebhookEvent(
        provider=pb.PROVIDER_SENDGRID,
        provider_event_id=event["sg_event_id"],
        event_type="spamreport",
        payload=json.dumps(event).encode(),
    )


async def test_envelopes_carry_the_facts(relay_ingest, coordinator_fake, relay_tables) -> None:
    fake, _ = coordinator_fake
    loc = f"loc-{uuid.uuid4()}"
    contact = {
        "type": "ContactCreate",
        "locationId": loc,
        "id": "c1",
        "firstName": "Ida",
        "phone": "+13035551234",
        "dndSettings": {"SMS": {"status": "permanent"}},
    }
    message = {
        "type": "InboundMessage",
        "locationId": loc,
        "contactId": "c1",
        "messageType": "SMS",
        "body": "hi",
        "messageId": "m1",
    }
    resp = await relay_ingest.RecordWebhook(
        pb.RecordWebhookRequest(events=[ghl(contact), ghl(message), spam_report(loc)]), timeout=10
    )
    lead_id = resp.results[0].lead_id
    await eventually(lambda: published(relay_tables, loc))
    got = [e for e in fake.calls if e.location_id == loc]
    by_kind = {e.kind: e for e in got}
    assert set(by_kind) == {
        Kind.LEAD_EVENT_KIND_SUPPRESSION,
        Kind.LEAD_EVENT_KIND_LEAD_CREATED,
        Kind.LEAD_EVENT_KIND_INBOUND_MESSAGE,
    }
    lead_events = [e for e in got if e.lead_id == lead_id]
    # The do-not-disturb suppression reaches the coordinator_fake before the lead's first event.
    assert [e.kind for e in lead_events] == [
        Kind.LEAD_EVENT_KIND_SUPPRESSION,
        Kind.LEAD_EVENT_KIND_LEAD_CREATED,
        Kind.LEAD_EVENT_KIND_INBOUND_MESSAGE,
    ]
    assert lead_events[0].suppression == coordinator_pb.SuppressionFacts(
        channel=common_pb.CHANNEL_SMS, address="+13035551234", reason="GHL do-not-disturb"
    )
    assert lead_events[2].message.body == "hi"
    assert lead_events[2].message.lead_address == "+13035551234"
    [spam] = [e for e in got if not e.lead_id]
    assert spam.suppression.reason == "SendGrid spamreport"
    assert spam.event_id
    assert spam.HasField("occurred_time")


async def test_rows_without_a_lead_are_not_held_up_by_each_other(
    relay_ingest, coordinator_fake, relay_tables
) -> None:
    fake, _ = coordinator_fake
    stuck, free = f"loc-{uuid.uuid4()}", f"loc-{uuid.uuid4()}"
    fake.fail_remaining[stuck] = 1_000_000
    await relay_ingest.RecordWebhook(pb.RecordWebhookRequest(events=[spam_report(stuck)]), timeout=10)
    sid = f"SM{uuid.uuid4().hex}"
    status = pb.WebhookEvent(
        provider=pb.PROVIDER_TWILIO,
        provider_event_id=f"{sid}:delivered",
        event_type="twilio.status_callback",
        payload=urllib.parse.urlencode({"MessageSid": sid, "MessageStatus": "delivered"}).encode(),
        location_id=free,
    )
    await relay_ingest.RecordWebhook(pb.RecordWebhookRequest(events=[spam_report(free), status]), timeout=10)
    await eventually(lambda: published(relay_tables, free))
    delivered = [e for e in fake.calls if e.location_id == free]
    assert {e.kind for e in delivered} == {
        Kind.LEAD_EVENT_KIND_SUPPRESSION,
        Kind.LEAD_EVENT_KIND_DELIVERY_STATUS,
    }
    assert not await published(relay_tables, stuck)
    fake.fail_remaining[stuck] = 0
    await eventually(lambda: published(relay_tables, stuck))
