"""RoutingService handlers for the end of assignments, location settings and prediction stats.
Mixed into RoutingServicer, which supplies the use-cases and _assignment_proto."""

from __future__ import annotations

from leadengine.routing.v1 import routing_service_pb2 as pb

from services.routing import lifecycle, prediction_stats, settings
from services.routing.lifecycle import Lifecycle
from services.routing.location_store import LocationStore
from services.routing.repository import Assignment
from shared import inputs, timestamps
from shared.rpc import Context

# GetRoutingStats scores the newest this many predictions (a rolling hold-out: each was made
# before its outcome was learned).
STATS_WINDOW = 5000


def settings_to_proto(value: settings.RoutingSettings) -> pb.RoutingSettings:
    return pb.RoutingSettings(
        inactivity_days=value.inactivity_days,
        round_robin=value.round_robin,
        load_weight=value.load_weight,
        accept_sla_seconds=value.accept_sla_seconds,
        max_reassignments=value.max_reassignments,
        claim_group_size=value.claim_group_size,
    )


class LifecycleHandlers:
    _lifecycle: Lifecycle
    _store: LocationStore

    def _assignment_proto(self, assignment: Assignment) -> pb.Assignment:
        raise NotImplementedError

    async def ReleaseAssignment(
        self, request: pb.ReleaseAssignmentRequest, context: Context
    ) -> pb.ReleaseAssignmentResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        location_id = inputs.require_text(request.location_id, "location_id")
        why = lifecycle.release_reason(request.reason)
        released = await self._lifecycle.release(lead_id, location_id, why)
        return pb.ReleaseAssignmentResponse(assignment=self._assignment_proto(released))

    async def RecordLeadActivity(
        self, request: pb.RecordLeadActivityRequest, context: Context
    ) -> pb.RecordLeadActivityResponse:
        lead_id = inputs.parse_uuid(request.lead_id, "lead_id", what="lead id")
        location_id = inputs.require_text(request.location_id, "location_id")
        touched = await self._lifecycle.touch(
            lead_id, location_id, timestamps.from_proto(request.activity_time)
        )
        return pb.RecordLeadActivityResponse(assignment=self._assignment_proto(touched))

    async def SetRoutingSettings(
        self, request: pb.SetRoutingSettingsRequest, context: Context
    ) -> pb.SetRoutingSettingsResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        given = request.settings
        value = settings.checked(
            given.inactivity_days,
            given.round_robin,
            given.load_weight,
            given.accept_sla_seconds,
            given.max_reassignments,
            given.claim_group_size,
        )
        stored = await self._store.set_settings(location_id, value)
        return pb.SetRoutingSettingsResponse(settings=settings_to_proto(stored))

    async def GetRoutingSettings(
        self, request: pb.GetRoutingSettingsRequest, context: Context
    ) -> pb.GetRoutingSettingsResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        return pb.GetRoutingSettingsResponse(
            settings=settings_to_proto(await self._store.settings(location_id))
        )

    async def GetRoutingStats(
        self, request: pb.GetRoutingStatsRequest, context: Context
    ) -> pb.GetRoutingStatsResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        rows = await self._store.stats_rows(location_id, STATS_WINDOW)
        predicted = [p for p, _ in rows]
        actual = [w for _, w in rows]
        return pb.GetRoutingStatsResponse(
            stats=pb.RoutingStats(
                outcomes_seen=len(rows),
                conversions=sum(actual),
                auc=prediction_stats.auc(predicted, actual),
                brier=prediction_stats.brier(predicted, actual),
                calibration_error=prediction_stats.calibration_error(predicted, actual),
                model_version=await self._store.model_version(location_id),
            )
        )
