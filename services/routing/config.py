"""Everything routing reads from its environment, checked once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared import config
from shared.config import ServerSettings


@dataclass(frozen=True)
class Config:
    database_url: str
    server: ServerSettings
    # Open leads an agent may hold when the agent has no capacity of its own.
    default_capacity: int = 25

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        return cls(
            database_url=config.database_url(env, "routing"),
            server=ServerSettings.from_env("routing", env),
            default_capacity=config.integer(env, "ROUTING_DEFAULT_CAPACITY", 25, minimum=1, maximum=100_000),
        )
