"""Dense clips, soft targets, peak picking with temporal NMS, and which clips training learns from."""

import numpy as np
import pytest

from automl_video.data import dataset as ds
from automl_video.data.dataset import Split
from automl_video.data.importer import import_data
from automl_video.tasks.action_recognition.annotations import ActionAnnotation
from automl_video.tasks.action_recognition.examples import BACKGROUND, split_examples
from automl_video.tasks.action_recognition.timeline import (
    CLIP_SECONDS,
    NMS_SECONDS,
    STRIDE_SECONDS,
    TARGET_SIGMA_SECONDS,
    TRAINING_STRIDE_SECONDS,
    TrueAction,
    clip_spans,
    pick_moments,
    soft_targets,
    video_truth,
)


def test_clip_spans_cover_the_span_on_the_stride():
    spans = clip_spans(0.0, 3.0)
    assert spans[0] == (0.0, CLIP_SECONDS) and spans[-1] == (2.0, 3.0)
    assert np.allclose(np.diff([s for s, _ in spans]), STRIDE_SECONDS) and len(spans) == 9
    assert all(end - start == pytest.approx(CLIP_SECONDS) for start, end in spans)
    assert clip_spans(1.0, 1.6) == [(1.0, 1.6)]  # shorter than a clip: one clip of the whole span
    assert len(clip_spans(0.0, 3.0, TRAINING_STRIDE_SECONDS)) == 17


def test_soft_targets_peak_at_the_moment_and_leave_the_rest_to_the_background():
    actions = [TrueAction(0, 2.0, 2.0), TrueAction(1, 2.1, 2.1), TrueAction(0, 4.0, 5.0)]
    at_moment = soft_targets(2.0, actions, 2)
    assert at_moment.sum() == pytest.approx(1.0)  # two labels together: scaled to leave no background
    assert at_moment[0] > at_moment[1]
    assert soft_targets(2.0 + TARGET_SIGMA_SECONDS, actions[:1], 2)[0] == pytest.approx(np.exp(-0.5))
    assert soft_targets(4.5, actions, 2)[0] == 1.0  # inside a segment
    assert soft_targets(10.0, actions, 2).tolist() == [0.0, 0.0]


def test_pick_moments_peaks_per_label_parabola_and_nms():
    centres = np.arange(0.0, 6.0, 0.25)
    scores = np.zeros((len(centres), 2))
    scores[:, 0] = np.exp(-((centres - 1.6) ** 2) / 0.08) * 0.9  # a peak between two centres
    scores[:, 0] += np.exp(-((centres - 2.3) ** 2) / 0.01) * 0.5  # a weaker one 0.7 s later: suppressed
    scores[:, 0] += np.exp(-((centres - 4.5) ** 2) / 0.08) * 0.6
    scores[:, 1] = 0.01
    scores[10, 1] = 0.4  # label 1: one spike at 2.5 s (a plateau elsewhere has no peak)
    moments = pick_moments(centres, scores)
    label0 = [m for m in moments if m.label == 0]
    assert [m.confidence for m in label0] == pytest.approx([0.9 * np.exp(-0.01 / 0.08), 0.6], abs=1e-3)
    assert label0[0].time == pytest.approx(1.6, abs=0.03)  # closer than the 0.25 s grid
    assert label0[1].time == pytest.approx(4.5, abs=0.01)
    assert all(abs(a.time - b.time) >= NMS_SECONDS for a in label0 for b in label0 if a is not b)
    label1 = [m for m in moments if m.label == 1]
    assert [(m.time, m.confidence) for m in label1] == [(0.0, 0.01), (2.5, 0.4)]  # the first centre is a peak too
    assert [m.time for m in moments] == sorted(m.time for m in moments)
    assert [m.label for m in pick_moments(centres, scores, threshold=0.5)] == [0, 0]


def test_a_video_without_stretches_is_annotated_as_a_whole():
    moment = ActionAnnotation("jump", 1.0, 1.0)
    truth = video_truth("v", 5.0, [moment], {"jump": 0})
    assert truth.annotated == ((0.0, 5.0),) and truth.actions == (TrueAction(0, 1.0, 1.0),)
    truth = video_truth("v", 5.0, [moment, ActionAnnotation("", 0.5, 2.0)], {"jump": 0})
    assert truth.annotated == ((0.5, 2.0),) and truth.is_annotated(1.5) and not truth.is_annotated(3.0)


def test_training_negatives_come_only_from_fully_annotated_stretches(action_synth, tmp_path):
    """A video annotated only over [0, 1.5): clips centred after it are kept only near an action."""
    dataset_uri = str(tmp_path / "dataset")
    video = action_synth.videos[0]
    source = tmp_path / "rows.csv"
    source.write_text(f"TRAIN,{tmp_path / 'listed.csv'}\nTEST,{tmp_path / 'test.csv'}\n")
    (tmp_path / "listed.csv").write_text(f"{video},,0,1.5\n{video},jump,2.4,2.4\n")
    (tmp_path / "test.csv").write_text(f"{action_synth.videos[1]},spin,1,1\n")
    import_data([str(source)], dataset_uri, prediction_type="action_recognition")
    dataset = ds.load(dataset_uri)
    dataset.videos[0].split = Split.TRAIN
    examples = split_examples(dataset, Split.TRAIN, ["jump", "spin"])
    centres = [(e.start + e.end) / 2 for e in examples]
    assert all(c <= 1.5 or abs(c - 2.4) < 0.6 for c in centres)
    assert any(c > 1.5 for c in centres) and max(e.targets[0] for e in examples) > 0.9
    assert all(e.kind != BACKGROUND or c <= 1.5 for e, c in zip(examples, centres))
    assert max(np.diff(centres)) > 2 * TRAINING_STRIDE_SECONDS  # the clips left out after the stretch

    dataset.videos[0].split = Split.VALIDATION  # VALIDATION: every prediction clip, with the truth
    validation = split_examples(dataset, Split.VALIDATION, ["jump", "spin"])
    assert [(e.start, e.end) for e in validation] == clip_spans(0.0, dataset.videos[0].duration)
    assert validation[0].truth.annotated == ((0.0, 1.5),)
