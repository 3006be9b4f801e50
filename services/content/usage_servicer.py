"""ContentService's usage and budget handlers (GetUsage, SetLocationBudget,
GetLocationBudget): proto in, repository calls, proto out. Mixed into ContentServicer."""

from __future__ import annotations

from leadengine.content.v1 import content_service_pb2 as pb

from services.content.usage_repository import Budgets, UsageRepository
from shared import inputs, timestamps
from shared.errors import FieldViolation, InvalidArgument
from shared.rpc import Context

# A year of days per model is a small answer; a wider window is a mistake or a report job.
MAX_USAGE_DAYS = 400


class UsageHandlers:
    _usage: UsageRepository
    _budgets: Budgets

    async def _budget(self, location_id: str) -> pb.LocationBudget:
        budget, is_default = await self._budgets.of(location_id)
        return pb.LocationBudget(
            location_id=location_id,
            monthly_budget_micros_usd=budget,
            is_default=is_default,
            spent_micros_usd=await self._budgets.spent_this_month(location_id, timestamps.now()),
        )

    async def GetUsage(self, request: pb.GetUsageRequest, context: Context) -> pb.GetUsageResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        start = timestamps.from_proto(request.start_time) if request.HasField("start_time") else None
        end = timestamps.from_proto(request.end_time) if request.HasField("end_time") else None
        if start is None or end is None:
            missing = [n for n, v in (("start_time", start), ("end_time", end)) if v is None]
            raise InvalidArgument(
                f"{' and '.join(missing)} required: usage is reported over [start_time, end_time)",
                reason="MISSING_FIELD",
                violations=[FieldViolation(n, "required") for n in missing],
            )
        if end <= start or (end - start).days > MAX_USAGE_DAYS:
            raise InvalidArgument(
                f"end_time must be after start_time and at most {MAX_USAGE_DAYS} days later",
                reason="INVALID_TIME_RANGE",
                violations=[FieldViolation("end_time", f"after start_time, within {MAX_USAGE_DAYS} days")],
            )
        rows = await self._usage.usage(location_id, start, end)
        return pb.GetUsageResponse(
            rows=[
                pb.UsageRow(
                    day=r.day,
                    model=r.model,
                    generations=r.generations,
                    fallbacks=r.fallbacks,
                    input_tokens=r.input_tokens,
                    output_tokens=r.output_tokens,
                    cache_read_input_tokens=r.cache_read_input_tokens,
                    cache_creation_input_tokens=r.cache_creation_input_tokens,
                    cost_micros_usd=r.cost_micros_usd,
                )
                for r in rows
            ],
            total_cost_micros_usd=sum(r.cost_micros_usd for r in rows),
        )

    async def SetLocationBudget(
        self, request: pb.SetLocationBudgetRequest, context: Context
    ) -> pb.SetLocationBudgetResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        if request.monthly_budget_micros_usd < 0:
            raise InvalidArgument(
                "monthly_budget_micros_usd must not be negative; 0 keeps Claude off for the location",
                violations=[FieldViolation("monthly_budget_micros_usd", "0 or more")],
            )
        if request.use_default and request.monthly_budget_micros_usd:
            raise InvalidArgument(
                "give either use_default or monthly_budget_micros_usd, not both",
                violations=[FieldViolation("use_default", "not with monthly_budget_micros_usd")],
            )
        await self._usage.set_budget(
            location_id, None if request.use_default else request.monthly_budget_micros_usd
        )
        return pb.SetLocationBudgetResponse(budget=await self._budget(location_id))

    async def GetLocationBudget(
        self, request: pb.GetLocationBudgetRequest, context: Context
    ) -> pb.GetLocationBudgetResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        return pb.GetLocationBudgetResponse(budget=await self._budget(location_id))
