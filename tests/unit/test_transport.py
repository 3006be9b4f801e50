from __future__ import annotations

from pathlib import Path

import pytest

from shared import callers, transport
from shared.config import ConfigError
from shared.main import DEPENDENCIES
from tests.pki import Authority


def test_no_tls_variables_mean_insecure_and_say_so() -> None:
    assert transport.from_env({}) is None
    assert transport.describe(None).startswith("insecure")


def test_some_but_not_all_tls_variables_stop_the_start(tmp_path: Path) -> None:
    env = Authority.create().write("ingest", tmp_path)
    del env["GRPC_TLS_CA_FILE"]
    with pytest.raises(ConfigError, match="missing GRPC_TLS_CA_FILE"):
        transport.from_env(env)


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    env = Authority.create().write("ingest", tmp_path)
    env["GRPC_TLS_KEY_FILE"] = str(tmp_path / "absent.pem")
    with pytest.raises(ConfigError, match="GRPC_TLS_KEY_FILE="):
        transport.from_env(env)


def test_all_three_files_load(tmp_path: Path) -> None:
    env = Authority.create().write("ingest", tmp_path)
    tls = transport.from_env(env)
    assert tls is not None
    assert b"BEGIN CERTIFICATE" in tls.cert_pem


def test_the_allow_list_follows_the_call_graph() -> None:
    policy = callers.from_dependencies(DEPENDENCIES)
    for caller, deps in DEPENDENCIES.items():
        for service in DEPENDENCIES:
            assert policy.permits(service, caller, "AnyMethod") == (service in deps), (caller, service)
    assert policy.permits("routing", callers.OPERATOR, "RouteLead")
    assert policy.permits("ingest", "gateway", "RecordWebhook")
    assert not policy.permits("ingest", "gateway", "ImportLeads")
    assert not policy.permits("routing", "gateway", "RouteLead")
    assert policy.permits("coordinator", "gateway", "UnsubscribeByToken")
    assert not policy.permits("coordinator", "gateway", "HandleLeadEvent")
    assert not policy.permits("ingest", "", "GetLead")


def test_service_names_come_from_the_proto_package() -> None:
    assert callers.service_of("leadengine.routing.v1.RoutingService") == "routing"
    assert callers.service_of("grpc.health.v1.Health") == "grpc.health.v1.Health"
