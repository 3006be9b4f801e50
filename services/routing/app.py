"""Wire routing's servicer to its database, ingest (to read leads), and its background loops:
the outcome relay and the inactivity sweep."""

from __future__ import annotations

import asyncio

from leadengine.routing.v1 import routing_service_pb2 as pb
from leadengine.routing.v1 import routing_service_pb2_grpc as pb_grpc

from services.routing.assigning import Assigning
from services.routing.claiming import Claiming
from services.routing.config import Config
from services.routing.lifecycle import Lifecycle
from services.routing.location_store import LocationStore
from services.routing.manual import ManualReassignment
from services.routing.outcome_outbox import DeadLetters, OutcomeQueue
from services.routing.outcomes import OutcomeRecording
from services.routing.relay import OutcomeRelay, RelaySettings
from services.routing.repository import RoutingRepository
from services.routing.roster import Roster
from services.routing.rule_store import RuleStore
from services.routing.servicer import RoutingServicer
from services.routing.settings import DEFAULT_INACTIVITY_DAYS
from shared import backlog, retention
from shared.clients import IngestClient, Peers
from shared.db import Database
from shared.server import Registration, ServiceApp

BACKLOG = (
    backlog.Probe(
        backlog.OUTBOX_LAG.labels("routing", "outcome_outbox"),
        backlog.age_of_oldest("outcome_outbox", "create_time", "published_time IS NULL"),
    ),
    # Rows failing now (retried until dead-lettered, or for ever while a peer is UNAVAILABLE).
    backlog.Probe(
        backlog.QUEUE_FAILING.labels("routing", "outcome_outbox"),
        "SELECT count(*) FROM outcome_outbox WHERE published_time IS NULL AND attempts > 0",
    ),
    backlog.Probe(backlog.DEAD_LETTERS.labels("routing"), "SELECT count(*) FROM outcome_dead_letters"),
)


def create_app(db: Database, peers: Peers, cfg: Config) -> ServiceApp:
    repo = RoutingRepository(db)
    store = LocationStore(db)
    rule_store = RuleStore(db)
    outcome_written = asyncio.Event()
    lifecycle = Lifecycle(repo, default_inactivity_days=DEFAULT_INACTIVITY_DAYS, sweep_s=cfg.sweep_s)
    relay = OutcomeRelay(
        OutcomeQueue(db),
        peers,
        RelaySettings(poll_s=cfg.outbox_poll_s, max_attempts=cfg.outbox_max_attempts),
        outcome_written,
    )
    assigning = Assigning(repo, store, rule_store, IngestClient(peers), default_capacity=cfg.default_capacity)
    claiming = Claiming(repo, store, assigning, sweep_s=cfg.sla_sweep_s)
    servicer = RoutingServicer(
        Roster(repo),
        assigning,
        OutcomeRecording(repo, outcome_written),
        lifecycle,
        store,
        rule_store,
        claiming,
        ManualReassignment(repo, store, assigning),
        DeadLetters(db, outcome_written),
    )
    return ServiceApp(
        registrations=[
            Registration(
                pb.DESCRIPTOR.services_by_name["RoutingService"].full_name,
                pb_grpc.add_RoutingServiceServicer_to_server,
                servicer,
            )
        ],
        error_domain="routing.leadengine",
        background=[
            relay.run,
            lifecycle.run,
            claiming.run,
            backlog.sampler("routing", db, BACKLOG, cfg.server.metrics_sample_s),
            retention.loop(db, cfg.retention, interval_s=cfg.prune_interval_s),
        ],
    )
