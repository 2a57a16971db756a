"""The evaluation report: one self-contained HTML page with the headline numbers, a per-label table,
track quality and sample TEST frames, true boxes (green, dashed) drawn beside the predicted ones (red,
with label, score and track id).

Everything is inline (CSS, the frames as PNG data URIs under SVG boxes), so the page opens from a
bucket, a KFP artifact or a laptop with no network.
"""

import base64
import html
from dataclasses import dataclass

import numpy as np

from automl_video.data.dataset import AnnotationSpec
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


def render_report(
    summary,
    samples: list[SampleFrame],
    specs: list[AnnotationSpec],
    model_uri: str,
    dataset_uri: str,
    model_type: str,
    create_time: str,
) -> str:
    """The report page (``summary``: the evaluation's :class:`.evaluation.TrackingSummary`)."""
    label_rows = "\n".join(
        f"<tr><td>{html.escape(label.display_name)}</td><td class='num'>{label.bounding_box_count}</td>"
        f"<td class='num'>{label.box_map_50:.3f}</td><td class='num'>{label.precision:.3f}</td>"
        f"<td class='num'>{label.recall:.3f}</td></tr>"
        for label in summary.labels
    )
    return _PAGE.format(
        title=html.escape(f"Evaluation of {model_uri}"),
        model_uri=html.escape(model_uri),
        dataset_uri=html.escape(dataset_uri),
        model_type=html.escape(model_type),
        create_time=html.escape(create_time),
        frames=summary.evaluated_frame_count,
        boxes=summary.evaluated_bounding_box_count,
        box_map_50=summary.box_map_50,
        box_map=summary.box_map,
        precision=summary.precision,
        recall=summary.recall,
        mean_track_iou=summary.mean_track_iou,
        id_switches=summary.id_switches,
        id_switches_per_track=summary.id_switches_per_track,
        mismatch_rate=summary.mismatch_rate,
        label_rows=label_rows,
        samples="\n".join(_sample_html(s, specs) for s in samples),
        low_score=LOW_SCORE,
    )


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 0.3em 0.7em; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.headline {{ font-size: 1.4em; }}
figure {{ display: inline-block; margin: 0.5em; }}
figcaption {{ font-size: 0.8em; color: #555; max-width: 320px; }}
rect.truth {{ fill: none; stroke: #0a0; stroke-width: 0.008; stroke-dasharray: 0.02 0.01; }}
g.predicted rect {{ fill: none; stroke: #d00; stroke-width: 0.006; }}
g.predicted text {{ font-size: 0.035px; fill: #d00; }}
g.low {{ opacity: 0.35; }}
</style></head><body>
<h1>Object tracking evaluation</h1>
<p>Model <code>{model_uri}</code> ({model_type}) on the TEST split of <code>{dataset_uri}</code>, {create_time}.</p>
<p class="headline">Box mAP at IoU 0.5: <b>{box_map_50:.3f}</b> &middot; over IoU 0.05&ndash;0.99: {box_map:.3f}</p>
<p>{frames} labelled TEST frames, {boxes} true boxes. At IoU 0.5 and confidence 0.5: precision {precision:.3f},
recall {recall:.3f}.</p>
<p>Tracks: mean box IoU along true instances {mean_track_iou:.3f}; {id_switches} ID switches
({id_switches_per_track:.3f} per track, mismatch rate {mismatch_rate:.4f}).</p>
<table><thead><tr><th>label</th><th>true boxes</th><th>mAP@0.5</th><th>precision</th><th>recall</th></tr></thead>
<tbody>
{label_rows}
</tbody></table>
<h2>Sample TEST frames</h2>
<p>True boxes dashed green, predicted boxes red (label, score, track id); faint below a score of {low_score}.</p>
{samples}
</body></html>
"""
