"""Wire intelligence's servicer to its database and to ingest."""

from __future__ import annotations

from leadengine.intelligence.v1 import intelligence_service_pb2 as pb
from leadengine.intelligence.v1 import intelligence_service_pb2_grpc as pb_grpc

from services.intelligence.activity import ActivityReader
from services.intelligence.config import Config
from services.intelligence.repository import ScoreRepository
from services.intelligence.servicer import IntelligenceServicer
from shared.clients import Peers
from shared.db import Database
from shared.server import Registration, ServiceApp


def create_app(db: Database, peers: Peers, cfg: Config) -> ServiceApp:
    servicer = IntelligenceServicer(ScoreRepository(db), ActivityReader(peers), cfg)
    return ServiceApp(
        registrations=[
            Registration(
                pb.DESCRIPTOR.services_by_name["IntelligenceService"].full_name,
                pb_grpc.add_IntelligenceServiceServicer_to_server,
                servicer,
            )
        ],
        error_domain="intelligence.leadengine",
    )
