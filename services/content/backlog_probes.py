"""Content's durable backlog as a gauge: suggest-mode drafts waiting for an agent's approval
(a human queue: an old one means nobody is approving)."""

from __future__ import annotations

from shared import backlog

PROBES = (
    backlog.Probe(
        backlog.QUEUE_LAG.labels("content", "approval"),
        backlog.age_of_oldest("messages", "create_time", "status = 'pending_approval'"),
    ),
)
