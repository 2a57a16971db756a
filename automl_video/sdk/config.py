"""Process-wide SDK settings, set by :func:`init` (``aiplatform.init``) and read by every resource."""

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from automl_video import storage
from automl_video.records import DEFAULT_LOCATION, DEFAULT_PROJECT
from automl_video.registry import Registry, names
from automl_video.registry.database import ENV_HOME, default_url, normalize_url

if TYPE_CHECKING:
    from automl_video_pipelines.cluster import ClusterTarget

LOCAL = "local"
KFP = "kfp"
BACKENDS = (LOCAL, KFP)
DEFAULT_EXPERIMENT = "automl-video"


def _home() -> str:
    return os.environ.get(ENV_HOME) or os.path.join(os.path.expanduser("~"), ".automl-video")


@dataclass
class Settings:
    """What :func:`init` set; unset values have the defaults shown in :func:`init`."""

    project: str = DEFAULT_PROJECT
    location: str = DEFAULT_LOCATION
    staging_bucket: str = ""
    backend: str = LOCAL
    registry_url: str = ""
    kfp_host: str = ""
    kfp_namespace: str = ""
    experiment: str = DEFAULT_EXPERIMENT
    service_account: str = ""

    @property
    def staging(self) -> str:
        return self.staging_bucket or os.path.join(_home(), "staging")

    def kfp_target(self) -> "ClusterTarget":
        """The KFP API server runs are submitted to (the ``kfp`` backend); loads kfp."""
        from automl_video_pipelines.cluster import ClusterTarget

        return ClusterTarget(
            host=self.kfp_host,
            namespace=self.kfp_namespace or None,
            experiment=self.experiment,
            service_account=self.service_account,
            pipeline_root=storage.join(self.staging, "pipeline_root"),
        )


_lock = threading.Lock()
_settings = Settings()
_registry: Registry | None = None


def init(
    *,
    project: str | None = None,
    location: str | None = None,
    staging_bucket: str | None = None,
    backend: str | None = None,
    registry_url: str | None = None,
    kfp_host: str | None = None,
    kfp_namespace: str | None = None,
    experiment: str | None = None,
    service_account: str | None = None,
) -> None:
    """Set the defaults of every later SDK call, like ``aiplatform.init``; arguments left None keep
    their current value.

    Args:
        project: project of new resources and of bare IDs (default ``local``).
        location: location likewise (default ``local``).
        staging_bucket: URL (``gs://…``, local folder…) where datasets, models, evaluations and
            exports are written (default ``$AUTOML_VIDEO_HOME/staging``, home ``~/.automl-video``).
        backend: ``local`` runs the stages in this process (background threads for ``sync=False``);
            ``kfp`` submits the KFP pipelines to ``kfp_host``.
        registry_url: SQLAlchemy URL or SQLite file of the registry (default
            ``$AUTOML_VIDEO_REGISTRY_URL`` or ``$AUTOML_VIDEO_HOME/registry.sqlite``).
        kfp_host: KFP API server of the ``kfp`` backend (e.g. ``http://localhost:8080``).
        kfp_namespace: Kubernetes namespace of the runs (multi-user KFP).
        experiment: KFP experiment the runs are filed under.
        service_account: Kubernetes service account the runs use.

    Raises:
        ValueError: an invalid project, location or backend, or ``kfp`` without a host.
    """
    global _settings, _registry
    with _lock:
        changes = {
            key: value
            for key, value in dict(
                project=project,
                location=location,
                staging_bucket=staging_bucket,
                backend=backend,
                registry_url=registry_url,
                kfp_host=kfp_host,
                kfp_namespace=kfp_namespace,
                experiment=experiment,
                service_account=service_account,
            ).items()
            if value is not None
        }
        updated = Settings(**{**vars(_settings), **changes})
        names.validate_project_and_location(updated.project, updated.location)
        if updated.backend not in BACKENDS:
            raise ValueError(f"backend {updated.backend!r} is not one of {', '.join(BACKENDS)}")
        if updated.backend == KFP and not updated.kfp_host:
            raise ValueError("backend 'kfp' needs kfp_host, the URL of the KFP API server")
        if _registry is not None and normalize_url(updated.registry_url) != _registry.url:
            _registry.close()
            _registry = None
        _settings = updated


def settings() -> Settings:
    return _settings


def registry() -> Registry:
    """The registry of the current settings, opened (and migrated) on first use."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = Registry(_settings.registry_url or default_url())
        return _registry


def project_and_location(project: str | None, location: str | None) -> tuple[str, str]:
    """The given project and location, or those of :func:`init`."""
    chosen = (project or _settings.project, location or _settings.location)
    names.validate_project_and_location(*chosen)
    return chosen
