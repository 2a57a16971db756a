"""Merge stage: the shards of a batch prediction become one output under the predictions prefix."""

from typing import Any

from kfp import dsl
from kfp.dsl import Artifact, Input, Model, Output

from automl_video.images import CPU_IMAGE


@dsl.component(base_image=CPU_IMAGE, packages_to_install=[], install_kfp_package=False)
def merge_predictions(
    model: Input[Model],
    inputs: list[str],
    predictions_prefix: str,
    params: dict[str, Any],
    shards: Input[list[Artifact]],
    predictions: Output[Artifact],
):
    """Write the final output once every shard ran; ``predictions`` records where it went."""
    from automl_video import storage
    from automl_video.prediction.engine import prediction_params
    from automl_video.prediction.shards import merge_prediction_shards
    from automl_video.stage import run_stage

    run = run_stage(
        merge_prediction_shards,
        [s.path for s in shards],
        model.path,
        inputs,
        predictions_prefix,
        prediction_params(model.path, params),
    )
    predictions.metadata.update(run.metadata)
    storage.write_json(predictions.path, predictions.metadata)
