"""deploy/k8s parses, validates, and every workload has what the conventions require (§8).

The manifests are never applied here. The base is checked as written; the overlays are
rendered with kubectl's built-in kustomize (installed on every machine of this project; a
developer without it gets a skip, CI a failure) and validated, like the base, against the
Kubernetes JSON schemas that kubernetes-validate bundles, in strict mode (unknown fields fail).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate import utils as kv_utils

from shared.main import DEPENDENCIES

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SERVICES = tuple(DEPENDENCIES)
PROCESSES = (*SERVICES, "gateway")
OVERLAYS = ("dev", "prod")
TAGS = {"dev": "dev", "prod": "0.1.0"}
IMAGE = "leadengine/leadengine"  # one image for every process (Dockerfile)
# The oldest Kubernetes the manifests promise to fit, and the newest the schemas know.
K8S_VERSIONS = ("1.30.0", kv_utils.latest_version())
NAME = "app.kubernetes.io/name"
COMPONENT = "app.kubernetes.io/component"
POSTGRES, DNS, GRPC, METRICS, HTTP, REDIS = 5432, 53, 50051, 9090, 8080, 6379
HEALTH = 50052  # plaintext grpc.health.v1 only: the kubelet's probes work under mutual TLS too
HTTPS = 443  # the coordinator to the providers' APIs, content to the Anthropic API

Obj = dict  # a Kubernetes object as parsed YAML


def load(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def base_docs() -> list[Obj]:
    docs = []
    for path in sorted((K8S / "base").glob("*.yaml")):
        docs.extend(doc for doc in load(path) if doc.get("kind") != "Kustomization")
    return docs


def base_objects() -> dict[tuple[str, str], Obj]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in base_docs()}


@functools.cache
def rendered(overlay: str) -> tuple[Obj, ...]:
    if shutil.which("kubectl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("kubectl is not installed: CI must render the overlays")
        pytest.skip("kubectl is not installed")
    out = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / overlay)],  # noqa: S607 - kubectl from PATH
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return tuple(d for d in yaml.safe_load_all(out) if d)


def pod_templates(docs: list[Obj] | tuple[Obj, ...]) -> Iterator[tuple[str, Obj]]:
    """(kind/name, pod spec) of every workload: Deployments and Jobs."""
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]


def containers(pod: Obj) -> list[Obj]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def server(deployment: Obj) -> Obj:
    return next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "server")


# --- the files --------------------------------------------------------------------------------


def test_every_manifest_parses() -> None:
    paths = sorted(K8S.rglob("*.yaml"))
    assert len(paths) >= 12
    for path in paths:
        for doc in load(path):
            assert "apiVersion" in doc, path
            assert "kind" in doc, path


def test_base_kustomization_lists_every_file() -> None:
    kustomization = load(K8S / "base" / "kustomization.yaml")[0]
    files = {p.name for p in (K8S / "base").glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    assert kustomization["namespace"] == "leadengine"


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_base_validates_strictly(version: str) -> None:
    for doc in base_docs():
        kubernetes_validate.validate(doc, version, strict=True)


# --- each process ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", PROCESSES)
def test_each_process_has_its_account_service_config_budget_and_autoscaler(name: str) -> None:
    objects = base_objects()
    for kind in ("Deployment", "Service", "ServiceAccount", "ConfigMap"):
        assert (kind, name) in objects, f"{kind}/{name} missing"
    for kind in ("PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy"):
        assert (kind, name) in objects, f"{kind}/{name} missing"
    deployment = objects[("Deployment", name)]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == name
    assert objects[("ServiceAccount", name)]["automountServiceAccountToken"] is False
    service = objects[("Service", name)]
    assert service["spec"]["clusterIP"] == "None"  # headless: clients see every pod
    assert service["spec"]["selector"] == selector
    assert objects[("PodDisruptionBudget", name)]["spec"]["selector"]["matchLabels"] == selector
    assert objects[("PodDisruptionBudget", name)]["spec"]["maxUnavailable"] == 1
    target = objects[("HorizontalPodAutoscaler", name)]["spec"]["scaleTargetRef"]
    assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    # The autoscaler owns the replica count: a `replicas:` here would reset it on every apply.
    assert "replicas" not in deployment["spec"]
    assert deployment["metadata"]["labels"][COMPONENT] == "server"  # the README's apply order


@pytest.mark.parametrize("name", PROCESSES)
def test_deployments_are_probed_and_migrate_nothing(name: str) -> None:
    pod = base_objects()[("Deployment", name)]["spec"]["template"]["spec"]
    assert "initContainers" not in pod  # migrations run once, in the Job, before the rollout
    container = server(base_objects()[("Deployment", name)])
    assert container["image"] == IMAGE
    assert (
        container["readinessProbe"]["failureThreshold"] == 1
    )  # drops out of endpoints at once when draining
    assert "livenessProbe" in container
    if name == "gateway":
        assert container["args"] == ["python", "-m", "services.gateway"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    else:
        # Not the main port: with GRPC_TLS_* set it wants a client certificate the kubelet lacks.
        assert container["readinessProbe"]["grpc"]["port"] == HEALTH
        assert container["livenessProbe"]["grpc"]["port"] == HEALTH
        assert {"name": "health", "containerPort": HEALTH} in container["ports"]
        config = base_objects()[("ConfigMap", name)]["data"]
        assert config[f"{name.upper()}_HEALTH_PORT"] == str(HEALTH)


@pytest.mark.parametrize("name", SERVICES)
def test_services_migrate_in_a_job_with_the_env_the_server_reads(name: str) -> None:
    objects = base_objects()
    deployment = objects[("Deployment", name)]
    pod = deployment["spec"]["template"]["spec"]
    job = objects[("Job", f"{name}-migrate")]
    job_pod = job["spec"]["template"]
    (migrate,) = job_pod["spec"]["containers"]
    assert migrate["args"] == ["python", "-m", f"services.{name}", "migrate"]
    assert migrate["image"] == IMAGE
    assert job_pod["spec"]["restartPolicy"] == "Never"
    assert job_pod["spec"]["serviceAccountName"] == name
    assert job["metadata"]["labels"][COMPONENT] == job_pod["metadata"]["labels"][COMPONENT] == "migrate"
    # A migration pod must never be taken for a server: not by the Deployment, Service or PDB.
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert not selector.items() <= job_pod["metadata"]["labels"].items()
    container = server(deployment)
    assert container["args"] == ["python", "-m", f"services.{name}", "serve"]
    assert migrate["envFrom"] == container["envFrom"]
    assert {"configMapRef": {"name": name}} in container["envFrom"]
    assert {"secretRef": {"name": f"{name}-db"}} in container["envFrom"]  # <SVC>_DATABASE_URL
    data = objects[("ConfigMap", name)]["data"]
    assert data[f"{name.upper()}_GRPC_PORT"] == str(GRPC)
    assert int(data[f"{name.upper()}_METRICS_PORT"]) == METRICS
    for peer in DEPENDENCIES[name]:
        assert data[f"{peer.upper()}_ADDR"] == f"dns:///{peer}.leadengine.svc.cluster.local:{GRPC}"
    grace = pod["terminationGracePeriodSeconds"]
    assert grace > float(data[f"{name.upper()}_DRAIN_S"]) + float(data[f"{name.upper()}_GRACE_S"])


def test_gateway_knows_where_ingest_is() -> None:
    data = base_objects()[("ConfigMap", "gateway")]["data"]
    assert data["GATEWAY_INGEST_ADDR"] == f"dns:///ingest.leadengine.svc.cluster.local:{GRPC}"
    assert data["GATEWAY_PORT"] == str(HTTP)


def test_gateway_reads_webhook_secrets_and_signs_against_a_public_url() -> None:
    objects = base_objects()
    container = server(objects[("Deployment", "gateway")])
    secrets = [e["secretRef"] for e in container["envFrom"] if "secretRef" in e]
    assert secrets == [{"name": "gateway-webhooks", "optional": True}]
    assert objects[("ConfigMap", "gateway")]["data"]["WEBHOOK_PUBLIC_BASE_URL"].startswith("https://")


# --- hardening: every workload, as written and as rendered ---------------------------------------


def assert_hardened(where: str, template: Obj) -> None:
    pod = template["spec"]
    ctx = pod["securityContext"]
    assert ctx["runAsNonRoot"] is True, where
    assert ctx["runAsUser"] == 10001, where  # the Dockerfile's USER
    assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}, where
    mounts = {v["name"] for v in pod.get("volumes", [])}
    for container in containers(pod):
        name = f"{where}/{container['name']}"
        cctx = container["securityContext"]
        assert cctx["allowPrivilegeEscalation"] is False, name
        assert cctx["readOnlyRootFilesystem"] is True, name
        assert cctx["capabilities"] == {"drop": ["ALL"]}, name
        assert "privileged" not in cctx, name
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), name
        assert set(resources["limits"]) == {"memory"}, name  # no CPU limit: throttling hurts tail latency
        # The one writable path: an emptyDir.
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name  # noqa: S108
        assert "tmp" in mounts, name


def test_every_base_workload_is_hardened() -> None:
    workloads = list(pod_templates(base_docs()))
    assert len(workloads) == len(PROCESSES) + len(SERVICES)  # Deployments + migration Jobs
    for where, template in workloads:
        assert_hardened(where, template)


def test_the_namespace_enforces_the_restricted_pod_security_standard() -> None:
    labels = base_objects()[("Namespace", "leadengine")]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


# --- network policies: the call graph, nothing more ---------------------------------------------


def call_graph() -> set[tuple[str, str]]:
    """(caller, callee) as the code has it: DEPENDENCIES, plus the gateway's peers (ingest for
    webhooks, the coordinator for unsubscribes)."""
    edges = {(svc, peer) for svc, peers in DEPENDENCIES.items() for peer in peers}
    data = base_objects()[("ConfigMap", "gateway")]["data"]
    for key in ("GATEWAY_INGEST_ADDR", "COORDINATOR_ADDR"):
        edges.add(("gateway", data[key].removeprefix("dns:///").split(".")[0]))
    return edges


def policies(docs: list[Obj] | tuple[Obj, ...]) -> list[Obj]:
    return [d for d in docs if d["kind"] == "NetworkPolicy"]


def ports(rule: Obj) -> set[tuple[str, int]]:
    return {(p.get("protocol", "TCP"), p["port"]) for p in rule["ports"]}


def policy_edges(docs: list[Obj] | tuple[Obj, ...]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """gRPC (caller, callee) pairs that the egress rules, and that the ingress rules, allow."""
    egress, ingress = set(), set()
    for policy in policies(docs):
        spec = policy["spec"]
        me = spec["podSelector"].get("matchLabels", {}).get(NAME)
        for rule in spec.get("egress", []):
            for peer in rule.get("to", []):
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    assert ports(rule) == {("TCP", GRPC)}, policy["metadata"]["name"]
                    egress.add((me, peer["podSelector"]["matchLabels"][NAME]))
        for rule in spec.get("ingress", []):
            for peer in rule.get("from", []):
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    assert ports(rule) == {("TCP", GRPC)}, policy["metadata"]["name"]
                    ingress.add((peer["podSelector"]["matchLabels"][NAME], me))
    return egress, ingress


def assert_network_policies(docs: list[Obj] | tuple[Obj, ...]) -> None:
    by_name = {p["metadata"]["name"]: p["spec"] for p in policies(docs)}
    deny = by_name["default-deny"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}

    egress, ingress = policy_edges(docs)
    assert egress == call_graph(), "egress rules and shared/main.py DEPENDENCIES disagree"
    assert ingress == call_graph(), "ingress rules and shared/main.py DEPENDENCIES disagree"

    # Every pod is selected by a policy of its own (labels of the pod template).
    for where, template in pod_templates(docs):
        labels = template["metadata"]["labels"]
        own = [
            p
            for p in by_name.values()
            if p["podSelector"] and p["podSelector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(own) == 1, where
        assert own[0]["policyTypes"] == ["Ingress", "Egress"], where

    # Besides the call graph: DNS to kube-dns, PostgreSQL, Prometheus and the gateway's edge.
    for name, spec in by_name.items():
        for rule in spec.get("egress", []):
            if "to" not in rule and ports(rule) == {("TCP", HTTPS)}:
                # The providers' APIs: only the sender; the Anthropic API: only content.
                assert name in ("coordinator", "content"), name
            elif "to" not in rule and ports(rule) == {("TCP", REDIS)}:
                assert name == "intelligence", name  # the cache's second level: only its user
            elif "to" not in rule:  # any address: only PostgreSQL, and only from pods that use it
                assert ports(rule) == {("TCP", POSTGRES)}, name
                assert name in (*SERVICES, "migrate"), name
            elif not all("podSelector" in p and "namespaceSelector" not in p for p in rule["to"]):
                assert name == "dns", name
                assert ports(rule) == {("UDP", DNS), ("TCP", DNS)}, name
                assert rule["to"] == [
                    {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }
                ]
        for rule in spec.get("ingress", []):
            if "from" not in rule:  # from anywhere: only the gateway's HTTP port
                assert (name, ports(rule)) == ("gateway", {("TCP", HTTP)})
            elif "namespaceSelector" in rule["from"][0]:
                assert ports(rule) == {("TCP", METRICS)}, name
                assert rule["from"] == [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
                ]


def test_network_policies_allow_exactly_the_call_graph() -> None:
    assert_network_policies(base_docs())


def test_the_call_graph_test_would_catch_drift() -> None:
    docs = base_docs()
    content = next(p for p in policies(docs) if p["metadata"]["name"] == "content")  # calls no one
    content["spec"]["egress"].append(
        {"to": [{"podSelector": {"matchLabels": {NAME: "ingest"}}}], "ports": [{"port": GRPC}]}
    )
    with pytest.raises(AssertionError, match="DEPENDENCIES disagree"):
        assert_network_policies(docs)


# --- overlays ---------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_change_only_the_tag_autoscaling_resources_and_config(overlay: str) -> None:
    kustomization = load(K8S / "overlays" / overlay / "kustomization.yaml")[0]
    assert kustomization["resources"] == ["../../base"]
    assert kustomization["images"] == [{"name": IMAGE, "newTag": TAGS[overlay]}]
    assert set(kustomization) <= {"apiVersion", "kind", "resources", "images", "patches"}
    for patch in kustomization.get("patches", []):
        for doc in load(K8S / "overlays" / overlay / patch["path"]):
            assert doc["kind"] in ("ConfigMap", "Deployment", "HorizontalPodAutoscaler")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_render_and_validate_strictly(overlay: str) -> None:
    docs = rendered(overlay)
    for version in K8S_VERSIONS:
        for doc in docs:
            kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_render_every_workload_on_one_image_and_hardened(overlay: str) -> None:
    docs = rendered(overlay)
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "leadengine", doc["metadata"]["name"]
    deployments = {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"}
    jobs = {d["metadata"]["name"] for d in docs if d["kind"] == "Job"}
    assert deployments == set(PROCESSES)
    assert jobs == {f"{s}-migrate" for s in SERVICES}
    for where, template in pod_templates(docs):
        assert_hardened(where, template)
        for container in containers(template["spec"]):
            assert container["image"] == f"{IMAGE}:{TAGS[overlay]}", where
    for hpa in (d for d in docs if d["kind"] == "HorizontalPodAutoscaler"):
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"], hpa["metadata"]["name"]
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "HorizontalPodAutoscaler"} == deployments
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "PodDisruptionBudget"} == deployments


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_keep_the_network_policies(overlay: str) -> None:
    assert_network_policies(rendered(overlay))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_readme_apply_order_selects_jobs_before_servers(overlay: str) -> None:
    """`-l app.kubernetes.io/component!=server` applies all but the Deployments (and so the Jobs
    with everything they need); `-l app.kubernetes.io/component=migrate` waits for the Jobs."""
    docs = rendered(overlay)
    first = [d for d in docs if d["metadata"].get("labels", {}).get(COMPONENT) != "server"]
    assert {d["kind"] for d in docs if d not in first} == {"Deployment"}
    assert {d["kind"] for d in first} >= {"Namespace", "ServiceAccount", "ConfigMap", "NetworkPolicy", "Job"}
    waited = {
        d["metadata"]["name"]
        for d in docs
        if d["kind"] == "Job" and d["metadata"]["labels"][COMPONENT] == "migrate"
    }
    assert waited == {f"{s}-migrate" for s in SERVICES}
