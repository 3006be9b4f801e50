"""A location's routing settings, checked. Pure: no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass

from shared.errors import FieldViolation, InvalidArgument

DEFAULT_INACTIVITY_DAYS = 30
DEFAULT_LOAD_WEIGHT = 1.0
MAX_INACTIVITY_DAYS = 3650
MAX_LOAD_WEIGHT = 10.0
DEFAULT_ACCEPT_SLA_SECONDS = 300
MAX_ACCEPT_SLA_SECONDS = 7 * 24 * 3600
DEFAULT_MAX_REASSIGNMENTS = 3
MAX_REASSIGNMENTS = 20
# First-to-claim: at most this many agents are offered a lead at once.
MAX_CLAIM_GROUP = 10


@dataclass(frozen=True)
class RoutingSettings:
    inactivity_days: int = DEFAULT_INACTIVITY_DAYS
    round_robin: bool = False
    load_weight: float = DEFAULT_LOAD_WEIGHT
    accept_sla_seconds: int = DEFAULT_ACCEPT_SLA_SECONDS
    max_reassignments: int = DEFAULT_MAX_REASSIGNMENTS
    # 2..MAX_CLAIM_GROUP: first-to-claim, offering each lead to this many agents at once; 0: off.
    claim_group_size: int = 0

    @property
    def first_to_claim(self) -> bool:
        return self.claim_group_size >= 2


def _range(value: int, field: str, maximum: int) -> int:
    if not 0 <= value <= maximum:
        raise InvalidArgument(
            f"{field} {value} is out of range",
            reason="INVALID_SETTINGS",
            violations=[FieldViolation(field, f"0 (default) to {maximum}")],
        )
    return value


def checked(
    inactivity_days: int,
    round_robin: bool,
    load_weight: float,
    accept_sla_seconds: int = 0,
    max_reassignments: int = 0,
    claim_group_size: int = 0,
) -> RoutingSettings:
    """0 means the default for every number."""
    _range(accept_sla_seconds, "settings.accept_sla_seconds", MAX_ACCEPT_SLA_SECONDS)
    _range(max_reassignments, "settings.max_reassignments", MAX_REASSIGNMENTS)
    _range(claim_group_size, "settings.claim_group_size", MAX_CLAIM_GROUP)
    if not 0 <= inactivity_days <= MAX_INACTIVITY_DAYS:
        raise InvalidArgument(
            f"settings.inactivity_days {inactivity_days} is out of range",
            reason="INVALID_SETTINGS",
            violations=[FieldViolation("settings.inactivity_days", f"0 (default) to {MAX_INACTIVITY_DAYS}")],
        )
    if not (math.isfinite(load_weight) and 0 <= load_weight <= MAX_LOAD_WEIGHT):
        raise InvalidArgument(
            f"settings.load_weight {load_weight} is out of range",
            reason="INVALID_SETTINGS",
            violations=[FieldViolation("settings.load_weight", f"0 (default) to {MAX_LOAD_WEIGHT}")],
        )
    return RoutingSettings(
        inactivity_days=inactivity_days or DEFAULT_INACTIVITY_DAYS,
        round_robin=round_robin,
        load_weight=load_weight or DEFAULT_LOAD_WEIGHT,
        accept_sla_seconds=accept_sla_seconds or DEFAULT_ACCEPT_SLA_SECONDS,
        max_reassignments=max_reassignments or DEFAULT_MAX_REASSIGNMENTS,
        claim_group_size=claim_group_size if claim_group_size >= 2 else 0,
    )
