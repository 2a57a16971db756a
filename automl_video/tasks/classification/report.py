"""The classification evaluation report, on the shared template (:mod:`automl_video.report`).

Like the Evaluate tab of the AutoML console: pick a label (the selector or a row of the table) to see
its curves and numbers; the threshold slider moves over the AutoML confidence thresholds and updates
precision, recall and F1 (the chosen label's, @1 and every row's) from the precomputed entries. The
precision-recall chart draws the step curve at every distinct score (the steps AU-PRC sums), with the
slider's threshold marked on it; a second chart shows precision and recall against the threshold.
"""

import html
from collections.abc import Sequence
from typing import Any

from automl_video.data.dataset import AnnotationSpec
from automl_video.modeling.metadata import Calibration
from automl_video.report import (
    Card,
    ReportContext,
    ThresholdCharts,
    cards_html,
    confusion_matrix_html,
    render_page,
    threshold_view_html,
)
from automl_video.tasks.classification.metrics import (
    CONFIDENCE_THRESHOLDS,
    SUMMARY_THRESHOLD,
    ClassificationMetrics,
    EvaluationMetrics,
    threshold_curve,
)

# Step curves of more than this many points are thinned for the page (predictions.jsonl keeps every
# score): 2000 steps at 360 pixels draw a curve no eye tells from the whole.
MAX_STEPS = 2000


def render_report(
    metrics: EvaluationMetrics,
    annotation_specs: Sequence[AnnotationSpec],
    context: ReportContext,
    calibration: Calibration | None = None,
) -> str:
    """The report page.

    Args:
        metrics: the computed evaluation.
        annotation_specs: labels in the order of ``metrics.per_label``.
        context: model and dataset the evaluation is of.
        calibration: the model's (``model.json``), for each label's best VALIDATION threshold; None for a
            model trained without calibration.

    Returns:
        The HTML document.
    """
    overall = metrics.overall
    thresholds = (
        [label.best_threshold for label in calibration.labels] if calibration else [None] * len(metrics.per_label)
    )
    data = {
        "thresholds": list(CONFIDENCE_THRESHOLDS),
        "initialIndex": CONFIDENCE_THRESHOLDS.index(SUMMARY_THRESHOLD),
        "overall": {"name": "All labels", **_curve(overall)},
        "labels": [
            {"name": spec.display_name, "bestThreshold": threshold, **_curve(label_metrics)}
            for spec, label_metrics, threshold in zip(annotation_specs, metrics.per_label, thresholds)
        ],
    }
    label_rows = "\n".join(
        f'<tr data-label="{i}"><td>{html.escape(spec.display_name)}</td>'
        f'<td class="num">{m.evaluated_example_count}</td><td class="num">{m.au_prc:.3f}</td>'
        f'<td class="num p"></td><td class="num r"></td><td class="num f"></td>'
        f'<td class="num best"{_sort_value(threshold)}>{_threshold_text(threshold)}</td></tr>'
        for i, (spec, m, threshold) in enumerate(zip(annotation_specs, metrics.per_label, thresholds))
    )
    cards = cards_html(
        [
            Card(f"{overall.au_prc:.3f}", "Average precision (AU-PRC)", "auPrc"),
            Card(f"{overall.base_au_prc:.3f}", "Base AU-PRC (positive rate)", "baseAuPrc"),
            Card(str(overall.evaluated_example_count), "Test segments", "count"),
            Card("", "Best VALIDATION threshold (a label's)", "bestThreshold"),
        ]
    )
    threshold_cards = cards_html(
        [
            Card("", "Precision", "precision"),
            Card("", "Recall", "recall"),
            Card("", "F1", "f1"),
            Card("", "Precision@1", "precisionAt1"),
            Card("", "Recall@1", "recallAt1"),
            Card("", "F1@1", "f1At1"),
        ]
    )
    charts = ThresholdCharts(
        "Precision-recall curve",
        "Steps at every distinct score; their area is the AU-PRC. Dot: the threshold above.",
        f"At the {len(CONFIDENCE_THRESHOLDS)} AutoML thresholds; dashed line: the threshold above.",
    )
    names = [s.display_name for s in annotation_specs]
    sections = f"""{threshold_view_html(names, "All labels (micro-averaged)", cards, threshold_cards, charts)}
<h2>Labels</h2>
<table id="labels" class="sortable"><tr><th>Label</th><th class="num">Test segments</th><th class="num">AU-PRC</th>
<th class="num">Precision</th><th class="num">Recall</th><th class="num">F1</th>
<th class="num">Best VALIDATION threshold</th></tr>
{label_rows}
</table>
<p class="note">Precision, recall and F1 at the threshold above. Click a header to sort. {_calibration_note(calibration)}</p>
<h2>Confusion matrix</h2>
{_confusion_matrix(overall)}
<p class="note">Precision is 1 when nothing is predicted at a threshold; @1 counts only each segment's top-scored
label, and only when its score reaches the threshold.</p>"""
    return render_page("Model evaluation: classification", context, sections, data, _SCRIPT)


def _threshold_text(threshold: float | None) -> str:
    return "—" if threshold is None else f"{threshold:.3f}"


def _sort_value(threshold: float | None) -> str:
    """A label without a best threshold sorts below every threshold."""
    return ' data-value="-1"' if threshold is None else ""


def _calibration_note(calibration: Calibration | None) -> str:
    """What the best VALIDATION thresholds are, and what calibration did to F1 at 0.5 on VALIDATION."""
    if calibration is None:
        return "Best VALIDATION threshold: none, this model was trained without calibration."
    return (
        f"Scores are calibrated on VALIDATION ({html.escape(calibration.method)}; F1 at 0.5 there "
        f"{calibration.f1_before:.3f} → {calibration.f1_after:.3f}). Best VALIDATION threshold: the threshold "
        "at which the label's calibrated VALIDATION F1 was highest (— when VALIDATION has no positive of the label)."
    )


def _curve(metrics: ClassificationMetrics) -> dict[str, Any]:
    curve = threshold_curve(metrics)
    steps = metrics.steps
    recall, precision = (steps.recall, steps.precision) if steps else ([], [])
    stride = max(1, -(-len(recall) // MAX_STEPS))
    return {
        "auPrc": metrics.au_prc,
        "baseAuPrc": metrics.base_au_prc,
        "count": metrics.evaluated_example_count,
        "stepRecall": recall[::stride] + recall[-1:] if stride > 1 else recall,
        "stepPrecision": precision[::stride] + precision[-1:] if stride > 1 else precision,
        "precision": curve.precision,
        "recall": curve.recall,
        "f1": curve.f1_score,
        "precisionAt1": curve.precision_at1,
        "recallAt1": curve.recall_at1,
        "f1At1": curve.f1_score_at1,
    }


def _confusion_matrix(overall: ClassificationMetrics) -> str:
    matrix = overall.confusion_matrix
    if matrix is None:
        return f'<p class="warning" id="no-confusion-matrix">{html.escape(overall.confusion_matrix_note)}</p>'
    return confusion_matrix_html(
        matrix.display_names,
        matrix.rows,
        "Rows: true label (with each cell's share of its row). Columns: the top-scored label, whatever its score.",
    )


_SCRIPT = """
  var data = AV.data, slider = document.getElementById("slider"), select = document.getElementById("label");
  var fmt = AV.fmt, prChart, thresholdChart, shown;
  function selected() { return select.value === "" ? data.overall : data.labels[+select.value]; }
  function draw() {
    shown = selected();
    prChart = AV.prChart(document.getElementById("pr"), shown);
    thresholdChart = AV.thresholdChart(document.getElementById("by-threshold"), data.thresholds, shown);
    ["auPrc", "baseAuPrc"].forEach(function(k) { document.getElementById(k).textContent = fmt(shown[k]); });
    document.getElementById("count").textContent = shown.count;
    document.getElementById("bestThreshold").textContent = shown.bestThreshold == null ? "—" : fmt(shown.bestThreshold);
    show();
  }
  function show() {
    var i = +slider.value;
    document.getElementById("threshold").textContent = data.thresholds[i].toFixed(2);
    ["precision", "recall", "f1", "precisionAt1", "recallAt1", "f1At1"].forEach(function(k) {
      document.getElementById(k).textContent = fmt(shown[k][i]);
    });
    prChart.show(i);
    thresholdChart.show(i);
    AV.fillRows(data.labels, i);
  }
  slider.value = data.initialIndex;
  slider.addEventListener("input", show);
  AV.labelPicker(select, draw);
  draw();
"""
