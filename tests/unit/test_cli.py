"""The leadengine CLI's pure parts: arguments, the process plan, the environment children get."""

from __future__ import annotations

import socket
import sys

import pytest

from cli import supervisor
from cli.database import describe, with_database
from cli.main import build_parser
from shared import config


def test_seed_requires_a_location_and_rejects_negative_counts(capsys) -> None:
    parser = build_parser()
    args = parser.parse_args(["seed", "--location", "loc", "--agents", "3", "--leads", "1000000"])
    assert (args.location, args.agents, args.leads, args.events, args.seed) == ("loc", 3, 1_000_000, 20, 1)
    with pytest.raises(SystemExit):
        parser.parse_args(["seed", "--agents", "3"])
    with pytest.raises(SystemExit):
        parser.parse_args(["seed", "--location", "loc", "--leads", "-5"])
    assert "must not be negative" in capsys.readouterr().err


def test_up_and_demo_defaults() -> None:
    parser = build_parser()
    up = parser.parse_args(["up"])
    assert (str(up.data_dir), up.timeout, up.stop_timeout) == (".leadengine", 60.0, 10.0)
    demo = parser.parse_args(["demo"])
    assert demo.location == "demo-location"
    with pytest.raises(SystemExit):
        parser.parse_args(["up", "--timeout", "0"])


def test_plan_uses_default_ports_and_env_overrides(tmp_path) -> None:
    default = supervisor.plan({}, tmp_path)
    assert [(c.name, c.port, c.kind) for c in default] == [
        ("ingest", 50051, "grpc"),
        ("intelligence", 50052, "grpc"),
        ("routing", 50053, "grpc"),
        ("content", 50054, "grpc"),
        ("coordinator", 50055, "grpc"),
        ("gateway", 8080, "http"),
    ]
    assert default[0].argv == [sys.executable, "-m", "services.ingest", "serve"]
    assert default[0].log_path == tmp_path / "ingest.log"
    custom = supervisor.plan({"ROUTING_GRPC_PORT": "6000", "GATEWAY_PORT": "6001"}, tmp_path)
    assert {c.name: c.port for c in custom}["routing"] == 6000
    assert {c.name: c.port for c in custom}["gateway"] == 6001


def test_plan_refuses_two_processes_on_one_port(tmp_path) -> None:
    with pytest.raises(config.ConfigError, match="ingest and gateway"):
        supervisor.plan({"GATEWAY_PORT": "50051"}, tmp_path)
    with pytest.raises(config.ConfigError, match="INGEST_GRPC_PORT"):
        supervisor.plan({"INGEST_GRPC_PORT": "0"}, tmp_path)


def test_child_env_wires_every_peer_and_keeps_user_choices(tmp_path) -> None:
    children = supervisor.plan({"CONTENT_GRPC_PORT": "7004"}, tmp_path)
    env = supervisor.child_env({"ROUTING_DRAIN_S": "2", "HOME": "/x"}, "postgresql://db/x", children)
    assert env["DATABASE_URL"] == "postgresql://db/x"
    assert env["CONTENT_ADDR"] == "127.0.0.1:7004"
    assert env["CONTENT_GRPC_PORT"] == "7004"
    assert env["COORDINATOR_ADDR"] == "127.0.0.1:50055"
    assert env["GATEWAY_INGEST_ADDR"] == "127.0.0.1:50051"
    assert env["GATEWAY_PORT"] == "8080"
    assert env["INGEST_DRAIN_S"] == "0.5"
    assert env["ROUTING_DRAIN_S"] == "2"  # what the user set wins
    assert env["HOME"] == "/x"
    for child in children:
        if child.kind == "grpc":
            # Every service reads its peers through shared.config.peer_addr.
            assert config.peer_addr(env, child.name) == child.address


def test_busy_port_is_named_with_the_variable_that_moves_it(tmp_path) -> None:
    with socket.socket() as busy:
        busy.bind(("", 0))
        busy.listen()
        port = busy.getsockname()[1]
        children = supervisor.plan({"INTELLIGENCE_GRPC_PORT": str(port)}, tmp_path)
        with pytest.raises(supervisor.StartupError, match="INTELLIGENCE_GRPC_PORT"):
            supervisor.check_ports_free(children)
    assert not supervisor.port_in_use(port)


def test_tail_returns_the_last_lines(tmp_path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert supervisor.tail(log, 3).splitlines() == ["line 97", "line 98", "line 99"]
    assert "could not read" in supervisor.tail(tmp_path / "missing.log")


def test_dsn_helpers_keep_the_socket_and_hide_the_password() -> None:
    embedded = "postgresql://postgres:@/postgres?host=/tmp/pg"
    assert with_database(embedded, "leadengine") == "postgresql://postgres:@/leadengine?host=/tmp/pg"
    assert describe("postgresql://app:s3cret@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert describe(embedded) == embedded
