import pytest

from shared import config
from shared.config import ConfigError, ServerSettings


def test_defaults_apply_when_unset() -> None:
    s = ServerSettings.from_env("coordinator", {})
    assert (s.port, s.metrics_port) == (50055, 0)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INGEST_GRPC_PORT": "abc"}, "INGEST_GRPC_PORT='abc' is not a whole number"),
        ({"INGEST_GRPC_PORT": "70000"}, "out of range"),
        ({"INGEST_DRAIN_S": "-1"}, "must be >= 0"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ServerSettings.from_env("ingest", env)


def test_database_url_prefers_the_service_override() -> None:
    env = {"DATABASE_URL": "postgresql://a/x", "ROUTING_DATABASE_URL": "postgresql://b/y"}
    assert config.database_url(env, "routing") == "postgresql://b/y"
    assert config.database_url(env, "ingest") == "postgresql://a/x"


def test_missing_or_foreign_database_url_is_refused() -> None:
    with pytest.raises(ConfigError, match="set DATABASE_URL"):
        config.database_url({}, "ingest")
    with pytest.raises(ConfigError, match="must start with postgresql://"):
        config.database_url({"DATABASE_URL": "mysql://x"}, "ingest")


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("0", False), ("", True)])
def test_booleans(raw: str, value: bool) -> None:
    assert config.boolean({"X": raw}, "X", True) is value


def test_bad_boolean() -> None:
    with pytest.raises(ConfigError, match="not a boolean"):
        config.boolean({"X": "maybe"}, "X", False)
