"""A peer's error as a Python exception, translated once, where the call is made.

A typed client turns the answers its callers expect (a lead that does not exist,
content refusing to write) into values. Anything else surfaces as PeerError,
which the server interceptor answers as conventions say: UNAVAILABLE and
DEADLINE_EXCEEDED pass through (the caller may retry), the rest is INTERNAL.
"""

from __future__ import annotations

import grpc

from shared.errors import error_reason


class PeerError(Exception):
    """A peer answered `code`, with its ErrorInfo `reason` ("" when none) and message."""

    def __init__(self, peer: str, method: str, code: grpc.StatusCode, reason: str, message: str) -> None:
        super().__init__(f"{peer}.{method} failed: {code.name}: {message}")
        self.peer = peer
        self.method = method
        self.code = code
        self.reason = reason
        self.message = message

    @classmethod
    def from_rpc(cls, peer: str, method: str, err: grpc.aio.AioRpcError) -> PeerError:
        return cls(peer, method, err.code(), error_reason(err), err.details() or "")
