"""Wire the coordinator: repositories, peer clients, use-cases, the servicer, the scheduler loop."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.coordinator.v1 import coordinator_service_pb2_grpc as pb_grpc

from services.coordinator import backlog_probes
from services.coordinator.assignment_sync import AssignmentSync
from services.coordinator.campaign_servicer import CampaignRoom
from services.coordinator.campaigns.audience import AudienceReader
from services.coordinator.campaigns.campaign import SendWindow
from services.coordinator.campaigns.control import CampaignControl
from services.coordinator.campaigns.enrolment import Enroller
from services.coordinator.campaigns.preview import CampaignPreview
from services.coordinator.campaigns.repository import CampaignRepository
from services.coordinator.compliance import rules
from services.coordinator.compliance.checks import ComplianceChecks
from services.coordinator.compliance.ledger import ConsentPolicyRepository
from services.coordinator.compliance.policy import ConsentPolicies
from services.coordinator.compliance.records import ComplianceRecordRepository
from services.coordinator.compliance.replies import ComplianceReplies, ReplyTexts
from services.coordinator.compliance.repository import ConsentRepository
from services.coordinator.compliance_servicer import ComplianceDeps
from services.coordinator.config import Config
from services.coordinator.delivery import crashpoints, providers
from services.coordinator.delivery.approvals import ApprovalRepository
from services.coordinator.delivery.attempts import AttemptRepository
from services.coordinator.delivery.credentials import InstallRepository, TokenCipher, create_credentials
from services.coordinator.delivery.dispatch import Dispatcher
from services.coordinator.delivery.dnd_writeback import DndWriteback
from services.coordinator.delivery.enrichment import ContactEnricher
from services.coordinator.delivery.highlevel_tokens import TokenEndpoint
from services.coordinator.delivery.install_start import InstallStates
from services.coordinator.delivery.providers import ProviderSender
from services.coordinator.delivery.reports import ReportHandler
from services.coordinator.delivery.repository import CommunicationRepository
from services.coordinator.delivery.scheduler import Scheduler
from services.coordinator.delivery.settings import DeliverySettingsRepository
from services.coordinator.inbound.handoff import ReplyHandoff
from services.coordinator.inbound.messages import MessageHandler
from services.coordinator.inbound.unknown_sender import UnknownSenders
from services.coordinator.journeys.approved import ApprovedSends
from services.coordinator.journeys.branding import BrandedContent, LocationBranding
from services.coordinator.journeys.cadence_repository import CadenceRepository
from services.coordinator.journeys.control import JourneyControl
from services.coordinator.journeys.first_touch import FirstTouch
from services.coordinator.journeys.holder import JourneyHolder
from services.coordinator.journeys.inquiry import Inquiries
from services.coordinator.journeys.repository import Journey, JourneyRepository
from services.coordinator.journeys.runner import JourneyRunner
from services.coordinator.journeys.steps import CadenceWalker
from services.coordinator.lead_events import EventHandler
from services.coordinator.notifications.agent_replies import AgentReplies
from services.coordinator.notifications.attempts import NotificationAttempts
from services.coordinator.notifications.delivery import NotificationDelivery
from services.coordinator.notifications.held_later import HeldNotices
from services.coordinator.notifications.moves import AgentMoves
from services.coordinator.notifications.notifier import AgentNotifier
from services.coordinator.notifications.repository import NotificationRepository
from services.coordinator.servicer import CoordinatorServicer
from services.coordinator.timeline.observed import (
    ObservedContent,
    ObservedIntelligence,
    ObservedRouting,
)
from services.coordinator.timeline.repository import DecisionLog
from services.coordinator.triggers.repository import TriggerTouchRepository
from services.coordinator.triggers.touches import TouchLimits, TriggerTouches
from shared import backlog, retention, timestamps
from shared.clients import ContentClient, IngestClient, IntelligenceClient, Peers, RoutingClient
from shared.db import Database
from shared.server import Registration, ServiceApp


def create_walker(db: Database, content: ContentClient) -> CadenceWalker:
    return CadenceWalker(
        CadenceRepository(db),
        JourneyRepository(db),
        ConsentRepository(db),
        CommunicationRepository(db),
        content,
    )


def create_dispatcher(
    db: Database,
    cfg: Config,
    senders: dict[str, ProviderSender],
    *,
    clock: Callable[[], datetime] = timestamps.now,
    crash: crashpoints.CrashPoints | None = None,
) -> Dispatcher:
    return Dispatcher(
        AttemptRepository(db),
        ConsentRepository(db),
        senders,
        cfg.providers,
        window=quiet_rule(cfg),
        lease=timedelta(seconds=cfg.scheduler_lease_s),
        clock=clock,
        crash=crash,
    )


def create_notification_delivery(
    db: Database,
    cfg: Config,
    senders: dict[str, ProviderSender],
    *,
    clock: Callable[[], datetime] = timestamps.now,
    crash: crashpoints.CrashPoints | None = None,
) -> NotificationDelivery:
    return NotificationDelivery(
        NotificationAttempts(db),
        senders,
        cfg.providers,
        lease=timedelta(seconds=cfg.scheduler_lease_s),
        clock=clock,
        poll_s=cfg.scheduler_poll_s,
        batch=cfg.scheduler_batch,
        crash=crash,
    )


def quiet_rule(cfg: Config) -> rules.TimeRule:
    """The configured quiet hours as a time rule (they only ever narrow the legal window)."""
    return rules.configured(cfg.quiet_end, cfg.quiet_start)


def create_checks(db: Database, cfg: Config) -> ComplianceChecks:
    return ComplianceChecks(ComplianceRecordRepository(db), caps=cfg.caps, window=quiet_rule(cfg))


def create_scheduler(
    db: Database,
    cfg: Config,
    *,
    dispatcher: Dispatcher | None = None,
    clock: Callable[[], datetime] = timestamps.now,
    content: ContentClient | None = None,
    held: HeldNotices | None = None,
) -> Scheduler:
    return Scheduler(
        CommunicationRepository(db),
        JourneyRepository(db),
        ConsentRepository(db),
        # Without a dispatcher no provider is configured: every message is SIMULATED.
        dispatcher or create_dispatcher(db, cfg, {}, clock=clock),
        checks=create_checks(db, cfg),
        poll_s=cfg.scheduler_poll_s,
        batch=cfg.scheduler_batch,
        lease=timedelta(seconds=cfg.scheduler_lease_s),
        max_attempts=cfg.max_attempts,
        clock=clock,
        steps=create_walker(db, content) if content is not None else None,
        held=held,
    )


def create_app(db: Database, peers: Peers, cfg: Config) -> ServiceApp:
    journeys = JourneyRepository(db)
    consents = ConsentRepository(db)
    checks = create_checks(db, cfg)
    policies = ConsentPolicies(consents, ConsentPolicyRepository(db), timestamps.now, checks)
    communications = CommunicationRepository(db)
    notifications = NotificationRepository(db)
    # What intelligence, routing and content answer is kept in the decision log.
    decisions = DecisionLog(db)
    ingest = IngestClient(peers)
    routing: RoutingClient = ObservedRouting(peers, decisions)
    intelligence: IntelligenceClient = ObservedIntelligence(peers, decisions)
    # Every message is written as its location's brand, with its postal address.
    branding = LocationBranding(ingest, cfg.location_cache_s)
    content: ContentClient = BrandedContent(peers, branding, inner=ObservedContent(peers, decisions))
    # One HTTP client per process; providers without credentials are absent, and their
    # messages are recorded SIMULATED, never SENT.
    http = providers.http_client(cfg.providers)
    # Per-location HighLevel tokens from app installs (else HIGHLEVEL_ACCESS_TOKEN).
    highlevel = create_credentials(
        db,
        TokenEndpoint(http, cfg.providers),
        cfg.providers.highlevel_app,
        cfg.providers.highlevel_token,
        timestamps.now,
    )
    senders = providers.build_senders(http, cfg.providers, highlevel)
    crash = crashpoints.CrashPoints.from_env(os.environ)
    dispatcher = create_dispatcher(db, cfg, senders, crash=crash)
    # Agent notifications go through the same senders, exactly once (see README, Delivery).
    note_delivery = create_notification_delivery(db, cfg, senders, crash=crash)
    notifier = AgentNotifier(notifications, note_delivery)
    first_touch = FirstTouch(
        communications,
        content,
        dispatcher,
        checks=checks,
        lease=timedelta(seconds=cfg.scheduler_lease_s),
        brand_name=cfg.brand_name,
        clock=timestamps.now,
    )
    triggers = TriggerTouches(
        journeys,
        consents,
        communications,
        TriggerTouchRepository(db),
        CadenceRepository(db),
        notifier,
        intelligence=intelligence,
        content=content,
        routing=routing,
        window=quiet_rule(cfg),
        limits=TouchLimits(
            delay=timedelta(seconds=cfg.trigger_delay_s),
            cap=cfg.trigger_cap,
            cap_window=timedelta(hours=cfg.trigger_cap_window_h),
        ),
        clock=timestamps.now,
    )
    runner = JourneyRunner(
        journeys,
        policies,
        first_touch,
        notifier,
        ingest=ingest,
        intelligence=intelligence,
        routing=routing,
        content=content,
        brand_name=cfg.brand_name,
        steps=create_walker(db, content),
        triggers=triggers,
        enricher=ContactEnricher(highlevel, http, cfg.providers, ingest, decisions),
        inquiries=Inquiries(db, cfg.inquiry_after_reply_h, timestamps.now),
    )
    control = JourneyControl(journeys, CadenceRepository(db))

    async def human_touch(lead_id: uuid.UUID) -> Journey | None:
        return await control.human_touch(lead_id, cfg.human_pause_h)

    replies = ComplianceReplies(
        communications,
        dispatcher,
        ReplyTexts(cfg.opt_out_confirmation, cfg.help_text, cfg.brand_name),
        timestamps.now,
        lease=timedelta(seconds=cfg.scheduler_lease_s),
        brand_of=branding.brand_name,
    )
    messages = MessageHandler(
        journeys,
        consents,
        communications,
        notifier,
        ingest=ingest,
        routing=routing,
        human_touch=human_touch,
        handoff=ReplyHandoff(content, communications),
        replies=replies,
    )
    events = EventHandler(
        journeys,
        runner,
        messages,
        ReportHandler(communications, consents, journeys, AttemptRepository(db), note_delivery.attempts),
        UnknownSenders(consents, AgentReplies(note_delivery.attempts)),
        decisions=decisions,
        assignments=AssignmentSync(routing, consents),
        highlevel=highlevel,
    )
    scheduler = create_scheduler(
        db,
        cfg,
        dispatcher=dispatcher,
        content=content,
        held=HeldNotices(notifier, routing, CadenceRepository(db)),
    )
    campaigns = CampaignRepository(db)
    audience = AudienceReader(campaigns, ingest, IntelligenceClient(peers), page_size=cfg.campaign_page)
    window = SendWindow.from_quiet_hours(cfg.quiet_start, cfg.quiet_end)  # spreads enrolments
    enroller = Enroller(
        campaigns,
        audience,
        CadenceRepository(db),
        runner,
        ingest,
        window=window,
        poll_s=cfg.campaign_poll_s,
        batch=cfg.campaign_batch,
        concurrency=cfg.campaign_concurrency,
        lease=timedelta(seconds=cfg.scheduler_lease_s),
        clock=timestamps.now,
    )
    campaign_room = CampaignRoom(
        CampaignControl(campaigns, CadenceRepository(db), timestamps.now),
        CampaignPreview(
            audience,
            ConsentPolicyRepository(db),
            content,
            window=window,
            quiet_rule=quiet_rule(cfg),
            brand_name=cfg.brand_name,
            clock=timestamps.now,
        ),
        campaigns,
    )
    servicer = CoordinatorServicer(
        events,
        journeys,
        consents,
        communications,
        notifications,
        policies,
        control,
        CadenceRepository(db),
        decisions=decisions,
        campaigns=campaign_room,
        compliance=ComplianceDeps(
            ComplianceRecordRepository(db), checks, ConsentPolicyRepository(db), CadenceRepository(db)
        ),
    )
    servicer.init_delivery(DeliverySettingsRepository(db), cfg.providers.unsubscribe_key)
    servicer.init_installs(
        highlevel,
        InstallRepository(db, TokenCipher(cfg.providers.highlevel_app.token_keys)),
        InstallStates(db, cfg.providers.highlevel_app, timestamps.now),
    )
    servicer.init_notifications(AgentMoves(notifier, routing, ingest), JourneyHolder(db, routing))
    servicer.init_approvals(
        ApprovedSends(
            ApprovalRepository(db),
            journeys,
            consents,
            content,
            scheduler,
            lease=timedelta(seconds=cfg.scheduler_lease_s),
            clock=timestamps.now,
        )
    )
    return ServiceApp(
        registrations=[
            Registration(
                pb.DESCRIPTOR.services_by_name["CoordinatorService"].full_name,
                pb_grpc.add_CoordinatorServiceServicer_to_server,
                servicer,
            )
        ],
        error_domain="coordinator.leadengine",
        background=[
            scheduler.run,
            note_delivery.run,
            enroller.run,
            retention.loop(db, cfg.retention, interval_s=cfg.prune_interval_s),
            highlevel.run,
            DndWriteback(
                db,
                http,
                cfg.providers,
                # Each idle poll reads the pending opt-outs (a partial index): seconds are soon enough.
                poll_s=max(cfg.scheduler_poll_s, 5.0),
                lease=timedelta(seconds=cfg.scheduler_lease_s),
                clock=timestamps.now,
                tokens=highlevel,
            ).run,
            backlog.sampler("coordinator", db, backlog_probes.PROBES, cfg.server.metrics_sample_s),
        ],
        on_stop=[http.aclose],
    )
