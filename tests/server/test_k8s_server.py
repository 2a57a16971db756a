"""The server's manifests (k8s/server) render with kubectl, validate against the Kubernetes schemas, and
start `automl-video serve` with flags the CLI accepts, the registry from a secret and probes on /healthz."""

import os
import re

import kubernetes_validate
import pytest

from automl_video.cli import build_parser
from automl_video.server.app import HEALTH_PATH
from tests.test_k8s import REPO, SCHEMA_VERSIONS, by_kind, render


@pytest.fixture(scope="module")
def objects() -> dict:
    return by_kind(render(os.path.join(REPO, "k8s", "server")))


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_every_server_object_is_valid(objects, version):
    for obj in objects.values():
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_deployment_serves_with_keys_a_postgresql_registry_and_health_probes(objects):
    assert set(objects) == {
        ("ConfigMap", "automl-video-server"),
        ("Deployment", "automl-video-server"),
        ("Service", "automl-video-server"),
    }
    deployment = objects[("Deployment", "automl-video-server")]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["serviceAccountName"] == "automl-video-runner"  # the overlay's, with storage access
    assert container["image"].endswith("automl-video-cpu:0.1.0")
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": HEALTH_PATH, "port": "http"}
    (registry,) = [e for e in container["env"] if e["name"] == "AUTOML_VIDEO_REGISTRY_URL"]
    assert registry["valueFrom"]["secretKeyRef"] == {"name": "automl-video-registry", "key": "url"}
    config = objects[("ConfigMap", "automl-video-server")]["data"]
    values = {**config, "AUTOML_VIDEO_REGISTRY_URL": "postgresql+psycopg2://u@db/automl"}
    args = [re.sub(r"\$\((\w+)\)", lambda m: values[m.group(1)], a) for a in container["args"]]
    parsed = build_parser().parse_args([*container["command"][1:], *args])
    assert parsed.func.__module__ == "automl_video.cli.serve"
    assert parsed.host == "0.0.0.0" and parsed.registry.startswith("postgresql")
    assert parsed.api_keys.startswith(container["volumeMounts"][0]["mountPath"])
    assert pod["volumes"][0]["secret"]["secretName"] == "automl-video-api-keys"
    service = objects[("Service", "automl-video-server")]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]
