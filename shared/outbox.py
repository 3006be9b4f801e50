"""What the outbox relays share (ingest's `outbox`, routing's `outcome_outbox`): when a failed row
is tried again, which failures count toward the attempt limit, when a row is given up on
(dead-lettered), and the operator's two dead-letter calls (list a page, replay).

A failure counts unless it is UNAVAILABLE: then the peer could not be reached, which says nothing
about the row, so an outage only delays rows and never dead-letters them."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

import grpc

from shared import inputs, pagination
from shared.clients.errors import PeerError
from shared.errors import FieldViolation, InvalidArgument

T = TypeVar("T")


def retry_delay(attempts: int, *, base_s: float, max_s: float) -> float:
    """Seconds before the next try after `attempts` failures: base, 2*base, 4*base ... capped."""
    if attempts <= 1:
        return min(base_s, max_s)
    # Bound the exponent so a long-failing row cannot overflow the float.
    return min(max_s, base_s * 2.0 ** min(attempts - 1, 30))


class RetrySettings(Protocol):
    """The part of a relay's settings that says how failed rows are retried."""

    @property
    def retry_base_s(self) -> float: ...
    @property
    def retry_max_s(self) -> float: ...
    # Counted failures after which a row is dead-lettered.
    @property
    def max_attempts(self) -> int: ...


class FailedRow(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def attempts(self) -> int: ...  # tries before this one
    @property
    def failures(self) -> int: ...  # of those, the ones that counted


class FailingRows(Protocol):
    """An outbox queue's two answers to a failed delivery."""

    async def mark_failed(self, row_id: int, error: str, retry_in_s: float, *, counted: bool) -> None: ...

    async def dead_letter(self, row_id: int, error: str) -> None: ...


async def record_failure(
    rows: FailingRows,
    row: FailedRow,
    err: PeerError,
    settings: RetrySettings,
    *,
    log: logging.Logger,
    fields: Mapping[str, object],
) -> bool:
    """After a failed delivery of `row`: dead-letter it at the limit and return True, else
    schedule its retry."""
    counted = err.code != grpc.StatusCode.UNAVAILABLE
    error = f"{err.code.name}: {err.message}"
    extra = {**fields, "attempts": row.attempts + 1, "code": err.code.name}
    if counted and row.failures + 1 >= settings.max_attempts:
        log.error("outbox delivery failed too often; dead-lettered", extra=extra)
        await rows.dead_letter(row.id, error)
        return True
    delay = retry_delay(row.attempts + 1, base_s=settings.retry_base_s, max_s=settings.retry_max_s)
    log.warning("outbox delivery failed; will retry", extra={**extra, "retry_in_s": delay})
    await rows.mark_failed(row.id, error, delay, counted=counted)
    return False


def replay_selection(event_ids: Sequence[str], replay_all: bool, request_id: str) -> list[uuid.UUID] | None:
    """The events a ReplayDeadLetters request names (None: all of them). Replaying is idempotent
    by its nature (a replayed row is no longer a dead letter), so request_id is only checked."""
    inputs.request_key(request_id)
    if replay_all == bool(event_ids):
        raise InvalidArgument(
            "name the event_ids to replay, or set all (not both)",
            reason="MISSING_FIELD" if not replay_all else "INVALID_ARGUMENT",
            violations=[FieldViolation("event_ids", "event ids, or empty with all")],
        )
    if replay_all:
        return None
    return [inputs.parse_uuid(raw, f"event_ids[{i}]", what="event id") for i, raw in enumerate(event_ids)]


async def dead_letter_page(
    page_size: int,
    page_token: str,
    query: str,
    fetch: Callable[[tuple[datetime, uuid.UUID] | None, int], Awaitable[list[T]]],
    key: Callable[[T], tuple[datetime, uuid.UUID]],
) -> tuple[list[T], str]:
    """One ListDeadLetters page, newest first: `fetch(after, size)` returns up to size + 1 rows
    keyed by `key` (dead-letter time, a unique id); `query` names the filters the token is for."""
    size = pagination.page_size(page_size)
    after = pagination.decode_cursor(page_token, pagination.time_and_uuid, query=query)
    found = await fetch(after, size)

    def cursor(row: T) -> dict[str, str]:
        when, ident = key(row)
        return {"t": when.isoformat(), "id": str(ident)}

    return pagination.page_of(found, size, cursor, query=query)
