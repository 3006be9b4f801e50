"""A location's routing settings, checked. Pure: no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass

from shared.errors import FieldViolation, InvalidArgument

DEFAULT_INACTIVITY_DAYS = 30
DEFAULT_LOAD_WEIGHT = 1.0
MAX_INACTIVITY_DAYS = 3650
MAX_LOAD_WEIGHT = 10.0


@dataclass(frozen=True)
class RoutingSettings:
    inactivity_days: int = DEFAULT_INACTIVITY_DAYS
    round_robin: bool = False
    load_weight: float = DEFAULT_LOAD_WEIGHT


def checked(inactivity_days: int, round_robin: bool, load_weight: float) -> RoutingSettings:
    """0 means the default for either number."""
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
    )
