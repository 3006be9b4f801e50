"""Reading provider webhook payloads into actions: the providers' sample payloads, and anything else."""

from __future__ import annotations

import json
import urllib.parse
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadengine.common.v1 import common_pb2 as common_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest import webhooks
from services.ingest.webhooks import ghl as ghl_webhooks
from services.ingest.webhooks.envelope import inbox_events
from shared.errors import InvalidArgument

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
GHL_CONTACT = json.loads((VECTORS / "ghl_contact_create.json").read_text())["payload"]
GHL_MESSAGE = json.loads((VECTORS / "ghl_inbound_message.json").read_text())
TWILIO_INBOUND = json.loads((VECTORS / "twilio_inbound_sms.json").read_text())["payload"]
TWILIO_STATUS = json.loads((VECTORS / "twilio_status_callback.json").read_text())
SENDGRID = json.loads((VECTORS / "sendgrid_events.json").read_text())["payload"]
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
LOC = GHL_CONTACT["locationId"]
# The samples use fictional 555-01xx numbers, which no carrier can dial; real ones look like this.
PHONE = "+15125550123"


def ghl(payload: dict[str, Any], location_id: str = "") -> webhooks.Parsed:
    return webhooks.parse(
        pb.PROVIDER_GHL, payload.get("type", ""), json.dumps(payload).encode(), location_id, NOW
    )


def contact(**changes: Any) -> dict[str, Any]:
    return {**GHL_CONTACT, "phone": PHONE, **changes}


def test_contact_create_sample_maps_every_carried_field() -> None:
    parsed = ghl(contact())
    action = parsed.action
    assert isinstance(action, webhooks.LeadUpsert)
    assert parsed.location_id == LOC
    assert parsed.occurred == datetime(2026, 11, 25, 9, 46, 32, 4000, tzinfo=UTC)
    f = action.fields
    assert action.external_id == f.external_contact_id == "Ct8hR3kLm2Np5Qs7Tv9W"
    assert (f.first_name, f.last_name, f.email, f.phone) == (
        "Jordan",
        "Rivera",
        "jordan.rivera@example.com",
        PHONE,
    )
    assert (f.city, f.state, f.country, f.timezone) == ("Tampa", "FL", "US", "America/New_York")
    assert f.tags == ("buyer", "new-lead", "tampa")
    assert f.custom_fields == {"Cf1PriceMaxX0a1b2c3d4": 450000, "Cf2TimelineY5e6f7g8h9": "0-3 months"}
    assert f.source == pb.LEAD_SOURCE_PORTAL  # "zillow-premier-agent"
    assert (f.sms_dnd, f.email_dnd) == (False, False)
    assert action.create_only == {"source"}
    assert {"first_name", "phone", "tags", "custom_fields", "sms_dnd", "email_dnd"} <= action.paths


def test_sample_with_its_undialable_phone_is_a_payload_error_naming_the_field() -> None:
    with pytest.raises(webhooks.PayloadError, match=r"lead\.phone") as caught:
        ghl(GHL_CONTACT)
    assert caught.value.location_id == LOC  # still known, so the location is registered


def test_partial_update_names_only_what_it_carries() -> None:
    parsed = ghl({"type": "ContactUpdate", "locationId": LOC, "id": "c1", "email": "New@Example.com"})
    action = parsed.action
    assert isinstance(action, webhooks.LeadUpsert)
    assert action.paths == {"email", "source"}  # source is create-only
    assert action.fields.email == "new@example.com"


def test_null_never_blanks_and_name_fills_in_for_missing_first_and_last() -> None:
    parsed = ghl(
        {"type": "ContactUpdate", "locationId": LOC, "id": "c1", "email": None, "name": "Ana de Souza"}
    )
    action = parsed.action
    assert isinstance(action, webhooks.LeadUpsert)
    assert "email" not in action.paths
    assert (action.fields.first_name, action.fields.last_name) == ("Ana", "de Souza")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"dnd": True}, {"sms_dnd": True, "email_dnd": True}),
        ({"dnd": False}, {"sms_dnd": False, "email_dnd": False}),
        ({"dndSettings": {"SMS": {"status": "active"}}}, {"sms_dnd": True}),
        ({"dndSettings": {"Email": {"status": "permanent"}}}, {"email_dnd": True}),
        (
            {"dndSettings": {"SMS": {"status": "inactive"}, "Email": {"status": "active"}}},
            {"sms_dnd": False, "email_dnd": True},
        ),
        ({"dnd": False, "dndSettings": {"SMS": {"status": "active"}}}, {"sms_dnd": True, "email_dnd": False}),
        ({}, {}),
    ],
)
def test_dnd_settings_become_dnd_facts(extra: dict[str, Any], expected: dict[str, bool]) -> None:
    action = ghl({"type": "ContactUpdate", "locationId": LOC, "id": "c1", **extra}).action
    assert isinstance(action, webhooks.LeadUpsert)
    assert {k: getattr(action.fields, k) for k in ("sms_dnd", "email_dnd") if k in action.paths} == expected


def test_dnd_update_without_dnd_means_off() -> None:
    action = ghl({"type": "ContactDndUpdate", "locationId": LOC, "id": "c1"}).action
    assert isinstance(action, webhooks.LeadUpsert)
    assert {"sms_dnd", "email_dnd"} <= action.paths
    assert not action.fields.sms_dnd


def test_tag_update_carries_the_full_list() -> None:
    action = ghl({"type": "ContactTagUpdate", "locationId": LOC, "id": "c1", "tags": ["Hot", "buyer"]}).action
    assert isinstance(action, webhooks.LeadUpsert)
    assert action.fields.tags == ("hot", "buyer")


def test_contact_delete() -> None:
    action = ghl({"type": "ContactDelete", "locationId": LOC, "id": "c9"}).action
    assert action == webhooks.LeadDelete("c9")


def test_inbound_sms_sample() -> None:
    parsed = ghl(GHL_MESSAGE["payload"])
    action = parsed.action
    assert isinstance(action, webhooks.ContactMessage)
    assert action.inbound
    assert action.contact_id == "Ct8hR3kLm2Np5Qs7Tv9W"
    assert action.facts.channel == common_pb.CHANNEL_SMS
    assert action.facts.body.startswith("Yes! Is 412 Palm Ave")
    assert action.facts.provider_message_id == "Mg2sA4dF6gH8jK1lZ3xC"
    assert action.facts.lead_address == ""  # filled from the lead


def test_inbound_email_variant_reads_addresses() -> None:
    action = ghl({**GHL_MESSAGE["payload"], **GHL_MESSAGE["variants"]["email"]}).action
    assert isinstance(action, webhooks.ContactMessage)
    assert action.facts.channel == common_pb.CHANNEL_EMAIL
    assert action.facts.subject == "Re: 412 Palm Ave"
    assert (action.facts.lead_address, action.facts.our_address) == (
        "jordan.rivera@example.com",
        "agent@realty.example.com",
    )


def test_outbound_email_swaps_the_addresses() -> None:
    payload = {**GHL_MESSAGE["payload"], **GHL_MESSAGE["variants"]["email"], "type": "OutboundMessage"}
    payload["from"], payload["to"] = "agent@realty.example.com", ["jordan.rivera@example.com"]
    action = ghl(payload).action
    assert isinstance(action, webhooks.ContactMessage)
    assert not action.inbound
    assert action.facts.lead_address == "jordan.rivera@example.com"


def test_calls_are_stored_without_action() -> None:
    action = ghl({**GHL_MESSAGE["payload"], **GHL_MESSAGE["variants"]["missed_call_voicemail"]}).action
    assert isinstance(action, webhooks.NoAction)


@pytest.mark.parametrize(
    "kind", ["OpportunityCreate", "TaskCreate", "NoteUpdate", "PlanChange", "SomethingNew"]
)
def test_other_types_are_stored_only(kind: str) -> None:
    parsed = ghl({"type": kind, "locationId": LOC, "id": "x"})
    assert parsed.action == webhooks.NoAction(f"no action for {kind}")
    assert parsed.location_id == LOC


def test_appointment_becomes_an_appointment_event() -> None:
    payload = {
        "type": "AppointmentCreate",
        "locationId": LOC,
        "appointment": {"id": "ap1", "contactId": "c1", "appointmentStatus": "confirmed", "startTime": "x"},
    }
    action = ghl(payload).action
    assert isinstance(action, webhooks.ContactEvent)
    assert (action.contact_id, action.type) == ("c1", pb.EVENT_TYPE_APPOINTMENT)
    assert action.properties == {
        "ghl_type": "AppointmentCreate",
        "appointment_id": "ap1",
        "status": "confirmed",
        "start_time": "x",
    }


def test_location_must_agree_with_the_gateway() -> None:
    with pytest.raises(webhooks.PayloadError, match="differs"):
        ghl(contact(), location_id="another-location")
    assert ghl(contact(), location_id=LOC).location_id == LOC


@pytest.mark.parametrize(
    "payload",
    [b"", b"[]", b"not json", b'{"type": "ContactCreate", "locationId": "L", "id": 5}', b'{"x": NaN}'],
)
def test_unreadable_ghl_payloads_are_payload_errors(payload: bytes) -> None:
    with pytest.raises(webhooks.PayloadError):
        webhooks.parse(pb.PROVIDER_GHL, "ContactCreate", payload, "", NOW)


def test_nul_characters_are_refused_anywhere_in_json() -> None:
    payload = json.dumps(contact(customFields=[{"id": "a", "value": {"deep": ["x\x00"]}}])).encode()
    with pytest.raises(webhooks.PayloadError, match="NUL"):
        webhooks.parse(pb.PROVIDER_GHL, "ContactCreate", payload, "", NOW)


def form(values: dict[str, Any]) -> bytes:
    return urllib.parse.urlencode({k: v for k, v in values.items() if v is not None}).encode()


def test_twilio_inbound_sms() -> None:
    body = form({**TWILIO_INBOUND, "From": "(512) 555-0123"})
    parsed = webhooks.parse(pb.PROVIDER_TWILIO, webhooks.TWILIO_INBOUND, body, "", NOW)
    action = parsed.action
    assert isinstance(action, webhooks.SmsInbound)
    assert parsed.location_id == ""  # ingest finds it from the number
    assert (action.facts.lead_address, action.facts.our_address) == (PHONE, "+15555550100")
    assert action.facts.provider_message_id == TWILIO_INBOUND["MessageSid"]
    assert action.facts.body == TWILIO_INBOUND["Body"]


def test_twilio_status_callbacks() -> None:
    payload = {**TWILIO_STATUS["payload"], **TWILIO_STATUS["variants"]["undelivered_carrier_filtered"]}
    action = webhooks.parse(pb.PROVIDER_TWILIO, webhooks.TWILIO_STATUS, form(payload), "", NOW).action
    assert isinstance(action, webhooks.SmsStatus)
    assert (action.delivery.provider_status, action.delivery.error_code) == ("undelivered", "30007")
    assert action.delivery.channel == common_pb.CHANNEL_SMS
    assert action.our_number == "+15555550100"


def sendgrid(event: dict[str, Any]) -> webhooks.Parsed:
    return webhooks.parse(pb.PROVIDER_SENDGRID, event.get("event", ""), json.dumps(event).encode(), "", NOW)


def test_sendgrid_sample_events() -> None:
    got = {}
    for event in SENDGRID:
        action = sendgrid(event).action
        got[event["event"]] = action
    assert isinstance(got["delivered"], webhooks.EmailEvent)
    assert got["delivered"].delivery.provider_message_id.startswith("Q9x3bVtHRz6KxS0mPq1eWw")
    assert got["delivered"].suppression is None
    assert got["open"].behavior == pb.EVENT_TYPE_EMAIL_OPEN
    assert got["click"].properties["url"].startswith("https://realty.example.com/listings/")
    assert got["bounce"].suppression.address == "bounced.lead@example.com"
    assert got["bounce"].delivery.error_code == "5.1.1"
    assert got["spamreport"].suppression.reason == "SendGrid spamreport"
    assert got["spamreport"].delivery is None
    for name in ("dropped", "unsubscribe", "group_unsubscribe"):
        assert got[name].suppression.channel == common_pb.CHANNEL_EMAIL
    assert got["deferred"].delivery.provider_status == "deferred"
    assert got["processed"].lead_id is None  # "lead_01JDZ8Q4" is not one of our ids


def test_sendgrid_reads_our_custom_args() -> None:
    lead_id = uuid.uuid4()
    parsed = sendgrid({**SENDGRID[2], "lead_id": str(lead_id), "location_id": "loc-1"})
    assert parsed.location_id == "loc-1"
    assert isinstance(parsed.action, webhooks.EmailEvent)
    assert parsed.action.lead_id == lead_id
    assert parsed.occurred == datetime.fromtimestamp(SENDGRID[2]["timestamp"], UTC)


def test_sendgrid_machine_opens_and_blocks_do_nothing() -> None:
    assert isinstance(sendgrid({**SENDGRID[2], "sg_machine_open": True}).action, webhooks.NoAction)
    blocked = sendgrid({**SENDGRID[5], "type": "blocked"}).action
    assert isinstance(blocked, webhooks.EmailEvent)
    assert blocked.suppression is None
    assert blocked.delivery is not None


def test_sendgrid_suppression_needs_an_email() -> None:
    with pytest.raises(webhooks.PayloadError, match="email"):
        sendgrid({**SENDGRID[7], "email": "not-an-address"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
ghl_keys = st.sampled_from(
    [
        "type",
        "locationId",
        "id",
        "contactId",
        "firstName",
        "phone",
        "email",
        "tags",
        "customFields",
        "dnd",
        "dndSettings",
        "messageType",
        "body",
        "appointment",
        "timestamp",
        "country",
        "to",
        "from",
    ]
)
providers = st.sampled_from([pb.PROVIDER_GHL, pb.PROVIDER_TWILIO, pb.PROVIDER_SENDGRID])
event_types = st.sampled_from(
    [
        "ContactCreate",
        "ContactDelete",
        "ContactDndUpdate",
        "InboundMessage",
        "OutboundMessage",
        "AppointmentCreate",
        "NoteCreate",
        webhooks.TWILIO_INBOUND,
        webhooks.TWILIO_STATUS,
        "open",
        "bounce",
        "",
    ]
)


@given(providers, event_types, st.binary(max_size=300), st.sampled_from(["", "L1"]))
def test_any_bytes_parse_or_raise_payload_error(provider: int, kind: str, payload: bytes, loc: str) -> None:
    try:
        parsed = webhooks.parse(provider, kind, payload, loc, NOW)
    except webhooks.PayloadError as err:
        detail = err.detail
    else:
        assert parsed.location_id in ("", "L1")
        return
    assert detail  # stored with a reason, never silently


@given(providers, event_types, st.dictionaries(ghl_keys, json_values, max_size=8))
def test_any_json_object_parses_or_raises_payload_error(
    provider: int, kind: str, obj: dict[str, Any]
) -> None:
    payload = json.dumps(obj).encode()
    try:
        parsed = webhooks.parse(provider, kind, payload, "", NOW)
    except webhooks.PayloadError:
        return
    assert parsed.occurred.tzinfo is not None


@pytest.mark.parametrize(
    ("event", "path"),
    [
        (pb.WebhookEvent(provider_event_id="a"), "events[0].provider"),
        (pb.WebhookEvent(provider=99, provider_event_id="a"), "events[0].provider"),
        (pb.WebhookEvent(provider=pb.PROVIDER_GHL, provider_event_id="  "), "events[0].provider_event_id"),
        (
            pb.WebhookEvent(provider=pb.PROVIDER_GHL, provider_event_id="a" * 257),
            "events[0].provider_event_id",
        ),
        (pb.WebhookEvent(provider=pb.PROVIDER_GHL, provider_event_id="a\x00"), "events[0].provider_event_id"),
        (
            pb.WebhookEvent(provider=pb.PROVIDER_GHL, provider_event_id="a", payload=b"x" * (1 << 20 | 1)),
            "events[0].payload",
        ),
        (
            pb.WebhookEvent(provider=pb.PROVIDER_GHL, provider_event_id="a", location_id="l" * 201),
            "events[0].location_id",
        ),
    ],
)
def test_envelope_problems_name_the_field(event: pb.WebhookEvent, path: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        inbox_events(pb.RecordWebhookRequest(events=[event]))
    assert caught.value.violations[0].field == path


def test_a_full_size_payload_is_accepted() -> None:
    event = pb.WebhookEvent(
        provider=pb.PROVIDER_SENDGRID, provider_event_id="a" * 256, payload=b"x" * (1 << 20)
    )
    assert inbox_events(pb.RecordWebhookRequest(events=[event]))[0].provider_event_id == "a" * 256


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("zillow-premier-agent", pb.LEAD_SOURCE_PORTAL),
        ("Realtor.com", pb.LEAD_SOURCE_PORTAL),
        ("Past client referral", pb.LEAD_SOURCE_REFERRAL),
        ("Open House 5/12", pb.LEAD_SOURCE_OPEN_HOUSE),
        ("Website form", pb.LEAD_SOURCE_WEB_FORM),
        ("", pb.LEAD_SOURCE_GHL),
        (None, pb.LEAD_SOURCE_GHL),
    ],
)
def test_ghl_source_text_maps_to_a_lead_source(text: str | None, source: int) -> None:
    assert ghl_webhooks.source_of(text) == source
