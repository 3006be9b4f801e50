"""CoordinatorService handlers for compliance: records (proof per send), the dry run,
and frequency caps. Mixed into CoordinatorServicer; proto in, domain calls, proto out."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.coordinator.cadence_servicer import cadence_from_proto
from services.coordinator.compliance import simulation
from services.coordinator.compliance.checks import ComplianceChecks
from services.coordinator.compliance.evaluation import Caps
from services.coordinator.compliance.ledger import ConsentPolicyRepository
from services.coordinator.compliance.records import ComplianceRecord, ComplianceRecordRepository
from services.coordinator.journeys import cadence
from services.coordinator.journeys.cadence import DEFAULT_STEPS, Step
from services.coordinator.journeys.cadence_repository import CadenceRepository
from shared import contact, inputs, pagination, tenancy, timestamps
from shared.errors import FieldViolation, InvalidArgument
from shared.rpc import Context

MAX_DAY_CAP, MAX_WEEK_CAP = 100, 500


@dataclass(frozen=True)
class ComplianceDeps:
    records: ComplianceRecordRepository
    checks: ComplianceChecks
    policies: ConsentPolicyRepository
    cadences: CadenceRepository


def record_to_proto(record: ComplianceRecord) -> pb.ComplianceRecord:
    place = record.recipient or {}
    return pb.ComplianceRecord(
        communication_id=str(record.communication_id) if record.communication_id else "",
        lead_id=str(record.lead_id),
        location_id=record.location_id,
        channel=record.channel,
        address=record.address,
        decision=record.decision,
        reason=record.reason,
        consent_entry_id=record.consent_entry_id or 0,
        gates=[
            pb.GateVerdict(gate=g["gate"], verdict=g["verdict"], detail=g["detail"]) for g in record.gates
        ],
        recipient=pb.RecipientPlace(
            zones=place.get("zones", []), states=place.get("states", []), reasons=place.get("why", [])
        ),
        rules_version=record.rules_version,
        evaluate_time=timestamps.to_proto(record.evaluate_time),
        send_time=timestamps.to_proto(record.send_time),
        evaluations=record.evaluations,
        step_key=record.step_key,
    )


def caps_to_proto(caps: Caps) -> pb.FrequencyCaps:
    return pb.FrequencyCaps(
        sms_per_day=caps.sms_day,
        sms_per_week=caps.sms_week,
        email_per_day=caps.email_day,
        email_per_week=caps.email_week,
    )


def caps_from_proto(given: pb.FrequencyCaps) -> Caps:
    violations = []
    for name, day, week in (
        ("sms", given.sms_per_day, given.sms_per_week),
        ("email", given.email_per_day, given.email_per_week),
    ):
        if not 1 <= day <= MAX_DAY_CAP:
            violations.append(FieldViolation(f"caps.{name}_per_day", f"must be 1..{MAX_DAY_CAP}"))
        if not 1 <= week <= MAX_WEEK_CAP:
            violations.append(FieldViolation(f"caps.{name}_per_week", f"must be 1..{MAX_WEEK_CAP}"))
        elif day > week:
            violations.append(FieldViolation(f"caps.{name}_per_week", f"must be at least {name}_per_day"))
    if violations:
        raise InvalidArgument(
            "invalid frequency caps: " + "; ".join(f"{v.field}: {v.description}" for v in violations),
            reason="INVALID_FREQUENCY_CAPS",
            violations=violations,
        )
    return Caps(given.sms_per_day, given.sms_per_week, given.email_per_day, given.email_per_week)


def _bad(field: str, why: str, reason: str = "INVALID_SIMULATION") -> InvalidArgument:
    return InvalidArgument(f"{field} {why}", reason=reason, violations=[FieldViolation(field, why)])


def _lead(given: ingest_pb.Lead, i: int) -> ingest_pb.Lead:
    """The lead with its contact details normalised as ingest would; bad ones named."""
    lead = ingest_pb.Lead()
    lead.CopyFrom(given)
    lead.phone = contact.normalize_phone(given.phone, f"leads[{i}].phone")
    lead.email = contact.normalize_email(given.email, f"leads[{i}].email")
    lead.timezone = contact.check_timezone(given.timezone, f"leads[{i}].timezone")
    return lead


def _cursor(record: ComplianceRecord) -> dict[str, str]:
    return {"t": record.evaluate_time.isoformat(), "id": f"{record.lead_id}/{record.step_key}"}


def _time_and_key(cursor: dict[str, str]) -> tuple[datetime, str]:
    return datetime.fromisoformat(cursor["t"]), cursor["id"]


class ComplianceHandlers:
    _compliance: ComplianceDeps

    async def GetComplianceRecord(
        self, request: pb.GetComplianceRecordRequest, context: Context
    ) -> pb.GetComplianceRecordResponse:
        cid = inputs.parse_uuid(request.communication_id, "communication_id", what="communication id")
        location = tenancy.required_location(request.location_id)
        record = await self._compliance.records.for_communication(cid)
        tenancy.ensure_owned(
            location,
            record.location_id,
            "communication",
            cid,
            "COMPLIANCE_RECORD_NOT_FOUND",
        )
        return pb.GetComplianceRecordResponse(record=record_to_proto(record))

    async def ListComplianceRecords(
        self, request: pb.ListComplianceRecordsRequest, context: Context
    ) -> pb.ListComplianceRecordsResponse:
        location = inputs.require_text(request.location_id, "location_id")
        start = timestamps.from_proto(request.start_time) if request.HasField("start_time") else None
        end = timestamps.from_proto(request.end_time) if request.HasField("end_time") else None
        if start is None:
            raise _bad("start_time", "is required", "MISSING_FIELD")
        if end is None:
            raise _bad("end_time", "is required", "MISSING_FIELD")
        if end <= start:
            raise _bad("end_time", "must be after start_time", "INVALID_TIME_RANGE")
        size = pagination.page_size(request.page_size)
        query = f"compliance:{location}:{start.isoformat()}:{end.isoformat()}"
        found = await self._compliance.records.list_records(
            location,
            start,
            end,
            pagination.decode_cursor(request.page_token, _time_and_key, query=query),
            size,
        )
        page, token = pagination.page_of(found, size, _cursor, query=query)
        return pb.ListComplianceRecordsResponse(
            records=[record_to_proto(r) for r in page], next_page_token=token
        )

    async def SetFrequencyCaps(
        self, request: pb.SetFrequencyCapsRequest, context: Context
    ) -> pb.SetFrequencyCapsResponse:
        location = inputs.require_text(request.location_id, "location_id")
        caps = caps_from_proto(request.caps)
        return pb.SetFrequencyCapsResponse(
            caps=caps_to_proto(await self._compliance.records.set_caps(location, caps))
        )

    async def GetFrequencyCaps(
        self, request: pb.GetFrequencyCapsRequest, context: Context
    ) -> pb.GetFrequencyCapsResponse:
        location = inputs.require_text(request.location_id, "location_id")
        limits = await self._compliance.checks.limits(location)
        return pb.GetFrequencyCapsResponse(caps=caps_to_proto(limits.caps))

    async def SimulateCadence(
        self, request: pb.SimulateCadenceRequest, context: Context
    ) -> pb.SimulateCadenceResponse:
        """Validated whole first; then read-only: the cadence, the policy and the caps."""
        location = inputs.require_text(request.location_id, "location_id")
        if request.HasField("start_time"):
            start = timestamps.from_proto(request.start_time)
            assert start is not None
        else:
            raise _bad("start_time", "is required", "MISSING_FIELD")
        if not 1 <= request.horizon_days <= simulation.MAX_HORIZON_DAYS:
            raise _bad("horizon_days", f"must be 1..{simulation.MAX_HORIZON_DAYS}")
        if not request.leads:
            raise _bad("leads", "must name at least one lead")
        if len(request.leads) > simulation.MAX_LEADS:
            raise _bad("leads", f"has {len(request.leads)} leads; the limit is {simulation.MAX_LEADS}")
        leads = [_lead(lead, i) for i, lead in enumerate(request.leads)]
        replies = []
        for i, reply in enumerate(request.replies):
            if not 0 <= reply.lead_index < len(leads):
                raise _bad(f"replies[{i}].lead_index", f"must be 0..{len(leads) - 1}")
            after = reply.after.ToTimedelta()
            if after < timedelta(0):
                raise _bad(f"replies[{i}].after", "must not be negative")
            replies.append(simulation.Reply(reply.lead_index, after, reply.body))
        steps = await self._steps(request, location)
        limits = await self._compliance.checks.limits(location)
        policy = await self._compliance.policies.current(location)
        # Seconds of CPU for thousands of leads: off the event loop, so other RPCs still run.
        planned = await asyncio.to_thread(
            simulation.simulate,
            steps,
            leads,
            policy,
            limits,
            start,
            timedelta(days=request.horizon_days),
            replies,
        )
        return pb.SimulateCadenceResponse(
            planned=[
                pb.PlannedMessage(
                    lead_index=p.lead_index,
                    channel=p.channel,
                    step_index=p.step_index,
                    send_time=timestamps.to_proto(p.send_time),
                    status=p.status,
                    reason=p.reason,
                )
                for p in planned
            ]
        )

    async def _steps(self, request: pb.SimulateCadenceRequest, location: str) -> tuple[Step, ...]:
        if request.HasField("cadence") and request.cadence_id:
            raise _bad("cadence_id", "give either cadence or cadence_id, not both")
        if request.HasField("cadence"):
            given = pb.Cadence()
            given.CopyFrom(request.cadence)
            given.location_id = given.location_id or location
            tried = cadence_from_proto(given, None)
            cadence.validate(tried.steps, tried.location_id)
            return tried.steps
        if request.cadence_id:
            stored = await self._compliance.cadences.get_cadence(
                inputs.parse_uuid(request.cadence_id, "cadence_id", what="cadence id")
            )
            # Another location's cadence answers as a missing one: its id must not be confirmed.
            tenancy.ensure_owned(
                location, stored.location_id, "cadence", stored.cadence_id, "CADENCE_NOT_FOUND"
            )
            return stored.steps
        return await self._default_steps(location)

    async def _default_steps(self, location: str) -> tuple[Step, ...]:
        """The location's default cadence if it has one, else the one it would get (read
        only: SimulateCadence must not create it)."""
        after: tuple[datetime, uuid.UUID] | None = None
        while True:
            found = await self._compliance.cadences.list_cadences(location, after, 100)
            for c in found[:100]:
                if c.is_default:
                    return c.steps
            if len(found) <= 100:
                return DEFAULT_STEPS
            last = found[99]
            assert last.create_time is not None
            after = (last.create_time, last.cadence_id)
