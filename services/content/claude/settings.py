"""Claude's settings and price table, from the environment, checked once at start-up.

Prices change often (several times in 2026), so they are configuration: the defaults are
the reference's table (USD per million tokens), and CONTENT_CLAUDE_PRICES overrides the
configured model's row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from shared import config
from shared.config import ConfigError

# claude-sonnet-4-5 reaches end of life on 2026-11-30; Sonnet 5.5 is the current Sonnet.
DEFAULT_MODEL = "claude-sonnet-5-5"


@dataclass(frozen=True)
class Prices:
    """USD per million tokens: the uncached input, cache writes (5-minute and 1-hour),
    cache reads and output, each billed at its own price."""

    input: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    output: Decimal


def _p(*values: str) -> Prices:
    return Prices(*(Decimal(v) for v in values))


# integrations.md §4.4, read 2026-11-25 (input, 5-min write, 1-h write, cache read, output).
DEFAULT_PRICES: Mapping[str, Prices] = {
    "claude-haiku-4-5": _p("1.00", "1.25", "2.00", "0.10", "5.00"),
    "claude-sonnet-4-5": _p("3.00", "3.75", "6.00", "0.30", "15.00"),
    "claude-sonnet-4-6": _p("3.00", "3.75", "6.00", "0.30", "15.00"),
    "claude-sonnet-5": _p("2.00", "2.50", "4.00", "0.20", "10.00"),
    "claude-sonnet-5-5": _p("2.00", "2.50", "4.00", "0.20", "10.00"),
    "claude-opus-4-5": _p("5.00", "6.25", "10.00", "0.50", "25.00"),
    "claude-opus-4-6": _p("5.00", "6.25", "10.00", "0.50", "25.00"),
    "claude-opus-4-7": _p("5.00", "6.25", "10.00", "0.50", "25.00"),
    "claude-opus-4-8": _p("5.00", "6.25", "10.00", "0.50", "25.00"),
    "claude-opus-5": _p("5.00", "6.25", "10.00", "0.50", "25.00"),
    "claude-haiku-5-5": _p("0.10", "0.125", "0.20", "0.01", "0.50"),
}
_PRICE_KEYS = ("input", "cache_write_5m", "cache_write_1h", "cache_read", "output")


def _secret(env: Mapping[str, str], name: str) -> str:
    """NAME, else the contents of the file NAME_FILE (a mounted Kubernetes secret)."""
    direct = config.text(env, name)
    if direct:
        return direct
    path = config.text(env, f"{name}_FILE")
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as err:
        raise ConfigError(f"{name}_FILE={path!r} cannot be read: {err.strerror}") from None


def _usd(raw: str, name: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ConfigError(f"{name}={raw!r} is not a number of US dollars") from None
    if not value.is_finite() or value < 0:
        raise ConfigError(f"{name}={raw!r} must be a non-negative number of US dollars")
    return value


def _prices(env: Mapping[str, str], model: str) -> Prices:
    name = "CONTENT_CLAUDE_PRICES"
    raw = config.text(env, name)
    if not raw:
        if model not in DEFAULT_PRICES:
            raise ConfigError(
                f"no price is known for CONTENT_CLAUDE_MODEL={model!r}; set {name}="
                "input=…,cache_write_5m=…,cache_write_1h=…,cache_read=…,output=… (USD per million tokens)"
            )
        return DEFAULT_PRICES[model]
    given: dict[str, Decimal] = {}
    for part in raw.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in _PRICE_KEYS:
            raise ConfigError(f"{name}: {part.strip()!r} is not one of {', '.join(_PRICE_KEYS)}=<USD>")
        given[key] = _usd(value.strip(), f"{name} {key}")
    missing = [k for k in _PRICE_KEYS if k not in given]
    if missing:
        raise ConfigError(f"{name} must give every price; missing {', '.join(missing)}")
    return Prices(**given)


@dataclass(frozen=True)
class ClaudeSettings:
    api_key: str = ""  # empty: templates and the lexicon only
    base_url: str = ""  # empty: the SDK's default (api.anthropic.com)
    model: str = DEFAULT_MODEL
    prices: Prices = field(default_factory=lambda: DEFAULT_PRICES[DEFAULT_MODEL])
    # One HTTP attempt; a slower answer is a timeout and the message falls back.
    attempt_timeout_s: float = 8.0
    # All attempts of one message together, backoff included (also capped by the RPC's deadline).
    total_timeout_s: float = 15.0
    max_attempts: int = 4
    backoff_base_s: float = 0.25
    backoff_cap_s: float = 4.0
    breaker_failures: int = 5
    breaker_cooldown_s: float = 30.0
    max_output_tokens: int = 600
    # CONTENT_MONTHLY_BUDGET_USD in millionths of a dollar; a location may override it.
    monthly_budget_micros_usd: int = 100_000_000

    @property
    def enabled(self) -> bool:
        return bool(self.api_key)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ClaudeSettings:
        base_url = config.text(env, "ANTHROPIC_BASE_URL").rstrip("/")
        if base_url and not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"ANTHROPIC_BASE_URL={base_url!r} must start with http:// or https://")
        model = config.text(env, "CONTENT_CLAUDE_MODEL", DEFAULT_MODEL)
        budget = _usd(config.text(env, "CONTENT_MONTHLY_BUDGET_USD", "100"), "CONTENT_MONTHLY_BUDGET_USD")
        settings = cls(
            api_key=_secret(env, "ANTHROPIC_API_KEY"),
            base_url=base_url,
            model=model,
            prices=_prices(env, model),
            attempt_timeout_s=config.number(env, "CONTENT_CLAUDE_TIMEOUT_S", 8.0, minimum=0.05),
            total_timeout_s=config.number(env, "CONTENT_CLAUDE_TOTAL_TIMEOUT_S", 15.0, minimum=0.05),
            max_attempts=config.integer(env, "CONTENT_CLAUDE_MAX_ATTEMPTS", 4, minimum=1, maximum=10),
            breaker_failures=config.integer(env, "CONTENT_CLAUDE_BREAKER_FAILURES", 5, minimum=1),
            breaker_cooldown_s=config.number(env, "CONTENT_CLAUDE_BREAKER_COOLDOWN_S", 30.0),
            monthly_budget_micros_usd=int(budget * 1_000_000),
        )
        if settings.total_timeout_s < settings.attempt_timeout_s:
            raise ConfigError(
                "CONTENT_CLAUDE_TOTAL_TIMEOUT_S must be at least CONTENT_CLAUDE_TIMEOUT_S (one attempt)"
            )
        return settings
