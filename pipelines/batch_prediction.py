"""Batch prediction: plan shards, predict each in parallel (``dsl.ParallelFor``), merge (``dsl.Collected``),
record the job; an exit task records a run that fails."""

from typing import Any

from kfp import dsl
from kfp.dsl import Model

from automl_video_components import (
    batch_predict_shard,
    merge_predictions,
    plan_prediction_shards,
    record_batch_prediction,
)
from automl_video_pipelines import BATCH_PREDICTION_PIPELINE
from automl_video_pipelines.arguments import BatchPredictionArguments
from automl_video_pipelines.recording import failure_recorder, record_step
from automl_video_pipelines.resources import never_cached, on_cpu, on_gpu
from automl_video_pipelines.settings import ClusterSettings

_DEFAULTS = BatchPredictionArguments(model_uri="", inputs=[], predictions_prefix="")


def build_prediction_shards(settings: ClusterSettings):
    """The fan-out/merge/record DAG over a Model artifact, shared by both pipelines.

    Prediction reads videos the inputs list and writes under the predictions prefix, so its tasks
    never cache (a rerun with the same parameters predicts again); the shard plan may.
    """

    @dsl.pipeline(name="automl-video-predict-shards", description="Batch prediction fanned out over shards.")
    def predict_shards(
        model: Model,
        inputs: list[str],
        predictions_prefix: str,
        prediction_params: dict[str, Any],
        shards: int,
        inference: str,
        registry_url: str,
        image: str,
        gpu_image: str,
    ):
        plan = on_cpu(plan_prediction_shards(shard_count=shards), settings, image)
        with dsl.ParallelFor(plan.output, name="shards") as shard_index:
            shard = on_gpu(
                batch_predict_shard(
                    model=model,
                    inputs=inputs,
                    predictions_prefix=predictions_prefix,
                    params=prediction_params,
                    shard_index=shard_index,
                    shard_count=shards,
                    inference=inference,
                ),
                settings,
                gpu_image,
                pure=False,
            )
        merged = on_cpu(
            merge_predictions(
                model=model,
                inputs=inputs,
                predictions_prefix=predictions_prefix,
                params=prediction_params,
                shards=dsl.Collected(shard.outputs["shard"]),
            ),
            settings,
            image,
            pure=False,
        )
        record_step(
            record_batch_prediction,
            settings,
            image,
            model=model,
            predictions=merged.outputs["predictions"],
            inputs=inputs,
            predictions_prefix=predictions_prefix,
            params=prediction_params,
            shards=shards,
            registry_url=registry_url,
        )

    return predict_shards


def build_batch_prediction_pipeline(settings: ClusterSettings, predict_shards):
    """The ``batch-prediction`` pipeline: an existing model (any artifact URI) on new videos.

    The model is imported afresh every run (``reimport``, never cached): ``<serving-root>/current``
    is a stable URI whose content the gate replaces.
    """

    @dsl.pipeline(
        name="automl-video-batch-prediction",
        description="Classify the videos listed by CSV/JSONL inputs with a trained model, sharded over GPU nodes.",
    )
    def batch_prediction_pipeline(
        model_uri: str,
        inputs: list[str],
        predictions_prefix: str,
        prediction_params: dict[str, Any] = _DEFAULTS.prediction_params,
        shards: int = _DEFAULTS.shards,
        inference: str = _DEFAULTS.inference,
        registry_url: str = _DEFAULTS.registry_url,
        image: str = settings.cpu_image,
        gpu_image: str = settings.gpu_image,
    ):
        run_end = failure_recorder(
            settings,
            image,
            pipeline=BATCH_PREDICTION_PIPELINE,
            registry_url=registry_url,
            inputs=inputs,
            predictions_prefix=predictions_prefix,
            model_uri=model_uri,
        )
        with dsl.ExitHandler(run_end, name="record-failures"):
            model = never_cached(dsl.importer(artifact_uri=model_uri, artifact_class=Model, reimport=True))
            never_cached(
                predict_shards(
                    model=model.output,
                    inputs=inputs,
                    predictions_prefix=predictions_prefix,
                    prediction_params=prediction_params,
                    shards=shards,
                    inference=inference,
                    registry_url=registry_url,
                    image=image,
                    gpu_image=gpu_image,
                )
            )

    return batch_prediction_pipeline
