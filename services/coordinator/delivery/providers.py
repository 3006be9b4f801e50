"""Provider adapters over real HTTP: Twilio Messages, SendGrid v3 mail send, HighLevel
conversations (integrations.md §1.6, §2.5, §3.3).

Each adapter makes one call and says what it means, never retrying itself (the
dispatcher owns retries, because only it knows the attempt record and the window):

- ACCEPTED: the provider took the message; its id is returned.
- REFUSED: the provider said no for this message (bad number, STOP block): never retried.
- AUTH: the provider rejected our credentials (401/403): FAILED and alerted, never retried.
- RETRY: nothing was sent (429, connection refused): safe to call again after a pause.
- IN_DOUBT: no answer (timeout, 5xx): the message may have arrived; look it up first.

`find` answers "did an earlier call for this message arrive?" from the provider's own
records; it raises LookupFailed when the provider cannot say.
"""

from __future__ import annotations

import email.utils
import enum
import html
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx
from leadengine.common.v1 import common_pb2

from services.coordinator.delivery.credentials import Bearer, NotUsable
from services.coordinator.delivery.highlevel_tokens import TokenEndpointDown
from services.coordinator.delivery.provider_config import HIGHLEVEL, SENDGRID, TWILIO, ProviderConfig
from services.coordinator.delivery.provider_status import TWILIO_ERRORS

SMS = common_pb2.CHANNEL_SMS
EMAIL = common_pb2.CHANNEL_EMAIL
HIGHLEVEL_VERSION = "2021-04-15"


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    AUTH = "auth"
    RETRY = "retry"
    IN_DOUBT = "in_doubt"


@dataclass(frozen=True)
class CallResult:
    verdict: Verdict
    provider_message_id: str = ""
    # The provider's words, e.g. "Twilio 401: Authenticate".
    reason: str = ""
    # Provider error code (Twilio's numeric codes), when it gave one.
    error_code: str = ""
    retry_after_s: float | None = None


@dataclass(frozen=True)
class Outgoing:
    """One message as a provider needs it."""

    communication_id: uuid.UUID
    channel: common_pb2.Channel.ValueType
    to: str
    subject: str
    body: str
    # HighLevel sends name a contact, not an address.
    contact_id: str = ""
    # Email only: the one-click unsubscribe URL (RFC 8058); "" when not configured.
    unsubscribe_url: str = ""
    # Whose HighLevel token a HighLevel send uses.
    location_id: str = ""


class LookupFailed(Exception):
    """The provider could not tell whether an earlier call arrived."""


class ProviderSender(Protocol):
    name: str

    async def send(self, out: Outgoing) -> CallResult: ...

    async def find(self, out: Outgoing, exclude: set[str]) -> str | None: ...


def _retry_after(resp: httpx.Response) -> float | None:
    raw = resp.headers.get("Retry-After", "").strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None  # unreadable: our own backoff applies
    return max(0.0, (parsed - datetime.now(parsed.tzinfo)).total_seconds())


def _json(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def classify_failure(provider: str, resp: httpx.Response, message: str, code: str = "") -> CallResult:
    """A non-2xx answer in our words; `message`/`code` come from the provider's body."""
    label = f"{provider} {code or resp.status_code}"
    meaning = TWILIO_ERRORS.get(code, "") if provider == "Twilio" else ""
    reason = f"{label}: {meaning or message or resp.reason_phrase}"
    if resp.status_code in (401, 403):
        return CallResult(Verdict.AUTH, reason=reason, error_code=code)
    if resp.status_code == 429:
        return CallResult(Verdict.RETRY, reason=reason, error_code=code, retry_after_s=_retry_after(resp))
    if resp.status_code >= 500:
        return CallResult(Verdict.IN_DOUBT, reason=reason, error_code=code)
    return CallResult(Verdict.REFUSED, reason=reason, error_code=code)


async def _post(provider: str, call: Any) -> httpx.Response | CallResult:
    """Run one request; a transport failure becomes RETRY (never sent) or IN_DOUBT."""
    try:
        resp: httpx.Response = await call
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as err:
        # The request never left this process: nothing can have arrived.
        return CallResult(Verdict.RETRY, reason=f"{provider} unreachable: {type(err).__name__}")
    except httpx.HTTPError as err:
        return CallResult(Verdict.IN_DOUBT, reason=f"{provider} did not answer: {type(err).__name__}")
    return resp


class TwilioSender:
    name = TWILIO

    def __init__(self, http: httpx.AsyncClient, cfg: ProviderConfig) -> None:
        self._http = http
        self._cfg = cfg
        self._auth = (cfg.twilio_account_sid, cfg.twilio_auth_token)
        self._messages = f"{cfg.twilio_base_url}/2010-04-01/Accounts/{cfg.twilio_account_sid}/Messages.json"

    async def send(self, out: Outgoing) -> CallResult:
        form = {"To": out.to, "Body": out.body}
        if self._cfg.twilio_messaging_service_sid:
            form["MessagingServiceSid"] = self._cfg.twilio_messaging_service_sid
        else:
            form["From"] = self._cfg.twilio_from
        if self._cfg.public_base_url:
            form["StatusCallback"] = f"{self._cfg.public_base_url}/webhooks/twilio/status"
        got = await _post("Twilio", self._http.post(self._messages, data=form, auth=self._auth))
        if isinstance(got, CallResult):
            return got
        body = _json(got)
        if got.status_code in (200, 201) and body.get("sid"):
            return CallResult(Verdict.ACCEPTED, provider_message_id=str(body["sid"]))
        return classify_failure("Twilio", got, str(body.get("message", "")), str(body.get("code") or ""))

    async def find(self, out: Outgoing, exclude: set[str]) -> str | None:
        # No idempotency key exists for Twilio (§2.5): the same text to the same number, not
        # already another message of ours, is this one. Not filtered by DateSent: a message
        # still queued has no date_sent yet, and missing it would send it twice. The list is
        # newest first, so the first page holds any recent attempt.
        params = {"To": out.to, "PageSize": "100"}
        try:
            resp = await self._http.get(self._messages, params=params, auth=self._auth)
        except httpx.HTTPError as err:
            raise LookupFailed(f"Twilio lookup failed: {type(err).__name__}") from err
        if resp.status_code != 200:
            raise LookupFailed(f"Twilio lookup answered {resp.status_code}")
        for message in _json(resp).get("messages", []):
            sid = str(message.get("sid", ""))
            if sid and sid not in exclude and message.get("body") == out.body and message.get("to") == out.to:
                return sid
        return None


class SendGridSender:
    name = SENDGRID

    def __init__(self, http: httpx.AsyncClient, cfg: ProviderConfig) -> None:
        self._http = http
        self._cfg = cfg
        self._headers = {"Authorization": f"Bearer {cfg.sendgrid_api_key}"}

    def payload(self, out: Outgoing) -> dict[str, Any]:
        sender: dict[str, str] = {"email": self._cfg.sendgrid_from}
        if self._cfg.sendgrid_from_name:
            sender["name"] = self._cfg.sendgrid_from_name
        body: dict[str, Any] = {
            "personalizations": [{"to": [{"email": out.to}]}],
            "from": sender,
            "subject": out.subject,
            "content": [{"type": "text/plain", "value": out.body}],
            # Comes back flattened on every event, and is what a lookup searches for.
            "custom_args": {"communication_id": str(out.communication_id)},
        }
        if out.unsubscribe_url:
            body["headers"] = {
                "List-Unsubscribe": f"<{out.unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
        return body

    async def send(self, out: Outgoing) -> CallResult:
        got = await _post(
            "SendGrid",
            self._http.post(
                f"{self._cfg.sendgrid_base_url}/v3/mail/send", json=self.payload(out), headers=self._headers
            ),
        )
        if isinstance(got, CallResult):
            return got
        message_id = got.headers.get("X-Message-Id", "")
        if got.status_code == 202 and message_id:
            return CallResult(Verdict.ACCEPTED, provider_message_id=message_id)
        errors = _json(got).get("errors") or [{}]
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        return classify_failure("SendGrid", got, str(first.get("message", "")))

    async def find(self, out: Outgoing, exclude: set[str]) -> str | None:
        # Email Activity search on the custom arg we attach to every message.
        query = f"unique_args['communication_id']=\"{out.communication_id}\""
        try:
            resp = await self._http.get(
                f"{self._cfg.sendgrid_base_url}/v3/messages",
                params={"limit": "10", "query": query},
                headers=self._headers,
            )
        except httpx.HTTPError as err:
            raise LookupFailed(f"SendGrid lookup failed: {type(err).__name__}") from err
        if resp.status_code != 200:
            raise LookupFailed(f"SendGrid lookup answered {resp.status_code}")
        for message in _json(resp).get("messages", []):
            # msg_id is the X-Message-Id plus routing suffixes.
            head = str(message.get("msg_id", "")).split(".", 1)[0]
            if head and head not in exclude:
                return head
        return None


def as_html(text: str) -> str:
    """Plain text as the HTML body HighLevel's Email type takes: escaped, line breaks kept."""
    return html.escape(text).replace("\n", "<br>\n")


class BearerSource(Protocol):
    """Where HighLevel calls get their token (services/coordinator/delivery/credentials.py)."""

    async def bearer(self, location_id: str) -> Bearer: ...

    async def refresh(self, location_id: str, *, stale: str | None) -> str: ...


class EnvToken:
    """HIGHLEVEL_ACCESS_TOKEN for every location (no app install): nothing to refresh."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def bearer(self, location_id: str) -> Bearer:
        if not self._token:
            raise NotUsable("no HIGHLEVEL_ACCESS_TOKEN and no HighLevel app configured")
        return Bearer(self._token)

    async def refresh(self, location_id: str, *, stale: str | None) -> str:
        raise NotUsable("HIGHLEVEL_ACCESS_TOKEN cannot be refreshed")


class HighLevelSender:
    name = HIGHLEVEL

    def __init__(
        self, http: httpx.AsyncClient, cfg: ProviderConfig, tokens: BearerSource | None = None
    ) -> None:
        self._http = http
        self._cfg = cfg
        self._tokens: BearerSource = tokens or EnvToken(cfg.highlevel_token)

    @staticmethod
    def _headers(token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "Version": HIGHLEVEL_VERSION,
            "Accept": "application/json",
        }

    async def send(self, out: Outgoing) -> CallResult:
        if not out.contact_id:
            return CallResult(Verdict.REFUSED, reason="HighLevel needs the lead's contact id; none is known")
        body: dict[str, Any] = {"contactId": out.contact_id}
        if out.channel == SMS:
            body.update(type="SMS", message=out.body, toNumber=out.to)
        else:
            body.update(type="Email", subject=out.subject, html=as_html(out.body), emailTo=out.to)
        try:
            bearer = await self._tokens.bearer(out.location_id)
        except NotUsable as err:
            return CallResult(Verdict.AUTH, reason=err.reason)
        except TokenEndpointDown as err:  # a due refresh could not be made: nothing was sent
            return CallResult(Verdict.RETRY, reason=err.reason)
        got = await self._post(body, bearer.token)
        if isinstance(got, httpx.Response) and got.status_code == 401 and bearer.location_id:
            # The location's token may have expired early or been rotated: refresh once, retry once.
            try:
                token = await self._tokens.refresh(bearer.location_id, stale=bearer.token)
            except NotUsable as err:
                return CallResult(Verdict.AUTH, reason=err.reason)
            except TokenEndpointDown as err:
                return CallResult(Verdict.RETRY, reason=err.reason)
            got = await self._post(body, token)
        if isinstance(got, CallResult):
            return got
        answer = _json(got)
        if got.status_code in (200, 201) and answer.get("messageId"):
            return CallResult(Verdict.ACCEPTED, provider_message_id=str(answer["messageId"]))
        return classify_failure("HighLevel", got, str(answer.get("message", "")))

    async def _post(self, body: dict[str, Any], token: str) -> httpx.Response | CallResult:
        return await _post(
            "HighLevel",
            self._http.post(
                f"{self._cfg.highlevel_base_url}/conversations/messages",
                json=body,
                headers=self._headers(token),
            ),
        )

    async def find(self, out: Outgoing, exclude: set[str]) -> str | None:
        # The contact's conversation, newest messages first: ours is the outbound one
        # with the same text that no other communication of ours claims.
        base = self._cfg.highlevel_base_url
        try:
            headers = self._headers((await self._tokens.bearer(out.location_id)).token)
        except (NotUsable, TokenEndpointDown) as err:
            raise LookupFailed(f"HighLevel lookup has no usable token: {err}") from err
        try:
            found = await self._http.get(
                f"{base}/conversations/search", params={"contactId": out.contact_id}, headers=headers
            )
            if found.status_code != 200:
                raise LookupFailed(f"HighLevel conversation search answered {found.status_code}")
            for conversation in _json(found).get("conversations", []):
                resp = await self._http.get(
                    f"{base}/conversations/{conversation.get('id', '')}/messages",
                    params={"limit": "100"},
                    headers=headers,
                )
                if resp.status_code != 200:
                    raise LookupFailed(f"HighLevel message list answered {resp.status_code}")
                page = _json(resp).get("messages", {})
                for message in page.get("messages", []) if isinstance(page, dict) else []:
                    mid = str(message.get("id", ""))
                    if (
                        mid
                        and mid not in exclude
                        and message.get("direction") == "outbound"
                        and message.get("body") in (out.body, as_html(out.body))
                    ):
                        return mid
        except httpx.HTTPError as err:
            raise LookupFailed(f"HighLevel lookup failed: {type(err).__name__}") from err
        return None


def build_senders(
    http: httpx.AsyncClient, cfg: ProviderConfig, highlevel: BearerSource | None = None
) -> dict[str, ProviderSender]:
    """The providers this process holds credentials for. `highlevel` gives per-location
    tokens (app installs); without it HIGHLEVEL_ACCESS_TOKEN serves every location."""
    senders: dict[str, ProviderSender] = {}
    if cfg.twilio_ready:
        senders[TWILIO] = TwilioSender(http, cfg)
    if cfg.sendgrid_ready:
        senders[SENDGRID] = SendGridSender(http, cfg)
    if cfg.highlevel_ready:
        senders[HIGHLEVEL] = HighLevelSender(http, cfg, highlevel)
    return senders


def http_client(cfg: ProviderConfig) -> httpx.AsyncClient:
    """The one client of the process: pooled connections, every phase timed out."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(cfg.timeout_s, connect=min(3.0, cfg.timeout_s)),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )
