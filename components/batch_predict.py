"""Batch prediction stage: the shard plan and one shard of a fanned-out batch prediction."""

from typing import Any

from kfp import dsl
from kfp.dsl import Artifact, Input, Model, Output

from automl_video.images import CPU_IMAGE, GPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, packages_to_install=[], install_kfp_package=False)
def plan_prediction_shards(shard_count: int) -> list[int]:
    """The shard numbers ``dsl.ParallelFor`` fans out over."""
    from automl_video.prediction.shards import shard_indices

    return shard_indices(shard_count)


@dsl.component(base_image=GPU_IMAGE, packages_to_install=[], install_kfp_package=False)
def batch_predict_shard(
    model: Input[Model],
    inputs: list[str],
    predictions_prefix: str,
    params: dict[str, Any],
    shard_index: int,
    shard_count: int,
    inference: str,
    shard: Output[Artifact],
):
    """Predict the rows of shard ``shard_index``/``shard_count`` scoring clips with ``inference``
    (``auto``: LiteRT where it agrees with Keras, Keras on a GPU); row results go to the prefix's work folder."""
    from automl_video import storage
    from automl_video.prediction.engine import batch_predict, prediction_params
    from automl_video.stage import run_stage

    run = run_stage(
        batch_predict,
        model.path,
        inputs,
        predictions_prefix,
        prediction_params(model.path, params),
        shard=(shard_index, shard_count),
        inference=inference,
    )
    shard.metadata.update(run.metadata)
    storage.write_json(shard.path, shard.metadata)
