"""Wire the coordinator: repositories, peer clients, use-cases, the servicer, the scheduler loop."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.coordinator.v1 import coordinator_service_pb2_grpc as pb_grpc

from services.coordinator.assignment_sync import AssignmentSync
from services.coordinator.compliance.gates import SendWindow
from services.coordinator.compliance.ledger import ConsentPolicyRepository
from services.coordinator.compliance.policy import ConsentPolicies
from services.coordinator.compliance.repository import ConsentRepository
from services.coordinator.config import Config
from services.coordinator.delivery.reports import ReportHandler
from services.coordinator.delivery.repository import CommunicationRepository
from services.coordinator.delivery.scheduler import Scheduler
from services.coordinator.delivery.senders import Sender, SimulatedSender
from services.coordinator.inbound.messages import MessageHandler
from services.coordinator.journeys.cadence_repository import CadenceRepository
from services.coordinator.journeys.control import JourneyControl
from services.coordinator.journeys.first_touch import FirstTouch
from services.coordinator.journeys.repository import Journey, JourneyRepository
from services.coordinator.journeys.runner import JourneyRunner
from services.coordinator.journeys.steps import CadenceWalker
from services.coordinator.lead_events import EventHandler
from services.coordinator.notifications.notifier import AgentNotifier
from services.coordinator.notifications.repository import NotificationRepository
from services.coordinator.servicer import CoordinatorServicer
from shared import timestamps
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


def create_scheduler(
    db: Database,
    cfg: Config,
    *,
    sender: Sender | None = None,
    clock: Callable[[], datetime] = timestamps.now,
    content: ContentClient | None = None,
) -> Scheduler:
    return Scheduler(
        CommunicationRepository(db),
        JourneyRepository(db),
        ConsentRepository(db),
        sender or SimulatedSender(),
        window=SendWindow.from_quiet_hours(cfg.quiet_start, cfg.quiet_end),
        poll_s=cfg.scheduler_poll_s,
        batch=cfg.scheduler_batch,
        lease=timedelta(seconds=cfg.scheduler_lease_s),
        max_attempts=cfg.max_attempts,
        clock=clock,
        steps=create_walker(db, content) if content is not None else None,
    )


def create_app(db: Database, peers: Peers, cfg: Config) -> ServiceApp:
    journeys = JourneyRepository(db)
    consents = ConsentRepository(db)
    policies = ConsentPolicies(consents, ConsentPolicyRepository(db), timestamps.now)
    communications = CommunicationRepository(db)
    notifications = NotificationRepository(db)
    ingest, routing, content = IngestClient(peers), RoutingClient(peers), ContentClient(peers)
    # Provider senders (Twilio, SendGrid) arrive with the provider integration; until
    # then every message is recorded as SIMULATED, never as SENT.
    sender = SimulatedSender()
    notifier = AgentNotifier(notifications, sender)
    first_touch = FirstTouch(
        communications,
        content,
        sender,
        window=SendWindow.from_quiet_hours(cfg.quiet_start, cfg.quiet_end),
        lease=timedelta(seconds=cfg.scheduler_lease_s),
        brand_name=cfg.brand_name,
        clock=timestamps.now,
    )
    runner = JourneyRunner(
        journeys,
        policies,
        first_touch,
        notifier,
        ingest=ingest,
        intelligence=IntelligenceClient(peers),
        routing=routing,
        content=content,
        brand_name=cfg.brand_name,
        steps=create_walker(db, content),
    )
    control = JourneyControl(journeys, CadenceRepository(db))

    async def human_touch(lead_id: uuid.UUID) -> Journey | None:
        return await control.human_touch(lead_id, cfg.human_pause_h)

    messages = MessageHandler(
        journeys, consents, communications, notifier, ingest=ingest, routing=routing, human_touch=human_touch
    )
    events = EventHandler(
        journeys,
        runner,
        messages,
        ReportHandler(communications, consents, journeys),
        AssignmentSync(routing, consents),
    )
    scheduler = create_scheduler(db, cfg, sender=sender, content=content)
    return ServiceApp(
        registrations=[
            Registration(
                pb.DESCRIPTOR.services_by_name["CoordinatorService"].full_name,
                pb_grpc.add_CoordinatorServiceServicer_to_server,
                CoordinatorServicer(
                    events,
                    journeys,
                    consents,
                    communications,
                    notifications,
                    policies,
                    control,
                    CadenceRepository(db),
                ),
            )
        ],
        error_domain="coordinator.leadengine",
        background=[scheduler.run],
    )
