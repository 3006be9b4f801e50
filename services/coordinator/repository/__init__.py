"""SQL for the coordinator schema, one module per concept. Each method is one short
transaction; none spans a call to another service."""

from __future__ import annotations

from collections.abc import Sequence

from services.coordinator.repository.communications import (
    CommunicationQueries,
    MessageRecord,
    NewCommunication,
)
from services.coordinator.repository.consent import ConsentQueries, Revocation, facts_from_row
from services.coordinator.repository.events import EventQueries
from services.coordinator.repository.journeys import JourneyQueries
from services.coordinator.repository.notifications import NotificationQueries
from shared.db import Database


class CoordinatorRepository(
    EventQueries, JourneyQueries, ConsentQueries, CommunicationQueries, NotificationQueries
):
    def __init__(self, db: Database) -> None:
        self._db = db


__all__: Sequence[str] = [
    "CoordinatorRepository",
    "MessageRecord",
    "NewCommunication",
    "Revocation",
    "facts_from_row",
]
