"""CoordinatorService handlers for delivery: per-location provider settings and one-click
unsubscribe. Mixed into CoordinatorServicer; app.py calls init_delivery()."""

from __future__ import annotations

from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.compliance.repository import REPORT, ConsentRepository, Revocation
from services.coordinator.delivery.provider_config import EMAIL_PROVIDERS, SMS_PROVIDERS
from services.coordinator.delivery.settings import DeliverySettings, DeliverySettingsRepository
from shared import inputs, timestamps, unsubscribe
from shared.errors import FailedPrecondition, FieldViolation, InvalidArgument
from shared.rpc import Context

EMAIL = common_pb2.CHANNEL_EMAIL


def _settings_proto(s: DeliverySettings) -> pb.DeliverySettings:
    return pb.DeliverySettings(
        location_id=s.location_id,
        sms_provider=s.sms_provider,
        email_provider=s.email_provider,
        update_time=timestamps.to_proto(s.update_time),
    )


def _provider(raw: str, field: str, allowed: tuple[str, ...]) -> str:
    value = raw.strip().lower()
    if value and value not in allowed:
        raise InvalidArgument(
            f"{field} must be one of {', '.join(allowed)} (or empty for the default)",
            reason="INVALID_PROVIDER",
            violations=[FieldViolation(field, f"unknown provider {raw!r}")],
        )
    return value


class DeliveryHandlers:
    _consents: ConsentRepository

    def init_delivery(self, settings: DeliverySettingsRepository, unsubscribe_key: str) -> None:
        self._delivery_settings = settings
        self._unsubscribe_key = unsubscribe_key

    async def SetDeliverySettings(
        self, request: pb.SetDeliverySettingsRequest, context: Context
    ) -> pb.SetDeliverySettingsResponse:
        given = request.settings
        settings = DeliverySettings(
            location_id=inputs.require_text(given.location_id, "settings.location_id"),
            sms_provider=_provider(given.sms_provider, "settings.sms_provider", SMS_PROVIDERS),
            email_provider=_provider(given.email_provider, "settings.email_provider", EMAIL_PROVIDERS),
        )
        return pb.SetDeliverySettingsResponse(
            settings=_settings_proto(await self._delivery_settings.put(settings))
        )

    async def GetDeliverySettings(
        self, request: pb.GetDeliverySettingsRequest, context: Context
    ) -> pb.GetDeliverySettingsResponse:
        location = inputs.require_text(request.location_id, "location_id")
        return pb.GetDeliverySettingsResponse(
            settings=_settings_proto(await self._delivery_settings.get(location))
        )

    async def UnsubscribeByToken(
        self, request: pb.UnsubscribeByTokenRequest, context: Context
    ) -> pb.UnsubscribeByTokenResponse:
        if not self._unsubscribe_key:
            raise FailedPrecondition(
                "unsubscribe links are off: set UNSUBSCRIBE_SIGNING_KEY", reason="UNSUBSCRIBE_NOT_CONFIGURED"
            )
        try:
            named = unsubscribe.verify(request.token.strip(), self._unsubscribe_key)
        except unsubscribe.BadToken as err:
            raise InvalidArgument(
                "the unsubscribe token is not one we issued",
                reason="UNSUBSCRIBE_TOKEN_INVALID",
                violations=[FieldViolation("token", str(err))],
            ) from None
        channel = common_pb2.Channel.ValueType(named.channel)
        facts = await self._consents.find_facts(named.lead_id)
        address = facts.email if facts is not None and named.channel == EMAIL else ""
        await self._consents.revoke(
            Revocation(
                channel=channel,
                address=address,
                lead_id=named.lead_id,
                # Not liftable by a texted START: only the lead's own new consent may.
                source=REPORT,
                reason="lead unsubscribed (one-click link)",
                block_reason="lead unsubscribed (one-click link)",
                at=timestamps.now(),
            )
        )
        return pb.UnsubscribeByTokenResponse(
            lead_id=str(named.lead_id),
            channel=channel,
            location_id=named.location_id,
        )
