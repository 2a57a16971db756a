"""Synthetic dataset: deterministic bytes, AutoML CSV structure, motions that mean what their labels say."""

import csv
import io
import json
import math
import re

import numpy as np
import pytest

from automl_video import cli, storage, synth, video
from automl_video.tasks.classification import synth as classification_synth
from automl_video.tasks.classification.annotations import NEGATIVE_LABEL

LABEL_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,32}$")
TINY = dict(classes=2, videos_per_class=3, seconds=1.0, width=48, height=32, fps=10)


def _rows(uri: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(storage.read_text(uri))))


def _video_bytes(result: classification_synth.SynthResult) -> list[bytes]:
    return [storage.read_bytes(v) for v in result.videos]


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path):
    first = classification_synth.generate(str(tmp_path / "a"), seed=3, **TINY)
    again = classification_synth.generate(str(tmp_path / "b"), seed=3, **TINY)
    other = classification_synth.generate(str(tmp_path / "c"), seed=4, **TINY)
    assert _video_bytes(first) == _video_bytes(again)
    assert all(x != y for x, y in zip(_video_bytes(first), _video_bytes(other)))


def test_import_csvs_follow_automl_two_level_format(synth_small):
    top = _rows(synth_small.import_csv)
    assert [use for use, _ in top] == ["TRAIN", "TEST", "UNASSIGNED"]
    assert {use: uri for use, uri in top} == synth_small.csvs
    rows_by_use = {use: _rows(uri) for use, uri in top}
    labels_by_use = {use: {r[1] for r in rows} for use, rows in rows_by_use.items()}
    for use in ("TRAIN", "TEST"):
        assert set(synth_small.class_names) <= labels_by_use[use] | labels_by_use["UNASSIGNED"]
    counts = {use: len({r[0] for r in rows}) for use, rows in rows_by_use.items()}
    assert counts["UNASSIGNED"] > counts["TEST"] > 0 and counts["TRAIN"] > 0
    # Every class has its own TEST and TRAIN video (as the first segment's label).
    for use in ("TRAIN", "TEST"):
        first_labels = {rows[1] for rows in rows_by_use[use] if rows[2] == "0"}
        assert set(synth_small.class_names) <= first_labels

    segments: dict[str, list[tuple[str, float, float]]] = {}
    video_use: dict[str, str] = {}
    for use, rows in rows_by_use.items():
        for uri, label, start, end in rows:
            assert label == NEGATIVE_LABEL or (LABEL_PATTERN.match(label) and label in synth_small.class_names)
            segments.setdefault(uri, []).append((label, float(start), float(end)))
            assert video_use.setdefault(uri, use) == use, f"{uri} is in two ML_USE sets"
    assert sorted(segments) == sorted(synth_small.videos)
    multi = [s for s in segments.values() if len(s) > 1]
    assert multi, "no multi-segment video"
    assert any(any(label == "-" for label, _, _ in s) for s in multi), "no '-' span next to a labelled one"
    assert any(len({label for label, _, _ in s} - {"-"}) == 2 for s in multi), "no video with two motions"
    for spans in segments.values():
        spans.sort(key=lambda s: s[1])
        assert spans[0][1] == 0 and math.isinf(spans[-1][2])
        for (_, _, end), (_, start, _) in zip(spans, spans[1:]):
            assert end == start  # contiguous, never overlapping


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


@pytest.mark.parametrize("kwargs, message", [(dict(classes=1), "classes"), (dict(classes=13), "classes"),
                                             (dict(videos_per_class=0), "videos_per_class"),
                                             (dict(seconds=0.1), "fewer than 4 frames")])
def test_bad_arguments_are_refused(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        classification_synth.generate(str(tmp_path), **kwargs)


def test_generate_writes_to_gcs(gcs_bucket):
    result = classification_synth.generate(f"{gcs_bucket}/synth", seed=5, **TINY)
    assert result.import_csv == f"{gcs_bucket}/synth/import.csv"
    assert all(uri.startswith(f"{gcs_bucket}/synth/") for _, uri in _rows(result.import_csv))
    assert all(row[0].startswith(f"{gcs_bucket}/synth/videos/") for row in _rows(result.csvs["UNASSIGNED"]))
    assert video.probe(result.videos[0]).duration == pytest.approx(1.0, abs=0.01)


def test_cli_prints_what_it_wrote(tmp_path, capsys):
    code = cli.main(["synth", "--output", str(tmp_path), "--classes", "3", "--videos-per-class", "1",
                     "--seconds", "1", "--width", "32", "--height", "32", "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["class_names"] == list(synth.MOTIONS[:3])
    assert len(printed["videos"]) == 3 and all(storage.exists(v) for v in printed["videos"])
    assert cli.main(["synth", "--output", str(tmp_path), "--classes", "99"]) == 2
