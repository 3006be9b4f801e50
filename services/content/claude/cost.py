"""What a call cost, in millionths of a US dollar, from its usage and the price table. Pure.

A price in USD per million tokens is exactly the cost of one token in micro-USD, so the
cost is a sum of tokens x price with no scaling. Prices like 0.125 leave fractions of a
micro-dollar; the sum is rounded up once, so spend (and budgets) are never under-counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from services.content.claude.settings import Prices


@dataclass(frozen=True)
class Tokens:
    input: int = 0  # the uncached part of the prompt
    output: int = 0
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0

    @property
    def cache_write(self) -> int:
        return self.cache_write_5m + self.cache_write_1h

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(
            self.input + other.input,
            self.output + other.output,
            self.cache_read + other.cache_read,
            self.cache_write_5m + other.cache_write_5m,
            self.cache_write_1h + other.cache_write_1h,
        )


def cost_micros_usd(tokens: Tokens, prices: Prices) -> int:
    exact = (
        tokens.input * prices.input
        + tokens.cache_write_5m * prices.cache_write_5m
        + tokens.cache_write_1h * prices.cache_write_1h
        + tokens.cache_read * prices.cache_read
        + tokens.output * prices.output
    )
    return int(Decimal(exact).to_integral_value(rounding=ROUND_CEILING))
