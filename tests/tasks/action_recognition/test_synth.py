"""The synthetic action dataset: same seed same bytes, moments where the actions are, labels only on classes."""

import hashlib

import numpy as np
import pytest

from automl_video import storage
from automl_video.tasks.action_recognition import synth
from automl_video.video import VideoReader


def digest(path: str) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_same_seed_same_bytes_and_actions_at_their_moments(tmp_path):
    kwargs = dict(classes=2, videos_per_class=2, seconds=4.0, seed=3, width=48, height=48, fps=10)
    first = synth.generate(str(tmp_path / "a"), **kwargs)
    second = synth.generate(str(tmp_path / "b"), **kwargs)
    assert [digest(v) for v in first.videos] == [digest(v) for v in second.videos]
    lines = storage.read_jsonl(first.import_jsonl)
    assert [line["videoGcsUri"] for line in lines] == first.videos
    for line in lines:
        times = [float(a["startTime"].rstrip("s")) for a in line["timeSegmentAnnotations"]]
        assert all(synth.EDGE_SECONDS <= t <= 4.0 - synth.EDGE_SECONDS for t in times)
        assert all(b - a >= synth.MIN_GAP_SECONDS - 1e-9 for a, b in zip(times, times[1:]))
        assert {a["displayName"] for a in line["timeSegmentAnnotations"]} <= set(first.class_names)
        assert line["timeSegments"] == [{"startTime": "0s", "endTime": "Infinity"}]
    with VideoReader(first.videos[0]) as reader:
        assert reader.info.duration == pytest.approx(4.0, abs=0.11) and (reader.info.width, reader.info.height) == (
            48,
            48,
        )


def test_every_action_moves_the_shape_and_ends_where_it_began():
    for action in synth.ACTIONS:
        start, end = synth.action_offset(action, 0.0, 100, 1.0), synth.action_offset(action, 1.0, 100, 1.0)
        assert np.allclose(start, (0, 0, 1), atol=1e-9) and np.allclose(end, (0, 0, 1), atol=1e-9)
        assert not np.allclose(synth.action_offset(action, 0.3, 100, 1.0), (0, 0, 1))
    with pytest.raises(ValueError, match="unknown action"):
        synth.action_offset("walk", 0.5, 100, 1.0)


def test_bad_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="classes must be between 1 and 5"):
        synth.generate(str(tmp_path), classes=6)
    with pytest.raises(ValueError, match="seconds must be at least 2"):
        synth.generate(str(tmp_path), seconds=1.0)
