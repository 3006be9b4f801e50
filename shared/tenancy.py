"""A caller's tenant claim. Reads keyed by a bare id (a lead, a cadence, a campaign) accept the
location the caller acts for; what the id names must belong to it. Anything else answers
NOT_FOUND, exactly as an id that does not exist would, so a caller of one location cannot even
learn that another location's id is real."""

from __future__ import annotations

from shared import inputs
from shared.errors import NotFound


def claimed_location(raw: str) -> str | None:
    """The location a request claims; None when it claims none (an internal, cross-tenant caller)."""
    return inputs.require_text(raw, "location_id") if raw.strip() else None


def ensure_owned(claimed: str | None, owner: str, what: str, ident: object, reason: str) -> None:
    """Raise NotFound(reason) when a claim is made and `owner` is not the claimed location."""
    if claimed is not None and owner != claimed:
        raise NotFound(
            f"{what} {ident} does not exist in location {claimed}",
            reason=reason,
            metadata={"location_id": claimed},
        )
