"""Claude's cost arithmetic and price configuration: micro-USD exactly per the price table."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.content.claude.cost import Tokens, cost_micros_usd
from services.content.claude.settings import DEFAULT_MODEL, DEFAULT_PRICES, ClaudeSettings, Prices
from shared.config import ConfigError

SONNET_5_5 = DEFAULT_PRICES["claude-sonnet-5-5"]


def test_each_kind_of_token_is_billed_at_its_own_price() -> None:
    # Sonnet 5.5: $2 input, $2.50 5-min cache write, $4 1-h write, $0.20 cache read, $10 output per MTok.
    assert cost_micros_usd(Tokens(input=412), SONNET_5_5) == 824
    assert cost_micros_usd(Tokens(output=37), SONNET_5_5) == 370
    assert cost_micros_usd(Tokens(cache_write_5m=1000), SONNET_5_5) == 2500
    assert cost_micros_usd(Tokens(cache_write_1h=1000), SONNET_5_5) == 4000
    assert cost_micros_usd(Tokens(cache_read=1000), SONNET_5_5) == 200
    # The reference vector's usage: 412 in, 37 out = 824 + 370.
    assert cost_micros_usd(Tokens(input=412, output=37), SONNET_5_5) == 1194
    # A million of each is the table's row, summed.
    million = Tokens(1_000_000, 1_000_000, 1_000_000, 1_000_000, 1_000_000)
    assert cost_micros_usd(million, SONNET_5_5) == (2 + 10 + Decimal("0.2") + Decimal("2.5") + 4) * 1_000_000


def test_fractions_of_a_micro_dollar_are_rounded_up_once_so_spend_is_never_under_counted() -> None:
    haiku = DEFAULT_PRICES[
        "claude-haiku-5-5"
    ]  # $0.01 per MTok cache read: a hundredth of a micro-dollar a token
    assert cost_micros_usd(Tokens(cache_read=1), haiku) == 1
    assert cost_micros_usd(Tokens(cache_read=100), haiku) == 1
    assert cost_micros_usd(Tokens(cache_read=101), haiku) == 2
    assert cost_micros_usd(Tokens(), haiku) == 0


@given(st.lists(st.integers(0, 10**7), min_size=5, max_size=5))
def test_cost_is_the_exact_sum_rounded_up(counts: list[int]) -> None:
    tokens = Tokens(*counts)
    p = SONNET_5_5
    exact = (
        counts[0] * p.input
        + counts[1] * p.output
        + counts[2] * p.cache_read
        + counts[3] * p.cache_write_5m
        + counts[4] * p.cache_write_1h
    )
    cost = cost_micros_usd(tokens, p)
    assert exact <= cost < exact + 1


def test_the_default_model_is_a_current_sonnet_not_the_one_that_ends_this_month() -> None:
    settings = ClaudeSettings.from_env({})
    assert DEFAULT_MODEL == settings.model == "claude-sonnet-5-5"
    assert settings.prices == SONNET_5_5
    assert not settings.enabled


def test_prices_come_from_the_environment_when_given() -> None:
    env = {
        "CONTENT_CLAUDE_MODEL": "claude-sonnet-5-5",
        "CONTENT_CLAUDE_PRICES": "input=2,cache_write_5m=2.5,cache_write_1h=4,cache_read=0.1,output=10",
    }
    settings = ClaudeSettings.from_env(env)
    assert settings.prices == Prices(Decimal(2), Decimal("2.5"), Decimal(4), Decimal("0.1"), Decimal(10))
    assert cost_micros_usd(Tokens(cache_read=1000), settings.prices) == 100


@pytest.mark.parametrize(
    "env",
    [
        {"CONTENT_CLAUDE_MODEL": "claude-unknown-9"},  # no price known: refuse to start
        {"CONTENT_CLAUDE_PRICES": "input=2,output=10"},  # every price must be given
        {"CONTENT_CLAUDE_PRICES": "input=2,cache_write_5m=x,cache_write_1h=4,cache_read=0.1,output=10"},
        {"CONTENT_CLAUDE_PRICES": "input=-2,cache_write_5m=1,cache_write_1h=4,cache_read=0.1,output=10"},
        {"CONTENT_MONTHLY_BUDGET_USD": "-1"},
        {"CONTENT_MONTHLY_BUDGET_USD": "lots"},
        {"ANTHROPIC_BASE_URL": "127.0.0.1:9"},
        {"CONTENT_CLAUDE_TIMEOUT_S": "10", "CONTENT_CLAUDE_TOTAL_TIMEOUT_S": "5"},
        {"ANTHROPIC_API_KEY_FILE": "/nonexistent/anthropic-key"},
    ],
)
def test_bad_settings_stop_the_start(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        ClaudeSettings.from_env(env)


def test_key_and_budget_from_env_and_secret_file(tmp_path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-from-file\n")
    settings = ClaudeSettings.from_env(
        {
            "ANTHROPIC_API_KEY_FILE": str(key_file),
            "ANTHROPIC_BASE_URL": "http://127.0.0.1:9999/",
            "CONTENT_MONTHLY_BUDGET_USD": "12.345678",
        }
    )
    assert settings.enabled
    assert settings.api_key == "sk-from-file"
    assert settings.base_url == "http://127.0.0.1:9999"
    assert settings.monthly_budget_micros_usd == 12_345_678
