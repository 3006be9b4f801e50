"""Compliance records: SQL only. One row per automated message (lead, step_key), with
every gate's verdict, the consent basis it relied on and the recipient's zone/state."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from prometheus_client import Counter

from services.coordinator.compliance.evaluation import DAY, WEEK, Caps, Evaluation, History
from shared import deadlines
from shared.db import Conn, Database
from shared.errors import NotFound
from shared.keyset import Keyset

SMS = common_pb2.CHANNEL_SMS
# Counted once the record is committed. Gate names and verdicts are fixed words
# (compliance.gates, compliance.evaluation); the free-text detail is never a label.
GATE_VERDICTS = Counter(
    "compliance_gate_verdicts_total",
    "Recorded compliance gate verdicts, by gate and verdict.",
    ["gate", "verdict"],
)
DECISIONS = Counter(
    "compliance_decisions_total",
    "Recorded compliance decisions (send, schedule, hold, block), by the gate that decided.",
    ["action", "gate"],
)
SCHEDULED = pb.COMMUNICATION_STATUS_SCHEDULED
OUTBOUND = pb.DIRECTION_OUTBOUND
# (lead, step) is the record's key; as one text it breaks ties of evaluate_time.
RECORD_KEY = "r.lead_id::text || '/' || r.step_key"
_PAGE = Keyset("r.evaluate_time", "timestamptz", RECORD_KEY, id_type="text", descending=False)


def count(evaluation: Evaluation) -> None:
    for v in evaluation.verdicts:
        GATE_VERDICTS.labels(v.gate, v.verdict.replace(" ", "_")).inc()
    # The first gate that did not pass decided; a send was decided by all of them.
    decider = next(
        (v.gate for v in evaluation.verdicts if v.verdict not in ("pass", "not applicable")), "all"
    )
    DECISIONS.labels(evaluation.decision.action.value, decider).inc()


@dataclass(frozen=True)
class ComplianceRecord:
    lead_id: uuid.UUID
    step_key: str
    location_id: str
    channel: common_pb2.Channel.ValueType
    address: str
    decision: str
    reason: str
    consent_entry_id: int | None
    gates: list[dict[str, Any]]
    recipient: dict[str, Any]
    rules_version: str
    evaluate_time: datetime
    send_time: datetime | None
    evaluations: int
    communication_id: uuid.UUID | None = None


def _record(row: asyncpg.Record) -> ComplianceRecord:
    return ComplianceRecord(
        lead_id=row["lead_id"],
        step_key=row["step_key"],
        location_id=row["location_id"],
        channel=row["channel"],
        address=row["address"],
        decision=row["decision"],
        reason=row["reason"],
        consent_entry_id=row["consent_entry_id"],
        gates=row["gates"],
        recipient=row["recipient"],
        rules_version=row["rules_version"],
        evaluate_time=row["evaluate_time"],
        send_time=row["send_time"],
        evaluations=row["evaluations"],
        communication_id=row["communication_id"],
    )


_WITH_COMMUNICATION = (
    "SELECT r.*, c.communication_id FROM compliance_records r"
    " LEFT JOIN communications c ON c.lead_id = r.lead_id AND c.step_key = r.step_key"
)


# $1 lead, $2 step key, $3 channel, $4 now, $5 a week before, $6 the location; by phone
# also $7 the number and $8 a day before.
_LEAD_SENDS = (
    "SELECT send_time FROM compliance_records WHERE lead_id = $1 AND channel = $3"
    " AND send_time IS NOT NULL AND send_time > $5 AND send_time <= $4 AND step_key <> $2"
)
_BASIS_ENTRY = (
    "SELECT entry_id FROM consent_ledger WHERE lead_id = $1 AND channel = $3 AND change = 'basis'"
    " ORDER BY entry_id DESC LIMIT 1"
)
_PHONE_SENDS = (
    "SELECT send_time FROM compliance_records WHERE address = $7 AND send_time IS NOT NULL"
    " AND send_time > $8 AND send_time <= $4 AND channel = $3"
    " AND NOT (lead_id = $1 AND step_key = $2)"
    " UNION ALL SELECT create_time FROM communications WHERE address = $7 AND channel = $3"
    f" AND direction = {OUTBOUND} AND step_key LIKE 'crm:%'"
    " AND create_time > $8 AND create_time <= $4"
)
# The location's caps, the history they count and the consent basis in one round trip (run
# under the address lock). No caps row: NULL caps, the configured defaults apply.
_DECISION_INPUTS = (
    f"SELECT ARRAY({_LEAD_SENDS}) AS lead, ({_BASIS_ENTRY}) AS entry_id,"
    " f.sms_day, f.sms_week, f.email_day, f.email_week"
)
_FROM_CAPS = " FROM (VALUES (1)) AS one LEFT JOIN frequency_caps f ON f.location_id = $6"
_DECISION_INPUTS_BY_PHONE = f"{_DECISION_INPUTS}, ARRAY({_PHONE_SENDS}) AS phone{_FROM_CAPS}"
_DECISION_INPUTS += _FROM_CAPS


@dataclass(frozen=True)
class DecisionInputs:
    history: History
    caps: Caps  # the location's, else the default given
    consent_entry_id: int | None  # the channel's latest basis entry in the consent ledger


async def decision_inputs(
    conn: Conn,
    lead_id: uuid.UUID,
    step_key: str,
    location_id: str,
    channel: common_pb2.Channel.ValueType,
    address: str,
    now: datetime,
    default_caps: Caps,
) -> DecisionInputs:
    """The location's caps (`default_caps` when it set none) and what they count as of
    `now`: texts to the number in the last 24 h (any lead, any location, automated or a
    person's from the CRM) and this lead's automated messages on the channel in the last 7
    days; never the message being decided (a send retried after a crash must not count
    itself). With them, the ledger entry of the channel's consent basis the record will
    cite (None when there is none)."""
    by_phone = channel == SMS and bool(address)
    args: tuple[object, ...] = (lead_id, step_key, channel, now, now - WEEK, location_id)
    if by_phone:
        args += (address, now - DAY)
    row = await conn.fetchrow(
        _DECISION_INPUTS_BY_PHONE if by_phone else _DECISION_INPUTS, *args, timeout=deadlines.timeout(2.0)
    )
    phone: tuple[datetime, ...] = tuple(row["phone"]) if by_phone else ()
    caps = (
        default_caps
        if row["sms_day"] is None
        else Caps(row["sms_day"], row["sms_week"], row["email_day"], row["email_week"])
    )
    return DecisionInputs(History(phone_sends=phone, lead_sends=tuple(row["lead"])), caps, row["entry_id"])


class ComplianceRecordRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def decide(
        self,
        *,
        lead_id: uuid.UUID,
        step_key: str,
        location_id: str,
        channel: common_pb2.Channel.ValueType,
        address: str,
        now: datetime,
        evaluate: Callable[[History, Caps], Evaluation],
        default_caps: Caps,
    ) -> Evaluation:
        """Read the location's caps (`default_caps` when it set none) and the send history,
        run `evaluate(history, caps)` and store the record, in one transaction under a lock
        on the address: two workers deciding sends to one number at once cannot both count
        the same free slot."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('compliance:' || $1))",
                address or str(lead_id),
                timeout=deadlines.timeout(5.0),
            )
            found = await decision_inputs(
                conn, lead_id, step_key, location_id, channel, address, now, default_caps
            )
            entry_id = found.consent_entry_id
            evaluation = evaluate(found.history, found.caps)
            decision = evaluation.decision
            await conn.execute(
                "INSERT INTO compliance_records (lead_id, step_key, location_id, channel, address, decision,"
                " reason, consent_entry_id, gates, recipient, rules_version, evaluate_time, send_time)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                " ON CONFLICT (lead_id, step_key) DO UPDATE SET location_id = EXCLUDED.location_id,"
                " channel = EXCLUDED.channel, address = EXCLUDED.address, decision = EXCLUDED.decision,"
                " reason = EXCLUDED.reason, consent_entry_id = EXCLUDED.consent_entry_id,"
                " gates = EXCLUDED.gates, recipient = EXCLUDED.recipient,"
                " rules_version = EXCLUDED.rules_version, evaluate_time = EXCLUDED.evaluate_time,"
                " send_time = EXCLUDED.send_time, evaluations = compliance_records.evaluations + 1,"
                " update_time = now()"
                # A decision to send is final: a retry after it went out must not rewrite it.
                " WHERE compliance_records.send_time IS NULL",
                lead_id,
                step_key,
                location_id,
                channel,
                address,
                decision.action.value,
                decision.reason,
                entry_id,
                evaluation.gates_record(),
                evaluation.recipient.as_record() if evaluation.recipient is not None else {},
                evaluation.rules_version,
                now,
                now if decision.action.value == "send" else None,
                timeout=deadlines.timeout(2.0),
            )
        count(evaluation)
        return evaluation

    async def hold(self, communication_id: uuid.UUID, reason: str) -> None:
        """Held for review: still SCHEDULED, but with no time the scheduler would claim it by."""
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            await conn.execute(
                "UPDATE communications SET status_reason = $2, scheduled_time = NULL, claim_until = NULL,"
                f" update_time = now() WHERE communication_id = $1 AND status = {SCHEDULED}",
                communication_id,
                reason,
                timeout=deadlines.timeout(2.0),
            )

    async def release_held(self, lead_id: uuid.UUID, reason: str, now: datetime) -> int:
        """The lead's zone became known: its held messages are due again (re-gated when claimed)."""
        async with self._db.connection() as conn:  # one statement: atomic without BEGIN/COMMIT
            result: str = await conn.execute(
                "UPDATE communications SET scheduled_time = $2, update_time = now()"
                f" WHERE lead_id = $1 AND status = {SCHEDULED} AND scheduled_time IS NULL"
                " AND status_reason = $3",
                lead_id,
                now,
                reason,
                timeout=deadlines.timeout(2.0),
            )
        return int(result.rsplit(" ", 1)[-1])

    async def for_communication(self, communication_id: uuid.UUID) -> ComplianceRecord:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                _WITH_COMMUNICATION + " WHERE c.communication_id = $1",
                communication_id,
                timeout=deadlines.timeout(2.0),
            )
            if row is None:
                exists = await conn.fetchval(
                    "SELECT direction FROM communications WHERE communication_id = $1",
                    communication_id,
                    timeout=deadlines.timeout(2.0),
                )
        if row is None:
            why = (
                "it is not a known communication"
                if exists is None
                else "it was not gated (an inbound message, a person's CRM message, or the opt-out"
                " confirmation or HELP answer, which go to the lead at its own request)"
            )
            raise NotFound(
                f"no compliance record for communication {communication_id}: {why}",
                reason="COMPLIANCE_RECORD_NOT_FOUND",
                metadata={"communication_id": str(communication_id)},
            )
        return _record(row)

    async def list_records(
        self,
        location_id: str,
        start: datetime,
        end: datetime,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[ComplianceRecord]:
        """Up to limit + 1 of the location's records evaluated in [start, end), oldest first."""
        async with self._db.connection() as conn:
            rows = await _PAGE.fetch(
                conn,
                _WITH_COMMUNICATION + " WHERE r.location_id = $1"
                " AND r.evaluate_time >= $2 AND r.evaluate_time < $3",
                [location_id, start, end],
                after,
                limit,
                deadline_s=deadlines.timeout(5.0),
            )
        return [_record(row) for row in rows]

    async def caps(self, location_id: str, default: Caps) -> Caps:
        async with self._db.connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM frequency_caps WHERE location_id = $1",
                location_id,
                timeout=deadlines.timeout(2.0),
            )
        if row is None:
            return default
        return Caps(row["sms_day"], row["sms_week"], row["email_day"], row["email_week"])

    async def set_caps(self, location_id: str, caps: Caps) -> Caps:
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO frequency_caps (location_id, sms_day, sms_week, email_day, email_week)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (location_id) DO UPDATE SET"
                " sms_day = EXCLUDED.sms_day, sms_week = EXCLUDED.sms_week, email_day = EXCLUDED.email_day,"
                " email_week = EXCLUDED.email_week, update_time = now()",
                location_id,
                caps.sms_day,
                caps.sms_week,
                caps.email_day,
                caps.email_week,
                timeout=deadlines.timeout(2.0),
            )
        return caps
