"""GET /oauth/highlevel/callback?code=...&state=...: where HighLevel sends a person who
installed our marketplace app. The code and state go to the coordinator, which owns the
tokens and checks the state it issued (signed, expiring, single-use); this page only says
whether the install worked. The code is single-use and short-lived, so the page never asks
to reload: a failure says to start the install again.

GET /oauth/highlevel/start: where an install starts. It redirects to HighLevel's
authorization page with a fresh state from the coordinator."""

from __future__ import annotations

import html
import logging

import grpc
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from shared.errors import error_reason

log = logging.getLogger(__name__)

INSTALLS = Counter(
    "gateway_highlevel_installs_total", "HighLevel OAuth callbacks answered, by outcome.", ["outcome"]
)
_PAGE = (
    "<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>"
    "<body><h1>{title}</h1><p>{text}</p></body></html>"
)
CODE_MAX = 2048
STATE_MAX = 256
START_TIMEOUT_S = 5.0
# The exchange includes a call to HighLevel's token endpoint.
EXCHANGE_TIMEOUT_S = 15.0


def _page(outcome: str, title: str, text: str, status: int) -> HTMLResponse:
    INSTALLS.labels(outcome).inc()
    return HTMLResponse(_PAGE.format(title=title, text=html.escape(text)), status_code=status)


async def highlevel_callback(request: Request) -> Response:
    code = request.query_params.get("code", "").strip()
    if not code or len(code) > CODE_MAX:
        # HighLevel adds error=... when the person declined.
        said = request.query_params.get("error", "")[:100]
        why = f"HighLevel said: {said}." if said else "The link carries no authorization code."
        return _page(
            "invalid", "Install not completed", f"{why} Start the install again from HighLevel.", 400
        )
    state = request.query_params.get("state", "").strip()
    if not state or len(state) > STATE_MAX:
        # Refused here, before the coordinator: nothing is exchanged or written.
        return _page(
            "refused",
            "Install not completed",
            "The link carries no valid install state, so we cannot tell that this install was"
            " started by us. Start the install again from our install link.",
            400,
        )
    try:
        resp = await request.app.state.coordinator.CompleteHighLevelInstall(
            pb.CompleteHighLevelInstallRequest(code=code, state=state), timeout=EXCHANGE_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as err:
        reason = error_reason(err)
        log.warning("HighLevel install not completed", extra={"code": err.code().name, "reason": reason})
        if err.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
            return _page("refused", "Install not completed", f"{err.details()}", 400)
        return _page(
            "unavailable",
            "Install not completed",
            "We could not complete the install just now. Start the install again from HighLevel shortly.",
            503,
        )
    location = resp.install.location_id
    return _page(
        "installed", "LeadEngine installed", f"LeadEngine can now send for location {location}.", 200
    )


async def highlevel_start(request: Request) -> Response:
    try:
        started = await request.app.state.coordinator.StartHighLevelInstall(
            pb.StartHighLevelInstallRequest(), timeout=START_TIMEOUT_S
        )
    except grpc.aio.AioRpcError as err:
        log.warning("HighLevel install not started", extra={"code": err.code().name})
        if err.code() == grpc.StatusCode.FAILED_PRECONDITION:
            return _page("not_configured", "Install not available", f"{err.details()}", 503)
        return _page(
            "unavailable",
            "Install not available",
            "We could not start the install just now. Try shortly.",
            503,
        )
    INSTALLS.labels("started").inc()
    # 303: the browser follows with a GET, and nobody caches a one-time state.
    return RedirectResponse(started.authorization_url, status_code=303, headers={"Cache-Control": "no-store"})
