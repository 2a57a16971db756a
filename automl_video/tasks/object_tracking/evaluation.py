"""Object tracking evaluation: the labelled TEST frames detected and tracked, box metrics and track quality.

Each TEST video's labelled frames are read in one streaming decode, scored, reduced to boxes and
linked into tracks in time order exactly as batch prediction does (:mod:`.prediction`, every
parameter at its default but the frame times, which are the labelled ones), so the numbers describe
the boxes a user gets. Written beside AutoML's ``ModelEvaluation`` documents (overall and per label,
``videoObjectTrackingEvaluationMetrics``, :mod:`.metrics`):

- ``track_metrics.json``: mean box IoU along each true instance, ID switches and the mismatch rate
  (``VideoObjectTrackingEvaluationMetrics`` has no field for them);
- ``report.html`` with sample TEST frames, true boxes beside predicted ones;
- ``predictions.jsonl``: every evaluated frame's true and predicted boxes.
"""

import dataclasses
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl_video.data.dataset import AnnotationSpec, Dataset, DatasetError, Split
from automl_video.evaluation import SpecMetrics, TaskEvaluation
from automl_video.modeling.loading import TrainedModel
from automl_video.prediction.engine import CLIP_BATCH_SIZE
from automl_video.progress import Progress
from automl_video.report import ReportContext
from automl_video.tasks.base import Evaluator
from automl_video.tasks.object_tracking.boxes import Detections
from automl_video.tasks.object_tracking.examples import FrameExample, frame_examples
from automl_video.tasks.object_tracking.metrics import (
    HEADLINE_IOU,
    SUMMARY_CONFIDENCE,
    EvaluatedFrame,
    EvaluationMetrics,
    TrackMetrics,
    box_metrics,
    track_metrics,
)
from automl_video.tasks.object_tracking.prediction import PredictionParams, TrackingRows, frame_clips, link_tracks
from automl_video.tasks.object_tracking.report import SampleFrame, render_report
from automl_video.video import VideoReader

log = logging.getLogger(__name__)

METRICS_FIELD = "videoObjectTrackingEvaluationMetrics"
TRACK_METRICS_FILE = "track_metrics.json"
REPORT_SAMPLE_FRAMES = 8


@dataclass
class LabelSummary:
    annotation_spec_id: str
    display_name: str
    bounding_box_count: int
    box_map_50: float
    precision: float
    recall: float


@dataclass
class TrackingSummary:
    """The headline numbers: box mAP at IoU 0.5 and over the IoU grid, precision and recall at IoU 0.5
    and confidence 0.5, track quality, and the per-label numbers."""

    box_map_50: float
    box_map: float
    evaluated_frame_count: int
    evaluated_bounding_box_count: int
    precision: float
    recall: float
    mean_track_iou: float
    id_switches: int
    id_switches_per_track: float
    mismatch_rate: float
    labels: list[LabelSummary]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class TrackingEvaluator(Evaluator):
    def evaluate(
        self, model: TrainedModel, dataset: Dataset, dataset_uri: str, model_uri: str, create_time: str
    ) -> TaskEvaluation:
        specs = model.metadata.annotation_specs
        examples = frame_examples(dataset, Split.TEST, [s.display_name for s in specs], dataset_uri)
        if not examples:
            raise DatasetError(
                f"{dataset_uri}: the TEST split has no labelled frames to evaluate; run 'automl-video dataset split' "
                "or import rows with ML_USE TEST"
            )
        frames, samples = track_test_frames(model, examples)
        metrics = box_metrics(frames, len(specs))
        tracks = track_metrics(frames)
        summary = _summary(metrics, tracks, specs)
        return TaskEvaluation(
            metrics_field=METRICS_FIELD,
            evaluations=[SpecMetrics(None, len(frames), metrics.overall.to_proto_json())]
            + [SpecMetrics(spec, len(frames), m.to_proto_json()) for spec, m in zip(specs, metrics.per_label)],
            scalars=_scalars(summary),
            score=summary.box_map_50,
            score_name="box mAP@0.5",
            report_html=render_report(
                summary,
                metrics,
                samples,
                specs,
                ReportContext(model_uri, dataset_uri, model.metadata.model_type, create_time),
            ),
            predictions=[_prediction_row(f, specs) for f in frames],
            summary=summary,
            files={TRACK_METRICS_FILE: tracks.to_json([s.display_name for s in specs])},
        )

    def format_summary(self, doc: dict[str, Any]) -> str:
        """Box mAP, track quality, and a per-label table."""
        width = max([len("label")] + [len(label["display_name"]) for label in doc["labels"]])
        lines = [
            f"Evaluated {doc['evaluated_frame_count']} TEST frames with {doc['evaluated_bounding_box_count']} boxes",
            f"box mAP@0.5 {doc['box_map_50']:.4f}, mAP over IoU 0.05-0.99 {doc['box_map']:.4f}; at IoU 0.5 and "
            f"confidence 0.5: precision {doc['precision']:.3f}, recall {doc['recall']:.3f}",
            f"tracks: mean box IoU {doc['mean_track_iou']:.3f}, {doc['id_switches']} ID switches "
            f"({doc['id_switches_per_track']:.3f} per track, mismatch rate {doc['mismatch_rate']:.4f})",
            "",
            f"{'label':<{width}}  {'boxes':>6}  {'mAP@.5':>7}  {'prec':>6}  {'rec':>6}",
        ]
        for label in doc["labels"]:
            lines.append(
                f"{label['display_name']:<{width}}  {label['bounding_box_count']:>6}  {label['box_map_50']:>7.4f}  "
                f"{label['precision']:>6.3f}  {label['recall']:>6.3f}"
            )
        return "\n".join(lines)


def track_test_frames(
    model: TrainedModel, examples: list[FrameExample]
) -> tuple[list[EvaluatedFrame], list[SampleFrame]]:
    """Every example's true and tracked boxes, and the pixels of a few frames spread over them."""
    plan = TrackingRows(model, PredictionParams())
    by_video: dict[str, list[FrameExample]] = defaultdict(list)
    for example in examples:
        by_video[example.video_uri].append(example)
    chosen = {round(i) for i in np.linspace(0, len(examples) - 1, min(REPORT_SAMPLE_FRAMES, len(examples)))}
    sample_keys = {(examples[i].video_uri, examples[i].time) for i in chosen}
    frames: list[EvaluatedFrame] = []
    samples: list[SampleFrame] = []
    progress = Progress("evaluate", total=len(examples), unit="frames")
    for video_uri, video_examples in by_video.items():
        video_examples.sort(key=lambda e: e.time)
        times = [e.time for e in video_examples]
        detections: list[tuple[float, Detections]] = []
        pixels: dict[float, np.ndarray] = {}
        with VideoReader(video_uri) as reader:
            end = min(reader.info.duration, times[-1] + 1.0)
            batch: list[tuple[float, np.ndarray]] = []
            for span, clip in frame_clips(reader, times, model, times[0], end):
                batch.append((span.start, clip))
                if (video_uri, span.start) in sample_keys:
                    pixels[span.start] = clip[0]
                if len(batch) == CLIP_BATCH_SIZE:
                    detections += _detect(model, plan, batch)
                    progress.update(len(batch))
                    batch = []
            detections += _detect(model, plan, batch)
            progress.update(len(batch))
        tracked = dict(link_tracks(detections))
        for example in video_examples:
            boxes = tracked.get(example.time, [])
            predicted = Detections(
                np.array([b.corners for b in boxes], np.float32).reshape(-1, 4),
                np.array([b.label for b in boxes], np.int64),
                np.array([b.score for b in boxes], np.float32),
            )
            frame = EvaluatedFrame(
                video_uri,
                example.time,
                Detections.from_targets(example.targets),
                example.instance_ids,
                predicted,
                np.array([b.track_id for b in boxes], np.int64),
            )
            frames.append(frame)
            if example.time in pixels:
                samples.append(SampleFrame(frame, pixels[example.time]))
    progress.finish()
    return frames, samples


def _detect(model: TrainedModel, plan: TrackingRows, batch: list[tuple[float, np.ndarray]]) -> list:
    if not batch:
        return []
    outputs = model.predict_clips(np.stack([clip for _, clip in batch]), batch_size=CLIP_BATCH_SIZE)
    return [(time, plan.compact(None, output)) for (time, _), output in zip(batch, outputs)]


def _summary(metrics: EvaluationMetrics, tracks: TrackMetrics, specs: list[AnnotationSpec]) -> TrackingSummary:
    headline = metrics.overall.at_iou(HEADLINE_IOU)
    at_confidence = headline.at_confidence(SUMMARY_CONFIDENCE)
    labels = []
    for spec, label_metrics in zip(specs, metrics.per_label):
        entry = label_metrics.at_iou(HEADLINE_IOU)
        point = entry.at_confidence(SUMMARY_CONFIDENCE)
        labels.append(
            LabelSummary(
                spec.id,
                spec.display_name,
                label_metrics.evaluated_bounding_box_count,
                entry.mean_average_precision,
                point.precision,
                point.recall,
            )
        )
    return TrackingSummary(
        box_map_50=headline.mean_average_precision,
        box_map=metrics.overall.mean_average_precision,
        evaluated_frame_count=metrics.overall.evaluated_frame_count,
        evaluated_bounding_box_count=metrics.overall.evaluated_bounding_box_count,
        precision=at_confidence.precision,
        recall=at_confidence.recall,
        mean_track_iou=tracks.mean_track_iou,
        id_switches=tracks.id_switches,
        id_switches_per_track=tracks.id_switches_per_track,
        mismatch_rate=tracks.mismatch_rate,
        labels=labels,
    )


def _scalars(summary: TrackingSummary) -> dict[str, float]:
    """Flat ``name → number`` scalars for KFP ``Metrics.log_metric``."""
    scalars = {k: v for k, v in summary.to_json().items() if k != "labels"}
    for label in summary.labels:
        scalars[f"box_map_50/{label.display_name}"] = label.box_map_50
    return scalars


def _boxes_json(detections: Detections, specs: list[AnnotationSpec], ids: np.ndarray, id_name: str) -> list[dict]:
    return [
        {
            "label": specs[int(label)].display_name,
            "box": [round(float(c), 6) for c in corners],
            "score": round(float(score), 6),
            id_name: int(identifier),
        }
        for corners, label, score, identifier in zip(detections.corners, detections.labels, detections.scores, ids)
    ]


def _prediction_row(frame: EvaluatedFrame, specs: list[AnnotationSpec]) -> dict[str, Any]:
    return {
        "video_uri": frame.video,
        "time": frame.time,
        "truth": _boxes_json(frame.truth, specs, frame.instance_ids, "instance_id"),
        "predicted": _boxes_json(frame.predicted, specs, frame.track_ids, "track_id"),
    }
