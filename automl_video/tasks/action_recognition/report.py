"""The action recognition evaluation report, on the shared template (:mod:`automl_video.report`).

It shows mAP per precision window, the precision/recall table by confidence threshold
(overall, for the window chosen), mAP per label, and one timeline per TEST video: true actions as
triangles above the line, predicted moments as dots below it (darker when more confident), one colour
per label, stretches without complete annotations greyed. The threshold slider hides the predictions
under it and moves the per-label precision and recall; picking a label (selector or table row) draws
its precision and recall by threshold for the chosen window.
"""

import html
from collections.abc import Sequence
from dataclasses import dataclass

from automl_video.data.dataset import AnnotationSpec
from automl_video.report import (
    Card,
    ReportContext,
    cards_html,
    label_select_html,
    render_page,
    threshold_slider_html,
)
from automl_video.tasks.action_recognition.metrics import (
    CONFIDENCE_THRESHOLDS,
    PRECISION_WINDOWS,
    SUMMARY_THRESHOLD,
    EvaluationMetrics,
    WindowMetrics,
)
from automl_video.tasks.action_recognition.timeline import Moment, VideoTruth

# Timelines beyond this many TEST videos are left out of the page (it says how many).
MAX_TIMELINES = 60
_PALETTE = ("#1a73e8", "#d93025", "#188038", "#f9ab00", "#9334e6", "#e8710a", "#129eaf", "#c5221f", "#5f6368")
_WIDTH, _MARGIN = 760, 8


@dataclass
class VideoTimeline:
    """One TEST video: its truth and every moment predicted in it."""

    video_uri: str
    video_id: str
    duration: float
    truth: VideoTruth
    predicted: list[Moment]


def render_report(
    metrics: EvaluationMetrics,
    annotation_specs: Sequence[AnnotationSpec],
    timelines: Sequence[VideoTimeline],
    context: ReportContext,
) -> str:
    """The report page of an evaluation (labels in the order of ``metrics.per_label``)."""
    data = {
        "thresholds": list(CONFIDENCE_THRESHOLDS),
        "initialIndex": CONFIDENCE_THRESHOLDS.index(SUMMARY_THRESHOLD),
        "labels": [
            {
                "name": spec.display_name,
                "windows": [_curve(window) for window in label_metrics.windows],
            }
            for spec, label_metrics in zip(annotation_specs, metrics.per_label)
        ],
    }
    window_options = "".join(f'<option value="{i}">{w:g} s</option>' for i, w in enumerate(PRECISION_WINDOWS))
    cards = cards_html(
        [
            Card(f"{w.mean_average_precision:.3f}", f"mAP, {w.precision_window_seconds:g} s window")
            for w in metrics.overall.windows
        ]
        + [
            Card(str(metrics.overall.evaluated_action_count), "Test actions"),
            Card(str(len(timelines)), "Test videos"),
        ]
    )
    label_header = "".join(f'<th class="num">mAP {w:g} s</th>' for w in PRECISION_WINDOWS)
    label_rows = "\n".join(
        f'<tr data-label="{i}"><td><span class="swatch" style="background:{_colour(i)}"></span>'
        f"{html.escape(spec.display_name)}</td><td class='num'>{m.evaluated_action_count}</td>"
        + "".join(f'<td class="num">{w.mean_average_precision:.3f}</td>' for w in m.windows)
        + '<td class="num p"></td><td class="num r"></td></tr>'
        for i, (spec, m) in enumerate(zip(annotation_specs, metrics.per_label))
    )
    shown = list(timelines)[:MAX_TIMELINES]
    left_out = len(timelines) - len(shown)
    timeline_html = "\n".join(_timeline_svg(t, annotation_specs) for t in shown)
    if left_out:
        timeline_html += (
            f"<p class='note'>{left_out} more TEST videos are not drawn (predictions.jsonl has them all).</p>"
        )
    sections = f"""{cards}
<h2>Precision and recall by confidence threshold</h2>
<p>Precision window: <select id="window">{window_options}</select>
A predicted moment is right when a true action of its label lies within half the window of it.</p>
{"".join(_threshold_table(i, window) for i, window in enumerate(metrics.overall.windows))}
<h2>Labels at confidence threshold <span id="threshold"></span></h2>
{threshold_slider_html()}
<p>Label: {label_select_html([s.display_name for s in annotation_specs], "none")}
<span class="note">or click a row to see its precision and recall by threshold</span></p>
<table id="labels" class="sortable"><tr><th>Label</th><th class="num">Test actions</th>{label_header}
<th class="num">Precision</th><th class="num">Recall</th></tr>
{label_rows}
</table>
<div class="figure" id="label-figure" hidden><svg id="by-threshold" width="360" height="306" role="img"
aria-label="precision and recall of the label by threshold"></svg></div>
<h2>Test videos</h2>
<p class="note">Triangles: true actions (a bar under one spans its segment). Dots: predicted moments at or above the
threshold, darker when more confident. Grey: time without complete annotations (predictions there are not
judged unless they are near a true action).</p>
{timeline_html}
<p class="note">Precision is 1 when nothing is predicted at a threshold; mAP is the mean over the labels with test actions
of each label's average precision.</p>
<style>.swatch{{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}}
.timeline{{margin:8px 0}} .caption{{font-size:12px;color:#5f6368}}</style>"""
    return render_page("Model evaluation: action recognition", context, sections, data, _SCRIPT)


def _curve(window: WindowMetrics) -> dict[str, list[float]]:
    return {
        "precision": [e.precision for e in window.confidence_metrics],
        "recall": [e.recall for e in window.confidence_metrics],
    }


def _colour(label: int) -> str:
    return _PALETTE[label % len(_PALETTE)]


def _threshold_table(index: int, window: WindowMetrics) -> str:
    rows = "".join(
        f"<tr><td class='num'>{e.confidence_threshold:.2f}</td><td class='num'>{e.precision:.3f}</td>"
        f"<td class='num'>{e.recall:.3f}</td><td class='num'>{e.f1_score:.3f}</td></tr>"
        for e in window.confidence_metrics
    )
    hidden = "" if index == 0 else " hidden"
    return (
        f'<table class="thresholds" data-window="{index}"{hidden}><tr><th class="num">Confidence ≥</th>'
        f'<th class="num">Precision</th><th class="num">Recall</th><th class="num">F1</th></tr>{rows}</table>'
    )


def _timeline_svg(timeline: VideoTimeline, specs: Sequence[AnnotationSpec]) -> str:
    duration = max(timeline.duration, 1e-6)

    def x(time: float) -> float:
        return _MARGIN + (_WIDTH - 2 * _MARGIN) * min(max(time, 0.0), duration) / duration

    parts = [f'<rect x="{x(0):.1f}" y="14" width="{x(duration) - x(0):.1f}" height="24" fill="#eee"/>']
    for start, end in timeline.truth.annotated:
        parts.append(f'<rect x="{x(start):.1f}" y="14" width="{x(end) - x(start):.1f}" height="24" fill="#fff"/>')
    parts.append(f'<line x1="{x(0):.1f}" y1="26" x2="{x(duration):.1f}" y2="26" stroke="#5f6368"/>')
    for second in range(int(duration) + 1):
        parts.append(f'<line x1="{x(second):.1f}" y1="24" x2="{x(second):.1f}" y2="28" stroke="#5f6368"/>')
    for action in timeline.truth.actions:
        name = html.escape(specs[action.label].display_name)
        left, right = x(action.start), x(action.end)
        if right - left > 1:
            parts.append(
                f'<rect x="{left:.1f}" y="10" width="{right - left:.1f}" height="4" fill="{_colour(action.label)}"/>'
            )
        middle = x(action.time)
        parts.append(
            f'<path d="M{middle - 5:.1f},2 L{middle + 5:.1f},2 L{middle:.1f},12 Z" fill="{_colour(action.label)}">'
            f"<title>true {name} at {action.time:.2f} s</title></path>"
        )
    for moment in sorted(timeline.predicted, key=lambda m: m.confidence):
        name = html.escape(specs[moment.label].display_name)
        parts.append(
            f'<circle class="moment" data-confidence="{moment.confidence:.6f}" cx="{x(moment.time):.1f}" cy="46" '
            f'r="5" fill="{_colour(moment.label)}" fill-opacity="{0.15 + 0.85 * moment.confidence:.2f}">'
            f"<title>predicted {name} at {moment.time:.2f} s, confidence {moment.confidence:.3f}</title></circle>"
        )
    caption = html.escape(f"{timeline.video_uri} ({timeline.duration:.1f} s)")
    return (
        f'<div class="timeline"><div class="caption">{caption}</div>'
        f'<svg width="{_WIDTH}" height="54" viewBox="0 0 {_WIDTH} 54" role="img" '
        f'aria-label="true and predicted actions of {caption}">{"".join(parts)}</svg></div>'
    )


_SCRIPT = """
  var data = AV.data, windowSelect = document.getElementById("window"), slider = document.getElementById("slider");
  var select = document.getElementById("label"), chart = null;
  function draw() {
    var figure = document.getElementById("label-figure");
    figure.hidden = select.value === "";
    if (figure.hidden) { chart = null; return show(); }
    var curve = data.labels[+select.value].windows[+windowSelect.value];
    chart = AV.thresholdChart(document.getElementById("by-threshold"), data.thresholds, curve);
    show();
  }
  function show() {
    var w = +windowSelect.value, i = +slider.value, threshold = data.thresholds[i];
    document.getElementById("threshold").textContent = threshold.toFixed(2);
    document.querySelectorAll("table.thresholds").forEach(function(table) {
      table.hidden = +table.dataset.window !== w;
    });
    AV.fillRows(data.labels.map(function(label) { return label.windows[w]; }), i);
    document.querySelectorAll("circle.moment").forEach(function(dot) {
      dot.style.display = +dot.dataset.confidence >= threshold ? "" : "none";
    });
    if (chart) chart.show(i);
  }
  slider.value = data.initialIndex;
  slider.addEventListener("input", show);
  windowSelect.addEventListener("change", draw);
  AV.labelPicker(select, draw);
  draw();
"""
