"""Fixed notification texts, used when content cannot write one (unavailable or refused):
an agent must still hear of a new lead. Operational notes to our own user, never lead-facing,
and flagged on the notification (template_reason) so nobody mistakes them for content's."""

from __future__ import annotations

from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb


def _who(lead: ingest_pb.Lead) -> str:
    return " ".join(p for p in (lead.first_name, lead.last_name) if p) or "A new lead"


def _reach(lead: ingest_pb.Lead) -> str:
    ways = [w for w in (lead.phone, lead.email) if w]
    return f" Reach them at {' or '.join(ways)}." if ways else ""


def with_contact(body: str, lead: ingest_pb.Lead) -> str:
    """Content's words plus how to reach the lead: content is never given the lead's
    phone or email, and an agent needs one to act."""
    reach = _reach(lead)
    return body if not reach or (lead.phone and lead.phone in body) else body + reach


def new_lead(lead: ingest_pb.Lead, score: float) -> tuple[str, str]:
    """(subject, body) telling an agent a lead is theirs."""
    who = _who(lead)
    return (
        f"New lead: {who}",
        f"New lead for you: {who}, score {score:.0f}/100.{_reach(lead)} Please contact them soon.",
    )


def reassigned_to_you(lead: ingest_pb.Lead | None, reason: str) -> tuple[str, str]:
    who = _who(lead) if lead is not None else "A lead"
    reach = _reach(lead) if lead is not None else ""
    return (
        f"{who} is now yours",
        f"{who} has been reassigned to you ({reason}).{reach} Please contact them soon.",
    )


def offered_to_you(lead: ingest_pb.Lead | None, group_size: int, accept_by: str) -> tuple[str, str]:
    """First-to-claim: the lead went to several agents at once; whoever accepts first gets it."""
    who = _who(lead) if lead is not None else "A lead"
    others = f" and {group_size - 1} other agent(s)" if group_size > 1 else ""
    until = f" before {accept_by}" if accept_by else ""
    return (
        f"New lead up for grabs: {who}",
        f"{who} was offered to you{others} at once. The first to accept it{until} gets it.",
    )


def missed_deadline(lead: ingest_pb.Lead | None, new_agent: str) -> tuple[str, str]:
    who = _who(lead) if lead is not None else "A lead"
    where = f"went to {new_agent}" if new_agent else "went back to the pond"
    return (
        f"{who} was reassigned",
        f"SLA missed: you did not accept {who} in time, so the lead {where}.",
    )
