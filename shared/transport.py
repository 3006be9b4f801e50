"""How services reach each other: mutual TLS when certificates are configured, else insecure.

One CA signs every workload's certificate. A certificate's common name is the
caller's identity (ingest, coordinator, gateway, operator, ...), and the DNS
name in its subjectAltName is what clients verify: they name the peer service
in `grpc.ssl_target_name_override`, so `dns:///routing.ns.svc:50053` and
`127.0.0.1:40123` verify the same way.

Insecure is the default so `make up` runs on a laptop; serve() says which one
it is in its start-up line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

from shared.config import ConfigError, text

ENV_CERT, ENV_KEY, ENV_CA = "GRPC_TLS_CERT_FILE", "GRPC_TLS_KEY_FILE", "GRPC_TLS_CA_FILE"


@dataclass(frozen=True)
class MutualTls:
    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes

    def server_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key_pem, self.cert_pem)], root_certificates=self.ca_pem, require_client_auth=True
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_pem, private_key=self.key_pem, certificate_chain=self.cert_pem
        )


def from_env(env: Mapping[str, str]) -> MutualTls | None:
    """All three files, or none (insecure); anything in between is a configuration error."""
    paths = {name: text(env, name) for name in (ENV_CERT, ENV_KEY, ENV_CA)}
    given = [name for name, path in paths.items() if path]
    if not given:
        return None
    if len(given) < len(paths):
        missing = ", ".join(name for name in paths if name not in given)
        raise ConfigError(f"mutual TLS needs {ENV_CERT}, {ENV_KEY} and {ENV_CA}; missing {missing}")
    loaded: dict[str, bytes] = {}
    for name, path in paths.items():
        try:
            loaded[name] = Path(path).read_bytes()
        except OSError as err:
            raise ConfigError(f"{name}={path!r} cannot be read: {err.strerror}") from None
    return MutualTls(cert_pem=loaded[ENV_CERT], key_pem=loaded[ENV_KEY], ca_pem=loaded[ENV_CA])


def describe(tls: MutualTls | None) -> str:
    if tls is None:
        return f"insecure (no TLS: set {ENV_CERT}, {ENV_KEY} and {ENV_CA} for mutual TLS)"
    return "mutual TLS, callers checked against the allow-list"
