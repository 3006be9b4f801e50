"""The public contract other systems rely on: names, fields and enum values exactly as published."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from google.protobuf.descriptor import Descriptor, ServiceDescriptor
from leadengine.content.v1 import content_service_pb2 as content
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator
from leadengine.ingest.v1 import ingest_service_pb2 as ingest
from leadengine.intelligence.v1 import intelligence_service_pb2 as intelligence
from leadengine.routing.v1 import routing_service_pb2 as routing

from tests.support import ROOT

SERVICES: dict[str, tuple[ServiceDescriptor, set[str]]] = {
    "leadengine.ingest.v1.IngestService": (
        ingest.DESCRIPTOR.services_by_name["IngestService"],
        {"UpsertLead", "GetLead", "GetLeadByExternalId", "ListLeads", "DeleteLead", "RecordEvent"},
    ),
    "leadengine.intelligence.v1.IntelligenceService": (
        intelligence.DESCRIPTOR.services_by_name["IntelligenceService"],
        {"ScoreLead", "GetLeadIntelligence", "ListHighIntentLeads", "EvaluateTriggers"},
    ),
    "leadengine.routing.v1.RoutingService": (
        routing.DESCRIPTOR.services_by_name["RoutingService"],
        {"UpsertAgent", "ListAgents", "SetAgentAvailability", "RouteLead", "GetAssignment", "RecordOutcome"},
    ),
    "leadengine.content.v1.ContentService": (
        content.DESCRIPTOR.services_by_name["ContentService"],
        {"GenerateMessage", "GetConversation"},
    ),
    "leadengine.coordinator.v1.CoordinatorService": (
        coordinator.DESCRIPTOR.services_by_name["CoordinatorService"],
        {"HandleLeadEvent", "GetJourney", "ListCommunications", "GetConsent", "ListNotifications"},
    ),
}

FIELDS: list[tuple[Descriptor, set[str]]] = [
    (ingest.GetLeadByExternalIdRequest.DESCRIPTOR, {"location_id", "external_contact_id"}),
    (ingest.GetLeadByExternalIdResponse.DESCRIPTOR, {"lead"}),
    (
        ingest.Lead.DESCRIPTOR,
        {
            "lead_id",
            "location_id",
            "external_contact_id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "timezone",
        },
    ),
    (intelligence.GetLeadIntelligenceRequest.DESCRIPTOR, {"lead_id"}),
    (intelligence.GetLeadIntelligenceResponse.DESCRIPTOR, {"intelligence"}),
    (intelligence.LeadIntelligence.DESCRIPTOR, {"lead_id", "score"}),
    (intelligence.ListHighIntentLeadsRequest.DESCRIPTOR, {"location_id", "page_size", "page_token"}),
    (intelligence.ListHighIntentLeadsResponse.DESCRIPTOR, {"leads", "next_page_token"}),
    (routing.GetAssignmentRequest.DESCRIPTOR, {"lead_id"}),
    (routing.GetAssignmentResponse.DESCRIPTOR, {"assignment"}),
    (routing.Assignment.DESCRIPTOR, {"lead_id", "agent_id", "reasons"}),
    (coordinator.ListCommunicationsRequest.DESCRIPTOR, {"lead_id", "page_size", "page_token"}),
    (coordinator.ListCommunicationsResponse.DESCRIPTOR, {"communications", "next_page_token"}),
    (coordinator.Communication.DESCRIPTOR, {"communication_id", "channel", "direction", "status", "body"}),
    (coordinator.GetConsentRequest.DESCRIPTOR, {"lead_id"}),
    (coordinator.GetConsentResponse.DESCRIPTOR, {"consent"}),
    (coordinator.Consent.DESCRIPTOR, {"sms_opted_out", "email_opted_out"}),
    (coordinator.GetJourneyRequest.DESCRIPTOR, {"lead_id"}),
    (coordinator.GetJourneyResponse.DESCRIPTOR, {"journey"}),
    (coordinator.Journey.DESCRIPTOR, {"state", "stop_reason"}),
]

ENUM_VALUES = {
    "CHANNEL_SMS",
    "CHANNEL_EMAIL",
    "DIRECTION_OUTBOUND",
    "DIRECTION_INBOUND",
    "JOURNEY_STATE_ACTIVE",
    "JOURNEY_STATE_STOPPED",
    "JOURNEY_STATE_COMPLETED",
    *(
        f"COMMUNICATION_STATUS_{s}"
        for s in ("SCHEDULED", "BLOCKED", "SIMULATED", "QUEUED", "SENT", "DELIVERED", "UNDELIVERED", "FAILED")
    ),
    "COMMUNICATION_STATUS_RECEIVED",
}


@pytest.mark.parametrize("full_name", sorted(SERVICES))
def test_services_offer_the_published_rpcs(full_name: str) -> None:
    service, rpcs = SERVICES[full_name]
    assert service.full_name == full_name
    assert rpcs <= set(service.methods_by_name)


def test_every_rpc_has_its_own_request_and_response() -> None:
    for service, _ in SERVICES.values():
        for method in service.methods:
            assert method.input_type.name == f"{method.name}Request"
            assert method.output_type.name == f"{method.name}Response"


@pytest.mark.parametrize(("message", "fields"), FIELDS, ids=lambda v: getattr(v, "full_name", ""))
def test_messages_carry_the_published_fields(message: Descriptor, fields: set[str]) -> None:
    assert fields <= set(message.fields_by_name)


def test_enums_carry_the_published_values() -> None:
    values: set[str] = set()
    for module in (coordinator, content, ingest):
        for enum in module.DESCRIPTOR.enum_types_by_name.values():
            values |= set(enum.values_by_name)
        for dep in module.DESCRIPTOR.dependencies:
            for enum in dep.enum_types_by_name.values():
                values |= set(enum.values_by_name)
    assert values >= ENUM_VALUES


def test_reasons_are_repeated_strings() -> None:
    field = routing.Assignment.DESCRIPTOR.fields_by_name["reasons"]
    assert field.is_repeated
    assert field.type == field.TYPE_STRING


def test_committed_stubs_match_the_protos() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_protos_load_in_node_grpc_js() -> None:
    node = shutil.which("node")
    if (
        node is None
        or not (ROOT / "tools" / "protocheck" / "node_modules" / "@grpc" / "proto-loader").exists()
    ):
        why = "node or tools/protocheck/node_modules missing (make install adds them where npm exists)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}: CI must run the Node proto check, not skip it")
        pytest.skip(why)
    out = subprocess.run(
        [node, str(ROOT / "tools" / "protocheck" / "load.js")], capture_output=True, text=True, check=True
    ).stdout.split()
    expected = {f"{name}/{rpc}" for name, (_, rpcs) in SERVICES.items() for rpc in rpcs}
    assert expected <= set(out)
