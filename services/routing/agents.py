"""What an agent is made of when a caller writes one, and how a missing one is reported. Pure."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shared import contact, inputs
from shared.errors import FieldViolation, InvalidArgument, NotFound


@dataclass(frozen=True)
class AgentFields:
    location_id: str
    external_user_id: str | None
    name: str
    email: str
    phone: str
    timezone: str
    capacity: int
    available: bool


def agent_fields(
    *,
    location_id: str,
    external_user_id: str,
    name: str,
    email: str,
    phone: str,
    timezone: str,
    capacity: int,
    available: bool,
) -> AgentFields:
    """A caller's agent, checked and normalised; field names are those of UpsertAgentRequest."""
    if capacity < 0:
        raise InvalidArgument(
            "agent.capacity must not be negative",
            violations=[FieldViolation("agent.capacity", "0 (default) or more")],
        )
    return AgentFields(
        location_id=inputs.require_text(location_id, "agent.location_id"),
        external_user_id=external_user_id.strip() or None,
        name=inputs.require_text(name, "agent.name"),
        email=contact.normalize_email(email, "agent.email"),
        phone=contact.normalize_phone(phone, "agent.phone"),
        timezone=contact.check_timezone(timezone, "agent.timezone"),
        capacity=capacity,
        available=available,
    )


def agent_missing(agent_id: uuid.UUID) -> NotFound:
    return NotFound(
        f"agent {agent_id} does not exist; list agents with ListAgents",
        reason="AGENT_NOT_FOUND",
        metadata={"agent_id": str(agent_id)},
    )
