"""PreviewCampaign: what StartCampaign would do, with nothing written anywhere.

The audience is paged exactly as the enroller pages it; each member's first message is
gated as it would be at the member's planned enrolment time, under the location's
consent policy; content writes the sample's messages with dry_run, so it stores
nothing either. No agent is chosen (routing would record an assignment), so the
sample's messages name the brand rather than an agent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.coordinator.campaigns import campaign as rules
from services.coordinator.campaigns.audience import AudienceReader
from services.coordinator.campaigns.campaign import Campaign
from services.coordinator.compliance import basis, evaluation, gates
from services.coordinator.compliance.gates import Action, ContactFacts
from services.coordinator.compliance.ledger import ConsentPolicyRepository
from services.coordinator.compliance.rules import TimeRule
from services.coordinator.journeys import writing
from services.coordinator.journeys.cadence import RE_ENGAGEMENT
from services.coordinator.journeys.first_touch import message_context
from shared import contact
from shared.clients import ContentClient

MAX_SAMPLE = 20
DEFAULT_SAMPLE = 5


@dataclass(frozen=True)
class SampleLead:
    lead: ingest_pb.Lead
    channel: common_pb2.Channel.ValueType
    address: str
    verdict: gates.Gate
    message: content_pb.Message | None = None


@dataclass
class PreviewResult:
    audience: int = 0
    send: int = 0
    hold: int = 0
    block: int = 0
    sample: list[SampleLead] = field(default_factory=list)


def _first_touch(
    lead: ingest_pb.Lead, facts: ContactFacts, at: datetime, window: TimeRule | None
) -> SampleLead:
    """The first touch's channel and address, and the gates' verdict on it at `at`, as
    FirstTouch decides them (content's own refusals and the caps' history aside)."""
    channel = gates.choose_channel(facts)
    if channel is None:
        refused = gates.Gate(Action.BLOCK, gates.NO_CONSENTED_CHANNEL)
        return SampleLead(lead, common_pb2.CHANNEL_UNSPECIFIED, "", refused)
    address = facts.address(channel)
    return SampleLead(lead, channel, address, evaluation.plan(channel, address, facts, at, window))


class CampaignPreview:
    def __init__(
        self,
        audience: AudienceReader,
        policies: ConsentPolicyRepository,
        content: ContentClient,
        *,
        window: rules.SendWindow,
        quiet_rule: TimeRule | None,
        brand_name: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._audience = audience
        self._policies = policies
        self._content = content
        self._window = window
        self._quiet_rule = quiet_rule
        self._brand = brand_name
        self._clock = clock

    async def preview(
        self, c: Campaign, purpose: content_pb.MessagePurpose.ValueType, sample_size: int
    ) -> PreviewResult:
        now = self._clock()
        policy = await self._policies.current(c.location_id)
        since = rules.inactive_since(c.audience, now)
        result = PreviewResult()
        token = ""
        while True:
            page = await self._audience.page(c, since, token)
            for lead in page.leads:
                position = result.audience
                result.audience += 1
                facts = ContactFacts(
                    phone=lead.phone,
                    email=lead.email,
                    timezone=lead.timezone,
                    sms_consent=bool(
                        basis.sms_basis(
                            lead_consent=lead.sms_consent, lead_tags=lead.tags, policy=policy, at=now
                        ).key
                    ),
                    email_consent=bool(basis.email_basis(lead_consent=lead.email_consent, policy=policy).key),
                    state=lead.state,
                    postal_code=lead.postal_code,
                )
                zone = contact.zone_for(lead.timezone, lead.phone)
                at = rules.due_time(now, position, c.daily_limit, zone, self._window)
                first = _first_touch(lead, facts, at, self._quiet_rule)
                if first.verdict.action is Action.SEND:
                    result.send += 1
                elif first.verdict.action in (Action.SCHEDULE, Action.HOLD):
                    result.hold += 1
                else:
                    result.block += 1
                if len(result.sample) < sample_size:
                    result.sample.append(first)
            if not page.next_token:
                break
            token = page.next_token
        written = []
        for s in result.sample:
            message = None
            if s.channel:
                message, _ = await writing.write(
                    self._content,
                    content_pb.GenerateMessageRequest(
                        lead_id=s.lead.lead_id,
                        location_id=c.location_id,
                        channel=s.channel,
                        purpose=purpose or RE_ENGAGEMENT,
                        context=message_context(s.lead, None, 0.0, self._brand),
                        request_id=f"preview:{uuid.uuid4()}",
                        dry_run=True,
                    ),
                )
            written.append(SampleLead(s.lead, s.channel, s.address, s.verdict, message))
        result.sample = written
        return result


def sample_to_proto(s: SampleLead) -> pb.CampaignPreviewLead:
    status = {
        Action.SEND: pb.COMMUNICATION_STATUS_SIMULATED,
        Action.SCHEDULE: pb.COMMUNICATION_STATUS_SCHEDULED,
        Action.BLOCK: pb.COMMUNICATION_STATUS_BLOCKED,
    }[s.verdict.action]
    return pb.CampaignPreviewLead(
        lead_id=s.lead.lead_id,
        lead_name=" ".join(p for p in (s.lead.first_name, s.lead.last_name) if p),
        channel=s.channel,
        address=s.address,
        subject=s.message.subject if s.message else "",
        body=s.message.body if s.message else "",
        status=status,
        status_reason=s.verdict.reason,
    )
