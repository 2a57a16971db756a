"""The evaluation report: one self-contained HTML page like the Evaluate tab of the AutoML console.

Everything is inline (CSS, JS, the PR curve as SVG) so the page opens from a bucket, a KFP artifact
or a laptop with no network. A threshold slider moves over the AutoML confidence thresholds and
updates precision, recall and F1 (overall, @1 and per label) from the precomputed entries.
"""

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from automl_video.data.dataset import AnnotationSpec
from automl_video.tasks.classification.metrics import (
    CONFIDENCE_THRESHOLDS,
    SUMMARY_THRESHOLD,
    ClassificationMetrics,
    EvaluationMetrics,
    threshold_curve,
)


@dataclass
class ReportContext:
    """What the page says about where the numbers come from."""

    model_uri: str
    dataset_uri: str
    model_type: str
    create_time: str


def render_report(
    metrics: EvaluationMetrics, annotation_specs: Sequence[AnnotationSpec], context: ReportContext
) -> str:
    """The report page.

    Args:
        metrics: the computed evaluation.
        annotation_specs: labels in the order of ``metrics.per_label``.
        context: model and dataset the evaluation is of.

    Returns:
        The HTML document.
    """
    data = {
        "thresholds": list(CONFIDENCE_THRESHOLDS),
        "initialIndex": CONFIDENCE_THRESHOLDS.index(SUMMARY_THRESHOLD),
        "overall": _curve(metrics.overall),
        "labels": [
            {"name": spec.display_name, **_curve(label_metrics)}
            for spec, label_metrics in zip(annotation_specs, metrics.per_label)
        ],
    }
    # "</" would end the <script> element early if a label contained "</script>".
    data_json = json.dumps(data).replace("</", "<\\/")
    label_rows = "\n".join(
        f'<tr data-label="{i}"><td>{html.escape(spec.display_name)}</td>'
        f'<td class="num">{m.evaluated_example_count}</td>'
        f'<td class="num">{m.au_prc:.3f}</td><td class="num p"></td><td class="num r"></td><td class="num f"></td></tr>'
        for i, (spec, m) in enumerate(zip(annotation_specs, metrics.per_label))
    )
    return _PAGE.format(
        title=html.escape(f"Evaluation of {context.model_uri}"),
        model_uri=html.escape(context.model_uri),
        dataset_uri=html.escape(context.dataset_uri),
        model_type=html.escape(context.model_type),
        create_time=html.escape(context.create_time),
        example_count=metrics.overall.evaluated_example_count,
        au_prc=metrics.overall.au_prc,
        base_au_prc=metrics.overall.base_au_prc,
        slider_max=len(CONFIDENCE_THRESHOLDS) - 1,
        label_rows=label_rows,
        confusion_matrix=_confusion_matrix_html(metrics.overall),
        data_json=data_json,
    )


def _curve(metrics: ClassificationMetrics) -> dict[str, Any]:
    curve = threshold_curve(metrics)
    return {
        "precision": curve.precision,
        "recall": curve.recall,
        "f1": curve.f1_score,
        "precisionAt1": curve.precision_at1,
        "recallAt1": curve.recall_at1,
        "f1At1": curve.f1_score_at1,
    }


def _confusion_matrix_html(overall: ClassificationMetrics) -> str:
    matrix = overall.confusion_matrix
    if matrix is None:
        return (
            "<p class='note'>No confusion matrix: AutoML gives one only when every test example has exactly "
            "one label and there are at most 10 labels.</p>"
        )
    header = "".join(f"<th>{html.escape(name)}</th>" for name in matrix.display_names)
    body = []
    for name, row in zip(matrix.display_names, matrix.rows):
        total = sum(row) or 1
        cells = "".join(
            f'<td class="num" style="background:rgba(26,115,232,{count / total:.3f})">{count}</td>' for count in row
        )
        body.append(f"<tr><th>{html.escape(name)}</th>{cells}</tr>")
    return (
        "<table class='cm'><tr><th>true \\ predicted</th>" + header + "</tr>" + "".join(body) + "</table>"
        "<p class='note'>Rows: true label. Columns: the top-scored label, whatever its score.</p>"
    )


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#202124;max-width:1000px}}
h1{{font-size:20px}} h2{{font-size:16px;margin-top:28px}}
.meta td{{padding:2px 12px 2px 0;color:#5f6368}}
.cards{{display:flex;gap:16px;flex-wrap:wrap}}
.card{{border:1px solid #dadce0;border-radius:8px;padding:12px 16px;min-width:120px}}
.card .v{{font-size:22px;font-weight:600}} .card .k{{color:#5f6368;font-size:12px}}
table{{border-collapse:collapse}} td,th{{border-bottom:1px solid #eee;padding:4px 10px;text-align:left}}
.num{{text-align:right;font-variant-numeric:tabular-nums}}
.cm td{{border:1px solid #dadce0;min-width:40px}}
.note{{color:#5f6368;font-size:12px}}
#slider{{width:320px;vertical-align:middle}}
</style></head>
<body>
<h1>Model evaluation</h1>
<table class="meta">
<tr><td>Model</td><td>{model_uri}</td></tr><tr><td>Model type</td><td>{model_type}</td></tr>
<tr><td>Dataset (TEST split)</td><td>{dataset_uri}</td></tr><tr><td>Evaluated</td><td>{create_time}</td></tr>
</table>
<div class="cards">
<div class="card"><div class="v">{au_prc:.3f}</div><div class="k">Average precision (AU-PRC)</div></div>
<div class="card"><div class="v">{base_au_prc:.3f}</div><div class="k">Base AU-PRC (positive rate)</div></div>
<div class="card"><div class="v">{example_count}</div><div class="k">Test segments</div></div>
</div>
<h2>Confidence threshold: <span id="threshold"></span></h2>
<input type="range" id="slider" min="0" max="{slider_max}" step="1">
<div class="cards" style="margin-top:12px">
<div class="card"><div class="v" id="precision"></div><div class="k">Precision</div></div>
<div class="card"><div class="v" id="recall"></div><div class="k">Recall</div></div>
<div class="card"><div class="v" id="f1"></div><div class="k">F1</div></div>
<div class="card"><div class="v" id="precisionAt1"></div><div class="k">Precision@1</div></div>
<div class="card"><div class="v" id="recallAt1"></div><div class="k">Recall@1</div></div>
<div class="card"><div class="v" id="f1At1"></div><div class="k">F1@1</div></div>
</div>
<h2>Precision-recall curve</h2>
<svg id="pr" width="320" height="320" viewBox="-40 -10 360 350" role="img" aria-label="precision-recall curve"></svg>
<h2>Labels</h2>
<table id="labels"><tr><th>Label</th><th class="num">Test segments</th><th class="num">AU-PRC</th>
<th class="num">Precision</th><th class="num">Recall</th><th class="num">F1</th></tr>
{label_rows}
</table>
<h2>Confusion matrix</h2>
{confusion_matrix}
<p class="note">Precision is 1 when nothing is predicted at a threshold; @1 counts only each segment's top-scored
label, and only when its score reaches the threshold.</p>
<script id="evaluation-data" type="application/json">{data_json}</script>
<script>
(function() {{
  var data = JSON.parse(document.getElementById("evaluation-data").textContent);
  var fmt = function(x) {{ return x.toFixed(3); }};
  var svg = document.getElementById("pr"), NS = "http://www.w3.org/2000/svg";
  function el(name, attrs, text) {{
    var node = document.createElementNS(NS, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (text) node.textContent = text;
    svg.appendChild(node); return node;
  }}
  el("rect", {{x: 0, y: 0, width: 300, height: 300, fill: "none", stroke: "#dadce0"}});
  el("text", {{x: 110, y: 330, "font-size": 12}}, "Recall");
  el("text", {{x: -30, y: 150, "font-size": 12, transform: "rotate(-90 -30 150)"}}, "Precision");
  var points = data.overall.recall.map(function(r, i) {{
    return (300 * r).toFixed(1) + "," + (300 * (1 - data.overall.precision[i])).toFixed(1);
  }});
  el("polyline", {{points: points.join(" "), fill: "none", stroke: "#1a73e8", "stroke-width": 2}});
  var dot = el("circle", {{r: 5, fill: "#d93025"}});
  function show(i) {{
    document.getElementById("threshold").textContent = data.thresholds[i].toFixed(2);
    ["precision", "recall", "f1", "precisionAt1", "recallAt1", "f1At1"].forEach(function(k) {{
      document.getElementById(k).textContent = fmt(data.overall[k][i]);
    }});
    dot.setAttribute("cx", 300 * data.overall.recall[i]);
    dot.setAttribute("cy", 300 * (1 - data.overall.precision[i]));
    data.labels.forEach(function(label, j) {{
      var row = document.querySelector('tr[data-label="' + j + '"]');
      row.querySelector(".p").textContent = fmt(label.precision[i]);
      row.querySelector(".r").textContent = fmt(label.recall[i]);
      row.querySelector(".f").textContent = fmt(label.f1[i]);
    }});
  }}
  var slider = document.getElementById("slider");
  slider.value = data.initialIndex;
  slider.addEventListener("input", function() {{ show(+slider.value); }});
  show(data.initialIndex);
}})();
</script>
</body></html>
"""
