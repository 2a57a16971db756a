"""Long TRAIN segments give clips across their length, weighted to one segment's worth (issue 19).

Before, a segment was one example whatever its length: its training clip spread the ``2T`` cached
frames evenly over the whole segment (``video.sample_times``), so a 1-minute segment gave one clip with
8 frames 7.5 s apart, and counted as much as a 1 s segment.
"""

import numpy as np
import pytest

from automl_video import synth
from automl_video.data.dataset import AnnotationSpec, Dataset, Video
from automl_video.modeling.metadata import InputSpec
from automl_video.tasks.classification.annotations import MAX_CLIP_SECONDS, Segment
from automl_video.tasks.classification.examples import training_examples
from automl_video.training.augmentation import training_dataset
from automl_video.training.clip_cache import ClipStore

LABELS = ["long", "short"]


def _video(name: str, uri: str, duration: float, segments: list[tuple[str, float, float]], split: str) -> Video:
    return Video(
        name,
        uri,
        name * 8,
        duration,
        "TRAIN",
        [Segment(label, start, end) for label, start, end in segments],
        split=split,
    )


def _dataset(*videos: Video) -> Dataset:
    return Dataset(annotation_specs=[AnnotationSpec(str(i + 1), n) for i, n in enumerate(LABELS)], videos=list(videos))


def test_a_one_minute_segment_trains_as_clips_across_its_length_weighing_one_segment():
    dataset = _dataset(
        _video("a", "/v/a.mp4", 60.0, [("long", 0.0, 60.0)], "TRAIN"),
        _video("b", "/v/b.mp4", 8.0, [("short", float(t), t + 1.0) for t in range(8)], "TRAIN"),
        _video("c", "/v/c.mp4", 60.0, [("long", 0.0, 60.0)], "VALIDATION"),
    )

    train = training_examples(dataset, "TRAIN", LABELS)

    long = [e for e in train if e.video_uri == "/v/a.mp4"]
    assert len(long) == 60  # clips of the median segment, 1 s, tiling the minute
    np.testing.assert_allclose([(e.start, e.end) for e in long], [(t, t + 1.0) for t in range(60)])
    assert all(e.targets.tolist() == [1, 0] for e in long)
    assert sum(e.weight for e in long) == pytest.approx(1.0)  # one segment's worth
    short = [e for e in train if e.video_uri == "/v/b.mp4"]
    assert [(e.start, e.end, e.weight) for e in short] == [(t, t + 1.0, 1.0) for t in range(8)]
    # VALIDATION scores a segment as evaluation and prediction do: once, over its whole span.
    assert [(e.start, e.end, e.weight) for e in training_examples(dataset, "VALIDATION", LABELS)] == [(0.0, 60.0, 1.0)]


def test_clips_are_at_most_max_clip_seconds_long_and_segments_under_two_clips_stay_whole():
    dataset = _dataset(
        _video("a", "/v/a.mp4", 60.0, [("long", 0.0, 60.0)], "TRAIN"),
        _video("b", "/v/b.mp4", 60.0, [("long", 0.0, 60.0)], "TRAIN"),
        _video("c", "/v/c.mp4", 9.0, [("short", 0.0, 9.0)], "TRAIN"),
    )

    train = training_examples(dataset, "TRAIN", LABELS)

    clips = [e for e in train if e.video_uri == "/v/a.mp4"]
    assert len(clips) == 60 / MAX_CLIP_SECONDS == 12  # the median (60 s) is over the cap
    assert all(e.end - e.start == pytest.approx(MAX_CLIP_SECONDS) for e in clips)
    assert [(e.start, e.end, e.weight) for e in train if e.video_uri == "/v/c.mp4"] == [(0.0, 9.0, 1.0)]


def test_the_weights_reach_the_training_batches(tmp_path):
    """Real decoded clips of generated videos: each batch carries the clips' weights, mixed like their
    targets (a clip blended with its mirror in the batch), so the long segment's clips weigh less."""
    long_uri = synth.make_motion_video(str(tmp_path / "long.mp4"), "left_to_right", seconds=12.0, seed=1)
    short_uri = synth.make_motion_video(str(tmp_path / "short.mp4"), "right_to_left", seconds=4.0, seed=2)
    dataset = _dataset(
        _video("a", long_uri, 12.0, [("long", 0.0, 12.0)], "TRAIN"),
        _video("b", short_uri, 4.0, [("short", float(t), t + 1.0) for t in range(4)], "TRAIN"),
    )
    examples = training_examples(dataset, "TRAIN", LABELS)
    store = ClipStore(InputSpec(4, 32, 32), cache_dir=str(tmp_path / "cache"))
    assert store.prepare(examples, training=True) == []

    batches = list(training_dataset(store, examples, batch_size=8, seed=0, epoch=0))

    weights = np.concatenate([b[2].numpy() for b in batches])
    targets = np.concatenate([b[1].numpy() for b in batches])
    assert len(weights) == len(examples) == 12 + 4
    assert np.all((weights >= 1 / 12 - 1e-6) & (weights <= 1 + 1e-6)) and weights.min() < 0.5
    # Where a mix is mostly a long-segment clip (its "long" target high), its weight is low.
    mostly_long = targets[:, 0] > 0.9
    assert mostly_long.any() and np.all(weights[mostly_long] < 0.2)
