"""COORDINATOR_INQUIRY_AFTER_REPLY_HOURS is checked at start-up like the other settings."""

import pytest

from services.coordinator.config import Config
from shared.config import ConfigError

BASE = {"DATABASE_URL": "postgresql://127.0.0.1/test"}


def test_default_is_72_hours_and_0_turns_the_guard_off() -> None:
    assert Config.from_env(BASE).inquiry_after_reply_h == 72.0
    assert Config.from_env(BASE | {"COORDINATOR_INQUIRY_AFTER_REPLY_HOURS": "0"}).inquiry_after_reply_h == 0.0
    assert (
        Config.from_env(BASE | {"COORDINATOR_INQUIRY_AFTER_REPLY_HOURS": "1.5"}).inquiry_after_reply_h == 1.5
    )


@pytest.mark.parametrize("raw", ["-1", "soon", "nan", "inf", "8761"])
def test_bad_values_are_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="COORDINATOR_INQUIRY_AFTER_REPLY_HOURS"):
        Config.from_env(BASE | {"COORDINATOR_INQUIRY_AFTER_REPLY_HOURS": raw})
