"""What a trained model is, independent of TensorFlow: its type, labels, input spec and history.

``model.json`` in the model folder holds a :class:`ModelMetadata`; every later stage (evaluate, export,
predict, the registry) reads it before touching weights.
"""

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from automl_video import storage
from automl_video.data.dataset import AnnotationSpec
from automl_video.tasks import DEFAULT_PREDICTION_TYPE, get_task
from automl_video.times import rfc3339_now

METADATA_FILE = "model.json"
# What an exportable model exports as (AutoML ``ModelExportOutputConfig.model_format``).
EXPORT_FORMATS = ("tf-saved-model", "tflite")
# TFLite weights and activations: float32, int8 weights (dynamic range), or int8 throughout.
QUANTIZATIONS = ("none", "dynamic", "int8")
# Every export a model type may offer: format → its quantizations (a SavedModel is float32).
ALL_EXPORTS: dict[str, tuple[str, ...]] = {"tf-saved-model": ("none",), "tflite": QUANTIZATIONS}
# How prediction scores clips (automl_video.modeling.inference): auto picks per model.
INFERENCE_BACKENDS = ("auto", "keras", "litert-float", "litert-dynamic")


class ModelType(enum.StrEnum):
    CLOUD = "CLOUD"
    MOBILE_VERSATILE_1 = "MOBILE_VERSATILE_1"
    MOBILE_CORAL_VERSATILE_1 = "MOBILE_CORAL_VERSATILE_1"
    MOBILE_CORAL_LOW_LATENCY_1 = "MOBILE_CORAL_LOW_LATENCY_1"
    MOBILE_JETSON_VERSATILE_1 = "MOBILE_JETSON_VERSATILE_1"
    MOBILE_JETSON_LOW_LATENCY_1 = "MOBILE_JETSON_LOW_LATENCY_1"

    @property
    def exportable(self) -> bool:
        return self is not ModelType.CLOUD

    @property
    def edge_device(self) -> bool:
        """A Coral (Edge TPU) or Jetson profile: AutoML offers these for object tracking only."""
        return self.value.startswith(("MOBILE_CORAL", "MOBILE_JETSON"))


def unavailable_model_type(model_type: ModelType, prediction_type: str, allowed: tuple[ModelType, ...]) -> str:
    """Why ``model_type`` cannot be used for ``prediction_type``, and what to use instead."""
    hint = " (it is for object_tracking only)" if model_type.edge_device else ""
    return (
        f"model_type {model_type.value} is not available for prediction_type {prediction_type!r}{hint}; "
        f"use one of {', '.join(t.value for t in allowed)}"
    )


def parse_model_type(model_type: str, prediction_type: str = DEFAULT_PREDICTION_TYPE) -> ModelType:
    """Validate a model type for a prediction type; ValueError says what is allowed instead."""
    task = get_task(prediction_type)
    try:
        parsed = ModelType(model_type)
    except ValueError:
        raise ValueError(f"model_type {model_type!r} is not one of {', '.join(t.value for t in ModelType)}") from None
    if parsed not in task.model_types:
        raise ValueError(unavailable_model_type(parsed, prediction_type, task.model_types))
    return parsed


@dataclass
class InputSpec:
    """How a time segment becomes the model's input tensor ``[T, H, W, 3]`` uint8.

    ``sampling`` is ``uniform``: T frames at the centres of T equal sub-spans of the segment.
    ``clips_per_segment`` > 1 averages scores over that many clips (CLOUD's multi-clip inference).
    """

    num_frames: int
    height: int
    width: int
    sampling: str = "uniform"
    clips_per_segment: int = 1

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.num_frames, self.height, self.width, 3)

    def segment_sampling(self) -> "InputSpec":
        """The ``N·T`` centre-sampled frames a segment's N clips are cut from (N = ``clips_per_segment``).

        Clip k takes every N-th frame from frame k: the T-frame centre sampling shifted by ``k/N`` of a
        sub-span, so the N clips come from one pass over the segment (for N = 1, plain centre sampling).
        """
        count = max(1, self.clips_per_segment)
        return InputSpec(self.num_frames * count, self.height, self.width, self.sampling)

    def segment_clips(self, frames: np.ndarray) -> np.ndarray:
        """Cut the frames of :meth:`segment_sampling` into the segment's clips ``[N, T, H, W, 3]``."""
        count = max(1, self.clips_per_segment)
        return np.stack([frames[k::count] for k in range(count)])


@dataclass
class ClipFailure:
    """A span that could not be decoded: left out of training and reported."""

    video_uri: str
    start: float
    end: float
    reason: str


@dataclass
class EpochRecord:
    """One epoch of the training history (``complete`` is False when the budget cut it short).

    ``validation_score`` is the task's VALIDATION score (AU-PRC for classification), higher is better.
    """

    epoch: int
    loss: float
    validation_score: float
    validation_loss: float
    learning_rate: float
    clips_per_second: float
    seconds: float
    complete: bool = True

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "EpochRecord":
        return cls(**renamed_keys(doc, {"val_au_prc": "validation_score", "val_loss": "validation_loss"}))


@dataclass
class TrainingSummary:
    """The ``training`` section of ``model.json``: how the model was trained and how it went."""

    history: list[EpochRecord]
    epochs: int
    best_epoch: int
    best_validation_score: float
    stop_reason: str  # early_stopping | budget | max_epochs
    elapsed_seconds: float
    budget_minutes: float
    seed: int
    batch_size: int
    replicas: int
    init_weights: str
    train_examples: int
    validation_examples: int
    failed_clips: int
    failures: list[ClipFailure] = field(default_factory=list)  # the first ones
    validation_metric: str = "au_prc"  # what ``validation_score`` measures

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "TrainingSummary":
        doc = renamed_keys(doc, {"best_val_au_prc": "best_validation_score"})
        doc["history"] = [EpochRecord.from_json(r) for r in doc.get("history", [])]
        doc["failures"] = [ClipFailure(**f) for f in doc.get("failures", [])]
        return cls(**doc)


@dataclass(frozen=True)
class LabelCalibration:
    """How training calibrated one label's score on VALIDATION, and how that label does there.

    The label's output logit ``z`` became ``scale·z + offset`` (folded into the output layer's weights,
    so every consumer of the published weights scores calibrated). F1 counts the VALIDATION examples
    at or above a threshold as predicted positives.
    """

    scale: float
    offset: float
    validation_positives: int
    f1_before: float  # VALIDATION F1 at 0.5 with the trained scores
    f1_after: float  # ... and with the calibrated ones
    # The threshold that maximises VALIDATION F1 after calibration (and that F1); None when VALIDATION
    # has no positive of the label, so no threshold finds one.
    best_threshold: float | None
    best_f1: float


@dataclass(frozen=True)
class Calibration:
    """The ``calibration`` section of ``model.json``: the scores' calibration on VALIDATION.

    ``method``: ``platt-f1`` (a scale and offset per sigmoid label: Platt's scale, the offset that puts
    the label's best VALIDATION-F1 threshold at 0.5) or ``temperature`` (one ``1/T`` scale on
    every logit of a softmax, background included: each label's ``scale``). F1 here is micro-averaged
    over every (example, label) pair; ``best_f1`` with each label at its ``best_threshold``.
    """

    method: str
    validation_examples: int
    labels: tuple[LabelCalibration, ...]
    f1_before: float
    f1_after: float
    best_f1: float

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "Calibration":
        return cls(**{**doc, "labels": tuple(LabelCalibration(**label) for label in doc["labels"])})


def renamed_keys(doc: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    """``doc`` with the keys written before version 0.2 (classification-only names) renamed."""
    return {renames.get(key, key): value for key, value in doc.items()}


@dataclass
class ModelMetadata:
    model_type: str
    annotation_specs: list[AnnotationSpec]
    input_spec: InputSpec
    display_name: str = ""
    prediction_type: str = DEFAULT_PREDICTION_TYPE
    create_time: str = field(default_factory=rfc3339_now)
    dataset_uri: str = ""
    training: TrainingSummary | None = None
    calibration: Calibration | None = None  # None: the scores are as trained (older models, object tracking)

    @property
    def label_names(self) -> list[str]:
        return [s.display_name for s in self.annotation_specs]

    @property
    def type(self) -> ModelType:
        return ModelType(self.model_type)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "ModelMetadata":
        doc = dict(doc)
        doc["annotation_specs"] = [AnnotationSpec(**s) for s in doc["annotation_specs"]]
        doc["input_spec"] = InputSpec(**doc["input_spec"])
        doc["training"] = TrainingSummary.from_json(doc["training"]) if doc.get("training") else None
        doc["calibration"] = Calibration.from_json(doc["calibration"]) if doc.get("calibration") else None
        return cls(**doc)


def save_metadata(metadata: ModelMetadata, model_uri: str) -> None:
    storage.write_json(storage.join(model_uri, METADATA_FILE), metadata.to_json())


def load_metadata(model_uri: str) -> ModelMetadata:
    path = storage.join(model_uri, METADATA_FILE)
    if not storage.exists(path):
        raise FileNotFoundError(f"{model_uri}: no trained model here (missing {METADATA_FILE})")
    return ModelMetadata.from_json(storage.read_json(path))
