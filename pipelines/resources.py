"""Where tasks run on Kubernetes: CPU nodes for most stages, the GPU node pool for train and predict."""

from kfp import kubernetes
from kfp.dsl import PipelineTask

from automl_video_pipelines.settings import (
    CONFIG_MAP,
    CONFIG_MAP_ENV,
    REGISTRY_SECRET,
    REGISTRY_SECRET_ENV,
    STORAGE_SECRET,
    STORAGE_SECRET_MOUNT,
    ClusterSettings,
)


def on_cpu(task: PipelineTask, settings: ClusterSettings, image, *, pure: bool = True) -> PipelineTask:
    """Run ``task`` on ``image`` (a pipeline parameter) on any node, with CPU/memory requests.

    ``pure``: the task's outputs depend on its inputs alone, so KFP may reuse an earlier run's (when
    caching is on); a task reading or writing anything else passes False and always runs.
    """
    task.set_container_image(image if settings.image_parameters else settings.cpu_image)
    task.set_cpu_request(settings.cpu_request).set_memory_request(settings.memory_request)
    return _with_cluster_config(task, settings, pure)


def on_gpu(task: PipelineTask, settings: ClusterSettings, gpu_image, *, pure: bool = True) -> PipelineTask:
    """Run ``task`` on the GPU pool: request the accelerator, select the pool's nodes, tolerate their taint."""
    task.set_container_image(gpu_image if settings.image_parameters else settings.gpu_image)
    task.set_cpu_request(settings.gpu_cpu_request).set_memory_request(settings.gpu_memory_request)
    task.set_accelerator_type(settings.accelerator).set_accelerator_limit(settings.gpus)
    if settings.gpu_taint:
        kubernetes.add_toleration(task, key=settings.gpu_taint, operator="Exists", effect="NoSchedule")
    if settings.gpu_node_selector:
        kubernetes.add_node_selector(task, *settings.gpu_node_selector)
    return _with_cluster_config(task, settings, pure)


def never_cached(task: PipelineTask) -> PipelineTask:
    """A task without a container of its own that must not be reused: the importer of a stable model URI,
    and a nested pipeline's task (whose container tasks decide for themselves)."""
    return task.set_caching_options(False)


def _with_cluster_config(task: PipelineTask, settings: ClusterSettings, pure: bool) -> PipelineTask:
    """Caching, retries for preempted nodes, and the settings of k8s/base (every object optional)."""
    task.set_caching_options(pure and settings.enable_caching)
    if settings.retries:
        task.set_retry(settings.retries, backoff_duration=settings.retry_backoff, backoff_factor=2.0)
    kubernetes.use_config_map_as_env(task, CONFIG_MAP, {key: key for key in CONFIG_MAP_ENV}, optional=True)
    kubernetes.use_secret_as_env(task, REGISTRY_SECRET, {key: key for key in REGISTRY_SECRET_ENV}, optional=True)
    kubernetes.use_secret_as_volume(task, STORAGE_SECRET, mount_path=STORAGE_SECRET_MOUNT, optional=True)
    return task
