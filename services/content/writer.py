"""What a message writer is given and what it gives back.

Templates write today; a Claude writer will implement the same MessageWriter.
Whatever writes, `generation` adds the lines the law requires (STOP line,
email footer) and runs the guardrails on the result, so no writer can skip them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

SMS = "sms"
EMAIL = "email"
FIRST_TOUCH = "first_touch"
FOLLOW_UP = "follow_up"
AGENT_NOTIFICATION = "agent_notification"
TRIGGER = "trigger"
# A recovery campaign's first message to a lead who went quiet.
RE_ENGAGEMENT = "re_engagement"
# An answer to the lead's latest inbound message; the facts carry the thread.
REPLY_TO_INBOUND = "reply_to_inbound"
APPOINTMENT_REMINDER = "appointment_reminder"
PURPOSE_NAMES = (
    FIRST_TOUCH,
    FOLLOW_UP,
    AGENT_NOTIFICATION,
    TRIGGER,
    RE_ENGAGEMENT,
    REPLY_TO_INBOUND,
    APPOINTMENT_REMINDER,
)

ENGLISH = "en"
SPANISH = "es"
LANGUAGES = (ENGLISH, SPANISH)

TEMPLATE = "template"
CLAUDE = "claude"
# Claude was configured but a template wrote the message; Written.fallback_reason says why.
FALLBACK = "fallback"


@dataclass(frozen=True)
class Facts:
    """Caller-supplied context, already sanitised. Empty string = unknown."""

    lead_first_name: str = ""
    agent_name: str = ""
    agent_phone: str = ""
    city: str = ""
    source: str = ""
    brand_name: str = ""
    lead_full_name: str = ""
    lead_score: float = 0.0  # 0 = not given
    # TRIGGER: what the lead did (for the record and the agent) and the listing's address.
    trigger_description: str = ""
    listing_label: str = ""
    # RE_ENGAGEMENT: one of the location's value propositions (rotated by step).
    value_proposition: str = ""
    # Market facts for the lead's ZIP or city, present only when stored and fresh.
    market_area: str = ""
    market_median_price_usd: int = 0  # 0 = no fresh facts
    market_days_on_market: int = 0
    market_inventory: int = 0
    market_as_of: str = ""  # "YYYY-MM-DD"
    # REPLY_TO_INBOUND: the conversation, oldest first, as ("lead" | "us", text).
    thread: tuple[tuple[str, str], ...] = ()
    # APPOINTMENT_REMINDER: when and where, as the lead reads it.
    appointment_label: str = ""
    # CAN-SPAM: no advertisement notice is needed once the lead opted in to marketing email.
    email_marketing_consent: bool = False


@dataclass(frozen=True)
class Draft:
    lead_id: str
    channel: str  # SMS or EMAIL
    purpose: str  # one of the purposes above
    facts: Facts
    # Characters the writer may use for the body, leaving room for required lines.
    max_body_chars: int
    # The cadence step (0: the first touch); later steps read differently.
    step_index: int = 0
    # Guardrail failures of the previous draft: a regeneration is asked to avoid them.
    feedback: tuple[str, ...] = ()
    language: str = ENGLISH  # one of LANGUAGES
    tone: str = ""  # a hint for model writers; templates ignore it
    # SMS segments the finished message may use (GSM-7 or UCS-2, required lines included).
    max_segments: int = 2
    # Whose usage and budget a paid generation counts against.
    location_id: str = ""

    @property
    def to_lead(self) -> bool:
        return self.purpose != AGENT_NOTIFICATION


@dataclass(frozen=True)
class Written:
    subject: str  # email only
    body: str
    generator: str  # TEMPLATE, CLAUDE or FALLBACK
    model: str  # template id or model name
    input_tokens: int = 0  # the uncached part of the prompt
    output_tokens: int = 0
    cost_micros_usd: int = 0
    # FALLBACK only, UPPER_SNAKE (e.g. BUDGET_EXHAUSTED). A fallback still carries what an
    # unusable answer cost.
    fallback_reason: str = ""
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    latency_ms: int = 0
    prompt_sha256: str = ""


class MessageWriter(Protocol):
    async def write(self, draft: Draft) -> Written: ...


@runtime_checkable
class FallsBack(Protocol):
    """A writer that falls back to templates (Claude): given a location's template writer,
    it falls back to that one, so the location's overrides write its fallbacks too."""

    def with_fallback(self, templates: MessageWriter) -> MessageWriter: ...
