"""A STOP from a number two leads in two locations share is never lost (issue #9).

All five services in-process on real PostgreSQL. The text enters as Twilio's inbound
webhook through IngestService.RecordWebhook, travels ingest's outbox and reaches the
coordinator, as in production; GetConsent then answers for each lead.
"""

from __future__ import annotations

import uuid

import asyncpg
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from tests.journeys import eventually, started_lead, unique_phone
from tests.relay import eventually as until
from tests.support import Mesh, location_of
from tests.webhooks import twilio_inbound

SMS = common_pb2.CHANNEL_SMS


async def text(m: Mesh, sender: str, to: str, body: str) -> ingest_pb.WebhookResult:
    events = [twilio_inbound(sender, to, body)]
    resp = await m.clients.ingest.RecordWebhook(ingest_pb.RecordWebhookRequest(events=events), timeout=10)
    [result] = resp.results
    return result


async def consent_of(m: Mesh, lead_id: str) -> pb.Consent:
    resp = await m.clients.coordinator.GetConsent(
        pb.GetConsentRequest(lead_id=lead_id, location_id=await location_of(m, lead_id)), timeout=5
    )
    return resp.consent


async def own(m: Mesh, location_id: str, number: str) -> None:
    await m.clients.ingest.UpdateLocation(
        ingest_pb.UpdateLocationRequest(
            location=ingest_pb.Location(location_id=location_id, sms_from_numbers=[number])
        ),
        timeout=5,
    )


async def sms_waiting(m: Mesh, lead_id: str) -> list[pb.Communication]:
    resp = await m.clients.coordinator.ListCommunications(
        pb.ListCommunicationsRequest(lead_id=lead_id, location_id=await location_of(m, lead_id)), timeout=5
    )
    return [
        c for c in resp.communications if c.channel == SMS and c.status == pb.COMMUNICATION_STATUS_SCHEDULED
    ]


async def two_leads_sharing_a_phone(m: Mesh) -> tuple[str, ingest_pb.Lead, ingest_pb.Lead]:
    phone = unique_phone()
    first = await started_lead(m, phone=phone)
    second = await started_lead(m, phone=phone)
    assert first.location_id != second.location_id
    for lead in (first, second):
        assert not (await consent_of(m, lead.lead_id)).sms_opted_out
    return phone, first, second


async def opted_out(m: Mesh, *leads: ingest_pb.Lead) -> None:
    for lead in leads:
        await eventually(
            lambda lead=lead: consent_of(m, lead.lead_id),
            lambda c: c.sms_opted_out,
            f"{lead.lead_id} opted out",
        )


async def test_stop_to_a_number_no_location_owns_opts_out_every_lead_with_the_phone(m: Mesh) -> None:
    """The defect as reported: stored "unmatched", nothing suppressed."""
    phone, first, second = await two_leads_sharing_a_phone(m)
    waiting = {c.communication_id for lead in (first, second) for c in await sms_waiting(m, lead.lead_id)}
    result = await text(m, phone, unique_phone(), "STOP")
    assert (result.outcome, result.lead_id) == ("sender_only", "")
    await opted_out(m, first, second)
    # The texts that were waiting are blocked, whichever location they belong to.
    still = {c.communication_id for lead in (first, second) for c in await sms_waiting(m, lead.lead_id)}
    assert not waiting & still


async def test_stop_to_a_location_number_is_that_locations_lead_and_suppresses_the_number(m: Mesh) -> None:
    phone, first, second = await two_leads_sharing_a_phone(m)
    ours = unique_phone()
    await own(m, first.location_id, ours)
    result = await text(m, phone, ours, "Stop.")
    assert (result.outcome, result.lead_id, result.location_id) == (
        "inbound_message",
        first.lead_id,
        first.location_id,
    )
    await opted_out(m, first, second)

    async def journey() -> pb.Journey:
        resp = await m.clients.coordinator.GetJourney(
            pb.GetJourneyRequest(lead_id=first.lead_id, location_id=first.location_id), timeout=5
        )
        return resp.journey

    # The consent is revoked first, then the journey stopped: wait for the handling to finish.
    await eventually(journey, lambda j: j.stop_reason == "lead opted out", "the journey stopped")


async def test_stop_to_a_location_with_no_lead_for_the_phone_still_suppresses_it(m: Mesh) -> None:
    phone, first, second = await two_leads_sharing_a_phone(m)
    other_location, ours = f"loc-{uuid.uuid4()}", unique_phone()
    await own(m, other_location, ours)
    result = await text(m, phone, ours, "UNSUBSCRIBE")
    assert (result.outcome, result.location_id) == ("sender_only", other_location)
    await opted_out(m, first, second)


async def test_a_reply_that_is_no_opt_out_from_a_shared_phone_changes_no_consent(
    m: Mesh, migrated_dsn
) -> None:
    phone, first, second = await two_leads_sharing_a_phone(m)
    result = await text(m, phone, unique_phone(), "Is 12 Oak St still available?")
    assert result.outcome == "sender_only"
    conn = await asyncpg.connect(migrated_dsn, server_settings={"search_path": "ingest"})
    try:

        async def delivered() -> bool:
            left = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE location_id = ANY($1::text[]) AND published_time IS NULL",
                [first.location_id, second.location_id],
            )
            return left == 0

        await until(delivered)  # the coordinator acknowledged it: it has acted, or decided not to
    finally:
        await conn.close()
    for lead in (first, second):
        assert not (await consent_of(m, lead.lead_id)).sms_opted_out
