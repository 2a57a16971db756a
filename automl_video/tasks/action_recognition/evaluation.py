"""Action recognition evaluation: every TEST video predicted as batch prediction does, Vertex
``VideoActionRecognitionMetrics`` overall and per label.

Each TEST video is read once from start to end with batch prediction's row plan (clips every
:data:`STRIDE_SECONDS`, per-label peaks, temporal NMS; no threshold, no cap), so the TEST numbers are the
numbers of the moments a user gets. Predictions are judged against the video's actions where its
annotations are complete (:func:`judged_moments`). ``evaluations.json`` holds the overall entry and one per
label, each with a ``videoActionRecognitionMetrics`` field (written by :mod:`automl_video.evaluation`);
``predictions.jsonl`` one line per TEST video with its true and predicted moments.
"""

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl_video.data.dataset import AnnotationSpec, Dataset, DatasetError, Split
from automl_video.evaluation import SpecMetrics, TaskEvaluation
from automl_video.modeling.loading import TrainedModel
from automl_video.prediction.clips import ClipSpan
from automl_video.progress import Progress
from automl_video.report import ReportContext
from automl_video.tasks.action_recognition.examples import truth_of
from automl_video.tasks.action_recognition.metrics import (
    PRECISION_WINDOWS,
    SUMMARY_THRESHOLD,
    EvaluationMetrics,
    compute_metrics,
    judged_moments,
)
from automl_video.tasks.action_recognition.prediction import ActionRows, PredictionParams
from automl_video.tasks.action_recognition.report import VideoTimeline, render_report
from automl_video.tasks.action_recognition.timeline import Moment
from automl_video.tasks.base import Evaluator
from automl_video.video import VideoReader

METRICS_FIELD = "videoActionRecognitionMetrics"
SCORE_WINDOW_SECONDS = 1.0
SCORE_BATCH_SIZE = 16


@dataclass
class WindowSummary:
    """One precision window: mAP, and precision/recall/F1 at the summary threshold (0.5)."""

    window_seconds: float
    mean_average_precision: float
    precision: float
    recall: float
    f1_score: float


@dataclass
class LabelSummary:
    annotation_spec_id: str
    display_name: str
    evaluated_action_count: int
    mean_average_precision: list[float]  # per window of PRECISION_WINDOWS


@dataclass
class ActionRecognitionSummary:
    """The headline numbers: mAP at each window overall, and per label."""

    evaluated_action_count: int
    test_videos: int
    map_1s: float
    windows: list[WindowSummary]
    labels: list[LabelSummary]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ActionEvaluator(Evaluator):
    def evaluate(
        self, model: TrainedModel, dataset: Dataset, dataset_uri: str, model_uri: str, create_time: str
    ) -> TaskEvaluation:
        specs = model.metadata.annotation_specs
        label_index = {s.display_name: i for i, s in enumerate(specs)}
        videos = dataset.videos_in(Split.TEST)
        truths = [truth_of(video, label_index, Split.TEST, dataset_uri) for video in videos]
        if not any(truth.actions for truth in truths):
            raise DatasetError(
                f"{dataset_uri}: the TEST split has no actions to evaluate; run 'automl-video dataset split' or "
                "import rows with ML_USE TEST"
            )
        rows = ActionRows(model, PredictionParams(max_predictions=None))
        progress = Progress("evaluate", total=sum(v.duration for v in videos), unit="video-s")
        timelines, predicted, true = [], [], []
        for video, truth in zip(videos, truths):
            with VideoReader(video.uri) as reader:
                moments = rows.moments(list(score_clips(model, rows.clips(reader, 0.0, video.duration))))
            progress.update(video.duration)
            judged, actual = judged_moments(truth, moments)
            predicted += judged
            true += actual
            timelines.append(VideoTimeline(video.uri, video.video_id, video.duration, truth, moments))
        progress.finish()
        metrics = compute_metrics(predicted, true, len(specs))
        context = ReportContext(model_uri, dataset_uri, model.metadata.model_type, create_time)
        overall_1s = metrics.overall.window(SCORE_WINDOW_SECONDS)
        return TaskEvaluation(
            metrics_field=METRICS_FIELD,
            evaluations=[SpecMetrics(None, metrics.overall.evaluated_action_count, metrics.overall.to_proto_json())]
            + [
                SpecMetrics(spec, label_metrics.evaluated_action_count, label_metrics.to_proto_json())
                for spec, label_metrics in zip(specs, metrics.per_label)
            ],
            scalars=kfp_scalar_metrics(metrics, specs),
            score=overall_1s.mean_average_precision,
            score_name="mAP@1s",
            report_html=render_report(metrics, specs, timelines, context),
            predictions=[_prediction_row(timeline, specs) for timeline in timelines],
            summary=_summary(metrics, specs, len(videos)),
        )

    def format_summary(self, doc: dict[str, Any]) -> str:
        """mAP per precision window, precision/recall/F1 at 0.5, and a per-label table."""
        width = max([len("label")] + [len(label["display_name"]) for label in doc["labels"]])
        windows = "  ".join(f"{'mAP@' + format(w, 'g') + 's':>8}" for w in PRECISION_WINDOWS)
        lines = [f"Evaluated {doc['evaluated_action_count']} TEST actions in {doc['test_videos']} videos"]
        for window in doc["windows"]:
            lines.append(
                f"window {window['window_seconds']:g} s: mAP {window['mean_average_precision']:.4f}; at confidence "
                f"0.5: precision {window['precision']:.3f}, recall {window['recall']:.3f}, F1 {window['f1_score']:.3f}"
            )
        lines += ["", f"{'label':<{width}}  {'actions':>7}  {windows}"]
        for label in doc["labels"]:
            values = "  ".join(f"{value:>8.4f}" for value in label["mean_average_precision"])
            lines.append(f"{label['display_name']:<{width}}  {label['evaluated_action_count']:>7}  {values}")
        return "\n".join(lines)


def score_clips(
    model: TrainedModel, clips: Iterable[tuple[ClipSpan, np.ndarray]]
) -> Iterator[tuple[ClipSpan, np.ndarray]]:
    """Each clip's scores, in padded batches of one shape (a long video never holds its clips at once)."""
    batch: list[tuple[ClipSpan, np.ndarray]] = []

    def scored() -> Iterator[tuple[ClipSpan, np.ndarray]]:
        padded = np.zeros((SCORE_BATCH_SIZE, *model.input_spec.shape), np.uint8)
        padded[: len(batch)] = [clip for _, clip in batch]
        scores = model.predict_clips(padded, batch_size=SCORE_BATCH_SIZE)
        return ((span, score) for (span, _), score in zip(batch, scores))

    for item in clips:
        batch.append(item)
        if len(batch) == SCORE_BATCH_SIZE:
            yield from scored()
            batch = []
    if batch:
        yield from scored()


def kfp_scalar_metrics(metrics: EvaluationMetrics, specs: list[AnnotationSpec]) -> dict[str, float]:
    """Flat ``name → number`` scalars (KFP ``Metrics.log_metric``); thresholded ones at 0.5."""
    scalars: dict[str, float] = {"evaluated_action_count": metrics.overall.evaluated_action_count}
    for window in metrics.overall.windows:
        name = f"{window.precision_window_seconds:g}s"
        at_summary = window.at_threshold(SUMMARY_THRESHOLD)
        scalars[f"map_{name}"] = window.mean_average_precision
        scalars[f"precision_{name}"] = at_summary.precision
        scalars[f"recall_{name}"] = at_summary.recall
        scalars[f"f1_score_{name}"] = at_summary.f1_score
    for spec, label_metrics in zip(specs, metrics.per_label):
        scalars[f"map_1s/{spec.display_name}"] = label_metrics.window(SCORE_WINDOW_SECONDS).mean_average_precision
    return scalars


def _summary(metrics: EvaluationMetrics, specs: list[AnnotationSpec], test_videos: int) -> ActionRecognitionSummary:
    windows = []
    for window in metrics.overall.windows:
        at_summary = window.at_threshold(SUMMARY_THRESHOLD)
        windows.append(
            WindowSummary(
                window.precision_window_seconds,
                window.mean_average_precision,
                at_summary.precision,
                at_summary.recall,
                at_summary.f1_score,
            )
        )
    return ActionRecognitionSummary(
        evaluated_action_count=metrics.overall.evaluated_action_count,
        test_videos=test_videos,
        map_1s=metrics.overall.window(SCORE_WINDOW_SECONDS).mean_average_precision,
        windows=windows,
        labels=[
            LabelSummary(
                spec.id,
                spec.display_name,
                label_metrics.evaluated_action_count,
                [w.mean_average_precision for w in label_metrics.windows],
            )
            for spec, label_metrics in zip(specs, metrics.per_label)
        ],
    )


def _prediction_row(timeline: VideoTimeline, specs: list[AnnotationSpec]) -> dict[str, Any]:
    def moment(m: Moment) -> dict[str, Any]:
        return {"label": specs[m.label].display_name, "time": m.time, "confidence": m.confidence}

    return {
        "video_uri": timeline.video_uri,
        "video_id": timeline.video_id,
        "duration": timeline.duration,
        "annotated": [list(span) for span in timeline.truth.annotated],
        "truth": [
            {"label": specs[a.label].display_name, "start": a.start, "end": a.end} for a in timeline.truth.actions
        ],
        "predicted": [moment(m) for m in timeline.predicted],
    }
