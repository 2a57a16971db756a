"""Where each task of a compiled pipeline runs on Kubernetes, read from ``AUTOML_VIDEO_*`` variables (no kfp)."""

import os
from dataclasses import dataclass
from typing import Any

from automl_video.images import CPU_IMAGE, GPU_IMAGE

# Kubernetes objects of k8s/ that every task reads, all optional: on GKE with workload identity the
# config map sets nothing and no storage secret exists; elsewhere the config map points
# GOOGLE_APPLICATION_CREDENTIALS at the key file of the mounted secret. The registry the record steps
# write comes from the registry secret (its URL may hold a password); project and location of the
# records from the config map.
CONFIG_MAP = "automl-video-config"
CONFIG_MAP_ENV = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "AUTOML_VIDEO_PROJECT",
    "AUTOML_VIDEO_LOCATION",
)
STORAGE_SECRET = "automl-video-storage"
STORAGE_SECRET_MOUNT = "/var/secrets/automl-video-storage"
REGISTRY_SECRET = "automl-video-registry"
REGISTRY_SECRET_ENV = ("AUTOML_VIDEO_REGISTRY_URL",)


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


@dataclass
class ClusterSettings:
    """Where each task runs on Kubernetes; compiled into the pipeline YAML.

    Train and batch-predict tasks ask for ``gpus`` of ``accelerator`` on nodes labelled
    ``gpu_node_label`` (``key=value``; empty: any node) and tolerate the ``gpu_taint`` key; every
    other task stays on CPU nodes. Tasks are retried ``retries`` times (a preempted spot node fails
    the pod; the retry lands on another one).

    ``enable_caching`` lets KFP reuse the outputs of a task run before with the same inputs, for the
    tasks whose result depends on nothing else (split, train, evaluate, export, the shard plan);
    tasks that read or write state outside their inputs (import from a source prefix, the serving
    gate, batch prediction, the record steps, the model importer) never cache. ``image_parameters``
    False compiles the images as constants instead of run parameters: kfp.local's DockerRunner runs
    the image a task names without resolving pipeline parameters.
    """

    cpu_image: str = CPU_IMAGE
    gpu_image: str = GPU_IMAGE
    accelerator: str = "nvidia.com/gpu"
    gpus: int = 1
    gpu_node_label: str = "cloud.google.com/gke-accelerator=nvidia-l4"
    gpu_taint: str = "nvidia.com/gpu"
    cpu_request: str = "1"
    memory_request: str = "4Gi"
    gpu_cpu_request: str = "4"
    gpu_memory_request: str = "16Gi"
    retries: int = 3
    retry_backoff: str = "60s"
    enable_caching: bool = True
    image_parameters: bool = True

    # Environment variable of each field (``from_env``, the CLI help, keys of k8s/ automl-video-config).
    ENV = {
        "cpu_image": "AUTOML_VIDEO_IMAGE",
        "gpu_image": "AUTOML_VIDEO_GPU_IMAGE",
        "accelerator": "AUTOML_VIDEO_ACCELERATOR",
        "gpus": "AUTOML_VIDEO_GPUS",
        "gpu_node_label": "AUTOML_VIDEO_GPU_NODE_LABEL",
        "gpu_taint": "AUTOML_VIDEO_GPU_TAINT",
        "retries": "AUTOML_VIDEO_RETRIES",
        "enable_caching": "AUTOML_VIDEO_ENABLE_CACHING",
    }

    def __post_init__(self) -> None:
        if self.gpus < 1:
            raise ValueError(f"gpus per GPU task must be at least 1, got {self.gpus}")
        if self.retries < 0:
            raise ValueError(f"retries must be 0 or more, got {self.retries}")
        if self.gpu_node_label and "=" not in self.gpu_node_label:
            raise ValueError(
                f"GPU node label {self.gpu_node_label!r} must be key=value, "
                "e.g. cloud.google.com/gke-accelerator=nvidia-l4"
            )

    @property
    def gpu_node_selector(self) -> tuple[str, str] | None:
        if not self.gpu_node_label:
            return None
        key, value = self.gpu_node_label.split("=", 1)
        return key.strip(), value.strip()

    @classmethod
    def from_env(cls, **overrides: Any) -> "ClusterSettings":
        """Defaults, then ``AUTOML_VIDEO_*`` variables, then ``overrides`` that are not None."""
        values: dict[str, Any] = {}
        for name, variable in cls.ENV.items():
            if variable in os.environ:
                kind = type(getattr(cls, name))
                parse = _parse_bool if kind is bool else kind
                try:
                    values[name] = parse(os.environ[variable])
                except ValueError:
                    raise ValueError(f"{variable}={os.environ[variable]!r} is not a valid {kind.__name__}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
