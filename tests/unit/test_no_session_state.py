"""Pooled connections are released without a reset (shared/db.PooledConnection), so nothing that
runs on one may leave session state behind for the next user: a session-level SET, LISTEN, a
session advisory lock, a held cursor. (The reset never dropped temporary tables: their users
drop them.) This reads the code that runs on pooled connections and fails on any of those;
transaction-scoped forms (SET LOCAL, xact locks) are fine."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared import db

ROOT = Path(__file__).resolve().parents[2]
# Code that uses the services' pools; migrations and the migrator use their own connections.
POOLED = [p for d in ("services", "shared") for p in (ROOT / d).rglob("*.py") if p.name != "migrate.py"]
SESSION_STATE = re.compile(
    r"""["'](?:SET\s+(?!LOCAL\b)(?:SESSION\s+)?[a-z_]+\s*(?:=|TO\b)|LISTEN\b|RESET\b"""
    r"""|SELECT\s+pg_advisory_lock\b|SELECT\s+pg_try_advisory_lock\b|DECLARE\s+\w+\s+.*WITH\s+HOLD)"""
    r"""|set_config\([^)]*,\s*false\s*\)""",
    re.IGNORECASE,
)


def offenders(text: str) -> list[str]:
    return [m.group(0) for m in SESSION_STATE.finditer(text)]


@pytest.mark.parametrize(
    ("sql", "bad"),
    [
        ('"SET plan_cache_mode = force_generic_plan"', True),
        ("'SET search_path TO x'", True),
        ('"LISTEN events"', True),
        ("\"SELECT set_config('search_path', 'x', false)\"", True),
        ("\"SELECT set_config('search_path', 'x', true)\"", False),
        ('"SELECT pg_advisory_lock(1)"', True),
        ('"SET LOCAL search_path TO x"', False),
        ('"SELECT pg_advisory_xact_lock(1)"', False),
        ('"UPDATE scores SET score = 1"', False),
        ('" SET name = EXCLUDED.name"', False),
    ],
)
def test_the_check_tells_session_state_from_transaction_state(sql: str, bad: bool) -> None:
    assert bool(offenders(sql)) is bad


def test_no_pooled_code_leaves_session_state() -> None:
    found = {str(p.relative_to(ROOT)): o for p in POOLED if (o := offenders(p.read_text()))}
    assert found == {}


def test_the_pool_skips_the_reset_round_trip() -> None:
    assert db.PooledConnection.get_reset_query(None) == ""  # type: ignore[arg-type]
