"""A batch prediction fanned out over shards: the shard plan, and the merge once every shard ran.

The prediction modules load inside :func:`merge_prediction_shards`, so the plan task (and the
pipeline arguments, which check the shard count) import nothing heavy.
"""

from typing import TYPE_CHECKING

from automl_video import storage

if TYPE_CHECKING:
    from automl_video.prediction.engine import PredictionResult


def shard_indices(shard_count: int) -> list[int]:
    """The shard numbers a batch prediction fans out over."""
    if shard_count < 1:
        raise ValueError(f"shard count must be at least 1, got {shard_count}")
    return list(range(shard_count))


def merge_prediction_shards(
    shard_records: list[str], model_uri: str, inputs: list[str], predictions_prefix: str, params: object
) -> "PredictionResult":
    """The final output of a fanned-out batch prediction.

    Args:
        shard_records: the JSON record each shard task wrote (its :class:`PredictionResult` and the
            task's work times).
        model_uri, inputs, predictions_prefix, params: what every shard ran with (``params``: the model's
            task's parsed parameters, :func:`automl_video.prediction.engine.prediction_params`).

    Returns:
        The merged result; with one shard, that shard's own (it already wrote the final output).
    """
    from automl_video.prediction.engine import PredictionResult, merge_shards

    shards = [PredictionResult.from_json(storage.read_json(uri)) for uri in shard_records]
    finished = [shard for shard in shards if shard.complete]
    if finished:
        return finished[0]
    return merge_shards(model_uri, inputs, predictions_prefix, params)
