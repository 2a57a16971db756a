"""What a prediction type supplies to the generic engines: one :class:`Task`, made of five parts.

Ultralytics' ``task_map`` in the small: the data engine asks ``annotations``, model loading and export
``networks()``, the training engine ``training()``, evaluation ``evaluator()`` and batch prediction
``prediction()``. Everything else (datasets, import, splits, the clip cache, budgets, checkpoints and
resume, prediction rows, shards and output files, the registry) is shared. The parts other than
``annotations`` load TensorFlow, so a task builds them on first use.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import keras
    import numpy as np

    from automl_video.data.dataset import Dataset, Split
    from automl_video.evaluation import TaskEvaluation
    from automl_video.modeling.loading import TrainedModel
    from automl_video.modeling.metadata import Calibration, InputSpec, ModelType
    from automl_video.prediction.clips import ClipSpan
    from automl_video.synth import SynthOptions
    from automl_video.training.clip_cache import ClipExample, ClipStore
    from automl_video.video import VideoReader


@dataclass(frozen=True)
class ParsedRow:
    """A second-level import row: the video as the row names it, and its annotation.

    ``annotation`` None: the row names a video and no annotation (object tracking's "not yet labelled"
    ``VIDEO_URI,,,,,,,,,,,``); the video is imported with no annotation from this row.
    """

    video_uri: str
    annotation: Any | None


class AnnotationRules(ABC):
    """How a task's annotations are imported, checked and stored (no TensorFlow here)."""

    csv_columns: ClassVar[str]  # the task's CSV columns (AutoML second level; Vertex after ML_USE)
    noun: ClassVar[str]  # what a person calls the annotations ("segments")
    # Whether annotations name frames (:meth:`snap_to_frame` needs each video's frame rate, so the
    # importer probes it even for a video already in the dataset).
    uses_frame_rate: ClassVar[bool] = False

    @abstractmethod
    def parse_csv_row(self, fields: list[str], source_uri: str, source_row: int) -> ParsedRow:
        """Parse one second-level CSV row; ValueError says what is wrong with it."""

    @abstractmethod
    def parse_jsonl_item(self, item: dict[str, Any], source_uri: str, source_row: int) -> list[Any]:
        """The annotations of one Vertex JSONL line (the engine reads its ``videoGcsUri`` and ML_USE);
        ValueError says what is wrong with the line. An empty list imports the video with no annotation
        from this line (a video not yet labelled)."""

    @abstractmethod
    def fit_to_video(self, annotation: Any, video_uri: str, duration: float) -> Any:
        """The annotation checked against its video's duration; ValueError says why it does not fit."""

    @abstractmethod
    def time_span(self, annotation: Any) -> tuple[float, float]:
        """The time ``(start, end)`` a training clip of the annotation covers; the split holds
        VALIDATION stretches out along these spans."""

    @abstractmethod
    def clip_seconds(self, annotations: Sequence[Any]) -> float:
        """How long one training clip is in a dataset with these annotations: the gap the split leaves
        on each side of a held-out VALIDATION stretch."""

    def snap_to_frame(self, annotation: Any, frame_rate: float, duration: float) -> Any:
        """The annotation moved onto its video's frames (only called when :attr:`uses_frame_rate`)."""
        return annotation

    def conflicts(self, existing: Sequence[Any], new: Sequence[Any]) -> dict[int, str]:
        """Why some of a video's ``new`` annotations are refused beside the others (index → reason)."""
        return {}

    @abstractmethod
    def from_json(self, doc: dict[str, Any]) -> Any:
        """An annotation as ``dataset.json`` stores it (``dataclasses.asdict``)."""

    def to_csv_row(self, annotation: Any) -> list[str]:
        """The fields after ``VIDEO_URI`` of the second-level CSV row that imports ``annotation`` again
        exactly (AutoML ``ExportData``). A task without it cannot export its datasets as CSV."""
        raise ValueError(f"exporting {self.noun} as AutoML CSV rows is not supported yet")


class Networks(ABC):
    """The task's networks: uint8 clips ``[B, T, H, W, 3]`` in, one float32 score per label out."""

    @abstractmethod
    def default_input_spec(self, model_type: "ModelType") -> "InputSpec":
        """The clip shape a model type trains with by default; ValueError for a type the task lacks."""

    @abstractmethod
    def build(self, model_type: "ModelType", num_labels: int, spec: "InputSpec") -> "keras.Model":
        """The untrained network; its output layer is named ``modeling.loading.OUTPUT_LAYER``."""

    def export_postprocessing(self) -> dict[str, Any] | None:
        """What a consumer of an exported model does with its scores, written into the export's
        ``input_spec.json`` as ``postprocessing`` (default None: the scores are the answer)."""
        return None


class TrainingRecipe(ABC):
    """What the training engine trains on and how it judges an epoch."""

    validation_metric: ClassVar[str]  # key of the VALIDATION score in the history (higher is better)
    validation_metric_title: ClassVar[str]  # how logs name it
    mixup: ClassVar[bool] = True  # whether the default :meth:`batches` mix clips up (for ``MixupTrainer``)

    @abstractmethod
    def batch_size(self, model_type: "ModelType") -> int: ...

    @abstractmethod
    def examples(self, dataset: "Dataset", split: "Split", label_names: list[str], seed: int) -> list["ClipExample"]:
        """The clips of a split to learn from (TRAIN) or to validate on (VALIDATION)."""

    @abstractmethod
    def trainer(self, network: "keras.Model", optimizer: "keras.optimizers.Optimizer") -> "keras.Model":
        """A compiled model whose ``fit`` trains ``network`` on :meth:`batches`."""

    def batches(
        self, store: "ClipStore", examples: list["ClipExample"], batch_size: int, seed: int, epoch: int, min_clips: int
    ) -> tuple[Any, int]:
        """One epoch's ``tf.data`` batches (a function of seed and epoch) and how many clips they hold.

        Default: the shared augmented batches (``training.augmentation.training_dataset``) of every
        example's targets, mixed up for a trainer like ``MixupTrainer`` unless :attr:`mixup` is off."""
        from automl_video.training.augmentation import epoch_order, training_dataset

        data = training_dataset(store, examples, batch_size, seed, epoch, min_clips, mixup=self.mixup)
        return data, len(epoch_order(len(examples), min_clips, seed, epoch))

    @abstractmethod
    def validate(self, scores: "np.ndarray", examples: list["ClipExample"]) -> tuple[float, float]:
        """The VALIDATION ``(score, loss)`` of the network's scores of ``examples``."""

    def calibrate(self, network: "keras.Model", validation: Any, examples: list["ClipExample"]) -> "Calibration | None":
        """Fit the scores' calibration on the VALIDATION ``examples`` (``validation``: their clips as
        ``tf.data`` batches) and fold it into ``network``'s output layer (``modeling.calibration``), so
        every consumer of the published weights scores calibrated; returns what was fitted.

        Default None: the network is published as trained."""
        return None


class Evaluator(ABC):
    """How a model of the task is evaluated on a dataset's TEST split."""

    @abstractmethod
    def evaluate(
        self, model: "TrainedModel", dataset: "Dataset", dataset_uri: str, model_uri: str, create_time: str
    ) -> "TaskEvaluation": ...

    @abstractmethod
    def format_summary(self, doc: dict[str, Any]) -> str:
        """The evaluation's headline for a person (``doc``: ``EvaluationResult.to_json()``)."""


class RowPlan(ABC):
    """What one prediction row is made of: the clips its span gives, and what their scores mean."""

    fixed_batch: bool  # score clips in batches of one shape (streams of clips; no TF retracing)

    @abstractmethod
    def clips(self, reader: "VideoReader", start: float, end: float) -> Iterator[tuple["ClipSpan", "np.ndarray"]]:
        """The row's clips, as one decoding thread cuts them from the open video."""

    def compact(self, span: "ClipSpan", output: "np.ndarray") -> Any:
        """What the row keeps of one clip's network output until the row ends (default: all of it); a
        task with large outputs (heatmaps) reduces them here, so a long row's memory stays bounded."""
        return output

    @abstractmethod
    def predictions(self, scored: list[tuple["ClipSpan", Any]]) -> list[Any]:
        """The row's predictions from what :meth:`compact` kept of every clip."""


class PredictionRecipe(ABC):
    """The task's batch prediction: parameters, rows, and the two output formats' payloads."""

    legacy_index_file: ClassVar[str]  # the AutoML output CSV (``video_classification.csv``)

    @abstractmethod
    def parse_params(self, mapping: dict[str, Any]) -> Any:
        """A dataclass of AutoML ``params`` / Vertex ``model_parameters``; ValueError names a bad key."""

    @abstractmethod
    def default_params(self) -> Any: ...

    @abstractmethod
    def rows(self, model: "TrainedModel", params: Any) -> RowPlan: ...

    @abstractmethod
    def prediction_from_json(self, doc: dict[str, Any]) -> Any:
        """A prediction as a row result file stores it (its ``to_json()``)."""

    @abstractmethod
    def annotation_payloads(self, predictions: list[Any]) -> list[dict[str, Any]]:
        """A row's AutoML JSON file: ``AnnotationPayload`` messages in the proto3 JSON mapping."""

    @abstractmethod
    def vertex_predictions(self, predictions: list[Any]) -> list[dict[str, Any]]:
        """A row's Vertex ``prediction`` list."""


class Task(ABC):
    """One prediction type: the model types AutoML offers for it and the parts the engines use."""

    prediction_type: ClassVar[str]
    model_types: ClassVar[tuple["ModelType", ...]]
    annotations: ClassVar[AnnotationRules]

    @abstractmethod
    def networks(self) -> Networks: ...

    @abstractmethod
    def training(self) -> TrainingRecipe: ...

    @abstractmethod
    def evaluator(self) -> Evaluator: ...

    @abstractmethod
    def prediction(self) -> PredictionRecipe: ...

    def export_options(self, model_type: "ModelType") -> dict[str, tuple[str, ...]]:
        """The export formats an exportable model type offers, each with the quantizations it allows
        (default: every format and quantization; a type for one device allows what runs there)."""
        from automl_video.modeling.metadata import ALL_EXPORTS

        return ALL_EXPORTS

    @abstractmethod
    def synthesize(self, output: str, options: "SynthOptions") -> Any:
        """Write a synthetic dataset of the task (videos and import files) under ``output``; the
        result dataclass names the import file as ``import_csv`` (or ``import_jsonl``)."""
