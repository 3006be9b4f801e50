"""Generated webhook events: RecordWebhook answers OK for any payload (INVALID_ARGUMENT only for a
bad envelope), stores every accepted event, and an event stored without effect changed nothing else."""

from __future__ import annotations

import json
import urllib.parse
import uuid

import grpc
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from tests.support import error_reason

NO_EFFECT = {"stored_only", "unmatched"}


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=16,
)
phones = st.sampled_from(["+13035551234", "(415) 555-0199", "+15555550123", "12", ""])
emails = st.sampled_from(["a@example.com", "A.B@Example.COM", "nope", ""])
# Plausible contacts: the right types, values good or bad, so some events create leads and some
# fail part-way through normalising.
ghl_contact = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["ContactCreate", "ContactUpdate", "ContactDndUpdate", "ContactTagUpdate"]),
        "id": st.sampled_from(["c1", "c2", "c3"]),
    },
    optional={
        "firstName": st.text(max_size=20),
        "phone": phones,
        "email": emails,
        "country": st.sampled_from(["US", "usa", "CA"]),
        "timezone": st.sampled_from(["America/Chicago", "Mars/Base"]),
        "tags": st.lists(st.text(max_size=12), max_size=4),
        "customFields": st.lists(
            st.fixed_dictionaries({"id": st.text(min_size=1, max_size=5), "value": json_values})
        ),
        "dnd": st.booleans(),
        "dndSettings": st.fixed_dictionaries(
            {}, optional={"SMS": st.fixed_dictionaries({"status": st.sampled_from(["active", "inactive"])})}
        ),
    },
)
ghl_wild_contact = st.fixed_dictionaries(
    {"type": st.sampled_from(["ContactCreate", "ContactUpdate", "ContactDndUpdate", "ContactTagUpdate"])},
    optional={
        "id": st.sampled_from(["c1", "c2"]) | json_values,
        "firstName": st.text(max_size=20) | json_values,
        "phone": phones | json_values,
        "email": emails | json_values,
        "country": st.sampled_from(["US", "usa", "CA"]) | json_values,
        "timezone": st.sampled_from(["America/Chicago", "Mars/Base"]) | json_values,
        "tags": st.lists(st.text(max_size=12), max_size=4) | json_values,
        "customFields": st.lists(st.fixed_dictionaries({"id": st.text(max_size=5), "value": json_values}))
        | json_values,
        "dnd": st.booleans() | json_values,
        "dndSettings": st.fixed_dictionaries(
            {}, optional={"SMS": st.fixed_dictionaries({"status": st.sampled_from(["active", "inactive"])})}
        )
        | json_values,
    },
)
ghl_other = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["ContactDelete", "InboundMessage", "OutboundMessage", "AppointmentCreate", "TaskCreate", "Odd"]
        )
    },
    optional={
        "id": st.sampled_from(["c1", "c2"]) | json_values,
        "contactId": st.sampled_from(["c1", "c2"]) | json_values,
        "messageType": st.sampled_from(["SMS", "Email", "CALL"]) | json_values,
        "body": st.text(max_size=40) | json_values,
        "appointment": st.fixed_dictionaries({"contactId": st.sampled_from(["c1", "c2"])}) | json_values,
    },
)
sendgrid = st.fixed_dictionaries(
    {"event": st.sampled_from(["delivered", "open", "click", "bounce", "spamreport", "group_resubscribe"])},
    optional={
        "email": emails | json_values,
        "sg_message_id": st.text(max_size=20) | json_values,
        "lead_id": st.sampled_from([str(uuid.UUID(int=1)), "lead_x"]) | json_values,
        "timestamp": json_values,
        "type": st.sampled_from(["bounce", "blocked"]),
    },
)
twilio_form = st.dictionaries(
    st.sampled_from(["From", "To", "Body", "MessageSid", "MessageStatus", "ErrorCode", "Other"]),
    st.sampled_from(["+13035551234", "SMabc", "delivered", ""]) | st.text(max_size=20),
)


@st.composite
def webhook(draw: st.DrawFn, location_id: str) -> tuple[pb.WebhookEvent, bool]:
    """(event, whether its envelope is valid)."""
    provider, kind, payload = draw(
        st.one_of(
            st.tuples(st.just(pb.PROVIDER_GHL), st.none(), ghl_contact | ghl_wild_contact | ghl_other),
            st.tuples(
                st.just(pb.PROVIDER_SENDGRID),
                st.sampled_from(["open", "bounce", ""]),
                sendgrid | st.dictionaries(st.text(max_size=8), json_values, max_size=5),
            ),
            st.tuples(
                st.just(pb.PROVIDER_TWILIO),
                st.sampled_from(["twilio.inbound_sms", "twilio.status_callback", "other"]),
                twilio_form,
            ),
            st.tuples(
                st.sampled_from(list(pb.Provider.values())), st.text(max_size=20), st.binary(max_size=200)
            ),
        )
    )
    if isinstance(payload, dict) and provider == pb.PROVIDER_GHL:
        payload["locationId"] = draw(st.sampled_from([location_id, None, "elsewhere"]))
        kind = payload["type"]
    if provider == pb.PROVIDER_TWILIO and isinstance(payload, dict):
        raw = urllib.parse.urlencode(payload).encode()
    elif isinstance(payload, dict):
        raw = json.dumps(payload).encode()
    else:
        raw = payload
    event_id = draw(st.sampled_from(["fresh"] * 9 + ["", "x\x00y", "i" * 257]))
    # event_type is part of the envelope too: PostgreSQL text cannot hold NUL.
    valid = provider != pb.PROVIDER_UNSPECIFIED and event_id == "fresh" and "\x00" not in (kind or "")
    return (
        pb.WebhookEvent(
            provider=provider,
            provider_event_id=str(uuid.uuid4()) if event_id == "fresh" else event_id,
            event_type=kind or "",
            payload=raw,
            location_id=location_id if provider == pb.PROVIDER_GHL else "",
        ),
        valid,
    )


async def totals(ingest_tables) -> tuple[int, int, int]:
    row = await ingest_tables.fetchrow(
        "SELECT (SELECT count(*) FROM inbox) AS inbox, (SELECT count(*) FROM leads) AS leads,"
        " (SELECT count(*) FROM outbox) AS outbox"
    )
    return row["inbox"], row["leads"], row["outbox"]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_any_event_is_stored_and_a_stored_only_one_changes_nothing_else(
    ingest, ingest_tables, data
) -> None:
    location_id = f"fuzz-{uuid.uuid4()}"
    webhook_event, valid = data.draw(webhook(location_id))
    inbox_before, leads_before, outbox_before = await totals(ingest_tables)
    try:
        resp = await ingest.RecordWebhook(pb.RecordWebhookRequest(events=[webhook_event]), timeout=10)
    except grpc.aio.AioRpcError as err:
        failure = err
    else:
        failure = None
    if failure is not None:
        assert not valid, f"{failure.code()}: {failure.details()}"
        assert failure.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_reason(failure)
        assert await totals(ingest_tables) == (inbox_before, leads_before, outbox_before)
        event("envelope rejected")
        return
    assert valid
    [result] = resp.results
    event(result.outcome)
    assert not result.duplicate
    stored = await ingest_tables.fetchrow(
        "SELECT outcome, payload FROM inbox WHERE provider = $1 AND provider_event_id = $2",
        webhook_event.provider,
        webhook_event.provider_event_id,
    )
    assert stored["outcome"] == result.outcome
    inbox_after, leads_after, outbox_after = await totals(ingest_tables)
    assert inbox_after == inbox_before + 1
    if result.outcome in NO_EFFECT:
        assert result.detail
        assert (leads_after, outbox_after) == (leads_before, outbox_before)
        assert bytes(stored["payload"]) == webhook_event.payload
    elif result.outcome == "lead_created":
        assert leads_after == leads_before + 1
        assert outbox_after > outbox_before
    else:
        assert leads_after == leads_before
