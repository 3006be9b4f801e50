"""The retry list comes from each service's contract, not from a list in shared/."""

from __future__ import annotations

import json

from shared import channels
from shared.clients import PEERS


def test_reads_and_request_id_writes_are_retried_streams_are_not() -> None:
    ingest = set(PEERS["ingest"].retryable)
    assert {"GetLead", "ListLeadEvents", "UpsertLead", "RecordWebhook"} <= ingest
    assert "ImportLeads" not in ingest  # a client stream cannot be replayed by the channel


def test_every_unary_rpc_declares_its_idempotency() -> None:
    # A new RPC without `option idempotency_level` would silently lose retries: make it a choice.
    for peer in PEERS.values():
        for method in peer.descriptor.methods:
            if not method.client_streaming:
                assert method.name in peer.retryable, f"{peer.descriptor.full_name}.{method.name}"


def test_channel_config_retries_exactly_the_declared_methods() -> None:
    peer = PEERS["coordinator"]
    config = json.loads(
        channels.service_config(
            peer.descriptor.full_name, idempotent_methods=peer.retryable, default_timeout_s=1.0
        )
    )
    retried = {n["method"] for c in config["methodConfig"] if "retryPolicy" in c for n in c["name"]}
    assert retried == {m.name for m in peer.descriptor.methods}
