"""Build the pipeline functions for a :class:`ClusterSettings` and compile them to YAML."""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any

from kfp import compiler

from automl_video import storage
from automl_video_pipelines import BATCH_PREDICTION_PIPELINE, TRAINING_PIPELINE, check_pipeline_name
from automl_video_pipelines.batch_prediction import build_batch_prediction_pipeline, build_prediction_shards
from automl_video_pipelines.settings import ClusterSettings
from automl_video_pipelines.training import build_training_pipeline


def build_pipelines(settings: ClusterSettings) -> dict[str, Any]:
    """Every pipeline function by name (``training``, ``batch-prediction``), compiled for ``settings``."""
    prediction_shards = build_prediction_shards(settings)
    return {
        TRAINING_PIPELINE: build_training_pipeline(settings, prediction_shards),
        BATCH_PREDICTION_PIPELINE: build_batch_prediction_pipeline(settings, prediction_shards),
    }


def compile_pipelines(output_uri: str, settings: ClusterSettings | None = None) -> dict[str, str]:
    """Compile every pipeline to ``<output_uri>/<name>.yaml``.

    Returns:
        The URI of each pipeline's YAML by pipeline name.
    """
    written = {}
    with tempfile.TemporaryDirectory(prefix="automl-video-compile-") as tmp:
        for name, pipeline in build_pipelines(settings or ClusterSettings.from_env()).items():
            local = os.path.join(tmp, f"{name}.yaml")
            compiler.Compiler().compile(pipeline, local)
            target = storage.join(output_uri, f"{name}.yaml")
            with open(local, "rb") as f:
                storage.write_bytes(target, f.read())
            written[name] = target
    return written


@contextlib.contextmanager
def compiled_package(pipeline: str, settings: ClusterSettings | None) -> Iterator[str]:
    """A local YAML of one pipeline, for kfp.Client uploads."""
    check_pipeline_name(pipeline)
    with tempfile.TemporaryDirectory(prefix="automl-video-compile-") as tmp:
        yield compile_pipelines(tmp, settings)[pipeline]
