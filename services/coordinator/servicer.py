"""CoordinatorService handlers: proto in, domain calls, proto out. No SQL, no status codes."""

from __future__ import annotations

from typing import Any

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.coordinator.v1 import coordinator_service_pb2_grpc as pb_grpc

from services.coordinator import envelope
from services.coordinator.events import EventHandler
from services.coordinator.repository import CoordinatorRepository
from shared import ids, pagination, timestamps
from shared.errors import FieldViolation, InvalidArgument
from shared.rpc import Context


def journey_to_proto(row: Any) -> pb.Journey:
    if row is None:
        return pb.Journey()
    return pb.Journey(
        journey_id=str(row["journey_id"]),
        lead_id=str(row["lead_id"]),
        location_id=row["location_id"],
        state=row["state"],
        stop_reason=row["stop_reason"],
        agent_id=str(row["agent_id"]) if row["agent_id"] else "",
        agent_reason=row["agent_reason"],
        score=row["score"] or 0.0,
        create_time=timestamps.to_proto(row["create_time"]),
        update_time=timestamps.to_proto(row["update_time"]),
        first_touch_time=timestamps.to_proto(row["first_touch_time"]),
    )


def communication_to_proto(row: Any) -> pb.Communication:
    return pb.Communication(
        communication_id=str(row["communication_id"]),
        lead_id=str(row["lead_id"]),
        channel=row["channel"],
        direction=row["direction"],
        status=row["status"],
        body=row["body"],
        subject=row["subject"],
        status_reason=row["status_reason"],
        scheduled_time=timestamps.to_proto(row["scheduled_time"]),
        create_time=timestamps.to_proto(row["create_time"]),
        update_time=timestamps.to_proto(row["update_time"]),
        provider_message_id=row["provider_message_id"],
        message_id=row["message_id"],
        address=row["address"],
    )


def consent_to_proto(row: Any) -> pb.Consent:
    """From a row of the consent view: an address on the suppression list (anyone's STOP
    from that number, a bounce) opts the lead out as surely as their own keyword."""
    return pb.Consent(
        lead_id=str(row["lead_id"]),
        sms_consent=row["sms_consent"],
        email_consent=row["email_consent"],
        sms_opted_out=row["sms_opted_out"] or bool(row["sms_suppressed"]),
        email_opted_out=row["email_opted_out"] or bool(row["email_suppressed"]),
        update_time=timestamps.to_proto(row["update_time"]),
    )


def notification_to_proto(row: Any) -> pb.Notification:
    return pb.Notification(
        notification_id=str(row["notification_id"]),
        agent_id=str(row["agent_id"]),
        lead_id=str(row["lead_id"]),
        channel=row["channel"],
        status=row["status"],
        body=row["body"],
        create_time=timestamps.to_proto(row["create_time"]),
        status_reason=row["status_reason"],
    )


def _cursor(id_column: str) -> Any:
    return lambda row: {"t": row["create_time"].isoformat(), "id": str(row[id_column])}


class CoordinatorServicer(pb_grpc.CoordinatorServiceServicer):
    def __init__(self, repo: CoordinatorRepository, events: EventHandler) -> None:
        self._repo = repo
        self._events = events

    async def HandleLeadEvent(
        self, request: pb.HandleLeadEventRequest, context: Context
    ) -> pb.HandleLeadEventResponse:
        outcome = await self._events.handle(envelope.parse(request.event))
        return pb.HandleLeadEventResponse(
            journey=journey_to_proto(outcome.journey), duplicate=outcome.duplicate
        )

    async def GetJourney(self, request: pb.GetJourneyRequest, context: Context) -> pb.GetJourneyResponse:
        row = await self._repo.get_journey(ids.parse_uuid(request.lead_id, "lead_id", what="lead id"))
        return pb.GetJourneyResponse(journey=journey_to_proto(row))

    async def ListCommunications(
        self, request: pb.ListCommunicationsRequest, context: Context
    ) -> pb.ListCommunicationsResponse:
        lead_id = ids.parse_uuid(request.lead_id, "lead_id", what="lead id")
        size = pagination.page_size(request.page_size)
        query = f"communications:{lead_id}"
        rows = await self._repo.list_communications(
            lead_id, pagination.decode_cursor(request.page_token, pagination.time_and_uuid, query=query), size
        )
        page, token = pagination.page_of(rows, size, _cursor("communication_id"), query=query)
        return pb.ListCommunicationsResponse(
            communications=[communication_to_proto(r) for r in page], next_page_token=token
        )

    async def GetConsent(self, request: pb.GetConsentRequest, context: Context) -> pb.GetConsentResponse:
        row = await self._repo.get_consent(ids.parse_uuid(request.lead_id, "lead_id", what="lead id"))
        return pb.GetConsentResponse(consent=consent_to_proto(row))

    async def ListNotifications(
        self, request: pb.ListNotificationsRequest, context: Context
    ) -> pb.ListNotificationsResponse:
        if not request.agent_id and not request.lead_id:
            raise InvalidArgument(
                "set agent_id, lead_id or both to say whose notifications to list",
                reason="MISSING_FIELD",
                violations=[
                    FieldViolation("agent_id", "required when lead_id is empty"),
                    FieldViolation("lead_id", "required when agent_id is empty"),
                ],
            )
        agent_id = ids.parse_uuid(request.agent_id, "agent_id", what="agent id") if request.agent_id else None
        lead_id = ids.parse_uuid(request.lead_id, "lead_id", what="lead id") if request.lead_id else None
        size = pagination.page_size(request.page_size)
        query = f"notifications:{agent_id}:{lead_id}"
        rows = await self._repo.list_notifications(
            agent_id,
            lead_id,
            pagination.decode_cursor(request.page_token, pagination.time_and_uuid, query=query),
            size,
        )
        page, token = pagination.page_of(rows, size, _cursor("notification_id"), query=query)
        return pb.ListNotificationsResponse(
            notifications=[notification_to_proto(r) for r in page], next_page_token=token
        )
