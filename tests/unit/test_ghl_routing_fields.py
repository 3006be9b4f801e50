"""What routing needs from a GHL contact: intent and language from tags, postal code, and
opportunity outcomes. Pure parsing, so property-tested."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest import leads
from services.ingest.webhooks import ghl
from services.ingest.webhooks.actions import ContactEvent, LeadUpsert, NoAction

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def parsed(payload: dict[str, object]):
    return ghl.parse(str(payload["type"]), json.dumps(payload).encode(), "loc-1", NOW).action


def test_tags_name_intent_and_language_and_postal_code_is_kept() -> None:
    tags = [" Seller ", "BUYER", "LANG:ES-mx"]
    action = parsed({"type": "ContactCreate", "id": "c1", "tags": tags, "postalCode": "33602"})
    assert isinstance(action, LeadUpsert)
    assert action.fields.intent == pb.LEAD_INTENT_BUYER_AND_SELLER
    assert action.fields.preferred_language == "es-mx"
    assert action.fields.postal_code == "33602"
    assert {"intent", "preferred_language", "postal_code", "tags"} <= action.paths


def test_tags_without_intent_or_language_leave_them_alone() -> None:
    action = parsed({"type": "ContactTagUpdate", "id": "c1", "tags": ["open-house", "lang:"]})
    assert isinstance(action, LeadUpsert)
    assert "intent" not in action.paths
    assert "preferred_language" not in action.paths


@given(st.lists(st.text(max_size=12), max_size=6))
def test_any_tags_parse_and_give_a_valid_language(tags: list[str]) -> None:
    language = ghl.tagged_language(tags)
    assert leads.clean_language(language, "lead.preferred_language") == language
    assert ghl.tagged_intent(tags) in pb.LeadIntent.values()


def test_won_and_lost_opportunities_are_outcome_events_others_are_not() -> None:
    base = {"type": "OpportunityStatusUpdate", "id": "opp-1", "contactId": "c1", "monetaryValue": 450000}
    won = parsed({**base, "status": "won"})
    assert isinstance(won, ContactEvent)
    assert won.type == pb.EVENT_TYPE_OPPORTUNITY_WON
    assert won.contact_id == "c1"
    assert won.properties["opportunity_id"] == "opp-1"
    lost = parsed({**base, "status": "LOST"})
    assert isinstance(lost, ContactEvent)
    assert lost.type == pb.EVENT_TYPE_OPPORTUNITY_LOST
    assert isinstance(parsed({**base, "status": "abandoned"}), NoAction)
    assert leads.behavior_type(pb.EVENT_TYPE_OPPORTUNITY_WON) == "opportunity_won"
