"""The object tracking evaluation report, on the shared template (:mod:`automl_video.report`): the
headline numbers, a sortable per-label table, track quality and sample TEST frames, true boxes (green,
dashed) drawn beside the predicted ones (red, with label, score and track id).

The frames are inline PNG data URIs under SVG boxes, so the page stays one self-contained file.
"""

import base64
import html
from dataclasses import dataclass

import numpy as np

from automl_video.data.dataset import AnnotationSpec
from automl_video.report import Card, ReportContext, cards_html, render_page
from automl_video.tasks.object_tracking.metrics import EvaluatedFrame

# Frames are shown this many pixels wide (the network's input is small).
DISPLAY_WIDTH = 320
LOW_SCORE = 0.5  # predicted boxes below this score are drawn faint


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
        faint = " low" if score < LOW_SCORE else ""
        shapes.append(
            f'<g class="predicted{faint}"><rect x="{x_min:.4f}" y="{y_min:.4f}" width="{x_max - x_min:.4f}" '
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


def render_report(summary, samples: list[SampleFrame], specs: list[AnnotationSpec], context: ReportContext) -> str:
    """The report page (``summary``: the evaluation's :class:`.evaluation.TrackingSummary`)."""
    label_rows = "\n".join(
        f'<tr data-label="{i}"><td>{html.escape(label.display_name)}</td><td class="num">{label.bounding_box_count}</td>'
        f'<td class="num">{label.box_map_50:.3f}</td><td class="num">{label.precision:.3f}</td>'
        f'<td class="num">{label.recall:.3f}</td></tr>'
        for i, label in enumerate(summary.labels)
    )
    cards = cards_html(
        [
            Card(f"{summary.box_map_50:.3f}", "Box mAP at IoU 0.5"),
            Card(f"{summary.box_map:.3f}", "Box mAP over IoU 0.05-0.99"),
            Card(f"{summary.precision:.3f}", "Precision (IoU 0.5, confidence 0.5)"),
            Card(f"{summary.recall:.3f}", "Recall (IoU 0.5, confidence 0.5)"),
            Card(str(summary.evaluated_frame_count), "Labelled TEST frames"),
            Card(str(summary.evaluated_bounding_box_count), "True boxes"),
        ]
    )
    sections = f"""{cards}
<p>Tracks: mean box IoU along true instances {summary.mean_track_iou:.3f}; {summary.id_switches} ID switches
({summary.id_switches_per_track:.3f} per track, mismatch rate {summary.mismatch_rate:.4f}).</p>
<h2>Labels</h2>
<table id="labels" class="sortable"><tr><th>Label</th><th class="num">True boxes</th><th class="num">mAP@0.5</th>
<th class="num">Precision</th><th class="num">Recall</th></tr>
{label_rows}
</table>
<p class="note">Click a header to sort.</p>
<h2>Sample TEST frames</h2>
<p>True boxes dashed green, predicted boxes red (label, score, track id); faint below a score of {LOW_SCORE}.</p>
{"".join(_sample_html(s, specs) for s in samples)}
<style>
figure{{display:inline-block;margin:0.5em}} figcaption{{font-size:12px;color:#5f6368;max-width:320px}}
rect.truth{{fill:none;stroke:#0a0;stroke-width:0.008;stroke-dasharray:0.02 0.01}}
g.predicted rect{{fill:none;stroke:#d00;stroke-width:0.006}} g.predicted text{{font-size:0.035px;fill:#d00}}
g.low{{opacity:0.35}}
</style>"""
    return render_page("Model evaluation: object tracking", context, sections)
