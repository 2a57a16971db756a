"""The KFP pipelines: ``training`` (import → split → train → evaluate → export/gate/batch prediction)
and ``batch-prediction`` (fan out over shards, then merge).

Pipelines are built for a :class:`automl_video.pipeline_runner.ClusterSettings` (images, GPU node
pool, retries) by :func:`build`; the module-level ``training_pipeline`` and
``batch_prediction_pipeline`` use the settings of the environment (``AUTOML_VIDEO_*`` variables).
"""

from typing import Any

from automl_video.pipeline_runner import BATCH_PREDICTION_PIPELINE, TRAINING_PIPELINE, ClusterSettings
from pipelines.batch_prediction import build_batch_prediction_pipeline, build_prediction_shards
from pipelines.training import build_training_pipeline


def build(settings: ClusterSettings) -> dict[str, Any]:
    """Every pipeline function by name (``training``, ``batch-prediction``), compiled for ``settings``."""
    prediction_shards = build_prediction_shards(settings)
    return {
        TRAINING_PIPELINE: build_training_pipeline(settings, prediction_shards),
        BATCH_PREDICTION_PIPELINE: build_batch_prediction_pipeline(settings, prediction_shards),
    }


_MODULE_PIPELINES = {"training_pipeline": TRAINING_PIPELINE, "batch_prediction_pipeline": BATCH_PREDICTION_PIPELINE}


def __getattr__(name: str) -> Any:
    """``pipelines.training_pipeline`` / ``batch_prediction_pipeline``, built on first use."""
    if name not in _MODULE_PIPELINES:
        raise AttributeError(f"module 'pipelines' has no attribute {name!r}")
    return build(ClusterSettings.from_env())[_MODULE_PIPELINES[name]]
