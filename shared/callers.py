"""Who may call what: the allow-list follows the real call graph, not "anyone on the network".

Checked only under mutual TLS, where the caller's certificate names it; in
insecure mode there is no identity to check (serve() says so at start-up).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# The gateway turns provider webhooks into ingest calls, and one-click unsubscribes and
# HighLevel OAuth callbacks into the coordinator's, and nothing else.
GATEWAY_METHODS = {
    "ingest": frozenset({"RecordWebhook", "UpsertLead", "GetLead", "GetLeadByExternalId"}),
    "coordinator": frozenset({"UnsubscribeByToken", "CompleteHighLevelInstall", "StartHighLevelInstall"}),
}
# People and jobs on the cluster (the leadengine CLI, migrations, the bench).
OPERATOR = "operator"


@dataclass(frozen=True)
class CallerPolicy:
    # service -> caller -> allowed methods (None: every method)
    allowed: Mapping[str, Mapping[str, frozenset[str] | None]]

    def permits(self, service: str, caller: str, method: str) -> bool:
        callers = self.allowed.get(service, {})
        if caller not in callers:
            return False
        methods = callers[caller]
        return methods is None or method in methods


def from_dependencies(dependencies: Mapping[str, tuple[str, ...]]) -> CallerPolicy:
    """Each service may be called by the services that list it as a dependency, the
    gateway only by GATEWAY_METHODS, and operators may call anything."""
    allowed: dict[str, dict[str, frozenset[str] | None]] = {svc: {OPERATOR: None} for svc in dependencies}
    for caller, deps in dependencies.items():
        for dep in deps:
            allowed[dep][caller] = None
    for service, methods in GATEWAY_METHODS.items():
        allowed[service]["gateway"] = methods
    return CallerPolicy(allowed)


def service_of(full_service_name: str) -> str:
    """ "leadengine.routing.v1.RoutingService" -> "routing"."""
    parts = full_service_name.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "leadengine" else full_service_name
