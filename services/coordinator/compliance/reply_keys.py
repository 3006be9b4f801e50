"""The step keys of the two texts a lead asked for by writing to us (the opt-out
confirmation and the HELP answer). They pass no consent gate and no quiet hours: the
lead's own message asked for them (compliance.md §4), and a confirmation goes within
5 minutes of the opt-out or not at all. Kept apart so delivery can tell them without
importing the code that writes them."""

from __future__ import annotations

from datetime import datetime, timedelta

CONFIRMATION_KEY = "opt_out_confirmation"
HELP_KEY = "help_reply"
CONFIRMATION_WINDOW = timedelta(minutes=5)
TOO_LATE = "opt-out confirmation not sent: more than 5 minutes after the opt-out (FCC 24-24)"


def answers_the_lead(step_key: str | None) -> bool:
    return bool(step_key) and str(step_key).startswith((f"{CONFIRMATION_KEY}:", f"{HELP_KEY}:"))


def too_late(step_key: str | None, recorded: datetime, now: datetime) -> str:
    """Why a confirmation may no longer go (recorded at the opt-out), or ""."""
    if str(step_key or "").startswith(f"{CONFIRMATION_KEY}:") and now - recorded > CONFIRMATION_WINDOW:
        return TOO_LATE
    return ""
