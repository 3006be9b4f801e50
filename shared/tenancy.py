"""A caller's tenant claim. Reads keyed by a bare id (a lead, a cadence, a campaign) accept the
location the caller acts for; what the id names must belong to it. Anything else answers
NOT_FOUND, exactly as an id that does not exist would, so a caller of one location cannot even
learn that another location's id is real."""

from __future__ import annotations

from shared import inputs
from shared.errors import FailedPrecondition, NotFound


def claimed_location(raw: str) -> str | None:
    """The location a request claims; None when it claims none (an internal, cross-tenant caller)."""
    return inputs.require_text(raw, "location_id") if raw.strip() else None


def required_location(raw: str) -> str:
    """The location a write keyed by a bare id must name (#15): every caller of such a write
    knows the location it acts for, so a missing claim is INVALID_ARGUMENT naming the field."""
    return inputs.require_text(raw, "location_id")


def ensure_owned(claimed: str | None, owner: str, what: str, ident: object, reason: str) -> None:
    """Raise NotFound(reason) when a claim is made and `owner` is not the claimed location."""
    if claimed is not None and owner != claimed:
        raise not_in(claimed, what, ident, reason)


def not_in(claimed: str, what: str, ident: object, reason: str) -> NotFound:
    """The answer for an id the claimed location does not own (or that does not exist at all:
    the two are told apart for no caller)."""
    return NotFound(
        f"{what} {ident} does not exist in location {claimed}",
        reason=reason,
        metadata={"location_id": claimed},
    )


def ensure_same_key_owner(request_id: str | None, owner: str, location_id: str) -> None:
    """Idempotency keys are scoped by location: a request_id that a call for another location
    already used answers FAILED_PRECONDITION (IDEMPOTENCY_KEY_REUSED) and changes nothing, rather
    than handing back (or touching) that location's object. The other location is not named."""
    if request_id and owner != location_id:
        raise key_reused(request_id, location_id)


def key_reused(request_id: str, location_id: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"request_id {request_id} was already used for another request; send a new request_id",
        reason="IDEMPOTENCY_KEY_REUSED",
        metadata={"request_id": request_id, "location_id": location_id},
    )
