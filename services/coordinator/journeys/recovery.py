"""Which ended journeys a recovery campaign may follow with a new one.

A lead has at most one active journey. Once its journey ended, a recovery campaign may
enrol the lead again, in a new journey (the next generation, with its own step keys:
journeys/keys.py), when it ended because
- its cadence finished (JOURNEY_STATE_COMPLETED): the lead never answered, the very
  lead recovery is for;
- the lead replied ("lead replied"): a conversation that went quiet, once the lead has
  been quiet for the campaign's min_days_inactive (the reply is the lead's activity).

Never after any other end: an opt-out ("opted out of every channel", or a keyword, whose
stop reason replaces "lead replied"), a conversion (CONVERTED; a WON outcome replaces
"lead replied" too), a deletion, or a person's StopJourney (whatever its words: a person
decided). Consent, opt-outs and suppressions still gate every message of the new journey,
and campaigns leave out opted-out and suppressed leads before that.
"""

from __future__ import annotations

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from shared.errors import FieldViolation, InvalidArgument

LEAD_REPLIED = "lead replied"
# Stop reasons (of a STOPPED journey) after which a recovery may start a new journey.
RECOVERABLE_STOPS: tuple[str, ...] = (LEAD_REPLIED,)


def refuse_engine_reason(reason: str, engine_reasons: tuple[str, ...]) -> str:
    """A person's StopJourney reason, refused when it reads as one of the engine's own stops.
    Recovery and campaign counts go by those words: a person who stopped a journey "lead
    replied" would otherwise make it recoverable, which a person's stop never is."""
    if reason.strip().casefold() in {r.casefold() for r in (*RECOVERABLE_STOPS, *engine_reasons)}:
        raise InvalidArgument(
            f"reason {reason.strip()!r} is reserved for stops the engine records itself;"
            " describe why you are stopping the journey in your own words",
            reason="STOP_REASON_RESERVED",
            violations=[FieldViolation("reason", "one of the engine's own stop reasons")],
        )
    return reason


def recoverable(state: pb.JourneyState.ValueType, stop_reason: str) -> bool:
    return state == pb.JOURNEY_STATE_COMPLETED or (
        state == pb.JOURNEY_STATE_STOPPED and stop_reason in RECOVERABLE_STOPS
    )


def sql_recoverable(alias: str) -> str:
    """recoverable() over journeys row `alias` (the reasons are constants, not input)."""
    reasons = ", ".join(f"'{r}'" for r in RECOVERABLE_STOPS)
    return (
        f"({alias}.state = {pb.JOURNEY_STATE_COMPLETED} OR ({alias}.state = {pb.JOURNEY_STATE_STOPPED}"
        f" AND {alias}.stop_reason IN ({reasons})))"
    )


def sql_replied_since(alias: str, since: str) -> str:
    """The lead of journeys row `alias` wrote to us at or after `since` (NULL: never asks).
    Replies reach the coordinator, not ingest's events, so ListLeads cannot see them."""
    return (
        f"({since}::timestamptz IS NOT NULL AND EXISTS (SELECT 1 FROM communications rc"
        f" WHERE rc.lead_id = {alias}.lead_id AND rc.direction = {pb.DIRECTION_INBOUND}"
        f" AND rc.create_time >= {since}::timestamptz))"
    )


def sql_blocks_enrolment(alias: str, since: str) -> str:
    """The current journey `alias` keeps its lead out of a recovery campaign."""
    return f"(NOT {sql_recoverable(alias)} OR {sql_replied_since(alias, since)})"
