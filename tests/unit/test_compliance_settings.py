"""Quiet hours may only narrow the legal window; caps and reply texts from the
environment. A bad value stops the coordinator at start-up with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import time

import pytest

from services.coordinator.config import Config
from shared.config import ConfigError

ENV = {"DATABASE_URL": "postgresql://u@localhost/db"}


@pytest.mark.parametrize(
    ("start", "end"),
    [("22:00", "08:00"), ("21:00", "07:30"), ("21:30", "09:00"), ("02:00", "10:00"), ("08:00", "21:00")],
)
def test_quiet_hours_that_widen_the_legal_window_are_refused(start: str, end: str) -> None:
    with pytest.raises(ConfigError, match="may only narrow"):
        Config.from_env({**ENV, "COORDINATOR_QUIET_START": start, "COORDINATOR_QUIET_END": end})


@pytest.mark.parametrize(("start", "end"), [("21:00", "08:00"), ("20:00", "09:30"), ("18:00", "10:00")])
def test_quiet_hours_that_narrow_it_are_taken(start: str, end: str) -> None:
    cfg = Config.from_env({**ENV, "COORDINATOR_QUIET_START": start, "COORDINATOR_QUIET_END": end})
    assert (f"{cfg.quiet_start:%H:%M}", f"{cfg.quiet_end:%H:%M}") == (start, end)
    assert time(8) <= cfg.quiet_end < cfg.quiet_start <= time(21)


def test_caps_and_texts_from_the_environment() -> None:
    cfg = Config.from_env(
        {
            **ENV,
            "COORDINATOR_SMS_DAILY_CAP": "1",
            "COORDINATOR_SMS_WEEKLY_CAP": "3",
            "COORDINATOR_HELP_TEXT": "{brand}: help here",
        }
    )
    assert (cfg.caps.sms_day, cfg.caps.sms_week, cfg.caps.email_day) == (1, 3, 2)
    assert cfg.help_text == "{brand}: help here"
    with pytest.raises(ConfigError, match="COORDINATOR_EMAIL_DAILY_CAP"):
        Config.from_env({**ENV, "COORDINATOR_EMAIL_DAILY_CAP": "0"})


def test_a_widening_setting_stops_the_service_with_one_line() -> None:
    env = {**os.environ, **ENV, "COORDINATOR_QUIET_START": "23:00", "COORDINATOR_QUIET_END": "07:00"}
    done = subprocess.run(
        [sys.executable, "-m", "services.coordinator", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "COORDINATOR_QUIET_START=23:00" in lines[0]
    assert "may only narrow" in lines[0]
