"""The object tracking evaluation report, on the shared template (:mod:`automl_video.report`), like
AutoML's Evaluate tab: the box metrics at IoU 0.5 of all labels or the one picked (the selector or a
row of the table): box mAP, precision, recall and F1 at the threshold slider's confidence (from the
precomputed entries on the AutoML grid), the step precision-recall curve whose area is the label's AP,
and precision and recall against the threshold. Then track quality and sample TEST frames, true boxes
(green, dashed) beside the predicted ones (red, with label, score and track id; faint below the
slider's threshold).

The frames are inline PNG data URIs under SVG boxes, so the page stays one self-contained file.
"""

import base64
import html
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl_video.data.dataset import AnnotationSpec
from automl_video.report import (
    Card,
    ReportContext,
    ThresholdCharts,
    cards_html,
    render_page,
    threshold_view_html,
)
from automl_video.tasks.object_tracking.metrics import (
    CONFIDENCE_THRESHOLDS,
    HEADLINE_IOU,
    SUMMARY_CONFIDENCE,
    BoxMetrics,
    EvaluatedFrame,
    EvaluationMetrics,
    precision_recall_steps,
)

# Frames are shown this many pixels wide (the network's input is small).
DISPLAY_WIDTH = 320


@dataclass
class SampleFrame:
    """An evaluated frame and its pixels as the network saw them (``[H, W, 3]`` uint8)."""

    frame: EvaluatedFrame
    pixels: np.ndarray


def _png_data_uri(pixels: np.ndarray) -> str:
    import tensorflow as tf  # the evaluation has loaded it already

    png = tf.io.encode_png(np.ascontiguousarray(pixels, np.uint8)).numpy()
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _rectangles(frame: EvaluatedFrame, specs: list[AnnotationSpec]) -> str:
    shapes = []
    for (x_min, y_min, x_max, y_max), label in zip(frame.truth.corners, frame.truth.labels):
        shapes.append(
            f'<rect class="truth" x="{x_min:.4f}" y="{y_min:.4f}" width="{x_max - x_min:.4f}" height="{y_max - y_min:.4f}">'
            f"<title>true {html.escape(specs[int(label)].display_name)}</title></rect>"
        )
    for (x_min, y_min, x_max, y_max), label, score, track_id in zip(
        frame.predicted.corners, frame.predicted.labels, frame.predicted.scores, frame.track_ids
    ):
        name = html.escape(specs[int(label)].display_name)
        faint = " low" if score < SUMMARY_CONFIDENCE else ""
        shapes.append(
            f'<g class="predicted{faint}" data-score="{score:.6f}"><rect x="{x_min:.4f}" y="{y_min:.4f}" width="{x_max - x_min:.4f}" '
            f'height="{y_max - y_min:.4f}"><title>{name} {score:.2f} (track {int(track_id)})</title></rect>'
            f'<text x="{x_min:.4f}" y="{max(y_min - 0.01, 0.04):.4f}">{name} {score:.2f} #{int(track_id)}</text></g>'
        )
    return "".join(shapes)


def _sample_html(sample: SampleFrame, specs: list[AnnotationSpec]) -> str:
    height, width = sample.pixels.shape[:2]
    aspect = height / width
    return (
        '<figure><svg viewBox="0 0 1 {aspect:.4f}" width="{w}" height="{h}">'
        '<g transform="scale(1 {aspect:.4f})"><image href="{src}" x="0" y="0" width="1" height="1" '
        'preserveAspectRatio="none"/>{boxes}</g></svg>'
        "<figcaption>{video} at {time:.3f} s: {truth} true, {predicted} predicted</figcaption></figure>"
    ).format(
        aspect=aspect,
        w=DISPLAY_WIDTH,
        h=round(DISPLAY_WIDTH * aspect),
        src=_png_data_uri(sample.pixels),
        boxes=_rectangles(sample.frame, specs),
        video=html.escape(sample.frame.video.rsplit("/", 1)[-1]),
        time=sample.frame.time,
        truth=len(sample.frame.truth),
        predicted=len(sample.frame.predicted),
    )


def render_report(
    summary, metrics: EvaluationMetrics, samples: list[SampleFrame], specs: list[AnnotationSpec], context: ReportContext
) -> str:
    """The report page (``summary``: the evaluation's :class:`.evaluation.TrackingSummary`, for the
    tracks; ``metrics``: its box metrics, labels in the order of ``specs``)."""
    data = {
        "thresholds": list(CONFIDENCE_THRESHOLDS),
        "initialIndex": CONFIDENCE_THRESHOLDS.index(SUMMARY_CONFIDENCE),
        "overall": {"name": "All labels", **_curve(metrics.overall)},
        "labels": [{"name": spec.display_name, **_curve(m)} for spec, m in zip(specs, metrics.per_label)],
    }
    label_rows = "\n".join(
        f'<tr data-label="{i}"><td>{html.escape(spec.display_name)}</td>'
        f'<td class="num">{m.evaluated_bounding_box_count}</td>'
        f'<td class="num">{m.at_iou(HEADLINE_IOU).mean_average_precision:.3f}</td>'
        '<td class="num p"></td><td class="num r"></td><td class="num f"></td></tr>'
        for i, (spec, m) in enumerate(zip(specs, metrics.per_label))
    )
    cards = cards_html(
        [
            Card(f"{summary.box_map_50:.3f}", "Box mAP at IoU 0.5", "boxMap50"),
            Card(f"{summary.box_map:.3f}", "Box mAP over IoU 0.05-0.99", "boxMap"),
            Card(str(summary.evaluated_bounding_box_count), "True boxes", "count"),
            Card(str(summary.evaluated_frame_count), "Labelled TEST frames"),
        ]
    )
    threshold_cards = cards_html(
        [Card("", "Precision (IoU 0.5)", "precision"), Card("", "Recall (IoU 0.5)", "recall"), Card("", "F1", "f1")]
    )
    charts = ThresholdCharts(
        "Precision-recall curve (IoU 0.5)",
        f"Steps at the {len(CONFIDENCE_THRESHOLDS)} AutoML thresholds, each at the best precision reached at "
        "that recall or more: for a label their area is its AP; all labels pool their boxes (box mAP is the "
        "mean of the labels' APs). Dot: the threshold above.",
        "At IoU 0.5; dashed line: the threshold above.",
    )
    names = [s.display_name for s in specs]
    sections = f"""{threshold_view_html(names, "All labels", cards, threshold_cards, charts)}
<h2>Labels</h2>
<table id="labels" class="sortable"><tr><th>Label</th><th class="num">True boxes</th><th class="num">mAP@0.5</th>
<th class="num">Precision</th><th class="num">Recall</th><th class="num">F1</th></tr>
{label_rows}
</table>
<p class="note">Precision, recall and F1 at IoU 0.5 and the threshold above. Click a header to sort.</p>
<h2>Tracks</h2>
<p>Mean box IoU along true instances {summary.mean_track_iou:.3f}; {summary.id_switches} ID switches
({summary.id_switches_per_track:.3f} per track, mismatch rate {summary.mismatch_rate:.4f}).</p>
<h2>Sample TEST frames</h2>
<p>True boxes dashed green, predicted boxes red (label, score, track id); faint below the threshold above.</p>
{"".join(_sample_html(s, specs) for s in samples)}
<p class="note">Precision is 1 when nothing is predicted at a threshold.</p>
<style>
figure{{display:inline-block;margin:0.5em}} figcaption{{font-size:12px;color:#5f6368;max-width:320px}}
rect.truth{{fill:none;stroke:#0a0;stroke-width:0.008;stroke-dasharray:0.02 0.01}}
g.predicted rect{{fill:none;stroke:#d00;stroke-width:0.006}} g.predicted text{{font-size:0.035px;fill:#d00}}
g.low{{opacity:0.35}}
</style>"""
    return render_page("Model evaluation: object tracking", context, sections, data, _SCRIPT)


def _curve(metrics: BoxMetrics) -> dict[str, Any]:
    at_iou = metrics.at_iou(HEADLINE_IOU)
    entries = at_iou.confidence_entries
    step_recall, step_precision = precision_recall_steps(entries)
    return {
        "boxMap50": at_iou.mean_average_precision,
        "boxMap": metrics.mean_average_precision,
        "count": metrics.evaluated_bounding_box_count,
        "precision": [e.precision for e in entries],
        "recall": [e.recall for e in entries],
        "f1": [e.f1_score for e in entries],
        "stepRecall": step_recall,
        "stepPrecision": step_precision,
    }


_SCRIPT = """
  var data = AV.data, slider = document.getElementById("slider"), select = document.getElementById("label");
  var fmt = AV.fmt, prChart, thresholdChart, shown;
  function draw() {
    shown = select.value === "" ? data.overall : data.labels[+select.value];
    prChart = AV.prChart(document.getElementById("pr"), shown);
    thresholdChart = AV.thresholdChart(document.getElementById("by-threshold"), data.thresholds, shown);
    ["boxMap50", "boxMap"].forEach(function(k) { document.getElementById(k).textContent = fmt(shown[k]); });
    document.getElementById("count").textContent = shown.count;
    show();
  }
  function show() {
    var i = +slider.value, threshold = data.thresholds[i];
    document.getElementById("threshold").textContent = threshold.toFixed(2);
    ["precision", "recall", "f1"].forEach(function(k) { document.getElementById(k).textContent = fmt(shown[k][i]); });
    prChart.show(i);
    thresholdChart.show(i);
    AV.fillRows(data.labels, i);
    document.querySelectorAll("g.predicted").forEach(function(box) {
      box.classList.toggle("low", +box.dataset.score < threshold);
    });
  }
  slider.value = data.initialIndex;
  slider.addEventListener("input", show);
  AV.labelPicker(select, draw);
  draw();
"""
