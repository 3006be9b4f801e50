"""Which lead and location an inbound provider event belongs to. Pure: the recorder looks the
candidates up (repository.leads, repository.inbox) and these rules decide between them.

A rule that finds nothing raises Unmatched: the event is well formed but names
no lead (or location) we know; it is stored with that reason.
"""

from __future__ import annotations

from leadengine.common.v1 import common_pb2 as common_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb

from services.ingest.repository.leads import StoredLead
from shared import contact
from shared.errors import InvalidArgument


class Unmatched(Exception):
    """The event is well formed but names no lead (or location) we know."""

    def __init__(self, detail: str, location_id: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.location_id = location_id


def contact_lead(lead: StoredLead | None, location_id: str, contact_id: str, *, live: bool) -> StoredLead:
    """The lead a CRM contact is, never another tenant's; with live, never a deleted one."""
    if lead is None or (live and lead.delete_time is not None):
        raise Unmatched(f"no lead for contact {contact_id} in location {location_id}", location_id)
    return lead


def number_key(number: str) -> str:
    """Our number as profiles store it (E.164); "" when it is not a phone number."""
    try:
        return contact.normalize_phone(number, "To")
    except InvalidArgument:
        return ""


def sender_only_detail(locations: list[str], our_number: str, *, owned: bool) -> str:
    """Why an inbound text went on without a lead (the coordinator still acts on an opt-out)."""
    if owned:
        return f"no lead of location {locations[0]} has the sender's phone; sent on for opt-out only"
    if not locations:
        return f"no location lists the number {our_number or '(none)'} and no lead has the sender's phone"
    return (
        f"no location lists the number {our_number or '(none)'} and leads of {len(locations)} locations"
        " have the sender's phone; sent on to each for opt-out only"
    )


def custom_arg_lead(lead: StoredLead | None, location_id: str) -> StoredLead | None:
    """The live lead our lead_id custom arg names, unless it is another location's."""
    if lead is not None and (not location_id or lead.location_id == location_id):
        return lead
    return None


def engaged_lead(lead: StoredLead | None, email: str) -> StoredLead:
    """An open or click counts only for a lead we found."""
    if lead is None:
        raise Unmatched(f"no lead for SendGrid event to {email or 'an unknown address'}")
    return lead


def with_lead_address(facts: coordinator_pb.MessageFacts, lead: StoredLead) -> coordinator_pb.MessageFacts:
    """The message's facts, the lead's own address filled in where the CRM left it out."""
    result = coordinator_pb.MessageFacts()
    result.CopyFrom(facts)
    if not result.lead_address:
        result.lead_address = (
            lead.fields.phone if result.channel == common_pb.CHANNEL_SMS else lead.fields.email
        )
    return result
