"""CoordinatorService handlers: proto in, domain calls, proto out. No SQL, no status codes."""

from __future__ import annotations

import uuid

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.coordinator.v1 import coordinator_service_pb2_grpc as pb_grpc

from services.coordinator import envelope
from services.coordinator.approval_servicer import ApprovalHandlers
from services.coordinator.cadence_servicer import CadenceHandlers
from services.coordinator.campaign_servicer import CampaignHandlers, CampaignRoom
from services.coordinator.compliance.basis import Policy
from services.coordinator.compliance.consent import Consent
from services.coordinator.compliance.policy import ConsentPolicies
from services.coordinator.compliance.repository import ConsentRepository
from services.coordinator.compliance_servicer import ComplianceDeps, ComplianceHandlers
from services.coordinator.delivery.repository import Communication, CommunicationRepository
from services.coordinator.delivery_servicer import DeliveryHandlers
from services.coordinator.install_servicer import InstallHandlers
from services.coordinator.journey_history_servicer import JourneyHistoryHandlers
from services.coordinator.journeys.cadence_repository import CadenceRepository
from services.coordinator.journeys.control import JourneyControl
from services.coordinator.journeys.repository import Journey, JourneyRepository
from services.coordinator.lead_events import EventHandler
from services.coordinator.notifications.repository import Notification, NotificationRepository
from services.coordinator.outcome_servicer import OutcomeHandlers
from services.coordinator.timeline.repository import DecisionLog
from services.coordinator.timeline_servicer import TimelineHandlers
from shared import inputs, pagination, tenancy, timestamps
from shared.errors import FieldViolation, InvalidArgument
from shared.rpc import Context


def journey_to_proto(journey: Journey | None) -> pb.Journey:
    if journey is None:
        return pb.Journey()
    return pb.Journey(
        journey_id=str(journey.journey_id),
        lead_id=str(journey.lead_id),
        location_id=journey.location_id,
        state=journey.state,
        stop_reason=journey.stop_reason,
        agent_id=str(journey.agent_id) if journey.agent_id else "",
        agent_reason=journey.agent_reason,
        score=journey.score or 0.0,
        create_time=timestamps.to_proto(journey.create_time),
        update_time=timestamps.to_proto(journey.update_time),
        first_touch_time=timestamps.to_proto(journey.first_touch_time),
        cadence_id=str(journey.cadence_id) if journey.cadence_id else "",
        step_index=journey.step_index,
        next_step_time=timestamps.to_proto(journey.next_step_time) if journey.active else None,
        pause_reason=journey.pause_reason,
        pause_end_time=timestamps.to_proto(journey.pause_end_time),
        generation=journey.generation,
        campaign_id=str(journey.campaign_id) if journey.campaign_id else "",
    )


def communication_to_proto(message: Communication) -> pb.Communication:
    return pb.Communication(
        communication_id=str(message.communication_id),
        lead_id=str(message.lead_id),
        channel=message.channel,
        direction=message.direction,
        status=message.status,
        body=message.body,
        subject=message.subject,
        status_reason=message.status_reason,
        scheduled_time=timestamps.to_proto(message.scheduled_time),
        create_time=timestamps.to_proto(message.create_time),
        update_time=timestamps.to_proto(message.update_time),
        provider_message_id=message.provider_message_id,
        message_id=message.message_id,
        address=message.address,
        awaiting_approval=message.awaiting_approval,
    )


def consent_to_proto(consent: Consent) -> pb.Consent:
    """An address on the suppression list (anyone's STOP from that number, a bounce)
    opts the lead out as surely as their own keyword."""
    return pb.Consent(
        lead_id=str(consent.lead_id),
        sms_consent=consent.sms_consent,
        email_consent=consent.email_consent,
        sms_opted_out=consent.sms_opted_out or bool(consent.sms_suppressed),
        email_opted_out=consent.email_opted_out or bool(consent.email_suppressed),
        update_time=timestamps.to_proto(consent.update_time),
        sms_basis=consent.sms_basis,
        email_basis=consent.email_basis,
    )


def policy_to_proto(policy: Policy) -> pb.ConsentPolicy:
    return pb.ConsentPolicy(
        sms_consent_tags=list(policy.sms_consent_tags),
        attestation=policy.attestation,
        email_requires_opt_in=policy.email_requires_opt_in,
        location_id=policy.location_id,
        version=policy.version,
        update_time=timestamps.to_proto(policy.update_time),
    )


def notification_to_proto(note: Notification) -> pb.Notification:
    return pb.Notification(
        notification_id=str(note.notification_id),
        agent_id=str(note.agent_id),
        lead_id=str(note.lead_id),
        channel=note.channel,
        status=note.status,
        body=note.body,
        create_time=timestamps.to_proto(note.create_time),
        status_reason=note.status_reason,
        provider_message_id=note.provider_message_id,
        template_reason=note.template_reason,
        channel_reason=note.channel_reason,
    )


def _communication_cursor(message: Communication) -> dict[str, str]:
    return {"t": message.create_time.isoformat(), "id": str(message.communication_id)}


def _notification_cursor(note: Notification) -> dict[str, str]:
    return {"t": note.create_time.isoformat(), "id": str(note.notification_id)}


class CoordinatorServicer(
    ComplianceHandlers,
    CadenceHandlers,
    TimelineHandlers,
    CampaignHandlers,
    DeliveryHandlers,
    InstallHandlers,
    OutcomeHandlers,
    ApprovalHandlers,
    JourneyHistoryHandlers,
    pb_grpc.CoordinatorServiceServicer,
):
    def __init__(
        self,
        events: EventHandler,
        journeys: JourneyRepository,
        consents: ConsentRepository,
        communications: CommunicationRepository,
        notifications: NotificationRepository,
        policies: ConsentPolicies,
        control: JourneyControl,
        cadences: CadenceRepository,
        *,
        decisions: DecisionLog,
        campaigns: CampaignRoom,
        compliance: ComplianceDeps,
    ) -> None:
        self._decisions = decisions
        self._campaign_room = campaigns
        self._compliance = compliance
        self._policies = policies
        self._events = events
        self._journeys = journeys
        self._consents = consents
        self._communications = communications
        self._notifications = notifications
        self._control = control
        self._cadences = cadences

    def _journey_proto(self, journey: Journey) -> pb.Journey:
        return journey_to_proto(journey)

    def _communication_proto(self, message: Communication) -> pb.Communication:
        return communication_to_proto(message)

    async def HandleLeadEvent(
        self, request: pb.HandleLeadEventRequest, context: Context
    ) -> pb.HandleLeadEventResponse:
        handled = await self._events.handle(envelope.parse(request.event))
        return pb.HandleLeadEventResponse(
            journey=journey_to_proto(handled.journey), duplicate=handled.duplicate
        )

    async def GetJourney(self, request: pb.GetJourneyRequest, context: Context) -> pb.GetJourneyResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        location = tenancy.required_location(request.location_id)
        journey = await self._journeys.get_journey(lead_id)
        tenancy.ensure_owned(
            location,
            journey.location_id,
            "lead",
            journey.lead_id,
            "JOURNEY_NOT_FOUND",
        )
        return pb.GetJourneyResponse(journey=journey_to_proto(journey))

    async def _ensure_lead_in(self, lead_id: uuid.UUID, raw_location: str) -> None:
        """A lead-keyed read names the location it acts for (#15): the lead's journey must be in it."""
        location = tenancy.required_location(raw_location)
        journey = await self._journeys.find_journey(lead_id)
        tenancy.ensure_owned(
            location, journey.location_id if journey else "", "lead", lead_id, "LEAD_NOT_FOUND"
        )

    async def ListCommunications(
        self, request: pb.ListCommunicationsRequest, context: Context
    ) -> pb.ListCommunicationsResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        size = pagination.page_size(request.page_size)
        query = f"communications:{lead_id}"
        after = pagination.decode_cursor(request.page_token, pagination.time_and_uuid, query=query)
        location = tenancy.required_location(request.location_id)
        found = await self._communications.list_communications_in(lead_id, location, after, size)
        if found is None:  # as _ensure_lead_in answers: no journey, or another location's
            raise tenancy.not_in(location, "lead", lead_id, "LEAD_NOT_FOUND")
        page, token = pagination.page_of(found, size, _communication_cursor, query=query)
        return pb.ListCommunicationsResponse(
            communications=[communication_to_proto(c) for c in page], next_page_token=token
        )

    async def GetConsent(self, request: pb.GetConsentRequest, context: Context) -> pb.GetConsentResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        await self._ensure_lead_in(lead_id, request.location_id)
        consent = await self._consents.get_consent(lead_id)
        return pb.GetConsentResponse(consent=consent_to_proto(consent))

    async def SetConsentPolicy(
        self, request: pb.SetConsentPolicyRequest, context: Context
    ) -> pb.SetConsentPolicyResponse:
        p = request.policy
        policy = await self._policies.set(
            request.location_id,
            list(p.sms_consent_tags),
            p.attestation,
            p.email_requires_opt_in,
            inputs.request_key(request.request_id),
        )
        return pb.SetConsentPolicyResponse(policy=policy_to_proto(policy))

    async def GetConsentPolicy(
        self, request: pb.GetConsentPolicyRequest, context: Context
    ) -> pb.GetConsentPolicyResponse:
        policy = await self._policies.get(request.location_id)
        return pb.GetConsentPolicyResponse(policy=policy_to_proto(policy))

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
        agent_id = (
            inputs.parse_uuid(request.agent_id, "agent_id", what="agent id") if request.agent_id else None
        )
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id") if request.lead_id else None
        # Required even for an agent's list that turns out empty (#15).
        tenancy.required_location(request.location_id)
        if lead_id is not None:
            await self._ensure_lead_in(lead_id, request.location_id)
        size = pagination.page_size(request.page_size)
        query = f"notifications:{agent_id}:{lead_id}"
        found = await self._notifications.list_notifications(
            agent_id,
            lead_id,
            pagination.decode_cursor(request.page_token, pagination.time_and_uuid, query=query),
            size,
        )
        if lead_id is None and found:
            # An agent works for one location, so all its notifications are about that
            # location's leads: one of them says whether the agent is the claimed location's.
            await self._ensure_lead_in(found[0].lead_id, request.location_id)
        page, token = pagination.page_of(found, size, _notification_cursor, query=query)
        return pb.ListNotificationsResponse(
            notifications=[notification_to_proto(n) for n in page], next_page_token=token
        )
