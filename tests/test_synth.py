"""Synthetic videos: motions that mean what their names say, known cuts, long and VFR videos."""

import re

import numpy as np
import pytest

from automl_video import synth, video

LABEL_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,32}$")
TINY = dict(classes=2, videos_per_class=3, seconds=1.0, width=48, height=32, fps=10)


def test_probe_reports_the_generated_length(synth_small):
    for uri in synth_small.videos[::5]:
        info = video.probe(uri)
        assert info.duration == pytest.approx(2.0, abs=0.01)
        assert (info.width, info.height, info.fps, info.frame_count, info.codec) == (128, 128, 15.0, 30, "h264")


def _object_track(uri: str) -> np.ndarray:
    """Centroid ``[T, 2]`` (x, y) of the pixels that differ from the per-pixel median over time."""
    with video.VideoReader(uri) as reader:
        frames = np.stack([f for _, f in reader.frames()]).astype(np.float32)
    moving = np.abs(frames - np.median(frames, axis=0)).sum(-1) > 60
    ys, xs = np.mgrid[0 : frames.shape[1], 0 : frames.shape[2]]
    # Circular means: translating objects wrap around the frame edges.
    tracks = []
    for mask in moving:
        angles_x = 2 * np.pi * xs[mask] / frames.shape[2]
        angles_y = 2 * np.pi * ys[mask] / frames.shape[1]
        tracks.append((np.angle(np.exp(1j * angles_x).mean()), np.angle(np.exp(1j * angles_y).mean())))
    return np.asarray(tracks)


@pytest.mark.parametrize("motion", ["left_to_right", "right_to_left", "top_to_bottom", "bottom_to_top", "up_right"])
def test_translation_videos_move_the_way_their_label_says(tmp_path, motion):
    uri = synth.make_motion_video(str(tmp_path / "m.mp4"), motion, seconds=2.0, width=96, height=64, seed=1)
    steps = np.angle(np.exp(1j * np.diff(_object_track(uri), axis=0)))  # wrapped per-frame phase steps
    dx, dy = np.median(steps, axis=0)
    expected_dx, expected_dy = synth._TRANSLATIONS[motion]
    for step, expected in ((dx, expected_dx), (dy, expected_dy)):
        assert np.sign(np.round(step, 2)) == expected


@pytest.mark.parametrize("motion, sign", [("clockwise", 1), ("counter_clockwise", -1)])
def test_rotation_videos_turn_the_way_their_label_says(tmp_path, motion, sign):
    uri = synth.make_motion_video(str(tmp_path / "m.mp4"), motion, seconds=2.0, seed=2)
    with video.VideoReader(uri) as reader:
        frames = np.stack([f for _, f in reader.frames()]).astype(np.float32)
    moving = np.abs(frames - np.median(frames, axis=0)).sum(-1) > 60
    ys, xs = np.mgrid[0:128, 0:128]
    centroids = np.array([(xs[m].mean(), ys[m].mean()) for m in moving])
    relative = centroids - centroids.mean(axis=0)
    velocity = np.diff(relative, axis=0)
    # Image y points down, so a positive cross product is a clockwise turn on screen.
    cross = relative[:-1, 0] * velocity[:, 1] - relative[:-1, 1] * velocity[:, 0]
    assert np.sign(np.median(cross)) == sign


@pytest.mark.parametrize("pair", [synth.MOTIONS[i : i + 2] for i in range(0, len(synth.MOTIONS), 2)])
def test_each_motion_is_its_twins_time_reversal(pair):
    """Twins draw the same appearance and path, run backwards: one frame cannot tell them apart."""
    canvas = synth.Canvas(96, 64)
    forward, backward = (synth._motion_track(m, np.random.default_rng(11), canvas) for m in pair)
    for t in np.linspace(0.0, 2.0, 9):
        assert backward(t) == pytest.approx(forward(-t))
    assert forward(0.1) != pytest.approx(backward(0.1))
    if pair[0] == "growing":
        scales = [forward(t)[2] for t in np.linspace(0.0, 3.0, 61)]
        assert np.mean(np.diff(scales) > 0) > 0.9


def test_cut_video_has_hard_cuts_exactly_where_reported(tmp_path):
    cuts = synth.make_cut_video(str(tmp_path / "cuts.mp4"), [0.7, 1.5, 2.2], seconds=3.0, fps=10, width=64, height=48)
    assert cuts == pytest.approx([0.7, 1.5, 2.2])
    with video.VideoReader(str(tmp_path / "cuts.mp4")) as reader:
        timed = list(reader.frames())
    times = np.array([t for t, _ in timed])
    frames = np.stack([f for _, f in timed]).astype(np.float32)
    change = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
    cut_steps = {int(np.argmin(np.abs(times - c))) - 1 for c in cuts}
    inside = [c for i, c in enumerate(change) if i not in cut_steps]
    assert min(change[i] for i in cut_steps) > 4 * max(inside)


def test_long_video_is_cheap_and_as_long_as_asked(tmp_path):
    schedule = synth.make_long_video(str(tmp_path / "long.mp4"), seconds=120.0, fps=5, segment_seconds=30.0)
    assert [s[0] for s in schedule] == list(synth.MOTIONS[:4])
    assert schedule[-1][2] == 120.0
    assert video.probe(str(tmp_path / "long.mp4")).duration == pytest.approx(120.0, abs=0.01)


def test_make_video_needs_a_length_for_a_frame_function(tmp_path):
    with pytest.raises(ValueError, match="num_frames"):
        synth.make_video(str(tmp_path / "x.mp4"), lambda i: np.zeros((8, 8, 3), np.uint8))


def test_videos_are_published_with_the_umask_permissions(tmp_path):
    """Not mkstemp's 0600: a container's user (uid 1000) must read videos made on its host, as it reads
    every file storage.write_bytes publishes."""
    import os
    import stat

    from automl_video import storage

    uri = synth.make_motion_video(str(tmp_path / "m.mp4"), "left_to_right", seconds=0.5, width=32, height=32)
    storage.write_text(str(tmp_path / "other.txt"), "x")
    mode = stat.S_IMODE(os.stat(uri).st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "other.txt").st_mode) == storage.PUBLISHED_FILE_MODE
    assert mode != 0o600 and not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]
