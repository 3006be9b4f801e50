"""deploy/k8s parses, and every Deployment has what the conventions require (§8).

The manifests are never applied here; when kubectl is installed, the overlays
are also rendered with its built-in kustomize.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shared.main import DEPENDENCIES

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SERVICES = tuple(DEPENDENCIES)
PROCESSES = (*SERVICES, "gateway")


def load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def base_objects() -> dict[tuple[str, str], dict]:
    objects = {}
    for path in sorted((K8S / "base").glob("*.yaml")):
        for doc in load(path):
            if doc.get("kind") != "Kustomization":
                objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


def test_every_manifest_parses() -> None:
    paths = sorted(K8S.rglob("*.yaml"))
    assert len(paths) >= 10
    for path in paths:
        for doc in load(path):
            assert "apiVersion" in doc, path
            assert "kind" in doc, path


def test_base_kustomization_lists_every_file() -> None:
    kustomization = load(K8S / "base" / "kustomization.yaml")[0]
    files = {p.name for p in (K8S / "base").glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert kustomization["namespace"] == "leadengine"


@pytest.mark.parametrize("name", PROCESSES)
def test_each_process_has_its_own_account_service_and_config(name: str) -> None:
    objects = base_objects()
    for kind in ("Deployment", "Service", "ServiceAccount", "ConfigMap"):
        assert (kind, name) in objects, f"{kind}/{name} missing"
    deployment = objects[("Deployment", name)]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == name
    service = objects[("Service", name)]
    assert service["spec"]["clusterIP"] == "None"  # headless: clients see every pod
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def _hardened(container: dict) -> None:
    ctx = container["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False, container["name"]
    assert ctx["readOnlyRootFilesystem"] is True, container["name"]
    assert ctx["capabilities"]["drop"] == ["ALL"], container["name"]
    assert "cpu" in container["resources"]["requests"], container["name"]
    assert "memory" in container["resources"]["requests"], container["name"]
    assert "memory" in container["resources"]["limits"], container["name"]
    assert "cpu" not in container["resources"]["limits"], container["name"]


@pytest.mark.parametrize("name", PROCESSES)
def test_deployments_are_non_root_hardened_and_probed(name: str) -> None:
    pod = base_objects()[("Deployment", name)]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        _hardened(container)
    server = next(c for c in pod["containers"] if c["name"] == "server")
    assert server["readinessProbe"]["failureThreshold"] == 1  # drops out of endpoints at once when draining
    assert "livenessProbe" in server
    if name == "gateway":
        assert server["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert server["livenessProbe"]["httpGet"]["path"] == "/healthz"
    else:
        assert server["readinessProbe"]["grpc"]["port"] == 50051
        assert server["livenessProbe"]["grpc"]["port"] == 50051


@pytest.mark.parametrize("name", SERVICES)
def test_services_migrate_first_and_get_the_env_they_read(name: str) -> None:
    objects = base_objects()
    pod = objects[("Deployment", name)]["spec"]["template"]["spec"]
    (migrate,) = pod["initContainers"]
    assert migrate["args"] == ["python", "-m", f"services.{name}", "migrate"]
    server = next(c for c in pod["containers"] if c["name"] == "server")
    assert server["args"] == ["python", "-m", f"services.{name}", "serve"]
    for container in (migrate, server):
        sources = container["envFrom"]
        assert {"configMapRef": {"name": name}} in sources
        assert {"secretRef": {"name": f"{name}-db"}} in sources  # <SVC>_DATABASE_URL
    data = objects[("ConfigMap", name)]["data"]
    assert data[f"{name.upper()}_GRPC_PORT"] == "50051"
    assert int(data[f"{name.upper()}_METRICS_PORT"]) > 0
    for peer in DEPENDENCIES[name]:
        assert data[f"{peer.upper()}_ADDR"] == f"dns:///{peer}.leadengine.svc.cluster.local:50051"
    grace = pod["terminationGracePeriodSeconds"]
    assert grace > float(data[f"{name.upper()}_DRAIN_S"]) + float(data[f"{name.upper()}_GRACE_S"])


def test_gateway_knows_where_ingest_is() -> None:
    data = base_objects()[("ConfigMap", "gateway")]["data"]
    assert data["GATEWAY_INGEST_ADDR"] == "dns:///ingest.leadengine.svc.cluster.local:50051"
    assert data["GATEWAY_PORT"] == "8080"


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_overlays_change_only_tags_replicas_resources_and_config(overlay: str) -> None:
    kustomization = load(K8S / "overlays" / overlay / "kustomization.yaml")[0]
    assert kustomization["resources"] == ["../../base"]
    assert {i["name"] for i in kustomization["images"]} == {f"leadengine/{p}" for p in PROCESSES}
    allowed = {"apiVersion", "kind", "resources", "images", "replicas", "patches"}
    assert set(kustomization) <= allowed
    for patch in kustomization.get("patches", []):
        for doc in load(K8S / "overlays" / overlay / patch["path"]):
            assert doc["kind"] in ("ConfigMap", "Deployment")


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_overlays_render_with_kustomize(overlay: str) -> None:
    out = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / overlay)],  # noqa: S607 - kubectl from PATH
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(deployments) == set(PROCESSES)
    for deployment in deployments.values():
        assert deployment["metadata"]["namespace"] == "leadengine"
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["image"].endswith(":dev" if overlay == "dev" else ":0.1.0")


def test_gateway_reads_webhook_secrets_and_signs_against_a_public_url() -> None:
    objects = base_objects()
    container = objects[("Deployment", "gateway")]["spec"]["template"]["spec"]["containers"][0]
    secrets = [e["secretRef"] for e in container["envFrom"] if "secretRef" in e]
    assert secrets == [{"name": "gateway-webhooks", "optional": True}]
    assert objects[("ConfigMap", "gateway")]["data"]["WEBHOOK_PUBLIC_BASE_URL"].startswith("https://")
