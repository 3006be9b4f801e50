"""CoordinatorService handlers for the HighLevel marketplace app's installs: the OAuth
code exchange the gateway's callback hands over, and an install's state. Mixed into
CoordinatorServicer; app.py calls init_installs()."""

from __future__ import annotations

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.delivery.credentials import (
    ACTIVE,
    NEEDS_REINSTALL,
    UNINSTALLED,
    HighLevelCredentials,
    Install,
    InstallRepository,
)
from services.coordinator.delivery.install_start import InstallStates
from shared import inputs, timestamps
from shared.errors import NotFound
from shared.rpc import Context

_STATES = {
    ACTIVE: pb.HIGH_LEVEL_INSTALL_STATE_ACTIVE,
    NEEDS_REINSTALL: pb.HIGH_LEVEL_INSTALL_STATE_NEEDS_REINSTALL,
    UNINSTALLED: pb.HIGH_LEVEL_INSTALL_STATE_UNINSTALLED,
}


def install_proto(i: Install) -> pb.HighLevelInstall:
    return pb.HighLevelInstall(
        location_id=i.location_id,
        company_id=i.company_id,
        user_type=i.user_type,
        state=_STATES.get(i.state, pb.HIGH_LEVEL_INSTALL_STATE_UNSPECIFIED),
        state_reason=i.state_reason,
        expire_time=timestamps.to_proto(i.expire_time),
        install_time=timestamps.to_proto(i.install_time),
        refresh_time=timestamps.to_proto(i.refresh_time),
    )


class InstallHandlers:
    def init_installs(
        self, credentials: HighLevelCredentials, installs: InstallRepository, states: InstallStates
    ) -> None:
        self._credentials = credentials
        self._installs = installs
        self._install_states = states

    async def CompleteHighLevelInstall(
        self, request: pb.CompleteHighLevelInstallRequest, context: Context
    ) -> pb.CompleteHighLevelInstallResponse:
        code = inputs.require_text(request.code, "code", max_len=2048)
        # The state first: a code we did not ask for is never exchanged.
        await self._install_states.admit(request.state.strip(), code)
        install = await self._credentials.complete_install(code)
        return pb.CompleteHighLevelInstallResponse(install=install_proto(install))

    async def StartHighLevelInstall(
        self, request: pb.StartHighLevelInstallRequest, context: Context
    ) -> pb.StartHighLevelInstallResponse:
        started = self._install_states.start()
        return pb.StartHighLevelInstallResponse(
            authorization_url=started.authorization_url,
            state=started.state,
            expire_time=timestamps.to_proto(started.expire_time),
        )

    async def GetHighLevelInstall(
        self, request: pb.GetHighLevelInstallRequest, context: Context
    ) -> pb.GetHighLevelInstallResponse:
        location_id = inputs.require_text(request.location_id, "location_id")
        install = await self._installs.get(location_id)
        if install is None:
            raise NotFound(
                f"the HighLevel app was never installed on location {location_id!r}",
                reason="HIGHLEVEL_INSTALL_NOT_FOUND",
                metadata={"location_id": location_id},
            )
        return pb.GetHighLevelInstallResponse(install=install_proto(install))
