"""Stored leads and events as ingest protos: the one conversion GetLead, ListLeads and the outbox's
lead snapshot all use."""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest.repository.events import StoredEvent
from services.ingest.repository.leads import StoredLead
from services.ingest.repository.locations import StoredLocation
from shared import timestamps


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(value)
    return result


def lead_to_proto(lead: StoredLead) -> pb.Lead:
    f = lead.fields
    return pb.Lead(
        lead_id=str(lead.lead_id),
        location_id=lead.location_id,
        external_contact_id=f.external_contact_id or "",
        first_name=f.first_name,
        last_name=f.last_name,
        email=f.email,
        phone=f.phone,
        timezone=f.timezone,
        company=f.company,
        city=f.city,
        state=f.state,
        country=f.country,
        job_title=f.job_title,
        seniority=f.seniority,
        source=pb.LeadSource.ValueType(f.source),
        tags=list(f.tags),
        custom_fields=_struct(f.custom_fields),
        sms_consent=f.sms_consent,
        email_consent=f.email_consent,
        create_time=timestamps.to_proto(lead.create_time),
        update_time=timestamps.to_proto(lead.update_time),
        delete_time=timestamps.to_proto(lead.delete_time),
        last_activity_time=timestamps.to_proto(lead.last_activity_time),
        budget_usd=f.budget_usd,
        timeline_months=f.timeline_months,
        preapproved=f.preapproved,
        sms_dnd=f.sms_dnd,
        email_dnd=f.email_dnd,
        postal_code=f.postal_code,
        preferred_language=f.preferred_language,
        intent=pb.LeadIntent.ValueType(f.intent),
    )


def event_to_proto(event: StoredEvent) -> pb.LeadEvent:
    return pb.LeadEvent(
        event_id=event.event_id,
        lead_id=str(event.lead_id),
        location_id=event.location_id,
        type=event.type,
        occurred_time=timestamps.to_proto(event.occurred_time),
        record_time=timestamps.to_proto(event.record_time),
        listing_id=event.listing_id,
        listing_price_usd=event.listing_price_usd,
        properties=_struct(event.properties),
    )


def location_to_proto(location: StoredLocation) -> pb.Location:
    f = location.fields
    return pb.Location(
        location_id=location.location_id,
        name=f.name,
        brand_name=f.brand_name,
        time_zone=f.time_zone,
        postal_address=f.postal_address,
        sms_from_numbers=list(f.sms_from_numbers),
        email_from=f.email_from,
        create_time=timestamps.to_proto(location.create_time),
        update_time=timestamps.to_proto(location.update_time),
    )
