"""Quiet-hour settings: parsed once, wrong values stop the coordinator at start-up."""

from __future__ import annotations

from datetime import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.coordinator.config import Config, clock_time
from shared.config import ConfigError

ENV = {"DATABASE_URL": "postgresql://u@localhost/db"}


def test_defaults_are_the_federal_window() -> None:
    cfg = Config.from_env(ENV)
    assert (cfg.quiet_start, cfg.quiet_end) == (time(21, 0), time(8, 0))
    assert cfg.scheduler_poll_s == 1.0


def test_reads_quiet_hours() -> None:
    cfg = Config.from_env({**ENV, "COORDINATOR_QUIET_START": "20:00", "COORDINATOR_QUIET_END": "09:30"})
    assert (cfg.quiet_start, cfg.quiet_end) == (time(20, 0), time(9, 30))


@pytest.mark.parametrize("raw", ["9pm", "24:00", "8:00", "21:60", "21-00"])
def test_rejects_bad_clock_time(raw: str) -> None:
    with pytest.raises(ConfigError, match="COORDINATOR_QUIET_START"):
        Config.from_env({**ENV, "COORDINATOR_QUIET_START": raw})


def test_rejects_empty_window() -> None:
    with pytest.raises(ConfigError, match="no sending window"):
        Config.from_env({**ENV, "COORDINATOR_QUIET_START": "08:00", "COORDINATOR_QUIET_END": "08:00"})


@given(st.text(max_size=8))
def test_clock_time_parses_or_raises_config_error(raw: str) -> None:
    try:
        value = clock_time({"X": raw}, "X", time(1, 0))
    except ConfigError:
        return
    assert isinstance(value, time)
    if raw.strip():
        assert f"{value:%H:%M}" == raw.strip()
