"""The parameters of each pipeline, validated here so that a bad value fails before anything runs (no kfp)."""

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from automl_video.modeling.metadata import EXPORT_FORMATS, INFERENCE_BACKENDS, parse_model_type
from automl_video.prediction.shards import shard_indices
from automl_video.stage import fraction_parameters
from automl_video.tasks import DEFAULT_PREDICTION_TYPE


@dataclass
class TrainingArguments:
    """Parameters of the training pipeline; mirror ``AutoMLVideoTrainingJob`` and its ``run``.

    Fractions left None give AutoML's default split (80% TRAIN, 20% TEST). Batch prediction runs
    after training when ``predictions_prefix`` is set; the gate promotes when ``serving_root`` is set.
    The run is recorded in ``registry_url`` (default: the cluster's, else the local one; ``off``: not
    recorded, :mod:`automl_video.records`).
    """

    sources: list[str]
    model_type: str = "CLOUD"
    prediction_type: str = DEFAULT_PREDICTION_TYPE
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
    prediction_inference: str = "auto"
    registry_url: str = ""

    def parameters(self) -> dict[str, Any]:
        """The pipeline parameters, validated here so a bad value fails before anything runs."""
        from automl_video.data.splits import validate_fractions
        from automl_video.registry.labels import validate_labels

        if not self.sources:
            raise ValueError("no import source given: pass at least one CSV URI, glob or prefix/")
        parse_model_type(self.model_type, self.prediction_type)
        validate_fractions(self.training_fraction_split, self.test_fraction_split)
        if self.export_format not in EXPORT_FORMATS:
            raise ValueError(f"export format {self.export_format!r} is not one of {', '.join(EXPORT_FORMATS)}")
        if self.budget_minutes <= 0:
            raise ValueError(f"budget must be more than 0 minutes, got {self.budget_minutes}")
        if self.predictions_prefix and not self.prediction_inputs:
            raise ValueError("batch prediction asked (predictions prefix given) but no prediction input")
        shard_indices(self.prediction_shards)
        checked_inference(self.prediction_inference)
        validate_labels(self.model_labels)
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
    inference: str = "auto"
    registry_url: str = ""

    def parameters(self) -> dict[str, Any]:
        if not self.inputs:
            raise ValueError("no prediction input given: pass at least one CSV or JSONL file")
        if not self.predictions_prefix:
            raise ValueError("no predictions prefix given: say where the predictions go")
        shard_indices(self.shards)
        checked_inference(self.inference)
        return dataclasses.asdict(self)


def checked_inference(inference: str) -> str:
    """A batch prediction's inference backend (:mod:`automl_video.modeling.inference`), or ValueError."""
    if inference not in INFERENCE_BACKENDS:
        raise ValueError(f"inference {inference!r} is not one of {', '.join(INFERENCE_BACKENDS)}")
    return inference
