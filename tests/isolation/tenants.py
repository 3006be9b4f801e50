"""Two locations (tenants) seeded alike on one real mesh: the data every read could leak.

Everything tenant B owns carries a marker (its location id, lead, agent, cadence, campaign,
communication and rule ids, phone, email, brand) that must never appear in an answer given to
tenant A; per-location settings differ between the two, so A reading B's values shows too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from google.protobuf import duration_pb2, field_mask_pb2, text_format
from google.protobuf.message import Message
from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from leadengine.intelligence.v1 import intelligence_service_pb2 as intel_pb
from leadengine.routing.v1 import routing_service_pb2 as routing_pb

from shared import timestamps
from tests.journeys import (
    DAY_HOURS,
    add_agent,
    add_lead,
    eventually,
    fresh_phone,
    notification_of,
    settled_first_touch,
    unique_phone,
    zone_where,
)
from tests.support import Mesh

DAY = 86_400


@dataclass
class Tenant:
    tag: str
    location: str
    brand: str
    sms_number: str
    agent_id: str = ""
    lead: ingest_pb.Lead = field(default_factory=ingest_pb.Lead)
    external_id: str = ""
    cadence_id: str = ""
    campaign_id: str = ""
    communication_ids: list[str] = field(default_factory=list)
    routing_rule_id: str = ""
    trigger_rule_id: str = ""
    # Per-location settings, different for each tenant.
    listing_view_points: float = 0.0
    inactivity_days: int = 0
    sms_per_day: int = 0
    consent_tag: str = ""
    sms_provider: str = ""
    has_outcomes: bool = False  # a WON or LOST outcome was recorded for the location
    value_proposition: str = ""
    budget_micros_usd: int = 0

    @property
    def lead_id(self) -> str:
        return self.lead.lead_id

    def markers(self) -> set[str]:
        """Strings that name this tenant's data and nothing else's."""
        found = {
            self.location,
            self.brand,
            self.sms_number,
            self.agent_id,
            self.lead.lead_id,
            self.lead.phone,
            self.lead.email,
            self.external_id,
            self.cadence_id,
            self.campaign_id,
            self.routing_rule_id,
            self.trigger_rule_id,
            self.consent_tag,
            self.value_proposition,
            *self.communication_ids,
        }
        return {m for m in found if m}

    def leaked_into(self, answer: Message) -> set[str]:
        """Which of this tenant's markers an answer carries."""
        text = text_format.MessageToString(answer)
        return {m for m in self.markers() if m in text}


async def seed(m: Mesh, tag: str, *, variant: int) -> Tenant:
    """A location with a profile, an agent, a lead that has had its first touch (journey,
    communications, notification, timeline, score, assignment, conversation), behaviour that
    fired a trigger, a cadence, a campaign, rules and settings. variant makes the settings
    differ between tenants."""
    suffix = uuid.uuid4().hex[:8]
    t = Tenant(
        tag=tag,
        location=f"loc-{tag}-{suffix}",
        brand=f"Brand{tag.upper()}{suffix}",
        sms_number=unique_phone(),
        listing_view_points=3.0 + variant,
        inactivity_days=10 + variant,
        sms_per_day=2 + variant,
        consent_tag=f"optin-{tag}-{suffix}",
        sms_provider="twilio" if variant == 0 else "highlevel",
        value_proposition=f"we close on your schedule {tag}-{suffix}",
        budget_micros_usd=1_000_000 * (7 + variant),
    )
    await m.clients.ingest.UpdateLocation(
        ingest_pb.UpdateLocationRequest(
            location=ingest_pb.Location(
                location_id=t.location,
                name=f"Realty {tag}",
                brand_name=t.brand,
                sms_from_numbers=[t.sms_number],
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["name", "brand_name", "sms_from_numbers"]),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    await m.clients.coordinator.SetConsentPolicy(
        pb.SetConsentPolicyRequest(
            location_id=t.location,
            policy=pb.ConsentPolicy(sms_consent_tags=[t.consent_tag], attestation=f"form of {tag}"),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    await m.clients.intelligence.UpsertScoringConfig(
        intel_pb.UpsertScoringConfigRequest(
            location_id=t.location,
            config=intel_pb.ScoringConfig(event_points={"listing_view": t.listing_view_points}),
            request_id=str(uuid.uuid4()),
        ),
        timeout=10,
    )
    await m.clients.content.SetLocationContentSettings(
        content_pb.SetLocationContentSettingsRequest(
            settings=content_pb.LocationContentSettings(
                location_id=t.location, value_propositions=[t.value_proposition]
            )
        ),
        timeout=5,
    )
    await m.clients.content.SetLocationBudget(
        content_pb.SetLocationBudgetRequest(
            location_id=t.location, monthly_budget_micros_usd=t.budget_micros_usd
        ),
        timeout=5,
    )
    t.agent_id = (await add_agent(m, t.location, name=f"Agent {tag}")).agent_id
    t.external_id = f"ct-{tag}-{suffix}"
    t.lead = await add_lead(
        m,
        t.location,
        phone=fresh_phone(),
        email=f"lead-{tag}-{suffix}@example.com",
        sms_consent=True,
        timezone=zone_where(DAY_HOURS),
        external_contact_id=t.external_id,
        first_name=f"Lee{tag}",
    )
    await settled_first_touch(m, t.lead_id)
    await notification_of(m, t.lead_id)
    comms = await m.clients.coordinator.ListCommunications(
        pb.ListCommunicationsRequest(lead_id=t.lead_id, location_id=t.location), timeout=5
    )
    t.communication_ids = [c.communication_id for c in comms.communications]

    # Three views of one listing: the default same-listing rule fires for the lead.
    for _ in range(3):
        await m.clients.ingest.RecordEvent(
            ingest_pb.RecordEventRequest(
                event=ingest_pb.LeadEvent(
                    event_id=str(uuid.uuid4()),
                    lead_id=t.lead_id,
                    location_id=t.location,
                    type=ingest_pb.EVENT_TYPE_LISTING_VIEW,
                    listing_id=f"mls-{tag}-{suffix}",
                    occurred_time=timestamps.to_proto(datetime.now(UTC) - timedelta(minutes=5)),
                ),
                request_id=str(uuid.uuid4()),
            ),
            timeout=5,
        )
    await eventually(
        lambda: m.clients.intelligence.ListTriggerFirings(
            intel_pb.ListTriggerFiringsRequest(lead_id=t.lead_id, location_id=t.location), timeout=5
        ),
        lambda r: len(r.firings) > 0,
        f"a trigger firing for tenant {tag}",
    )

    cadence = await m.clients.coordinator.UpsertCadence(
        pb.UpsertCadenceRequest(
            cadence=pb.Cadence(
                location_id=t.location,
                name=f"cadence {tag}",
                steps=[
                    pb.CadenceStep(
                        delay=duration_pb2.Duration(seconds=DAY),
                        channel=common_pb2.CHANNEL_EMAIL,
                        purpose=content_pb.MESSAGE_PURPOSE_FOLLOW_UP,
                    )
                ],
            ),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    t.cadence_id = cadence.cadence.cadence_id
    campaign = await m.clients.coordinator.StartCampaign(
        pb.StartCampaignRequest(
            campaign=pb.Campaign(
                location_id=t.location, name=f"campaign {tag}", cadence_id=t.cadence_id, daily_limit=5
            ),
            request_id=str(uuid.uuid4()),
        ),
        timeout=10,
    )
    t.campaign_id = campaign.campaign.campaign_id
    rule = await m.clients.routing.UpsertRoutingRule(
        routing_pb.UpsertRoutingRuleRequest(
            rule=routing_pb.RoutingRule(
                location_id=t.location,
                name=f"rule {tag}",
                position=10,
                target=routing_pb.RULE_TARGET_AGENT,
                agent_id=t.agent_id,
                active=True,
                conditions=routing_pb.RoutingRule().conditions,
            ),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    t.routing_rule_id = rule.rule.rule_id
    trigger = await m.clients.intelligence.UpsertTriggerRule(
        intel_pb.UpsertTriggerRuleRequest(
            rule=intel_pb.TriggerRule(
                location_id=t.location,
                rule_id=f"trigger-{tag}-{suffix}",
                name=f"trigger {tag}",
                condition=intel_pb.TRIGGER_CONDITION_SAME_LISTING_VIEWS,
                min_count=5,
                window=duration_pb2.Duration(seconds=7 * DAY),
                suppression=duration_pb2.Duration(seconds=7 * DAY),
            ),
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    t.trigger_rule_id = trigger.rule.rule_id
    await m.clients.routing.SetRoutingSettings(
        routing_pb.SetRoutingSettingsRequest(
            location_id=t.location, settings=routing_pb.RoutingSettings(inactivity_days=t.inactivity_days)
        ),
        timeout=5,
    )
    await m.clients.coordinator.SetFrequencyCaps(
        pb.SetFrequencyCapsRequest(
            location_id=t.location,
            caps=pb.FrequencyCaps(
                sms_per_day=t.sms_per_day, sms_per_week=10, email_per_day=3, email_per_week=10
            ),
        ),
        timeout=5,
    )
    await m.clients.coordinator.SetDeliverySettings(
        pb.SetDeliverySettingsRequest(
            settings=pb.DeliverySettings(location_id=t.location, sms_provider=t.sms_provider)
        ),
        timeout=5,
    )
    return t


async def record_outcomes(m: Mesh, t: Tenant) -> None:
    """A won lead, told to routing; its outcome relay tells the coordinator, which tells
    intelligence. Both services' stats for the location then count it."""
    await m.clients.routing.RecordOutcome(
        routing_pb.RecordOutcomeRequest(
            lead_id=t.lead_id,
            location_id=t.location,
            outcome=routing_pb.OUTCOME_WON,
            request_id=str(uuid.uuid4()),
        ),
        timeout=5,
    )
    await eventually(
        lambda: m.clients.intelligence.GetModelStats(
            intel_pb.GetModelStatsRequest(location_id=t.location), timeout=5
        ),
        lambda r: r.stats.outcomes_seen > 0,
        "intelligence to learn the outcome",
    )
    await eventually(
        lambda: m.clients.routing.GetRoutingStats(
            routing_pb.GetRoutingStatsRequest(location_id=t.location), timeout=5
        ),
        lambda r: r.stats.outcomes_seen > 0,
        "routing to count the outcome",
    )
    t.has_outcomes = True
