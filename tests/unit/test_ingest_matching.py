"""Which lead and location an inbound event belongs to (services.ingest.matching)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from leadengine.common.v1 import common_pb2 as common_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb

from services.ingest import matching
from services.ingest.leads import LeadFields
from services.ingest.matching import Unmatched
from services.ingest.repository.leads import StoredLead

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def lead(location_id: str = "loc-a", *, deleted: bool = False) -> StoredLead:
    return StoredLead(
        lead_id=uuid.uuid4(),
        location_id=location_id,
        fields=LeadFields(phone="+15125550123", email="ida@example.com"),
        create_time=NOW,
        update_time=NOW,
        delete_time=NOW if deleted else None,
    )


def test_a_contact_is_matched_only_to_a_live_lead_when_live() -> None:
    found = lead()
    assert matching.contact_lead(found, "loc-a", "c1", live=True) is found
    gone = lead(deleted=True)
    assert matching.contact_lead(gone, "loc-a", "c1", live=False) is gone  # a delete may repeat
    with pytest.raises(Unmatched) as caught:
        matching.contact_lead(gone, "loc-a", "c1", live=True)
    assert caught.value.location_id == "loc-a"
    with pytest.raises(Unmatched, match="no lead for contact c1 in location loc-a"):
        matching.contact_lead(None, "loc-a", "c1", live=False)


def test_our_number_is_looked_up_as_e164_or_not_at_all() -> None:
    assert matching.number_key(" +1 (512) 555-0100 ") == "+15125550100"
    assert matching.number_key("") == ""
    assert matching.number_key("short-code-12345") == ""


def test_a_text_without_a_lead_says_which_locations_it_went_to() -> None:
    owned = matching.sender_only_detail(["loc-a"], "+15125550100", owned=True)
    assert "location loc-a" in owned
    assert "2 locations" in matching.sender_only_detail(["loc-a", "loc-b"], "", owned=False)
    assert "no lead has" in matching.sender_only_detail([], "+15125550100", owned=False)


def test_a_lead_id_custom_arg_never_crosses_locations() -> None:
    found = lead("loc-a")
    assert matching.custom_arg_lead(found, "loc-a") is found
    assert matching.custom_arg_lead(found, "") is found  # SendGrid named no location
    assert matching.custom_arg_lead(found, "loc-b") is None
    assert matching.custom_arg_lead(None, "loc-a") is None


def test_engagement_needs_a_lead() -> None:
    found = lead()
    assert matching.engaged_lead(found, "ida@example.com") is found
    with pytest.raises(Unmatched, match="an unknown address"):
        matching.engaged_lead(None, "")


@pytest.mark.parametrize(
    ("channel", "expected"),
    [(common_pb.CHANNEL_SMS, "+15125550123"), (common_pb.CHANNEL_EMAIL, "ida@example.com")],
)
def test_a_message_without_the_leads_address_gets_it_from_the_lead(channel: int, expected: str) -> None:
    facts = coordinator_pb.MessageFacts(channel=channel, body="hi")  # type: ignore[arg-type]
    filled = matching.with_lead_address(facts, lead())
    assert filled.lead_address == expected
    assert facts.lead_address == ""  # the action's own facts are left as they were
    given_address = coordinator_pb.MessageFacts(channel=channel, lead_address="other")  # type: ignore[arg-type]
    assert matching.with_lead_address(given_address, lead()).lead_address == "other"
