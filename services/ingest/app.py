"""Wire ingest's servicer and outbox relay to its database and the coordinator."""

from __future__ import annotations

import asyncio

from leadengine.ingest.v1 import ingest_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2_grpc as pb_grpc

from services.ingest.config import Config
from services.ingest.importing import LeadImport
from services.ingest.lead_writes import LeadWrites
from services.ingest.location_writes import LocationProfiles
from services.ingest.outbox import OutboxRelay, RelaySettings
from services.ingest.recording import WebhookRecorder
from services.ingest.repository.events import EventReads
from services.ingest.repository.leads import LeadReads
from services.ingest.repository.outbox import DeadLetters, OutboxQueue
from services.ingest.servicer import IngestServicer
from shared import backlog, retention
from shared.clients import Peers
from shared.db import Database
from shared.server import Registration, ServiceApp

BACKLOG = (
    backlog.Probe(
        backlog.OUTBOX_LAG.labels("ingest", "outbox"),
        backlog.age_of_oldest("outbox", "create_time", "published_time IS NULL"),
    ),
    backlog.Probe(backlog.DEAD_LETTERS.labels("ingest"), "SELECT count(*) FROM outbox_dead_letters"),
)


def create_app(db: Database, peers: Peers, cfg: Config) -> ServiceApp:
    # Set after a commit that wrote an outbox row, so the relay delivers it without waiting a poll.
    outbox_written = asyncio.Event()
    relay = OutboxRelay(
        OutboxQueue(db),
        outbox_written,
        peers,
        RelaySettings(
            batch=cfg.outbox_batch,
            poll_s=cfg.outbox_poll_s,
            lease_s=cfg.outbox_lease_s,
            call_timeout_s=cfg.outbox_call_timeout_s,
            retry_base_s=cfg.outbox_retry_base_s,
            retry_max_s=cfg.outbox_retry_max_s,
            max_attempts=cfg.outbox_max_attempts,
            in_flight=cfg.outbox_in_flight,
        ),
    )
    return ServiceApp(
        registrations=[
            Registration(
                pb.DESCRIPTOR.services_by_name["IngestService"].full_name,
                pb_grpc.add_IngestServiceServicer_to_server,
                IngestServicer(
                    lead_reads=LeadReads(db),
                    event_reads=EventReads(db),
                    writes=LeadWrites(db, outbox_written),
                    recorder=WebhookRecorder(db, outbox_written),
                    importer=LeadImport(db, batch=cfg.import_batch, outbox_written=outbox_written),
                    locations=LocationProfiles(db),
                    dead_letters=DeadLetters(db, outbox_written),
                ),
            )
        ],
        error_domain="ingest.leadengine",
        background=[
            relay.run,
            retention.loop(db, cfg.retention, interval_s=cfg.prune_interval_s),
            backlog.sampler("ingest", db, BACKLOG, cfg.server.metrics_sample_s),
        ],
    )
