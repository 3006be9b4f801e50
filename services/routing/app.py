"""Wire routing's servicer to its database."""

from __future__ import annotations

from leadengine.routing.v1 import routing_service_pb2 as pb
from leadengine.routing.v1 import routing_service_pb2_grpc as pb_grpc

from services.routing.assigning import Assigning
from services.routing.config import Config
from services.routing.outcomes import OutcomeRecording
from services.routing.repository import RoutingRepository
from services.routing.roster import Roster
from services.routing.servicer import RoutingServicer
from shared.clients import Peers
from shared.db import Database
from shared.server import Registration, ServiceApp


def create_app(db: Database, peers: Peers, cfg: Config) -> ServiceApp:
    repo = RoutingRepository(db)
    servicer = RoutingServicer(
        Roster(repo), Assigning(repo, default_capacity=cfg.default_capacity), OutcomeRecording(repo)
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
    )
