"""The KFP pipelines, ``training`` (import → split → train → evaluate → export/gate/batch prediction)
and ``batch-prediction`` (fan out over shards, then merge), and what compiles, runs and submits them.

Installed as ``automl_video_pipelines``. Its modules:

- :mod:`~automl_video_pipelines.settings`: the cluster settings compiled into the YAML (images, GPU
  node pool, retries, the k8s/ config map and secret), from ``AUTOML_VIDEO_*`` variables;
- :mod:`~automl_video_pipelines.arguments`: the pipelines' parameters, validated before anything runs;
- :mod:`~automl_video_pipelines.resources`, :mod:`~automl_video_pipelines.training`,
  :mod:`~automl_video_pipelines.batch_prediction`: where tasks run, and the DAGs;
- :mod:`~automl_video_pipelines.compiling`, :mod:`~automl_video_pipelines.local`,
  :mod:`~automl_video_pipelines.cluster`: compile, run through ``kfp.local``, submit / schedule.

Importing this package, ``settings`` or ``arguments`` imports no kfp, so the CLI and the SDK can
validate a run before paying for it. The module-level ``training_pipeline`` and
``batch_prediction_pipeline`` are built on first use with the settings of the environment.
"""

from typing import Any

from automl_video.errors import AutoMLVideoError

TRAINING_PIPELINE = "training"
BATCH_PREDICTION_PIPELINE = "batch-prediction"
PIPELINE_NAMES = (TRAINING_PIPELINE, BATCH_PREDICTION_PIPELINE)


class PipelineRunError(AutoMLVideoError):
    """A pipeline run failed or could not be submitted; the message names the task or the request."""


def check_pipeline_name(pipeline: str) -> None:
    if pipeline not in PIPELINE_NAMES:
        raise ValueError(f"unknown pipeline {pipeline!r}; choose one of {', '.join(PIPELINE_NAMES)}")


_MODULE_PIPELINES = {"training_pipeline": TRAINING_PIPELINE, "batch_prediction_pipeline": BATCH_PREDICTION_PIPELINE}


def __getattr__(name: str) -> Any:
    """``training_pipeline`` / ``batch_prediction_pipeline``, built on first use."""
    if name not in _MODULE_PIPELINES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from automl_video_pipelines.compiling import build_pipelines
    from automl_video_pipelines.settings import ClusterSettings

    return build_pipelines(ClusterSettings.from_env())[_MODULE_PIPELINES[name]]
