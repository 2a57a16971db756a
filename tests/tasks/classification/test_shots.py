"""Shot (hard cut) detection on real encoded videos with known cuts, and on frames built to fool it."""

import numpy as np
import pytest

from automl_video import synth
from automl_video.tasks.classification import shots
from automl_video.video import VideoReader
from tests.tasks.classification import cut_scoring

# (seconds, fps, cut times, seed): cuts at various rates, gaps down to the detector's minimum shot length.
CUT_VIDEOS = [
    (8.0, 15, [1.0, 2.5, 5.0, 7.2], 1),
    (8.0, 25, [0.6, 3.3, 3.9, 6.1], 2),
    (8.0, 30, [2.0, 4.4, 6.8], 3),
    (6.0, 24, [0.8, 1.6, 2.4, 4.9], 4),
]
# Frames the prediction pipeline feeds the detector are the model's input size; full size is checked too.
SIZES = [None, (64, 64)]


@pytest.fixture(scope="module")
def cut_videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cuts")
    videos = []
    for index, (seconds, fps, cuts, seed) in enumerate(CUT_VIDEOS):
        path = str(folder / f"cuts{index}.mp4")
        actual = synth.make_cut_video(path, cuts, seconds, fps=fps, seed=seed)
        videos.append((path, fps, actual))
    return videos


@pytest.mark.parametrize("size", SIZES, ids=["full_size", "64x64"])
def test_cut_detection_precision_and_recall_on_synthetic_cuts(cut_videos, size):
    total = cut_scoring.CutDetectionScore(0, 0, 0)
    for path, fps, expected in cut_videos:
        with VideoReader(path) as reader:
            detected = cut_scoring.detect_cuts(reader.frames(size=size))
        score = cut_scoring.score_cuts(detected, expected, tolerance=1.01 / fps)
        total = cut_scoring.CutDetectionScore(
            total.true_positives + score.true_positives,
            total.false_positives + score.false_positives,
            total.false_negatives + score.false_negatives,
        )
    where = size or "full size"
    print(f"cut detection at {where}: precision {total.precision:.3f} recall {total.recall:.3f} ({total})")
    assert total.true_positives + total.false_negatives == sum(len(v[2]) for v in cut_videos)
    assert total.precision >= 0.95
    assert total.recall >= 0.95


def test_motion_and_object_jumps_are_not_cuts(synth_small):
    """Moving objects, and videos whose object jumps to a new track half-way, stay one shot."""
    false_cuts = []
    for path in synth_small.videos:
        with VideoReader(path) as reader:
            found = cut_scoring.detect_cuts(reader.frames(size=(64, 64)))
        false_cuts += [(path, t) for t in found]
    assert false_cuts == []


def _scene(colour, noise_rng=None, noise=0, size=48):
    frame = np.empty((size, size, 3), np.uint8)
    frame[:] = colour
    if noise_rng is not None:
        frame = np.clip(frame + noise_rng.integers(-noise, noise + 1, frame.shape), 0, 255).astype(np.uint8)
    return frame


def test_a_single_flash_frame_is_not_a_cut_but_a_scene_change_is():
    frames = [_scene((60, 90, 120)) for _ in range(20)]
    frames[8] = _scene((250, 250, 250))  # one-frame flash
    frames += [_scene((200, 40, 40)) for _ in range(20)]  # hard cut at frame 20
    cuts = cut_scoring.detect_cuts((i / 10, f) for i, f in enumerate(frames))
    assert cuts == [pytest.approx(2.0)]


def test_threshold_adapts_to_busy_footage():
    """Heavy frame-to-frame noise raises the threshold; a real change of scene still clears it."""
    rng = np.random.default_rng(0)
    busy = [_scene((120, 120, 120), rng, noise=60) for _ in range(40)]
    calm_other_scene = [_scene((20, 200, 60), rng, noise=3) for _ in range(20)]
    busy_cuts = cut_scoring.detect_cuts((i / 25, f) for i, f in enumerate(busy))
    assert busy_cuts == []
    cuts = cut_scoring.detect_cuts((i / 25, f) for i, f in enumerate(busy + calm_other_scene))
    assert cuts == [pytest.approx(40 / 25)]


def test_cuts_closer_than_the_minimum_shot_length_merge():
    colours = [(10, 10, 200)] * 10 + [(200, 10, 10)] * 2 + [(10, 200, 10)] * 10
    frames = [_scene(c) for c in colours]
    config = shots.ShotDetectorConfig(min_shot_seconds=0.5)
    cuts = cut_scoring.detect_cuts(((i / 10, f) for i, f in enumerate(frames)), config)
    assert cuts == [pytest.approx(1.0)]  # the 0.2 s shot is too short to start another one


def test_shots_from_cuts_partition_the_span():
    assert cut_scoring.shots_from_cuts([1.0, 2.5, 9.0], 0.5, 4.0) == [(0.5, 1.0), (1.0, 2.5), (2.5, 4.0)]
    assert cut_scoring.shots_from_cuts([], 0.0, 3.0) == [(0.0, 3.0)]


def test_score_cuts_counts_each_detection_once():
    score = cut_scoring.score_cuts([1.0, 1.02, 3.0], [1.01, 2.0], tolerance=0.05)
    assert (score.true_positives, score.false_positives, score.false_negatives) == (1, 2, 1)
    assert score.precision == pytest.approx(1 / 3)
    assert score.recall == pytest.approx(0.5)


def test_batched_features_are_each_frames_own_and_match_their_definition():
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (72, 100, 3), dtype=np.uint8) for _ in range(5)]  # subsampled by 2
    histograms, thumbnails = shots.frame_features(frames)

    for frame, histogram, thumbnail in zip(frames, histograms, thumbnails):
        alone_histogram, alone_thumbnail = shots.frame_features([frame])
        np.testing.assert_array_equal(alone_histogram[0], histogram)
        np.testing.assert_array_equal(alone_thumbnail[0], thumbnail)
        small = frame[::2, ::2].astype(int)  # 36x50: 16x16 cells of 2x3 pixels, the rest cropped
        bins = (small[..., 0] >> 5) * 64 + (small[..., 1] >> 5) * 8 + (small[..., 2] >> 5)
        np.testing.assert_allclose(histogram, np.bincount(bins.ravel(), minlength=512) / bins.size, rtol=1e-6)
        grey = small[:32, :48].reshape(16, 2, 16, 3, 3).mean(axis=(1, 3, 4)) / 255
        np.testing.assert_allclose(thumbnail, grey, rtol=1e-6)


@pytest.mark.parametrize("batch", [1, 7, 1000])
def test_cuts_do_not_depend_on_how_frames_are_batched(cut_videos, batch):
    path, _, _ = cut_videos[1]
    with VideoReader(path) as reader:
        frames = list(reader.frames(size=(64, 64)))
    detector = shots.ShotDetector()
    cuts = []
    for first in range(0, len(frames), batch):
        chunk = frames[first : first + batch]
        cuts += detector.add([t for t, _ in chunk], [f for _, f in chunk])
    assert cuts + detector.finish() == cut_scoring.detect_cuts(frames) != []
