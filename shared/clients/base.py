"""What every typed client shares: the deadline slice and the error translation of one call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from shared import deadlines
from shared.clients.errors import PeerError

Resp = TypeVar("Resp")


class Client:
    """Base of the typed clients: `peer` names the service in errors and logs."""

    peer = ""

    async def _call(
        self, name: str, method: Callable[..., Awaitable[Resp]], request: Any, *, budget_s: float
    ) -> Resp:
        """`method(request)` with a slice of the current deadline; a gRPC error becomes PeerError."""
        try:
            return await method(request, timeout=deadlines.timeout(budget_s))
        except grpc.aio.AioRpcError as err:
            raise PeerError.from_rpc(self.peer, name, err) from None
