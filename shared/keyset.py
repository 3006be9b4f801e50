"""Keyset pagination SQL, written once for every List RPC.

A page is ordered by (key, id), where id breaks ties so the order is total, and
the next page starts strictly after the last row of this one. The repository
says what to select and filter; this module adds the cursor condition, the order
and the LIMIT (one row more than the page, so `pagination.page_of` can tell
whether another page follows). Tokens themselves are `shared.pagination`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True)
class Keyset:
    key: str  # e.g. "create_time"
    key_type: str  # its SQL type, for the NULL (first page) parameter: "timestamptz", "text", …
    id: str  # e.g. "communication_id"
    id_type: str = "uuid"
    descending: bool = True

    def sql(self, select_where: str, n_args: int) -> str:
        """`select_where` (a SELECT … WHERE …, using $1..$n_args) plus cursor, order and limit.

        The cursor key, cursor id and limit become parameters n_args+1..n_args+3.
        """
        k, i, lim = n_args + 1, n_args + 2, n_args + 3
        cmp, direction = ("<", "DESC") if self.descending else (">", "ASC")
        return (
            f"{select_where}"
            f" AND (${k}::{self.key_type} IS NULL"
            f" OR ({self.key}, {self.id}) {cmp} (${k}, ${i}::{self.id_type}))"
            f" ORDER BY {self.key} {direction}, {self.id} {direction} LIMIT ${lim}"
        )

    @staticmethod
    def params(after: tuple[Any, Any] | None, limit: int) -> tuple[Any, Any, int]:
        """The three trailing parameters of `sql`: cursor key, cursor id, limit + 1."""
        return (after[0] if after else None, after[1] if after else None, limit + 1)

    async def fetch(
        self,
        conn: asyncpg.Connection,
        select_where: str,
        args: Sequence[Any],
        after: tuple[Any, Any] | None,
        limit: int,
        *,
        deadline_s: float,
    ) -> list[asyncpg.Record]:
        """Up to limit + 1 rows after `after` (None: the first page)."""
        rows: list[asyncpg.Record] = await conn.fetch(
            self.sql(select_where, len(args)), *args, *self.params(after, limit), timeout=deadline_s
        )
        return rows
