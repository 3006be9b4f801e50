"""shared.outbox's verdict on a failed delivery, for both relays: UNAVAILABLE never counts, any
other failure does, and the row is dead-lettered on the failure that reaches the limit."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import grpc
import pytest

from shared import outbox
from shared.clients import PeerError
from shared.errors import InvalidArgument


@dataclass(frozen=True)
class Settings:
    retry_base_s: float = 0.5
    retry_max_s: float = 60.0
    max_attempts: int = 3


@dataclass(frozen=True)
class Row:
    attempts: int
    failures: int
    id: int = 1


class Rows:
    """An in-memory stand-in for an outbox queue's two writes (a test double of a table)."""

    def __init__(self) -> None:
        self.failed: list[tuple[float, bool]] = []
        self.dead: list[str] = []

    async def mark_failed(self, row_id: int, error: str, retry_in_s: float, *, counted: bool) -> None:
        self.failed.append((retry_in_s, counted))

    async def dead_letter(self, row_id: int, error: str) -> None:
        self.dead.append(error)


async def fail(rows: Rows, code: grpc.StatusCode, *, attempts: int, failures: int) -> bool:
    return await outbox.record_failure(
        rows,
        Row(attempts, failures),
        PeerError("peer", "Method", code, "", "boom"),
        Settings(),
        log=logging.getLogger("test"),
        fields={},
    )


async def test_the_failure_that_reaches_the_limit_dead_letters_with_its_error() -> None:
    rows = Rows()
    assert not await fail(rows, grpc.StatusCode.INTERNAL, attempts=0, failures=0)
    assert not await fail(rows, grpc.StatusCode.DEADLINE_EXCEEDED, attempts=1, failures=1)
    assert await fail(rows, grpc.StatusCode.INTERNAL, attempts=2, failures=2)
    assert rows.failed == [(0.5, True), (1.0, True)]
    assert rows.dead == ["INTERNAL: boom"]


async def test_an_unreachable_peer_never_dead_letters() -> None:
    rows = Rows()
    assert not await fail(rows, grpc.StatusCode.UNAVAILABLE, attempts=50, failures=2)
    assert rows.failed == [(60.0, False)]
    assert rows.dead == []


def test_replay_names_the_events_or_all_never_both() -> None:
    assert outbox.replay_selection([], True, "") is None
    with pytest.raises(InvalidArgument, match="not both"):
        outbox.replay_selection(["4c1d7c8e-0d5e-4e55-9a8e-3f2a7e0d9b11"], True, "")
