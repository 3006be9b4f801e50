"""Local fake Twilio, SendGrid and HighLevel APIs that speak the documented wire formats
(integrations.md §1.6, §2.5, §3.3) and count every message they accept.

One Starlette app serves all three on one port, each under its real path:
    POST /2010-04-01/Accounts/{sid}/Messages.json   GET (list, filtered by To)
    POST /v3/mail/send                              GET /v3/messages?query=unique_args[...]
    POST /conversations/messages                    GET /conversations/search, /conversations/{id}/messages
    POST /oauth/token (HighLevel app installs)      GET /contacts/{id} (scriptable: `contacts`)

Faults are queued per provider and consumed one request at a time, e.g.
`fakes.twilio.faults.extend(["500", "429"])`:
  "500"          answer 500 without taking the message
  "500_accepted" take the message, then answer 500 (the answer was lost)
  "429"          answer 429 with Retry-After: 0
  "timeout"      take the message, then answer after `hang_s` (longer than the client waits)
  "slow"         answer normally after `slow_s`
  "401"          answer 401
  "21610"        answer Twilio's 400 for a number that replied STOP
`revoked = True` answers every later call with 401 (a credential revoked mid-run).
HighLevel's OAuth (`fakes.oauth`): `issue_code(location)` makes an authorization code; the token
endpoint takes it once, and each refresh token once (a reused one is answered 400
invalid_grant), issuing tokens that expire after `expires_in_s`; `refuse_refresh` refuses
every refresh. HighLevel calls accept HIGHLEVEL_TOKEN or a live issued token, else 401.
`contact_delay_s` makes GET /contacts slow.
With `status_callbacks` set, Twilio posts signed "sent" then "delivered" callbacks to the
message's StatusCallback, as the real one does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import re
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cli import fake_anthropic
from cli.fake_anthropic import FakeAnthropic
from services.gateway import signatures

TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "fake-twilio-auth-token"  # noqa: S105 - the fake's own, not a secret
SENDGRID_KEY = "SG.fake-sendgrid-key"
HIGHLEVEL_TOKEN = "fake-highlevel-token"  # noqa: S105 - the fake's own, not a secret
HIGHLEVEL_CLIENT_ID = "fake-highlevel-app"
HIGHLEVEL_CLIENT_SECRET = "fake-highlevel-app-secret"  # noqa: S105 - the fake's own, not a secret


@dataclass
class OAuth:
    """The fake's HighLevel marketplace app: codes, tokens and what the endpoint was asked."""

    expires_in_s: int = 86399
    refuse_refresh: bool = False
    # code -> (location id, company id)
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)
    # access token -> (location id, expiry as a monotonic-free wall time)
    access: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    # live refresh token -> location id (removed when used: single-use)
    refresh: dict[str, str] = field(default_factory=dict)
    # Every token request's form, in order.
    requests: list[dict[str, str]] = field(default_factory=list)

    def issue_code(self, location_id: str, company_id: str = "comp-fake") -> str:
        code = secrets.token_urlsafe(16)
        self.codes[code] = (location_id, company_id)
        return code

    def expire(self, token: str) -> None:
        """Make an issued access token expired now (HighLevel's clock, not ours)."""
        location, _ = self.access[token]
        self.access[token] = (location, datetime.now(UTC) - timedelta(seconds=1))

    def grants(self, grant_type: str) -> list[dict[str, str]]:
        return [r for r in self.requests if r.get("grant_type") == grant_type]


@dataclass
class Receipt:
    provider: str
    provider_message_id: str
    to: str
    body: str
    # The communication id SendGrid carries in custom_args; "" for the others.
    communication_id: str = ""
    contact_id: str = ""
    # The request as the provider read it (form fields or JSON body).
    details: dict[str, Any] = field(default_factory=dict)
    date: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Provider:
    name: str
    faults: list[str] = field(default_factory=list)
    revoked: bool = False
    receipts: list[Receipt] = field(default_factory=list)
    calls: int = 0
    hang_s: float = 3.0
    slow_s: float = 0.2
    # Every accepted message is answered this much later (time for a crash mid-call).
    delay_s: float = 0.0

    def next_fault(self) -> str:
        if self.revoked:
            return "401"
        return self.faults.pop(0) if self.faults else ""


class FakeProviders:
    def __init__(self) -> None:
        self.twilio = Provider("twilio")
        self.sendgrid = Provider("sendgrid")
        self.highlevel = Provider("highlevel")
        # Claude's Messages API (cli/fake_anthropic.py), on the same port.
        self.anthropic = FakeAnthropic()
        self.status_callbacks = False
        self.oauth = OAuth()
        # HighLevel contacts GET /contacts/{id} answers with (id -> contact JSON), and each read.
        self.contacts: dict[str, dict[str, Any]] = {}
        self.contact_reads: list[str] = []
        self.contact_delay_s = 0.0
        # The bearer token of each accepted HighLevel message, by message id.
        self.highlevel_tokens: dict[str, str] = {}
        # (contact id, body) of every PUT /contacts/{id}: the DND write-backs.
        self.dnd_updates: list[tuple[str, dict[str, Any]]] = []
        # The bearer token of each contact's latest DND write-back.
        self.dnd_update_tokens: dict[str, str] = {}
        # Called with each receipt as it is taken, before the answer goes back.
        self.on_receipt: Callable[[Receipt], None] | None = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def receipts(self) -> list[Receipt]:
        return self.twilio.receipts + self.sendgrid.receipts + self.highlevel.receipts

    def _take(self, provider: Provider, receipt: Receipt) -> Receipt:
        with self._lock:
            provider.receipts.append(receipt)
        if self.on_receipt is not None:
            self.on_receipt(receipt)
        return receipt

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}{secrets.token_hex(12)}"

    async def _fault_answer(self, provider: Provider, fault: str, error: dict[str, Any]) -> Response | None:
        if fault == "401":
            return JSONResponse({**error, "message": "Authenticate"}, status_code=401)
        if fault == "429":
            return JSONResponse({**error, "message": "Too Many Requests"}, 429, headers={"Retry-After": "0"})
        if fault == "500":
            return JSONResponse({**error, "message": "Internal Server Error"}, status_code=500)
        if fault == "21610":  # Twilio: the number replied STOP to this sender
            return JSONResponse({"code": 21610, "message": "Attempt to send to unsubscribed recipient"}, 400)
        return None

    async def _after_take(self, provider: Provider, fault: str) -> Response | None:
        if provider.delay_s:
            await asyncio.sleep(provider.delay_s)
        if fault == "500_accepted":
            return JSONResponse({"message": "Internal Server Error"}, status_code=500)
        if fault == "timeout":
            await asyncio.sleep(provider.hang_s)
        if fault == "slow":
            await asyncio.sleep(provider.slow_s)
        return None

    # Twilio ---------------------------------------------------------------------------------

    def _twilio_authorized(self, request: Request) -> bool:
        expected = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        return request.headers.get("authorization", "") == f"Basic {expected}"

    async def twilio_messages(self, request: Request) -> Response:
        p = self.twilio
        if not self._twilio_authorized(request) or request.path_params["sid"] != TWILIO_SID:
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, status_code=401)
        if request.method == "GET":
            to = request.query_params.get("To", "")
            return JSONResponse(
                {
                    "messages": [
                        {"sid": r.provider_message_id, "to": r.to, "body": r.body, "status": "queued"}
                        for r in reversed(p.receipts)  # newest first, as Twilio lists them
                        if r.to == to
                    ]
                }
            )
        p.calls += 1
        fault = p.next_fault()
        code = {"401": 20003, "429": 20429}.get(fault, 20500)
        status = int(fault) if fault.isdigit() else 0
        early = await self._fault_answer(p, fault, {"code": code, "status": status})
        if early is not None:
            return early
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        to, body = str(form.get("To", "")), str(form.get("Body", ""))
        if not to.startswith("+") or not body or not (form.get("From") or form.get("MessagingServiceSid")):
            return JSONResponse({"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}, 400)
        receipt = self._take(p, Receipt("twilio", self._new_id("SM"), to, body, details=dict(form)))
        late = await self._after_take(p, fault)
        if late is not None:
            return late
        callback = str(form.get("StatusCallback", ""))
        if callback and self.status_callbacks:
            task = asyncio.create_task(self._twilio_callbacks(callback, receipt))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return JSONResponse(
            {
                "sid": receipt.provider_message_id,
                "account_sid": TWILIO_SID,
                "to": to,
                "from": str(form.get("From", "")),
                "body": body,
                "status": "queued",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "num_segments": "1",
                "error_code": None,
                "error_message": None,
            },
            status_code=201,
        )

    async def _twilio_callbacks(self, url: str, receipt: Receipt) -> None:
        async with httpx.AsyncClient(timeout=5.0) as client:
            for status in ("sent", "delivered"):
                await asyncio.sleep(0.3)
                params = [
                    ("MessageSid", receipt.provider_message_id),
                    ("MessageStatus", status),
                    ("SmsSid", receipt.provider_message_id),
                    ("SmsStatus", status),
                    ("AccountSid", TWILIO_SID),
                    ("To", receipt.to),
                    ("ApiVersion", "2010-04-01"),
                ]
                signature = signatures.twilio_signature(url, params, TWILIO_TOKEN)
                await client.post(url, data=dict(params), headers={"X-Twilio-Signature": signature})

    # SendGrid -------------------------------------------------------------------------------

    async def sendgrid_send(self, request: Request) -> Response:
        p = self.sendgrid
        if request.headers.get("authorization") != f"Bearer {SENDGRID_KEY}":
            return JSONResponse({"errors": [{"message": "authorization required"}]}, status_code=401)
        p.calls += 1
        fault = p.next_fault()
        early = await self._fault_answer(p, fault, {"errors": [{"message": f"fault {fault}"}]})
        if early is not None:
            return early
        mail = await request.json()
        to = mail["personalizations"][0]["to"][0]["email"]
        body = mail["content"][0]["value"]
        cid = str(mail.get("custom_args", {}).get("communication_id", ""))
        receipt = self._take(
            p, Receipt("sendgrid", secrets.token_urlsafe(16), to, body, communication_id=cid, details=mail)
        )
        late = await self._after_take(p, fault)
        if late is not None:
            return late
        return Response(status_code=202, headers={"X-Message-Id": receipt.provider_message_id})

    async def sendgrid_activity(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {SENDGRID_KEY}":
            return JSONResponse({"errors": [{"message": "authorization required"}]}, status_code=401)
        query = request.query_params.get("query", "")
        wanted = re.search(r"unique_args\['communication_id'\]=\"([^\"]+)\"", query)
        cid = wanted.group(1) if wanted else None
        return JSONResponse(
            {
                "messages": [
                    {"msg_id": f"{r.provider_message_id}.filterdrecv-1-2", "to_email": r.to}
                    for r in self.sendgrid.receipts
                    if r.communication_id == cid
                ]
            }
        )

    # HighLevel ------------------------------------------------------------------------------

    def _highlevel_authorized(self, request: Request) -> bool:
        if not request.headers.get("version"):
            return False
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token == HIGHLEVEL_TOKEN:
            return True
        issued = self.oauth.access.get(token)
        return issued is not None and issued[1] > datetime.now(UTC)

    def _issue(self, location_id: str, company_id: str) -> dict[str, Any]:
        access, refresh = f"hl-at-{secrets.token_urlsafe(12)}", f"hl-rt-{secrets.token_urlsafe(12)}"
        o = self.oauth
        o.access[access] = (location_id, datetime.now(UTC) + timedelta(seconds=o.expires_in_s))
        o.refresh[refresh] = location_id
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": o.expires_in_s,
            "refresh_token": refresh,
            "scope": "conversations/message.write contacts.readonly contacts.write",
            "userType": "Location",
            "locationId": location_id,
            "companyId": company_id,
            "userId": "user-fake",
        }

    async def highlevel_token(self, request: Request) -> Response:
        """POST /oauth/token, form-encoded: authorization_code and refresh_token grants."""
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        o = self.oauth
        with self._lock:
            o.requests.append(form)
        if (form.get("client_id"), form.get("client_secret")) != (
            HIGHLEVEL_CLIENT_ID,
            HIGHLEVEL_CLIENT_SECRET,
        ):
            return JSONResponse({"error": "invalid_client", "error_description": "bad client"}, 401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            named = o.codes.pop(form.get("code", ""), None)
            if named is None:
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "code invalid or used"}, 400
                )
            return JSONResponse(self._issue(*named))
        if grant == "refresh_token":
            location = o.refresh.pop(form.get("refresh_token", ""), None)
            if location is None or o.refuse_refresh:
                return JSONResponse(
                    {"error": "invalid_grant", "error_description": "refresh token invalid"}, 400
                )
            return JSONResponse(self._issue(location, "comp-fake"))
        return JSONResponse({"error": "unsupported_grant_type"}, 400)

    async def highlevel_contact(self, request: Request) -> Response:
        """GET /contacts/{id}: the scripted contact, after contact_delay_s."""
        if not self._highlevel_authorized(request):
            return JSONResponse({"statusCode": 401, "message": "Invalid JWT"}, status_code=401)
        contact = request.path_params["contact"]
        with self._lock:
            self.contact_reads.append(contact)
        if self.contact_delay_s:
            await asyncio.sleep(self.contact_delay_s)
        found = self.contacts.get(contact)
        if found is None:
            return JSONResponse({"statusCode": 400, "message": "Contact not found"}, status_code=400)
        return JSONResponse({"contact": {"id": contact, **found}})

    async def highlevel_send(self, request: Request) -> Response:
        p = self.highlevel
        if not self._highlevel_authorized(request):
            return JSONResponse({"statusCode": 401, "message": "Invalid JWT"}, status_code=401)
        p.calls += 1
        fault = p.next_fault()
        early = await self._fault_answer(p, fault, {"statusCode": int(fault) if fault.isdigit() else 0})
        if early is not None:
            return early
        msg = await request.json()
        if not msg.get("contactId") or msg.get("type") not in ("SMS", "Email"):
            return JSONResponse({"statusCode": 422, "message": ["contactId must be a string"]}, 422)
        body = msg.get("message") if msg["type"] == "SMS" else msg.get("html")
        to = msg.get("toNumber") or msg.get("emailTo") or ""
        receipt = self._take(
            p,
            Receipt(
                "highlevel", self._new_id("hl"), to, str(body), contact_id=str(msg["contactId"]), details=msg
            ),
        )
        self.highlevel_tokens[receipt.provider_message_id] = request.headers["authorization"].removeprefix(
            "Bearer "
        )
        late = await self._after_take(p, fault)
        if late is not None:
            return late
        return JSONResponse(
            {"conversationId": f"conv-{receipt.contact_id}", "messageId": receipt.provider_message_id}
        )

    async def highlevel_update_contact(self, request: Request) -> Response:
        """PUT /contacts/{id}: what the contact was told (DND write-backs), in dnd_updates."""
        p = self.highlevel
        if not self._highlevel_authorized(request):
            return JSONResponse({"statusCode": 401, "message": "Invalid JWT"}, status_code=401)
        p.calls += 1
        fault = p.next_fault()
        early = await self._fault_answer(p, fault, {"statusCode": int(fault) if fault.isdigit() else 0})
        if early is not None:
            return early
        update = await request.json()
        contact = request.path_params["contact"]
        with self._lock:
            self.dnd_updates.append((contact, update))
            self.dnd_update_tokens[contact] = request.headers["authorization"].removeprefix("Bearer ")
        return JSONResponse({"succeded": True, "contact": {"id": contact, **update}})

    async def highlevel_search(self, request: Request) -> Response:
        if not self._highlevel_authorized(request):
            return JSONResponse({"statusCode": 401, "message": "Invalid JWT"}, status_code=401)
        contact = request.query_params.get("contactId", "")
        has = any(r.contact_id == contact for r in self.highlevel.receipts)
        found = [{"id": f"conv-{contact}", "contactId": contact}] if has else []
        return JSONResponse({"conversations": found})

    async def highlevel_messages(self, request: Request) -> Response:
        if not self._highlevel_authorized(request):
            return JSONResponse({"statusCode": 401, "message": "Invalid JWT"}, status_code=401)
        contact = request.path_params["conversation"].removeprefix("conv-")
        rows = [
            {"id": r.provider_message_id, "body": r.body, "direction": "outbound", "messageType": "TYPE_SMS"}
            for r in self.highlevel.receipts
            if r.contact_id == contact
        ]
        return JSONResponse({"messages": {"lastMessageId": "", "nextPage": False, "messages": rows[::-1]}})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route(
                    "/2010-04-01/Accounts/{sid}/Messages.json", self.twilio_messages, methods=["GET", "POST"]
                ),
                Route("/v3/mail/send", self.sendgrid_send, methods=["POST"]),
                Route("/v3/messages", self.sendgrid_activity, methods=["GET"]),
                Route("/conversations/messages", self.highlevel_send, methods=["POST"]),
                Route("/conversations/search", self.highlevel_search, methods=["GET"]),
                Route("/contacts/{contact}", self.highlevel_update_contact, methods=["PUT"]),
                Route("/contacts/{contact}", self.highlevel_contact, methods=["GET"]),
                Route("/oauth/token", self.highlevel_token, methods=["POST"]),
                Route("/conversations/{conversation}/messages", self.highlevel_messages, methods=["GET"]),
                *self.anthropic.routes(),
            ]
        )


@contextlib.asynccontextmanager
async def running_fakes(fakes: FakeProviders | None = None) -> AsyncIterator[tuple[FakeProviders, str]]:
    """The fakes on 127.0.0.1 port 0; yields them and their base URL."""
    fakes = fakes or FakeProviders()
    server = uvicorn.Server(
        uvicorn.Config(
            fakes.app(), host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the fake providers stopped before they started")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield fakes, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def env_for(base_url: str, *, gateway_url: str = "") -> dict[str, str]:
    """Coordinator (and gateway) settings that point every provider at the fakes."""
    env = {
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM_NUMBER": "+15125550199",
        "TWILIO_BASE_URL": base_url,
        "SENDGRID_API_KEY": SENDGRID_KEY,
        "SENDGRID_FROM_EMAIL": "agent@example.com",
        "SENDGRID_BASE_URL": base_url,
        "HIGHLEVEL_ACCESS_TOKEN": HIGHLEVEL_TOKEN,
        "HIGHLEVEL_BASE_URL": base_url,
    }
    if gateway_url:
        env["WEBHOOK_PUBLIC_BASE_URL"] = gateway_url
    return env


def serve(port: int, gateway_url: str) -> int:
    """Run the fakes in the foreground for `leadengine up` + `leadengine demo`: Twilio posts
    signed status callbacks to the gateway as the real one does."""
    fakes = FakeProviders()
    fakes.status_callbacks = True
    base = f"http://127.0.0.1:{port}"
    print("fake Twilio, SendGrid, HighLevel and Anthropic on", base)
    print("start the mesh with these settings, e.g.")
    print("  env $(leadengine fake-providers --print-env) leadengine up")
    for name, value in (env_for(base, gateway_url=gateway_url) | fake_anthropic.env_for(base)).items():
        print(f"  {name}={value}")
    uvicorn.run(fakes.app(), host="127.0.0.1", port=port, log_config=None, access_log=False)
    return 0
