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
from automl_video.dataset import AnnotationSpec, utc_now

METADATA_FILE = "model.json"
PREDICTION_TYPES = ("classification", "object_tracking", "action_recognition")
IMPLEMENTED_PREDICTION_TYPES = ("classification",)


class ModelType(str, enum.Enum):
    CLOUD = "CLOUD"
    MOBILE_VERSATILE_1 = "MOBILE_VERSATILE_1"
    MOBILE_CORAL_VERSATILE_1 = "MOBILE_CORAL_VERSATILE_1"
    MOBILE_CORAL_LOW_LATENCY_1 = "MOBILE_CORAL_LOW_LATENCY_1"
    MOBILE_JETSON_VERSATILE_1 = "MOBILE_JETSON_VERSATILE_1"
    MOBILE_JETSON_LOW_LATENCY_1 = "MOBILE_JETSON_LOW_LATENCY_1"

    @property
    def exportable(self) -> bool:
        return self is not ModelType.CLOUD


# Which model types AutoML offers for each prediction type (vertex-AutoMLVideoTrainingJob reference).
MODEL_TYPES_BY_PREDICTION_TYPE: dict[str, tuple[ModelType, ...]] = {
    "classification": (ModelType.CLOUD, ModelType.MOBILE_VERSATILE_1),
    "action_recognition": (ModelType.CLOUD, ModelType.MOBILE_VERSATILE_1),
    "object_tracking": tuple(ModelType),
}


def parse_model_type(model_type: str, prediction_type: str = "classification") -> ModelType:
    """Validate a model type for a prediction type; ValueError says what is allowed instead."""
    if prediction_type not in PREDICTION_TYPES:
        raise ValueError(f"prediction_type {prediction_type!r} is not one of {', '.join(PREDICTION_TYPES)}")
    try:
        parsed = ModelType(model_type)
    except ValueError:
        raise ValueError(
            f"model_type {model_type!r} is not one of {', '.join(t.value for t in ModelType)}"
        ) from None
    allowed = MODEL_TYPES_BY_PREDICTION_TYPE[prediction_type]
    if parsed not in allowed:
        raise ValueError(
            f"model_type {parsed.value} is not available for prediction_type {prediction_type!r} "
            f"(it is for object_tracking only); use one of {', '.join(t.value for t in allowed)}"
        )
    if prediction_type not in IMPLEMENTED_PREDICTION_TYPES:
        raise ValueError(f"prediction_type {prediction_type!r} is not yet supported by automl-video")
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
class ModelMetadata:
    model_type: str
    annotation_specs: list[AnnotationSpec]
    input_spec: InputSpec
    display_name: str = ""
    prediction_type: str = "classification"
    create_time: str = field(default_factory=utc_now)
    dataset_uri: str = ""
    training: dict[str, Any] = field(default_factory=dict)

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
        return cls(**doc)


def save_metadata(metadata: ModelMetadata, model_uri: str) -> None:
    storage.write_json(storage.join(model_uri, METADATA_FILE), metadata.to_json())


def load_metadata(model_uri: str) -> ModelMetadata:
    path = storage.join(model_uri, METADATA_FILE)
    if not storage.exists(path):
        raise FileNotFoundError(f"{model_uri}: no trained model here (missing {METADATA_FILE})")
    return ModelMetadata.from_json(storage.read_json(path))
