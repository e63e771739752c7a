"""deploy/k8s validated against the Kubernetes API schemas (kubernetes-validate, strict: a misspelt field fails),
and read as the product reads it: every SCISYNTH_ variable is a real setting, the commands are ones the CLI accepts,
the probes are routes the service answers without a key, and the Service, disruption budget and autoscaler all
select the API's pods."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

from agent.settings import environment_names
from api.guard import _PUBLIC_PATHS
from cli.main import HANDLERS
from cli.parser import build_parser
from tests.conftest import ROOT

K8S = ROOT / "deploy" / "k8s"
RAY = K8S / "ray" / "raycluster.yaml"  # a KubeRay custom resource: outside the Kubernetes schemas
KUBERNETES = "1.33"  # the oldest minor version still supported upstream when this was written


def _documents() -> dict[str, dict]:
    found = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            for document in yaml.safe_load_all(path.read_text()):
                found[f"{document['kind']}/{document['metadata']['name']}"] = document
    return found


@pytest.mark.parametrize("name", sorted(_documents()))
def test_each_manifest_is_valid_kubernetes(name: str) -> None:
    kubernetes_validate.validate(_documents()[name], KUBERNETES, strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert set(listed) == files


def test_the_manifests_are_wired_to_each_other_and_to_the_product() -> None:
    documents = _documents()
    deployment = documents["Deployment/scisynth-api"]
    pods = deployment["spec"]["template"]
    labels = pods["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert documents["Service/scisynth-api"]["spec"]["selector"] == labels
    assert documents["PodDisruptionBudget/scisynth-api"]["spec"]["selector"]["matchLabels"] == labels
    target = documents["HorizontalPodAutoscaler/scisynth-api"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "scisynth-api")
    assert documents["Ingress/scisynth"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == \
        "scisynth-api"
    settings = set(environment_names())
    variables = set(documents["ConfigMap/scisynth-config"]["data"]) | set(
        documents["Secret/scisynth-secrets"]["stringData"])
    assert variables <= settings, variables - settings
    parser = build_parser(HANDLERS, "model.gguf")
    for workload in (deployment, documents["Job/scisynth-migrate"]):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            command = container["command"]
            assert command[0] == "scisynth"
            parser.parse_args(command[1:])  # exits (fails the test) on a command the CLI does not accept
            sources = {next(iter(source.values()))["name"] for source in container["envFrom"]}
            assert sources == {"scisynth-config", "scisynth-secrets"}
    api = pods["spec"]["containers"][0]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert api[probe]["httpGet"]["path"] in _PUBLIC_PATHS
    config = documents["ConfigMap/scisynth-config"]["data"]
    grace = 2 * int(config["SCISYNTH_SHUTDOWN_GRACE_SECONDS"]) + int(config["SCISYNTH_DRAIN_SECONDS"])
    # the drain, then running turns, finish before the kill; the drain outlasts the readiness probe's verdict
    assert pods["spec"]["terminationGracePeriodSeconds"] > grace
    probe = api["readinessProbe"]
    assert int(config["SCISYNTH_DRAIN_SECONDS"]) >= probe["periodSeconds"] * probe["failureThreshold"]


def test_the_ray_cluster_runs_the_api_image_on_a_shared_papers_volume() -> None:
    """KubeRay's RayCluster is not in the Kubernetes schemas: its pod templates are validated as Pods (strict),
    its claim as a PersistentVolumeClaim, and each pod runs the API's image and settings and mounts the claim."""
    claim, cluster = yaml.safe_load_all(RAY.read_text())
    kubernetes_validate.validate(claim, KUBERNETES, strict=True)
    assert (cluster["apiVersion"], cluster["kind"]) == ("ray.io/v1", "RayCluster")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # every node reads the papers at one path
    api = _documents()["Deployment/scisynth-api"]["spec"]["template"]["spec"]["containers"][0]
    groups = [cluster["spec"]["headGroupSpec"], *cluster["spec"]["workerGroupSpecs"]]
    for group in groups:
        template = group["template"]
        kubernetes_validate.validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ray"},
                                      "spec": template["spec"]}, KUBERNETES, strict=True)
        [container] = template["spec"]["containers"]
        assert container["image"] == api["image"] and container["envFrom"] == api["envFrom"]
        assert {v["persistentVolumeClaim"]["claimName"] for v in template["spec"]["volumes"]} == \
            {claim["metadata"]["name"]}
        assert container["volumeMounts"] == [{"name": "papers", "mountPath": "/papers"}]
    worker = cluster["spec"]["workerGroupSpecs"][0]
    assert worker["minReplicas"] <= worker["replicas"] <= worker["maxReplicas"]
