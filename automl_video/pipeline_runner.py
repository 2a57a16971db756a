"""Everything about running the stages as Kubeflow pipelines that is not the pipelines themselves.

Two kinds of helpers live here, both importable without kfp (kfp loads only inside the functions
that compile, run or submit):

- the cluster settings a compiled pipeline carries (images, GPU node pool, retries), read from
  ``AUTOML_VIDEO_*`` environment variables, and the pipelines' arguments;
- compile / run through ``kfp.local`` / submit / schedule, used by ``automl-video pipeline`` and
  ``automl-video demo``.

What the components call lives in the library: :mod:`automl_video.stage`, :mod:`automl_video.serving`,
:mod:`automl_video.data.sources`, :mod:`automl_video.prediction.shards`.
"""

import builtins
import contextlib
import dataclasses
import datetime as dt
import io
import json
import logging
import os
import re
import sys
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

from automl_video import __version__, storage
from automl_video.errors import AutoMLVideoError
from automl_video.model_spec import parse_model_type
from automl_video.prediction.shards import shard_indices
from automl_video.stage import fraction_parameters

log = logging.getLogger(__name__)

TRAINING_PIPELINE = "training"
BATCH_PREDICTION_PIPELINE = "batch-prediction"
PIPELINE_NAMES = (TRAINING_PIPELINE, BATCH_PREDICTION_PIPELINE)

IMAGE_REPOSITORY = "ghcr.io/automl-video"
DEFAULT_CPU_IMAGE = f"{IMAGE_REPOSITORY}/automl-video-cpu:{__version__}"
DEFAULT_GPU_IMAGE = f"{IMAGE_REPOSITORY}/automl-video-gpu:{__version__}"

# Kubernetes objects of k8s/ that every task reads, both optional: on GKE with workload identity the
# config map sets nothing and no secret exists; elsewhere the config map points
# GOOGLE_APPLICATION_CREDENTIALS at the key file of the mounted secret.
CONFIG_MAP = "automl-video-config"
CONFIG_MAP_ENV = ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT")
STORAGE_SECRET = "automl-video-storage"
STORAGE_SECRET_MOUNT = "/var/secrets/automl-video-storage"


class PipelineRunError(AutoMLVideoError):
    """A pipeline run failed or could not be submitted; the message names the task or the request."""


# -- cluster settings ------------------------------------------------------------------------------


@dataclass
class ClusterSettings:
    """Where each task runs on Kubernetes; compiled into the pipeline YAML.

    Train and batch-predict tasks ask for ``gpus`` of ``accelerator`` on nodes labelled
    ``gpu_node_label`` (``key=value``; empty: any node) and tolerate the ``gpu_taint`` key; every
    other task stays on CPU nodes. Tasks are retried ``retries`` times (a preempted spot node fails
    the pod; the retry lands on another one).
    """

    cpu_image: str = DEFAULT_CPU_IMAGE
    gpu_image: str = DEFAULT_GPU_IMAGE
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

    # Environment variable of each field (``from_env``, the CLI help, keys of k8s/ automl-video-config).
    ENV = {
        "cpu_image": "AUTOML_VIDEO_IMAGE",
        "gpu_image": "AUTOML_VIDEO_GPU_IMAGE",
        "accelerator": "AUTOML_VIDEO_ACCELERATOR",
        "gpus": "AUTOML_VIDEO_GPUS",
        "gpu_node_label": "AUTOML_VIDEO_GPU_NODE_LABEL",
        "gpu_taint": "AUTOML_VIDEO_GPU_TAINT",
        "retries": "AUTOML_VIDEO_RETRIES",
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
                try:
                    values[name] = kind(os.environ[variable])
                except ValueError:
                    raise ValueError(f"{variable}={os.environ[variable]!r} is not a valid {kind.__name__}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def default_image(kind: str = "cpu") -> str:
    """The image a component is built on when used outside our pipelines (env-configurable)."""
    settings = ClusterSettings.from_env()
    return settings.gpu_image if kind == "gpu" else settings.cpu_image


# -- pipeline arguments ----------------------------------------------------------------------------


@dataclass
class TrainingArguments:
    """Parameters of the training pipeline; mirror ``AutoMLVideoTrainingJob`` and its ``run``.

    Fractions left None give AutoML's default split (80% TRAIN, 20% TEST). Batch prediction runs
    after training when ``predictions_prefix`` is set; the gate runs when ``serving_root`` is set.
    """

    sources: list[str]
    model_type: str = "CLOUD"
    training_fraction_split: float | None = None
    test_fraction_split: float | None = None
    dataset_display_name: str = ""
    model_display_name: str = ""
    model_labels: dict[str, str] = field(default_factory=dict)
    budget_minutes: float = 60.0
    seed: int = 0
    exhaustive: bool = False
    max_error_fraction: float = 0.1
    export_format: str = "tf-saved-model"
    serving_root: str = ""
    prediction_inputs: list[str] = field(default_factory=list)
    predictions_prefix: str = ""
    prediction_params: dict[str, Any] = field(default_factory=dict)
    prediction_shards: int = 2

    def parameters(self) -> dict[str, Any]:
        """The pipeline parameters, validated here so a bad value fails before anything runs."""
        from automl_video.export import FORMATS as EXPORT_FORMATS
        from automl_video.splits import validate_fractions

        if not self.sources:
            raise ValueError("no import source given: pass at least one CSV URI, glob or prefix/")
        parse_model_type(self.model_type)
        validate_fractions(self.training_fraction_split, self.test_fraction_split)
        if self.export_format not in EXPORT_FORMATS:
            raise ValueError(f"export format {self.export_format!r} is not one of {', '.join(EXPORT_FORMATS)}")
        if self.budget_minutes <= 0:
            raise ValueError(f"budget must be more than 0 minutes, got {self.budget_minutes}")
        if self.predictions_prefix and not self.prediction_inputs:
            raise ValueError("batch prediction asked (predictions prefix given) but no prediction input")
        shard_indices(self.prediction_shards)
        doc = dataclasses.asdict(self)
        doc["training_fraction_split"], doc["test_fraction_split"] = fraction_parameters(
            self.training_fraction_split, self.test_fraction_split
        )
        return doc


@dataclass
class BatchPredictionArguments:
    """Parameters of the batch-prediction pipeline (Vertex ``BatchPredictionJob.create``)."""

    model_uri: str
    inputs: list[str]
    predictions_prefix: str
    prediction_params: dict[str, Any] = field(default_factory=dict)
    shards: int = 2

    def parameters(self) -> dict[str, Any]:
        if not self.inputs:
            raise ValueError("no prediction input given: pass at least one CSV or JSONL file")
        if not self.predictions_prefix:
            raise ValueError("no predictions prefix given: say where the predictions go")
        shard_indices(self.shards)
        return dataclasses.asdict(self)


# -- compile / run / submit / schedule (kfp loads here) --------------------------------------------


def build_pipelines(settings: ClusterSettings | None = None) -> dict[str, Any]:
    """The pipeline functions by name, with ``settings`` compiled into their tasks."""
    from pipelines import build

    return build(settings or ClusterSettings.from_env())


def compile_pipelines(output_uri: str, settings: ClusterSettings | None = None) -> dict[str, str]:
    """Compile every pipeline to ``<output_uri>/<name>.yaml``.

    Returns:
        The URI of each pipeline's YAML by pipeline name.
    """
    from kfp import compiler

    written = {}
    with tempfile.TemporaryDirectory(prefix="automl-video-compile-") as tmp:
        for name, pipeline in build_pipelines(settings).items():
            local = os.path.join(tmp, f"{name}.yaml")
            compiler.Compiler().compile(pipeline, local)
            target = storage.join(output_uri, f"{name}.yaml")
            with open(local, "rb") as f:
                storage.write_bytes(target, f.read())
            written[name] = target
    return written


@contextlib.contextmanager
def _compiled(pipeline: str, settings: ClusterSettings | None):
    """A local YAML of one pipeline, for kfp.Client uploads."""
    _check_pipeline_name(pipeline)
    with tempfile.TemporaryDirectory(prefix="automl-video-compile-") as tmp:
        yield compile_pipelines(tmp, settings)[pipeline]


def _check_pipeline_name(pipeline: str) -> None:
    if pipeline not in PIPELINE_NAMES:
        raise ValueError(f"unknown pipeline {pipeline!r}; choose one of {', '.join(PIPELINE_NAMES)}")


@dataclass
class TaskRecord:
    """One executed task of a local run: its output artifacts, their metadata and output parameters."""

    name: str
    artifacts: dict[str, str]
    metadata: dict[str, dict[str, Any]]
    parameters: dict[str, Any]

    def work_interval(self) -> tuple[float, float] | None:
        """When the stage's own work ran (:attr:`automl_video.stage.StageRun.metadata`), None for glue tasks."""
        for meta in self.metadata.values():
            if "started_at" in meta and "finished_at" in meta:
                return float(meta["started_at"]), float(meta["finished_at"])
        return None


@dataclass
class LocalRunResult:
    """A finished ``kfp.local`` run: where its outputs are and how its time was spent.

    ``stage_seconds`` is the time during which at least one stage was doing its own work; the rest
    of ``wall_seconds`` is orchestration (process start, imports, artifact bookkeeping).
    """

    pipeline: str
    run_dir: str
    wall_seconds: float
    stage_seconds: float
    tasks: list[TaskRecord]

    @property
    def overhead_share(self) -> float:
        return max(0.0, 1.0 - self.stage_seconds / self.wall_seconds) if self.wall_seconds > 0 else 0.0

    def task(self, name: str) -> TaskRecord:
        """The task named ``name`` (the last path part of its folder, e.g. ``train-model``)."""
        matches = [t for t in self.tasks if t.name.rsplit("/", 1)[-1] == name]
        if not matches:
            raise KeyError(f"no task {name!r} ran in {self.run_dir}; ran: {', '.join(t.name for t in self.tasks)}")
        return matches[0]

    def has_task(self, name: str) -> bool:
        return any(t.name.rsplit("/", 1)[-1] == name for t in self.tasks)


def run_local(
    pipeline: str,
    parameters: dict[str, Any],
    pipeline_root: str,
    settings: ClusterSettings | None = None,
    log_file: str | None = None,
) -> LocalRunResult:
    """Run a pipeline on this machine through ``kfp.local``, each task a subprocess of this Python.

    Task output goes to ``log_file``, or to stderr (stdout stays for the CLI's result); which task
    runs and how it ended is logged on stderr either way.

    Args:
        pipeline: ``training`` or ``batch-prediction``.
        parameters: the pipeline parameters (``TrainingArguments.parameters()`` ...).
        pipeline_root: local folder receiving every task's artifacts (one sub-folder per run).
        settings: cluster settings; only their retries would matter locally, and they are turned off.
        log_file: local file receiving the tasks' own output.

    Returns:
        The run's tasks, output locations and timing.

    Raises:
        PipelineRunError: a task failed; the message names it and the run folder.
    """
    from kfp import local

    _check_pipeline_name(pipeline)
    root = os.path.abspath(storage.local_path(pipeline_root))
    os.makedirs(root, exist_ok=True)
    existing = set(os.listdir(root))
    # kfp.local honours retries (with their minutes of backoff), but here no node gets preempted: a
    # failure would only fail again.
    settings = dataclasses.replace(settings or ClusterSettings.from_env(), retries=0)
    pipeline_func = build_pipelines(settings)[pipeline]
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=root, raise_on_error=True)
    started = time.time()
    failure = None
    with contextlib.ExitStack() as stack:
        stack.enter_context(_kfp_local_side_effects_undone())
        task_output = stack.enter_context(_TaskOutput(log_file))
        stack.enter_context(contextlib.redirect_stdout(task_output))
        stack.enter_context(warnings.catch_warnings())
        # The subprocess runner ignores images, resources and retries, and warns about each, every task.
        warnings.filterwarnings("ignore", message=".*non-Python base image.*", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message=".*no effect in the current local runner.*", category=UserWarning)
        try:
            pipeline_func(**parameters)
        except RuntimeError as e:
            failure = _ANSI.sub("", str(e))
    wall = time.time() - started
    new_dirs = sorted(d for d in set(os.listdir(root)) - existing if os.path.isdir(os.path.join(root, d)))
    run_dir = os.path.join(root, new_dirs[-1]) if new_dirs else root
    if failure:
        names = task_output.failed_tasks
        failed = f"task{'s' if len(names) > 1 else ''} {', '.join(repr(n) for n in names)}" if names else failure
        logs = f"in {log_file}" if log_file else "above"
        raise PipelineRunError(
            f"the {pipeline} pipeline failed: {failed} failed (tracebacks are in the task logs {logs}); "
            f"outputs so far are under {run_dir}"
        )
    return summarize_local_run(pipeline, run_dir, wall)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@contextlib.contextmanager
def _kfp_local_side_effects_undone():
    """Restore ``print`` and the root logger after a run.

    kfp.local swaps ``builtins.print`` (to indent task output) and the root logger's handlers per
    task; with parallel tasks the swaps interleave and can outlive the run.
    """
    root_logger = logging.getLogger()
    saved_print, saved_handlers, saved_level = builtins.print, root_logger.handlers[:], root_logger.level
    try:
        yield
    finally:
        builtins.print = saved_print
        root_logger.handlers[:] = saved_handlers
        root_logger.setLevel(saved_level)


class _TaskOutput(io.TextIOBase):
    """Where kfp.local's output goes during a run: task output to a log file (or stderr), its
    "Executing task"/"finished with status" lines also to stderr as progress, and the names of the
    tasks that failed remembered for the error message."""

    _STATUS = re.compile(r"Task '([^']+)' finished with status (\w+)")
    _PROGRESS = re.compile(r"Executing task|finished with status|Skipping")

    def __init__(self, log_file: str | None):
        self._file = open(log_file, "a", encoding="utf-8") if log_file else None
        self._pending = ""
        self.failed_tasks: list[str] = []

    def write(self, text: str) -> int:
        (self._file or sys.stderr).write(text)
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in map(lambda raw: _ANSI.sub("", raw).strip(), lines):
            status = self._STATUS.search(line)
            if status and status.group(2) == "FAILURE" and status.group(1) not in self.failed_tasks:
                self.failed_tasks.append(status.group(1))
            if self._file and self._PROGRESS.search(line):
                sys.stderr.write(line + "\n")  # not print(): kfp.local swaps it
        return len(text)

    def flush(self) -> None:
        (self._file or sys.stderr).flush()

    def close(self) -> None:
        super().close()  # flushes first
        if self._file:
            self._file.close()


def summarize_local_run(pipeline: str, run_dir: str, wall_seconds: float) -> LocalRunResult:
    """Read every task's ``executor_output.json`` under a ``kfp.local`` run folder."""
    tasks = []
    for folder, _, files in sorted(os.walk(run_dir)):
        if "executor_output.json" not in files:
            continue
        with open(os.path.join(folder, "executor_output.json")) as f:
            output = json.load(f)
        artifacts, metadata = {}, {}
        for name, listed in output.get("artifacts", {}).items():
            first = listed["artifacts"][0]
            artifacts[name] = first["uri"]
            metadata[name] = first.get("metadata", {})
        name = os.path.relpath(folder, run_dir).replace(os.sep, "/")
        tasks.append(TaskRecord(name, artifacts, metadata, output.get("parameterValues", {})))
    intervals = [i for i in (t.work_interval() for t in tasks) if i]
    return LocalRunResult(pipeline, run_dir, wall_seconds, _union_length(intervals), tasks)


def _union_length(intervals: list[tuple[float, float]]) -> float:
    """Total time covered by possibly overlapping intervals (parallel shards count once)."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


@dataclass
class ClusterTarget:
    """Which KFP API server to talk to and how runs execute there."""

    host: str
    namespace: str | None = None
    experiment: str = "automl-video"
    service_account: str = ""
    pipeline_root: str = ""
    token: str = ""

    def client(self):
        import kfp

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "only works with KFP v2.0.0-beta.2 and later"
            return kfp.Client(host=self.host, namespace=self.namespace or "kubeflow", existing_token=self.token or None)


@dataclass
class SubmitResult:
    run_id: str
    experiment_id: str
    run_url: str


@dataclass
class ScheduleResult:
    recurring_run_id: str
    pipeline_id: str
    pipeline_version_id: str
    experiment_id: str
    cron: str


def submit(
    target: ClusterTarget,
    pipeline: str,
    parameters: dict[str, Any],
    run_name: str = "",
    settings: ClusterSettings | None = None,
) -> SubmitResult:
    """Start one run of a pipeline on a KFP cluster.

    Returns:
        The run and experiment IDs and the run's page in the KFP UI.
    """
    with _compiled(pipeline, settings) as package, _kfp_api(target.host):
        client = target.client()
        run = client.create_run_from_pipeline_package(
            package,
            arguments=parameters,
            run_name=run_name or f"automl-video {pipeline} {dt.datetime.now():%Y-%m-%d %H:%M:%S}",
            experiment_name=target.experiment,
            namespace=target.namespace,
            pipeline_root=target.pipeline_root or None,
            service_account=target.service_account or None,
        )
        experiment_id = run.run_info.experiment_id
    return SubmitResult(run.run_id, experiment_id, f"{target.host.rstrip('/')}/#/runs/details/{run.run_id}")


def schedule(
    target: ClusterTarget,
    pipeline: str,
    parameters: dict[str, Any],
    cron: str,
    name: str = "",
    settings: ClusterSettings | None = None,
) -> ScheduleResult:
    """Upload the pipeline as a new version of ``automl-video-<pipeline>`` and run it on ``cron``.

    Each scheduled run imports whatever its sources match at that time
    (:func:`automl_video.data.sources.expand_sources`).
    Runs never overlap (max concurrency 1) and missed slots are not backfilled.

    Args:
        cron: six fields, seconds first (``0 0 2 * * *`` = every day at 02:00).

    Returns:
        The recurring run, the pipeline version it runs and its experiment.
    """
    if len(cron.split()) != 6:
        raise ValueError(
            f"cron {cron!r} must have 6 fields (seconds minutes hours day month weekday), e.g. '0 0 2 * * *'"
        )
    pipeline_name = f"automl-video-{pipeline}"
    with _compiled(pipeline, settings) as package, _kfp_api(target.host):
        client = target.client()
        experiment_id = client.create_experiment(target.experiment, namespace=target.namespace).experiment_id
        pipeline_id, version_id = _upload_version(client, package, pipeline_name, target.namespace)
        recurring = client.create_recurring_run(
            experiment_id=experiment_id,
            job_name=name or f"{pipeline_name} ({cron})",
            description=f"automl-video {pipeline} pipeline on cron '{cron}'",
            cron_expression=cron,
            max_concurrency=1,
            no_catchup=True,
            params=parameters,
            pipeline_id=pipeline_id,
            version_id=version_id,
            pipeline_root=target.pipeline_root or None,
            service_account=target.service_account or None,
        )
    return ScheduleResult(recurring.recurring_run_id, pipeline_id, version_id, experiment_id, cron)


def _upload_version(client, package: str, pipeline_name: str, namespace: str | None) -> tuple[str, str]:
    """Upload ``package`` as a new version of the named pipeline (created when absent)."""
    version_name = f"{pipeline_name}-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"
    pipeline_id = client.get_pipeline_id(pipeline_name)
    if pipeline_id is None:
        pipeline_id = client.upload_pipeline(package, pipeline_name=pipeline_name, namespace=namespace).pipeline_id
        versions = client.list_pipeline_versions(pipeline_id, page_size=1, sort_by="created_at desc").pipeline_versions
        return pipeline_id, versions[0].pipeline_version_id
    version = client.upload_pipeline_version(package, pipeline_version_name=version_name, pipeline_id=pipeline_id)
    return pipeline_id, version.pipeline_version_id


@contextlib.contextmanager
def _kfp_api(host: str):
    """Around kfp.Client calls: its prints go to stderr, its failures become one line naming the server."""
    from kfp_server_api.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    except ApiException as e:
        body = (e.body or "").strip() if isinstance(e.body, str) else e.body
        raise PipelineRunError(f"{host}: KFP API answered {e.status} {e.reason}: {body}") from None
    except HTTPError as e:
        raise PipelineRunError(f"{host}: cannot reach the KFP API server: {e}") from None
