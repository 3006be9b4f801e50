"""Which agent gets a lead, and the words that explain why. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.errors import FailedPrecondition


@dataclass(frozen=True)
class Candidate:
    agent_id: str
    name: str
    available: bool
    capacity: int  # effective: the agent's own, else the location default
    active: int
    last_assign_time: datetime | None


@dataclass(frozen=True)
class Decision:
    agent: Candidate
    reasons: list[str]


def _names(agents: list[Candidate]) -> str:
    shown = ", ".join(a.name for a in agents[:3])
    return shown + (f" and {len(agents) - 3} more" if len(agents) > 3 else "")


def choose(candidates: list[Candidate], *, location_id: str) -> Decision:
    """Fewest open leads among available agents with room; ties go to whoever waited longest."""
    unavailable = [c for c in candidates if not c.available]
    full = [c for c in candidates if c.available and c.active >= c.capacity]
    eligible = [c for c in candidates if c.available and c.active < c.capacity]
    if not eligible:
        if not candidates:
            why = f"location {location_id} has no agents; add one with UpsertAgent"
        else:
            why = (
                f"no agent in location {location_id} can take a lead: {len(unavailable)} unavailable, "
                f"{len(full)} at capacity; mark an agent available or raise a capacity"
            )
        raise FailedPrecondition(why, reason="NO_AGENT_AVAILABLE", metadata={"location_id": location_id})

    def key(c: Candidate) -> tuple[int, float, str]:
        waited = c.last_assign_time.timestamp() if c.last_assign_time else 0.0
        return (c.active, waited, c.agent_id)

    ordered = sorted(eligible, key=key)
    best = ordered[0]
    reasons = [
        f"{best.name} is available and holds {best.active} of {best.capacity} open leads, "
        f"the fewest among {len(eligible)} agent(s) with room"
    ]
    tied = [c for c in ordered[1:] if c.active == best.active]
    if tied:
        reasons.append(f"tie on open leads with {_names(tied)}: {best.name} waited longest since a last lead")
    if full:
        reasons.append(f"skipped at capacity: {_names(full)}")
    if unavailable:
        reasons.append(f"skipped as unavailable: {_names(unavailable)}")
    return Decision(best, reasons)
