"""RecordWebhook against real PostgreSQL: each provider event stored once, normalised into leads,
events and outbox rows in the same transaction, and a bad payload stored without effect.

The outbox is read straight from ingest's table: this module runs no coordinator, so its rows
stay as they were written.
"""

from __future__ import annotations

import asyncio
import json
import random
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import phonenumbers
import pytest
from leadengine.common.v1 import common_pb2 as common_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from tests.support import error_reason

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
GHL_CONTACT = json.loads((VECTORS / "ghl_contact_create.json").read_text())["payload"]
GHL_MESSAGE = json.loads((VECTORS / "ghl_inbound_message.json").read_text())
TWILIO_INBOUND = json.loads((VECTORS / "twilio_inbound_sms.json").read_text())["payload"]
TWILIO_STATUS = json.loads((VECTORS / "twilio_status_callback.json").read_text())["payload"]
SENDGRID = json.loads((VECTORS / "sendgrid_events.json").read_text())["payload"]

GHL, TWILIO, SENDGRID_ = pb.PROVIDER_GHL, pb.PROVIDER_TWILIO, pb.PROVIDER_SENDGRID
Kind = coordinator_pb.LeadEventKind


def new_location() -> str:
    return f"loc-{uuid.uuid4()}"


def new_phone() -> str:
    """A dialable number no other test uses (the samples' 555-01xx numbers are not dialable)."""
    while True:
        area = random.choice(["303", "415", "617", "212"])
        number = f"+1{area}{random.randint(200, 999)}{random.randint(0, 9999):04d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number


def ghl_event(payload: dict[str, Any], *, webhook_id: str | None = None, location_id: str | None = None):
    body = {**payload, "webhookId": webhook_id or str(uuid.uuid4())}
    return pb.WebhookEvent(
        provider=GHL,
        provider_event_id=body["webhookId"],
        event_type=body.get("type", ""),
        payload=json.dumps(body).encode(),
        location_id=body.get("locationId", "") if location_id is None else location_id,
    )


def contact_payload(loc: str, contact_id: str | None = None, **changes: Any) -> dict[str, Any]:
    return {
        **GHL_CONTACT,
        "locationId": loc,
        "id": contact_id or f"ct-{uuid.uuid4()}",
        "phone": new_phone(),
        **changes,
    }


async def own_number(ingest, location_id: str, number: str) -> None:
    await ingest.UpdateLocation(
        pb.UpdateLocationRequest(location=pb.Location(location_id=location_id, sms_from_numbers=[number])),
        timeout=5,
    )


def twilio_event(kind: str, sid: str, payload: dict[str, str]) -> pb.WebhookEvent:
    return pb.WebhookEvent(
        provider=TWILIO,
        provider_event_id=sid,
        event_type=kind,
        payload=urllib.parse.urlencode(payload).encode(),
    )


def sendgrid_event(event: dict[str, Any], **changes: Any) -> pb.WebhookEvent:
    body = {**event, **changes}
    return pb.WebhookEvent(
        provider=SENDGRID_,
        provider_event_id=body["sg_event_id"],
        event_type=body["event"],
        payload=json.dumps(body).encode(),
    )


async def deliver(ingest, *events: pb.WebhookEvent) -> list[pb.WebhookResult]:
    resp = await ingest.RecordWebhook(pb.RecordWebhookRequest(events=list(events)), timeout=10)
    return list(resp.results)


async def outbox(ingest_tables, location_id: str) -> list[tuple[int, str, coordinator_pb.LeadEventEnvelope]]:
    """(kind, lead_id, facts) of a location's outbox rows, in the order they will be delivered."""
    rows = await ingest_tables.fetch("SELECT * FROM outbox WHERE location_id = $1 ORDER BY id", location_id)
    result = []
    for row in rows:
        facts = coordinator_pb.LeadEventEnvelope()
        facts.ParseFromString(bytes(row["payload"]))
        result.append((row["kind"], str(row["lead_id"]) if row["lead_id"] else "", facts))
    return result


async def inbox_row(ingest_tables, provider: int, provider_event_id: str) -> asyncpg.Record:
    return await ingest_tables.fetchrow(
        "SELECT * FROM inbox WHERE provider = $1 AND provider_event_id = $2", provider, provider_event_id
    )


async def lead_of(ingest, loc: str, contact_id: str) -> pb.Lead:
    resp = await ingest.GetLeadByExternalId(
        pb.GetLeadByExternalIdRequest(location_id=loc, external_contact_id=contact_id), timeout=5
    )
    return resp.lead


async def create_contact(ingest, loc: str, **changes: Any) -> tuple[pb.Lead, dict[str, Any]]:
    payload = contact_payload(loc, **changes)
    [result] = await deliver(ingest, ghl_event(payload))
    assert result.outcome == "lead_created", result.detail
    return await lead_of(ingest, loc, payload["id"]), payload


# -- HighLevel contacts ----------------------------------------------------------------------


async def test_contact_create_sample_creates_a_lead_and_publishes_it(ingest, ingest_tables) -> None:
    loc = new_location()
    payload = contact_payload(loc)
    event = ghl_event(payload)
    [result] = await deliver(ingest, event)
    assert (result.outcome, result.duplicate, result.location_id) == ("lead_created", False, loc)
    lead = await lead_of(ingest, loc, payload["id"])
    assert result.lead_id == lead.lead_id
    assert (lead.first_name, lead.last_name, lead.email, lead.phone) == (
        "Jordan",
        "Rivera",
        "jordan.rivera@example.com",
        payload["phone"],
    )
    assert (lead.city, lead.state, lead.country, lead.timezone) == ("Tampa", "FL", "US", "America/New_York")
    assert list(lead.tags) == ["buyer", "new-lead", "tampa"]
    assert lead.custom_fields["Cf2TimelineY5e6f7g8h9"] == "0-3 months"
    assert lead.source == pb.LEAD_SOURCE_PORTAL
    assert (lead.sms_dnd, lead.email_dnd) == (False, False)
    assert [(k, lead_id) for k, lead_id, _ in await outbox(ingest_tables, loc)] == [
        (Kind.LEAD_EVENT_KIND_LEAD_CREATED, lead.lead_id)
    ]
    row = await inbox_row(ingest_tables, GHL, event.provider_event_id)
    assert (row["outcome"], row["event_type"], str(row["lead_id"])) == (
        "lead_created",
        "ContactCreate",
        lead.lead_id,
    )
    assert bytes(row["payload"]) == event.payload


async def test_unseen_location_is_registered_with_default_settings(ingest, ingest_tables) -> None:
    loc = new_location()
    [result] = await deliver(ingest, ghl_event({"type": "OpportunityCreate", "locationId": loc, "id": "op1"}))
    assert (result.outcome, result.detail) == ("stored_only", "no action for OpportunityCreate")
    settings = await ingest_tables.fetchval("SELECT settings FROM locations WHERE location_id = $1", loc)
    assert json.loads(settings) == {}


async def test_the_verbatim_sample_with_an_undialable_phone_is_stored_only(ingest, ingest_tables) -> None:
    loc = new_location()
    payload = {**GHL_CONTACT, "locationId": loc}  # phone +15555550123 is fictional
    event = ghl_event(payload)
    [result] = await deliver(ingest, event)
    assert result.outcome == "stored_only"
    assert "lead.phone" in result.detail
    assert (await inbox_row(ingest_tables, GHL, event.provider_event_id))["outcome"] == "stored_only"
    assert await ingest_tables.fetchval("SELECT count(*) FROM leads WHERE location_id = $1", loc) == 0
    assert await outbox(ingest_tables, loc) == []
    assert await ingest_tables.fetchval("SELECT count(*) FROM locations WHERE location_id = $1", loc) == 1


async def test_partial_update_keeps_what_it_does_not_carry(ingest, ingest_tables) -> None:
    loc = new_location()
    lead, payload = await create_contact(ingest, loc)
    update = {
        "type": "ContactUpdate",
        "locationId": loc,
        "id": payload["id"],
        "email": "J.Rivera@Example.com",
    }
    [result] = await deliver(ingest, ghl_event(update))
    assert (result.outcome, result.lead_id) == ("lead_updated", lead.lead_id)
    after = await lead_of(ingest, loc, payload["id"])
    assert after.email == "j.rivera@example.com"
    assert (after.first_name, after.phone, list(after.tags)) == (lead.first_name, lead.phone, list(lead.tags))
    assert after.source == pb.LEAD_SOURCE_PORTAL  # a later source never rewrites where it came from
    kinds = [k for k, _, _ in await outbox(ingest_tables, loc)]
    assert kinds == [Kind.LEAD_EVENT_KIND_LEAD_CREATED, Kind.LEAD_EVENT_KIND_LEAD_UPDATED]
    [again] = await deliver(ingest, ghl_event(update))  # same content, new webhook: nothing changes
    assert again.outcome == "lead_unchanged"
    assert len(await outbox(ingest_tables, loc)) == 2


async def test_tag_update_replaces_the_tags(ingest) -> None:
    loc = new_location()
    _, payload = await create_contact(ingest, loc)
    tags = {"type": "ContactTagUpdate", "locationId": loc, "id": payload["id"], "tags": ["Hot", "seller"]}
    [result] = await deliver(ingest, ghl_event(tags))
    assert result.outcome == "lead_updated"
    assert list((await lead_of(ingest, loc, payload["id"])).tags) == ["hot", "seller"]


async def test_dnd_update_sets_the_fact_and_suppresses_before_the_update(ingest, ingest_tables) -> None:
    loc = new_location()
    lead, payload = await create_contact(ingest, loc)
    dnd = {
        "type": "ContactDndUpdate",
        "locationId": loc,
        "id": payload["id"],
        "dnd": False,
        "dndSettings": {"SMS": {"status": "active"}, "Email": {"status": "inactive"}},
    }
    [result] = await deliver(ingest, ghl_event(dnd))
    assert result.outcome == "lead_updated"
    after = await lead_of(ingest, loc, payload["id"])
    assert (after.sms_dnd, after.email_dnd) == (True, False)
    rows = await outbox(ingest_tables, loc)
    assert [k for k, _, _ in rows] == [
        Kind.LEAD_EVENT_KIND_LEAD_CREATED,
        Kind.LEAD_EVENT_KIND_SUPPRESSION,
        Kind.LEAD_EVENT_KIND_LEAD_UPDATED,
    ]
    _, lead_id, facts = rows[1]
    assert lead_id == lead.lead_id
    assert facts.suppression == coordinator_pb.SuppressionFacts(
        channel=common_pb.CHANNEL_SMS, address=lead.phone, reason="GHL do-not-disturb"
    )
    [again] = await deliver(ingest, ghl_event(dnd))  # still on: no second suppression
    assert again.outcome == "lead_unchanged"
    assert len(await outbox(ingest_tables, loc)) == 3


async def test_new_contact_with_dnd_is_suppressed_before_it_is_announced(ingest, ingest_tables) -> None:
    loc = new_location()
    lead, _ = await create_contact(ingest, loc, dnd=True)
    assert (lead.sms_dnd, lead.email_dnd) == (True, True)
    rows = await outbox(ingest_tables, loc)
    assert [k for k, _, _ in rows] == [
        Kind.LEAD_EVENT_KIND_SUPPRESSION,
        Kind.LEAD_EVENT_KIND_SUPPRESSION,
        Kind.LEAD_EVENT_KIND_LEAD_CREATED,
    ]
    assert {(f.suppression.channel, f.suppression.address) for _, _, f in rows[:2]} == {
        (common_pb.CHANNEL_SMS, lead.phone),
        (common_pb.CHANNEL_EMAIL, lead.email),
    }


async def test_contact_delete_erases_once_and_forgets_the_raw_payloads(ingest, ingest_tables) -> None:
    loc = new_location()
    lead, payload = await create_contact(ingest, loc)
    delete = {"type": "ContactDelete", "locationId": loc, "id": payload["id"], "email": lead.email}
    first, second = ghl_event(delete), ghl_event(delete)
    [result] = await deliver(ingest, first)
    assert (result.outcome, result.lead_id) == ("lead_deleted", lead.lead_id)
    [later] = await deliver(ingest, second)  # HighLevel sent it again under a new webhook id
    assert (later.outcome, later.detail) == ("lead_deleted", "deleted before")
    erased = await ingest.GetLead(
        pb.GetLeadRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    assert erased.lead.delete_time.seconds > 0
    assert (erased.lead.email, erased.lead.phone, erased.lead.first_name) == ("", "", "")
    kinds = [k for k, _, _ in await outbox(ingest_tables, loc)]
    assert kinds.count(Kind.LEAD_EVENT_KIND_LEAD_DELETED) == 1
    payloads = await ingest_tables.fetch(
        "SELECT payload FROM inbox WHERE lead_id = $1", uuid.UUID(lead.lead_id)
    )
    assert len(payloads) >= 2
    assert all(bytes(p["payload"]) == b"" for p in payloads)
    # An update for the erased contact cannot bring its data back.
    [update] = await deliver(
        ingest, ghl_event({"type": "ContactUpdate", "locationId": loc, "id": payload["id"], "firstName": "X"})
    )
    assert update.outcome == "stored_only"


async def test_delete_of_an_unknown_contact_is_unmatched(ingest, ingest_tables) -> None:
    loc = new_location()
    [result] = await deliver(ingest, ghl_event({"type": "ContactDelete", "locationId": loc, "id": "nobody"}))
    assert result.outcome == "unmatched"
    assert await outbox(ingest_tables, loc) == []


# -- HighLevel conversations, appointments, the rest -----------------------------------------


async def test_inbound_sms_sample_is_handed_to_the_coordinator(ingest, ingest_tables) -> None:
    loc = new_location()
    lead, payload = await create_contact(ingest, loc)
    message = {**GHL_MESSAGE["payload"], "locationId": loc, "contactId": payload["id"]}
    [result] = await deliver(ingest, ghl_event(message))
    assert (result.outcome, result.lead_id) == ("inbound_message", lead.lead_id)
    kind, lead_id, facts = (await outbox(ingest_tables, loc))[-1]
    assert (kind, lead_id) == (Kind.LEAD_EVENT_KIND_INBOUND_MESSAGE, lead.lead_id)
    assert facts.message == coordinator_pb.MessageFacts(
        channel=common_pb.CHANNEL_SMS,
        body=message["body"],
        lead_address=lead.phone,
        provider_message_id=message["messageId"],
    )


async def test_inbound_email_and_outbound_sms(ingest, ingest_tables) -> None:
    loc = new_location()
    lead, payload = await create_contact(ingest, loc)
    email = {
        **GHL_MESSAGE["payload"],
        **GHL_MESSAGE["variants"]["email"],
        "locationId": loc,
        "contactId": payload["id"],
    }
    outbound = {
        **GHL_MESSAGE["payload"],
        "type": "OutboundMessage",
        "direction": "outbound",
        "locationId": loc,
        "contactId": payload["id"],
        "body": "On my way",
    }
    results = await deliver(ingest, ghl_event(email), ghl_event(outbound))
    assert [r.outcome for r in results] == ["inbound_message", "outbound_message"]
    rows = await outbox(ingest_tables, loc)
    # The outbound message's status ("delivered") also goes out as a delivery report.
    (k1, _, f1), (k2, _, f2), (k3, _, f3) = rows[-3:]
    assert (k1, f1.message.channel, f1.message.subject) == (
        Kind.LEAD_EVENT_KIND_INBOUND_MESSAGE,
        common_pb.CHANNEL_EMAIL,
        "Re: 412 Palm Ave",
    )
    assert (f1.message.lead_address, f1.message.our_address) == (lead.email, "agent@realty.example.com")
    assert (k2, f2.message.body, f2.message.lead_address) == (
        Kind.LEAD_EVENT_KIND_OUTBOUND_MESSAGE,
        "On my way",
        lead.phone,
    )
    assert (k3, f3.delivery.provider_message_id, f3.delivery.provider_status) == (
        Kind.LEAD_EVENT_KIND_DELIVERY_STATUS,
        f2.message.provider_message_id,
        "delivered",
    )


async def test_message_from_an_unknown_contact_is_unmatched_and_calls_are_stored_only(
    ingest, ingest_tables
) -> None:
    loc = new_location()
    unknown = {**GHL_MESSAGE["payload"], "locationId": loc, "contactId": "never-seen"}
    call = {**GHL_MESSAGE["payload"], **GHL_MESSAGE["variants"]["missed_call_voicemail"], "locationId": loc}
    results = await deliver(ingest, ghl_event(unknown), ghl_event(call))
    assert [r.outcome for r in results] == ["unmatched", "stored_only"]
    assert await outbox(ingest_tables, loc) == []


@pytest.mark.parametrize(
    "kind", ["OpportunityStageUpdate", "TaskCreate", "NoteCreate", "PlanChange", "BrandNewThing"]
)
async def test_types_without_an_action_are_stored_and_acknowledged(ingest, ingest_tables, kind: str) -> None:
    loc = new_location()
    event = ghl_event({"type": kind, "locationId": loc, "id": "x", "contactId": "y"})
    [result] = await deliver(ingest, event)
    assert (result.outcome, result.detail, result.duplicate) == (
        "stored_only",
        f"no action for {kind}",
        False,
    )
    assert (await inbox_row(ingest_tables, GHL, event.provider_event_id))["event_type"] == kind
    assert await outbox(ingest_tables, loc) == []


async def test_appointment_is_recorded_as_an_appointment_event(ingest, ingest_tables) -> None:
    loc = new_location()
    lead, payload = await create_contact(ingest, loc)
    appointment = {
        "type": "AppointmentCreate",
        "locationId": loc,
        "appointment": {"id": "ap-1", "contactId": payload["id"], "appointmentStatus": "confirmed"},
    }
    event = ghl_event(appointment)
    [result] = await deliver(ingest, event)
    assert (result.outcome, result.lead_id) == ("behavior_event", lead.lead_id)
    events = await ingest.ListLeadEvents(
        pb.ListLeadEventsRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    [recorded] = events.events
    assert (recorded.event_id, recorded.type) == (event.provider_event_id, pb.EVENT_TYPE_APPOINTMENT)
    assert recorded.properties["status"] == "confirmed"
    kind, _, _ = (await outbox(ingest_tables, loc))[-1]
    assert kind == Kind.LEAD_EVENT_KIND_BEHAVIOR
    assert (
        await ingest_tables.fetchval(
            "SELECT behavior_type FROM outbox WHERE location_id = $1 ORDER BY id DESC LIMIT 1", loc
        )
        == "appointment"
    )


# -- Twilio ----------------------------------------------------------------------------------


def inbound_sms(sender: str, to: str, body: str = "Is it still available?") -> pb.WebhookEvent:
    sid = f"SM{uuid.uuid4().hex}"
    return twilio_event(
        "twilio.inbound_sms",
        sid,
        {**TWILIO_INBOUND, "MessageSid": sid, "SmsSid": sid, "From": sender, "To": to, "Body": body},
    )


async def test_twilio_inbound_matches_the_location_that_lists_the_number(ingest, ingest_tables) -> None:
    loc = new_location()
    lead, _ = await create_contact(ingest, loc)
    ours = new_phone()
    await own_number(ingest, loc, ours)
    event = inbound_sms(lead.phone, ours, "STOP")
    [result] = await deliver(ingest, event)
    assert (result.outcome, result.lead_id, result.location_id) == ("inbound_message", lead.lead_id, loc)
    kind, lead_id, facts = (await outbox(ingest_tables, loc))[-1]
    assert (kind, lead_id) == (Kind.LEAD_EVENT_KIND_INBOUND_MESSAGE, lead.lead_id)
    assert facts.message == coordinator_pb.MessageFacts(
        channel=common_pb.CHANNEL_SMS,
        body="STOP",  # ingest hands keywords on; the coordinator decides what they revoke
        lead_address=lead.phone,
        our_address=ours,
        provider_message_id=event.provider_event_id,
    )
    assert (await lead_of(ingest, loc, lead.external_contact_id)).sms_consent == lead.sms_consent


async def test_twilio_inbound_without_a_listed_number_uses_the_only_location_with_the_phone(
    ingest, ingest_tables
) -> None:
    loc = new_location()
    lead, _ = await create_contact(ingest, loc)
    national = phonenumbers.format_number(
        phonenumbers.parse(lead.phone), phonenumbers.PhoneNumberFormat.NATIONAL
    )
    [result] = await deliver(ingest, inbound_sms(national, new_phone()))
    assert (result.outcome, result.lead_id, result.location_id) == ("inbound_message", lead.lead_id, loc)


async def test_twilio_inbound_without_one_lead_goes_on_without_a_lead(ingest, ingest_tables) -> None:
    """Never "unmatched, nothing done": the coordinator still acts on an opt-out in it."""
    sender = new_phone()
    [nobody] = await deliver(ingest, inbound_sms(sender, new_phone(), "STOP"))
    assert (nobody.outcome, nobody.lead_id, nobody.location_id) == ("sender_only", "", "")
    phone = new_phone()
    loc_a, loc_b = new_location(), new_location()
    await create_contact(ingest, loc_a, phone=phone)
    await create_contact(ingest, loc_b, phone=phone)
    [both] = await deliver(ingest, inbound_sms(phone, new_phone(), "STOP"))
    assert (both.outcome, both.lead_id) == ("sender_only", "")
    for loc in (loc_a, loc_b):  # LEAD_CREATED, then the text without a lead
        kinds = [(kind, lead_id) for kind, lead_id, _ in await outbox(ingest_tables, loc)]
        assert kinds[1:] == [(Kind.LEAD_EVENT_KIND_INBOUND_MESSAGE, "")]
    loc_c, ours = new_location(), new_phone()
    await own_number(ingest, loc_c, ours)
    [owned] = await deliver(ingest, inbound_sms(phone, ours, "STOP"))
    assert (owned.outcome, owned.lead_id, owned.location_id) == ("sender_only", "", loc_c)
    [(kind, lead_id, facts)] = await outbox(ingest_tables, loc_c)
    assert (kind, lead_id, facts.message.lead_address) == (Kind.LEAD_EVENT_KIND_INBOUND_MESSAGE, "", phone)


async def test_twilio_status_callback_is_a_delivery_status_without_a_lead(ingest, ingest_tables) -> None:
    loc = new_location()
    ours = new_phone()
    [_] = await deliver(ingest, ghl_event({"type": "INSTALL", "locationId": loc}))
    await own_number(ingest, loc, ours)
    sid = f"SM{uuid.uuid4().hex}"
    payload = {
        **TWILIO_STATUS,
        "MessageSid": sid,
        "SmsSid": sid,
        "From": ours,
        "MessageStatus": "undelivered",
        "ErrorCode": "30007",
    }
    [result] = await deliver(ingest, twilio_event("twilio.status_callback", f"{sid}:undelivered", payload))
    assert (result.outcome, result.lead_id, result.location_id) == ("delivery_status", "", loc)
    [(kind, lead_id, facts)] = await outbox(ingest_tables, loc)
    assert (kind, lead_id) == (Kind.LEAD_EVENT_KIND_DELIVERY_STATUS, "")
    assert facts.delivery == coordinator_pb.DeliveryFacts(
        provider_message_id=sid,
        provider_status="undelivered",
        error_code="30007",
        channel=common_pb.CHANNEL_SMS,
    )


# -- SendGrid --------------------------------------------------------------------------------


async def test_sendgrid_sample_batch(ingest, ingest_tables) -> None:
    loc = new_location()
    lead, _ = await create_contact(ingest, loc)
    tag = uuid.uuid4().hex
    batch = []
    for event in SENDGRID:
        changes: dict[str, Any] = {"sg_event_id": f"{event['sg_event_id']}-{tag}", "location_id": loc}
        if event["email"] == "jordan.rivera@example.com":
            changes["lead_id"] = lead.lead_id  # our custom arg, as our sender sets it
        batch.append(sendgrid_event(event, **changes))
    results = await deliver(ingest, *batch)
    outcomes = [(SENDGRID[i]["event"], r.outcome, r.duplicate) for i, r in enumerate(results)]
    assert outcomes == [
        ("processed", "delivery_status", False),
        ("delivered", "delivery_status", False),
        ("open", "behavior_event", False),
        ("click", "behavior_event", False),
        ("delivered", "delivery_status", True),  # the sample's duplicate sg_event_id
        ("bounce", "suppression", False),
        ("dropped", "suppression", False),
        ("spamreport", "suppression", False),
        ("unsubscribe", "suppression", False),
        ("group_unsubscribe", "suppression", False),
        ("deferred", "delivery_status", False),
    ]
    assert results[0].lead_id == results[2].lead_id == lead.lead_id
    assert results[5].lead_id == ""  # bounced.lead@example.com is nobody we know
    events = await ingest.ListLeadEvents(
        pb.ListLeadEventsRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    assert sorted(e.type for e in events.events) == [pb.EVENT_TYPE_EMAIL_OPEN, pb.EVENT_TYPE_EMAIL_CLICK]
    rows = await outbox(ingest_tables, loc)
    suppressed = {
        (f.suppression.address, f.suppression.reason, lead_id)
        for k, lead_id, f in rows
        if k == Kind.LEAD_EVENT_KIND_SUPPRESSION
    }
    assert suppressed == {
        ("bounced.lead@example.com", "SendGrid bounce", ""),
        ("old.unsub@example.com", "SendGrid dropped", ""),
        ("annoyed.lead@example.com", "SendGrid spamreport", ""),
        ("jordan.rivera@example.com", "SendGrid unsubscribe", lead.lead_id),
        ("second.lead@example.com", "SendGrid group_unsubscribe", ""),
    }
    statuses = [f.delivery.provider_status for k, _, f in rows if k == Kind.LEAD_EVENT_KIND_DELIVERY_STATUS]
    assert sorted(statuses) == ["bounce", "deferred", "delivered", "dropped", "processed"]
    assert all(
        f.delivery.channel == common_pb.CHANNEL_EMAIL
        for k, _, f in rows
        if k == Kind.LEAD_EVENT_KIND_DELIVERY_STATUS
    )


async def test_sendgrid_suppression_without_any_location_or_lead(ingest, ingest_tables) -> None:
    event = sendgrid_event(
        SENDGRID[7], sg_event_id=f"spam-{uuid.uuid4()}", email=f"{uuid.uuid4().hex}@example.com"
    )
    [result] = await deliver(ingest, event)
    assert (result.outcome, result.lead_id, result.location_id) == ("suppression", "", "")
    row = await ingest_tables.fetchrow(
        "SELECT * FROM outbox WHERE kind = $1 AND location_id = '' ORDER BY id DESC LIMIT 1",
        Kind.LEAD_EVENT_KIND_SUPPRESSION,
    )
    facts = coordinator_pb.LeadEventEnvelope.FromString(bytes(row["payload"]))
    assert row["lead_id"] is None
    assert facts.suppression.address == json.loads(event.payload)["email"]


async def test_sendgrid_open_for_an_unknown_lead_is_unmatched(ingest) -> None:
    event = sendgrid_event(SENDGRID[2], sg_event_id=f"open-{uuid.uuid4()}", lead_id=str(uuid.uuid4()))
    [result] = await deliver(ingest, event)
    assert result.outcome == "unmatched"


# -- exactly once, all or nothing, envelopes -------------------------------------------------


async def test_fifty_concurrent_deliveries_have_one_effect(ingest, ingest_tables) -> None:
    loc = new_location()
    payload = contact_payload(loc)
    event = ghl_event(payload)
    responses = await asyncio.gather(*(deliver(ingest, event) for _ in range(50)))
    results = [r for [r] in responses]
    assert sum(not r.duplicate for r in results) == 1
    assert {r.outcome for r in results} == {"lead_created"}
    assert len({r.lead_id for r in results}) == 1
    assert (
        await ingest_tables.fetchval(
            "SELECT count(*) FROM inbox WHERE provider = $1 AND provider_event_id = $2",
            GHL,
            event.provider_event_id,
        )
        == 1
    )
    assert await ingest_tables.fetchval("SELECT count(*) FROM leads WHERE location_id = $1", loc) == 1
    assert len(await outbox(ingest_tables, loc)) == 1


async def test_one_malformed_event_does_not_stop_the_others(ingest, ingest_tables) -> None:
    loc = new_location()
    good_one, good_two = contact_payload(loc), contact_payload(loc)
    bad = ghl_event(
        {"type": "ContactCreate", "locationId": loc, "id": "bad", "firstName": "Ok", "email": "not-an-email"}
    )
    results = await deliver(ingest, ghl_event(good_one), bad, ghl_event(good_two))
    assert [r.outcome for r in results] == ["lead_created", "stored_only", "lead_created"]
    assert "lead.email" in results[1].detail
    assert (await inbox_row(ingest_tables, GHL, bad.provider_event_id))["outcome"] == "stored_only"
    assert await ingest_tables.fetchval("SELECT count(*) FROM leads WHERE location_id = $1", loc) == 2
    assert len(await outbox(ingest_tables, loc)) == 2


async def test_envelope_problem_rejects_the_whole_request_and_writes_nothing(ingest, ingest_tables) -> None:
    loc = new_location()
    good = ghl_event(contact_payload(loc))
    bad = pb.WebhookEvent(provider=GHL, provider_event_id="", payload=b"{}")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await deliver(ingest, good, bad)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(caught.value) == "MISSING_FIELD"
    assert await inbox_row(ingest_tables, GHL, good.provider_event_id) is None
    assert await ingest_tables.fetchval("SELECT count(*) FROM locations WHERE location_id = $1", loc) == 0
    too_big = pb.WebhookEvent(provider=SENDGRID_, provider_event_id="big", payload=b" " * ((1 << 20) + 1))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await deliver(ingest, too_big)
    assert error_reason(caught.value) == "FIELD_TOO_LARGE"


async def test_redelivery_reports_the_first_outcome(ingest) -> None:
    loc = new_location()
    event = ghl_event(contact_payload(loc))
    [first] = await deliver(ingest, event)
    [second] = await deliver(ingest, event)
    assert (second.duplicate, second.outcome, second.lead_id) == (True, first.outcome, first.lead_id)


# -- tenants ---------------------------------------------------------------------------------


async def test_the_same_contact_id_in_two_locations_is_two_leads(ingest, ingest_tables) -> None:
    loc_a, loc_b = new_location(), new_location()
    contact_id = f"ct-{uuid.uuid4()}"
    a, _ = await create_contact(ingest, loc_a, contact_id=contact_id, firstName="Ana")
    b, _ = await create_contact(ingest, loc_b, contact_id=contact_id, firstName="Bea")
    assert a.lead_id != b.lead_id
    assert (a.location_id, b.location_id) == (loc_a, loc_b)
    # A change in A touches only A's lead.
    [update] = await deliver(
        ingest,
        ghl_event({"type": "ContactUpdate", "locationId": loc_a, "id": contact_id, "lastName": "Only-A"}),
    )
    assert update.lead_id == a.lead_id
    assert (await lead_of(ingest, loc_b, contact_id)).last_name == b.last_name
    # A message for A's contact is A's; B's outbox hears nothing of it.
    before_b = len(await outbox(ingest_tables, loc_b))
    [message] = await deliver(
        ingest, ghl_event({**GHL_MESSAGE["payload"], "locationId": loc_a, "contactId": contact_id})
    )
    assert message.lead_id == a.lead_id
    assert len(await outbox(ingest_tables, loc_b)) == before_b
    # Deleting B's contact leaves A's.
    [deleted] = await deliver(
        ingest, ghl_event({"type": "ContactDelete", "locationId": loc_b, "id": contact_id})
    )
    assert deleted.lead_id == b.lead_id
    assert (await lead_of(ingest, loc_a, contact_id)).first_name == "Ana"


async def test_a_lead_id_from_another_location_is_not_matched(ingest, ingest_tables) -> None:
    loc_a, loc_b = new_location(), new_location()
    a, _ = await create_contact(ingest, loc_a)
    opened = sendgrid_event(
        SENDGRID[2], sg_event_id=f"open-{uuid.uuid4()}", lead_id=a.lead_id, location_id=loc_b
    )
    [result] = await deliver(ingest, opened)
    assert (result.outcome, result.lead_id) == ("unmatched", "")
    events = await ingest.ListLeadEvents(
        pb.ListLeadEventsRequest(lead_id=a.lead_id, location_id=loc_a), timeout=5
    )
    assert list(events.events) == []


async def test_external_id_lookup_never_crosses_tenants(ingest) -> None:
    loc_a = new_location()
    _, payload = await create_contact(ingest, loc_a)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await lead_of(ingest, new_location(), payload["id"])
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_gateway_location_must_match_the_payload(ingest, ingest_tables) -> None:
    loc_a, loc_b = new_location(), new_location()
    event = ghl_event(contact_payload(loc_a), location_id=loc_b)
    [result] = await deliver(ingest, event)
    assert (result.outcome, result.location_id) == ("stored_only", loc_b)
    assert (
        await ingest_tables.fetchval(
            "SELECT count(*) FROM leads WHERE location_id = ANY($1::text[])", [loc_a, loc_b]
        )
        == 0
    )
