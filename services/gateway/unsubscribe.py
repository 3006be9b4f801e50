"""GET/POST /unsubscribe/{token}: one-click unsubscribe (RFC 8058).

POST (what a mail client's one-click sends, body "List-Unsubscribe=One-Click", and what
the page's button sends) unsubscribes. GET only shows a page with that button: mail
scanners and link previews fetch URLs with GET, and RFC 8058 exists so that a fetch
never unsubscribes anyone. The coordinator holds the signing key and verifies the token.
"""

from __future__ import annotations

import html
import logging

import grpc
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from shared.errors import error_reason

log = logging.getLogger(__name__)

UNSUBSCRIBES = Counter(
    "gateway_unsubscribes_total", "Unsubscribe requests answered, by outcome.", ["outcome"]
)
_PAGE = (
    "<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>"
    "<body><h1>{title}</h1><p>{text}</p>{form}</body></html>"
)
TOKEN_MAX = 512


def _page(title: str, text: str, status: int = 200, form: str = "") -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=title, text=text, form=form), status_code=status)


def _invalid() -> HTMLResponse:
    UNSUBSCRIBES.labels("invalid").inc()
    return _page("Link not valid", "This unsubscribe link is not valid. Nothing was changed.", 404)


async def unsubscribe_page(request: Request) -> Response:
    token = request.path_params["token"]
    if len(token) > TOKEN_MAX:
        return _invalid()
    form = (
        f'<form method="post" action="/unsubscribe/{html.escape(token, quote=True)}">'
        '<button type="submit" name="List-Unsubscribe" value="One-Click">Unsubscribe</button></form>'
    )
    return _page("Unsubscribe", "Stop receiving these emails?", form=form)


async def unsubscribe(request: Request) -> Response:
    token = request.path_params["token"]
    if len(token) > TOKEN_MAX:
        return _invalid()
    timeout_s: float = request.app.state.config.ingest_timeout_s
    try:
        await request.app.state.coordinator.UnsubscribeByToken(
            pb.UnsubscribeByTokenRequest(token=token), timeout=timeout_s
        )
    except grpc.aio.AioRpcError as err:
        if err.code() == grpc.StatusCode.INVALID_ARGUMENT:
            return _invalid()
        reason = error_reason(err)
        log.warning("unsubscribe not recorded", extra={"code": err.code().name, "reason": reason})
        UNSUBSCRIBES.labels("unavailable").inc()
        # Not recorded: say so, so the person (or the mail client) tries again.
        return _page(
            "Please try again", "We could not record your request just now. Please try again shortly.", 503
        )
    UNSUBSCRIBES.labels("unsubscribed").inc()
    return _page("Unsubscribed", "You will not receive these emails any more.")
