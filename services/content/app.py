"""Wire content's servicer to its database and its writer."""

from __future__ import annotations

from leadengine.content.v1 import content_service_pb2 as pb
from leadengine.content.v1 import content_service_pb2_grpc as pb_grpc

from services.content.config import Config
from services.content.generation import Generation
from services.content.repository import MessageRepository
from services.content.servicer import ContentServicer
from services.content.settings_repository import ContentSettingsRepository
from services.content.templates import TemplateWriter
from shared.clients import Peers
from shared.db import Database
from shared.server import Registration, ServiceApp


def create_app(db: Database, peers: Peers, cfg: Config) -> ServiceApp:
    # The writer is the seam for Claude: anything with `async write(Draft) -> Written`.
    # The template writer is also the fallback for any other writer's failing drafts.
    repo = MessageRepository(db)
    settings = ContentSettingsRepository(db)
    templates = TemplateWriter()
    generation = Generation(repo, templates, templates, cfg, settings)
    servicer = ContentServicer(generation, repo, settings)
    return ServiceApp(
        registrations=[
            Registration(
                pb.DESCRIPTOR.services_by_name["ContentService"].full_name,
                pb_grpc.add_ContentServiceServicer_to_server,
                servicer,
            )
        ],
        error_domain="content.leadengine",
    )
