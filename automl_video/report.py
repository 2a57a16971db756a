"""The one template of every evaluation report: a self-contained HTML page like AutoML's Evaluate tab.

Each prediction type (``automl_video/tasks/<type>/report.py``) writes only its sections and a short
init script; this module gives them the page (header, model and dataset, the look), the figures and
the behaviour they share, so the three reports read and work alike:

- :func:`render_page` wraps the sections with the CSS and the ``AV`` script library; the task's data
  travels as JSON in ``<script id="evaluation-data">``.
- ``AV.chart(svg, options)`` draws a 0..1 × 0..1 chart with ticks every 0.2, a grid, axis titles, a
  legend, line or *step* series (the step precision-recall curve is the one AU-PRC integrates:
  Σ (Rₖ − Rₖ₋₁)·Pₖ) and markers the page moves (the current threshold).
- Every ``table.sortable`` sorts on a click (or Enter) on a header, numerically where the cells are
  numbers (``data-value`` when the shown text is not the sort key).
- ``AV.prChart(svg, curve)`` draws a curve's step precision-recall curve and
  ``AV.thresholdChart(svg, thresholds, curve)`` its precision and recall against the threshold; the
  ``show(i)`` of each marks threshold ``i`` on it. ``AV.fillRows(curves, i)`` writes each label row's
  precision, recall and F1 (cells ``.p``, ``.r``, ``.f``) at threshold ``i``.
- ``AV.labelPicker(select, onChange)`` ties a ``<select>`` to the ``tr[data-label]`` rows of the
  tables: clicking a row selects its label, and the row is marked. :func:`label_select_html` and
  :func:`threshold_slider_html` are the controls the scripts expect (``#label``, ``#slider``);
  :func:`threshold_view_html` lays them out above the two charts (classification, object tracking).
- :func:`confusion_matrix_html`: counts with row percentages, each cell's text black or white,
  whichever contrasts more with its shade (WCAG AA: at least 4.5:1 on every shade).

Nothing is fetched (no CDN, no fonts): the page opens from a bucket, a laptop with no network or the
KFP UI's sandboxed iframe (scripts allowed, no same-origin, no storage).
"""

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from automl_video.confidence import CONFIDENCE_THRESHOLDS

# The darkest confusion-matrix shade (Google Blue 800); lighter ones blend it with white.
_SHADE_RGB = (0x17, 0x4E, 0xA6)


@dataclass
class ReportContext:
    """What the page says about where the numbers come from."""

    model_uri: str
    dataset_uri: str
    model_type: str
    create_time: str


@dataclass
class Card:
    """A headline number: its text, what it is, and the element id the page script updates (if any)."""

    value: str
    caption: str
    element_id: str = ""


def cards_html(cards: Sequence[Card]) -> str:
    """A row of headline numbers."""
    items = "".join(
        f'<div class="card"><div class="v"{_id_attribute(c.element_id)}>{html.escape(c.value)}</div>'
        f'<div class="k">{html.escape(c.caption)}</div></div>'
        for c in cards
    )
    return f'<div class="cards">{items}</div>'


def _id_attribute(element_id: str) -> str:
    return f' id="{html.escape(element_id)}"' if element_id else ""


def label_select_html(display_names: Sequence[str], first_option: str) -> str:
    """The label picker ``<select id="label">``: ``first_option`` (value "") then each label by index."""
    options = "".join(f'<option value="{i}">{html.escape(name)}</option>' for i, name in enumerate(display_names))
    return f'<select id="label"><option value="">{html.escape(first_option)}</option>{options}</select>'


def threshold_slider_html() -> str:
    """The slider ``<input id="slider">`` over the indices of the AutoML confidence thresholds."""
    return (
        f'<input type="range" id="slider" min="0" max="{len(CONFIDENCE_THRESHOLDS) - 1}" step="1" '
        'aria-label="confidence threshold">'
    )


@dataclass
class ThresholdCharts:
    """What a page's two threshold charts say: the PR curve's title and note, and the by-threshold note."""

    pr_title: str
    pr_note: str
    threshold_note: str


def threshold_view_html(
    display_names: Sequence[str], all_labels: str, cards: str, threshold_cards: str, charts: ThresholdCharts
) -> str:
    """The top of an Evaluate tab: the label picker (``all_labels`` its first option), the headline
    ``cards``, the threshold slider with its ``threshold_cards``, and the two charts the scripts draw
    (``#pr`` with :func:`AV.prChart`, ``#by-threshold`` with :func:`AV.thresholdChart`)."""
    return f"""
<p>Label: {label_select_html(display_names, all_labels)}
<span class="note">or click a row of the table below</span></p>
{cards}
<h2>Confidence threshold: <span id="threshold"></span></h2>
{threshold_slider_html()}
{threshold_cards}
<div class="figures">
<div class="figure"><h2>{html.escape(charts.pr_title)}</h2>
<svg id="pr" width="360" height="306" role="img" aria-label="{html.escape(charts.pr_title.lower())}"></svg>
<p class="note">{charts.pr_note}</p></div>
<div class="figure"><h2>Precision and recall by threshold</h2>
<svg id="by-threshold" width="360" height="306" role="img" aria-label="precision and recall by threshold"></svg>
<p class="note">{charts.threshold_note}</p></div>
</div>"""


def render_page(
    heading: str, context: ReportContext, sections: str, data: dict[str, Any] | None = None, script: str = ""
) -> str:
    """The report page.

    Args:
        heading: the page's title line (e.g. "Model evaluation: classification").
        context: model and dataset the evaluation is of.
        sections: the task's HTML, after the header.
        data: JSON the script reads as ``AV.data``.
        script: the task's init script (runs after the ``AV`` library is defined).

    Returns:
        The HTML document.
    """
    # "</" would end the <script> element early if a label contained "</script>".
    data_json = json.dumps(data or {}).replace("</", "<\\/")
    return _PAGE.format(
        title=html.escape(f"{heading}: {context.model_uri}"),
        heading=html.escape(heading),
        model_uri=html.escape(context.model_uri),
        dataset_uri=html.escape(context.dataset_uri),
        model_type=html.escape(context.model_type),
        create_time=html.escape(context.create_time),
        sections=sections,
        data_json=data_json,
        library=_LIBRARY,
        script=script,
    )


def confusion_matrix_html(display_names: Sequence[str], rows: Sequence[Sequence[int]], caption: str) -> str:
    """The confusion matrix: counts and row percentages, shaded by the row share, text in AA contrast."""
    header = "".join(f'<th scope="col">{html.escape(name)}</th>' for name in display_names)
    body = []
    for name, row in zip(display_names, rows):
        total = sum(row)
        cells = []
        for count in row:
            share = count / total if total else 0.0
            background, text = cell_colours(share)
            cells.append(
                f'<td class="num" style="background:{background};color:{text}" data-count="{count}">'
                f'{count}<span class="pct">{100 * share:.0f}%</span></td>'
            )
        body.append(f'<tr><th scope="row">{html.escape(name)}</th>{"".join(cells)}</tr>')
    return (
        f'<table class="cm"><caption>{html.escape(caption)}</caption>'
        f'<tr><th scope="col">true \\ predicted</th>{header}</tr>{"".join(body)}</table>'
    )


def cell_colours(share: float) -> tuple[str, str]:
    """The background of a matrix cell of this row share, and the text colour (black or white) that
    contrasts more with it: never under 4.58:1, since black and white tie at luminance 0.179."""
    rgb = tuple(round(255 + (channel - 255) * share) for channel in _SHADE_RGB)
    luminance = relative_luminance(rgb)
    on_black, on_white = (luminance + 0.05) / 0.05, 1.05 / (luminance + 0.05)
    return "#{:02x}{:02x}{:02x}".format(*rgb), "#000000" if on_black >= on_white else "#ffffff"


def relative_luminance(rgb: Sequence[int]) -> float:
    """WCAG 2 relative luminance of an sRGB colour (0..255 channels)."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#202124;max-width:1040px}}
h1{{font-size:20px}} h2{{font-size:16px;margin-top:28px}}
.meta td{{padding:2px 12px 2px 0;color:#5f6368;border:0}}
.cards{{display:flex;gap:16px;flex-wrap:wrap;margin:12px 0}}
.card{{border:1px solid #dadce0;border-radius:8px;padding:12px 16px;min-width:120px}}
.card .v{{font-size:22px;font-weight:600}} .card .k{{color:#5f6368;font-size:12px}}
table{{border-collapse:collapse;margin:8px 0}} td,th{{border-bottom:1px solid #e8eaed;padding:4px 10px;text-align:left}}
caption{{caption-side:bottom;text-align:left;color:#5f6368;font-size:12px;padding-top:6px}}
.num{{text-align:right;font-variant-numeric:tabular-nums}}
table.sortable th{{cursor:pointer;user-select:none}} table.sortable th:hover{{background:#f1f3f4}}
th[aria-sort=ascending]::after{{content:" \\25B2";font-size:10px}} th[aria-sort=descending]::after{{content:" \\25BC";font-size:10px}}
tr[data-label]{{cursor:pointer}} tr[data-label]:hover{{background:#f8f9fa}}
tr.selected,tr.selected:hover{{background:#e8f0fe}}
.cm td{{border:1px solid #fff;min-width:64px;padding:6px 10px}} .cm .pct{{display:block;font-size:11px}}
.note{{color:#5f6368;font-size:12px}} .warning{{border-left:4px solid #f9ab00;padding:6px 12px;background:#fef7e0}}
.figures{{display:flex;gap:24px;flex-wrap:wrap}} .figure{{font-size:12px;max-width:380px}}
svg.chart text{{font-size:11px;fill:#3c4043}} svg.chart .grid{{stroke:#e8eaed}} svg.chart .axis{{stroke:#5f6368}}
#slider{{width:320px;vertical-align:middle}} select{{font:inherit}}
</style></head>
<body>
<h1>{heading}</h1>
<table class="meta">
<tr><td>Model</td><td>{model_uri}</td></tr><tr><td>Model type</td><td>{model_type}</td></tr>
<tr><td>Dataset (TEST split)</td><td>{dataset_uri}</td></tr><tr><td>Evaluated</td><td>{create_time}</td></tr>
</table>
{sections}
<script id="evaluation-data" type="application/json">{data_json}</script>
<script>
{library}
</script>
<script>
(function() {{
{script}
}})();
</script>
</body></html>
"""

# Plain ES5 and no template strings, so the Python format braces stay the JS object braces.
_LIBRARY = """var AV = (function() {
  var NS = "http://www.w3.org/2000/svg", W = 300, H = 240, LEFT = 44, TOP = 10;
  var data = JSON.parse(document.getElementById("evaluation-data").textContent);
  function add(parent, name, attrs, text) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    parent.appendChild(node); return node;
  }
  function px(x) { return LEFT + W * x; }
  function py(y) { return TOP + H * (1 - y); }
  // A 0..1 x 0..1 chart: grid and ticks every 0.2, axis titles, a legend; series are
  // {x: [...], y: [...], colour, name, step (draw Σ ΔR·P's steps), dash}. Returns {marker, vline}.
  function chart(svg, options) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute("viewBox", "0 0 " + (LEFT + W + 16) + " " + (TOP + H + 56));
    svg.setAttribute("class", "chart");
    for (var t = 0; t <= 5; t++) {
      var v = t / 5;
      add(svg, "line", {x1: px(v), y1: py(0), x2: px(v), y2: py(1), "class": "grid"});
      add(svg, "line", {x1: px(0), y1: py(v), x2: px(1), y2: py(v), "class": "grid"});
      add(svg, "text", {x: px(v), y: py(0) + 16, "text-anchor": "middle", "class": "tick-x"}, v.toFixed(1));
      add(svg, "text", {x: px(0) - 6, y: py(v) + 4, "text-anchor": "end", "class": "tick-y"}, v.toFixed(1));
    }
    add(svg, "rect", {x: px(0), y: py(1), width: W, height: H, fill: "none", "class": "axis"});
    add(svg, "text", {x: px(0.5), y: py(0) + 34, "text-anchor": "middle", "class": "axis-title"}, options.xLabel);
    add(svg, "text", {x: 12, y: py(0.5), "text-anchor": "middle", "class": "axis-title",
      transform: "rotate(-90 12 " + py(0.5) + ")"}, options.yLabel);
    var legendX = px(0);
    options.series.forEach(function(s) {
      var d = "";
      if (s.step) {
        d = "M" + px(0) + "," + py(s.y.length ? s.y[0] : 1);
        for (var i = 0; i < s.x.length; i++) d += " V" + py(s.y[i]) + " H" + px(s.x[i]);
      } else {
        for (var j = 0; j < s.x.length; j++) d += (j ? " L" : "M") + px(s.x[j]) + "," + py(s.y[j]);
      }
      add(svg, "path", {d: d, fill: "none", stroke: s.colour, "stroke-width": 2,
        "stroke-dasharray": s.dash || "none", "class": "series", "data-name": s.name});
      add(svg, "rect", {x: legendX, y: py(0) + 44, width: 10, height: 10, fill: s.colour});
      add(svg, "text", {x: legendX + 14, y: py(0) + 53}, s.name);
      legendX += 24 + 7 * s.name.length;
    });
    var vline = add(svg, "line", {y1: py(0), y2: py(1), stroke: "#5f6368", "stroke-dasharray": "3 3",
      visibility: "hidden"});
    var markers = [];
    return {
      // Put marker k (created on first use) at (x, y).
      marker: function(k, x, y, colour) {
        if (!markers[k]) markers[k] = add(svg, "circle", {r: 5, fill: colour || "#d93025", "class": "marker"});
        markers[k].setAttribute("cx", px(x)); markers[k].setAttribute("cy", py(y));
      },
      vline: function(x) {
        vline.setAttribute("x1", px(x)); vline.setAttribute("x2", px(x)); vline.setAttribute("visibility", "visible");
      }
    };
  }
  // The step curve {stepRecall, stepPrecision, name}; show(i) marks (recall[i], precision[i]).
  function prChart(svg, curve) {
    var c = chart(svg, {xLabel: "Recall", yLabel: "Precision",
      series: [{x: curve.stepRecall, y: curve.stepPrecision, colour: "#1a73e8", name: curve.name, step: true}]});
    return {show: function(i) { c.marker(0, curve.recall[i], curve.precision[i]); }};
  }
  // Precision and recall ({precision: [...], recall: [...]}) against the threshold; show(i) marks thresholds[i].
  function thresholdChart(svg, thresholds, curve) {
    var c = chart(svg, {xLabel: "Confidence threshold", yLabel: "Precision, recall", series: [
      {x: thresholds, y: curve.precision, colour: "#1a73e8", name: "Precision"},
      {x: thresholds, y: curve.recall, colour: "#d93025", name: "Recall", dash: "6 3"}]});
    return {show: function(i) {
      c.vline(thresholds[i]);
      c.marker(0, thresholds[i], curve.precision[i], "#1a73e8");
      c.marker(1, thresholds[i], curve.recall[i], "#d93025");
    }};
  }
  // Row tr[data-label=j] shows curves[j]'s precision, recall and F1 at threshold i (in its .p, .r, .f cells).
  function fillRows(curves, i) {
    curves.forEach(function(curve, j) {
      var row = document.querySelector('tr[data-label="' + j + '"]');
      [["p", "precision"], ["r", "recall"], ["f", "f1"]].forEach(function(pair) {
        var cell = row.querySelector("." + pair[0]);
        if (cell) cell.textContent = fmt(curve[pair[1]][i]);
      });
    });
  }
  function fmt(x) { return x.toFixed(3); }
  function sortable(table) {
    var headers = table.querySelectorAll("tr:first-child th");
    headers.forEach(function(th, column) {
      th.tabIndex = 0;
      function sort() {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function(other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(table.querySelectorAll("tr")).slice(1);
        function key(row) {
          var cell = row.children[column], raw = cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent;
          var number = parseFloat(raw);
          return isNaN(number) ? raw.toLowerCase() : number;
        }
        rows.sort(function(a, b) {
          var x = key(a), y = key(b);
          return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
        });
        rows.forEach(function(row) { row.parentNode.appendChild(row); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function(e) { if (e.key === "Enter") sort(); });
    });
  }
  // The <select>'s value is "" (all labels) or a label's index; rows tr[data-label] select theirs.
  function labelPicker(select, onChange) {
    function mark() {
      document.querySelectorAll("tr[data-label]").forEach(function(row) {
        row.classList.toggle("selected", row.dataset.label === select.value);
      });
    }
    select.addEventListener("change", function() { mark(); onChange(); });
    document.querySelectorAll("tr[data-label]").forEach(function(row) {
      row.addEventListener("click", function() {
        select.value = select.value === row.dataset.label ? "" : row.dataset.label;
        mark(); onChange();
      });
    });
    mark();
  }
  document.querySelectorAll("table.sortable").forEach(sortable);
  return {data: data, chart: chart, prChart: prChart, thresholdChart: thresholdChart, fillRows: fillRows,
    labelPicker: labelPicker, fmt: fmt};
})();"""
