"""Wire the coordinator: servicer, journey runner, scheduler loop, sender."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.coordinator.v1 import coordinator_service_pb2_grpc as pb_grpc

from services.coordinator.compliance import SendWindow
from services.coordinator.config import Config
from services.coordinator.delivery import Sender, SimulatedSender
from services.coordinator.events import EventHandler
from services.coordinator.inbound import MessageHandler
from services.coordinator.journey import JourneyRunner
from services.coordinator.reports import ReportHandler
from services.coordinator.repository import CoordinatorRepository
from services.coordinator.scheduler import Scheduler
from services.coordinator.servicer import CoordinatorServicer
from shared import timestamps
from shared.clients import Peers
from shared.db import Database
from shared.server import Registration, ServiceApp


def create_scheduler(
    db: Database, cfg: Config, *, sender: Sender | None = None, clock: Callable[[], datetime] = timestamps.now
) -> Scheduler:
    return Scheduler(
        CoordinatorRepository(db),
        sender or SimulatedSender(),
        window=SendWindow.from_quiet_hours(cfg.quiet_start, cfg.quiet_end),
        poll_s=cfg.scheduler_poll_s,
        batch=cfg.scheduler_batch,
        lease=timedelta(seconds=cfg.scheduler_lease_s),
        max_attempts=cfg.max_attempts,
        clock=clock,
    )


def create_app(db: Database, peers: Peers, cfg: Config) -> ServiceApp:
    repo = CoordinatorRepository(db)
    # Provider senders (Twilio, SendGrid) arrive with the provider integration; until
    # then every message is recorded as SIMULATED, never as SENT.
    sender = SimulatedSender()
    runner = JourneyRunner(
        repo,
        peers,
        sender,
        window=SendWindow.from_quiet_hours(cfg.quiet_start, cfg.quiet_end),
        lease=timedelta(seconds=cfg.scheduler_lease_s),
        brand_name=cfg.brand_name,
        clock=timestamps.now,
    )
    scheduler = create_scheduler(db, cfg, sender=sender)
    return ServiceApp(
        registrations=[
            Registration(
                pb.DESCRIPTOR.services_by_name["CoordinatorService"].full_name,
                pb_grpc.add_CoordinatorServiceServicer_to_server,
                CoordinatorServicer(
                    repo, EventHandler(repo, runner, MessageHandler(repo, peers, sender), ReportHandler(repo))
                ),
            )
        ],
        error_domain="coordinator.leadengine",
        background=[scheduler.run],
    )
